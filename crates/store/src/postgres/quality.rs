//! [`QualityStore`] on PostgreSQL. Same queries as the SQLite backend; only raw rows are read, so
//! the metrics computed from them are identical.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::quality::{
    AnswerRecord, Attrs, BacklogRecord, BotTrace, ConvRecord, MetricsInput, SentimentRecord, Turn,
};
use switchboard_domain::sla::TrackedClock;
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, FactKind, MessageId, Priority, Status, UserId};
use uuid::Uuid;

use super::{PgStore, Tx};
use crate::kb::BotOutcomeKind;
use crate::quality::{
    HistoryConversation, QualityStore, ReportRecord, Survey, SurveyCandidate, SurveySettings, SurveyState,
};
use crate::quality::{add_bot, is_person};
use crate::routing::AUTOMATION_USER;
use crate::{Result, StoreError, StoredEvent};

const ATTR_COLS: &str = "c.channel, c.team, c.assignee_id, c.priority, \
    (SELECT t.language FROM message_triage t WHERE t.conversation_id = c.id ORDER BY t.created_at, t.message_id LIMIT 1), \
    (SELECT t.intent FROM message_triage t WHERE t.conversation_id = c.id ORDER BY t.created_at, t.message_id LIMIT 1)";

/// [`ATTR_COLS`] without the first triage's language and intent.
const ATTR_COLS_UNTRIAGED: &str = "c.channel, c.team, c.assignee_id, c.priority, NULL::text, NULL::text";

/// Conversations waiting at `$1`: open, and resolved after it (the two parts of a UNION ALL).
const BACKLOG_WHERE: [&str; 2] = [
    "c.resolved_at IS NULL AND c.status <> 'closed' AND c.created_at < $1",
    "c.resolved_at >= $1 AND c.created_at < $1",
];

fn parse_at<T: std::str::FromStr>(r: &PgRow, i: usize) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = r.try_get(i)?;
    s.parse::<T>().map_err(|e| StoreError::Backend(format!("column {i}: {e}")))
}

fn attrs_at(r: &PgRow, i: usize) -> Result<Attrs> {
    Ok(Attrs {
        channel: r.try_get(i)?,
        team: r.try_get(i + 1)?,
        agent: r.try_get::<Option<Uuid>, _>(i + 2)?.map(UserId),
        priority: r.try_get::<Option<String>, _>(i + 3)?.and_then(|p| p.parse::<Priority>().ok()),
        language: r.try_get(i + 4)?,
        intent: r.try_get(i + 5)?,
    })
}

const SURVEY_COLS: &str = "s.id, s.conversation_id, (SELECT case_number FROM conversations WHERE id = s.conversation_id), \
    s.contact_id, s.channel, s.kind, s.state, s.agent_id, s.team, s.message_id, s.score, s.comment, \
    s.comment_sentiment, s.answered_via, s.created_at, s.sent_at, s.answered_at";

fn survey_from_row(r: &PgRow) -> Result<Survey> {
    let state: String = r.try_get(6)?;
    Ok(Survey {
        id: r.try_get(0)?,
        conversation_id: ConversationId(r.try_get(1)?),
        case_number: r.try_get::<Option<i64>, _>(2)?.unwrap_or_default(),
        contact_id: ContactId(r.try_get(3)?),
        channel: r.try_get(4)?,
        kind: parse_at(r, 5)?,
        state: SurveyState::parse(&state).unwrap_or(SurveyState::Skipped),
        agent_id: r.try_get::<Option<Uuid>, _>(7)?.map(UserId),
        team: r.try_get(8)?,
        message_id: r.try_get::<Option<Uuid>, _>(9)?.map(MessageId),
        score: r.try_get(10)?,
        comment: r.try_get(11)?,
        comment_sentiment: r.try_get(12)?,
        answered_via: r.try_get(13)?,
        created_at: r.try_get(14)?,
        sent_at: r.try_get(15)?,
        answered_at: r.try_get(16)?,
    })
}

impl PgStore {
    async fn survey(&self, id: Uuid) -> Result<Option<Survey>> {
        sqlx::query(&format!("SELECT {SURVEY_COLS} FROM surveys s WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(survey_from_row)
            .transpose()
    }

    async fn surveys(&self, sql: &str, binds: (Option<Uuid>, i64)) -> Result<Vec<Survey>> {
        let q = sqlx::query(sql);
        let q = match binds.0 {
            Some(id) => q.bind(id).bind(binds.1),
            None => q.bind(binds.1),
        };
        q.fetch_all(&self.pool).await?.iter().map(survey_from_row).collect()
    }
}

pub(super) async fn metrics_input(
    pool: &sqlx::PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    with_backlog: bool,
) -> Result<MetricsInput> {
    // One snapshot for every query.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let rows = sqlx::query(&format!(
        "SELECT c.id, c.case_number, c.contact_id, c.status, c.created_at, c.resolved_at, c.reopen_count, \
         c.repeat_of IS NOT NULL, \
         EXISTS (SELECT 1 FROM conversation_facts f WHERE f.conversation_id = c.id AND f.kind = '{esc}'), \
         (SELECT rs.clocks FROM routing_state rs WHERE rs.conversation_id = c.id), \
         CASE WHEN c.resolved_at IS NULL THEN NULL ELSE (SELECT MIN(o.created_at) FROM conversations o \
            WHERE o.contact_id = c.contact_id AND o.id <> c.id AND o.created_at >= c.resolved_at) END, \
         {ATTR_COLS}, \
         COALESCE((SELECT rs.synced_at = c.updated_at FROM routing_state rs WHERE rs.conversation_id = c.id), FALSE) \
         FROM conversations c WHERE c.created_at >= $1 AND c.created_at < $2 ORDER BY c.created_at, c.id",
        esc = FactKind::SlaEscalated.as_str()
    ))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    let mut convs = Vec::with_capacity(rows.len());
    let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let clocks: Option<String> = r.try_get(9)?;
        let clocks: Vec<TrackedClock> = match clocks {
            Some(s) => serde_json::from_str(&s)?,
            None => Vec::new(),
        };
        let id: Uuid = r.try_get(0)?;
        index.insert(id, convs.len());
        convs.push(ConvRecord {
            id: ConversationId(id),
            case_number: r.try_get(1)?,
            contact_id: ContactId(r.try_get(2)?),
            status: parse_at::<Status>(r, 3)?,
            created_at: r.try_get(4)?,
            resolved_at: r.try_get(5)?,
            reopen_count: r.try_get(6)?,
            repeat_contact: r.try_get(7)?,
            escalated: r.try_get(8)?,
            clocks_settled: r.try_get(17)?,
            clocks: clocks.into_iter().map(|t| t.clock).collect(),
            next_contact_at: r.try_get(10)?,
            attrs: attrs_at(r, 11)?,
            turns: Vec::new(),
            bot: BotTrace::default(),
        });
    }
    let rows = sqlx::query(
        "SELECT m.conversation_id, m.created_at, m.direction, m.author_id FROM messages m \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE c.created_at >= $1 AND c.created_at < $2 AND m.direction IN ('inbound', 'outbound') \
         ORDER BY m.conversation_id, m.created_at, m.id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let conv: Uuid = r.try_get(0)?;
        let dir: Direction = parse_at(r, 2)?;
        let author: Option<Uuid> = r.try_get(3)?;
        let turn = match dir {
            Direction::Inbound => Turn::Customer,
            Direction::Outbound if author.is_some_and(is_person) => Turn::Agent,
            _ => continue,
        };
        if let Some(&i) = index.get(&conv) {
            convs[i].turns.push((r.try_get(1)?, turn));
        }
    }
    let rows = sqlx::query(
        "SELECT o.conversation_id, o.outcome, COUNT(*) FROM bot_outcomes o \
         JOIN conversations c ON c.id = o.conversation_id \
         WHERE c.created_at >= $1 AND c.created_at < $2 GROUP BY o.conversation_id, o.outcome",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    for r in &rows {
        let conv: Uuid = r.try_get(0)?;
        let outcome: String = r.try_get(1)?;
        let n: i64 = r.try_get(2)?;
        if let (Some(&i), Some(kind)) = (index.get(&conv), BotOutcomeKind::parse(&outcome)) {
            add_bot(&mut convs[i].bot, kind, n);
        }
    }
    let answers = sqlx::query(&format!(
        "SELECT s.conversation_id, c.case_number, s.kind, s.score, s.answered_at, s.agent_id, s.team, {ATTR_COLS} \
         FROM surveys s JOIN conversations c ON c.id = s.conversation_id \
         WHERE s.answered_at >= $1 AND s.answered_at < $2 AND s.score IS NOT NULL ORDER BY s.answered_at, s.id"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        let mut attrs = attrs_at(r, 7)?;
        attrs.agent = r.try_get::<Option<Uuid>, _>(5)?.map(UserId);
        attrs.team = r.try_get(6)?;
        Ok(AnswerRecord {
            conversation_id: ConversationId(r.try_get(0)?),
            case_number: r.try_get(1)?,
            kind: parse_at::<SurveyKind>(r, 2)?,
            score: r.try_get(3)?,
            answered_at: r.try_get(4)?,
            attrs,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let sentiments = sqlx::query(&format!(
        "SELECT m.conversation_id, m.sentiment, m.created_at, c.case_number, {ATTR_COLS} \
         FROM message_triage m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.created_at >= $1 AND m.created_at < $2 ORDER BY m.created_at, m.message_id"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok(SentimentRecord {
            conversation_id: ConversationId(r.try_get(0)?),
            sentiment: r.try_get(1)?,
            at: r.try_get(2)?,
            case_number: r.try_get(3)?,
            attrs: attrs_at(r, 4)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let backlog = if with_backlog { backlog_at(&mut tx, to, true).await? } else { Vec::new() };
    tx.commit().await?;
    Ok(MetricsInput { conversations: convs, answers, sentiments, backlog })
}

/// Conversations waiting at `at`: the open ones and those resolved later.
pub(super) async fn backlog_at(tx: &mut Tx<'_>, at: DateTime<Utc>, triage: bool) -> Result<Vec<BacklogRecord>> {
    let cols = if triage { ATTR_COLS } else { ATTR_COLS_UNTRIAGED };
    let [open, later] = BACKLOG_WHERE;
    // Sorted here, as on SQLite (where an `ORDER BY` made the planner walk the case-number index).
    let mut v = sqlx::query(&format!(
        "SELECT c.id, c.case_number, {cols} FROM conversations c WHERE {open} \
         UNION ALL SELECT c.id, c.case_number, {cols} FROM conversations c WHERE {later}"
    ))
    .bind(at)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| {
        Ok(BacklogRecord { id: ConversationId(r.try_get(0)?), case_number: r.try_get(1)?, attrs: attrs_at(r, 2)? })
    })
    .collect::<Result<Vec<_>>>()?;
    v.sort_unstable_by_key(|b| b.case_number);
    Ok(v)
}

/// How many conversations wait at `at`.
pub(super) async fn backlog_count_at(pool: &sqlx::PgPool, at: DateTime<Utc>) -> Result<u64> {
    let [open, later] = BACKLOG_WHERE;
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT (SELECT COUNT(*) FROM conversations c WHERE {open}) + \
         (SELECT COUNT(*) FROM conversations c WHERE {later})"
    ))
    .bind(at)
    .fetch_one(pool)
    .await?;
    Ok(n.max(0) as u64)
}

#[async_trait]
impl QualityStore for PgStore {
    async fn metrics_input(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<MetricsInput> {
        metrics_input(&self.pool, from, to, true).await
    }

    async fn count_conversations(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE created_at >= $1 AND created_at < $2")
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn import_history(&self, convs: Vec<HistoryConversation>) -> Result<()> {
        super::history_import::import_history(&self.pool, &convs).await
    }

    async fn finish_import(&self) -> Result<()> {
        sqlx::query(
            "ANALYZE contacts, conversations, messages, conversation_facts, message_triage, routing_state, \
             bot_outcomes, surveys",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn survey_settings(&self) -> Result<Vec<SurveySettings>> {
        sqlx::query("SELECT channel, csat, nps, delay_minutes, min_days_between FROM survey_settings ORDER BY channel")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(SurveySettings {
                    channel: r.try_get(0)?,
                    csat: r.try_get(1)?,
                    nps: r.try_get(2)?,
                    delay_minutes: r.try_get(3)?,
                    min_days_between: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn put_survey_settings(&self, s: &SurveySettings) -> Result<()> {
        s.validate().map_err(StoreError::Invalid)?;
        sqlx::query(
            "INSERT INTO survey_settings (channel, csat, nps, delay_minutes, min_days_between, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel) DO UPDATE SET csat = excluded.csat, \
             nps = excluded.nps, delay_minutes = excluded.delay_minutes, \
             min_days_between = excluded.min_days_between, updated_at = excluded.updated_at",
        )
        .bind(&s.channel)
        .bind(s.csat)
        .bind(s.nps)
        .bind(s.delay_minutes)
        .bind(s.min_days_between)
        .bind(crate::now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn due_surveys(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<SurveyCandidate>> {
        let mut out = Vec::new();
        for kind in SurveyKind::ALL {
            let sql = format!(
                "SELECT c.id, s.min_days_between FROM conversations c JOIN survey_settings s ON s.channel = c.channel \
                 WHERE s.{k} AND c.status = 'resolved' AND c.resolved_at >= s.updated_at \
                 AND c.resolved_at <= $1 - make_interval(mins => s.delay_minutes) \
                 AND NOT EXISTS (SELECT 1 FROM surveys v WHERE v.conversation_id = c.id AND v.kind = '{k}') \
                 ORDER BY c.resolved_at LIMIT $2",
                k = kind.as_str()
            );
            for r in sqlx::query(&sql).bind(now).bind(limit as i64).fetch_all(&self.pool).await? {
                out.push(SurveyCandidate {
                    conversation_id: ConversationId(r.try_get(0)?),
                    kind: *kind,
                    min_days_between: r.try_get(1)?,
                });
            }
        }
        Ok(out)
    }

    async fn create_survey(&self, cand: &SurveyCandidate, now: DateTime<Utc>) -> Result<Option<Survey>> {
        let mut tx = self.pool.begin().await?;
        let conv =
            sqlx::query("SELECT contact_id, channel, COALESCE(assignee_id, (SELECT m.author_id FROM messages m \
                 WHERE m.conversation_id = c.id AND m.direction = 'outbound' AND m.author_id IS NOT NULL \
                 AND m.author_id NOT IN ($2, $3) ORDER BY m.created_at DESC LIMIT 1)), team FROM conversations c WHERE id = $1 FOR UPDATE")
                .bind(cand.conversation_id.0)
                .bind(AUTOMATION_USER.0)
                .bind(crate::kb::BOT_USER.0)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("conversation"))?;
        let contact: Uuid = conv.try_get(0)?;
        let channel: String = conv.try_get(1)?;
        let assignee: Option<Uuid> = conv.try_get(2)?;
        let team: Option<String> = conv.try_get(3)?;
        // Serialise survey creation per contact so two nodes cannot both pass the frequency cap.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 10))")
            .bind(contact.to_string())
            .execute(&mut *tx)
            .await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM surveys WHERE conversation_id = $1 AND kind = $2)")
                .bind(cand.conversation_id.0)
                .bind(cand.kind.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if exists {
            return Ok(None);
        }
        let cap = now - Duration::days(i64::from(cand.min_days_between));
        let recent: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM surveys WHERE contact_id = $1 AND kind = $2 AND state <> 'skipped' AND created_at > $3)",
        )
        .bind(contact)
        .bind(cand.kind.as_str())
        .bind(cap)
        .fetch_one(&mut *tx)
        .await?;
        let state = if recent && cand.min_days_between > 0 { SurveyState::Skipped } else { SurveyState::Pending };
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO surveys (id, conversation_id, contact_id, channel, kind, state, agent_id, team, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (conversation_id, kind) DO NOTHING",
        )
        .bind(id)
        .bind(cand.conversation_id.0)
        .bind(contact)
        .bind(channel)
        .bind(cand.kind.as_str())
        .bind(state.as_str())
        .bind(assignee)
        .bind(team)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.survey(id).await
    }

    async fn pending_surveys(&self, limit: usize) -> Result<Vec<Survey>> {
        self.surveys(
            &format!("SELECT {SURVEY_COLS} FROM surveys s WHERE s.state = 'pending' \
                     AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = s.conversation_id AND c.status <> 'closed') ORDER BY s.created_at LIMIT $1"),
            (None, limit as i64),
        )
        .await
    }

    async fn mark_survey_sent(&self, id: Uuid, message_id: MessageId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE surveys SET state = 'sent', message_id = $2, sent_at = $3 WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(message_id.0)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_survey(&self, id: Uuid) -> Result<Option<Survey>> {
        self.survey(id).await
    }

    async fn open_survey_for(
        &self,
        channel: &str,
        thread_key: &str,
        provider_user_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Survey>> {
        sqlx::query(&format!(
            "SELECT {SURVEY_COLS} FROM surveys s JOIN conversations c ON c.id = s.conversation_id \
             JOIN contact_identities i ON i.contact_id = c.contact_id \
             WHERE i.channel = $1 AND i.provider_user_id = $3 AND c.channel = $1 AND c.thread_key = $2 \
             AND c.status = 'resolved' AND s.state = 'sent' AND s.sent_at >= $4 \
             ORDER BY s.sent_at DESC LIMIT 1"
        ))
        .bind(channel)
        .bind(thread_key)
        .bind(provider_user_id)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(survey_from_row)
        .transpose()
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
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT kind, state, conversation_id FROM surveys WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("survey"))?;
        let kind: SurveyKind = parse_at(&row, 0)?;
        let state: String = row.try_get(1)?;
        let conv: Uuid = row.try_get(2)?;
        if !kind.valid(score) {
            return Err(StoreError::Invalid(format!("score {score} is out of range for {kind}")));
        }
        let comment = comment.trim();
        if state == "pending" || state == "sent" {
            sqlx::query(
                "UPDATE surveys SET state = 'answered', score = $2, comment = $3, answered_via = $4, answered_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(score)
            .bind((!comment.is_empty()).then_some(comment))
            .bind(via)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(ev) = event {
            sqlx::query(
                "UPDATE inbound_events SET processed_at = $2, conversation_id = $3 WHERE seq = $1 AND processed_at IS NULL",
            )
            .bind(ev.seq)
            .bind(at)
            .bind(conv)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.survey(id).await?.ok_or(StoreError::NotFound("survey"))
    }

    async fn comments_without_sentiment(&self, limit: usize) -> Result<Vec<Survey>> {
        self.surveys(
            &format!(
                "SELECT {SURVEY_COLS} FROM surveys s WHERE s.state = 'answered' AND s.comment IS NOT NULL \
                 AND s.comment_sentiment IS NULL ORDER BY s.answered_at LIMIT $1"
            ),
            (None, limit as i64),
        )
        .await
    }

    async fn set_comment_sentiment(&self, id: Uuid, sentiment: &str) -> Result<()> {
        sqlx::query("UPDATE surveys SET comment_sentiment = $2 WHERE id = $1")
            .bind(id)
            .bind(sentiment)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn contact_surveys(&self, contact: ContactId, limit: usize) -> Result<Vec<Survey>> {
        self.surveys(
            &format!(
                "SELECT {SURVEY_COLS} FROM surveys s WHERE s.contact_id = $1 AND s.state <> 'skipped' \
                 ORDER BY s.created_at DESC LIMIT $2"
            ),
            (Some(contact.0), limit as i64),
        )
        .await
    }

    async fn quality_secret(&self, name: &str) -> Result<Vec<u8>> {
        let fresh: [u8; 32] = rand::random();
        sqlx::query(
            "INSERT INTO quality_secrets (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh.to_vec())
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar("SELECT secret FROM quality_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn claim_report(
        &self,
        period: &str,
        kind: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO quality_reports (period, kind, state, lease_until) VALUES ($1, $2, 'generating', $4) \
             ON CONFLICT (period) DO UPDATE SET lease_until = excluded.lease_until \
             WHERE quality_reports.state <> 'done' AND quality_reports.lease_until < $3",
        )
        .bind(period)
        .bind(kind)
        .bind(now)
        .bind(lease_until)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn save_report(&self, period: &str, kind: &str, doc: &serde_json::Value, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO quality_reports (period, kind, state, document, generated_at) VALUES ($1, $2, 'done', $3, $4) \
             ON CONFLICT (period) DO UPDATE SET state = 'done', document = excluded.document, \
             generated_at = excluded.generated_at, lease_until = NULL",
        )
        .bind(period)
        .bind(kind)
        .bind(doc)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_report_emailed(&self, period: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE quality_reports SET emailed_at = $2 WHERE period = $1")
            .bind(period)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_reports(&self) -> Result<Vec<ReportRecord>> {
        sqlx::query(
            "SELECT period, kind, state, generated_at, emailed_at FROM quality_reports \
             ORDER BY period DESC",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ReportRecord {
                period: r.try_get(0)?,
                kind: r.try_get(1)?,
                state: r.try_get(2)?,
                document: None,
                generated_at: r.try_get(3)?,
                emailed_at: r.try_get(4)?,
            })
        })
        .collect()
    }

    async fn get_report(&self, period: &str) -> Result<Option<ReportRecord>> {
        sqlx::query(
            "SELECT period, kind, state, document, generated_at, emailed_at FROM quality_reports WHERE period = $1",
        )
        .bind(period)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| {
            Ok(ReportRecord {
                period: r.try_get(0)?,
                kind: r.try_get(1)?,
                state: r.try_get(2)?,
                document: r.try_get(3)?,
                generated_at: r.try_get(4)?,
                emailed_at: r.try_get(5)?,
            })
        })
        .transpose()
    }
}
