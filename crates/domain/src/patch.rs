//! Changing a conversation: which changes are allowed and which facts they record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::conversation::normalize_tags;
use crate::{Conversation, FactKind, Priority, Status, UserId};

/// A change to a conversation. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ConversationPatch {
    /// New status.
    pub status: Option<Status>,
    /// New assignee; `null` unassigns.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<UserId>>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New team; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub team: Option<Option<String>>,
    /// Replaces the tags (normalised: trimmed, lower-case, unique, sorted).
    pub tags: Option<Vec<String>>,
    /// Snooze until (required with status `snoozed`).
    pub snoozed_until: Option<DateTime<Utc>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// Why a patch cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// Not allowed from the current state.
    #[error("{0}")]
    Conflict(String),
    /// The patch itself is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// What applying a patch means: the conversation afterwards and one fact per real change.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPlan {
    /// The conversation with the patch applied (`updated_at` = now when anything changed).
    pub conversation: Conversation,
    /// Timeline facts to record, in order.
    pub facts: Vec<(FactKind, serde_json::Value)>,
    /// A newly assigned user, whom the store must check exists and is active.
    pub assign_to: Option<UserId>,
}

impl ConversationPatch {
    /// Plans the patch against `cur`. Fields equal to their current value change nothing and
    /// record nothing.
    pub fn plan(&self, cur: &Conversation, actor: Option<UserId>, now: DateTime<Utc>) -> Result<PatchPlan, PatchError> {
        let mut next = cur.clone();
        let mut facts = Vec::new();
        let by = actor.map(|a| a.to_string());
        if let Some(to) = self.status {
            if !cur.status.can_become(to) {
                return Err(PatchError::Conflict(format!("a {} conversation cannot become {to}", cur.status)));
            }
            if to == Status::Snoozed && self.snoozed_until.is_none() {
                return Err(PatchError::Invalid("status snoozed needs snoozed_until".into()));
            }
            if to != cur.status {
                next.status = to;
                next.resolved_at = match to {
                    Status::Resolved | Status::Closed => Some(cur.resolved_at.unwrap_or(now)),
                    _ => None,
                };
                facts.push((FactKind::StatusChanged, serde_json::json!({"from": cur.status, "to": to, "by": by})));
            }
            next.snoozed_until = if to == Status::Snoozed { self.snoozed_until } else { None };
        }
        let mut assign_to = None;
        if let Some(a) = self.assignee_id
            && a != cur.assignee_id
        {
            next.assignee_id = a;
            assign_to = a;
            facts.push((FactKind::AssigneeChanged, serde_json::json!({"from": cur.assignee_id, "to": a})));
        }
        if let Some(pr) = self.priority.filter(|pr| *pr != cur.priority) {
            next.priority = pr;
            facts.push((FactKind::PriorityChanged, serde_json::json!({"from": cur.priority, "to": pr})));
        }
        if let Some(team) = &self.team {
            let team = team.as_ref().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            if team != cur.team {
                facts.push((FactKind::TeamChanged, serde_json::json!({"from": cur.team, "to": team})));
                next.team = team;
            }
        }
        if let Some(tags) = &self.tags {
            let tags = normalize_tags(tags);
            if tags != cur.tags {
                facts.push((FactKind::TagsChanged, serde_json::json!({"from": cur.tags, "to": tags})));
                next.tags = tags;
            }
        }
        if next != *cur {
            next.updated_at = now;
        }
        Ok(PatchPlan { conversation: next, facts, assign_to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaseNumber, ChannelSlug, ContactId, ConversationId};

    fn conv(status: Status) -> Conversation {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        Conversation {
            id: ConversationId::new(),
            case_number: CaseNumber(1),
            channel: ChannelSlug::parse("api").unwrap_or_else(|_| unreachable!()),
            thread_key: String::new(),
            contact_id: ContactId::new(),
            status,
            priority: Priority::Normal,
            team: None,
            assignee_id: None,
            tags: vec![],
            created_at: t,
            updated_at: t,
            last_message_at: t,
            first_response_at: None,
            resolved_at: None,
            reopen_count: 0,
            repeat_of: None,
            snoozed_until: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_100_000, 0).unwrap_or_default()
    }

    #[test]
    fn each_real_change_records_one_fact() -> Result<(), PatchError> {
        let cur = conv(Status::Open);
        let agent = UserId::new();
        let p = ConversationPatch {
            status: Some(Status::Resolved),
            assignee_id: Some(Some(agent)),
            priority: Some(Priority::Normal),
            team: Some(Some("  billing ".into())),
            tags: Some(vec!["VIP".into(), "vip".into()]),
            snoozed_until: None,
        };
        let plan = p.plan(&cur, Some(agent), now())?;
        let kinds: Vec<FactKind> = plan.facts.iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            [FactKind::StatusChanged, FactKind::AssigneeChanged, FactKind::TeamChanged, FactKind::TagsChanged]
        );
        assert_eq!(plan.conversation.resolved_at, Some(now()));
        assert_eq!(plan.conversation.team.as_deref(), Some("billing"));
        assert_eq!(plan.conversation.tags, ["vip"]);
        assert_eq!(plan.assign_to, Some(agent));
        assert_eq!(plan.conversation.updated_at, now());
        // Applying it again changes nothing.
        let again = p.plan(&plan.conversation, Some(agent), now())?;
        assert!(again.facts.is_empty() && again.assign_to.is_none());
        Ok(())
    }

    #[test]
    fn closed_is_final_and_snooze_needs_a_time() {
        let p = ConversationPatch { status: Some(Status::Open), ..Default::default() };
        assert!(matches!(p.plan(&conv(Status::Closed), None, now()), Err(PatchError::Conflict(_))));
        let p = ConversationPatch { status: Some(Status::Snoozed), ..Default::default() };
        assert!(matches!(p.plan(&conv(Status::Open), None, now()), Err(PatchError::Invalid(_))));
    }

    #[test]
    fn closing_keeps_the_resolution_time_and_reopening_clears_it() -> Result<(), PatchError> {
        let mut resolved = conv(Status::Resolved);
        let earlier = DateTime::from_timestamp(1_700_050_000, 0).unwrap_or_default();
        resolved.resolved_at = Some(earlier);
        let closed =
            ConversationPatch { status: Some(Status::Closed), ..Default::default() }.plan(&resolved, None, now())?;
        assert_eq!(closed.conversation.resolved_at, Some(earlier));
        let open =
            ConversationPatch { status: Some(Status::Open), ..Default::default() }.plan(&resolved, None, now())?;
        assert_eq!(open.conversation.resolved_at, None);
        Ok(())
    }

    #[test]
    fn null_and_absent_differ() -> Result<(), serde_json::Error> {
        let p: ConversationPatch = serde_json::from_str(r#"{"assignee_id": null}"#)?;
        assert_eq!(p.assignee_id, Some(None));
        let p: ConversationPatch = serde_json::from_str(r#"{}"#)?;
        assert_eq!(p.assignee_id, None);
        Ok(())
    }
}
