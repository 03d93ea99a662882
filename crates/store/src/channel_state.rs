//! What provider channels persist beyond the core: delivery reports that arrive before the send
//! they name is recorded, read watermarks, the brand's echoed messages, second identifiers of a
//! contact, structured reply payloads, and the context a sender needs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{Attachment, ChannelSlug, ConversationId, DeliveryStatus, Message, MessageId};

use crate::Result;

/// A message the brand sent outside Switchboard's outbox (or inside it), as the provider echoed it.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoRecord {
    /// The provider's message id.
    pub provider_message_id: String,
    /// The customer's provider id.
    pub recipient: String,
    /// The conversation thread.
    pub thread_key: String,
    /// Text.
    pub text: String,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// Switchboard's own send (marked by metadata): the outbox records it, never the echo.
    pub sent_by_switchboard: bool,
    /// Switchboard's key sent with it: the outbox row id.
    pub switchboard_key: Option<String>,
}

/// What recording an echo did.
#[derive(Debug, Clone, PartialEq)]
pub enum EchoOutcome {
    /// Stored as a new outbound message.
    Recorded(Message),
    /// Already known (a redelivery, or Switchboard's own send).
    Known,
    /// Switchboard's own send whose answer was not recorded yet (or never will be: a crash after
    /// the provider accepted it); the echo recorded it, so it is not sent again.
    CompletedSend(Message),
    /// No conversation with that customer on that thread: nothing to attach it to.
    NoConversation,
}

/// What a sender needs to know about a conversation besides the outbox row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplyContext {
    /// The customer's handle on the channel (WhatsApp: `+phone` when known).
    pub recipient_handle: Option<String>,
    /// The provider id of the customer's latest message.
    pub last_inbound_id: Option<String>,
    /// When the customer last wrote.
    pub last_inbound_at: Option<DateTime<Utc>>,
}

/// One inbound attachment to fetch from the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaJob {
    /// The message it belongs to.
    pub message_id: MessageId,
    /// Its position in the message's attachments.
    pub index: i32,
    /// The channel it arrived on.
    pub channel: ChannelSlug,
    /// The provider's media id.
    pub provider_id: String,
    /// Attempts so far, including this one.
    pub attempts: i32,
}

/// A fetched (or failed) inbound media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// Path of the file, relative to the media directory (when done).
    pub path: Option<String>,
    /// MIME type (when done).
    pub mime_type: Option<String>,
    /// Size in bytes (when done).
    pub size: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Persistence for provider channels. Both backends implement it and pass the same suite.
#[async_trait]
pub trait ChannelStateStore: Send + Sync {
    /// Applies a provider's delivery report to the outbound message with this provider id, or
    /// keeps it until [`ChannelStateStore::apply_pending_deliveries`] when the send has not been
    /// recorded yet (reports can overtake the send call's answer). `None` when kept.
    async fn report_delivery(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
        status: DeliveryStatus,
        reason: Option<&str>,
    ) -> Result<Option<Message>>;
    /// Applies the reports kept for a provider id, in the order that moves the status furthest;
    /// called once the send is recorded. Returns the message if anything applied.
    async fn apply_pending_deliveries(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
    ) -> Result<Option<Message>>;
    /// Marks the outbound messages to `customer` sent at or before `watermark` as read.
    async fn mark_read_until(
        &self,
        channel: &ChannelSlug,
        customer: &str,
        watermark: DateTime<Utc>,
    ) -> Result<Vec<Message>>;
    /// Records an echo of the brand's own message as an outbound message (once).
    async fn record_echo(&self, channel: &ChannelSlug, echo: &EchoRecord) -> Result<EchoOutcome>;
    /// Makes `alias` a second identifier of the contact known as `provider_user_id` (or the other
    /// way round), so a person keeps one contact when the provider changes how it names them.
    async fn link_identity(&self, channel: &ChannelSlug, provider_user_id: &str, alias: &str) -> Result<()>;
    /// Stores a reply's structured payload under the key its message will carry (the stored
    /// idempotency key), before the message is posted.
    async fn save_reply_payload(&self, stored_key: &str, payload: &serde_json::Value) -> Result<()>;
    /// The structured payload of a reply, if it has one.
    async fn reply_payload(&self, message_id: MessageId) -> Result<Option<serde_json::Value>>;
    /// The context a sender needs for a reply in this conversation.
    async fn reply_context(&self, conversation_id: ConversationId) -> Result<ReplyContext>;
    /// Queues an inbound attachment for download (once per message and index).
    async fn enqueue_media(
        &self,
        channel: &ChannelSlug,
        message_id: MessageId,
        index: i32,
        provider_id: &str,
    ) -> Result<()>;
    /// Leases up to `limit` due downloads until `lease_until`.
    async fn claim_media(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: usize) -> Result<Vec<MediaJob>>;
    /// Records a finished download.
    async fn complete_media(
        &self,
        message_id: MessageId,
        index: i32,
        path: &str,
        mime_type: &str,
        size: i64,
    ) -> Result<()>;
    /// Records a failed attempt: retried at `retry_at`, or failed for good when `None`.
    async fn fail_media(
        &self,
        message_id: MessageId,
        index: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// The download state of an attachment.
    async fn media_file(&self, message_id: MessageId, index: i32) -> Result<Option<MediaFile>>;
}

/// How long a report for an unknown provider id is kept (reports for messages sent by other tools
/// never find their message).
pub(crate) const PENDING_REPORT_TTL: chrono::Duration = chrono::Duration::days(7);

/// The order in which kept reports are applied: each one only moves the status forward.
pub(crate) fn pending_order(status: &str) -> u8 {
    match status {
        "sent" => 0,
        "failed" => 1,
        "delivered" => 2,
        _ => 3,
    }
}

/// The visibility of a message on a thread: public threads are posts and mentions.
pub(crate) fn thread_visibility(thread_key: &str) -> &'static str {
    if thread_key.starts_with("post:") || thread_key.starts_with("mention:") { "public" } else { "private" }
}
