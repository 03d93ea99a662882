//! Persistence for Switchboard: one [`Store`] trait, two backends.
//!
//! * SQLite (the embedded default): one dedicated writer thread owns the only write connection
//!   and group-commits every queued write job in one transaction (each job in its own savepoint);
//!   reads go to a small pool of read-only connections. WAL mode, `synchronous=FULL`.
//! * PostgreSQL (scale-out): sqlx pool; batch inserts with `UNNEST`; work shared between nodes
//!   with `FOR UPDATE SKIP LOCKED`; live events across nodes with `LISTEN/NOTIFY`.
#![forbid(unsafe_code)]

pub mod agent_files;
pub mod audit;
pub mod channel_state;
pub mod contact_notes;
pub mod edits;
pub mod kb;
pub mod kb_translations;
mod migrations;
pub mod postgres;
pub mod quality;
mod records;
pub mod rollup;
pub mod routing;
pub mod sqlite;
pub mod telegram;
pub mod triage;
pub mod ui;
pub mod widget;
pub mod widget_merge;
pub mod x;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{
    CaseNumber, ChannelSlug, Contact, ContactId, Conversation, ConversationFact, ConversationId, InboundEvent, Message,
    MessageId, OutboxId, UserId,
};

pub use agent_files::AgentFileStore;
pub use audit::{AuditEntry, AuditFilter, AuditStore, NewAuditEntry};
pub use channel_state::{ChannelStateStore, EchoOutcome, EchoRecord, MediaFile, MediaJob, ReplyContext};
pub use edits::{MessageEditStore, MessageHistory, MessageVersion};
pub use kb::KbStore;
pub use quality::QualityStore;
pub use records::*;
pub use routing::RoutingStore;
pub use sqlx::PgPool;
pub use switchboard_domain::ConversationPatch;
pub use telegram::TelegramStore;
pub use triage::{IntentLabel, IntentModelRecord, MessageTriage, TriageStore};
pub use ui::{
    INBOX_COUNT_CAP, InboxCounts, InboxPage, InboxQuery, InboxRow, InboxSearchTuning, InboxSort, InboxView, UiSession,
    UiStore, UserPrefs, UserUpdate,
};
pub use widget::{WidgetItem, WidgetStore, WidgetUpload, WidgetVisitor};
pub use widget_merge::{WidgetMerge, WidgetMergeStore};
pub use x::{ActivityRecord, SendSchedule, XStore};

/// Errors from the store. `NotFound`, `Conflict` and `Invalid` are the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request contradicts the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is invalid.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database failed.
    #[error("database error: {0}")]
    Backend(String),
    /// The store is shutting down.
    #[error("store is closed")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            // `close()` closed the pool: report it like the SQLite backend does.
            sqlx::Error::PoolClosed => StoreError::Closed,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

impl From<switchboard_domain::PatchError> for StoreError {
    fn from(e: switchboard_domain::PatchError) -> Self {
        match e {
            switchboard_domain::PatchError::Conflict(m) => StoreError::Conflict(m),
            switchboard_domain::PatchError::Invalid(m) => StoreError::Invalid(m),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Backend(format!("stored JSON: {e}"))
    }
}

/// Result alias for store calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Everything Switchboard persists. Both backends pass the same test suite.
#[async_trait]
pub trait Store:
    UiStore
    + AuditStore
    + ChannelStateStore
    + RoutingStore
    + TriageStore
    + TelegramStore
    + XStore
    + WidgetStore
    + contact_notes::ContactNoteStore
    + QualityStore
    + rollup::RollupStore
    + KbStore
    + kb_translations::KbTranslationStore
    + MessageEditStore
    + WidgetMergeStore
    + AgentFileStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// The PostgreSQL pool behind this store, for LISTEN/NOTIFY; `None` on SQLite.
    fn postgres_pool(&self) -> Option<sqlx::PgPool> {
        None
    }
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;
    /// Flushes queued writes and stops background threads. Later calls fail with `Closed`.
    async fn close(&self);

    // --- channels ---
    /// Creates or updates a channel.
    async fn upsert_channel(&self, channel: &ChannelRecord) -> Result<()>;
    /// Looks up a channel by slug.
    async fn get_channel(&self, slug: &ChannelSlug) -> Result<Option<ChannelRecord>>;
    /// All channels, by slug.
    async fn list_channels(&self) -> Result<Vec<ChannelRecord>>;

    // --- users and tokens ---
    /// Creates a user; `Conflict` if the email exists.
    async fn create_user(&self, user: &NewUser) -> Result<User>;
    /// Finds a user by email (case-insensitive).
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Finds a user by id.
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// All users, by email.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Stores an API token's hash.
    async fn create_api_token(&self, user_id: UserId, name: &str, token_hash: &str) -> Result<ApiToken>;
    /// The live (not revoked) token with this hash and its enabled user.
    async fn find_api_token(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>>;

    // --- ingest ---
    /// Appends a batch of inbound events in one transaction, idempotent on
    /// (channel, provider_event_id). Returns one ack per event, in order; a duplicate returns the
    /// ids stored the first time. The result is returned only after the commit.
    async fn append_inbound(&self, events: Vec<InboundEvent>) -> Result<Vec<IngestAck>>;
    /// Up to `limit` events not yet threaded, oldest first.
    async fn unprocessed_events(&self, limit: usize) -> Result<Vec<StoredEvent>>;
    /// Threads events into conversations (contact resolution, threading rule, message insert)
    /// and marks them processed, all in one transaction, in the order given.
    async fn thread_events(&self, events: Vec<StoredEvent>, rules: ThreadingRules) -> Result<Vec<ThreadOutcome>>;
    /// Number of events waiting for the pipeline.
    async fn pipeline_backlog(&self) -> Result<i64>;
    /// One stored event by id.
    async fn get_event(&self, id: switchboard_domain::EventId) -> Result<Option<StoredEvent>>;

    // --- conversations and messages ---
    /// A filtered page of conversations, newest activity first.
    async fn list_conversations(&self, filter: &ConversationFilter) -> Result<Page<ConversationSummary>>;
    /// One conversation.
    async fn get_conversation(&self, id: ConversationId) -> Result<Option<Conversation>>;
    /// One conversation by case number.
    async fn get_conversation_by_case(&self, case: CaseNumber) -> Result<Option<Conversation>>;
    /// Messages of a conversation, oldest first.
    async fn list_messages(&self, id: ConversationId) -> Result<Vec<Message>>;
    /// One message.
    async fn get_message(&self, id: MessageId) -> Result<Option<Message>>;
    /// Timeline facts of a conversation, oldest first.
    async fn list_facts(&self, id: ConversationId) -> Result<Vec<ConversationFact>>;
    /// Changes status / assignee / priority / team / tags, recording a fact per change.
    async fn update_conversation(
        &self,
        id: ConversationId,
        patch: &ConversationPatch,
        actor: Option<UserId>,
    ) -> Result<Conversation>;
    /// Adds an agent reply (with its outbox row, same transaction) or an internal note.
    /// With an idempotency key, a repeat returns the first message and `false`.
    async fn post_message(&self, msg: &NewMessage) -> Result<(Message, bool)>;

    // --- contacts ---
    /// A page of contacts (not merged away), newest first, optionally filtered by text.
    async fn list_contacts(&self, query: Option<&str>, cursor: Option<&str>, limit: u32) -> Result<Page<Contact>>;
    /// One contact with its identities (follows merges).
    async fn get_contact(&self, id: ContactId) -> Result<Option<Contact>>;
    /// Updates name and email.
    async fn update_contact(&self, id: ContactId, name: Option<&str>, email: Option<&str>) -> Result<Contact>;
    /// Moves `other`'s identities and conversations to `keep` and marks `other` merged.
    async fn merge_contacts(&self, keep: ContactId, other: ContactId) -> Result<Contact>;

    // --- outbox ---
    /// Leases up to `limit` due outbox rows until `lease_until`.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>>;
    /// Records a successful send: provider message id on the message, row done. `attempt` is the
    /// leased item's `attempts`: if the row was re-leased since (or already settled), nothing
    /// changes and the answer is `Conflict`, so a stale sender cannot overwrite a newer outcome.
    async fn complete_outbox(
        &self,
        id: OutboxId,
        attempt: i32,
        provider_message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// Records a failed attempt: retried at `retry_at`, or failed for good when `None`. Fenced on
    /// `attempt` like [`Store::complete_outbox`].
    async fn fail_outbox(&self, id: OutboxId, attempt: i32, error: &str, retry_at: Option<DateTime<Utc>>)
    -> Result<()>;
    /// Rows not yet delivered or failed.
    async fn outbox_backlog(&self) -> Result<i64>;

    // --- timers and provider reports ---
    /// Moves snoozed conversations whose `snoozed_until` has passed back to open (each exactly
    /// once, whatever the number of nodes) and records the change; returns them.
    async fn wake_snoozed(&self, now: DateTime<Utc>) -> Result<Vec<(ConversationId, CaseNumber)>>;
    /// Applies a provider's delivery report to the outbound message it sent with this id on this
    /// channel. Reports arrive out of order: the status only moves forward
    /// ([`switchboard_domain::DeliveryStatus::should_advance_to`]). `None` if no such message.
    async fn record_delivery(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
        status: switchboard_domain::DeliveryStatus,
        reason: Option<&str>,
    ) -> Result<Option<Message>>;
}

/// A shared handle to a store.
pub type DynStore = Arc<dyn Store>;

/// Options that tune a store's durability and pools.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Read connections (SQLite) or pool size (PostgreSQL).
    pub max_connections: u32,
    /// SQLite `synchronous=FULL` (true) or `NORMAL`.
    pub sqlite_synchronous_full: bool,
    /// How inbox text searches are answered.
    pub inbox_search: InboxSearchTuning,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 8, sqlite_synchronous_full: true, inbox_search: InboxSearchTuning::default() }
    }
}

/// Opens the store named by `url` (`sqlite://path` or a plain path, or `postgres://…`) and runs
/// pending migrations.
pub async fn open(url: &str, opts: &StoreOptions) -> Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url, opts).await?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        let path = path.split('?').next().unwrap_or(path);
        Ok(Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path), opts).await?))
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern and wraps it in `%…%`.
pub(crate) fn like_pattern(q: &str) -> String {
    let mut s = String::with_capacity(q.len() + 2);
    s.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

/// The current time at the precision both databases store (microseconds), so a value returned
/// from a write equals the value read back.
pub(crate) fn now_micros() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// Prefixes each column of a `"a, b, c"` list with a table alias: `"m.a, m.b, m.c"`.
pub(crate) fn qualified(cols: &str, alias: &str) -> String {
    cols.split(", ").map(|col| format!("{alias}.{col}")).collect::<Vec<_>>().join(", ")
}

/// The answer to a settle call from a sender that no longer holds the lease.
pub(crate) fn lease_lost(id: OutboxId) -> StoreError {
    StoreError::Conflict(format!("outbox row {id} was re-leased or settled by another sender"))
}
