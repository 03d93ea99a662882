//! X (Twitter) channel state: posts deleted by their authors, kept activity (likes, follows,
//! retweets) and the thread of a stored post.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{ChannelSlug, ConversationId, Message, MessageId, UserId};

use crate::Result;

/// What a deleted post's text becomes: its content is never shown again.
pub const DELETED_TEXT: &str = "[deleted by its author]";

/// A like, follow or retweet, kept for reporting (never a customer message).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    /// `favorite`, `follow`, `unfollow`, `retweet`, …
    pub kind: String,
    /// The provider's key of the event (redeliveries repeat it).
    pub event_id: String,
    /// Who did it.
    pub user_id: String,
    /// The post it concerns.
    pub tweet_id: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// The event as received.
    pub raw: serde_json::Value,
}

/// Where a reply stands in the outbox: when it goes out next and why the last try failed (a
/// rate-limited X reply waits for the reset).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SendSchedule {
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending/sending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// X channel state.
#[async_trait]
pub trait XStore: Send + Sync {
    /// Marks a post deleted: its stored message (inbound or outbound) and its stored event lose
    /// their text and attachments, and a tombstone is kept. Returns the messages changed.
    async fn mark_post_deleted(&self, channel: &ChannelSlug, tweet_id: &str, at: DateTime<Utc>)
    -> Result<Vec<Message>>;
    /// Whether a post was deleted.
    async fn post_deleted(&self, channel: &ChannelSlug, tweet_id: &str) -> Result<bool>;
    /// The thread key of the conversation holding the stored post `tweet_id`, if any.
    async fn thread_of_post(&self, channel: &ChannelSlug, tweet_id: &str) -> Result<Option<String>>;
    /// Keeps one activity event; `false` when it was already kept (a redelivery).
    async fn record_activity(&self, channel: &ChannelSlug, activity: &ActivityRecord) -> Result<bool>;
    /// How many activity events of `kind` are kept for a channel.
    async fn count_activity(&self, channel: &ChannelSlug, kind: &str) -> Result<i64>;
    /// Polling mode: the newest id read from `stream` (`mentions`, `dm_events`).
    async fn poll_cursor(&self, channel: &ChannelSlug, stream: &str) -> Result<Option<String>>;
    /// Polling mode: stores the cursor once the events read up to it are stored.
    async fn set_poll_cursor(&self, channel: &ChannelSlug, stream: &str, cursor: &str) -> Result<()>;
    /// The outbox state of a reply; `None` for messages that are not queued replies.
    async fn send_schedule(&self, message_id: MessageId) -> Result<Option<SendSchedule>>;
    /// Records on the conversation's timeline that an agent overrode the PII guard (what was
    /// found, masked, and which message).
    async fn record_pii_override(
        &self,
        conversation_id: ConversationId,
        actor: Option<UserId>,
        data: serde_json::Value,
    ) -> Result<()>;
}
