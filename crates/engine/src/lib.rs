//! Switchboard's engine: the durable ingest path, the pipeline worker, the outbox sender and the
//! realtime bus. Everything here is owned by [`Engine`] and stops gracefully on [`Engine::shutdown`].
#![forbid(unsafe_code)]

mod bot;
pub mod channel_delivery;
pub mod charts;
pub mod delivery;
pub mod ingest;
pub mod kb;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod outbox;
pub mod pdf;
pub mod pdf_font;
pub mod pipeline;
pub mod realtime;
pub mod report;
pub mod report_job;
pub mod report_text;
pub mod rollup;
pub mod routing;
pub mod surveys;
mod telegram_poll;
mod timers;
pub mod triage;
pub mod widget;
mod x_poll;

use std::sync::Arc;
use std::time::Duration;

use switchboard_store::{DynStore, ThreadingRules};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use ingest::{IngestError, Ingestor};
pub use metrics::Metrics;
pub use realtime::{Bus, RealtimeEvent};

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most events committed in one group commit.
    pub ingest_batch_max: usize,
    /// Concurrent group-commit writers (1 for SQLite, which has one writer anyway).
    pub ingest_writers: usize,
    /// Capacity of the ingest queue; when full, requests wait (backpressure).
    pub ingest_queue: usize,
    /// Threading parameters.
    pub threading: ThreadingRules,
    /// Outbox delivery parameters.
    pub outbox: outbox::OutboxConfig,
    /// Run the background workers (pipeline, outbox). Off only in tests that drive them by hand.
    pub workers: bool,
    /// Routing, SLA timers and automation.
    pub routing: routing::RoutingConfig,
    /// Inbound media downloads (off when `None`).
    pub media: Option<media::MediaConfig>,
    /// Surveys, metrics and scheduled reports.
    pub quality: report_job::QualityConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ingest_batch_max: 512,
            ingest_writers: 1,
            ingest_queue: 65_536,
            threading: ThreadingRules::default(),
            outbox: outbox::OutboxConfig::default(),
            workers: true,
            routing: routing::RoutingConfig::default(),
            media: None,
            quality: report_job::QualityConfig::default(),
        }
    }
}

/// The running engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: DynStore,
    ingestor: Ingestor,
    bus: Bus,
    metrics: Arc<Metrics>,
    config: EngineConfig,
    cancel: CancellationToken,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    routing: routing::Routing,
    pipeline_wake: Arc<tokio::sync::Notify>,
    outbox_wake: Arc<tokio::sync::Notify>,
    media_wake: Arc<tokio::sync::Notify>,
    kb: std::sync::OnceLock<Arc<kb::KbService>>,
}

impl Engine {
    /// Starts the ingest writers, and (if configured) the pipeline worker, the outbox sender and
    /// the cross-node realtime relay.
    pub async fn start(store: DynStore, config: EngineConfig) -> Engine {
        let metrics = Arc::new(Metrics::new());
        let cancel = CancellationToken::new();
        let pipeline_wake = Arc::new(tokio::sync::Notify::new());
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let media_wake = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        let bus = Bus::new(store.clone(), cancel.clone(), &mut tasks).await;
        let ingestor = Ingestor::start(store.clone(), metrics.clone(), pipeline_wake.clone(), &config, &mut tasks);
        let routing = routing::Routing::new(store.clone(), bus.clone(), config.routing.clone());
        if config.workers {
            tasks.push(tokio::spawn(pipeline::run(
                store.clone(),
                bus.clone(),
                metrics.clone(),
                config.threading,
                pipeline_wake.clone(),
                routing.clone(),
                cancel.clone(),
            )));
            if config.routing.enabled {
                tasks.push(tokio::spawn(routing.clone().run(cancel.clone())));
            }
            tasks.push(tokio::spawn(timers::run(store.clone(), bus.clone(), cancel.clone())));
            tasks.push(tokio::spawn(telegram_poll::run(store.clone(), ingestor.clone(), cancel.clone())));
            tasks.push(tokio::spawn(outbox::run(
                store.clone(),
                bus.clone(),
                metrics.clone(),
                config.outbox.clone(),
                outbox_wake.clone(),
                cancel.clone(),
            )));
            tasks.push(tokio::spawn(x_poll::run(store.clone(), bus.clone(), pipeline_wake.clone(), cancel.clone())));
            tasks.extend(quality_jobs(&store, &bus, &outbox_wake, &config.quality, &cancel));
            if let Some(m) = &config.media {
                tasks.push(tokio::spawn(media::run(store.clone(), m.clone(), media_wake.clone(), cancel.clone())));
            }
        }
        Engine {
            inner: Arc::new(Inner {
                store,
                ingestor,
                bus,
                metrics,
                config,
                cancel,
                tasks: std::sync::Mutex::new(tasks),
                routing,
                pipeline_wake,
                outbox_wake,
                media_wake,
                kb: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    /// The durable ingest path.
    pub fn ingestor(&self) -> &Ingestor {
        &self.inner.ingestor
    }

    /// Routing, SLA timers and automation.
    pub fn routing(&self) -> &routing::Routing {
        &self.inner.routing
    }

    /// The realtime bus.
    pub fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    /// Metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Tells the outbox sender there is new work.
    pub fn wake_outbox(&self) {
        self.inner.outbox_wake.notify_one();
    }

    /// Tells the media downloader there is new work.
    pub fn wake_media(&self) {
        self.inner.media_wake.notify_one();
    }

    /// Tells the pipeline there are new events (another node's, or after a restart).
    pub fn wake_pipeline(&self) {
        self.inner.pipeline_wake.notify_one();
    }

    /// Stops everything: commits and answers what is queued for ingest, lets the pipeline and
    /// outbox finish their current batch, then closes the store. Waits at most `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.ingestor.close();
        self.inner.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> =
            self.inner.tasks.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
        let all = futures_join_all(tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("engine tasks did not stop within {grace:?}");
        }
        self.inner.store.close().await;
    }
}

/// The survey and scheduled-report jobs, as configured.
fn quality_jobs(
    store: &DynStore,
    bus: &Bus,
    outbox_wake: &Arc<tokio::sync::Notify>,
    q: &report_job::QualityConfig,
    cancel: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut v = Vec::new();
    if q.surveys.enabled {
        v.push(tokio::spawn(surveys::run(
            store.clone(),
            bus.clone(),
            outbox_wake.clone(),
            q.surveys.clone(),
            cancel.clone(),
        )));
    }
    if q.reports {
        v.push(tokio::spawn(report_job::run(store.clone(), q.clone(), cancel.clone())));
    }
    if q.rollups {
        let (first, tick) = (q.rollup_first, q.rollup_tick);
        v.push(tokio::spawn(rollup::run(store.clone(), q.time_zone, first, tick, cancel.clone())));
    }
    v
}

async fn futures_join_all(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

/// Backoff before retry number `attempt` (1-based): `base · 2^(attempt-1)`, capped, with ±20 % jitter.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1).min(20)).unwrap_or(u32::MAX));
    let d = exp.min(cap);
    let jitter = rand::random_range(0.8..1.2);
    d.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        let b1 = backoff(1, base, cap);
        assert!(b1 >= Duration::from_millis(800) && b1 <= Duration::from_millis(1200), "{b1:?}");
        let b4 = backoff(4, base, cap);
        assert!(b4 >= Duration::from_millis(6400) && b4 <= Duration::from_millis(9600), "{b4:?}");
        let b30 = backoff(30, base, cap);
        assert!(b30 <= Duration::from_secs(72) && b30 >= Duration::from_secs(48), "{b30:?}");
    }
}
