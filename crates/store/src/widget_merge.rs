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
use uuid::Uuid;

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

/// What happens to the contacts of a merge, from the contacts of the two subjects on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContactPlan {
    /// Two contacts: the anonymous one merges into the signed-in one.
    Merge { keep: Uuid, other: Uuid },
    /// One contact already holds the history.
    Keep(Uuid),
    /// The visitor wrote, but nothing is threaded yet: a contact their message will find.
    Create,
    /// The visitor never wrote: no contact.
    Nothing,
}

/// Decides the [`ContactPlan`] from the signed-in (`known`) and anonymous (`anon`) contacts and
/// whether the anonymous stream has items.
pub(crate) fn contact_plan(known: Option<Uuid>, anon: Option<Uuid>, anon_wrote: bool) -> ContactPlan {
    match (known, anon) {
        (Some(keep), Some(other)) if keep != other => ContactPlan::Merge { keep, other },
        (Some(k), _) | (None, Some(k)) => ContactPlan::Keep(k),
        (None, None) if anon_wrote => ContactPlan::Create,
        (None, None) => ContactPlan::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contact_plan_follows_who_exists() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(contact_plan(Some(a), Some(b), true), ContactPlan::Merge { keep: a, other: b });
        assert_eq!(contact_plan(Some(a), Some(a), true), ContactPlan::Keep(a), "merged before");
        assert_eq!(contact_plan(Some(a), None, false), ContactPlan::Keep(a));
        assert_eq!(contact_plan(None, Some(b), true), ContactPlan::Keep(b), "a first sign-in adopts it");
        assert_eq!(contact_plan(None, None, true), ContactPlan::Create);
        assert_eq!(contact_plan(None, None, false), ContactPlan::Nothing);
    }
}
