//! Persistence for routing: teams and members, agent availability, business-hours calendars,
//! SLA policies, clocks and timers, automation rules, canned replies.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::automation::Rule;
use switchboard_domain::calendar::CalendarSpec;
use switchboard_domain::routing::{AssignmentPolicy, Availability, MemberRole, Skills};
use switchboard_domain::sla::{EscalationAction, SlaMetric, SlaPolicy, SlaTimerKind, TrackedClock};
use switchboard_domain::{CaseNumber, ContactId, ConversationId, Message, UserId};
use uuid::Uuid;

use crate::{NewMessage, Result};

/// The author id of messages and facts made by Switchboard's automation (acknowledgements,
/// canned replies sent by rules, rule actions). No user has it.
pub const AUTOMATION_USER: UserId = UserId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0a17));

/// A team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Team {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Unique name; conversations refer to their team by it.
    pub name: String,
    /// What the team does.
    pub description: String,
    /// How conversations are handed out.
    pub assignment_policy: AssignmentPolicy,
    /// Business-hours calendar by name (none: open around the clock, UTC).
    pub calendar: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A team to create or the new state of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamInput {
    /// 1–64 characters of a-z, 0-9, '-', '_'.
    pub name: String,
    /// What the team does.
    #[serde(default)]
    pub description: String,
    /// Default `manual`.
    #[serde(default = "manual")]
    pub assignment_policy: AssignmentPolicy,
    /// Calendar name.
    #[serde(default)]
    pub calendar: Option<String>,
}

fn manual() -> AssignmentPolicy {
    AssignmentPolicy::Manual
}

/// A member of a team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamMember {
    /// Team name.
    pub team: String,
    /// The user.
    pub user_id: UserId,
    /// The user's display name.
    pub name: String,
    /// Role in the team.
    pub role: MemberRole,
    /// Skills.
    pub skills: Skills,
    /// Most open conversations per channel slug; the key `*` applies to every other channel.
    pub capacity: BTreeMap<String, u32>,
    /// Online, away or offline.
    pub availability: Availability,
    /// When the member was last given a conversation.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// How a user joins (or changes within) a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberInput {
    /// Default `agent`.
    #[serde(default = "agent")]
    pub role: MemberRole,
    /// Skills.
    #[serde(default)]
    pub skills: Skills,
    /// Capacity per channel slug, `*` for any other.
    #[serde(default)]
    pub capacity: BTreeMap<String, u32>,
}

fn agent() -> MemberRole {
    MemberRole::Agent
}

/// A named business-hours calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalendarRecord {
    /// Unique name.
    pub name: String,
    /// The definition.
    pub spec: CalendarSpec,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A stored SLA policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaPolicyRecord {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Evaluation order (lowest first).
    pub position: i32,
    /// The policy.
    #[serde(flatten)]
    pub policy: SlaPolicy,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A stored automation rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleRecord {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Evaluation order (lowest first).
    pub position: i32,
    /// The rule.
    #[serde(flatten)]
    pub rule: Rule,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A canned reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CannedReply {
    /// Id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// What agents type to insert it, e.g. `refund-policy`.
    pub shortcut: String,
    /// Title shown in the picker.
    pub title: String,
    /// Team it belongs to; none for a global reply.
    pub team: Option<String>,
    /// Text per language tag (`en`, `zh`, …), with `{{variables}}`.
    pub variants: BTreeMap<String, String>,
    /// How often it was used.
    pub usage_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A canned reply to create or the new state of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CannedInput {
    /// 1–64 characters of a-z, 0-9, '-', '_'.
    pub shortcut: String,
    /// Title.
    pub title: String,
    /// Team name; none for global.
    #[serde(default)]
    pub team: Option<String>,
    /// Text per language tag; at least one.
    pub variants: BTreeMap<String, String>,
}

/// What routing last derived for a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoutingState {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The conversation's `updated_at` when it was last processed (none: never).
    pub synced_at: Option<DateTime<Utc>>,
    /// The newest customer message already seen by automation.
    pub seen_message_at: Option<DateTime<Utc>>,
    /// The SLA policy in force.
    pub policy: Option<String>,
    /// The SLA clocks.
    pub clocks: Vec<TrackedClock>,
    /// An automation rule asked to resolve the conversation after this many hours without a
    /// message while it waits on the customer.
    #[serde(default)]
    pub auto_resolve_hours: Option<u32>,
}

/// A timer to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerSpec {
    /// What it measures.
    pub metric: SlaMetric,
    /// Clock cycle.
    pub cycle: i32,
    /// Warning, breach or escalation level.
    pub kind: SlaTimerKind,
    /// For escalations: what to do.
    pub action: Option<EscalationAction>,
    /// When.
    pub fire_at: DateTime<Utc>,
}

/// A timer that fired (exactly once, whatever the number of nodes).
#[derive(Debug, Clone, PartialEq)]
pub struct FiredTimer {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Its case number.
    pub case_number: CaseNumber,
    /// What it measured.
    pub metric: SlaMetric,
    /// Clock cycle.
    pub cycle: i32,
    /// Warning, breach or escalation level.
    pub kind: SlaTimerKind,
    /// The escalation action that was applied (or notified).
    pub action: Option<EscalationAction>,
    /// When it was due.
    pub fire_at: DateTime<Utc>,
}

/// Routing, SLA and automation persistence. Both backends pass the same suite.
#[async_trait]
pub trait RoutingStore: Send + Sync {
    // --- teams ---
    /// Creates a team; `Conflict` if the name exists, `Invalid` for an unknown calendar.
    async fn create_team(&self, t: &TeamInput) -> Result<Team>;
    /// Replaces a team's settings (renaming moves its conversations along).
    async fn update_team(&self, name: &str, t: &TeamInput) -> Result<Team>;
    /// Deletes a team and its memberships.
    async fn delete_team(&self, name: &str) -> Result<()>;
    /// All teams by name.
    async fn list_teams(&self) -> Result<Vec<Team>>;
    /// One team.
    async fn get_team(&self, name: &str) -> Result<Option<Team>>;
    /// Adds a user to a team or changes their membership.
    async fn put_team_member(&self, team: &str, user: UserId, m: &MemberInput) -> Result<TeamMember>;
    /// Removes a user from a team.
    async fn remove_team_member(&self, team: &str, user: UserId) -> Result<()>;
    /// A team's members.
    async fn list_team_members(&self, team: &str) -> Result<Vec<TeamMember>>;

    // --- availability and assignment ---
    /// An agent's availability (offline when never set).
    async fn get_availability(&self, user: UserId) -> Result<Availability>;
    /// Sets an agent's availability. Going offline unassigns their active conversations (a fact
    /// each, same transaction); those are returned so they can be routed again.
    async fn set_availability(
        &self,
        user: UserId,
        a: Availability,
        at: DateTime<Utc>,
    ) -> Result<Vec<(ConversationId, CaseNumber)>>;
    /// Assigns an unassigned active conversation of a team to the member its policy picks
    /// (language and intent from triage, when known). Race-free across nodes: the team's members
    /// are locked while choosing. `None` when the policy is manual, nobody has room, the
    /// conversation is already assigned, or it has no team.
    async fn assign_next(
        &self,
        conversation: ConversationId,
        language: Option<&str>,
        intent: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<UserId>>;

    // --- calendars ---
    /// Creates or replaces a calendar (validated by the caller).
    async fn put_calendar(&self, name: &str, spec: &CalendarSpec) -> Result<CalendarRecord>;
    /// One calendar.
    async fn get_calendar(&self, name: &str) -> Result<Option<CalendarRecord>>;
    /// All calendars by name.
    async fn list_calendars(&self) -> Result<Vec<CalendarRecord>>;
    /// Deletes a calendar; `Conflict` while a team uses it.
    async fn delete_calendar(&self, name: &str) -> Result<()>;

    // --- SLA policies and automation rules (ordered lists) ---
    /// Creates a policy at `position`; `Conflict` on a duplicate name.
    async fn create_sla_policy(&self, position: i32, p: &SlaPolicy) -> Result<SlaPolicyRecord>;
    /// Replaces a policy.
    async fn update_sla_policy(&self, id: Uuid, position: i32, p: &SlaPolicy) -> Result<SlaPolicyRecord>;
    /// Deletes a policy.
    async fn delete_sla_policy(&self, id: Uuid) -> Result<()>;
    /// Policies in evaluation order.
    async fn list_sla_policies(&self) -> Result<Vec<SlaPolicyRecord>>;
    /// Creates a rule at `position`; `Conflict` on a duplicate name.
    async fn create_rule(&self, position: i32, r: &Rule) -> Result<RuleRecord>;
    /// Replaces a rule.
    async fn update_rule(&self, id: Uuid, position: i32, r: &Rule) -> Result<RuleRecord>;
    /// Deletes a rule.
    async fn delete_rule(&self, id: Uuid) -> Result<()>;
    /// Rules in evaluation order.
    async fn list_rules(&self) -> Result<Vec<RuleRecord>>;

    // --- canned replies ---
    /// Creates a canned reply; `Conflict` if the shortcut exists in that scope.
    async fn create_canned(&self, c: &CannedInput) -> Result<CannedReply>;
    /// Replaces one.
    async fn update_canned(&self, id: Uuid, c: &CannedInput) -> Result<CannedReply>;
    /// Deletes one.
    async fn delete_canned(&self, id: Uuid) -> Result<()>;
    /// Global replies plus, with `team`, that team's, by shortcut.
    async fn list_canned(&self, team: Option<&str>) -> Result<Vec<CannedReply>>;
    /// One by id.
    async fn get_canned(&self, id: Uuid) -> Result<Option<CannedReply>>;
    /// The reply a shortcut means for a team: the team's own first, then the global one.
    async fn find_canned(&self, shortcut: &str, team: Option<&str>) -> Result<Option<CannedReply>>;
    /// Counts one use.
    async fn count_canned_use(&self, id: Uuid) -> Result<()>;

    // --- routing work, SLA state and timers ---
    /// Leases up to `limit` conversations changed since routing last processed them, so one
    /// node at a time works on each; the lease lapses at `lease_until`.
    async fn claim_routing_work(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ConversationId>>;
    /// Shortens a claimed conversation's lease to `until`, leaving it unprocessed, so a later
    /// round takes it again (routing waits for the triage of the newest message).
    async fn defer_routing(&self, id: ConversationId, until: DateTime<Utc>) -> Result<()>;
    /// What routing last derived for a conversation.
    async fn get_routing_state(&self, id: ConversationId) -> Result<Option<RoutingState>>;
    /// Saves the derived state, releases the lease, and replaces the conversation's pending
    /// timers with `timers` (one that already fired is never scheduled again).
    async fn save_routing_state(&self, state: &RoutingState, timers: &[TimerSpec]) -> Result<()>;
    /// Fires up to `limit` due timers, each exactly once: marks it, records the fact on the
    /// conversation and applies its escalation action, in one transaction per batch.
    async fn fire_due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<FiredTimer>>;
    /// Posts an automatic reply (by [`AUTOMATION_USER`]) through the outbox like
    /// [`crate::Store::post_message`], except that it never counts as the first response.
    async fn post_automatic_reply(&self, msg: &NewMessage) -> Result<(Message, bool)>;
    /// A contact's attributes (`tier`, `plan`, …); empty when none.
    async fn get_contact_attributes(&self, contact: ContactId) -> Result<BTreeMap<String, String>>;
    /// Replaces a contact's attributes (checked with [`check_attributes`]).
    async fn set_contact_attributes(&self, contact: ContactId, attrs: &BTreeMap<String, String>) -> Result<()>;
    /// Records a fact by automation on a conversation (`rule_fired`, `auto_acknowledged`).
    async fn record_routing_fact(
        &self,
        id: ConversationId,
        kind: switchboard_domain::FactKind,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<()>;
}

/// Checks a team, calendar or shortcut name: 1–64 characters of a-z, 0-9, '-', '_'.
pub fn check_name(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(crate::StoreError::Invalid(format!(
            "{what} {:?} must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit",
            s.chars().take(80).collect::<String>()
        )))
    }
}

/// Checks a canned reply: shortcut, title, at least one variant, valid templates.
pub fn check_canned(c: &CannedInput) -> Result<()> {
    check_name("shortcut", &c.shortcut)?;
    if c.title.trim().is_empty() {
        return Err(crate::StoreError::Invalid("title must not be empty".into()));
    }
    if c.variants.is_empty() {
        return Err(crate::StoreError::Invalid("at least one language variant is needed".into()));
    }
    for (lang, text) in &c.variants {
        if lang.is_empty() || lang.len() > 16 || !lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(crate::StoreError::Invalid(format!("{lang:?} is not a language tag like en or zh-CN")));
        }
        if text.trim().is_empty() {
            return Err(crate::StoreError::Invalid(format!("variant {lang} is empty")));
        }
        switchboard_domain::canned::validate_template(text)
            .map_err(|e| crate::StoreError::Invalid(format!("variant {lang}: {e}")))?;
    }
    Ok(())
}

/// Most attributes one contact may have.
pub const MAX_ATTRIBUTES: usize = 50;

/// Checks contact attributes: keys of 1–64 characters of a-z, 0-9, '_', '-', '.'; values up to
/// 256 characters; at most [`MAX_ATTRIBUTES`].
pub fn check_attributes(attrs: &BTreeMap<String, String>) -> Result<()> {
    if attrs.len() > MAX_ATTRIBUTES {
        return Err(crate::StoreError::Invalid(format!("at most {MAX_ATTRIBUTES} attributes, got {}", attrs.len())));
    }
    for (k, v) in attrs {
        let ok = !k.is_empty()
            && k.len() <= 64
            && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            return Err(crate::StoreError::Invalid(format!(
                "attribute key {:?} must be 1-64 characters of a-z, 0-9, '_', '-' or '.'",
                k.chars().take(80).collect::<String>()
            )));
        }
        if v.chars().count() > 256 {
            return Err(crate::StoreError::Invalid(format!("attribute {k} is longer than 256 characters")));
        }
    }
    Ok(())
}

/// A member's capacity on a channel: its own entry, else `*`, else unlimited.
pub(crate) fn capacity_for(capacity: &BTreeMap<String, u32>, channel: &str) -> Option<u32> {
    capacity.get(channel).or_else(|| capacity.get("*")).copied()
}

/// The timeline fact a fired timer records.
pub(crate) fn fact_for_timer(
    metric: SlaMetric,
    cycle: i32,
    kind: SlaTimerKind,
    action: Option<&EscalationAction>,
    fire_at: DateTime<Utc>,
) -> (switchboard_domain::FactKind, serde_json::Value) {
    use switchboard_domain::FactKind;
    let base = serde_json::json!({"metric": metric, "cycle": cycle, "due_at": fire_at});
    match kind {
        SlaTimerKind::Warning => (FactKind::SlaWarning, base),
        SlaTimerKind::Breach => (FactKind::SlaBreached, base),
        SlaTimerKind::Escalation(level) => {
            let mut data = base;
            data["level"] = serde_json::json!(level);
            data["action"] = serde_json::to_value(action).unwrap_or_default();
            (FactKind::SlaEscalated, data)
        }
        SlaTimerKind::AutoResolve => {
            let mut data = base;
            data["rule_action"] = serde_json::json!("auto_resolve_after");
            (FactKind::RuleFired, data)
        }
    }
}

/// The change a fired timer makes besides its fact: an escalation's action, or resolving a
/// conversation still waiting on the customer.
pub(crate) fn patch_for_timer(
    kind: SlaTimerKind,
    action: Option<&EscalationAction>,
    cur: &switchboard_domain::Conversation,
) -> Option<switchboard_domain::ConversationPatch> {
    match kind {
        SlaTimerKind::AutoResolve => {
            (cur.status == switchboard_domain::Status::Pending).then(|| switchboard_domain::ConversationPatch {
                status: Some(switchboard_domain::Status::Resolved),
                ..Default::default()
            })
        }
        _ => action.and_then(|a| a.patch(cur.priority)),
    }
}
