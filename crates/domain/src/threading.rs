//! The threading rule: which conversation an inbound message belongs to.

use chrono::{DateTime, Duration, Utc};

use crate::{ConversationId, Status};

/// What the store knows about a contact's latest conversation on one channel thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCandidate {
    /// The conversation.
    pub id: ConversationId,
    /// Its status now.
    pub status: Status,
    /// When it was resolved, if it is resolved or closed.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Where an inbound message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadDecision {
    /// Append to this active conversation; `reactivate` moves pending/snoozed back to open.
    Join {
        /// The conversation.
        id: ConversationId,
        /// Whether the status goes back to open.
        reactivate: bool,
    },
    /// Reopen this resolved conversation (within the reopen window).
    Reopen {
        /// The conversation.
        id: ConversationId,
    },
    /// Open a new conversation; `repeat_of` names the contact's conversation it repeats.
    New {
        /// A conversation of the same contact (any channel) resolved within the window.
        repeat_of: Option<ConversationId>,
    },
}

/// Decides where a message sent at `at` goes.
///
/// `latest_on_thread` is the contact's newest conversation on this channel thread;
/// `last_resolved` is the contact's most recently resolved conversation on any channel, with its
/// resolution time. A message joins an active conversation; reopens a resolved one within
/// `window`; otherwise opens a new one, marked as a repeat contact when the contact had a
/// conversation resolved within `window` before it.
pub fn decide_thread(
    latest_on_thread: Option<ThreadCandidate>,
    last_resolved: Option<(ConversationId, DateTime<Utc>)>,
    at: DateTime<Utc>,
    window: Duration,
) -> ThreadDecision {
    if let Some(c) = latest_on_thread {
        match c.status {
            Status::Open => return ThreadDecision::Join { id: c.id, reactivate: false },
            Status::Pending | Status::Snoozed => {
                return ThreadDecision::Join { id: c.id, reactivate: true };
            }
            Status::Resolved => {
                // A resolved case without a time (should not happen) is treated as just resolved.
                let resolved_at = c.resolved_at.unwrap_or(at);
                if at - resolved_at <= window {
                    return ThreadDecision::Reopen { id: c.id };
                }
            }
            Status::Closed => {}
        }
    }
    let repeat_of =
        last_resolved.filter(|(_, resolved_at)| at >= *resolved_at && at - *resolved_at <= window).map(|(id, _)| id);
    ThreadDecision::New { repeat_of }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + h * 3600, 0).unwrap_or_default()
    }
    const W: i64 = 7 * 24;

    fn cand(status: Status, resolved_h: Option<i64>) -> ThreadCandidate {
        ThreadCandidate { id: ConversationId::new(), status, resolved_at: resolved_h.map(t) }
    }

    #[test]
    fn no_conversation_opens_one() {
        assert_eq!(decide_thread(None, None, t(0), Duration::hours(W)), ThreadDecision::New { repeat_of: None });
    }

    #[test]
    fn active_conversations_are_joined() {
        let c = cand(Status::Open, None);
        assert_eq!(
            decide_thread(Some(c), None, t(1), Duration::hours(W)),
            ThreadDecision::Join { id: c.id, reactivate: false }
        );
        for s in [Status::Pending, Status::Snoozed] {
            let c = cand(s, None);
            assert_eq!(
                decide_thread(Some(c), None, t(1), Duration::hours(W)),
                ThreadDecision::Join { id: c.id, reactivate: true }
            );
        }
    }

    #[test]
    fn resolved_reopens_inside_the_window_only() {
        let c = cand(Status::Resolved, Some(0));
        let last = Some((c.id, t(0)));
        assert_eq!(decide_thread(Some(c), last, t(W), Duration::hours(W)), ThreadDecision::Reopen { id: c.id });
        assert_eq!(decide_thread(Some(c), last, t(W + 1), Duration::hours(W)), ThreadDecision::New { repeat_of: None });
    }

    #[test]
    fn closed_opens_a_repeat_contact() {
        let c = cand(Status::Closed, Some(0));
        let last = Some((c.id, t(0)));
        assert_eq!(
            decide_thread(Some(c), last, t(2), Duration::hours(W)),
            ThreadDecision::New { repeat_of: Some(c.id) }
        );
    }

    #[test]
    fn a_resolution_on_another_channel_makes_a_repeat_contact() {
        let other = ConversationId::new();
        assert_eq!(
            decide_thread(None, Some((other, t(0))), t(5), Duration::hours(W)),
            ThreadDecision::New { repeat_of: Some(other) }
        );
    }

    proptest! {
        #[test]
        fn never_reopens_or_joins_closed(h in -1000i64..1000, r in -1000i64..1000) {
            let c = cand(Status::Closed, Some(r));
            let d = decide_thread(Some(c), None, t(h), Duration::hours(W));
            let is_new = matches!(d, ThreadDecision::New { .. });
            prop_assert!(is_new);
        }
    }
}
