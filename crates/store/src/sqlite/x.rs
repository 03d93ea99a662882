//! [`XStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use switchboard_domain::{ChannelSlug, ConversationId, FactKind, Message, MessageId, UserId};
use uuid::Uuid;

use super::{MSG_COLS, SqliteStore, from_ts, msg_from_row, ts};
use crate::Result;
use crate::x::{ActivityRecord, DELETED_TEXT, SendSchedule, XStore};

#[async_trait]
impl XStore for SqliteStore {
    async fn mark_post_deleted(
        &self,
        channel: &ChannelSlug,
        tweet_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Message>> {
        let (channel, tid) = (channel.clone(), tweet_id.to_owned());
        self.conns
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO x_deleted_posts (channel, tweet_id, deleted_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                )?
                .execute(params![channel.as_str(), tid, ts(at)])?;
                // The stored event too: a message threaded from it later carries no content.
                c.prepare_cached(
                    "UPDATE inbound_events SET payload = json_remove(json_set(payload, '$.text', ?3, '$.attachments', json('[]')), '$.extra.raw') \
                     WHERE channel = ?1 AND provider_event_id = ?2",
                )?
                .execute(params![channel.as_str(), tid, DELETED_TEXT])?;
                let mut stmt = c.prepare_cached(&format!(
                    "UPDATE messages SET text = ?3, attachments = '[]' WHERE provider_message_id = ?2 \
                     AND conversation_id IN (SELECT id FROM conversations WHERE channel = ?1) RETURNING {MSG_COLS}"
                ))?;
                let rows = stmt.query_map(params![channel.as_str(), tid, DELETED_TEXT], msg_from_row)?;
                let out = rows.collect::<Result<Vec<_>, _>>()?;
                // Copies of the content: the triage's redacted text and findings, an agent's intent label.
                for m in &out {
                    c.prepare_cached("UPDATE message_triage SET redacted_text = ?2, pii = '[]' WHERE message_id = ?1")?
                        .execute(params![m.id.0, DELETED_TEXT])?;
                    c.prepare_cached("DELETE FROM intent_labels WHERE message_id = ?1")?.execute([m.id.0])?;
                }
                Ok(out)
            })
            .await
    }

    async fn post_deleted(&self, channel: &ChannelSlug, tweet_id: &str) -> Result<bool> {
        let (channel, tid) = (channel.clone(), tweet_id.to_owned());
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM x_deleted_posts WHERE channel = ?1 AND tweet_id = ?2)",
                )?
                .query_row(params![channel.as_str(), tid], |r| r.get(0))?)
            })
            .await
    }

    async fn thread_of_post(&self, channel: &ChannelSlug, tweet_id: &str) -> Result<Option<String>> {
        let (channel, tid) = (channel.clone(), tweet_id.to_owned());
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT c.thread_key FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                     WHERE m.provider_message_id = ?2 AND c.channel = ?1 LIMIT 1",
                )?
                .query_row(params![channel.as_str(), tid], |r| r.get(0))
                .optional()?)
            })
            .await
    }

    async fn record_activity(&self, channel: &ChannelSlug, a: &ActivityRecord) -> Result<bool> {
        let (channel, a, raw) = (channel.clone(), a.clone(), a.raw.to_string());
        self.conns
            .write(move |c| {
                let n = c
                    .prepare_cached(
                        "INSERT INTO x_activity (channel, event_id, kind, user_id, tweet_id, at, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![channel.as_str(), a.event_id, a.kind, a.user_id, a.tweet_id, ts(a.at), raw])?;
                Ok(n == 1)
            })
            .await
    }

    async fn count_activity(&self, channel: &ChannelSlug, kind: &str) -> Result<i64> {
        let (channel, kind) = (channel.clone(), kind.to_owned());
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached("SELECT COUNT(*) FROM x_activity WHERE channel = ?1 AND kind = ?2")?
                    .query_row(params![channel.as_str(), kind], |r| r.get(0))?)
            })
            .await
    }

    async fn record_pii_override(
        &self,
        conversation_id: ConversationId,
        actor: Option<UserId>,
        data: serde_json::Value,
    ) -> Result<()> {
        let data = data.to_string();
        self.conns
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO conversation_facts (id, conversation_id, kind, actor_id, data, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    Uuid::now_v7(),
                    conversation_id.0,
                    FactKind::PiiOverride.as_str(),
                    actor.map(|a| a.0),
                    data,
                    ts(Utc::now())
                ])?;
                Ok(())
            })
            .await
    }

    async fn poll_cursor(&self, channel: &ChannelSlug, stream: &str) -> Result<Option<String>> {
        let (channel, stream) = (channel.clone(), stream.to_owned());
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached("SELECT cursor FROM x_poll_cursors WHERE channel = ?1 AND stream = ?2")?
                    .query_row(params![channel.as_str(), stream], |r| r.get(0))
                    .optional()?)
            })
            .await
    }

    async fn set_poll_cursor(&self, channel: &ChannelSlug, stream: &str, cursor: &str) -> Result<()> {
        let (channel, stream, cursor) = (channel.clone(), stream.to_owned(), cursor.to_owned());
        self.conns
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO x_poll_cursors (channel, stream, cursor, updated_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (channel, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                )?
                .execute(params![channel.as_str(), stream, cursor, ts(Utc::now())])?;
                Ok(())
            })
            .await
    }

    async fn send_schedule(&self, message_id: MessageId) -> Result<Option<SendSchedule>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT state, attempts, next_attempt_at, last_error FROM outbox WHERE message_id = ?1",
                )?
                .query_row([message_id.0], |r| {
                    let state: String = r.get(0)?;
                    let next: i64 = r.get(2)?;
                    Ok(SendSchedule {
                        next_attempt_at: matches!(state.as_str(), "pending" | "sending").then(|| from_ts(next)),
                        state,
                        attempts: r.get(1)?,
                        last_error: r.get(3)?,
                    })
                })
                .optional()?)
            })
            .await
    }
}
