//! The pipeline worker: threads committed inbound events into conversations, in log order, and
//! publishes what changed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::EventId;
use switchboard_store::{Backend, DynStore, StoreError, StoredEvent, ThreadOutcome, ThreadingRules};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{Bus, Metrics, RealtimeEvent};

/// Events threaded per transaction on SQLite: its single writer also commits ingest, so a longer
/// threading transaction shows in ingest latency.
const BATCH_SQLITE: usize = 64;
/// Events threaded per transaction on PostgreSQL: threading costs a fixed number of round trips
/// per batch, and ingest commits alongside it.
const BATCH_POSTGRES: usize = 256;
/// A backlog grows the batch (doubling per full batch) up to this many times the base size: each
/// batch costs one commit round trip (with its fsync), so small batches cap a backlogged
/// pipeline at a few thousand events per second; a batch that comes back short resets the size,
/// so a steady trickle keeps the short transactions that keep ingest latency low.
const MAX_GROWTH: usize = 16;
/// How often the worker looks for work it was not told about (other nodes, restarts).
const POLL: Duration = Duration::from_millis(500);

pub(crate) async fn run(
    store: DynStore,
    bus: Bus,
    metrics: Arc<Metrics>,
    rules: ThreadingRules,
    wake: Arc<Notify>,
    routing: crate::routing::Routing,
    cancel: CancellationToken,
) {
    // Events that failed on their own; skipped until restart so one bad event cannot stall the rest.
    let mut quarantined: HashSet<EventId> = HashSet::new();
    let base = match store.backend() {
        Backend::Sqlite => BATCH_SQLITE,
        Backend::Postgres => BATCH_POSTGRES,
    };
    let mut batch = base;
    loop {
        loop {
            let events = match store.unprocessed_events(batch + quarantined.len()).await {
                Ok(evs) => evs.into_iter().filter(|e| !quarantined.contains(&e.id)).take(batch).collect::<Vec<_>>(),
                Err(e) => {
                    tracing::error!(error = %e, "pipeline cannot read the event log");
                    break;
                }
            };
            if events.is_empty() {
                batch = base;
                break;
            }
            batch = next_batch(batch, events.len(), base);
            // Survey answers are recorded on their survey, never threaded (no reopen, no bot).
            let events = crate::surveys::take_answers(&store, &bus, events).await;
            if events.is_empty() {
                continue;
            }
            match store.thread_events(events.clone(), rules).await {
                Ok(outcomes) => publish(&bus, &metrics, &outcomes).await,
                Err(e) => {
                    tracing::warn!(error = %e, "batch threading failed; retrying event by event");
                    one_by_one(&store, &bus, &metrics, rules, events, &mut quarantined).await;
                }
            }
            routing.after_threading();
            if cancel.is_cancelled() {
                return;
            }
        }
        if let Ok(n) = store.pipeline_backlog().await {
            metrics.pipeline_backlog.set(n);
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// The next batch size: doubled after a full batch (a backlog), back to `base` after a short one.
fn next_batch(current: usize, got: usize, base: usize) -> usize {
    if got >= current { (current * 2).min(base * MAX_GROWTH) } else { base }
}

async fn one_by_one(
    store: &DynStore,
    bus: &Bus,
    metrics: &Metrics,
    rules: ThreadingRules,
    events: Vec<StoredEvent>,
    quarantined: &mut HashSet<EventId>,
) {
    for ev in events {
        let id = ev.id;
        match store.thread_events(vec![ev], rules).await {
            Ok(outcomes) => publish(bus, metrics, &outcomes).await,
            Err(e) => {
                // A database that is down or closing fails every event: that is no reason to
                // park them. Stop here; the next round retries the whole batch.
                if matches!(e, StoreError::Closed) || store.ping().await.is_err() {
                    tracing::warn!(error = %e, "database unavailable; threading resumes when it is back");
                    tokio::time::sleep(POLL).await;
                    return;
                }
                tracing::error!(event_id = %id, error = %e, "event cannot be threaded; skipping it until restart");
                quarantined.insert(id);
            }
        }
    }
}

async fn publish(bus: &Bus, metrics: &Metrics, outcomes: &[ThreadOutcome]) {
    metrics.pipeline_events.inc_by(outcomes.len() as u64);
    let mut events = Vec::with_capacity(2 * outcomes.len());
    for o in outcomes {
        if o.edited {
            // An edit changes a stored message in place: no new message, nothing for the bot.
            events.push(RealtimeEvent::new(
                "message.updated",
                o.conversation_id,
                Some(o.case_number),
                Some(o.message_id),
            ));
            continue;
        }
        let kind = if o.created { "conversation.created" } else { "conversation.updated" };
        events.push(RealtimeEvent::new(kind, o.conversation_id, Some(o.case_number), None));
        events.push(RealtimeEvent::new("message.created", o.conversation_id, Some(o.case_number), Some(o.message_id)));
    }
    // One round trip for the batch: a notification per event costs more than threading it.
    bus.publish_all(events).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_grows_the_batch_to_the_cap_and_a_short_batch_resets_it() {
        let mut b = BATCH_SQLITE;
        let mut sizes = Vec::new();
        for _ in 0..6 {
            b = next_batch(b, b, BATCH_SQLITE);
            sizes.push(b);
        }
        assert_eq!(sizes, vec![128, 256, 512, 1024, 1024, 1024]);
        assert_eq!(next_batch(1024, 1000, BATCH_SQLITE), BATCH_SQLITE);
        assert_eq!(next_batch(BATCH_SQLITE, 3, BATCH_SQLITE), BATCH_SQLITE);
    }
}
