//! [`XStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use switchboard_domain::{ChannelSlug, ConversationId, FactKind, Message, MessageId, UserId};
use uuid::Uuid;

use super::{MSG_COLS, PgStore, msg_from_row};
use crate::Result;
use crate::x::{ActivityRecord, DELETED_TEXT, SendSchedule, XStore};

#[async_trait]
impl XStore for PgStore {
    async fn mark_post_deleted(
        &self,
        channel: &ChannelSlug,
        tweet_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Message>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO x_deleted_posts (channel, tweet_id, deleted_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(channel.as_str())
        .bind(tweet_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        // The stored event too: a message threaded from it later carries no content.
        sqlx::query(
            "UPDATE inbound_events SET payload = ((payload::jsonb || jsonb_build_object('text', $3::text, 'attachments', '[]'::jsonb)) \
             #- '{extra,raw}')::text WHERE channel = $1 AND provider_event_id = $2",
        )
        .bind(channel.as_str())
        .bind(tweet_id)
        .bind(DELETED_TEXT)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "UPDATE messages SET text = $3, attachments = '[]' WHERE provider_message_id = $2 \
             AND conversation_id IN (SELECT id FROM conversations WHERE channel = $1) RETURNING {MSG_COLS}"
        ))
        .bind(channel.as_str())
        .bind(tweet_id)
        .bind(DELETED_TEXT)
        .fetch_all(&mut *tx)
        .await?;
        let out = rows.iter().map(msg_from_row).collect::<Result<Vec<_>>>()?;
        // Copies of the content: the triage's redacted text and findings, an agent's intent label.
        for m in &out {
            sqlx::query("UPDATE message_triage SET redacted_text = $2, pii = '[]' WHERE message_id = $1")
                .bind(m.id.0)
                .bind(DELETED_TEXT)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM intent_labels WHERE message_id = $1").bind(m.id.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn post_deleted(&self, channel: &ChannelSlug, tweet_id: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT EXISTS (SELECT 1 FROM x_deleted_posts WHERE channel = $1 AND tweet_id = $2)")
            .bind(channel.as_str())
            .bind(tweet_id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    async fn thread_of_post(&self, channel: &ChannelSlug, tweet_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT c.thread_key FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.provider_message_id = $2 AND c.channel = $1 LIMIT 1",
        )
        .bind(channel.as_str())
        .bind(tweet_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
    }

    async fn record_activity(&self, channel: &ChannelSlug, a: &ActivityRecord) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO x_activity (channel, event_id, kind, user_id, tweet_id, at, raw) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT DO NOTHING",
        )
        .bind(channel.as_str())
        .bind(&a.event_id)
        .bind(&a.kind)
        .bind(&a.user_id)
        .bind(&a.tweet_id)
        .bind(a.at)
        .bind(a.raw.to_string())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn count_activity(&self, channel: &ChannelSlug, kind: &str) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM x_activity WHERE channel = $1 AND kind = $2")
            .bind(channel.as_str())
            .bind(kind)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    async fn record_pii_override(
        &self,
        conversation_id: ConversationId,
        actor: Option<UserId>,
        data: serde_json::Value,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO conversation_facts (id, conversation_id, kind, actor_id, data, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(conversation_id.0)
        .bind(FactKind::PiiOverride.as_str())
        .bind(actor.map(|a| a.0))
        .bind(data.to_string())
        .bind(crate::now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn poll_cursor(&self, channel: &ChannelSlug, stream: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT cursor FROM x_poll_cursors WHERE channel = $1 AND stream = $2")
            .bind(channel.as_str())
            .bind(stream)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    async fn set_poll_cursor(&self, channel: &ChannelSlug, stream: &str, cursor: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO x_poll_cursors (channel, stream, cursor, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (channel, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(channel.as_str())
        .bind(stream)
        .bind(cursor)
        .bind(crate::now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn send_schedule(&self, message_id: MessageId) -> Result<Option<SendSchedule>> {
        let Some(r) =
            sqlx::query("SELECT state, attempts, next_attempt_at, last_error FROM outbox WHERE message_id = $1")
                .bind(message_id.0)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let state: String = r.try_get(0)?;
        let next: DateTime<Utc> = r.try_get(2)?;
        Ok(Some(SendSchedule {
            next_attempt_at: matches!(state.as_str(), "pending" | "sending").then_some(next),
            attempts: r.try_get(1)?,
            last_error: r.try_get(3)?,
            state,
        }))
    }
}
