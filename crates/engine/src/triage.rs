//! Triage step (crate switchboard-nlp): every inbound message that the pipeline threads is
//! enriched — language, sentiment, intent, priority suggestion, PII — and stored through
//! [`switchboard_store::TriageStore`]. It runs beside the pipeline, fed by its
//! `message.created` events, so threading never waits for it; the CPU work runs in
//! `spawn_blocking`. Intent models are versioned in the database: the newest one is used, and a
//! periodic job retrains from the built-in cold-start phrases plus agents' labels whenever new
//! labels arrived.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use switchboard_domain::{Direction, MessageId, Visibility};
use switchboard_nlp::enrich::{Buffers, Enricher};
use switchboard_nlp::intent;
use switchboard_nlp::linear::Model;
use switchboard_nlp::urgency::MessageContext;
use switchboard_store::{DynStore, MessageTriage, StoreError};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::{Bus, Engine};

/// Options of the triage step.
#[derive(Debug, Clone)]
pub struct TriageConfig {
    /// ISO 639-1 codes the brand expects (language identification is restricted to them).
    pub languages: Vec<String>,
    /// Region for phone numbers written without a country code (ISO 3166, e.g. `US`).
    pub phone_region: Option<String>,
    /// See `switchboard_nlp::lang::LanguageId::fast_margin`.
    pub language_fast_margin: f32,
    /// How often the retraining job looks for new agents' labels.
    pub retrain_every: Duration,
    /// How long routing waits for a new customer message's triage before it routes without it
    /// (zero: it does not wait).
    pub routing_wait: Duration,
}

/// The intent model in use and its version (`None`: the built-in cold-start model).
type ActiveIntent = Arc<(Model, Option<i64>)>;

/// Most messages enriched per blocking call.
const BATCH: usize = 256;

impl Engine {
    /// Starts the triage worker and the retraining job. Fails when the configuration names a
    /// language this build has no model for.
    pub async fn start_triage(&self, config: TriageConfig) -> Result<(), String> {
        let store = self.inner.store.clone();
        let langs = config.languages.clone();
        let region = config.phone_region.clone();
        let margin = config.language_fast_margin;
        let enricher = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = langs.iter().map(String::as_str).collect();
            let cold = intent::train(&intent::default_examples(), 42, "built-in cold-start examples")
                .map_err(|e| e.to_string())?;
            let mut e = Enricher::new(&refs, cold, region).map_err(|e| e.to_string())?;
            e.lang.fast_margin = margin;
            Ok::<_, String>(e)
        })
        .await
        .map_err(|e| e.to_string())??;
        let active = match store.active_intent_model().await {
            Ok(Some(rec)) => match Model::from_bytes(&rec.bytes) {
                Ok(m) => Arc::new((m, Some(rec.version))),
                Err(e) => {
                    tracing::warn!(version = rec.version, error = %e, "stored intent model unreadable; using the built-in one");
                    Arc::new((enricher.intent.clone(), None))
                }
            },
            _ => Arc::new((enricher.intent.clone(), None)),
        };
        let active = Arc::new(RwLock::new(active));
        let enricher = Arc::new(enricher);
        self.inner.routing.wait_for_triage(config.routing_wait);
        let worker = tokio::spawn(run(
            store.clone(),
            self.inner.bus.clone(),
            self.inner.routing.clone(),
            enricher,
            active.clone(),
            self.inner.cancel.clone(),
        ));
        let retrain = tokio::spawn(retrain_loop(store, active, config.retrain_every, self.inner.cancel.clone()));
        if let Ok(mut t) = self.inner.tasks.lock() {
            t.push(worker);
            t.push(retrain);
        }
        Ok(())
    }
}

/// How far back the first catch-up looks when nothing was ever triaged.
const FIRST_CATCH_UP: Duration = Duration::from_secs(24 * 3600);

/// A message id below every id created at `t` or later (ids are UUIDv7).
fn id_floor(t: chrono::DateTime<chrono::Utc>) -> MessageId {
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, t.timestamp().max(0) as u64, 0);
    let mut b = *uuid::Uuid::new_v7(ts).as_bytes();
    // Clear the random part so the floor is below every id of that millisecond.
    for x in &mut b[6..] {
        *x = 0;
    }
    MessageId(uuid::Uuid::from_bytes(b))
}

/// Triages every inbound message after `cursor` that has no triage yet; returns the new cursor.
async fn catch_up(
    store: &DynStore,
    enricher: &Arc<Enricher>,
    active: &Arc<RwLock<ActiveIntent>>,
    mut cursor: MessageId,
    cancel: &CancellationToken,
) -> MessageId {
    loop {
        if cancel.is_cancelled() {
            return cursor;
        }
        let ids = match store.untriaged_messages(cursor, BATCH).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "triage catch-up cannot read messages");
                return cursor;
            }
        };
        let Some(&last) = ids.last() else { return cursor };
        let n = ids.len();
        if let Err(e) = triage_messages(store, enricher, active, ids).await {
            tracing::warn!(error = %e, "triage catch-up batch failed");
            return cursor;
        }
        tracing::debug!(messages = n, "triage caught up");
        cursor = last;
    }
}

async fn run(
    store: DynStore,
    bus: Bus,
    routing: crate::routing::Routing,
    enricher: Arc<Enricher>,
    active: Arc<RwLock<ActiveIntent>>,
    cancel: CancellationToken,
) {
    let mut rx = bus.subscribe();
    // Messages that arrived while triage was off or the server was down.
    let start = match store.latest_triaged_message().await {
        Ok(Some(id)) => id,
        _ => id_floor(chrono::Utc::now() - chrono::Duration::from_std(FIRST_CATCH_UP).unwrap_or_default()),
    };
    let mut cursor = catch_up(&store, &enricher, &active, start, &cancel).await;
    routing.after_threading();
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            r = rx.recv() => r,
        };
        let mut ids: Vec<MessageId> = Vec::new();
        let mut lagged = matches!(first, Err(RecvError::Lagged(_)));
        if !take(&mut ids, first) {
            return;
        }
        while ids.len() < BATCH {
            match rx.try_recv() {
                Ok(ev) => {
                    take(&mut ids, Ok(ev));
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                    lagged = true;
                    take(&mut ids, Err(RecvError::Lagged(n)));
                }
                Err(_) => break,
            }
        }
        if lagged {
            // The skipped messages are newer than the cursor: triage them from the database.
            cursor = catch_up(&store, &enricher, &active, cursor, &cancel).await;
        }
        if ids.is_empty() {
            continue;
        }
        let newest = ids.iter().copied().max();
        match triage_messages(&store, &enricher, &active, ids).await {
            Ok(n) => {
                if let Some(newest) = newest {
                    cursor = cursor.max(newest);
                }
                if n > 0 {
                    // Conversations waiting for this triage can be routed now.
                    routing.after_threading();
                }
            }
            Err(e) => tracing::warn!(error = %e, "triage batch failed"),
        }
    }
}

/// Collects a `message.created` id; false when the bus is closed.
fn take(ids: &mut Vec<MessageId>, r: Result<crate::RealtimeEvent, RecvError>) -> bool {
    match r {
        Ok(ev) => {
            if ev.kind == "message.created"
                && let Some(id) = ev.message_id
            {
                ids.push(id);
            }
            true
        }
        Err(RecvError::Lagged(n)) => {
            tracing::warn!(missed = n, "triage fell behind the event stream; catching up from the database");
            true
        }
        Err(RecvError::Closed) => false,
    }
}

/// Enriches and stores the given messages (inbound ones only).
pub async fn triage_messages(
    store: &DynStore,
    enricher: &Arc<Enricher>,
    active: &Arc<RwLock<ActiveIntent>>,
    ids: Vec<MessageId>,
) -> Result<usize, StoreError> {
    let mut msgs = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(m) = store.get_message(id).await?
            && m.direction == Direction::Inbound
        {
            msgs.push(m);
        }
    }
    if msgs.is_empty() {
        return Ok(0);
    }
    let model =
        active.read().map(|a| a.clone()).map_err(|_| StoreError::Backend("intent model lock poisoned".into()))?;
    let enricher = enricher.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let mut buf = Buffers::default();
        msgs.iter()
            .map(|m| {
                let ctx = MessageContext { public: m.visibility == Visibility::Public, ..MessageContext::default() };
                let t = enricher.enrich_with(&m.text, &ctx, &model.0, &mut buf);
                MessageTriage {
                    message_id: m.id,
                    conversation_id: m.conversation_id,
                    language: t.language,
                    language_confidence: t.language_confidence,
                    sentiment: t.sentiment,
                    sentiment_score: t.sentiment_score,
                    intent: t.intent,
                    intent_confidence: t.intent_confidence,
                    intent_by_agent: false,
                    priority: t.priority.level,
                    priority_reasons: t.priority.reasons,
                    pii: t.pii.iter().map(|k| k.as_str().to_owned()).collect(),
                    redacted_text: t.redacted_text,
                    intent_model_version: model.1,
                    created_at: chrono::Utc::now(),
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| StoreError::Backend(format!("triage task: {e}")))?;
    let n = rows.len();
    store.save_triage(rows).await?;
    Ok(n)
}

/// Retrains the intent model from the cold-start phrases plus every agent's label, stores it as
/// a new version and returns that version; `None` when there are no labels yet.
pub async fn retrain_intents(store: &DynStore) -> Result<Option<(i64, Model)>, StoreError> {
    let labels = store.intent_labels().await?;
    if labels.is_empty() {
        return Ok(None);
    }
    let mut examples = intent::default_examples();
    examples.extend(labels.iter().map(|l| (l.intent.clone(), l.text.clone())));
    let n = examples.len() as i64;
    let note = format!("{} built-in phrases + {} agent labels", n - labels.len() as i64, labels.len());
    let provenance = note.clone();
    let model = tokio::task::spawn_blocking(move || intent::train(&examples, 42, &provenance))
        .await
        .map_err(|e| StoreError::Backend(format!("training task: {e}")))?
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let version = store.save_intent_model(model.to_bytes(), n, &note).await?;
    Ok(Some((version, model)))
}

async fn retrain_loop(store: DynStore, active: Arc<RwLock<ActiveIntent>>, every: Duration, cancel: CancellationToken) {
    let mut trained_on: Option<i64> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let labels = match store.intent_labels().await {
            Ok(l) => l.len() as i64,
            Err(e) => {
                tracing::warn!(error = %e, "retraining: cannot read labels");
                continue;
            }
        };
        let current = match store.active_intent_model().await {
            Ok(Some(m)) => Some(m.examples),
            _ => None,
        };
        let total = labels + intent::default_examples().len() as i64;
        if labels == 0 || current == Some(total) || trained_on == Some(total) {
            continue;
        }
        match retrain_intents(&store).await {
            Ok(Some((version, model))) => {
                trained_on = Some(total);
                if let Ok(mut a) = active.write() {
                    *a = Arc::new((model, Some(version)));
                }
                tracing::info!(version, labels, "intent model retrained from agents' labels");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "intent retraining failed"),
        }
    }
}
