//! Agents' files for website chat visitors: an agent attaches a file in the composer (or posts
//! it to the API) and the visitor's widget shows it with a link only their visitor token opens.
//!
//! The file is checked like a visitor's upload (the channel's size limit and MIME types, and the
//! first bytes must match the type), stored in the media directory under the visitor's stream,
//! and sent as a reply through the outbox: the web sender puts it in the visitor's stream with
//! the reply (`attachments`), exactly once. The reply lists the file in its attachments, so agents
//! open it like a customer's (`/ui/attachments/…`, `/api/v1/messages/{id}/attachments/0`).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use switchboard_channels::widget::{MAX_UPLOAD_CEILING, WidgetConfig};
use switchboard_domain::{Attachment, ChannelKind, Conversation, Message, UserId, Visibility};
use switchboard_engine::RealtimeEvent;
use switchboard_store::{MessageKind, NewMessage};
use utoipa::OpenApi;

use super::api::{content_matches, extension, save_file};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::{Query, RawBody};
use crate::ui::session::UiUser;

/// A file reply as it arrives.
pub(crate) struct FileReply {
    bytes: axum::body::Bytes,
    mime: String,
    name: Option<String>,
    caption: Option<String>,
    /// The client's idempotency key: a repeat is the same reply.
    key: String,
}

fn mime_of(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Checks the file against the channel's limits, stores it for the conversation's visitor and
/// queues the reply that carries it. Answers the reply and whether it is new.
pub(crate) async fn send_file(
    st: &AppState,
    conv: &Conversation,
    author: UserId,
    f: FileReply,
) -> Result<(Message, bool), AppError> {
    let store = st.engine.store();
    let ch = st.channels.get(store, &conv.channel).await?.ok_or_else(|| AppError::not_found("channel"))?;
    if ch.kind != ChannelKind::Web {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "files_unsupported",
            format!("file replies go to website chat visitors; a {} channel takes media by URL (…/media)", ch.kind),
        ));
    }
    let cfg = WidgetConfig::from_value(&ch.config).unwrap_or_default();
    let max = cfg.max_upload();
    if f.bytes.is_empty() {
        return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "empty_upload", "the file is empty"));
    }
    if f.bytes.len() as u64 > max {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload_too_large",
            format!("files may be at most {max} bytes on this channel"),
        ));
    }
    if !cfg.accepts_type(&f.mime) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload_type",
            format!("files of type {:?} are not accepted on this channel (config.upload_types)", f.mime),
        ));
    }
    if !content_matches(&f.mime, &f.bytes) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload_content",
            format!("the file's content is not {}", f.mime),
        ));
    }
    let caption = f.caption.map(|c| c.trim().to_owned()).unwrap_or_default();
    if caption.chars().count() > cfg.max_text() || caption.contains('\0') {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_caption",
            format!("the caption must be at most {} characters", cfg.max_text()),
        ));
    }
    // Replies go to the contact's first identity on the channel: the visitor stream the file is for.
    let contact = store.get_contact(conv.contact_id).await?.ok_or_else(|| AppError::not_found("contact"))?;
    let subject =
        contact.identities.iter().find(|i| i.channel == conv.channel).map(|i| i.provider_user_id.clone()).ok_or_else(
            || AppError::new(StatusCode::CONFLICT, "no_visitor", "this conversation has no widget visitor"),
        )?;
    let filename: String =
        f.name.unwrap_or_default().chars().filter(|c| !c.is_control() && !matches!(c, '/' | '\\')).take(200).collect();
    let filename = if filename.trim().is_empty() { format!("file.{}", extension(&f.mime)) } else { filename };
    let up = save_file(st, &conv.channel, &subject, f.mime, filename, f.bytes).await?;
    let kind = if up.mime_type.starts_with("image/") { "image" } else { "document" };
    let payload = json!({"type": "media", "media": {
        "kind": kind, "upload_id": up.id.to_string(), "filename": up.filename, "mime_type": up.mime_type, "size": up.size,
    }});
    let key = format!("payload:file:{}", f.key);
    // Stored first under the key the message carries, so the outbox never sees it without it.
    store.save_reply_payload(&format!("{author}:{key}"), &payload).await?;
    let (msg, created) = store
        .post_message(&NewMessage {
            conversation_id: conv.id,
            author_id: author,
            kind: MessageKind::Reply,
            visibility: Visibility::Private,
            text: caption,
            idempotency_key: Some(key),
            at: Utc::now(),
        })
        .await?;
    if !created {
        return Ok((msg, false));
    }
    let file = format!("upload:{}", up.id);
    let attachment = Attachment {
        kind: kind.into(),
        url: None,
        mime_type: Some(up.mime_type.clone()),
        filename: Some(up.filename.clone()),
        size: Some(up.size as u64),
        provider_id: Some(file.clone()),
    };
    store.set_reply_attachments(msg.id, std::slice::from_ref(&attachment)).await?;
    // The file is already local: the media job only records where, for the agents' link.
    store.enqueue_media(&conv.channel, msg.id, 0, &file).await?;
    st.engine.wake_media();
    st.engine.wake_outbox();
    st.engine.bus().publish(RealtimeEvent::new("message.created", conv.id, Some(conv.case_number), Some(msg.id))).await;
    tracing::info!(conversation = %conv.id, message = %msg.id, size = up.size, "file reply queued for a widget visitor");
    Ok((Message { attachments: vec![attachment], ..msg }, true))
}

/// `?name=…&caption=…` of a file reply.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct FileQuery {
    /// The file name the visitor sees.
    #[serde(default)]
    name: Option<String>,
    /// Text sent with the file.
    #[serde(default)]
    caption: Option<String>,
}

/// Sends a file to a website chat visitor (the raw file as the body, its type in
/// `Content-Type`): checked against the channel's upload limits and types, then queued as a
/// reply. `Idempotency-Key` makes a retry the same reply.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/files", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number"), FileQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Client key: the same key never sends two replies")),
    request_body(content = Vec<u8>, description = "The file", content_type = "application/octet-stream"),
    responses((status = 201, body = switchboard_domain::Message), (status = 200, body = switchboard_domain::Message),
        (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn api_send(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<FileQuery>,
    body: Result<RawBody, AppError>,
) -> ApiResult<Response> {
    let RawBody(bytes) = body?;
    let conv = crate::api::conversations::resolve(&st, &id).await?;
    let key = crate::api::messaging::idempotency_key(&headers)?;
    let f = FileReply { bytes, mime: mime_of(&headers), name: q.name, caption: q.caption, key };
    let (msg, created) = send_file(&st, &conv, caller.user_id, f).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(msg)).into_response())
}

/// `?name=…&caption=…&idem=…` of the composer's file upload.
#[derive(Deserialize)]
pub(crate) struct UiFileQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    idem: Option<String>,
}

/// `POST /c/{case}/files`: the composer's file button (fetch with the CSRF token in
/// `X-CSRF-Token`). Answers JSON; the thread updates through the live events.
pub(crate) async fn ui_send(
    State(st): State<AppState>,
    me: UiUser,
    Path(case): Path<String>,
    headers: HeaderMap,
    Query(q): Query<UiFileQuery>,
    body: Result<RawBody, AppError>,
) -> Response {
    if let Err(r) = me.check_csrf(&headers, None) {
        return r;
    }
    let sent = async {
        let RawBody(bytes) = body?;
        let conv = crate::api::conversations::resolve(&st, &case).await?;
        let key =
            q.idem.filter(|k| !k.is_empty() && k.len() <= 200).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let f =
            FileReply { bytes, mime: mime_of(&headers), name: q.name, caption: q.caption, key: format!("ui:{key}") };
        send_file(&st, &conv, me.user.id, f).await
    };
    match sent.await {
        Ok((msg, created)) => {
            (if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(json!({"id": msg.id})))
                .into_response()
        }
        Err(e) => {
            // The composer shows the reason in the agent's language where there is one.
            let localized = match e.code {
                "upload_too_large" => Some("composer-file-too-big"),
                "upload_type" | "upload_content" => Some("composer-file-type"),
                _ => None,
            };
            let message = localized.map(|k| me.tr.t(k)).unwrap_or_else(|| e.message.clone());
            AppError { message, ..e }.into_response()
        }
    }
}

/// The API route, under `/api/v1`.
pub(crate) fn api_router() -> Router<AppState> {
    Router::new().route(
        "/conversations/{id}/files",
        post(api_send).layer(DefaultBodyLimit::max(MAX_UPLOAD_CEILING as usize + 1)),
    )
}

/// The composer's file button.
const SCRIPT: &str = include_str!("../../assets/file-reply.js");

/// The composer's routes: the upload and its script.
pub(crate) fn ui_router() -> Router<AppState> {
    Router::new()
        .route("/c/{case}/files", post(ui_send).layer(DefaultBodyLimit::max(MAX_UPLOAD_CEILING as usize + 1)))
        .route(
            "/ui/file-reply.js",
            axum::routing::get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=300"),
                    ],
                    SCRIPT,
                )
            }),
        )
}

/// The OpenAPI part of file replies.
#[derive(OpenApi)]
#[openapi(paths(api_send))]
pub struct AgentFilesApi;
