//! The realtime bus: conversation and message changes for server-sent events.
//!
//! In-process it is a broadcast channel. On PostgreSQL every event is also sent with
//! `pg_notify`, and a listener relays other nodes' events, so a client connected to any node sees
//! every change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{CaseNumber, ConversationId, MessageId};
use switchboard_store::DynStore;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PG_CHANNEL: &str = "switchboard_events";

/// One change, as clients receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealtimeEvent {
    /// `conversation.created`, `conversation.updated`, `message.created`, `message.updated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The conversation concerned.
    pub conversation_id: ConversationId,
    /// Its case number, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<CaseNumber>,
    /// The message concerned, for message events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Details of events that carry more than ids (e.g. `presence`: who, doing what).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl RealtimeEvent {
    /// Builds an event stamped now.
    pub fn new(
        kind: &str,
        conversation_id: ConversationId,
        case_number: Option<CaseNumber>,
        message_id: Option<MessageId>,
    ) -> Self {
        Self { kind: kind.to_owned(), conversation_id, case_number, message_id, at: Utc::now(), data: None }
    }

    /// The same event with details attached.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    node: Uuid,
    event: RealtimeEvent,
}

/// Publish/subscribe for realtime events. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<RealtimeEvent>,
    node: Uuid,
    pg: Option<switchboard_store::PgPool>,
}

impl Bus {
    pub(crate) async fn new(store: DynStore, cancel: CancellationToken, tasks: &mut Vec<JoinHandle<()>>) -> Bus {
        let (tx, _) = broadcast::channel(4096);
        let node = Uuid::now_v7();
        let pg = store.postgres_pool();
        if let Some(pool) = pg.clone() {
            tasks.push(tokio::spawn(relay(pool, tx.clone(), node, cancel)));
        }
        Bus { tx, node, pg }
    }

    /// Publishes to local subscribers and, on PostgreSQL, to other nodes.
    pub async fn publish(&self, event: RealtimeEvent) {
        self.publish_all(vec![event]).await;
    }

    /// Publishes several events, in order, with a single round trip to PostgreSQL.
    pub async fn publish_all(&self, events: Vec<RealtimeEvent>) {
        for event in &events {
            let _ = self.tx.send(event.clone());
        }
        let Some(pool) = &self.pg else { return };
        let mut payloads = Vec::with_capacity(events.len());
        for event in events {
            match serde_json::to_string(&Envelope { node: self.node, event }) {
                Ok(payload) => payloads.push(payload),
                Err(e) => tracing::warn!(error = %e, "cannot encode realtime event"),
            }
        }
        if payloads.is_empty() {
            return;
        }
        if let Err(e) = switchboard_store::postgres::notify_all(pool, PG_CHANNEL, &payloads).await {
            tracing::warn!(error = %e, events = payloads.len(), "pg_notify failed; other nodes miss live events");
        }
    }

    /// A new subscription to every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RealtimeEvent> {
        self.tx.subscribe()
    }
}

async fn relay(
    pool: switchboard_store::PgPool,
    tx: broadcast::Sender<RealtimeEvent>,
    node: Uuid,
    cancel: CancellationToken,
) {
    let mut delay = std::time::Duration::from_millis(200);
    while !cancel.is_cancelled() {
        match switchboard_store::postgres::listen(&pool, PG_CHANNEL).await {
            Ok(mut listener) => {
                delay = std::time::Duration::from_millis(200);
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        msg = listener.recv() => match msg {
                            Ok(payload) => {
                                if let Ok(env) = serde_json::from_str::<Envelope>(&payload)
                                    && env.node != node {
                                        let _ = tx.send(env.event);
                                    }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot LISTEN for realtime events"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(std::time::Duration::from_secs(10));
    }
}
