//! The website chat widget: visitors (by hashed token), each visitor stream's ordered items (the
//! visitor's own messages and the replies delivered to them, with a per-stream sequence number
//! that reconnecting clients resume from) and uploaded files.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::ChannelSlug;
use uuid::Uuid;

use crate::Result;

/// A widget visitor: one browser (its token in local storage) on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetVisitor {
    /// Id (also the anonymous subject's suffix).
    pub id: Uuid,
    /// The web channel.
    pub channel: ChannelSlug,
    /// Whose stream this visitor reads and writes: `v:<visitor id>` for anonymous visitors,
    /// `u:<site user id>` for signed identities (shared by every browser of that user). It is
    /// the contact's provider id on the channel.
    pub subject: String,
    /// Name from the pre-chat form.
    pub name: Option<String>,
    /// Email from the pre-chat form.
    pub email: Option<String>,
    /// When the visitor was created.
    pub created_at: DateTime<Utc>,
}

/// One item of a visitor stream.
#[derive(Debug, Clone, PartialEq)]
pub struct WidgetItem {
    /// Position in the stream (1, 2, …, no gaps).
    pub seq: i64,
    /// What makes a repeat the same item: `c:<client message id>` for a visitor's message,
    /// `o:<outbox id>` for a delivered reply.
    pub dedupe_key: String,
    /// `visitor` or `agent`.
    pub direction: String,
    /// What the widget shows: text, attachments, buttons, author, button data.
    pub body: serde_json::Value,
    /// When it was appended.
    pub created_at: DateTime<Utc>,
}

/// A file a visitor uploaded, kept in the media directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetUpload {
    /// Id (the widget refers to it when sending).
    pub id: Uuid,
    /// The channel.
    pub channel: ChannelSlug,
    /// The uploading visitor's subject.
    pub subject: String,
    /// Path relative to the media directory.
    pub path: String,
    /// MIME type (checked against the channel's list and the file's first bytes).
    pub mime_type: String,
    /// The visitor's file name.
    pub filename: String,
    /// Size in bytes.
    pub size: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// Persistence of the chat widget. Both backends implement it and pass the same suite.
#[async_trait]
pub trait WidgetStore: Send + Sync {
    /// Stores a new visitor with the SHA-256 hex of its token.
    async fn create_widget_visitor(&self, visitor: &WidgetVisitor, token_hash: &str) -> Result<()>;
    /// The visitor holding this token on this channel.
    async fn widget_visitor_by_token(&self, channel: &ChannelSlug, token_hash: &str) -> Result<Option<WidgetVisitor>>;
    /// Updates the pre-chat details (a `None` keeps the stored value) and the last-seen time.
    async fn touch_widget_visitor(&self, id: Uuid, name: Option<&str>, email: Option<&str>) -> Result<()>;
    /// Appends an item to a visitor stream with the next sequence number, once per dedupe key:
    /// a repeat returns the stored item and `false`.
    async fn append_widget_item(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        dedupe_key: &str,
        direction: &str,
        body: &serde_json::Value,
    ) -> Result<(WidgetItem, bool)>;
    /// Up to `limit` items of a stream after sequence number `after`, in order.
    async fn widget_items_after(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<WidgetItem>>;
    /// The newest `limit` items of a stream in one direction, newest first.
    async fn last_widget_items(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        direction: &str,
        limit: usize,
    ) -> Result<Vec<WidgetItem>>;
    /// Records an uploaded file.
    async fn save_widget_upload(&self, upload: &WidgetUpload) -> Result<()>;
    /// One uploaded file.
    async fn widget_upload(&self, id: Uuid) -> Result<Option<WidgetUpload>>;
}
