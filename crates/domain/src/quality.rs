//! Service-quality metrics, computed exactly from what the store recorded. Every number has one
//! definition in `docs/metrics.md`; this file is that page in code. The store only fetches raw
//! rows (times, attributes), so SQLite and PostgreSQL give the same numbers by construction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::BusinessCalendar;
use crate::sla::{SlaClock, SlaMetric};
use crate::survey::SurveyKind;
use crate::{ContactId, ConversationId, ParseError, Priority, Status, UserId};

/// First-contact resolution and repeat contacts look this far past a resolution.
pub const FCR_WINDOW_DAYS: i64 = 7;

/// A reporting period: an ISO week (`2026-W47`), a month (`2026-11`) or a day (`2026-11-23`),
/// counted in the brand's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Period {
    /// Granularity.
    pub kind: PeriodKind,
    /// First local date.
    pub start: NaiveDate,
    /// First local date after the period.
    pub end: NaiveDate,
}

/// Period granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// One local day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl PeriodKind {
    /// `day`, `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
        }
    }
}

impl Period {
    /// Parses `2026-W47`, `2026-11` or `2026-11-23`.
    pub fn parse(s: &str) -> Result<Period, ParseError> {
        let bad = || ParseError {
            what: "period",
            value: s.chars().take(40).collect(),
            expected: "an ISO week 2026-W47, a month 2026-11 or a day 2026-11-23",
        };
        let s = s.trim();
        if let Some((y, w)) = s.split_once("-W").or_else(|| s.split_once("-w")) {
            let y: i32 = y.parse().map_err(|_| bad())?;
            let w: u32 = w.parse().map_err(|_| bad())?;
            let start = NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon).ok_or_else(bad)?;
            return Ok(Period::containing(PeriodKind::Week, start));
        }
        if s.len() == 7 {
            let d = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").map_err(|_| bad())?;
            return Ok(Period::containing(PeriodKind::Month, d));
        }
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
        Ok(Period::containing(PeriodKind::Day, d))
    }

    /// The period of `kind` that contains local date `d`.
    pub fn containing(kind: PeriodKind, d: NaiveDate) -> Period {
        match kind {
            PeriodKind::Day => Period { kind, start: d, end: d + Duration::days(1) },
            PeriodKind::Week => {
                let start = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
                Period { kind, start, end: start + Duration::days(7) }
            }
            PeriodKind::Month => {
                let start = d.with_day(1).unwrap_or(d);
                let end = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                }
                .unwrap_or(start + Duration::days(31));
                Period { kind, start, end }
            }
        }
    }

    /// The period just before this one.
    pub fn previous(&self) -> Period {
        Period::containing(self.kind, self.start - Duration::days(1))
    }

    /// The period just after this one.
    pub fn next(&self) -> Period {
        Period::containing(self.kind, self.end)
    }

    /// `[start, end)` in UTC: local midnights in `tz`.
    pub fn bounds(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (local_midnight(tz, self.start), local_midnight(tz, self.end))
    }

    /// The label: `2026-W47`, `2026-11` or `2026-11-23`.
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Day => self.start.format("%Y-%m-%d").to_string(),
            PeriodKind::Week => {
                let w = self.start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            PeriodKind::Month => self.start.format("%Y-%m").to_string(),
        }
    }

    /// The periods of `kind` that cover this one, in order (the days of a week, …).
    pub fn split(&self, kind: PeriodKind) -> Vec<Period> {
        let mut out = Vec::new();
        let mut p = Period::containing(kind, self.start);
        while p.start < self.end {
            out.push(p);
            p = p.next();
        }
        out
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// Local midnight of `d` in `tz` as UTC; a midnight skipped by a DST change is the first
/// instant of that day.
pub fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let mut t = d.and_time(chrono::NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
}

/// The attributes a metric can be sliced by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attrs {
    /// Channel slug.
    pub channel: String,
    /// Team name.
    pub team: Option<String>,
    /// Assigned agent.
    pub agent: Option<UserId>,
    /// Intent of the conversation's first triaged customer message.
    pub intent: Option<String>,
    /// Language of the conversation's first triaged customer message.
    pub language: Option<String>,
    /// Priority now.
    pub priority: Option<Priority>,
}

/// A slicing dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Channel slug.
    Channel,
    /// Team.
    Team,
    /// Assigned agent.
    Agent,
    /// Intent.
    Intent,
    /// Language.
    Language,
    /// Priority.
    Priority,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 6] = [
        Dimension::Channel,
        Dimension::Team,
        Dimension::Agent,
        Dimension::Intent,
        Dimension::Language,
        Dimension::Priority,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Channel => "channel",
            Dimension::Team => "team",
            Dimension::Agent => "agent",
            Dimension::Intent => "intent",
            Dimension::Language => "language",
            Dimension::Priority => "priority",
        }
    }

    /// Parses [`Dimension::as_str`].
    pub fn parse(s: &str) -> Result<Dimension, ParseError> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s).ok_or_else(|| ParseError {
            what: "dimension",
            value: s.chars().take(40).collect(),
            expected: "channel team agent intent language priority",
        })
    }

    /// The slice key of `a` (`-` when the attribute is unset).
    pub fn key(self, a: &Attrs) -> String {
        let v = match self {
            Dimension::Channel => Some(a.channel.clone()),
            Dimension::Team => a.team.clone(),
            Dimension::Agent => a.agent.map(|u| u.0.to_string()),
            Dimension::Intent => a.intent.clone(),
            Dimension::Language => a.language.clone(),
            Dimension::Priority => a.priority.map(|p| p.as_str().to_owned()),
        };
        v.unwrap_or_else(|| NONE_KEY.to_owned())
    }
}

/// The slice key of an unset attribute.
pub const NONE_KEY: &str = "-";

/// Who wrote a message, as far as metrics care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Turn {
    /// An inbound customer message.
    Customer,
    /// A public reply by a person (automatic replies and internal notes do not count).
    Agent,
}

/// One conversation created in the period, with what the metrics need.
#[derive(Debug, Clone, Serialize)]
pub struct ConvRecord {
    /// Id.
    pub id: ConversationId,
    /// Case number.
    pub case_number: i64,
    /// Slicing attributes.
    pub attrs: Attrs,
    /// The customer.
    pub contact_id: ContactId,
    /// Status now.
    pub status: Status,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Latest resolution (none while open).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Times the customer reopened it.
    pub reopen_count: i32,
    /// Opened within the reopen window after another conversation of the contact was resolved.
    pub repeat_contact: bool,
    /// Had an SLA escalation.
    pub escalated: bool,
    /// Customer messages and agents' public replies, in time order.
    pub turns: Vec<(DateTime<Utc>, Turn)>,
    /// The SLA clocks the routing job derived.
    pub clocks: Vec<SlaClock>,
    /// The routing job has saved the clocks of the conversation's latest change (until it has,
    /// they may still change without the conversation changing).
    pub clocks_settled: bool,
    /// The contact's first other conversation created at or after `resolved_at`.
    pub next_contact_at: Option<DateTime<Utc>>,
    /// What the FAQ bot did in it (`bot_outcomes`).
    pub bot: BotTrace,
}

/// The FAQ bot's outcomes in one conversation (counts of `bot_outcomes` rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BotTrace {
    /// Articles the bot sent.
    pub answers: u32,
    /// "Yes, that helped" presses.
    pub helped: u32,
    /// "No" presses.
    pub not_helped: u32,
    /// The bot handed the conversation to people.
    pub handed_off: bool,
}

impl BotTrace {
    /// Whether the bot took part at all.
    pub fn engaged(&self) -> bool {
        self.answers > 0 || self.handed_off || self.helped > 0 || self.not_helped > 0
    }
}

/// One survey answer received in the period.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerRecord {
    /// The survey's conversation.
    pub conversation_id: ConversationId,
    /// Case number.
    pub case_number: i64,
    /// Its attributes.
    pub attrs: Attrs,
    /// CSAT or NPS.
    pub kind: SurveyKind,
    /// 1–5 (CSAT) or 0–10 (NPS).
    pub score: i32,
    /// When it was answered.
    pub answered_at: DateTime<Utc>,
}

/// One triaged customer message of the period.
#[derive(Debug, Clone, Serialize)]
pub struct SentimentRecord {
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// The conversation's case number.
    pub case_number: i64,
    /// Conversation attributes.
    pub attrs: Attrs,
    /// `negative`, `neutral` or `positive`.
    pub sentiment: String,
    /// When it was triaged.
    pub at: DateTime<Utc>,
}

/// One conversation still waiting at the end of the period.
#[derive(Debug, Clone, Serialize)]
pub struct BacklogRecord {
    /// Id.
    pub id: ConversationId,
    /// Case number.
    pub case_number: i64,
    /// Attributes.
    pub attrs: Attrs,
}

/// Everything the metrics of one period are computed from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsInput {
    /// Conversations created in the period.
    pub conversations: Vec<ConvRecord>,
    /// Survey answers received in the period.
    pub answers: Vec<AnswerRecord>,
    /// Customer messages triaged in the period.
    pub sentiments: Vec<SentimentRecord>,
    /// Conversations created before the end and not resolved by it.
    pub backlog: Vec<BacklogRecord>,
}

impl MetricsInput {
    /// Keeps only what belongs to slice `key` of `dim`.
    pub fn slice(&self, dim: Dimension, key: &str) -> MetricsInput {
        MetricsInput {
            conversations: self.conversations.iter().filter(|c| dim.key(&c.attrs) == key).cloned().collect(),
            answers: self.answers.iter().filter(|c| dim.key(&c.attrs) == key).cloned().collect(),
            sentiments: self.sentiments.iter().filter(|c| dim.key(&c.attrs) == key).cloned().collect(),
            backlog: self.backlog.iter().filter(|c| dim.key(&c.attrs) == key).cloned().collect(),
        }
    }

    /// The slice keys of `dim` that occur, sorted.
    pub fn keys(&self, dim: Dimension) -> Vec<String> {
        let mut k: Vec<String> = self
            .conversations
            .iter()
            .map(|c| dim.key(&c.attrs))
            .chain(self.answers.iter().map(|a| dim.key(&a.attrs)))
            .chain(self.sentiments.iter().map(|a| dim.key(&a.attrs)))
            .chain(self.backlog.iter().map(|a| dim.key(&a.attrs)))
            .collect();
        k.sort();
        k.dedup();
        k
    }

    /// Keeps what happened within `[from, to)` (conversations by creation, answers by answer
    /// time, sentiments by triage time); backlog is kept as is.
    pub fn window(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> MetricsInput {
        let inside = |t: DateTime<Utc>| t >= from && t < to;
        MetricsInput {
            conversations: self.conversations.iter().filter(|c| inside(c.created_at)).cloned().collect(),
            answers: self.answers.iter().filter(|c| inside(c.answered_at)).cloned().collect(),
            sentiments: self.sentiments.iter().filter(|c| inside(c.at)).cloned().collect(),
            backlog: Vec::new(),
        }
    }
}

/// Business calendars by team; conversations without one count around the clock.
#[derive(Debug, Clone)]
pub struct Calendars {
    /// Team name → calendar.
    pub by_team: HashMap<String, BusinessCalendar>,
    /// For conversations of no team or a team without a calendar.
    pub default: BusinessCalendar,
}

impl Default for Calendars {
    fn default() -> Self {
        Self { by_team: HashMap::new(), default: BusinessCalendar::around_the_clock() }
    }
}

impl Calendars {
    fn of(&self, team: Option<&str>) -> &BusinessCalendar {
        team.and_then(|t| self.by_team.get(t)).unwrap_or(&self.default)
    }
}

/// Mean and median of a set of durations, counted around the clock and in business hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct DurationStats {
    /// How many durations.
    pub count: u64,
    /// Mean, calendar seconds.
    pub mean_secs: Option<f64>,
    /// Median, calendar seconds.
    pub median_secs: Option<f64>,
    /// Mean, business seconds.
    pub business_mean_secs: Option<f64>,
    /// Median, business seconds.
    pub business_median_secs: Option<f64>,
}

impl DurationStats {
    pub(crate) fn from_pairs(pairs: &[(i64, i64)]) -> Self {
        let cal: Vec<i64> = pairs.iter().map(|p| p.0).collect();
        let bus: Vec<i64> = pairs.iter().map(|p| p.1).collect();
        Self {
            count: pairs.len() as u64,
            mean_secs: mean(&cal),
            median_secs: median(cal),
            business_mean_secs: mean(&bus),
            business_median_secs: median(bus),
        }
    }
}

/// Durations are measured in microseconds and reported in seconds.
fn mean(v: &[i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let sum: i128 = v.iter().map(|&x| i128::from(x)).sum();
    Some(sum as f64 / v.len() as f64 / 1e6)
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    let m = if n % 2 == 1 { v[n / 2] as f64 } else { (v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0 };
    Some(m / 1e6)
}

/// SLA attainment of one metric (first response, next response, resolution).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SlaAttainment {
    /// The target's metric.
    pub metric: SlaMetric,
    /// Clocks stopped within the target.
    pub met: u64,
    /// Clocks whose counted time exceeds the target (stopped or not).
    pub breached: u64,
    /// Clocks still within the target and not stopped (not counted in the rate).
    pub running: u64,
    /// met / (met + breached).
    pub attainment: Option<f64>,
}

/// CSAT of the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Csat {
    /// Answers.
    pub answers: u64,
    /// Answers of 4 or 5.
    pub satisfied: u64,
    /// satisfied / answers.
    pub percent: Option<f64>,
    /// Mean score.
    pub average: Option<f64>,
    /// Answers per score 1..=5.
    pub distribution: [u64; 5],
}

/// NPS of the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Nps {
    /// Answers.
    pub answers: u64,
    /// 9–10.
    pub promoters: u64,
    /// 7–8.
    pub passives: u64,
    /// 0–6.
    pub detractors: u64,
    /// 100 × (promoters − detractors) / answers.
    pub score: Option<f64>,
}

/// Triaged customer messages per sentiment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct SentimentCounts {
    /// Negative.
    pub negative: u64,
    /// Neutral.
    pub neutral: u64,
    /// Positive.
    pub positive: u64,
}

/// Bot deflection and handoff, from the FAQ bot's `bot_outcomes` (docs/metrics.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BotMetrics {
    /// Conversations of the cohort the bot took part in.
    pub conversations: u64,
    /// … in which it sent at least one article.
    pub answered: u64,
    /// … answered, never handed off, and no person replied in public: the bot dealt with it.
    pub deflected: u64,
    /// … that the bot handed to people.
    pub handed_off: u64,
    /// deflected / conversations.
    pub deflection_rate: Option<f64>,
    /// handed_off / conversations.
    pub handoff_rate: Option<f64>,
    /// "Yes, that helped" presses.
    pub helped: u64,
    /// "No" presses.
    pub not_helped: u64,
    /// helped / (helped + not_helped).
    pub helpful_rate: Option<f64>,
}

/// Every metric of one period (or slice of it). Definitions: docs/metrics.md.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Conversations created.
    pub conversations: u64,
    /// Conversations with at least one public agent reply.
    pub responded: u64,
    /// responded / conversations.
    pub response_rate: Option<f64>,
    /// Creation → first public agent reply.
    pub first_response: DurationStats,
    /// Every customer wait: first unanswered customer message → next public agent reply.
    pub response_time: DurationStats,
    /// Conversations resolved or closed now.
    pub resolved: u64,
    /// resolved / conversations.
    pub resolution_rate: Option<f64>,
    /// Creation → (latest) resolution.
    pub resolution_time: DurationStats,
    /// Resolved, never reopened, no new conversation from the contact within 7 days.
    pub fcr: u64,
    /// fcr / resolved.
    pub fcr_rate: Option<f64>,
    /// Conversations opened as repeat contacts.
    pub repeat_contacts: u64,
    /// repeat_contacts / conversations.
    pub repeat_contact_rate: Option<f64>,
    /// Conversations with an SLA escalation.
    pub escalated: u64,
    /// escalated / conversations.
    pub escalation_ratio: Option<f64>,
    /// Per SLA metric.
    pub sla: Vec<SlaAttainment>,
    /// CSAT.
    pub csat: Csat,
    /// NPS.
    pub nps: Nps,
    /// Sentiment of customer messages.
    pub sentiment: SentimentCounts,
    /// Conversations waiting at the end of the period.
    pub backlog: u64,
    /// Bot deflection and handoff (`None` only in reports stored before the bot was counted).
    pub bot: Option<BotMetrics>,
}

/// The numerators a drill-down can list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// All conversations created.
    Conversations,
    /// With a public agent reply.
    Responded,
    /// Without one.
    Unanswered,
    /// Resolved.
    Resolved,
    /// First-contact resolutions.
    Fcr,
    /// Repeat contacts.
    RepeatContacts,
    /// Escalated.
    Escalated,
    /// With a breached SLA clock.
    SlaBreached,
    /// With a CSAT answer of 1 or 2.
    LowCsat,
    /// With an NPS detractor answer.
    Detractors,
    /// With a negative customer message.
    Negative,
    /// Waiting at the end.
    Backlog,
    /// Dealt with by the bot alone.
    BotDeflected,
    /// Handed to people by the bot.
    BotHandedOff,
}

impl Measure {
    /// Every measure.
    pub const ALL: [Measure; 14] = [
        Measure::Conversations,
        Measure::Responded,
        Measure::Unanswered,
        Measure::Resolved,
        Measure::Fcr,
        Measure::RepeatContacts,
        Measure::Escalated,
        Measure::SlaBreached,
        Measure::LowCsat,
        Measure::Detractors,
        Measure::Negative,
        Measure::Backlog,
        Measure::BotDeflected,
        Measure::BotHandedOff,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Conversations => "conversations",
            Measure::Responded => "responded",
            Measure::Unanswered => "unanswered",
            Measure::Resolved => "resolved",
            Measure::Fcr => "fcr",
            Measure::RepeatContacts => "repeat_contacts",
            Measure::Escalated => "escalated",
            Measure::SlaBreached => "sla_breached",
            Measure::LowCsat => "low_csat",
            Measure::Detractors => "detractors",
            Measure::Negative => "negative",
            Measure::Backlog => "backlog",
            Measure::BotDeflected => "bot_deflected",
            Measure::BotHandedOff => "bot_handed_off",
        }
    }

    /// Parses [`Measure::as_str`].
    pub fn parse(s: &str) -> Result<Measure, ParseError> {
        Measure::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| ParseError {
            what: "measure",
            value: s.chars().take(40).collect(),
            expected: "conversations responded unanswered resolved fcr repeat_contacts escalated sla_breached low_csat detractors negative backlog bot_deflected bot_handed_off",
        })
    }
}

fn first_agent_reply(c: &ConvRecord) -> Option<DateTime<Utc>> {
    c.turns.iter().find(|(at, t)| *t == Turn::Agent && *at >= c.created_at).map(|(at, _)| *at)
}

fn is_resolved(c: &ConvRecord) -> bool {
    matches!(c.status, Status::Resolved | Status::Closed) && c.resolved_at.is_some()
}

fn is_fcr(c: &ConvRecord) -> bool {
    let Some(resolved_at) = c.resolved_at.filter(|_| is_resolved(c)) else { return false };
    c.reopen_count == 0 && c.next_contact_at.is_none_or(|n| n - resolved_at > Duration::days(FCR_WINDOW_DAYS))
}

/// The bot dealt with it: it answered, never handed off, and no person replied in public.
fn is_bot_deflected(c: &ConvRecord) -> bool {
    c.bot.answers > 0 && !c.bot.handed_off && first_agent_reply(c).is_none()
}

fn clock_breached(k: &SlaClock, cal: &BusinessCalendar, now: DateTime<Utc>) -> bool {
    k.breached(cal, now)
}

/// The customer waits of a conversation: each run of customer messages not yet answered, from its
/// first message (or the creation, for the first) to the next public agent reply.
fn waits(c: &ConvRecord) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut waiting_since: Option<DateTime<Utc>> = Some(c.created_at);
    for &(at, turn) in &c.turns {
        match turn {
            Turn::Customer => {
                if waiting_since.is_none() {
                    waiting_since = Some(at);
                }
            }
            Turn::Agent => {
                if let Some(since) = waiting_since.take() {
                    out.push((since, at.max(since)));
                }
            }
        }
    }
    out
}

fn micros(d: Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

/// What one conversation contributes to the metrics.
pub(crate) struct ConvFacts {
    /// Calendar and business microseconds to the first public agent reply.
    pub first_response: Option<(i64, i64)>,
    /// Every customer wait, calendar and business microseconds.
    pub waits: Vec<(i64, i64)>,
    /// Resolved or closed.
    pub resolved: bool,
    /// Creation → resolution, calendar and business microseconds.
    pub resolution: Option<(i64, i64)>,
    /// First-contact resolution.
    pub fcr: bool,
    /// Each SLA clock's state.
    pub sla: Vec<(SlaMetric, ClockState)>,
    /// Dealt with by the bot alone.
    pub bot_deflected: bool,
}

/// An SLA clock at report time (the index is the column in `Aggregate::sla`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClockState {
    Met = 0,
    Breached = 1,
    Running = 2,
}

pub(crate) fn conversation_facts(c: &ConvRecord, cals: &Calendars, now: DateTime<Utc>) -> ConvFacts {
    let cal = cals.of(c.attrs.team.as_deref());
    let span = |a: DateTime<Utc>, b: DateTime<Utc>| (micros(b - a), micros(cal.business_between(a, b)));
    let resolved = is_resolved(c);
    ConvFacts {
        first_response: first_agent_reply(c).map(|r| span(c.created_at, r)),
        waits: waits(c).into_iter().map(|(a, b)| span(a, b)).collect(),
        resolved,
        resolution: c.resolved_at.filter(|_| resolved).map(|r| span(c.created_at, r.max(c.created_at))),
        fcr: is_fcr(c),
        sla: c
            .clocks
            .iter()
            .map(|k| {
                let state = if clock_breached(k, cal, now) {
                    ClockState::Breached
                } else if k.stopped_at.is_some() {
                    ClockState::Met
                } else {
                    ClockState::Running
                };
                (k.metric, state)
            })
            .collect(),
        bot_deflected: is_bot_deflected(c),
    }
}

/// The first moment after `now` at which the metrics of `input` may change without its rows
/// changing: the earliest breach of an SLA clock still running and not yet breached, or `now`
/// itself while the routing job has not saved the clocks of a conversation's latest change.
/// Everything else they are made of changes only when the rows do. `None`: nothing changes
/// until the rows do.
pub fn next_time_change(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if input.conversations.iter().any(|c| !c.clocks_settled) {
        return Some(now);
    }
    input
        .conversations
        .iter()
        .flat_map(|c| {
            let cal = cals.of(c.attrs.team.as_deref());
            c.clocks
                .iter()
                .filter(move |k| k.is_running() && !clock_breached(k, cal, now))
                .filter_map(move |k| k.due_at(cal))
        })
        .min()
}

/// Computes every metric of `input` at `now` (for SLA clocks still running), exactly.
pub fn compute(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>) -> Metrics {
    crate::rollup::Aggregate::collect(input, cals, now, true).metrics(input.backlog.len() as u64)
}

/// The conversations behind a measure's number, by case number.
pub fn drill(
    input: &MetricsInput,
    measure: Measure,
    cals: &Calendars,
    now: DateTime<Utc>,
) -> Vec<(ConversationId, i64)> {
    let convs = input.conversations.iter();
    let mut out: Vec<(ConversationId, i64)> = match measure {
        Measure::Conversations => convs.map(|c| (c.id, c.case_number)).collect(),
        Measure::Responded => convs.filter(|c| first_agent_reply(c).is_some()).map(|c| (c.id, c.case_number)).collect(),
        Measure::Unanswered => {
            convs.filter(|c| first_agent_reply(c).is_none()).map(|c| (c.id, c.case_number)).collect()
        }
        Measure::Resolved => convs.filter(|c| is_resolved(c)).map(|c| (c.id, c.case_number)).collect(),
        Measure::Fcr => convs.filter(|c| is_fcr(c)).map(|c| (c.id, c.case_number)).collect(),
        Measure::RepeatContacts => convs.filter(|c| c.repeat_contact).map(|c| (c.id, c.case_number)).collect(),
        Measure::Escalated => convs.filter(|c| c.escalated).map(|c| (c.id, c.case_number)).collect(),
        Measure::SlaBreached => convs
            .filter(|c| {
                let cal = cals.of(c.attrs.team.as_deref());
                c.clocks.iter().any(|k| clock_breached(k, cal, now))
            })
            .map(|c| (c.id, c.case_number))
            .collect(),
        Measure::LowCsat => input
            .answers
            .iter()
            .filter(|a| a.kind == SurveyKind::Csat && a.score <= 2)
            .map(|a| (a.conversation_id, a.case_number))
            .collect(),
        Measure::Detractors => input
            .answers
            .iter()
            .filter(|a| a.kind == SurveyKind::Nps && a.score <= 6)
            .map(|a| (a.conversation_id, a.case_number))
            .collect(),
        Measure::Negative => input
            .sentiments
            .iter()
            .filter(|s| s.sentiment == "negative")
            .map(|s| (s.conversation_id, s.case_number))
            .collect(),
        Measure::Backlog => input.backlog.iter().map(|b| (b.id, b.case_number)).collect(),
        Measure::BotDeflected => convs.filter(|c| is_bot_deflected(c)).map(|c| (c.id, c.case_number)).collect(),
        Measure::BotHandedOff => convs.filter(|c| c.bot.handed_off).map(|c| (c.id, c.case_number)).collect(),
    };
    out.sort_by_key(|x| (x.1, x.0.0));
    out.dedup_by_key(|x| x.0);
    out
}

/// Metrics per slice of `dim`, keyed by slice.
pub fn compute_by(
    input: &MetricsInput,
    dim: Dimension,
    cals: &Calendars,
    now: DateTime<Utc>,
) -> BTreeMap<String, Metrics> {
    input.keys(dim).into_iter().map(|k| (k.clone(), compute(&input.slice(dim, &k), cals, now))).collect()
}

/// Metrics per sub-period (days of a week, weeks of a month, …) of `period` in `tz`; the backlog
/// of each is not computed (0).
pub fn trend(
    input: &MetricsInput,
    period: &Period,
    step: PeriodKind,
    tz: Tz,
    cals: &Calendars,
    now: DateTime<Utc>,
) -> Vec<(Period, Metrics)> {
    period
        .split(step)
        .into_iter()
        .map(|p| {
            let (a, b) = p.bounds(tz);
            (p, compute(&input.window(a, b), cals, now))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_step() {
        let w = Period::parse("2026-W47").unwrap();
        assert_eq!(w.start, NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(w.end, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(w.label(), "2026-W47");
        assert_eq!(w.previous().label(), "2026-W46");
        let m = Period::parse("2026-12").unwrap();
        assert_eq!(m.end, NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(m.previous().label(), "2026-11");
        assert_eq!(Period::parse("2027-W01").unwrap().previous().label(), "2026-W53");
        assert_eq!(m.split(PeriodKind::Day).len(), 31);
        for bad in ["2026-W60", "2026-13", "next week", "", "2026-02-30"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bounds_follow_the_time_zone() {
        let p = Period::parse("2026-11").unwrap();
        let (a, b) = p.bounds(chrono_tz::Asia::Shanghai);
        assert_eq!(a.to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2026-11-30T16:00:00+00:00");
    }

    #[test]
    fn metrics_change_with_time_only_at_the_next_breach_of_a_running_clock() {
        let t = |h: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap();
        let target = |minutes| crate::sla::SlaTarget { minutes, basis: crate::sla::TimeBasis::Calendar };
        let conv = |clocks: Vec<SlaClock>| ConvRecord {
            id: ConversationId(uuid::Uuid::now_v7()),
            case_number: 1,
            attrs: Attrs::default(),
            contact_id: crate::ContactId(uuid::Uuid::now_v7()),
            status: Status::Open,
            created_at: t(0),
            resolved_at: None,
            reopen_count: 0,
            repeat_contact: false,
            escalated: false,
            turns: vec![],
            clocks,
            clocks_settled: true,
            next_contact_at: None,
            bot: BotTrace::default(),
        };
        let running = |h: i64, minutes: u32| SlaClock::start(SlaMetric::Resolution, target(minutes), t(h));
        let cals = Calendars::default();
        let mut stopped = running(0, 60);
        stopped.stop(&cals.default, t(0));
        let mut paused = running(0, 60);
        paused.pause(&cals.default, t(0));
        let input = MetricsInput {
            conversations: vec![
                conv(vec![running(0, 120), stopped.clone()]),
                conv(vec![running(0, 600), paused]),
                conv(vec![running(0, 30)]),
            ],
            ..MetricsInput::default()
        };
        // At 01:00 the 30-minute clock has breached already; the 2-hour one is next.
        assert_eq!(next_time_change(&input, &cals, t(1)), Some(t(2)));
        assert_eq!(next_time_change(&input, &cals, t(3)), Some(t(10)));
        assert_eq!(next_time_change(&input, &cals, t(11)), None, "every running clock has breached");
        let quiet = MetricsInput { conversations: vec![conv(vec![stopped])], ..MetricsInput::default() };
        assert_eq!(next_time_change(&quiet, &cals, t(0)), None);
        let mut unsaved = quiet.clone();
        unsaved.conversations[0].clocks_settled = false;
        assert_eq!(next_time_change(&unsaved, &cals, t(5)), Some(t(5)), "read again once the routing job has saved");
    }

    #[test]
    fn medians_of_even_counts_average_the_middle_pair() {
        assert_eq!(median(vec![4_000_000, 1_000_000, 2_000_000, 3_000_000]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
