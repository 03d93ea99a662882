//! [`QualityStore`] on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::quality::{
    AnswerRecord, Attrs, BacklogRecord, BotTrace, ConvRecord, MetricsInput, SentimentRecord, Turn,
};
use switchboard_domain::sla::TrackedClock;
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, FactKind, MessageId, Priority, UserId};
use uuid::Uuid;

use super::{SqliteStore, add_fact, from_ts, parse_col, ts};
use crate::kb::BotOutcomeKind;
use crate::quality::{
    HistoryConversation, QualityStore, ReportRecord, Survey, SurveyCandidate, SurveySettings, SurveyState,
};
use crate::quality::{add_bot, is_person};
use crate::routing::AUTOMATION_USER;
use crate::{Result, StoreError, StoredEvent};

/// The slicing attributes of conversation `c`, as columns 0–5 of a select list.
const ATTR_COLS: &str = "c.channel, c.team, c.assignee_id, c.priority, \
    (SELECT t.language FROM message_triage t WHERE t.conversation_id = c.id ORDER BY t.created_at, t.message_id LIMIT 1), \
    (SELECT t.intent FROM message_triage t WHERE t.conversation_id = c.id ORDER BY t.created_at, t.message_id LIMIT 1)";

/// [`ATTR_COLS`] without the first triage's language and intent.
const ATTR_COLS_UNTRIAGED: &str = "c.channel, c.team, c.assignee_id, c.priority, NULL, NULL";

/// Conversations waiting at `?1`: open, and resolved after it (the two parts of a UNION ALL).
const BACKLOG_WHERE: [&str; 2] = [
    "c.resolved_at IS NULL AND c.status <> 'closed' AND c.created_at < ?1",
    "c.resolved_at >= ?1 AND c.created_at < ?1",
];

fn attrs_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Attrs> {
    Ok(Attrs {
        channel: r.get(i)?,
        team: r.get(i + 1)?,
        agent: r.get::<_, Option<Uuid>>(i + 2)?.map(UserId),
        priority: r.get::<_, Option<String>>(i + 3)?.and_then(|p| p.parse::<Priority>().ok()),
        language: r.get(i + 4)?,
        intent: r.get(i + 5)?,
    })
}

const SURVEY_COLS: &str = "s.id, s.conversation_id, (SELECT case_number FROM conversations WHERE id = s.conversation_id), \
    s.contact_id, s.channel, s.kind, s.state, s.agent_id, s.team, s.message_id, s.score, s.comment, \
    s.comment_sentiment, s.answered_via, s.created_at, s.sent_at, s.answered_at";

fn survey_from_row(r: &Row<'_>) -> rusqlite::Result<Survey> {
    let state: String = r.get(6)?;
    Ok(Survey {
        id: r.get(0)?,
        conversation_id: ConversationId(r.get(1)?),
        case_number: r.get::<_, Option<i64>>(2)?.unwrap_or_default(),
        contact_id: ContactId(r.get(3)?),
        channel: r.get(4)?,
        kind: parse_col(r, 5)?,
        state: SurveyState::parse(&state).unwrap_or(SurveyState::Skipped),
        agent_id: r.get::<_, Option<Uuid>>(7)?.map(UserId),
        team: r.get(8)?,
        message_id: r.get::<_, Option<Uuid>>(9)?.map(MessageId),
        score: r.get(10)?,
        comment: r.get(11)?,
        comment_sentiment: r.get(12)?,
        answered_via: r.get(13)?,
        created_at: from_ts(r.get(14)?),
        sent_at: r.get::<_, Option<i64>>(15)?.map(from_ts),
        answered_at: r.get::<_, Option<i64>>(16)?.map(from_ts),
    })
}

fn get_survey(c: &Connection, id: Uuid) -> Result<Option<Survey>> {
    Ok(c.prepare_cached(&format!("SELECT {SURVEY_COLS} FROM surveys s WHERE s.id = ?1"))?
        .query_row([id], survey_from_row)
        .optional()?)
}

/// The conversations of a cohort (created in `[?1, ?2)`) with what the metrics need of each.
///
/// `+f.kind`: without the `+`, SQLite walks `conversation_facts_kind` (every escalation ever
/// recorded) once per conversation instead of the conversation's own facts, so each day's
/// rollup grew with the whole history (0.85 s instead of 4 ms per day at 200,000 messages).
fn cohort_sql() -> String {
    format!(
        "SELECT c.id, c.case_number, c.contact_id, c.status, c.created_at, c.resolved_at, c.reopen_count, \
         c.repeat_of IS NOT NULL, \
         EXISTS (SELECT 1 FROM conversation_facts f WHERE f.conversation_id = c.id AND +f.kind = '{esc}'), \
         (SELECT rs.clocks FROM routing_state rs WHERE rs.conversation_id = c.id), \
         CASE WHEN c.resolved_at IS NULL THEN NULL ELSE (SELECT MIN(o.created_at) FROM conversations o \
            WHERE o.contact_id = c.contact_id AND o.id <> c.id AND o.created_at >= c.resolved_at) END, \
         {ATTR_COLS}, \
         COALESCE((SELECT rs.synced_at = c.updated_at FROM routing_state rs WHERE rs.conversation_id = c.id), 0) \
         FROM conversations c WHERE c.created_at >= ?1 AND c.created_at < ?2 ORDER BY c.created_at, c.id",
        esc = FactKind::SlaEscalated.as_str()
    )
}

pub(super) fn metrics_input(c: &Connection, from: i64, to: i64, with_backlog: bool) -> Result<MetricsInput> {
    let mut convs: Vec<ConvRecord> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    {
        let mut st = c.prepare(&cohort_sql())?;
        let mut rows = st.query(params![from, to])?;
        while let Some(r) = rows.next()? {
            let clocks: Option<String> = r.get(9)?;
            let clocks: Vec<TrackedClock> = match clocks {
                Some(s) => serde_json::from_str(&s)?,
                None => Vec::new(),
            };
            let id: Uuid = r.get(0)?;
            index.insert(id, convs.len());
            convs.push(ConvRecord {
                id: ConversationId(id),
                case_number: r.get(1)?,
                contact_id: ContactId(r.get(2)?),
                status: parse_col(r, 3)?,
                created_at: from_ts(r.get(4)?),
                resolved_at: r.get::<_, Option<i64>>(5)?.map(from_ts),
                reopen_count: r.get(6)?,
                repeat_contact: r.get(7)?,
                escalated: r.get(8)?,
                clocks_settled: r.get(17)?,
                clocks: clocks.into_iter().map(|t| t.clock).collect(),
                next_contact_at: r.get::<_, Option<i64>>(10)?.map(from_ts),
                attrs: attrs_at(r, 11)?,
                turns: Vec::new(),
                bot: BotTrace::default(),
            });
        }
    }
    {
        let mut st = c.prepare(
            "SELECT m.conversation_id, m.created_at, m.direction, m.author_id FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE c.created_at >= ?1 AND c.created_at < ?2 AND m.direction IN ('inbound', 'outbound') \
             ORDER BY m.conversation_id, m.created_at, m.id",
        )?;
        let mut rows = st.query(params![from, to])?;
        while let Some(r) = rows.next()? {
            let conv: Uuid = r.get(0)?;
            let dir: Direction = parse_col(r, 2)?;
            let author: Option<Uuid> = r.get(3)?;
            let turn = match dir {
                Direction::Inbound => Turn::Customer,
                Direction::Outbound if author.is_some_and(is_person) => Turn::Agent,
                _ => continue,
            };
            if let Some(&i) = index.get(&conv) {
                convs[i].turns.push((from_ts(r.get(1)?), turn));
            }
        }
    }
    {
        let mut st = c.prepare_cached(
            "SELECT o.conversation_id, o.outcome, COUNT(*) FROM bot_outcomes o \
             JOIN conversations c ON c.id = o.conversation_id \
             WHERE c.created_at >= ?1 AND c.created_at < ?2 GROUP BY o.conversation_id, o.outcome",
        )?;
        let mut rows = st.query(params![from, to])?;
        while let Some(r) = rows.next()? {
            let conv: Uuid = r.get(0)?;
            let outcome: String = r.get(1)?;
            let n: i64 = r.get(2)?;
            if let (Some(&i), Some(kind)) = (index.get(&conv), BotOutcomeKind::parse(&outcome)) {
                add_bot(&mut convs[i].bot, kind, n);
            }
        }
    }
    let answers = c
        .prepare(&format!(
            "SELECT s.conversation_id, c.case_number, s.kind, s.score, s.answered_at, s.agent_id, s.team, {ATTR_COLS} \
             FROM surveys s JOIN conversations c ON c.id = s.conversation_id \
             WHERE s.answered_at >= ?1 AND s.answered_at < ?2 AND s.score IS NOT NULL ORDER BY s.answered_at, s.id"
        ))?
        .query_map(params![from, to], |r| {
            let mut attrs = attrs_at(r, 7)?;
            attrs.agent = r.get::<_, Option<Uuid>>(5)?.map(UserId);
            attrs.team = r.get(6)?;
            Ok(AnswerRecord {
                conversation_id: ConversationId(r.get(0)?),
                case_number: r.get(1)?,
                kind: parse_col::<SurveyKind>(r, 2)?,
                score: r.get(3)?,
                answered_at: from_ts(r.get(4)?),
                attrs,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let sentiments = c
        .prepare(&format!(
            "SELECT m.conversation_id, m.sentiment, m.created_at, c.case_number, {ATTR_COLS} \
             FROM message_triage m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.created_at >= ?1 AND m.created_at < ?2 ORDER BY m.created_at, m.message_id"
        ))?
        .query_map(params![from, to], |r| {
            Ok(SentimentRecord {
                conversation_id: ConversationId(r.get(0)?),
                sentiment: r.get(1)?,
                at: from_ts(r.get(2)?),
                case_number: r.get(3)?,
                attrs: attrs_at(r, 4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let backlog = if with_backlog { backlog_at(c, to, true)? } else { Vec::new() };
    Ok(MetricsInput { conversations: convs, answers, sentiments, backlog })
}

/// The backlog query: both parts read through `conversations_resolved_at`. No `ORDER BY`: with
/// one, SQLite merged the two parts in case-number order and read the second by walking the
/// case-number index over every conversation ever (0.5 s of a weekly report at 10 million
/// messages); the rows are sorted afterwards instead.
fn backlog_sql(triage: bool) -> String {
    let cols = if triage { ATTR_COLS } else { ATTR_COLS_UNTRIAGED };
    let [open, later] = BACKLOG_WHERE;
    format!(
        "SELECT c.id, c.case_number, {cols} FROM conversations c WHERE {open} \
         UNION ALL SELECT c.id, c.case_number, {cols} FROM conversations c WHERE {later}"
    )
}

/// Conversations waiting at `at` (see [`crate::rollup::RollupStore::backlog_at`]): the open ones
/// and those resolved later, by case number.
pub(super) fn backlog_at(c: &Connection, at: i64, triage: bool) -> Result<Vec<BacklogRecord>> {
    let mut v = c
        .prepare_cached(&backlog_sql(triage))?
        .query_map(params![at], |r| {
            Ok(BacklogRecord { id: ConversationId(r.get(0)?), case_number: r.get(1)?, attrs: attrs_at(r, 2)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    v.sort_unstable_by_key(|b| b.case_number);
    Ok(v)
}

/// How many conversations wait at `at`.
pub(super) fn backlog_count_at(c: &Connection, at: i64) -> Result<u64> {
    let [open, later] = BACKLOG_WHERE;
    let n: i64 = c
        .prepare_cached(&format!(
            "SELECT (SELECT COUNT(*) FROM conversations c WHERE {open}) + \
             (SELECT COUNT(*) FROM conversations c WHERE {later})"
        ))?
        .query_row(params![at], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

fn import_one(c: &Connection, h: &HistoryConversation) -> Result<()> {
    c.prepare_cached("INSERT OR IGNORE INTO contacts (id, created_at) VALUES (?1, ?2)")?
        .execute(params![h.contact_id.0, ts(h.created_at)])?;
    let last = h.messages.last().map_or(h.created_at, |m| m.at);
    let first_response = h
        .messages
        .iter()
        .find(|m| m.direction == Direction::Outbound && m.author_id.is_some_and(|a| is_person(a.0)))
        .map(|m| ts(m.at));
    c.prepare_cached(
        "INSERT INTO conversations (id, case_number, channel, thread_key, contact_id, status, priority, team, assignee_id, \
         tags, created_at, updated_at, last_message_at, first_response_at, resolved_at, reopen_count, repeat_of) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '[]', ?10, ?11, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        h.id.0,
        h.case_number,
        h.channel,
        format!("import:{}", h.id.0),
        h.contact_id.0,
        h.status.as_str(),
        h.priority.as_str(),
        h.team,
        h.assignee_id.map(|u| u.0),
        ts(h.created_at),
        ts(last),
        first_response,
        h.resolved_at.map(ts),
        h.reopen_count,
        h.repeat_of.map(|r| r.0),
    ])?;
    add_fact(
        c,
        h.id,
        FactKind::Created,
        None,
        serde_json::json!({"channel": h.channel, "imported": true}),
        h.created_at,
    )?;
    for &at in &h.escalations {
        add_fact(c, h.id, FactKind::SlaEscalated, None, serde_json::json!({"imported": true}), at)?;
    }
    for m in &h.messages {
        let id = MessageId::new();
        let visibility = if m.direction == Direction::Note { "private" } else { "public" };
        c.prepare_cached(
            "INSERT INTO messages (id, conversation_id, direction, visibility, author_id, text, attachments, sent_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '[]', ?7, ?7)",
        )?
        .execute(params![id.0, h.id.0, m.direction.as_str(), visibility, m.author_id.map(|u| u.0), m.text, ts(m.at)])?;
        if let Some((lang, intent, sentiment)) = &m.triage {
            c.prepare_cached(
                "INSERT INTO message_triage (message_id, conversation_id, language, language_confidence, sentiment, \
                 sentiment_score, intent, intent_confidence, priority, priority_reasons, pii, redacted_text, created_at) \
                 VALUES (?1, ?2, ?3, 1.0, ?4, 0.0, ?5, 1.0, 'P3', '[]', '[]', '', ?6)",
            )?
            .execute(params![id.0, h.id.0, lang, sentiment, intent, ts(m.at)])?;
        }
    }
    if !h.clocks.is_empty() {
        c.prepare_cached(
            "INSERT INTO routing_state (conversation_id, synced_at, seen_message_at, clocks) VALUES (?1, ?2, ?2, ?3)",
        )?
        .execute(params![h.id.0, ts(last), serde_json::to_string(&h.clocks)?])?;
    }
    for (kind, at) in &h.bot_outcomes {
        c.prepare_cached(
            "INSERT INTO bot_outcomes (id, conversation_id, message_id, channel_slug, outcome, reason, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'import', ?6)",
        )?
        .execute(params![Uuid::now_v7(), h.id.0, Uuid::now_v7(), h.channel, kind.as_str(), ts(*at)])?;
    }
    for (kind, score, at) in &h.answers {
        c.prepare_cached(
            "INSERT INTO surveys (id, conversation_id, contact_id, channel, kind, state, agent_id, team, score, \
             answered_via, created_at, sent_at, answered_at) VALUES (?1, ?2, ?3, ?4, ?5, 'answered', ?6, ?7, ?8, 'import', ?9, ?9, ?9)",
        )?
        .execute(params![
            Uuid::now_v7(),
            h.id.0,
            h.contact_id.0,
            h.channel,
            kind.as_str(),
            h.assignee_id.map(|u| u.0),
            h.team,
            score,
            ts(*at)
        ])?;
    }
    Ok(())
}

#[async_trait]
impl QualityStore for SqliteStore {
    async fn metrics_input(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<MetricsInput> {
        self.conns.read(move |c| metrics_input(c, ts(from), ts(to), true)).await
    }

    async fn count_conversations(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64> {
        self.conns
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM conversations WHERE created_at >= ?1 AND created_at < ?2",
                    params![ts(from), ts(to)],
                    |r| r.get(0),
                )?)
            })
            .await
    }

    async fn import_history(&self, convs: Vec<HistoryConversation>) -> Result<()> {
        self.conns
            .write(move |c| {
                for h in &convs {
                    import_one(c, h)?;
                }
                Ok(())
            })
            .await
    }

    async fn survey_settings(&self) -> Result<Vec<SurveySettings>> {
        self.conns
            .read(|c| {
                Ok(c.prepare_cached(
                    "SELECT channel, csat, nps, delay_minutes, min_days_between FROM survey_settings ORDER BY channel",
                )?
                .query_map([], |r| {
                    Ok(SurveySettings {
                        channel: r.get(0)?,
                        csat: r.get(1)?,
                        nps: r.get(2)?,
                        delay_minutes: r.get(3)?,
                        min_days_between: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn put_survey_settings(&self, s: &SurveySettings) -> Result<()> {
        s.validate().map_err(StoreError::Invalid)?;
        let s = s.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO survey_settings (channel, csat, nps, delay_minutes, min_days_between, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (channel) DO UPDATE SET csat = excluded.csat, \
                     nps = excluded.nps, delay_minutes = excluded.delay_minutes, \
                     min_days_between = excluded.min_days_between, updated_at = excluded.updated_at",
                    params![s.channel, s.csat, s.nps, s.delay_minutes, s.min_days_between, ts(crate::now_micros())],
                )?;
                Ok(())
            })
            .await
    }

    async fn due_surveys(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<SurveyCandidate>> {
        self.conns
            .read(move |c| {
                let mut out = Vec::new();
                for kind in SurveyKind::ALL {
                    let sql = format!(
                        "SELECT c.id, s.min_days_between FROM conversations c JOIN survey_settings s ON s.channel = c.channel \
                         WHERE s.{k} AND c.status = 'resolved' AND c.resolved_at >= s.updated_at \
                         AND c.resolved_at <= ?1 - s.delay_minutes * 60000000 \
                         AND NOT EXISTS (SELECT 1 FROM surveys v WHERE v.conversation_id = c.id AND v.kind = '{k}') \
                         ORDER BY c.resolved_at LIMIT ?2",
                        k = kind.as_str()
                    );
                    let rows = c
                        .prepare_cached(&sql)?
                        .query_map(params![ts(now), limit as i64], |r| {
                            Ok(SurveyCandidate {
                                conversation_id: ConversationId(r.get(0)?),
                                kind: *kind,
                                min_days_between: r.get(1)?,
                            })
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    out.extend(rows);
                }
                Ok(out)
            })
            .await
    }

    async fn create_survey(&self, cand: &SurveyCandidate, now: DateTime<Utc>) -> Result<Option<Survey>> {
        let cand = cand.clone();
        self.conns
            .write(move |c| {
                let exists: bool = c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM surveys WHERE conversation_id = ?1 AND kind = ?2)",
                    params![cand.conversation_id.0, cand.kind.as_str()],
                    |r| r.get(0),
                )?;
                if exists {
                    return Ok(None);
                }
                let (contact, channel, assignee, team): (Uuid, String, Option<Uuid>, Option<String>) = c.query_row(
                    "SELECT contact_id, channel, COALESCE(assignee_id, (SELECT m.author_id FROM messages m \
                     WHERE m.conversation_id = c.id AND m.direction = 'outbound' AND m.author_id IS NOT NULL \
                     AND m.author_id NOT IN (?2, ?3) ORDER BY m.created_at DESC LIMIT 1)), team FROM conversations c WHERE id = ?1",
                    params![cand.conversation_id.0, AUTOMATION_USER.0, crate::kb::BOT_USER.0],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
                let cap = now - Duration::days(i64::from(cand.min_days_between));
                let recent: bool = c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM surveys WHERE contact_id = ?1 AND kind = ?2 AND state <> 'skipped' AND created_at > ?3)",
                    params![contact, cand.kind.as_str(), ts(cap)],
                    |r| r.get(0),
                )?;
                let state = if recent && cand.min_days_between > 0 { SurveyState::Skipped } else { SurveyState::Pending };
                let id = Uuid::now_v7();
                c.execute(
                    "INSERT INTO surveys (id, conversation_id, contact_id, channel, kind, state, agent_id, team, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![id, cand.conversation_id.0, contact, channel, cand.kind.as_str(), state.as_str(), assignee, team, ts(now)],
                )?;
                get_survey(c, id)
            })
            .await
    }

    async fn pending_surveys(&self, limit: usize) -> Result<Vec<Survey>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {SURVEY_COLS} FROM surveys s WHERE s.state = 'pending' \
                     AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = s.conversation_id AND c.status <> 'closed') ORDER BY s.created_at LIMIT ?1"
                ))?
                .query_map([limit as i64], survey_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn mark_survey_sent(&self, id: Uuid, message_id: MessageId, at: DateTime<Utc>) -> Result<()> {
        self.conns
            .write(move |c| {
                c.execute(
                    "UPDATE surveys SET state = 'sent', message_id = ?2, sent_at = ?3 WHERE id = ?1 AND state = 'pending'",
                    params![id, message_id.0, ts(at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn get_survey(&self, id: Uuid) -> Result<Option<Survey>> {
        self.conns.read(move |c| get_survey(c, id)).await
    }

    async fn open_survey_for(
        &self,
        channel: &str,
        thread_key: &str,
        provider_user_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Survey>> {
        let (channel, thread_key, user) = (channel.to_owned(), thread_key.to_owned(), provider_user_id.to_owned());
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {SURVEY_COLS} FROM surveys s JOIN conversations c ON c.id = s.conversation_id \
                     JOIN contact_identities i ON i.contact_id = c.contact_id \
                     WHERE i.channel = ?1 AND i.provider_user_id = ?3 AND c.channel = ?1 AND c.thread_key = ?2 \
                     AND c.status = 'resolved' AND s.state = 'sent' AND s.sent_at >= ?4 \
                     ORDER BY s.sent_at DESC LIMIT 1"
                ))?
                .query_row(params![channel, thread_key, user, ts(since)], survey_from_row)
                .optional()?)
            })
            .await
    }

    async fn answer_survey(
        &self,
        id: Uuid,
        score: i32,
        comment: &str,
        via: &str,
        event: Option<&StoredEvent>,
        at: DateTime<Utc>,
    ) -> Result<Survey> {
        let (comment, via) = (comment.trim().to_owned(), via.to_owned());
        let event = event.map(|e| e.seq);
        self.conns
            .write(move |c| {
                let s = get_survey(c, id)?.ok_or(StoreError::NotFound("survey"))?;
                if !s.kind.valid(score) {
                    return Err(StoreError::Invalid(format!("score {score} is out of range for {}", s.kind)));
                }
                if matches!(s.state, SurveyState::Pending | SurveyState::Sent) {
                    c.execute(
                        "UPDATE surveys SET state = 'answered', score = ?2, comment = ?3, answered_via = ?4, answered_at = ?5 WHERE id = ?1",
                        params![id, score, (!comment.is_empty()).then_some(comment.as_str()), via, ts(at)],
                    )?;
                }
                if let Some(seq) = event {
                    c.execute(
                        "UPDATE inbound_events SET processed_at = ?2, conversation_id = ?3 WHERE seq = ?1 AND processed_at IS NULL",
                        params![seq, ts(at), s.conversation_id.0],
                    )?;
                }
                get_survey(c, id)?.ok_or(StoreError::NotFound("survey"))
            })
            .await
    }

    async fn comments_without_sentiment(&self, limit: usize) -> Result<Vec<Survey>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {SURVEY_COLS} FROM surveys s WHERE s.state = 'answered' AND s.comment IS NOT NULL \
                     AND s.comment_sentiment IS NULL ORDER BY s.answered_at LIMIT ?1"
                ))?
                .query_map([limit as i64], survey_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn set_comment_sentiment(&self, id: Uuid, sentiment: &str) -> Result<()> {
        let sentiment = sentiment.to_owned();
        self.conns
            .write(move |c| {
                c.execute("UPDATE surveys SET comment_sentiment = ?2 WHERE id = ?1", params![id, sentiment])?;
                Ok(())
            })
            .await
    }

    async fn contact_surveys(&self, contact: ContactId, limit: usize) -> Result<Vec<Survey>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {SURVEY_COLS} FROM surveys s WHERE s.contact_id = ?1 AND s.state <> 'skipped' \
                     ORDER BY s.created_at DESC LIMIT ?2"
                ))?
                .query_map(params![contact.0, limit as i64], survey_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn quality_secret(&self, name: &str) -> Result<Vec<u8>> {
        let name = name.to_owned();
        self.conns
            .write(move |c| {
                let fresh: [u8; 32] = rand::random();
                c.execute(
                    "INSERT INTO quality_secrets (name, secret, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
                    params![name, fresh.to_vec(), ts(Utc::now())],
                )?;
                Ok(c.query_row("SELECT secret FROM quality_secrets WHERE name = ?1", [&name], |r| r.get(0))?)
            })
            .await
    }

    async fn claim_report(
        &self,
        period: &str,
        kind: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let (period, kind) = (period.to_owned(), kind.to_owned());
        self.conns
            .write(move |c| {
                let n = c.execute(
                    "INSERT INTO quality_reports (period, kind, state, lease_until) VALUES (?1, ?2, 'generating', ?4) \
                     ON CONFLICT (period) DO UPDATE SET lease_until = excluded.lease_until \
                     WHERE quality_reports.state <> 'done' AND quality_reports.lease_until < ?3",
                    params![period, kind, ts(now), ts(lease_until)],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn save_report(&self, period: &str, kind: &str, doc: &serde_json::Value, at: DateTime<Utc>) -> Result<()> {
        let (period, kind, doc) = (period.to_owned(), kind.to_owned(), doc.to_string());
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO quality_reports (period, kind, state, document, generated_at) VALUES (?1, ?2, 'done', ?3, ?4) \
                     ON CONFLICT (period) DO UPDATE SET state = 'done', document = excluded.document, \
                     generated_at = excluded.generated_at, lease_until = NULL",
                    params![period, kind, doc, ts(at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn mark_report_emailed(&self, period: &str, at: DateTime<Utc>) -> Result<()> {
        let period = period.to_owned();
        self.conns
            .write(move |c| {
                c.execute("UPDATE quality_reports SET emailed_at = ?2 WHERE period = ?1", params![period, ts(at)])?;
                Ok(())
            })
            .await
    }

    async fn list_reports(&self) -> Result<Vec<ReportRecord>> {
        self.conns
            .read(|c| {
                Ok(c.prepare_cached(
                    "SELECT period, kind, state, generated_at, emailed_at FROM quality_reports ORDER BY period DESC",
                )?
                .query_map([], |r| {
                    Ok(ReportRecord {
                        period: r.get(0)?,
                        kind: r.get(1)?,
                        state: r.get(2)?,
                        document: None,
                        generated_at: r.get::<_, Option<i64>>(3)?.map(from_ts),
                        emailed_at: r.get::<_, Option<i64>>(4)?.map(from_ts),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn get_report(&self, period: &str) -> Result<Option<ReportRecord>> {
        let period = period.to_owned();
        self.conns
            .read(move |c| {
                let row = c
                    .prepare_cached(
                        "SELECT period, kind, state, document, generated_at, emailed_at FROM quality_reports WHERE period = ?1",
                    )?
                    .query_row([&period], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, Option<i64>>(4)?,
                            r.get::<_, Option<i64>>(5)?,
                        ))
                    })
                    .optional()?;
                let Some((period, kind, state, doc, generated_at, emailed_at)) = row else { return Ok(None) };
                Ok(Some(ReportRecord {
                    period,
                    kind,
                    state,
                    document: doc.map(|d| serde_json::from_str(&d)).transpose()?,
                    generated_at: generated_at.map(from_ts),
                    emailed_at: emailed_at.map(from_ts),
                }))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The query plan's lines (`EXPLAIN QUERY PLAN`), joined.
    fn plan(c: &Connection, sql: &str) -> String {
        let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let n = st.parameter_count();
        let args: Vec<i64> = vec![0; n];
        st.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("\n")
    }

    #[test]
    fn conversation_facts_are_read_through_the_conversation_not_the_kind() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::conn::migrate(&mut c).unwrap();
        for sql in [cohort_sql().as_str(), super::super::routing::DROP_FIRST_RESPONSE] {
            let p = plan(&c, sql);
            assert!(p.contains("conversation_facts_conversation"), "{sql}\n{p}");
            assert!(!p.contains("conversation_facts_kind"), "{sql}\n{p}");
        }
    }

    #[test]
    fn the_backlog_is_read_through_the_resolution_index_not_a_scan() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::conn::migrate(&mut c).unwrap();
        for triage in [false, true] {
            let sql = backlog_sql(triage);
            let p = plan(&c, &sql);
            assert_eq!(p.matches("conversations_resolved_at").count(), 2, "{sql}\n{p}");
            assert!(!p.contains("SCAN c"), "{sql}\n{p}");
        }
    }
}
