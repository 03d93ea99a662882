//! Telegram webhooks: the `X-Telegram-Bot-Api-Secret-Token` header is checked (constant time)
//! before anything is parsed; the update goes through the durable ingest path and the answer
//! waits for its commit, so a 200 means stored and a redelivered `update_id` is a no-op. Button
//! presses are answered with `answerCallbackQuery` once stored (best effort: Telegram clears
//! the button's spinner by itself after a while).

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use switchboard_channels::telegram::{SECRET_HEADER, TelegramConfig, outbound, parse_webhook, verify};
use switchboard_channels::{WebhookBatch, WebhookError};
use switchboard_engine::channel_delivery::settings;
use switchboard_store::ChannelRecord;

use crate::AppState;
use crate::error::{ApiResult, AppError};

fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT.get_or_init(|| reqwest::Client::builder().timeout(Duration::from_secs(10)).build().ok()).as_ref()
}

pub(super) async fn receive(
    st: &AppState,
    ch: &ChannelRecord,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let metrics = st.engine.metrics();
    let token = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if let Err(e) = verify(ch.secret.as_deref(), token) {
        metrics.count_ingest("rejected");
        tracing::warn!(channel = %ch.slug, reason = %e, "webhook refused: bad secret token");
        return Err(AppError::unauthorized(e.to_string()));
    }
    let chs = settings(ch);
    let batch = parse_webhook(&chs, body).map_err(|e| {
        metrics.count_ingest("rejected");
        tracing::warn!(channel = %ch.slug, reason = %e, "webhook refused: bad payload");
        match e {
            WebhookError::Signature(m) => AppError::unauthorized(m),
            WebhookError::Payload(m) => AppError::bad_request("invalid_payload", m),
        }
    })?;
    let WebhookBatch { messages, skipped, .. } = batch;
    for s in &skipped {
        tracing::info!(channel = %ch.slug, what = %s, "telegram update not turned into a message");
    }
    let n = messages.len();
    let callbacks: Vec<Option<String>> = messages
        .iter()
        .map(|ev| {
            ev.extra
                .get("telegram")
                .and_then(|t| t.get("callback_query_id"))
                .and_then(|i| i.as_str())
                .map(str::to_owned)
        })
        .collect();
    let files: Vec<Vec<(i32, String)>> =
        messages.iter().map(switchboard_channels::telegram::media::downloads).collect();
    let acks = futures_util::future::join_all(messages.into_iter().map(|ev| st.engine.ingestor().submit(ev))).await;
    let mut duplicates = 0;
    for ((ack, callback), files) in acks.into_iter().zip(callbacks).zip(files) {
        let ack = ack?;
        // Photos, documents, voice: downloaded into the media store by the engine (queued on a
        // redelivery too, once per message and index, so a crash after the ack loses nothing).
        if !files.is_empty() {
            for (index, file_id) in files {
                st.engine.store().enqueue_media(&ch.slug, ack.message_id, index, &file_id).await?;
            }
            st.engine.wake_media();
        }
        if ack.duplicate {
            duplicates += 1;
            continue;
        }
        if let (Some(id), Ok(cfg), Some(client)) = (callback, TelegramConfig::from_settings(&chs), client())
            && cfg.bot_token.is_some()
        {
            let slug = ch.slug.clone();
            tokio::spawn(async move {
                if let Err(e) = outbound::answer_callback_query(client, &cfg, &id).await {
                    tracing::info!(channel = %slug, error = %e, "answerCallbackQuery failed");
                }
            });
        }
    }
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({"messages": n, "duplicates": duplicates, "skipped": skipped.len()})),
    )
        .into_response())
}
