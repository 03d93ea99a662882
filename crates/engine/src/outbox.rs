//! The outbox sender: delivers replies with retry and exponential backoff.
//!
//! Rows are leased (`claim_outbox`), delivered, then marked sent with the provider's message id in
//! one transaction. A crash between sending and recording leaves the row leased; when the lease
//! expires it is sent again with the same `Idempotency-Key`, which the receiver dedupes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use switchboard_store::{DynStore, OutboxItem};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::delivery::{DeliveryError, deliver};
use crate::{Bus, Metrics, RealtimeEvent, backoff};

/// Default upper bound of a provider's retry-after: a day and an hour (X's 24-hour quotas).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(25 * 3600);

/// Outbox tunables.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Attempts before a reply is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub base_backoff: Duration,
    /// Longest delay between retries of our own backoff.
    pub max_backoff: Duration,
    /// Longest wait a provider's `Retry-After` / rate-limit reset is honoured for (X's 24-hour
    /// post quotas reset up to a day later); a longer one is cut to this.
    pub max_retry_after: Duration,
    /// How long a claimed row is reserved for one delivery attempt.
    pub lease: Duration,
    /// Timeout of one delivery request.
    pub request_timeout: Duration,
    /// Rows claimed (and delivered concurrently) per round.
    pub batch: usize,
    /// How often to look for due rows without being woken.
    pub poll: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30 * 60),
            max_retry_after: MAX_RETRY_AFTER,
            lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(15),
            batch: 32,
            poll: Duration::from_millis(500),
        }
    }
}

pub(crate) async fn run(
    store: DynStore,
    bus: Bus,
    metrics: Arc<Metrics>,
    cfg: OutboxConfig,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .timeout(cfg.request_timeout)
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build HTTP client; outbox sender not running");
            return;
        }
    };
    loop {
        loop {
            let now = Utc::now();
            let lease = chrono::Duration::from_std(cfg.lease).unwrap_or(chrono::Duration::seconds(60));
            let items = match store.claim_outbox(now, now + lease, cfg.batch).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim outbox rows");
                    break;
                }
            };
            if items.is_empty() {
                break;
            }
            let mut set = JoinSet::new();
            for item in items {
                let (client, store, bus, metrics, cfg) =
                    (client.clone(), store.clone(), bus.clone(), metrics.clone(), cfg.clone());
                set.spawn(async move { send_one(&client, &store, &bus, &metrics, &cfg, item).await });
            }
            while set.join_next().await.is_some() {}
            if cancel.is_cancelled() {
                return;
            }
        }
        if let Ok(n) = store.outbox_backlog().await {
            metrics.outbox_backlog.set(n);
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(cfg.poll) => {}
        }
    }
}

async fn send_one(
    client: &reqwest::Client,
    store: &DynStore,
    bus: &Bus,
    metrics: &Metrics,
    cfg: &OutboxConfig,
    item: OutboxItem,
) {
    let result = deliver(client, store, &item).await;
    let outcome = match result {
        Ok(provider_id) => {
            metrics.outbox_deliveries.get_or_create(&crate::metrics::ResultLabel { result: "sent" }).inc();
            tracing::info!(message_id = %item.message_id, case = %item.case_number, attempt = item.attempts, "reply delivered");
            let done = store.complete_outbox(item.id, item.attempts, &provider_id, Utc::now()).await;
            if done.is_ok() {
                crate::channel_delivery::after_sent(store, bus, &item, &provider_id).await;
            }
            done
        }
        Err(DeliveryError::Retryable { reason, retry_after }) if (item.attempts as u32) < cfg.max_attempts => {
            metrics.outbox_deliveries.get_or_create(&crate::metrics::ResultLabel { result: "retry" }).inc();
            // A provider's Retry-After / rate-limit reset is honoured even when it is longer than
            // our own backoff (sending earlier only earns another 429), up to a sane bound.
            let wait = retry_after
                .map(|d| d.min(cfg.max_retry_after))
                .unwrap_or_else(|| backoff(item.attempts.max(1) as u32, cfg.base_backoff, cfg.max_backoff));
            tracing::warn!(message_id = %item.message_id, attempt = item.attempts, retry_in = ?wait, %reason, "reply delivery failed; will retry");
            let now = Utc::now();
            let at = chrono::Duration::from_std(wait)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(now + chrono::Duration::seconds(60));
            store.fail_outbox(item.id, item.attempts, &reason, Some(at)).await
        }
        Err(e) => {
            metrics.outbox_deliveries.get_or_create(&crate::metrics::ResultLabel { result: "failed" }).inc();
            tracing::warn!(message_id = %item.message_id, attempt = item.attempts, reason = %e, "reply delivery failed for good");
            store.fail_outbox(item.id, item.attempts, &e.to_string(), None).await
        }
    };
    match outcome {
        Ok(()) => {
            bus.publish(RealtimeEvent::new(
                "message.updated",
                item.conversation_id,
                Some(item.case_number),
                Some(item.message_id),
            ))
            .await
        }
        Err(e @ switchboard_store::StoreError::Conflict(_)) => {
            // Our lease expired and another sender took the row, or the provider's echo of this
            // send recorded it first (Instagram, X); that outcome stands.
            tracing::info!(error = %e, outbox_id = %item.id, "delivery outcome discarded: the row was settled elsewhere")
        }
        Err(e) => {
            tracing::error!(error = %e, outbox_id = %item.id, "cannot record delivery outcome; the lease will expire and it is retried")
        }
    }
}
