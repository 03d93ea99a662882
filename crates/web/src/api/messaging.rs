//! Provider messaging rules for replies: the customer-service window (shown to the composer and
//! enforced before a reply is queued), WhatsApp template replies and media replies.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchboard_channels::WindowState;
use switchboard_domain::{ChannelKind, Conversation, Visibility};
use switchboard_engine::RealtimeEvent;
use switchboard_engine::channel_delivery::settings;
use switchboard_store::{MessageKind, NewMessage};

use super::conversations::resolve;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::Json;

/// The window state of a conversation.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct WindowBody {
    /// The channel's kind.
    channel_kind: ChannelKind,
    /// The channel has a customer-service window.
    applies: bool,
    /// A free-form reply may be sent now.
    open: bool,
    /// When the customer last wrote.
    last_customer_message_at: Option<chrono::DateTime<Utc>>,
    /// When the standard 24-hour window closes (or closed).
    closes_at: Option<chrono::DateTime<Utc>>,
    /// Messenger/Instagram with the HUMAN_AGENT tag enabled: until when an agent may still reply.
    human_agent_until: Option<chrono::DateTime<Utc>>,
    /// Reply kinds allowed now: `text`, `media`, `template`.
    allowed: Vec<String>,
    /// Why free-form replies are refused.
    reason: Option<String>,
    /// The same in Simplified Chinese (为什么不能发送自由格式的回复).
    reason_zh: Option<String>,
}

pub(crate) async fn window(
    st: &AppState,
    conv: &Conversation,
    visibility: Visibility,
) -> ApiResult<(ChannelKind, WindowState)> {
    let ch = st.channels.get(st.engine.store(), &conv.channel).await?.ok_or_else(|| AppError::not_found("channel"))?;
    let last_inbound_at = if matches!(ch.kind, ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram)
    {
        st.engine.store().reply_context(conv.id).await?.last_inbound_at
    } else {
        None
    };
    Ok((ch.kind, switchboard_channels::window_state(&settings(&ch), visibility, last_inbound_at, Utc::now())))
}

/// Refuses a free-form reply outside the provider's customer-service window, with the reason,
/// before it is queued.
pub(crate) async fn require_open_window(st: &AppState, conv: &Conversation, visibility: Visibility) -> ApiResult<()> {
    let (_, w) = window(st, conv, visibility).await?;
    if w.open {
        return Ok(());
    }
    Err(AppError::new(
        StatusCode::CONFLICT,
        "messaging_window_closed",
        w.reason.unwrap_or_else(|| "the customer-service window is closed".into()),
    ))
}

/// Whether a free-form reply can be sent now, and why not (for the reply composer).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/window", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number")),
    responses((status = 200, body = WindowBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_window(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let conv = resolve(&st, &id).await?;
    let visibility = thread_visibility(&conv);
    let (kind, w) = window(&st, &conv, visibility).await?;
    Ok(axum::Json(WindowBody {
        channel_kind: kind,
        applies: w.applies,
        open: w.open,
        last_customer_message_at: w.last_customer_message_at,
        closes_at: w.closes_at,
        human_agent_until: w.human_agent_until,
        allowed: w.allowed.into_iter().map(str::to_owned).collect(),
        reason: w.reason,
        reason_zh: w.reason_zh,
    }))
}

/// Public threads (Instagram posts and mentions) are answered in public.
pub(crate) fn thread_visibility(conv: &Conversation) -> Visibility {
    if conv.thread_key.starts_with("post:") || conv.thread_key.starts_with("mention:") {
        Visibility::Public
    } else {
        Visibility::Private
    }
}

/// A WhatsApp template reply.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct TemplateBody {
    /// The approved template's name.
    name: String,
    /// Its language code, e.g. `en_US` or `zh_CN`.
    language: String,
    /// Template components with their parameters, as WhatsApp defines them.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    components: Option<Vec<serde_json::Value>>,
    /// What agents see in the conversation (default: `[template NAME]`).
    #[serde(default)]
    preview: Option<String>,
}

/// A media reply (sent by URL).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct MediaBody {
    /// image, audio, video, document (WhatsApp also: sticker).
    kind: String,
    /// A public https URL the provider fetches.
    link: String,
    /// Caption.
    #[serde(default)]
    caption: Option<String>,
    /// File name (documents).
    #[serde(default)]
    filename: Option<String>,
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    match headers.get("idempotency-key") {
        None => Ok(uuid::Uuid::now_v7().to_string()),
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| AppError::bad_request("invalid_header", "Idempotency-Key must be visible ASCII"))?
                .trim();
            if k.is_empty() || k.len() > 200 {
                return Err(AppError::bad_request("invalid_header", "Idempotency-Key must be 1-200 characters"));
            }
            Ok(k.to_owned())
        }
    }
}

pub(crate) async fn post_structured(
    st: &AppState,
    caller: &Caller,
    conv: &Conversation,
    key: String,
    text: String,
    payload: serde_json::Value,
) -> ApiResult<impl IntoResponse + use<>> {
    let store = st.engine.store();
    // The payload is stored first under the key the message will carry, so the outbox never sees
    // the message without it.
    let key = format!("payload:{key}");
    store.save_reply_payload(&format!("{}:{key}", caller.user_id), &payload).await?;
    let (msg, created) = store
        .post_message(&NewMessage {
            conversation_id: conv.id,
            author_id: caller.user_id,
            kind: MessageKind::Reply,
            visibility: Visibility::Private,
            text,
            idempotency_key: Some(key),
            at: Utc::now(),
        })
        .await?;
    if created {
        st.engine.wake_outbox();
        st.engine
            .bus()
            .publish(RealtimeEvent::new("message.created", conv.id, Some(conv.case_number), Some(msg.id)))
            .await;
    }
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(msg)))
}

/// Sends an approved WhatsApp template (allowed outside the 24-hour window).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/template", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number")),
    request_body = TemplateBody,
    responses((status = 201, body = switchboard_domain::Message), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn post_template(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(b): Json<TemplateBody>,
) -> ApiResult<impl IntoResponse> {
    let invalid = |m: String| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", m);
    let conv = resolve(&st, &id).await?;
    let ch = st.channels.get(st.engine.store(), &conv.channel).await?.ok_or_else(|| AppError::not_found("channel"))?;
    if ch.kind != ChannelKind::Whatsapp {
        return Err(invalid(format!("templates are a WhatsApp feature; {} is a {} channel", ch.slug, ch.kind)));
    }
    let name_ok = !b.name.is_empty()
        && b.name.len() <= 512
        && b.name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if !name_ok {
        return Err(invalid("name must be a template name: lower-case letters, digits and _".into()));
    }
    if b.language.is_empty() || b.language.len() > 16 {
        return Err(invalid("language must be a language code such as en_US".into()));
    }
    let mut template = serde_json::json!({"name": b.name, "language": {"code": b.language}});
    if let Some(c) = b.components {
        template["components"] = serde_json::Value::Array(c);
    }
    let text = b.preview.filter(|p| !p.trim().is_empty()).unwrap_or_else(|| format!("[template {}]", b.name));
    let key = idempotency_key(&headers)?;
    post_structured(&st, &caller, &conv, key, text, serde_json::json!({"type": "template", "template": template})).await
}

/// Sends a media reply (inside the customer-service window).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/media", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number")),
    request_body = MediaBody,
    responses((status = 201, body = switchboard_domain::Message), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn post_media(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(b): Json<MediaBody>,
) -> ApiResult<impl IntoResponse> {
    let invalid = |m: String| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", m);
    if !matches!(b.kind.as_str(), "image" | "audio" | "video" | "document" | "sticker") {
        return Err(invalid("kind must be image, audio, video, document or sticker".into()));
    }
    if !(b.link.starts_with("https://") || b.link.starts_with("http://")) || b.link.len() > 2048 {
        return Err(invalid("link must be an http(s) URL".into()));
    }
    let conv = resolve(&st, &id).await?;
    let ch = st.channels.get(st.engine.store(), &conv.channel).await?.ok_or_else(|| AppError::not_found("channel"))?;
    if !matches!(
        ch.kind,
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram | ChannelKind::Telegram
    ) {
        return Err(invalid(format!("{} channels take no media replies", ch.kind)));
    }
    require_open_window(&st, &conv, Visibility::Private).await?;
    let text = b.caption.clone().unwrap_or_default();
    let shown = if text.trim().is_empty() { format!("[{}] {}", b.kind, b.link) } else { text };
    let payload =
        serde_json::json!({"type": "media", "media": {"kind": b.kind, "link": b.link, "filename": b.filename}});
    let key = idempotency_key(&headers)?;
    post_structured(&st, &caller, &conv, key, shown, payload).await
}

/// An inbound attachment's file, once downloaded from the provider (WhatsApp media).
#[utoipa::path(get, path = "/api/v1/messages/{id}/attachments/{index}", tag = "conversations",
    params(("id" = String, Path, description = "Message id"), ("index" = i32, Path, description = "Attachment position, from 0")),
    responses((status = 200, description = "The file, with its MIME type"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "Not downloaded yet", body = crate::error::ErrorBody),
        (status = 502, description = "The provider would not give the file", body = crate::error::ErrorBody)))]
pub(crate) async fn get_attachment(
    State(st): State<AppState>,
    _caller: Caller,
    Path((id, index)): Path<(String, i32)>,
) -> ApiResult<axum::response::Response> {
    attachment_file(&st, &id, index).await
}

/// The downloaded file of attachment `index` of message `id` (for the API and the agent UI).
pub(crate) async fn attachment_file(st: &AppState, id: &str, index: i32) -> ApiResult<axum::response::Response> {
    let id = id
        .parse::<switchboard_domain::MessageId>()
        .map_err(|_| AppError::bad_request("invalid_id", "not a message id"))?;
    let dir = st
        .engine
        .config()
        .media
        .as_ref()
        .map(|m| m.dir.clone())
        .ok_or_else(|| AppError::not_found("media download"))?;
    let f = st.engine.store().media_file(id, index).await?.ok_or_else(|| AppError::not_found("media download"))?;
    match (f.state.as_str(), f.path) {
        ("done", Some(path)) => {
            let full = dir.join(&path);
            let bytes = tokio::task::spawn_blocking(move || std::fs::read(full))
                .await
                .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "media_unreadable", e.to_string()))?
                .map_err(|e| AppError::new(StatusCode::NOT_FOUND, "media_missing", format!("the file is gone: {e}")))?;
            let mime = f.mime_type.unwrap_or_else(|| "application/octet-stream".into());
            Ok(([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response())
        }
        ("failed", _) => Err(AppError::new(
            StatusCode::BAD_GATEWAY,
            "media_unavailable",
            f.last_error.unwrap_or_else(|| "the download failed".into()),
        )),
        _ => Err(AppError::new(
            StatusCode::CONFLICT,
            "media_pending",
            match f.last_error {
                Some(e) => format!("not downloaded yet; the last attempt failed: {e}"),
                None => "not downloaded yet".into(),
            },
        )),
    }
}
