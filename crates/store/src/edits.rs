//! Edited inbound messages: a customer's edit (Telegram `edited_message`, or any channel whose
//! parser names the edited message in `extra.edit_of`) updates the stored message in place while
//! every earlier text is kept with the time it was written.
//!
//! Threading applies edits (see [`switchboard_domain::edits::place_version`]): an edit whose
//! message is stored replaces its text and moves the old text into the history; an edit that
//! arrives before its message becomes that message (under the original's provider id, marked
//! edited), and the original, when it comes, goes into the history. A redelivered edit is the
//! same event and is never threaded twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::{ConversationId, MessageId};

use crate::Result;

/// An earlier text of an edited message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MessageVersion {
    /// The text as it was.
    pub text: String,
    /// When the customer wrote it (the provider's clock).
    pub written_at: DateTime<Utc>,
}

/// The edit history of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MessageHistory {
    /// The message.
    pub message_id: MessageId,
    /// When the text it shows now was written.
    pub edited_at: DateTime<Utc>,
    /// Earlier texts, oldest first (empty when only the edit reached us).
    pub previous: Vec<MessageVersion>,
}

/// Reads the edit histories threading records.
#[async_trait]
pub trait MessageEditStore: Send + Sync {
    /// The histories of a conversation's edited messages, in message order.
    async fn edit_histories(&self, conversation: ConversationId) -> Result<Vec<MessageHistory>>;
    /// The history of one message; `None` when it was never edited.
    async fn edit_history(&self, message: MessageId) -> Result<Option<MessageHistory>>;
}

/// One row of the history queries: message, when its text was written, and an earlier text
/// with its time (absent when only the edit reached us).
pub(crate) type HistoryRow = (MessageId, DateTime<Utc>, Option<String>, Option<DateTime<Utc>>);

/// Groups history rows, ordered by message then written_at, into histories.
pub(crate) fn group_histories(rows: Vec<HistoryRow>) -> Vec<MessageHistory> {
    let mut out: Vec<MessageHistory> = Vec::new();
    for (id, edited_at, text, written_at) in rows {
        if out.last().is_none_or(|h| h.message_id != id) {
            out.push(MessageHistory { message_id: id, edited_at, previous: Vec::new() });
        }
        if let (Some(text), Some(written_at), Some(h)) = (text, written_at, out.last_mut()) {
            h.previous.push(MessageVersion { text, written_at });
        }
    }
    out
}
