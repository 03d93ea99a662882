//! Time-driven work: snoozed conversations wake up when their time comes.

use std::time::Duration;

use chrono::Utc;
use switchboard_store::DynStore;
use tokio_util::sync::CancellationToken;

use crate::{Bus, RealtimeEvent};

/// How often due timers are looked for.
const TICK: Duration = Duration::from_secs(5);

pub(crate) async fn run(store: DynStore, bus: Bus, cancel: CancellationToken) {
    loop {
        match store.wake_snoozed(Utc::now()).await {
            Ok(woken) => {
                for (id, case) in woken {
                    tracing::info!(case = %case, "snooze ended; conversation reopened");
                    bus.publish(RealtimeEvent::new("conversation.updated", id, Some(case), None)).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot wake snoozed conversations"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}
