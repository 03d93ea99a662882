//! Records the store reads and writes besides the domain types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{
    CaseNumber, ChannelKind, ChannelSlug, ContactId, Conversation, ConversationId, DeliveryStatus, Direction, EventId,
    InboundEvent, Message, MessageId, OutboxId, Priority, Role, Status, UserId, Visibility,
};

use crate::StoreError;

/// A configured channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelRecord {
    /// URL-safe name.
    pub slug: ChannelSlug,
    /// Provider kind.
    pub kind: ChannelKind,
    /// Display name.
    pub name: String,
    /// For API channels: where replies are POSTed.
    pub callback_url: Option<String>,
    /// HMAC secret used to sign outbound callbacks (never shown by the API).
    #[serde(skip_serializing, default)]
    pub secret: Option<String>,
    /// Provider-specific settings.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login email (stored lower-case).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Argon2 PHC string, if the user can log in with a password.
    pub password_hash: Option<String>,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Argon2 hash (never serialised).
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Disabled users cannot log in or use tokens.
    pub disabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A stored API token (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// Label.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// The answer to one appended inbound event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestAck {
    /// The event's id in the log.
    pub event_id: EventId,
    /// The id its message has (or will have once threaded).
    pub message_id: MessageId,
    /// True when this was a redelivery of an event already stored.
    pub duplicate: bool,
}

/// An event from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Id.
    pub id: EventId,
    /// Position in the log.
    pub seq: i64,
    /// Pre-assigned message id.
    pub message_id: MessageId,
    /// The canonical event.
    pub event: InboundEvent,
    /// When it was committed.
    pub received_at: DateTime<Utc>,
    /// When the pipeline threaded it.
    pub processed_at: Option<DateTime<Utc>>,
    /// The conversation it went to.
    pub conversation_id: Option<ConversationId>,
}

/// Parameters of the threading rule.
#[derive(Debug, Clone, Copy)]
pub struct ThreadingRules {
    /// A resolved conversation reopens when the customer writes within this window; it is also
    /// the repeat-contact window.
    pub reopen_window: chrono::Duration,
}

impl Default for ThreadingRules {
    fn default() -> Self {
        Self { reopen_window: chrono::Duration::days(7) }
    }
}

/// What threading did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadOutcome {
    /// The event.
    pub event_id: EventId,
    /// The message created.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// The conversation's case number.
    pub case_number: CaseNumber,
    /// A new conversation was opened.
    pub created: bool,
    /// A resolved conversation was reopened.
    pub reopened: bool,
    /// The event was a new version of a stored message (an edit): `message_id` is that message,
    /// updated in place; no message was added.
    pub edited: bool,
}

/// Filters for listing conversations. `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// Status.
    pub status: Option<Status>,
    /// Channel.
    pub channel: Option<ChannelSlug>,
    /// Assignee: `Some(None)` means unassigned.
    pub assignee: Option<Option<UserId>>,
    /// Team.
    pub team: Option<String>,
    /// Priority.
    pub priority: Option<Priority>,
    /// Contact.
    pub contact: Option<ContactId>,
    /// Text: a case number, or words in the contact's name or the messages.
    pub query: Option<String>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    /// Page size (1–200).
    pub limit: u32,
}

/// A page of results with the cursor for the next one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A conversation with what a list needs to show.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ConversationSummary {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: Conversation,
    /// The contact's display name.
    pub contact_name: Option<String>,
}

/// What an agent is posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Sent to the customer.
    Reply,
    /// Internal note, never sent.
    Note,
}

/// A reply or note to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Target conversation.
    pub conversation_id: ConversationId,
    /// Author.
    pub author_id: UserId,
    /// Reply or note.
    pub kind: MessageKind,
    /// Visibility of a reply (notes are always private).
    pub visibility: Visibility,
    /// Text.
    pub text: String,
    /// Client-chosen key: the same key never creates two messages.
    pub idempotency_key: Option<String>,
    /// Time of writing.
    pub at: DateTime<Utc>,
}

impl NewMessage {
    /// The key stored with the message: idempotency keys are scoped to their author.
    pub(crate) fn stored_key(&self) -> Option<String> {
        self.idempotency_key.as_ref().map(|k| format!("{}:{k}", self.author_id))
    }

    /// Answers a repeat of a request whose key is already stored: the first message, or a
    /// conflict when the key was used for something else.
    pub(crate) fn replay(&self, existing: Message) -> Result<(Message, bool), StoreError> {
        if existing.conversation_id != self.conversation_id || existing.text != self.text {
            return Err(StoreError::Conflict("Idempotency-Key was already used for a different message".into()));
        }
        Ok((existing, false))
    }

    /// Direction, visibility and initial delivery status of the message in `conv`; replies to a
    /// closed conversation are refused (notes are not).
    pub(crate) fn shape(
        &self,
        conv: &Conversation,
    ) -> Result<(Direction, Visibility, Option<DeliveryStatus>), StoreError> {
        match self.kind {
            MessageKind::Reply if conv.status == Status::Closed => {
                Err(StoreError::Conflict(format!("{} is closed; replies are not possible", conv.case_number)))
            }
            MessageKind::Reply => Ok((Direction::Outbound, self.visibility, Some(DeliveryStatus::Queued))),
            MessageKind::Note => Ok((Direction::Note, Visibility::Private, None)),
        }
    }
}

/// A leased outbox row with everything needed to deliver it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// Row id (also the idempotency key sent to the provider).
    pub id: OutboxId,
    /// Attempts so far, including this one.
    pub attempts: i32,
    /// The message to deliver.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Case number.
    pub case_number: CaseNumber,
    /// Channel.
    pub channel: ChannelRecord,
    /// The contact's provider id on that channel.
    pub recipient: String,
    /// Provider thread.
    pub thread_key: String,
    /// Public or private.
    pub visibility: Visibility,
    /// Text.
    pub text: String,
    /// When the agent wrote it.
    pub created_at: DateTime<Utc>,
}

/// Keyset cursor: (sort timestamp in µs, id).
pub(crate) fn encode_cursor(ts: DateTime<Utc>, id: uuid::Uuid) -> String {
    format!("{}.{}", ts.timestamp_micros(), id.simple())
}

pub(crate) fn decode_cursor(c: &str) -> Result<(DateTime<Utc>, uuid::Uuid), StoreError> {
    let bad = || StoreError::Invalid(format!("bad cursor {:?}", c.chars().take(60).collect::<String>()));
    let (ts, id) = c.split_once('.').ok_or_else(bad)?;
    let ts = ts.parse::<i64>().ok().and_then(DateTime::from_timestamp_micros).ok_or_else(bad)?;
    let id = uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((ts, id))
}

/// Clamps a requested page size.
pub(crate) fn page_limit(limit: u32) -> u32 {
    limit.clamp(1, 200)
}
