//! [`ChannelStateStore`] on PostgreSQL. A report and the application of kept reports for the same
//! provider id take one transaction-scoped advisory lock, so a report is never kept after the
//! kept reports were applied.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use switchboard_domain::{ChannelSlug, ConversationId, DeliveryStatus, Message, MessageId};
use uuid::Uuid;

use super::{MSG_COLS, PgStore, Tx, msg_from_row};
use crate::channel_state::{PENDING_REPORT_TTL, pending_order, thread_visibility};
use crate::{ChannelStateStore, EchoOutcome, EchoRecord, MediaFile, MediaJob, ReplyContext, Result, StoreError};

async fn lock(tx: &mut Tx<'_>, channel: &str, pmid: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("delivery:{channel}:{pmid}"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn outbound_by_provider_id(tx: &mut Tx<'_>, channel: &str, pmid: &str) -> Result<Option<Message>> {
    sqlx::query(&format!(
        "SELECT {} FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.provider_message_id = $1 AND c.channel = $2 AND m.direction = 'outbound' FOR UPDATE OF m",
        crate::qualified(MSG_COLS, "m")
    ))
    .bind(pmid)
    .bind(channel)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(msg_from_row)
    .transpose()
}

async fn advance(tx: &mut Tx<'_>, msg: Message, status: DeliveryStatus, reason: Option<&str>) -> Result<Message> {
    let current = msg.delivery_status.unwrap_or(DeliveryStatus::Queued);
    if !current.should_advance_to(status) {
        return Ok(msg);
    }
    let reason = if status == DeliveryStatus::Failed { reason } else { None };
    let row = sqlx::query(&format!(
        "UPDATE messages SET delivery_status = $2, failure_reason = $3 WHERE id = $1 RETURNING {MSG_COLS}"
    ))
    .bind(msg.id.0)
    .bind(status.as_str())
    .bind(reason)
    .fetch_one(&mut **tx)
    .await?;
    msg_from_row(&row)
}

#[async_trait]
impl ChannelStateStore for PgStore {
    async fn report_delivery(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
        status: DeliveryStatus,
        reason: Option<&str>,
    ) -> Result<Option<Message>> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, channel.as_str(), provider_message_id).await?;
        let out = match outbound_by_provider_id(&mut tx, channel.as_str(), provider_message_id).await? {
            Some(msg) => Some(advance(&mut tx, msg, status, reason).await?),
            None => {
                sqlx::query(
                    "INSERT INTO pending_delivery_reports (channel, provider_message_id, status, reason, received_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(channel.as_str())
                .bind(provider_message_id)
                .bind(status.as_str())
                .bind(reason)
                .bind(crate::now_micros())
                .execute(&mut *tx)
                .await?;
                None
            }
        };
        tx.commit().await?;
        if out.is_none() {
            // Old reports nobody claimed; rows another session is deleting are skipped.
            sqlx::query(
                "DELETE FROM pending_delivery_reports WHERE ctid IN (SELECT ctid FROM pending_delivery_reports \
                 WHERE received_at < $1 LIMIT 100 FOR UPDATE SKIP LOCKED)",
            )
            .bind(crate::now_micros() - PENDING_REPORT_TTL)
            .execute(&self.pool)
            .await?;
        }
        Ok(out)
    }

    async fn apply_pending_deliveries(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
    ) -> Result<Option<Message>> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, channel.as_str(), provider_message_id).await?;
        let rows = sqlx::query(
            "DELETE FROM pending_delivery_reports WHERE channel = $1 AND provider_message_id = $2 RETURNING status, reason",
        )
        .bind(channel.as_str())
        .bind(provider_message_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut pending: Vec<(String, Option<String>)> =
            rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("reason")?))).collect::<Result<_>>()?;
        if pending.is_empty() {
            return Ok(None);
        }
        let Some(mut msg) = outbound_by_provider_id(&mut tx, channel.as_str(), provider_message_id).await? else {
            // Not recorded yet: the rollback keeps the reports for the next call.
            return Ok(None);
        };
        pending.sort_by_key(|(s, _)| pending_order(s));
        for (status, reason) in pending {
            let Ok(status) = status.parse::<DeliveryStatus>() else { continue };
            msg = advance(&mut tx, msg, status, reason.as_deref()).await?;
        }
        tx.commit().await?;
        Ok(Some(msg))
    }

    async fn mark_read_until(
        &self,
        channel: &ChannelSlug,
        customer: &str,
        watermark: DateTime<Utc>,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "UPDATE messages SET delivery_status = 'read' WHERE id IN (\
               SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
               JOIN contact_identities i ON i.contact_id = c.contact_id AND i.channel = c.channel \
               WHERE c.channel = $1 AND i.provider_user_id = $2 AND m.direction = 'outbound' \
               AND m.delivery_status IN ('sent', 'delivered') AND m.sent_at <= $3) RETURNING {MSG_COLS}"
        ))
        .bind(channel.as_str())
        .bind(customer)
        .bind(watermark)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(msg_from_row).collect()
    }

    async fn record_echo(&self, channel: &ChannelSlug, echo: &EchoRecord) -> Result<EchoOutcome> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, channel.as_str(), &echo.provider_message_id).await?;
        if outbound_by_provider_id(&mut tx, channel.as_str(), &echo.provider_message_id).await?.is_some() {
            return Ok(EchoOutcome::Known);
        }
        if echo.sent_by_switchboard {
            // Our own send: if its answer was never recorded, the echo records it.
            let Some(row) = echo.switchboard_key.as_deref().and_then(|k| Uuid::parse_str(k).ok()) else {
                return Ok(EchoOutcome::Known);
            };
            let mid: Option<Uuid> = sqlx::query_scalar(
                "UPDATE outbox SET state = 'sent', lease_until = NULL, sent_at = $3, last_error = NULL \
                 WHERE id = $1 AND channel = $2 AND state IN ('pending', 'sending') RETURNING message_id",
            )
            .bind(row)
            .bind(channel.as_str())
            .bind(crate::now_micros())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(mid) = mid else { return Ok(EchoOutcome::Known) };
            let row = sqlx::query(&format!(
                "UPDATE messages SET provider_message_id = $2, failure_reason = NULL, delivery_status = \
                 CASE WHEN delivery_status IN ('queued', 'failed') THEN 'sent' ELSE delivery_status END WHERE id = $1 RETURNING {MSG_COLS}"
            ))
            .bind(mid)
            .bind(&echo.provider_message_id)
            .fetch_one(&mut *tx)
            .await?;
            let msg = msg_from_row(&row)?;
            tx.commit().await?;
            return Ok(EchoOutcome::CompletedSend(msg));
        }
        let conv: Option<Uuid> = sqlx::query_scalar(
            "SELECT c.id FROM conversations c JOIN contact_identities i ON i.contact_id = c.contact_id \
             WHERE i.channel = $1 AND i.provider_user_id = $2 AND c.channel = $1 AND c.thread_key = $3 \
             ORDER BY c.created_at DESC LIMIT 1",
        )
        .bind(channel.as_str())
        .bind(&echo.recipient)
        .bind(&echo.thread_key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(conv) = conv else { return Ok(EchoOutcome::NoConversation) };
        // Providers without send metadata (Instagram, X) echo our own send, possibly before its
        // answer is recorded or after it was lost: the oldest reply with the same text that was
        // tried and is not recorded as sent is that send; the echo records it (so a retry does
        // not post it again).
        let done: Option<Uuid> = sqlx::query_scalar(
            "UPDATE outbox SET state = 'sent', lease_until = NULL, sent_at = $3, last_error = NULL WHERE id = \
             (SELECT o.id FROM outbox o JOIN messages m ON m.id = o.message_id WHERE m.conversation_id = $1 \
             AND m.direction = 'outbound' AND m.provider_message_id IS NULL AND m.text = $2 \
             AND o.state IN ('pending', 'sending') AND o.attempts >= 1 ORDER BY m.created_at, m.id LIMIT 1 FOR UPDATE OF o) \
             AND state IN ('pending', 'sending') RETURNING message_id",
        )
        .bind(conv)
        .bind(&echo.text)
        .bind(crate::now_micros())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(mid) = done {
            let row = sqlx::query(&format!(
                "UPDATE messages SET provider_message_id = $2, failure_reason = NULL, delivery_status = \
                 CASE WHEN delivery_status IN ('queued', 'failed') THEN 'sent' ELSE delivery_status END WHERE id = $1 RETURNING {MSG_COLS}"
            ))
            .bind(mid)
            .bind(&echo.provider_message_id)
            .fetch_one(&mut *tx)
            .await?;
            let msg = msg_from_row(&row)?;
            tx.commit().await?;
            return Ok(EchoOutcome::CompletedSend(msg));
        }
        let in_flight: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND direction = 'outbound' \
             AND provider_message_id IS NULL AND text = $2 AND author_id IS NOT NULL)",
        )
        .bind(conv)
        .bind(&echo.text)
        .fetch_one(&mut *tx)
        .await?;
        if in_flight {
            return Ok(EchoOutcome::Known);
        }
        let now = crate::now_micros();
        let row = sqlx::query(&format!(
            "INSERT INTO messages (id, conversation_id, direction, visibility, text, attachments, provider_message_id, \
             delivery_status, sent_at, created_at) VALUES ($1, $2, 'outbound', $3, $4, $5, $6, 'sent', $7, $8) RETURNING {MSG_COLS}"
        ))
        .bind(MessageId::new().0)
        .bind(conv)
        .bind(thread_visibility(&echo.thread_key))
        .bind(&echo.text)
        .bind(serde_json::to_string(&echo.attachments)?)
        .bind(&echo.provider_message_id)
        .bind(echo.sent_at)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE conversations SET last_message_at = $2, updated_at = $2 WHERE id = $1")
            .bind(conv)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let msg = msg_from_row(&row)?;
        tx.commit().await?;
        Ok(EchoOutcome::Recorded(msg))
    }

    async fn link_identity(&self, channel: &ChannelSlug, provider_user_id: &str, alias: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (known, new) in [(alias, provider_user_id), (provider_user_id, alias)] {
            sqlx::query(
                "INSERT INTO contact_identities (channel, provider_user_id, contact_id, handle, display_name, created_at) \
                 SELECT channel, $3, contact_id, handle, display_name, $4 FROM contact_identities \
                 WHERE channel = $1 AND provider_user_id = $2 ON CONFLICT DO NOTHING",
            )
            .bind(channel.as_str())
            .bind(known)
            .bind(new)
            .bind(crate::now_micros())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_reply_payload(&self, stored_key: &str, payload: &serde_json::Value) -> Result<()> {
        sqlx::query(
            "INSERT INTO reply_payloads (idempotency_key, payload, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(stored_key)
        .bind(payload.to_string())
        .bind(crate::now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reply_payload(&self, message_id: MessageId) -> Result<Option<serde_json::Value>> {
        let s: Option<String> = sqlx::query_scalar(
            "SELECT p.payload FROM reply_payloads p JOIN messages m ON m.idempotency_key = p.idempotency_key WHERE m.id = $1",
        )
        .bind(message_id.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(s.map(|s| serde_json::from_str(&s)).transpose()?)
    }

    async fn reply_context(&self, conversation_id: ConversationId) -> Result<ReplyContext> {
        let last = sqlx::query(
            "SELECT provider_message_id, sent_at FROM messages WHERE conversation_id = $1 AND direction = 'inbound' \
             ORDER BY sent_at DESC, created_at DESC LIMIT 1",
        )
        .bind(conversation_id.0)
        .fetch_optional(&self.pool)
        .await?;
        let handle: Option<String> = sqlx::query_scalar(
            "SELECT i.handle FROM contact_identities i JOIN conversations c ON c.contact_id = i.contact_id AND i.channel = c.channel \
             WHERE c.id = $1 AND i.handle IS NOT NULL ORDER BY (i.handle LIKE '+%') DESC, i.created_at LIMIT 1",
        )
        .bind(conversation_id.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(ReplyContext {
            recipient_handle: handle,
            last_inbound_id: last.as_ref().map(|r| r.try_get("provider_message_id")).transpose()?.flatten(),
            last_inbound_at: last.as_ref().map(|r| r.try_get("sent_at")).transpose()?,
        })
    }

    async fn enqueue_media(
        &self,
        channel: &ChannelSlug,
        message_id: MessageId,
        index: i32,
        provider_id: &str,
    ) -> Result<()> {
        let now = crate::now_micros();
        sqlx::query(
            "INSERT INTO media_downloads (message_id, attachment_index, channel, provider_id, state, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(message_id.0)
        .bind(index)
        .bind(channel.as_str())
        .bind(provider_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_media(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: usize) -> Result<Vec<MediaJob>> {
        let rows = sqlx::query(
            "UPDATE media_downloads d SET attempts = d.attempts + 1, lease_until = $2 FROM (\
               SELECT message_id, attachment_index FROM media_downloads WHERE state = 'pending' AND next_attempt_at <= $1 \
               AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) due \
             WHERE d.message_id = due.message_id AND d.attachment_index = due.attachment_index \
             RETURNING d.message_id, d.attachment_index, d.channel, d.provider_id, d.attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let ch: String = r.try_get("channel")?;
                Ok(MediaJob {
                    message_id: MessageId(r.try_get("message_id")?),
                    index: r.try_get("attachment_index")?,
                    channel: ChannelSlug::parse(&ch).map_err(|e| StoreError::Backend(e.to_string()))?,
                    provider_id: r.try_get("provider_id")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    async fn complete_media(
        &self,
        message_id: MessageId,
        index: i32,
        path: &str,
        mime_type: &str,
        size: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE media_downloads SET state = 'done', lease_until = NULL, path = $3, mime_type = $4, size = $5, last_error = NULL \
             WHERE message_id = $1 AND attachment_index = $2",
        )
        .bind(message_id.0)
        .bind(index)
        .bind(path)
        .bind(mime_type)
        .bind(size)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn fail_media(
        &self,
        message_id: MessageId,
        index: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let q = match retry_at {
            Some(at) => sqlx::query(
                "UPDATE media_downloads SET lease_until = NULL, next_attempt_at = $3, last_error = $4 \
                 WHERE message_id = $1 AND attachment_index = $2",
            )
            .bind(message_id.0)
            .bind(index)
            .bind(at)
            .bind(error),
            None => sqlx::query(
                "UPDATE media_downloads SET state = 'failed', lease_until = NULL, last_error = $3 \
                 WHERE message_id = $1 AND attachment_index = $2",
            )
            .bind(message_id.0)
            .bind(index)
            .bind(error),
        };
        q.execute(&self.pool).await?;
        Ok(())
    }

    async fn media_file(&self, message_id: MessageId, index: i32) -> Result<Option<MediaFile>> {
        let row = sqlx::query(
            "SELECT state, path, mime_type, size, last_error FROM media_downloads WHERE message_id = $1 AND attachment_index = $2",
        )
        .bind(message_id.0)
        .bind(index)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(MediaFile {
                state: r.try_get("state")?,
                path: r.try_get("path")?,
                mime_type: r.try_get("mime_type")?,
                size: r.try_get("size")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .transpose()
    }
}
