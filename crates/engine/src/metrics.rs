//! Prometheus metrics, exposed as text at `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A `result` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// accepted, duplicate, rejected, failed, sent, retry, ...
    pub result: &'static str,
}

/// Every metric Switchboard exports.
pub struct Metrics {
    registry: Registry,
    /// Inbound events by outcome.
    pub ingest_events: Family<ResultLabel, Counter>,
    /// Time from submission to durable acknowledgement.
    pub ingest_ack_seconds: Histogram,
    /// Events per group commit.
    pub ingest_batch_size: Histogram,
    /// Events waiting for a group commit.
    pub ingest_queue_depth: Gauge,
    /// Events threaded by the pipeline.
    pub pipeline_events: Counter,
    /// Events waiting for the pipeline.
    pub pipeline_backlog: Gauge,
    /// Outbox deliveries by outcome.
    pub outbox_deliveries: Family<ResultLabel, Counter>,
    /// Outbox rows not yet delivered or failed.
    pub outbox_backlog: Gauge,
    /// Realtime subscribers connected.
    pub realtime_subscribers: Gauge,
    queued: AtomicU64,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let ingest_events = Family::<ResultLabel, Counter>::default();
        registry.register("ingest_events", "Inbound events by result", ingest_events.clone());
        let ingest_ack_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        registry.register(
            "ingest_ack_seconds",
            "Time from submission to durable acknowledgement",
            ingest_ack_seconds.clone(),
        );
        let ingest_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register("ingest_batch_size", "Events per group commit", ingest_batch_size.clone());
        let ingest_queue_depth = Gauge::default();
        registry.register("ingest_queue_depth", "Events waiting for a group commit", ingest_queue_depth.clone());
        let pipeline_events = Counter::default();
        registry.register("pipeline_events", "Events threaded into conversations", pipeline_events.clone());
        let pipeline_backlog = Gauge::default();
        registry.register("pipeline_backlog", "Events waiting for the pipeline", pipeline_backlog.clone());
        let outbox_deliveries = Family::<ResultLabel, Counter>::default();
        registry.register("outbox_deliveries", "Outbox delivery attempts by result", outbox_deliveries.clone());
        let outbox_backlog = Gauge::default();
        registry.register("outbox_backlog", "Replies waiting for delivery", outbox_backlog.clone());
        let realtime_subscribers = Gauge::default();
        registry.register("realtime_subscribers", "Connected server-sent-event streams", realtime_subscribers.clone());
        Self {
            registry,
            ingest_events,
            ingest_ack_seconds,
            ingest_batch_size,
            ingest_queue_depth,
            pipeline_events,
            pipeline_backlog,
            outbox_deliveries,
            outbox_backlog,
            realtime_subscribers,
            queued: AtomicU64::new(0),
        }
    }

    /// Counts one inbound event outcome.
    pub fn count_ingest(&self, result: &'static str) {
        self.ingest_events.get_or_create(&ResultLabel { result }).inc();
    }

    pub(crate) fn queued_add(&self, n: i64) {
        let v = if n >= 0 {
            self.queued.fetch_add(n as u64, Ordering::Relaxed) + n as u64
        } else {
            self.queued.fetch_sub(n.unsigned_abs(), Ordering::Relaxed).saturating_sub(n.unsigned_abs())
        };
        self.ingest_queue_depth.set(v as i64);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
