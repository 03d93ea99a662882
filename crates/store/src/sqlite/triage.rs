//! [`TriageStore`] on SQLite: writes on the single writer, reads on the reader pool.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use switchboard_domain::{ConversationId, MessageId, UserId};
use uuid::Uuid;

use super::{SqliteStore, from_ts, json_col, ts};
use crate::triage::{IntentLabel, IntentModelRecord, MessageTriage, TriageStore};
use crate::{Result, StoreError};

const TRIAGE_COLS: &str = "message_id, conversation_id, language, language_confidence, sentiment, sentiment_score, \
     intent, intent_confidence, intent_by_agent, priority, priority_reasons, pii, redacted_text, \
     intent_model_version, created_at";

fn triage_from_row(r: &Row<'_>) -> rusqlite::Result<MessageTriage> {
    Ok(MessageTriage {
        message_id: MessageId(r.get(0)?),
        conversation_id: ConversationId(r.get(1)?),
        language: r.get(2)?,
        language_confidence: r.get::<_, f64>(3)? as f32,
        sentiment: r.get(4)?,
        sentiment_score: r.get::<_, f64>(5)? as f32,
        intent: r.get(6)?,
        intent_confidence: r.get::<_, f64>(7)? as f32,
        intent_by_agent: r.get(8)?,
        priority: r.get(9)?,
        priority_reasons: json_col(r, 10)?,
        pii: json_col(r, 11)?,
        redacted_text: r.get(12)?,
        intent_model_version: r.get(13)?,
        created_at: from_ts(r.get(14)?),
    })
}

fn label_from_row(r: &Row<'_>) -> rusqlite::Result<IntentLabel> {
    Ok(IntentLabel {
        message_id: MessageId(r.get(0)?),
        intent: r.get(1)?,
        text: r.get(2)?,
        labelled_by: r.get::<_, Option<Uuid>>(3)?.map(UserId),
        labelled_at: from_ts(r.get(4)?),
    })
}

fn model_from_row(r: &Row<'_>) -> rusqlite::Result<IntentModelRecord> {
    Ok(IntentModelRecord {
        version: r.get(0)?,
        created_at: from_ts(r.get(1)?),
        examples: r.get(2)?,
        note: r.get(3)?,
        bytes: r.get(4)?,
    })
}

#[async_trait]
impl TriageStore for SqliteStore {
    async fn save_triage(&self, rows: Vec<MessageTriage>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.conns
            .write(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "INSERT INTO message_triage ({TRIAGE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                     ON CONFLICT (message_id) DO UPDATE SET language = excluded.language, \
                     language_confidence = excluded.language_confidence, sentiment = excluded.sentiment, \
                     sentiment_score = excluded.sentiment_score, \
                     intent = CASE WHEN message_triage.intent_by_agent THEN message_triage.intent ELSE excluded.intent END, \
                     intent_confidence = CASE WHEN message_triage.intent_by_agent THEN message_triage.intent_confidence ELSE excluded.intent_confidence END, \
                     priority = excluded.priority, priority_reasons = excluded.priority_reasons, pii = excluded.pii, \
                     redacted_text = excluded.redacted_text, intent_model_version = excluded.intent_model_version, \
                     created_at = excluded.created_at"
                ))?;
                for t in &rows {
                    st.execute(params![
                        t.message_id.0,
                        t.conversation_id.0,
                        t.language,
                        f64::from(t.language_confidence),
                        t.sentiment,
                        f64::from(t.sentiment_score),
                        t.intent,
                        f64::from(t.intent_confidence),
                        t.intent_by_agent,
                        t.priority,
                        serde_json::to_string(&t.priority_reasons)?,
                        serde_json::to_string(&t.pii)?,
                        t.redacted_text,
                        t.intent_model_version,
                        ts(t.created_at),
                    ])?;
                }
                Ok(())
            })
            .await
    }

    async fn message_triage(&self, id: MessageId) -> Result<Option<MessageTriage>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!("SELECT {TRIAGE_COLS} FROM message_triage WHERE message_id = ?1"))?
                    .query_row([id.0], triage_from_row)
                    .optional()?)
            })
            .await
    }

    async fn conversation_message_triage(&self, id: ConversationId) -> Result<Vec<MessageTriage>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {TRIAGE_COLS} FROM message_triage WHERE conversation_id = ?1 ORDER BY message_id"
                ))?
                .query_map([id.0], triage_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn conversation_triage(&self, id: ConversationId) -> Result<Option<MessageTriage>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {TRIAGE_COLS} FROM message_triage WHERE conversation_id = ?1 \
                     ORDER BY created_at DESC, message_id DESC LIMIT 1"
                ))?
                .query_row([id.0], triage_from_row)
                .optional()?)
            })
            .await
    }

    async fn label_intent(&self, label: IntentLabel) -> Result<()> {
        self.conns
            .write(move |c| {
                let exists: bool =
                    c.query_row("SELECT EXISTS(SELECT 1 FROM messages WHERE id = ?1)", [label.message_id.0], |r| r.get(0))?;
                if !exists {
                    return Err(StoreError::NotFound("message"));
                }
                c.execute(
                    "INSERT INTO intent_labels (message_id, intent, text, labelled_by, labelled_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (message_id) DO UPDATE SET intent = excluded.intent, text = excluded.text, \
                     labelled_by = excluded.labelled_by, labelled_at = excluded.labelled_at",
                    params![label.message_id.0, label.intent, label.text, label.labelled_by.map(|u| u.0), ts(label.labelled_at)],
                )?;
                c.execute(
                    "UPDATE message_triage SET intent = ?2, intent_confidence = 1.0, intent_by_agent = 1 WHERE message_id = ?1",
                    params![label.message_id.0, label.intent],
                )?;
                Ok(())
            })
            .await
    }

    async fn intent_labels(&self) -> Result<Vec<IntentLabel>> {
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT message_id, intent, text, labelled_by, labelled_at FROM intent_labels ORDER BY labelled_at, message_id",
                )?;
                let rows = st.query_map([], label_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    async fn save_intent_model(&self, bytes: Vec<u8>, examples: i64, note: &str) -> Result<i64> {
        let note = note.to_owned();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO intent_models (created_at, examples, note, bytes) VALUES (?1, ?2, ?3, ?4)",
                    params![ts(chrono::Utc::now()), examples, note, bytes],
                )?;
                Ok(c.last_insert_rowid())
            })
            .await
    }

    async fn active_intent_model(&self) -> Result<Option<IntentModelRecord>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT version, created_at, examples, note, bytes FROM intent_models ORDER BY version DESC LIMIT 1",
                )?
                .query_row([], model_from_row)
                .optional()?)
            })
            .await
    }

    async fn untriaged_messages(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>> {
        let limit = limit.min(10_000) as i64;
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT m.id FROM messages m WHERE m.id > ?1 AND m.direction = 'inbound' \
                     AND NOT EXISTS (SELECT 1 FROM message_triage t WHERE t.message_id = m.id) ORDER BY m.id LIMIT ?2",
                )?;
                let rows = st
                    .query_map(params![after.0, limit], |r| Ok(MessageId(r.get(0)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    async fn latest_triaged_message(&self) -> Result<Option<MessageId>> {
        self.conns
            .read(move |c| {
                Ok(c.query_row("SELECT message_id FROM message_triage ORDER BY message_id DESC LIMIT 1", [], |r| {
                    r.get::<_, Uuid>(0)
                })
                .optional()?
                .map(MessageId))
            })
            .await
    }

    async fn intent_models(&self) -> Result<Vec<IntentModelRecord>> {
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT version, created_at, examples, note, X'' FROM intent_models ORDER BY version DESC",
                )?;
                let rows = st.query_map([], model_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }
}
