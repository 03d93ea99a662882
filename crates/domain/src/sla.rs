//! SLA policies and clocks: which promise applies to a conversation, when it is due, when to warn
//! and escalate, and how the clock pauses while the conversation waits on the customer.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::BusinessCalendar;
use crate::{ConversationPatch, Priority, string_enum};

string_enum!(
    /// What an SLA measures.
    SlaMetric, "SLA metric" {
        /// From the conversation's start to the first public agent reply.
        FirstResponse => "first_response",
        /// From a customer message (after an agent reply) to the next agent reply.
        NextResponse => "next_response",
        /// From the start to resolution.
        Resolution => "resolution",
    }
);

string_enum!(
    /// How a target's time is counted.
    TimeBasis, "time basis" {
        /// Only while the team's calendar is open.
        Business => "business",
        /// Around the clock.
        Calendar => "calendar",
    }
);

/// Most escalation levels a policy may have.
pub const MAX_ESCALATION_LEVELS: usize = 4;

/// Why an SLA policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SlaError(pub String);

/// A time target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaTarget {
    /// Minutes allowed (1 – 525 600).
    pub minutes: u32,
    /// Business hours or calendar time.
    pub basis: TimeBasis,
}

impl SlaTarget {
    /// The target as a duration.
    pub fn duration(self) -> Duration {
        Duration::minutes(i64::from(self.minutes))
    }
}

/// Which conversations a policy applies to; an empty list matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaConditions {
    /// Priorities.
    #[serde(default)]
    pub priorities: Vec<Priority>,
    /// Channel slugs.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Team names.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Customer tiers (the contact attribute `tier`, e.g. `gold`).
    #[serde(default)]
    pub tiers: Vec<String>,
}

/// What an escalation level does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EscalationAction {
    /// Tell the assigned agent.
    NotifyAssignee,
    /// Tell the team's supervisors.
    NotifySupervisor,
    /// Raise the priority one step (low → normal → high → urgent).
    RaisePriority,
    /// Move the conversation to another team (and unassign it).
    MoveToTeam {
        /// The escalation team.
        team: String,
    },
    /// Tell the managers (admins).
    NotifyManager,
}

impl EscalationAction {
    /// The change this action makes to a conversation with `priority`, if any.
    pub fn patch(&self, priority: Priority) -> Option<ConversationPatch> {
        match self {
            EscalationAction::RaisePriority => {
                let next = match priority {
                    Priority::Low => Priority::Normal,
                    Priority::Normal => Priority::High,
                    Priority::High | Priority::Urgent => Priority::Urgent,
                };
                (next != priority).then(|| ConversationPatch { priority: Some(next), ..Default::default() })
            }
            EscalationAction::MoveToTeam { team } => Some(ConversationPatch {
                team: Some(Some(team.clone())),
                assignee_id: Some(None),
                ..Default::default()
            }),
            _ => None,
        }
    }

    /// Short name for facts and logs.
    pub fn name(&self) -> &'static str {
        match self {
            EscalationAction::NotifyAssignee => "notify_assignee",
            EscalationAction::NotifySupervisor => "notify_supervisor",
            EscalationAction::RaisePriority => "raise_priority",
            EscalationAction::MoveToTeam { .. } => "move_to_team",
            EscalationAction::NotifyManager => "notify_manager",
        }
    }
}

/// One escalation level: fires when the elapsed time reaches `at_percent` of the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationLevel {
    /// Percent of the target (100 = at the breach, 150 = half the target again later).
    pub at_percent: u32,
    /// What happens.
    pub action: EscalationAction,
}

/// An SLA policy. Policies are tried in order; the first whose conditions match applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaPolicy {
    /// Name shown to people.
    pub name: String,
    /// Which conversations it applies to.
    #[serde(default)]
    pub conditions: SlaConditions,
    /// First response target.
    pub first_response: Option<SlaTarget>,
    /// Next response target.
    pub next_response: Option<SlaTarget>,
    /// Resolution target.
    pub resolution: Option<SlaTarget>,
    /// Warn when this percent of a target has passed (1–99; none: no warning).
    pub warn_at_percent: Option<u32>,
    /// Up to four escalation levels, in increasing `at_percent`.
    #[serde(default)]
    pub escalations: Vec<EscalationLevel>,
}

/// What a policy is chosen by.
#[derive(Debug, Clone, Copy)]
pub struct SlaContext<'a> {
    /// Conversation priority.
    pub priority: Priority,
    /// Channel slug.
    pub channel: &'a str,
    /// Owning team.
    pub team: Option<&'a str>,
    /// The contact's tier.
    pub tier: Option<&'a str>,
}

fn any_or<T: PartialEq + ?Sized, U: AsRef<T>>(list: &[U], v: Option<&T>) -> bool {
    list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x.as_ref() == v))
}

impl SlaPolicy {
    /// Checks targets, warning and escalation levels.
    pub fn validate(&self) -> Result<(), SlaError> {
        if self.name.trim().is_empty() {
            return Err(SlaError("policy name must not be empty".into()));
        }
        for (what, t) in [
            ("first_response", self.first_response),
            ("next_response", self.next_response),
            ("resolution", self.resolution),
        ] {
            if let Some(t) = t
                && !(1..=525_600).contains(&t.minutes)
            {
                return Err(SlaError(format!("{what}.minutes must be between 1 and 525600, got {}", t.minutes)));
            }
        }
        if let Some(p) = self.warn_at_percent
            && !(1..=99).contains(&p)
        {
            return Err(SlaError(format!("warn_at_percent must be between 1 and 99, got {p}")));
        }
        if self.escalations.len() > MAX_ESCALATION_LEVELS {
            return Err(SlaError(format!(
                "at most {MAX_ESCALATION_LEVELS} escalation levels, got {}",
                self.escalations.len()
            )));
        }
        let mut prev = 0;
        for e in &self.escalations {
            if e.at_percent < 1 || e.at_percent > 10_000 || e.at_percent <= prev {
                return Err(SlaError(
                    "escalation levels need at_percent between 1 and 10000, strictly increasing".into(),
                ));
            }
            if let EscalationAction::MoveToTeam { team } = &e.action
                && team.trim().is_empty()
            {
                return Err(SlaError("move_to_team needs a team".into()));
            }
            prev = e.at_percent;
        }
        Ok(())
    }

    /// Whether the policy applies.
    pub fn matches(&self, ctx: &SlaContext<'_>) -> bool {
        let c = &self.conditions;
        (c.priorities.is_empty() || c.priorities.contains(&ctx.priority))
            && any_or::<str, _>(&c.channels, Some(ctx.channel))
            && any_or::<str, _>(&c.teams, ctx.team)
            && any_or::<str, _>(&c.tiers, ctx.tier)
    }

    /// The target of one metric.
    pub fn target(&self, metric: SlaMetric) -> Option<SlaTarget> {
        match metric {
            SlaMetric::FirstResponse => self.first_response,
            SlaMetric::NextResponse => self.next_response,
            SlaMetric::Resolution => self.resolution,
        }
    }

    /// The built-in policies used when none is configured: first response urgent 30 min, high
    /// 1 h, normal 4 h, low 24 h; next response the same; resolution urgent 4 h, high 8 h,
    /// normal 24 h, low 72 h; all in business hours, warning at 75 %, escalation to the
    /// supervisor at the breach and to the manager at twice the target.
    pub fn defaults() -> Vec<SlaPolicy> {
        [
            (Priority::Urgent, 30, 4 * 60),
            (Priority::High, 60, 8 * 60),
            (Priority::Normal, 4 * 60, 24 * 60),
            (Priority::Low, 24 * 60, 72 * 60),
        ]
        .into_iter()
        .map(|(p, first, resolve)| {
            let t = |minutes| Some(SlaTarget { minutes, basis: TimeBasis::Business });
            SlaPolicy {
                name: format!("Default {p}"),
                conditions: SlaConditions { priorities: vec![p], ..Default::default() },
                first_response: t(first),
                next_response: t(first),
                resolution: t(resolve),
                warn_at_percent: Some(75),
                escalations: vec![
                    EscalationLevel { at_percent: 100, action: EscalationAction::NotifySupervisor },
                    EscalationLevel { at_percent: 200, action: EscalationAction::NotifyManager },
                ],
            }
        })
        .collect()
    }
}

/// The first policy in `policies` that applies.
pub fn select_policy<'p>(policies: &'p [SlaPolicy], ctx: &SlaContext<'_>) -> Option<&'p SlaPolicy> {
    policies.iter().find(|p| p.matches(ctx))
}

/// One running (or paused, or stopped) SLA clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaClock {
    /// What it measures.
    pub metric: SlaMetric,
    /// The promise.
    pub target: SlaTarget,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Counted time (seconds) before `running_since`.
    pub consumed_secs: i64,
    /// Counting since; `None` while paused or stopped.
    pub running_since: Option<DateTime<Utc>>,
    /// When the promise was met (or the clock cancelled).
    pub stopped_at: Option<DateTime<Utc>>,
}

/// A moment an SLA clock asks to be woken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaTimerKind {
    /// The warning percentage was reached.
    Warning,
    /// The target was reached: breached.
    Breach,
    /// Escalation level `n` (1-based).
    Escalation(u8),
    /// An automation rule's "resolve after inactivity" came due (metric `resolution`, cycle =
    /// the conversation's message count when scheduled).
    AutoResolve,
}

impl SlaTimerKind {
    /// Stable string form: `warning`, `breach`, `escalation_1` … `escalation_4`.
    pub fn as_str(self) -> String {
        match self {
            SlaTimerKind::Warning => "warning".into(),
            SlaTimerKind::Breach => "breach".into(),
            SlaTimerKind::Escalation(n) => format!("escalation_{n}"),
            SlaTimerKind::AutoResolve => "auto_resolve".into(),
        }
    }

    /// Parses [`SlaTimerKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "warning" => Some(SlaTimerKind::Warning),
            "breach" => Some(SlaTimerKind::Breach),
            "auto_resolve" => Some(SlaTimerKind::AutoResolve),
            _ => {
                let n: u8 = s.strip_prefix("escalation_")?.parse().ok()?;
                (1..=MAX_ESCALATION_LEVELS as u8).contains(&n).then_some(SlaTimerKind::Escalation(n))
            }
        }
    }
}

impl SlaClock {
    /// A clock started at `at`.
    pub fn start(metric: SlaMetric, target: SlaTarget, at: DateTime<Utc>) -> Self {
        Self { metric, target, started_at: at, consumed_secs: 0, running_since: Some(at), stopped_at: None }
    }

    fn measure(&self, cal: &BusinessCalendar, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        match self.target.basis {
            TimeBasis::Business => cal.business_between(a, b),
            TimeBasis::Calendar => (b - a).max(Duration::zero()),
        }
    }

    fn add(&self, cal: &BusinessCalendar, a: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
        match self.target.basis {
            TimeBasis::Business => cal.add_business(a, d),
            TimeBasis::Calendar => a.checked_add_signed(d.max(Duration::zero())),
        }
    }

    /// Counted time at `now`.
    pub fn elapsed(&self, cal: &BusinessCalendar, now: DateTime<Utc>) -> Duration {
        let base = Duration::seconds(self.consumed_secs);
        match (self.running_since, self.stopped_at) {
            (Some(since), None) => base + self.measure(cal, since, now),
            _ => base,
        }
    }

    /// Whether it is running (not paused, not stopped).
    pub fn is_running(&self) -> bool {
        self.running_since.is_some() && self.stopped_at.is_none()
    }

    /// When `percent` % of the target will have been counted, if the clock keeps running.
    /// `None` while paused or stopped. May lie in the past.
    pub fn at_percent(&self, cal: &BusinessCalendar, percent: u32) -> Option<DateTime<Utc>> {
        let since = self.running_since.filter(|_| self.stopped_at.is_none())?;
        let want = self.target.duration() * percent as i32 / 100;
        let left = want - Duration::seconds(self.consumed_secs);
        if left <= Duration::zero() {
            // Already past: the moment it was reached is before `since`; report `since`.
            return Some(since);
        }
        self.add(cal, since, left)
    }

    /// When the target is due (see [`SlaClock::at_percent`]).
    pub fn due_at(&self, cal: &BusinessCalendar) -> Option<DateTime<Utc>> {
        self.at_percent(cal, 100)
    }

    /// Whether the counted time exceeds the target at `now`.
    pub fn breached(&self, cal: &BusinessCalendar, now: DateTime<Utc>) -> bool {
        self.elapsed(cal, now) > self.target.duration()
    }

    /// Stops counting (the conversation waits on the customer).
    pub fn pause(&mut self, cal: &BusinessCalendar, at: DateTime<Utc>) {
        if let (Some(since), None) = (self.running_since, self.stopped_at) {
            self.consumed_secs += self.measure(cal, since, at).num_seconds();
            self.running_since = None;
        }
    }

    /// Counts again from `at` (the customer replied).
    pub fn resume(&mut self, at: DateTime<Utc>) {
        if self.running_since.is_none() && self.stopped_at.is_none() {
            self.running_since = Some(at);
        }
    }

    /// The promise was met (or no longer applies) at `at`; the counted time is frozen.
    pub fn stop(&mut self, cal: &BusinessCalendar, at: DateTime<Utc>) {
        self.pause(cal, at);
        if self.stopped_at.is_none() {
            self.stopped_at = Some(at);
        }
    }

    /// The timers this clock needs under `policy`: warning, breach and each escalation level,
    /// with the time each fires. Empty while paused or stopped.
    pub fn timers(&self, cal: &BusinessCalendar, policy: &SlaPolicy) -> Vec<(SlaTimerKind, DateTime<Utc>)> {
        let mut out = Vec::with_capacity(2 + policy.escalations.len());
        if !self.is_running() {
            return out;
        }
        if let Some(p) = policy.warn_at_percent
            && let Some(t) = self.at_percent(cal, p)
        {
            out.push((SlaTimerKind::Warning, t));
        }
        if let Some(t) = self.due_at(cal) {
            out.push((SlaTimerKind::Breach, t));
        }
        for (i, e) in policy.escalations.iter().enumerate() {
            if let Some(t) = self.at_percent(cal, e.at_percent) {
                out.push((SlaTimerKind::Escalation(i as u8 + 1), t));
            }
        }
        out
    }
}

/// SLA state shown with a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlaStatus {
    /// What it measures.
    pub metric: SlaMetric,
    /// The policy that set it.
    pub policy: String,
    /// The target.
    pub target: SlaTarget,
    /// Due time while running.
    pub due_at: Option<DateTime<Utc>>,
    /// Paused (waiting on the customer).
    pub paused: bool,
    /// Met or cancelled at.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Counted seconds so far.
    pub elapsed_secs: i64,
    /// Counted time exceeds the target.
    pub breached: bool,
}

/// What happened in a conversation, as far as SLA clocks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineEvent {
    /// The customer wrote.
    CustomerMessage,
    /// An agent replied to the customer (automatic replies do not count).
    AgentReply,
    /// The status changed to this.
    Status(crate::Status),
}

/// A clock with the cycle it belongs to (next-response clocks restart on each customer message
/// after an agent reply; other metrics have cycle 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackedClock {
    /// 0 for first response and resolution; 1, 2, … for successive next-response waits.
    pub cycle: i32,
    /// The clock.
    pub clock: SlaClock,
}

/// Replays a conversation's timeline into its SLA clocks under `policy`: first response and
/// resolution start at `created_at`; an agent reply meets first/next response; a customer
/// message after an agent reply starts a new next-response wait; every clock pauses while the
/// conversation is pending (waiting on the customer) and resumes when it is not; resolving stops
/// the response clocks and pauses resolution until a reopen. `events` must be in time order.
pub fn derive_clocks(
    created_at: DateTime<Utc>,
    events: &[(DateTime<Utc>, TimelineEvent)],
    policy: &SlaPolicy,
    cal: &BusinessCalendar,
) -> Vec<TrackedClock> {
    use crate::Status;
    let mut first = policy.first_response.map(|t| SlaClock::start(SlaMetric::FirstResponse, t, created_at));
    let mut resolution = policy.resolution.map(|t| SlaClock::start(SlaMetric::Resolution, t, created_at));
    let mut next: Option<TrackedClock> = None;
    let mut cycles = 0;
    let mut replied = false;
    let mut paused = false;
    for &(at, ev) in events {
        let at = at.max(created_at);
        match ev {
            TimelineEvent::AgentReply => {
                replied = true;
                if let Some(c) = first.as_mut() {
                    c.stop(cal, at);
                }
                if let Some(n) = next.as_mut() {
                    n.clock.stop(cal, at);
                }
            }
            TimelineEvent::CustomerMessage => {
                let waiting = next.as_ref().is_some_and(|n| n.clock.stopped_at.is_none());
                if replied
                    && !waiting
                    && let Some(t) = policy.next_response
                {
                    cycles += 1;
                    let mut c = SlaClock::start(SlaMetric::NextResponse, t, at);
                    if paused {
                        c.pause(cal, at);
                    }
                    next = Some(TrackedClock { cycle: cycles, clock: c });
                }
            }
            TimelineEvent::Status(to) => {
                let now_paused = matches!(to, Status::Pending | Status::Resolved | Status::Closed);
                let clocks = [first.as_mut(), resolution.as_mut(), next.as_mut().map(|n| &mut n.clock)];
                for c in clocks.into_iter().flatten() {
                    if now_paused && !paused {
                        c.pause(cal, at);
                    } else if !now_paused && paused {
                        c.resume(at);
                    }
                }
                if matches!(to, Status::Resolved | Status::Closed) {
                    // Nothing is owed an answer any more.
                    if let Some(c) = first.as_mut() {
                        c.stop(cal, at);
                    }
                    if let Some(n) = next.as_mut() {
                        n.clock.stop(cal, at);
                    }
                }
                if to == Status::Closed
                    && let Some(c) = resolution.as_mut()
                {
                    c.stop(cal, at);
                }
                paused = now_paused;
            }
        }
    }
    first
        .map(|clock| TrackedClock { cycle: 0, clock })
        .into_iter()
        .chain(next)
        .chain(resolution.map(|clock| TrackedClock { cycle: 0, clock }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{CalendarSpec, DayHours, OpenInterval};
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("test time").with_timezone(&Utc)
    }

    fn berlin_office() -> BusinessCalendar {
        BusinessCalendar::new(&CalendarSpec {
            time_zone: "Europe/Berlin".into(),
            always_open: false,
            weekly: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| DayHours {
                    day: (*d).into(),
                    intervals: vec![OpenInterval { start: "09:00".into(), end: "17:00".into() }],
                })
                .collect(),
            special_dates: vec![],
        })
        .expect("calendar")
    }

    #[test]
    fn defaults_follow_common_practice() {
        let p = SlaPolicy::defaults();
        let ctx = |priority| SlaContext { priority, channel: "wa", team: None, tier: None };
        let first = |pr| select_policy(&p, &ctx(pr)).and_then(|p| p.first_response).map(|t| t.minutes);
        assert_eq!(first(Priority::Urgent), Some(30));
        assert_eq!(first(Priority::High), Some(60));
        assert_eq!(first(Priority::Normal), Some(240));
        assert_eq!(first(Priority::Low), Some(1440));
        for pol in &p {
            pol.validate().expect("defaults are valid");
        }
    }

    #[test]
    fn policies_are_chosen_by_conditions_in_order() {
        let mut gold = SlaPolicy::defaults().remove(0);
        gold.name = "Gold".into();
        gold.conditions =
            SlaConditions { tiers: vec!["gold".into()], channels: vec!["x-public".into()], ..Default::default() };
        let mut all = vec![gold];
        all.extend(SlaPolicy::defaults());
        let ctx =
            SlaContext { priority: Priority::Low, channel: "x-public", team: Some("billing"), tier: Some("gold") };
        assert_eq!(select_policy(&all, &ctx).map(|p| p.name.as_str()), Some("Gold"));
        let ctx = SlaContext { tier: None, ..ctx };
        assert_eq!(select_policy(&all, &ctx).map(|p| p.name.as_str()), Some("Default low"));
    }

    #[test]
    fn validation_names_the_problem() {
        let mut p = SlaPolicy::defaults().remove(0);
        p.warn_at_percent = Some(100);
        assert!(p.validate().is_err());
        p.warn_at_percent = Some(75);
        p.escalations = (1..=5)
            .map(|i| EscalationLevel { at_percent: i * 100, action: EscalationAction::NotifyAssignee })
            .collect();
        assert!(p.validate().err().is_some_and(|e| e.0.contains("at most 4")));
        p.escalations.truncate(2);
        p.escalations.reverse();
        assert!(p.validate().is_err());
    }

    #[test]
    fn pause_and_resume_across_a_weekend() {
        let cal = berlin_office();
        let target = SlaTarget { minutes: 240, basis: TimeBasis::Business };
        // Friday 10:00 local (09:00 UTC): 4 business hours → due Friday 14:00 local.
        let mut c = SlaClock::start(SlaMetric::Resolution, target, utc("2026-01-09T09:00:00Z"));
        assert_eq!(c.due_at(&cal), Some(utc("2026-01-09T13:00:00Z")));
        // Pending at 11:00 local after 1 h counted; customer answers Saturday.
        c.pause(&cal, utc("2026-01-09T10:00:00Z"));
        assert_eq!(c.due_at(&cal), None);
        assert_eq!(c.elapsed(&cal, utc("2026-01-12T10:00:00Z")), Duration::hours(1));
        c.resume(utc("2026-01-10T11:00:00Z"));
        // 3 h left from Monday 09:00 local → Monday 12:00 local = 11:00 UTC.
        assert_eq!(c.due_at(&cal), Some(utc("2026-01-12T11:00:00Z")));
        assert!(!c.breached(&cal, utc("2026-01-12T11:00:00Z")));
        assert!(c.breached(&cal, utc("2026-01-12T11:00:01Z")));
        c.stop(&cal, utc("2026-01-12T10:30:00Z"));
        assert!(!c.breached(&cal, utc("2026-01-20T00:00:00Z")));
        assert_eq!(c.elapsed(&cal, utc("2026-01-20T00:00:00Z")), Duration::minutes(210));
    }

    #[test]
    fn timers_for_warning_breach_and_escalations() {
        let cal = berlin_office();
        let mut policy = SlaPolicy::defaults().remove(0); // urgent, 30 min business
        policy.escalations = vec![
            EscalationLevel { at_percent: 100, action: EscalationAction::NotifyAssignee },
            EscalationLevel { at_percent: 150, action: EscalationAction::NotifySupervisor },
            EscalationLevel { at_percent: 200, action: EscalationAction::MoveToTeam { team: "tier2".into() } },
            EscalationLevel { at_percent: 400, action: EscalationAction::NotifyManager },
        ];
        policy.validate().expect("valid");
        let target = policy.first_response.expect("target");
        // Sunday night: everything happens from Monday 09:00 local (08:00 UTC).
        let c = SlaClock::start(SlaMetric::FirstResponse, target, utc("2026-01-11T22:00:00Z"));
        let t = c.timers(&cal, &policy);
        assert_eq!(
            t,
            vec![
                (SlaTimerKind::Warning, utc("2026-01-12T08:22:30Z")),
                (SlaTimerKind::Breach, utc("2026-01-12T08:30:00Z")),
                (SlaTimerKind::Escalation(1), utc("2026-01-12T08:30:00Z")),
                (SlaTimerKind::Escalation(2), utc("2026-01-12T08:45:00Z")),
                (SlaTimerKind::Escalation(3), utc("2026-01-12T09:00:00Z")),
                (SlaTimerKind::Escalation(4), utc("2026-01-12T10:00:00Z")),
            ]
        );
        for (k, _) in &t {
            assert_eq!(SlaTimerKind::parse(&k.as_str()), Some(*k));
        }
        assert_eq!(SlaTimerKind::parse("auto_resolve"), Some(SlaTimerKind::AutoResolve));
        assert_eq!(SlaTimerKind::parse("escalation_5"), None);
    }

    #[test]
    fn escalation_actions_patch() {
        assert_eq!(
            EscalationAction::RaisePriority.patch(Priority::High).and_then(|p| p.priority),
            Some(Priority::Urgent)
        );
        assert!(EscalationAction::RaisePriority.patch(Priority::Urgent).is_none());
        let p = EscalationAction::MoveToTeam { team: "t2".into() }.patch(Priority::Low).expect("patch");
        assert_eq!(p.team, Some(Some("t2".into())));
        assert_eq!(p.assignee_id, Some(None));
        assert!(EscalationAction::NotifyManager.patch(Priority::Low).is_none());
    }

    #[test]
    fn clocks_follow_the_timeline() {
        use crate::Status;
        let cal = BusinessCalendar::always_open(chrono_tz::UTC);
        let policy = SlaPolicy::defaults().remove(2); // normal: 4 h first/next, 24 h resolution
        let t0 = utc("2026-01-05T00:00:00Z");
        let h = |n: i64| t0 + Duration::hours(n);
        let events = [
            (h(1), TimelineEvent::AgentReply),
            (h(2), TimelineEvent::Status(Status::Pending)),
            (h(5), TimelineEvent::Status(Status::Open)),
            (h(5), TimelineEvent::CustomerMessage),
            (h(6), TimelineEvent::CustomerMessage),
        ];
        let clocks = derive_clocks(t0, &events, &policy, &cal);
        assert_eq!(clocks.len(), 3);
        assert_eq!(clocks[0].clock.metric, SlaMetric::FirstResponse);
        assert_eq!(clocks[0].clock.elapsed(&cal, h(100)), Duration::hours(1));
        // One next-response wait (the second message joins it), due 4 h after 05:00.
        assert_eq!((clocks[1].cycle, clocks[1].clock.due_at(&cal)), (1, Some(h(9))));
        // Resolution paused for 3 h while pending: due at 24 + 3.
        assert_eq!(clocks[2].clock.due_at(&cal), Some(h(27)));
        // Resolved: no response clock runs; reopening resumes resolution only.
        let mut more = events.to_vec();
        more.push((h(7), TimelineEvent::Status(Status::Resolved)));
        more.push((h(8), TimelineEvent::Status(Status::Open)));
        let clocks = derive_clocks(t0, &more, &policy, &cal);
        assert!(clocks[1].clock.stopped_at.is_some());
        assert_eq!(clocks[2].clock.due_at(&cal), Some(h(28)));
    }

    proptest! {
        /// However a clock is paused and resumed, counted time is the business time of the
        /// running stretches, and the due time is when that reaches the target.
        #[test]
        fn pause_resume_sums_running_stretches(
            start in 1_767_225_600i64..1_790_000_000,
            steps in proptest::collection::vec((60i64..400_000, 60i64..400_000), 0..6),
            minutes in 1u32..3000,
        ) {
            let cal = berlin_office();
            let target = SlaTarget { minutes, basis: TimeBasis::Business };
            let t0 = DateTime::from_timestamp(start, 0).expect("ts");
            let mut c = SlaClock::start(SlaMetric::FirstResponse, target, t0);
            let mut t = t0;
            let mut expected = Duration::zero();
            for (run, wait) in steps {
                let p = t + Duration::seconds(run);
                expected += cal.business_between(t, p);
                c.pause(&cal, p);
                // Pausing twice changes nothing.
                c.pause(&cal, p + Duration::seconds(1));
                t = p + Duration::seconds(wait);
                c.resume(t);
            }
            let now = t + Duration::hours(1);
            expected += cal.business_between(t, now);
            prop_assert_eq!(c.elapsed(&cal, now), expected);
            let due = c.due_at(&cal).expect("running");
            if Duration::seconds(c.consumed_secs) < target.duration() {
                prop_assert_eq!(c.elapsed(&cal, due), target.duration());
                prop_assert!(!c.breached(&cal, due));
                prop_assert!(c.breached(&cal, due + Duration::seconds(1)) || !cal.is_open(due));
            }
        }
    }
}
