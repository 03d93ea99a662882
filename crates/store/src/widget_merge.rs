//! Merging an anonymous widget visitor into the signed-in customer they turn out to be.
//!
//! A visitor chats anonymously (subject `v:<visitor id>`), then the site signs them in and the
//! widget presents their signed identity (`u:<user id>`). In one transaction:
//! * the anonymous contact merges into the signed-in customer's contact (conversations and
//!   identities move; the anonymous contact points at the survivor), or — when the customer has
//!   no contact on the channel yet — becomes it;
//! * the signed identity becomes the contact's first identity on the channel, so replies to any
//!   of its conversations reach the signed-in stream; the anonymous identity stays on the
//!   contact, so a message still in the event log threads into the same history;
//! * the anonymous stream's items are appended to the signed-in stream (each once: a repeat of
//!   the merge copies nothing), and the anonymous uploads move with them;
//! * the anonymous token is retired: it no longer opens the stream.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::ContactId;

use crate::{Result, WidgetVisitor};

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetMerge {
    /// The contact that now holds the history (`None`: the anonymous visitor never wrote).
    pub contact: Option<ContactId>,
    /// The anonymous contact merged into it, when there were two.
    pub merged_contact: Option<ContactId>,
    /// Stream items copied to the signed-in stream.
    pub items_copied: i64,
}

/// Merges anonymous widget visitors into signed-in ones.
#[async_trait]
pub trait WidgetMergeStore: Send + Sync {
    /// Merges the anonymous `visitor` into the signed identity `into_subject` on its channel
    /// (see the module docs); `Invalid` when the visitor is not anonymous.
    async fn merge_widget_visitor(
        &self,
        visitor: &WidgetVisitor,
        into_subject: &str,
        at: DateTime<Utc>,
    ) -> Result<WidgetMerge>;
}

/// Checks a merge request before any write.
pub(crate) fn check(visitor: &WidgetVisitor, into_subject: &str) -> Result<()> {
    if !visitor.subject.starts_with("v:") {
        return Err(crate::StoreError::Invalid("only an anonymous visitor can be merged".into()));
    }
    if !into_subject.starts_with("u:") {
        return Err(crate::StoreError::Invalid("visitors merge into a signed identity (u:…)".into()));
    }
    Ok(())
}
