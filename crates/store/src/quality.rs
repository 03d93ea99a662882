//! Service quality (issue 10): satisfaction surveys, the raw rows the metrics are computed from
//! (`switchboard_domain::quality`), and stored periodic reports. See docs/metrics.md and
//! docs/reports.md.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::quality::MetricsInput;
use switchboard_domain::sla::TrackedClock;
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, MessageId, Priority, Status, UserId};
use uuid::Uuid;

use crate::{Result, StoredEvent};

/// Survey settings of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SurveySettings {
    /// Channel slug.
    pub channel: String,
    /// Ask CSAT (1–5).
    pub csat: bool,
    /// Ask NPS (0–10).
    pub nps: bool,
    /// Minutes after resolution before asking.
    pub delay_minutes: i32,
    /// Ask one contact at most once per this many days (per kind).
    pub min_days_between: i32,
}

impl SurveySettings {
    /// Checks the ranges; the message names the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(0..=10_080).contains(&self.delay_minutes) {
            return Err("delay_minutes must be 0-10080 (one week)".into());
        }
        if !(0..=365).contains(&self.min_days_between) {
            return Err("min_days_between must be 0-365".into());
        }
        Ok(())
    }
}

/// Where a survey is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurveyState {
    /// Created; its message is not posted yet (a crash in between re-posts it).
    Pending,
    /// Asked; waiting for the answer.
    Sent,
    /// Answered.
    Answered,
    /// Not asked: the contact was asked too recently.
    Skipped,
}

impl SurveyState {
    /// Stable string form.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyState::Pending => "pending",
            SurveyState::Sent => "sent",
            SurveyState::Answered => "answered",
            SurveyState::Skipped => "skipped",
        }
    }

    /// Parses [`SurveyState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => SurveyState::Pending,
            "sent" => SurveyState::Sent,
            "answered" => SurveyState::Answered,
            "skipped" => SurveyState::Skipped,
            _ => return None,
        })
    }
}

/// One survey of one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Survey {
    /// Id (also in button data and the web link).
    pub id: Uuid,
    /// The resolved conversation it asks about.
    pub conversation_id: ConversationId,
    /// Its case number.
    pub case_number: i64,
    /// The customer.
    pub contact_id: ContactId,
    /// Channel slug.
    pub channel: String,
    /// CSAT or NPS.
    pub kind: SurveyKind,
    /// State.
    pub state: SurveyState,
    /// The assignee when it was asked.
    pub agent_id: Option<UserId>,
    /// The team when it was asked.
    pub team: Option<String>,
    /// The question's message.
    pub message_id: Option<MessageId>,
    /// Score.
    pub score: Option<i32>,
    /// The customer's comment.
    pub comment: Option<String>,
    /// Sentiment of the comment (`negative`, `neutral`, `positive`).
    pub comment_sentiment: Option<String>,
    /// `button`, `text` or `web`.
    pub answered_via: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Asked.
    pub sent_at: Option<DateTime<Utc>>,
    /// Answered.
    pub answered_at: Option<DateTime<Utc>>,
}

/// A resolved conversation that is due a survey of `kind`.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyCandidate {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// What to ask.
    pub kind: SurveyKind,
    /// The channel's frequency cap.
    pub min_days_between: i32,
}

/// A stored periodic report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportRecord {
    /// Period label (`2026-W47`, `2026-11`).
    pub period: String,
    /// `week` or `month`.
    pub kind: String,
    /// `generating` or `done`.
    pub state: String,
    /// The report document (JSON) once done.
    #[schema(value_type = Object)]
    pub document: Option<serde_json::Value>,
    /// Generated.
    pub generated_at: Option<DateTime<Utc>>,
    /// Emailed.
    pub emailed_at: Option<DateTime<Utc>>,
}

/// A message of an imported conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryMessage {
    /// Inbound, outbound or note.
    pub direction: Direction,
    /// Author (outbound and notes).
    pub author_id: Option<UserId>,
    /// Text.
    pub text: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Triage of an inbound message: (language, intent, sentiment).
    pub triage: Option<(String, String, String)>,
}

/// A conversation with its whole history, written as is: the bench's generator and
/// hand-built test fixtures use it (nothing is threaded, routed or sent).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryConversation {
    /// Id.
    pub id: ConversationId,
    /// Case number (unique).
    pub case_number: i64,
    /// Channel slug.
    pub channel: String,
    /// Customer (created when missing).
    pub contact_id: ContactId,
    /// Status now.
    pub status: Status,
    /// Priority.
    pub priority: Priority,
    /// Team name.
    pub team: Option<String>,
    /// Assignee.
    pub assignee_id: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Reopens.
    pub reopen_count: i32,
    /// The conversation it repeats.
    pub repeat_of: Option<ConversationId>,
    /// Messages in time order.
    pub messages: Vec<HistoryMessage>,
    /// Times of SLA escalations.
    pub escalations: Vec<DateTime<Utc>>,
    /// SLA clocks.
    pub clocks: Vec<TrackedClock>,
    /// Answered surveys: (kind, score, answered_at).
    pub answers: Vec<(SurveyKind, i32, DateTime<Utc>)>,
    /// The FAQ bot's outcomes: (outcome, when).
    pub bot_outcomes: Vec<(crate::kb::BotOutcomeKind, DateTime<Utc>)>,
}

/// Surveys, metric rows and reports.
#[async_trait]
pub trait QualityStore: Send + Sync {
    // --- metrics ---
    /// Everything the metrics of `[from, to)` are computed from (see `docs/metrics.md`).
    async fn metrics_input(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<MetricsInput>;
    /// `COUNT(*)` of conversations created in `[from, to)`: the bench's baseline.
    async fn count_conversations(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64>;
    /// Writes conversations with their history as given (fixtures, the bench's generator).
    async fn import_history(&self, convs: Vec<HistoryConversation>) -> Result<()>;
    /// Brings the planner's statistics up to date after a bulk [`Self::import_history`]. On
    /// PostgreSQL the tables' statistics still describe them as they were before the import
    /// until autovacuum catches up, and the metrics queries were planned as sequential scans of
    /// ten million messages per day of rollups. SQLite plans these queries without statistics.
    async fn finish_import(&self) -> Result<()> {
        Ok(())
    }

    // --- surveys ---
    /// Survey settings of every channel that has some.
    async fn survey_settings(&self) -> Result<Vec<SurveySettings>>;
    /// Creates or replaces a channel's settings.
    async fn put_survey_settings(&self, s: &SurveySettings) -> Result<()>;
    /// Resolved (not closed) conversations past their channel's delay that have no survey of a
    /// wanted kind yet, resolved after the settings were last saved; oldest first.
    async fn due_surveys(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<SurveyCandidate>>;
    /// Creates the survey of a candidate: `Pending` to be asked, or `Skipped` when the contact
    /// was asked this kind within the cap. `None` when one exists already.
    async fn create_survey(&self, c: &SurveyCandidate, now: DateTime<Utc>) -> Result<Option<Survey>>;
    /// Surveys created but not yet asked (a crash between creation and posting).
    async fn pending_surveys(&self, limit: usize) -> Result<Vec<Survey>>;
    /// Records that the question went out as `message_id`.
    async fn mark_survey_sent(&self, id: Uuid, message_id: MessageId, at: DateTime<Utc>) -> Result<()>;
    /// One survey.
    async fn get_survey(&self, id: Uuid) -> Result<Option<Survey>>;
    /// The survey a typed answer on this channel thread from this provider user would answer:
    /// asked (not answered) at or after `since`, its conversation still resolved. Newest first.
    async fn open_survey_for(
        &self,
        channel: &str,
        thread_key: &str,
        provider_user_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Survey>>;
    /// Records an answer (first answer wins) and, with `event`, marks that inbound event processed
    /// as part of the survey's conversation without adding a message or changing its status. The
    /// survey as stored afterwards.
    async fn answer_survey(
        &self,
        id: Uuid,
        score: i32,
        comment: &str,
        via: &str,
        event: Option<&StoredEvent>,
        at: DateTime<Utc>,
    ) -> Result<Survey>;
    /// Answered surveys with a comment whose sentiment is not known yet.
    async fn comments_without_sentiment(&self, limit: usize) -> Result<Vec<Survey>>;
    /// Stores a comment's sentiment.
    async fn set_comment_sentiment(&self, id: Uuid, sentiment: &str) -> Result<()>;
    /// A contact's surveys, newest first.
    async fn contact_surveys(&self, contact: ContactId, limit: usize) -> Result<Vec<Survey>>;
    /// A secret kept in the database (created on first use), e.g. the survey link key.
    async fn quality_secret(&self, name: &str) -> Result<Vec<u8>>;

    // --- reports ---
    /// Claims the generation of `period`'s report until `lease_until`; false when it is done or
    /// another node holds it.
    async fn claim_report(
        &self,
        period: &str,
        kind: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Stores a generated report (done), replacing an earlier one of the period.
    async fn save_report(&self, period: &str, kind: &str, doc: &serde_json::Value, at: DateTime<Utc>) -> Result<()>;
    /// Records that the report was emailed.
    async fn mark_report_emailed(&self, period: &str, at: DateTime<Utc>) -> Result<()>;
    /// Reports, newest period first (documents left out).
    async fn list_reports(&self) -> Result<Vec<ReportRecord>>;
    /// One report with its document.
    async fn get_report(&self, period: &str) -> Result<Option<ReportRecord>>;
}

/// Whether a message author is a person: automatic messages (acknowledgements, rules, surveys)
/// and the FAQ bot's never count as an agent's reply (docs/metrics.md).
pub fn is_person(author: Uuid) -> bool {
    author != crate::routing::AUTOMATION_USER.0 && author != crate::kb::BOT_USER.0
}

/// Adds `n` outcomes of `kind` to a conversation's bot trace.
pub(crate) fn add_bot(t: &mut switchboard_domain::quality::BotTrace, kind: crate::kb::BotOutcomeKind, n: i64) {
    use crate::kb::BotOutcomeKind as K;
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    match kind {
        K::Answered => t.answers = t.answers.saturating_add(n),
        K::Helped => t.helped = t.helped.saturating_add(n),
        K::NotHelped => t.not_helped = t.not_helped.saturating_add(n),
        K::HandedOff => t.handed_off = t.handed_off || n > 0,
    }
}
