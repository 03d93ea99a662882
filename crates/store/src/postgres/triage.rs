//! [`TriageStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::{ConversationId, MessageId, UserId};
use uuid::Uuid;

use super::PgStore;
use crate::triage::{IntentLabel, IntentModelRecord, MessageTriage, TriageStore};
use crate::{Result, StoreError};

const TRIAGE_COLS: &str = "message_id, conversation_id, language, language_confidence, sentiment, sentiment_score, \
     intent, intent_confidence, intent_by_agent, priority, priority_reasons, pii, redacted_text, \
     intent_model_version, created_at";

fn triage_from_row(r: &PgRow) -> Result<MessageTriage> {
    Ok(MessageTriage {
        message_id: MessageId(r.try_get("message_id")?),
        conversation_id: ConversationId(r.try_get("conversation_id")?),
        language: r.try_get("language")?,
        language_confidence: r.try_get("language_confidence")?,
        sentiment: r.try_get("sentiment")?,
        sentiment_score: r.try_get("sentiment_score")?,
        intent: r.try_get("intent")?,
        intent_confidence: r.try_get("intent_confidence")?,
        intent_by_agent: r.try_get("intent_by_agent")?,
        priority: r.try_get("priority")?,
        priority_reasons: serde_json::from_value(r.try_get("priority_reasons")?)?,
        pii: serde_json::from_value(r.try_get("pii")?)?,
        redacted_text: r.try_get("redacted_text")?,
        intent_model_version: r.try_get("intent_model_version")?,
        created_at: r.try_get("created_at")?,
    })
}

fn model_from_row(r: &PgRow) -> Result<IntentModelRecord> {
    Ok(IntentModelRecord {
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        examples: r.try_get("examples")?,
        note: r.try_get("note")?,
        bytes: r.try_get("bytes")?,
    })
}

#[async_trait]
impl TriageStore for PgStore {
    async fn save_triage(&self, rows: Vec<MessageTriage>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for t in &rows {
            sqlx::query(&format!(
                "INSERT INTO message_triage ({TRIAGE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (message_id) DO UPDATE SET language = excluded.language, \
                 language_confidence = excluded.language_confidence, sentiment = excluded.sentiment, \
                 sentiment_score = excluded.sentiment_score, \
                 intent = CASE WHEN message_triage.intent_by_agent THEN message_triage.intent ELSE excluded.intent END, \
                 intent_confidence = CASE WHEN message_triage.intent_by_agent THEN message_triage.intent_confidence ELSE excluded.intent_confidence END, \
                 priority = excluded.priority, priority_reasons = excluded.priority_reasons, pii = excluded.pii, \
                 redacted_text = excluded.redacted_text, intent_model_version = excluded.intent_model_version, \
                 created_at = excluded.created_at"
            ))
            .bind(t.message_id.0)
            .bind(t.conversation_id.0)
            .bind(&t.language)
            .bind(t.language_confidence)
            .bind(&t.sentiment)
            .bind(t.sentiment_score)
            .bind(&t.intent)
            .bind(t.intent_confidence)
            .bind(t.intent_by_agent)
            .bind(&t.priority)
            .bind(serde_json::to_value(&t.priority_reasons)?)
            .bind(serde_json::to_value(&t.pii)?)
            .bind(&t.redacted_text)
            .bind(t.intent_model_version)
            .bind(t.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn message_triage(&self, id: MessageId) -> Result<Option<MessageTriage>> {
        let row = sqlx::query(&format!("SELECT {TRIAGE_COLS} FROM message_triage WHERE message_id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(triage_from_row).transpose()
    }

    async fn conversation_message_triage(&self, id: ConversationId) -> Result<Vec<MessageTriage>> {
        let rows = sqlx::query(&format!(
            "SELECT {TRIAGE_COLS} FROM message_triage WHERE conversation_id = $1 ORDER BY message_id"
        ))
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(triage_from_row).collect()
    }

    async fn conversation_triage(&self, id: ConversationId) -> Result<Option<MessageTriage>> {
        let row = sqlx::query(&format!(
            "SELECT {TRIAGE_COLS} FROM message_triage WHERE conversation_id = $1 \
             ORDER BY created_at DESC, message_id DESC LIMIT 1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(triage_from_row).transpose()
    }

    async fn label_intent(&self, label: IntentLabel) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM messages WHERE id = $1)")
            .bind(label.message_id.0)
            .fetch_one(&mut *tx)
            .await?;
        if !exists {
            return Err(StoreError::NotFound("message"));
        }
        sqlx::query(
            "INSERT INTO intent_labels (message_id, intent, text, labelled_by, labelled_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (message_id) DO UPDATE SET intent = excluded.intent, text = excluded.text, \
             labelled_by = excluded.labelled_by, labelled_at = excluded.labelled_at",
        )
        .bind(label.message_id.0)
        .bind(&label.intent)
        .bind(&label.text)
        .bind(label.labelled_by.map(|u| u.0))
        .bind(label.labelled_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE message_triage SET intent = $2, intent_confidence = 1.0, intent_by_agent = TRUE WHERE message_id = $1",
        )
        .bind(label.message_id.0)
        .bind(&label.intent)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn intent_labels(&self) -> Result<Vec<IntentLabel>> {
        let rows = sqlx::query(
            "SELECT message_id, intent, text, labelled_by, labelled_at FROM intent_labels ORDER BY labelled_at, message_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(IntentLabel {
                    message_id: MessageId(r.try_get("message_id")?),
                    intent: r.try_get("intent")?,
                    text: r.try_get("text")?,
                    labelled_by: r.try_get::<Option<Uuid>, _>("labelled_by")?.map(UserId),
                    labelled_at: r.try_get::<DateTime<Utc>, _>("labelled_at")?,
                })
            })
            .collect()
    }

    async fn save_intent_model(&self, bytes: Vec<u8>, examples: i64, note: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO intent_models (created_at, examples, note, bytes) VALUES ($1, $2, $3, $4) RETURNING version",
        )
        .bind(crate::now_micros())
        .bind(examples)
        .bind(note)
        .bind(bytes)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn active_intent_model(&self) -> Result<Option<IntentModelRecord>> {
        let row = sqlx::query(
            "SELECT version, created_at, examples, note, bytes FROM intent_models ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(model_from_row).transpose()
    }

    async fn untriaged_messages(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT m.id FROM messages m WHERE m.id > $1 AND m.direction = 'inbound' \
             AND NOT EXISTS (SELECT 1 FROM message_triage t WHERE t.message_id = m.id) ORDER BY m.id LIMIT $2",
        )
        .bind(after.0)
        .bind(limit.min(10_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(MessageId).collect())
    }

    async fn latest_triaged_message(&self) -> Result<Option<MessageId>> {
        let id: Option<Uuid> =
            sqlx::query_scalar("SELECT message_id FROM message_triage ORDER BY message_id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(id.map(MessageId))
    }

    async fn intent_models(&self) -> Result<Vec<IntentModelRecord>> {
        let rows = sqlx::query(
            "SELECT version, created_at, examples, note, ''::bytea AS bytes FROM intent_models ORDER BY version DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(model_from_row).collect()
    }
}
