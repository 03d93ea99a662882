//! The durable ingest path: group commit of inbound events, acknowledged only after the commit.
//!
//! Requests put their event on a bounded queue and wait. A writer task takes whatever is queued
//! (up to `ingest_batch_max`), appends it in one transaction and answers every waiting request.
//! There is no timer: a lone event is committed at once, and under load batches grow by themselves
//! while the previous commit is in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use switchboard_domain::InboundEvent;
use switchboard_store::{DynStore, IngestAck};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{EngineConfig, Metrics};

/// Why an event could not be acknowledged. The sender should retry later.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The server is shutting down.
    #[error("server is shutting down")]
    Closed,
    /// The database failed; nothing was stored.
    #[error("could not store the event: {0}")]
    Store(String),
}

struct Submission {
    event: InboundEvent,
    reply: oneshot::Sender<Result<IngestAck, IngestError>>,
}

/// Handle used by request handlers to submit events.
#[derive(Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Submission>,
    closed: Arc<AtomicBool>,
    close_signal: Arc<Notify>,
    metrics: Arc<Metrics>,
}

impl Ingestor {
    pub(crate) fn start(
        store: DynStore,
        metrics: Arc<Metrics>,
        pipeline_wake: Arc<Notify>,
        config: &EngineConfig,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Ingestor {
        let (tx, rx) = mpsc::channel::<Submission>(config.ingest_queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let closed = Arc::new(AtomicBool::new(false));
        let close_signal = Arc::new(Notify::new());
        for _ in 0..config.ingest_writers.max(1) {
            tasks.push(tokio::spawn(writer(
                rx.clone(),
                store.clone(),
                metrics.clone(),
                pipeline_wake.clone(),
                config.ingest_batch_max.max(1),
                closed.clone(),
                close_signal.clone(),
            )));
        }
        Ingestor { tx, closed, close_signal, metrics }
    }

    /// Appends one event durably and returns its ids; redeliveries return the original ids.
    pub async fn submit(&self, event: InboundEvent) -> Result<IngestAck, IngestError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(IngestError::Closed);
        }
        let started = Instant::now();
        let (reply, rx) = oneshot::channel();
        self.metrics.queued_add(1);
        if self.tx.send(Submission { event, reply }).await.is_err() {
            self.metrics.queued_add(-1);
            return Err(IngestError::Closed);
        }
        let out = rx.await.map_err(|_| IngestError::Closed)?;
        match &out {
            Ok(ack) => {
                self.metrics.ingest_ack_seconds.observe(started.elapsed().as_secs_f64());
                self.metrics.count_ingest(if ack.duplicate { "duplicate" } else { "accepted" });
            }
            Err(_) => self.metrics.count_ingest("failed"),
        }
        out
    }

    /// Stops accepting events; writers commit and answer everything already queued, then exit.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.close_signal.notify_waiters();
    }
}

async fn writer(
    rx: Arc<Mutex<mpsc::Receiver<Submission>>>,
    store: DynStore,
    metrics: Arc<Metrics>,
    pipeline_wake: Arc<Notify>,
    max: usize,
    closed: Arc<AtomicBool>,
    close_signal: Arc<Notify>,
) {
    let mut batch: Vec<Submission> = Vec::with_capacity(max);
    loop {
        {
            let mut rx = rx.lock().await;
            // Register for the close signal before looking at the flag, so a close() in between
            // cannot be missed.
            let notified = close_signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if closed.load(Ordering::Acquire) {
                // Shutting down: take what is left without waiting.
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(s) => batch.push(s),
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    rx.close();
                    return;
                }
            } else {
                tokio::select! {
                    n = rx.recv_many(&mut batch, max) => {
                        if n == 0 {
                            return;
                        }
                    }
                    _ = notified => continue,
                }
            }
        }
        commit(&store, &metrics, &mut batch).await;
        pipeline_wake.notify_one();
    }
}

async fn commit(store: &DynStore, metrics: &Metrics, batch: &mut Vec<Submission>) {
    let n = batch.len();
    metrics.queued_add(-(n as i64));
    metrics.ingest_batch_size.observe(n as f64);
    let (events, replies): (Vec<_>, Vec<_>) = batch.drain(..).map(|s| (s.event, s.reply)).unzip();
    match store.append_inbound(events).await {
        Ok(acks) if acks.len() == n => {
            for (reply, ack) in replies.into_iter().zip(acks) {
                let _ = reply.send(Ok(ack));
            }
        }
        Ok(acks) => {
            tracing::error!(expected = n, got = acks.len(), "store returned the wrong number of acks");
            for reply in replies {
                let _ = reply.send(Err(IngestError::Store("internal inconsistency".into())));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events = n, "group commit failed");
            let msg = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(IngestError::Store(msg.clone())));
            }
        }
    }
}
