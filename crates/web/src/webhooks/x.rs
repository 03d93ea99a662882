//! X Account Activity webhooks: the CRC `GET` challenge, and `POST` deliveries whose
//! `x-twitter-webhooks-signature` is checked over the raw bytes before anything is parsed.
//! Customer posts and DMs go through the durable ingest path (the answer waits for their commit);
//! the brand's own posts/DMs are recorded as outbound; likes/follows/retweets are kept as activity;
//! deleted posts lose their content.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use switchboard_channels::WebhookError;
use switchboard_channels::x::{XExtras, crc_response, parse_delivery, signature};
use switchboard_engine::RealtimeEvent;
use switchboard_engine::channel_delivery::settings;
use switchboard_store::{ActivityRecord, ChannelRecord, EchoOutcome, EchoRecord};

use crate::AppState;
use crate::error::{ApiResult, AppError};

pub(super) fn handshake(ch: &ChannelRecord, q: &HashMap<String, String>) -> ApiResult<Response> {
    match crc_response(ch.secret.as_deref(), q.get("crc_token").map(String::as_str)) {
        Ok(body) => Ok(axum::Json(body).into_response()),
        Err(reason) => {
            tracing::warn!(channel = %ch.slug, %reason, "X CRC challenge refused");
            Err(AppError::new(StatusCode::FORBIDDEN, "verification_failed", reason))
        }
    }
}

pub(super) async fn receive(
    st: &AppState,
    ch: &ChannelRecord,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let metrics = st.engine.metrics();
    let sig = headers.get(signature::HEADER).map(|v| v.as_bytes());
    if let Err(e) = signature::verify(ch.secret.as_deref(), sig, body) {
        metrics.count_ingest("rejected");
        tracing::warn!(channel = %ch.slug, reason = %e, "X webhook refused: bad signature");
        return Err(AppError::unauthorized(e.to_string()));
    }
    let (batch, extras) = parse_delivery(&settings(ch), body).map_err(|e| {
        metrics.count_ingest("rejected");
        tracing::warn!(channel = %ch.slug, reason = %e, "X webhook refused: bad payload");
        match e {
            WebhookError::Signature(m) => AppError::unauthorized(m),
            WebhookError::Payload(m) => AppError::bad_request("invalid_payload", m),
        }
    })?;
    for s in &batch.skipped {
        tracing::info!(channel = %ch.slug, what = %s, "X webhook part not turned into a message");
    }
    let store = st.engine.store();
    let XExtras { activities, deletions, reply_threads } = extras;
    let mut messages = batch.messages;
    for ev in &mut messages {
        // A reply without a conversation id joins the conversation of the post it answers.
        if let Some((_, parent)) = reply_threads.iter().find(|(id, _)| *id == ev.provider_event_id)
            && let Some(thread) = store.thread_of_post(&ch.slug, parent).await?
        {
            ev.thread_key = thread;
        }
    }
    // A delete may overtake its post: the store's append keeps no content of a post whose
    // tombstone it already holds, decided in the append's own transaction.
    let n = messages.len();
    let acks = futures_util::future::join_all(messages.into_iter().map(|ev| st.engine.ingestor().submit(ev))).await;
    let mut duplicates = 0;
    for ack in acks {
        if ack?.duplicate {
            duplicates += 1;
        }
    }
    let bus = st.engine.bus();
    for mut e in batch.echoes {
        // The brand's reply joins the conversation of the post it answers, as a customer's does.
        if let Some(parent) = e.thread_key.strip_prefix(switchboard_channels::x::POST_THREAD)
            && let Some(thread) = store.thread_of_post(&ch.slug, parent).await?
        {
            e.thread_key = thread;
        }
        let rec = EchoRecord {
            provider_message_id: e.provider_message_id,
            recipient: e.recipient,
            thread_key: e.thread_key,
            text: e.text,
            attachments: e.attachments,
            sent_at: e.sent_at,
            sent_by_switchboard: e.sent_by_switchboard,
            switchboard_key: e.switchboard_key,
        };
        match store.record_echo(&ch.slug, &rec).await? {
            EchoOutcome::Recorded(m) => {
                bus.publish(RealtimeEvent::new("message.created", m.conversation_id, None, Some(m.id))).await
            }
            EchoOutcome::CompletedSend(m) => {
                bus.publish(RealtimeEvent::new("message.updated", m.conversation_id, None, Some(m.id))).await
            }
            EchoOutcome::Known => {}
            EchoOutcome::NoConversation => tracing::info!(
                channel = %ch.slug, provider_message_id = %rec.provider_message_id,
                "brand post or DM to someone with no conversation here; not recorded"
            ),
        }
    }
    let mut kept = 0;
    for a in activities {
        let rec = ActivityRecord {
            kind: a.kind,
            event_id: a.event_id,
            user_id: a.user_id,
            tweet_id: a.tweet_id,
            at: a.at,
            raw: a.raw,
        };
        if store.record_activity(&ch.slug, &rec).await? {
            kept += 1;
        }
    }
    for d in &deletions {
        for m in store.mark_post_deleted(&ch.slug, &d.tweet_id, chrono::Utc::now()).await? {
            bus.publish(RealtimeEvent::new("message.updated", m.conversation_id, None, Some(m.id))).await;
        }
    }
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({
            "messages": n, "duplicates": duplicates, "activities": kept, "deletions": deletions.len(),
            "skipped": batch.skipped.len(),
        })),
    )
        .into_response())
}
