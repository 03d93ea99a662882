//! [`ChannelStateStore`] on SQLite. Every write runs on the single writer, so a report and the
//! send it names are applied in one order or the other, never lost between them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use switchboard_domain::{ChannelSlug, ConversationId, DeliveryStatus, Message, MessageId};

use super::parse_slug;
use uuid::Uuid;

use super::{MSG_COLS, SqliteStore, from_ts, msg_from_row, ts};
use crate::channel_state::{PENDING_REPORT_TTL, pending_order, thread_visibility};
use crate::{ChannelStateStore, EchoOutcome, EchoRecord, MediaFile, MediaJob, ReplyContext, Result};

fn outbound_by_provider_id(c: &Connection, channel: &str, pmid: &str) -> Result<Option<Message>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {} FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.provider_message_id = ?1 AND c.channel = ?2 AND m.direction = 'outbound'",
        crate::qualified(MSG_COLS, "m")
    ))?
    .query_row(params![pmid, channel], msg_from_row)
    .optional()?)
}

fn advance(c: &Connection, msg: &Message, status: DeliveryStatus, reason: Option<&str>) -> Result<bool> {
    let current = msg.delivery_status.unwrap_or(DeliveryStatus::Queued);
    if !current.should_advance_to(status) {
        return Ok(false);
    }
    let reason = if status == DeliveryStatus::Failed { reason } else { None };
    c.execute(
        "UPDATE messages SET delivery_status = ?2, failure_reason = ?3 WHERE id = ?1",
        params![msg.id.0, status.as_str(), reason],
    )?;
    Ok(true)
}

fn message(c: &Connection, id: MessageId) -> Result<Option<Message>> {
    Ok(c.prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE id = ?1"))?
        .query_row([id.0], msg_from_row)
        .optional()?)
}

#[async_trait]
impl ChannelStateStore for SqliteStore {
    async fn report_delivery(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
        status: DeliveryStatus,
        reason: Option<&str>,
    ) -> Result<Option<Message>> {
        let (channel, pmid, reason) = (channel.clone(), provider_message_id.to_owned(), reason.map(str::to_owned));
        self.conns
            .write(move |c| {
                match outbound_by_provider_id(c, channel.as_str(), &pmid)? {
                    Some(msg) => {
                        advance(c, &msg, status, reason.as_deref())?;
                        message(c, msg.id)
                    }
                    None => {
                        c.execute(
                            "INSERT INTO pending_delivery_reports (channel, provider_message_id, status, reason, received_at) \
                             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                            params![channel.as_str(), pmid, status.as_str(), reason, ts(Utc::now())],
                        )?;
                        c.prepare_cached("DELETE FROM pending_delivery_reports WHERE received_at < ?1")?
                            .execute([ts(Utc::now() - PENDING_REPORT_TTL)])?;
                        Ok(None)
                    }
                }
            })
            .await
    }

    async fn apply_pending_deliveries(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
    ) -> Result<Option<Message>> {
        let (channel, pmid) = (channel.clone(), provider_message_id.to_owned());
        self.conns
            .write(move |c| {
                let mut pending: Vec<(String, Option<String>)> = c
                    .prepare_cached(
                        "DELETE FROM pending_delivery_reports WHERE channel = ?1 AND provider_message_id = ?2 RETURNING status, reason",
                    )?
                    .query_map(params![channel.as_str(), pmid], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                if pending.is_empty() {
                    return Ok(None);
                }
                let Some(mut msg) = outbound_by_provider_id(c, channel.as_str(), &pmid)? else { return Ok(None) };
                pending.sort_by_key(|(s, _)| pending_order(s));
                for (status, reason) in pending {
                    let Ok(status) = status.parse::<DeliveryStatus>() else { continue };
                    if advance(c, &msg, status, reason.as_deref())? {
                        msg = message(c, msg.id)?.unwrap_or(msg);
                    }
                }
                Ok(Some(msg))
            })
            .await
    }

    async fn mark_read_until(
        &self,
        channel: &ChannelSlug,
        customer: &str,
        watermark: DateTime<Utc>,
    ) -> Result<Vec<Message>> {
        let (channel, customer) = (channel.clone(), customer.to_owned());
        self.conns
            .write(move |c| {
                let ids: Vec<Uuid> = c
                    .prepare_cached(
                        "UPDATE messages SET delivery_status = 'read' WHERE id IN (\
                           SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                           JOIN contact_identities i ON i.contact_id = c.contact_id AND i.channel = c.channel \
                           WHERE c.channel = ?1 AND i.provider_user_id = ?2 AND m.direction = 'outbound' \
                           AND m.delivery_status IN ('sent', 'delivered') AND m.sent_at <= ?3) RETURNING id",
                    )?
                    .query_map(params![channel.as_str(), customer, ts(watermark)], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.extend(message(c, MessageId(id))?);
                }
                Ok(out)
            })
            .await
    }

    async fn record_echo(&self, channel: &ChannelSlug, echo: &EchoRecord) -> Result<EchoOutcome> {
        let (channel, echo) = (channel.clone(), echo.clone());
        self.conns
            .write(move |c| {
                if outbound_by_provider_id(c, channel.as_str(), &echo.provider_message_id)?.is_some() {
                    return Ok(EchoOutcome::Known);
                }
                if echo.sent_by_switchboard {
                    // Our own send: if its answer was never recorded, the echo records it.
                    let Some(row) = echo.switchboard_key.as_deref().and_then(|k| Uuid::parse_str(k).ok()) else {
                        return Ok(EchoOutcome::Known);
                    };
                    let changed = c.execute(
                        "UPDATE outbox SET state = 'sent', lease_until = NULL, sent_at = ?3, last_error = NULL \
                         WHERE id = ?1 AND channel = ?2 AND state IN ('pending', 'sending')",
                        params![row, channel.as_str(), ts(Utc::now())],
                    )?;
                    if changed == 0 {
                        return Ok(EchoOutcome::Known);
                    }
                    let mid: Uuid = c.query_row("SELECT message_id FROM outbox WHERE id = ?1", [row], |r| r.get(0))?;
                    c.execute(
                        "UPDATE messages SET provider_message_id = ?2, failure_reason = NULL, delivery_status = \
                         CASE WHEN delivery_status IN ('queued', 'failed') THEN 'sent' ELSE delivery_status END WHERE id = ?1",
                        params![mid, echo.provider_message_id],
                    )?;
                    return Ok(message(c, MessageId(mid))?.map(EchoOutcome::CompletedSend).unwrap_or(EchoOutcome::Known));
                }
                let conv: Option<Uuid> = c
                    .prepare_cached(
                        "SELECT c.id FROM conversations c JOIN contact_identities i ON i.contact_id = c.contact_id \
                         WHERE i.channel = ?1 AND i.provider_user_id = ?2 AND c.channel = ?1 AND c.thread_key = ?3 \
                         ORDER BY c.created_at DESC LIMIT 1",
                    )?
                    .query_row(params![channel.as_str(), echo.recipient, echo.thread_key], |r| r.get(0))
                    .optional()?;
                let Some(conv) = conv else { return Ok(EchoOutcome::NoConversation) };
                // Providers without send metadata (Instagram, X) echo our own send, possibly
                // before its answer is recorded or after it was lost: the oldest reply with the
                // same text that was tried and is not recorded as sent is that send; the echo
                // records it (so a retry does not post it again).
                let done: Option<Uuid> = c
                    .prepare_cached(
                        "UPDATE outbox SET state = 'sent', lease_until = NULL, sent_at = ?3, last_error = NULL WHERE id = \
                         (SELECT o.id FROM outbox o JOIN messages m ON m.id = o.message_id WHERE m.conversation_id = ?1 \
                         AND m.direction = 'outbound' AND m.provider_message_id IS NULL AND m.text = ?2 \
                         AND o.state IN ('pending', 'sending') AND o.attempts >= 1 ORDER BY m.created_at, m.id LIMIT 1) \
                         AND state IN ('pending', 'sending') RETURNING message_id",
                    )?
                    .query_row(params![conv, echo.text, ts(Utc::now())], |r| r.get(0))
                    .optional()?;
                if let Some(mid) = done {
                    c.execute(
                        "UPDATE messages SET provider_message_id = ?2, failure_reason = NULL, delivery_status = \
                         CASE WHEN delivery_status IN ('queued', 'failed') THEN 'sent' ELSE delivery_status END WHERE id = ?1",
                        params![mid, echo.provider_message_id],
                    )?;
                    return Ok(message(c, MessageId(mid))?.map(EchoOutcome::CompletedSend).unwrap_or(EchoOutcome::Known));
                }
                let in_flight: bool = c
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND direction = 'outbound' \
                         AND provider_message_id IS NULL AND text = ?2 AND author_id IS NOT NULL)",
                    )?
                    .query_row(params![conv, echo.text], |r| r.get(0))?;
                if in_flight {
                    return Ok(EchoOutcome::Known);
                }
                let id = MessageId::new();
                let now = Utc::now();
                c.prepare_cached(
                    "INSERT INTO messages (id, conversation_id, direction, visibility, text, attachments, provider_message_id, \
                     delivery_status, sent_at, created_at) VALUES (?1, ?2, 'outbound', ?3, ?4, ?5, ?6, 'sent', ?7, ?8)",
                )?
                .execute(params![
                    id.0,
                    conv,
                    thread_visibility(&echo.thread_key),
                    echo.text,
                    serde_json::to_string(&echo.attachments)?,
                    echo.provider_message_id,
                    ts(echo.sent_at),
                    ts(now)
                ])?;
                c.prepare_cached("UPDATE conversations SET last_message_at = ?2, updated_at = ?2 WHERE id = ?1")?
                    .execute(params![conv, ts(now)])?;
                Ok(message(c, id)?.map(EchoOutcome::Recorded).unwrap_or(EchoOutcome::Known))
            })
            .await
    }

    async fn link_identity(&self, channel: &ChannelSlug, provider_user_id: &str, alias: &str) -> Result<()> {
        let (channel, puid, alias) = (channel.clone(), provider_user_id.to_owned(), alias.to_owned());
        self.conns
            .write(move |c| {
                // Whichever of the two is known lends its contact to the other.
                for (known, new) in [(&alias, &puid), (&puid, &alias)] {
                    c.prepare_cached(
                        "INSERT INTO contact_identities (channel, provider_user_id, contact_id, handle, display_name, created_at) \
                         SELECT channel, ?3, contact_id, handle, display_name, ?4 FROM contact_identities \
                         WHERE channel = ?1 AND provider_user_id = ?2 ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![channel.as_str(), known, new, ts(Utc::now())])?;
                }
                Ok(())
            })
            .await
    }

    async fn save_reply_payload(&self, stored_key: &str, payload: &serde_json::Value) -> Result<()> {
        let (key, payload) = (stored_key.to_owned(), payload.to_string());
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO reply_payloads (idempotency_key, payload, created_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (idempotency_key) DO NOTHING",
                    params![key, payload, ts(Utc::now())],
                )?;
                Ok(())
            })
            .await
    }

    async fn reply_payload(&self, message_id: MessageId) -> Result<Option<serde_json::Value>> {
        self.conns
            .read(move |c| {
                let s: Option<String> = c
                    .prepare_cached(
                        "SELECT p.payload FROM reply_payloads p JOIN messages m ON m.idempotency_key = p.idempotency_key WHERE m.id = ?1",
                    )?
                    .query_row([message_id.0], |r| r.get(0))
                    .optional()?;
                Ok(s.map(|s| serde_json::from_str(&s)).transpose()?)
            })
            .await
    }

    async fn reply_context(&self, conversation_id: ConversationId) -> Result<ReplyContext> {
        self.conns
            .read(move |c| {
                let last: Option<(Option<String>, i64)> = c
                    .prepare_cached(
                        "SELECT provider_message_id, sent_at FROM messages WHERE conversation_id = ?1 AND direction = 'inbound' \
                         ORDER BY sent_at DESC, created_at DESC LIMIT 1",
                    )?
                    .query_row([conversation_id.0], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let handle: Option<String> = c
                    .prepare_cached(
                        "SELECT i.handle FROM contact_identities i JOIN conversations c ON c.contact_id = i.contact_id AND i.channel = c.channel \
                         WHERE c.id = ?1 AND i.handle IS NOT NULL ORDER BY (i.handle LIKE '+%') DESC, i.created_at LIMIT 1",
                    )?
                    .query_row([conversation_id.0], |r| r.get(0))
                    .optional()?;
                Ok(ReplyContext {
                    recipient_handle: handle,
                    last_inbound_id: last.as_ref().and_then(|(id, _)| id.clone()),
                    last_inbound_at: last.map(|(_, at)| from_ts(at)),
                })
            })
            .await
    }

    async fn enqueue_media(
        &self,
        channel: &ChannelSlug,
        message_id: MessageId,
        index: i32,
        provider_id: &str,
    ) -> Result<()> {
        let (channel, pid) = (channel.clone(), provider_id.to_owned());
        self.conns
            .write(move |c| {
                let now = ts(Utc::now());
                c.prepare_cached(
                    "INSERT INTO media_downloads (message_id, attachment_index, channel, provider_id, state, next_attempt_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![message_id.0, index, channel.as_str(), pid, now])?;
                Ok(())
            })
            .await
    }

    async fn claim_media(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: usize) -> Result<Vec<MediaJob>> {
        self.conns
            .write(move |c| {
                Ok(c.prepare_cached(
                    "UPDATE media_downloads SET attempts = attempts + 1, lease_until = ?2 WHERE rowid IN (\
                       SELECT rowid FROM media_downloads WHERE state = 'pending' AND next_attempt_at <= ?1 \
                       AND (lease_until IS NULL OR lease_until < ?1) ORDER BY next_attempt_at LIMIT ?3) \
                     RETURNING message_id, attachment_index, channel, provider_id, attempts",
                )?
                .query_map(params![ts(now), ts(lease_until), limit as i64], |r| {
                    Ok(MediaJob {
                        message_id: MessageId(r.get(0)?),
                        index: r.get(1)?,
                        channel: parse_slug(r, 2)?,
                        provider_id: r.get(3)?,
                        attempts: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn complete_media(
        &self,
        message_id: MessageId,
        index: i32,
        path: &str,
        mime_type: &str,
        size: i64,
    ) -> Result<()> {
        let (path, mime) = (path.to_owned(), mime_type.to_owned());
        self.conns
            .write(move |c| {
                c.execute(
                    "UPDATE media_downloads SET state = 'done', lease_until = NULL, path = ?3, mime_type = ?4, size = ?5, last_error = NULL \
                     WHERE message_id = ?1 AND attachment_index = ?2",
                    params![message_id.0, index, path, mime, size],
                )?;
                Ok(())
            })
            .await
    }

    async fn fail_media(
        &self,
        message_id: MessageId,
        index: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let error = error.to_owned();
        self.conns
            .write(move |c| {
                match retry_at {
                    Some(at) => c.execute(
                        "UPDATE media_downloads SET lease_until = NULL, next_attempt_at = ?3, last_error = ?4 \
                         WHERE message_id = ?1 AND attachment_index = ?2",
                        params![message_id.0, index, ts(at), error],
                    )?,
                    None => c.execute(
                        "UPDATE media_downloads SET state = 'failed', lease_until = NULL, last_error = ?3 \
                         WHERE message_id = ?1 AND attachment_index = ?2",
                        params![message_id.0, index, error],
                    )?,
                };
                Ok(())
            })
            .await
    }

    async fn media_file(&self, message_id: MessageId, index: i32) -> Result<Option<MediaFile>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT state, path, mime_type, size, last_error FROM media_downloads WHERE message_id = ?1 AND attachment_index = ?2",
                )?
                .query_row(params![message_id.0, index], |r| {
                    Ok(MediaFile { state: r.get(0)?, path: r.get(1)?, mime_type: r.get(2)?, size: r.get(3)?, last_error: r.get(4)? })
                })
                .optional()?)
            })
            .await
    }
}
