//! X polling mode: for every X channel configured with `mode = "polling"`, reads the mentions
//! timeline and DM events every `poll_interval_secs` (waiting for `x-rate-limit-reset` after a
//! 429), stores the events durably, and only then advances the stream's cursor in the database —
//! so a crash re-reads rather than loses, and the redelivery is deduplicated on the post/DM id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_channels::x::XConfig;
use switchboard_channels::x::poll::{self, PollError, Polled};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::{DynStore, EchoOutcome, EchoRecord};
use tokio_util::sync::CancellationToken;

use crate::channel_delivery::settings;
use crate::realtime::{Bus, RealtimeEvent};

/// How often the channel list is looked at for due polls.
const TICK: Duration = Duration::from_millis(250);

pub(crate) async fn run(store: DynStore, bus: Bus, wake: Arc<tokio::sync::Notify>, cancel: CancellationToken) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(20)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "X polling disabled: no HTTP client");
            return;
        }
    };
    let mut due: HashMap<ChannelSlug, DateTime<Utc>> = HashMap::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
        let Ok(channels) = store.list_channels().await else { continue };
        for ch in channels.iter().filter(|c| c.kind == ChannelKind::X) {
            let s = settings(ch);
            let Ok(cfg) = XConfig::from_settings(&s) else { continue };
            if !cfg.polling() || cfg.check_for_sending().is_err() {
                continue;
            }
            let now = Utc::now();
            if due.get(&ch.slug).is_some_and(|d| *d > now) {
                continue;
            }
            let interval = Duration::from_secs(cfg.poll_interval_secs.unwrap_or(60).max(1));
            let wait = match poll_channel(&store, &bus, &client, &s, &cfg).await {
                Ok(n) => {
                    if n > 0 {
                        wake.notify_one();
                    }
                    interval
                }
                Err(PollError::RateLimited(w)) => {
                    tracing::warn!(channel = %ch.slug, wait_secs = w.as_secs(), "X polling rate limited; waiting for the reset");
                    w.max(interval)
                }
                Err(PollError::Failed(reason)) => {
                    tracing::warn!(channel = %ch.slug, %reason, "X poll failed; will try again");
                    interval
                }
            };
            due.insert(ch.slug.clone(), now + chrono::Duration::from_std(wait).unwrap_or_default());
        }
    }
}

/// Polls both streams of one channel; the number of new customer events stored.
async fn poll_channel(
    store: &DynStore,
    bus: &Bus,
    client: &reqwest::Client,
    ch: &switchboard_channels::ChannelSettings,
    cfg: &XConfig,
) -> Result<usize, PollError> {
    let failed = |e: switchboard_store::StoreError| PollError::Failed(format!("store: {e}"));
    let since = store.poll_cursor(&ch.slug, poll::MENTIONS).await.map_err(failed)?;
    let mentions = poll::mentions(client, ch, cfg, since.as_deref()).await?;
    let mut n = save(store, bus, &ch.slug, poll::MENTIONS, mentions).await.map_err(failed)?;
    let since = store.poll_cursor(&ch.slug, poll::DMS).await.map_err(failed)?;
    let dms = poll::dm_events(client, ch, cfg, since.as_deref()).await?;
    n += save(store, bus, &ch.slug, poll::DMS, dms).await.map_err(failed)?;
    Ok(n)
}

async fn save(
    store: &DynStore,
    bus: &Bus,
    slug: &ChannelSlug,
    stream: &str,
    polled: Polled,
) -> switchboard_store::Result<usize> {
    let Polled { messages, echoes, newest } = polled;
    let acks = if messages.is_empty() { vec![] } else { store.append_inbound(messages).await? };
    for e in echoes {
        let rec = EchoRecord {
            provider_message_id: e.provider_message_id,
            recipient: e.recipient,
            thread_key: e.thread_key,
            text: e.text,
            attachments: e.attachments,
            sent_at: e.sent_at,
            sent_by_switchboard: false,
            switchboard_key: None,
        };
        if let EchoOutcome::Recorded(m) = store.record_echo(slug, &rec).await? {
            bus.publish(RealtimeEvent::new("message.created", m.conversation_id, None, Some(m.id))).await;
        }
    }
    // Only once everything up to it is stored.
    if let Some(c) = newest {
        store.set_poll_cursor(slug, stream, &c).await?;
    }
    Ok(acks.iter().filter(|a| !a.duplicate).count())
}
