//! Triage results (language, sentiment, intent, priority suggestion, PII) per inbound message,
//! agents' intent labels, and versioned intent models (see docs/nlp.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{ConversationId, MessageId, UserId};

use crate::Result;

/// What the triage step found in one inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageTriage {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    /// ISO 639-1 code or `unknown`.
    pub language: String,
    pub language_confidence: f32,
    /// `negative`, `neutral` or `positive`.
    pub sentiment: String,
    /// P(positive) − P(negative).
    pub sentiment_score: f32,
    pub intent: String,
    pub intent_confidence: f32,
    /// True when an agent set the intent.
    pub intent_by_agent: bool,
    /// `P1` … `P4`.
    pub priority: String,
    pub priority_reasons: Vec<String>,
    /// Kinds of personal data found (`email`, `phone`, `card`, `iban`, `id_document`).
    pub pii: Vec<String>,
    /// The text with personal data replaced, for logs and analytics.
    pub redacted_text: String,
    /// The intent model version that classified it (`None`: the built-in cold-start model).
    pub intent_model_version: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// An agent's intent for a message: a labelled training example.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentLabel {
    pub message_id: MessageId,
    pub intent: String,
    pub text: String,
    pub labelled_by: Option<UserId>,
    pub labelled_at: DateTime<Utc>,
}

/// A trained intent model. The newest version is the active one.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentModelRecord {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// Labelled examples it was trained on.
    pub examples: i64,
    pub note: String,
    /// The model file (`switchboard_nlp::linear::Model::to_bytes`); empty in listings.
    pub bytes: Vec<u8>,
}

#[async_trait]
pub trait TriageStore {
    /// Stores (or replaces) the triage of each message.
    async fn save_triage(&self, rows: Vec<MessageTriage>) -> Result<()>;
    async fn message_triage(&self, id: MessageId) -> Result<Option<MessageTriage>>;
    /// The triage of every triaged message of a conversation, oldest message first.
    async fn conversation_message_triage(&self, id: ConversationId) -> Result<Vec<MessageTriage>>;
    /// The triage of the conversation's latest triaged message.
    async fn conversation_triage(&self, id: ConversationId) -> Result<Option<MessageTriage>>;
    /// Records an agent's intent for a message (replacing an earlier label) and applies it to
    /// the message's triage. `NotFound` when the message does not exist.
    async fn label_intent(&self, label: IntentLabel) -> Result<()>;
    /// Every label, oldest first.
    async fn intent_labels(&self) -> Result<Vec<IntentLabel>>;
    /// Stores a new model version (it becomes the active one) and returns its version.
    async fn save_intent_model(&self, bytes: Vec<u8>, examples: i64, note: &str) -> Result<i64>;
    /// The newest model, with its bytes.
    async fn active_intent_model(&self) -> Result<Option<IntentModelRecord>>;
    /// All versions, newest first, without bytes.
    async fn intent_models(&self) -> Result<Vec<IntentModelRecord>>;
    /// Inbound messages with an id greater than `after` (ids are time-ordered UUIDv7) that have
    /// no triage yet, oldest first: what the triage step missed.
    async fn untriaged_messages(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>>;
    /// The greatest message id that has a triage.
    async fn latest_triaged_message(&self) -> Result<Option<MessageId>>;
}
