//! The visitor API. Every request names the channel by its public key and is checked against
//! the channel's origin list and rate limits before anything is read or stored.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use fluent_bundle::FluentArgs;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchboard_channels::widget::verify_identity;
use switchboard_domain::calendar::BusinessCalendar;
use switchboard_domain::{Attachment, ContactRef, ConversationId, InboundEvent, Visibility};
use switchboard_engine::RealtimeEvent;
use switchboard_engine::widget::STREAM_EVENT;
use switchboard_store::{WidgetItem, WidgetUpload, WidgetVisitor};
use uuid::Uuid;

use super::hub::{Hub, Signal};
use super::{Site, cors, site};
use crate::AppState;
use crate::error::AppError;
use crate::extract::{Json, Query, RawBody};
use crate::ui::i18n::Locale;

/// Items read from the store per round of a stream.
const PAGE: usize = 200;
/// Most attachments on one visitor message.
const MAX_ATTACHMENTS: usize = 10;

/// The widget's texts, from the UI catalogues (`widget-*` keys).
const TEXT_KEYS: &[&str] = &[
    "widget-title",
    "widget-open",
    "widget-close",
    "widget-intro",
    "widget-name",
    "widget-email",
    "widget-optional",
    "widget-start",
    "widget-placeholder",
    "widget-send",
    "widget-attach",
    "widget-you",
    "widget-agent",
    "widget-typing",
    "widget-online",
    "widget-reply-by",
    "widget-offline-title",
    "widget-offline-intro",
    "widget-offline-send",
    "widget-offline-sent",
    "widget-email-required",
    "widget-reconnecting",
    "widget-sending",
    "widget-failed",
    "widget-too-long",
    "widget-upload-too-big",
    "widget-upload-type",
    "widget-error",
];

/// The visitor's IP address: the socket's peer, or behind a trusted proxy (`[ui]
/// trusted_proxies`) the forwarded address, so that visitors behind one load balancer are not
/// counted as one; "unknown" when the server was started without connection info.
pub(crate) struct ClientIp(String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| st.ui.trusted_proxies.client_ip(c.0.ip(), &parts.headers).to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// A 429 that says which allowance ran out and when to come back (also as `Retry-After`).
fn limited(what: &str, wait: u64) -> AppError {
    AppError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many {what}; try again in {wait} s"))
        .with_retry_after(wait)
}

/// Counts a request against the caller's IP address.
fn check_ip(st: &AppState, s: &Site, ip: &str) -> Result<(), AppError> {
    st.widget
        .limits
        .check(&format!("ip:{}:{ip}", s.channel.slug), s.cfg.ip_per_minute())
        .map_err(|w| limited("requests from this address", w))
}

/// Counts a message (or upload) against the visitor.
fn check_visitor(st: &AppState, s: &Site, v: &WidgetVisitor, what: &str, limit: u32) -> Result<(), AppError> {
    st.widget.limits.check(&format!("{what}:{}:{}", s.channel.slug, v.subject), limit).map_err(|w| limited(what, w))
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

async fn visitor(st: &AppState, s: &Site, token: &str) -> Result<WidgetVisitor, AppError> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::unauthorized("missing or malformed visitor token"));
    }
    st.engine
        .store()
        .widget_visitor_by_token(&s.channel.slug, &hash_token(token))
        .await?
        .ok_or_else(|| AppError::unauthorized("unknown visitor token; start a new session"))
}

fn ok_json(s: &Site, v: Value) -> Response {
    cors(axum::Json(v).into_response(), s.origin.as_deref())
}

/// Business hours of the channel now: open, or when it opens next.
async fn hours(st: &AppState, s: &Site) -> Value {
    let Some(name) = &s.cfg.calendar else { return json!({"open": true}) };
    let cal = match st.engine.store().get_calendar(name).await {
        Ok(Some(rec)) => match BusinessCalendar::new(&rec.spec) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(channel = %s.channel.slug, calendar = %name, error = %e, "widget calendar is invalid");
                return json!({"open": true});
            }
        },
        Ok(None) => {
            tracing::warn!(channel = %s.channel.slug, calendar = %name, "widget calendar does not exist");
            return json!({"open": true});
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the widget calendar");
            return json!({"open": true});
        }
    };
    let now = Utc::now();
    if cal.is_open(now) {
        json!({"open": true, "time_zone": cal.time_zone().name()})
    } else {
        json!({"open": false, "next_open": cal.next_open(now).map(|t| t.to_rfc3339()), "time_zone": cal.time_zone().name()})
    }
}

#[derive(Deserialize)]
pub(crate) struct ConfigQuery {
    key: String,
    #[serde(default)]
    locale: Option<String>,
}

/// `GET /widget/v1/config`: title, texts in the visitor's language, business hours and limits.
/// Stores nothing: a page view costs no visitor row.
pub(crate) async fn config(
    State(st): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Query(q): Query<ConfigQuery>,
) -> Result<Response, AppError> {
    let s = site(&st, &q.key, &headers).await?;
    check_ip(&st, &s, &ip)?;
    let locale =
        Locale::negotiate(q.locale.as_deref(), headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let cat = &st.ui.catalogue;
    let mut args = FluentArgs::new();
    args.set("name", "{name}");
    args.set("time", "{time}");
    args.set("max", "{max}");
    let texts: serde_json::Map<String, Value> =
        TEXT_KEYS.iter().map(|k| ((*k).to_owned(), Value::String(cat.get(locale, k, Some(&args))))).collect();
    let title = s.cfg.title.clone().unwrap_or_else(|| s.channel.name.clone());
    let body = json!({
        "channel": s.channel.slug.as_str(),
        "title": title,
        "locale": locale.tag(),
        "texts": texts,
        "hours": hours(&st, &s).await,
        "limits": {
            "max_text": s.cfg.max_text(),
            "max_upload_bytes": s.cfg.max_upload(),
            "upload_types": s.cfg.upload_types(),
        },
        "require_identity": s.cfg.require_identity,
    });
    Ok(ok_json(&s, body))
}

#[derive(Deserialize)]
pub(crate) struct SessionBody {
    key: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    user_hash: Option<String>,
}

fn clean_name(name: Option<String>) -> Result<Option<String>, AppError> {
    let Some(n) = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else { return Ok(None) };
    if n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            "name must be at most 100 characters without control characters",
        ));
    }
    Ok(Some(n))
}

fn clean_email(email: Option<String>) -> Result<Option<String>, AppError> {
    let Some(e) = email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()) else { return Ok(None) };
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.starts_with('.'));
    if !ok {
        return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_email", "email is not an email address"));
    }
    Ok(Some(e))
}

/// `POST /widget/v1/session`: resumes the visitor holding `token`, or starts one (anonymous, or
/// with a signed identity: `user_id` and `user_hash` = hex HMAC-SHA256 of it with the channel
/// secret). Answers the token the widget keeps in local storage.
pub(crate) async fn session(
    State(st): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Json(b): Json<SessionBody>,
) -> Result<Response, AppError> {
    let s = site(&st, &b.key, &headers).await?;
    check_ip(&st, &s, &ip)?;
    let name = clean_name(b.name)?;
    let email = clean_email(b.email)?;
    let identity = match (b.user_id.as_deref().filter(|u| !u.is_empty()), b.user_hash.as_deref()) {
        (Some(uid), Some(hash)) => {
            verify_identity(s.channel.secret.as_deref(), uid, hash).map_err(AppError::unauthorized)?;
            Some(format!("u:{uid}"))
        }
        (Some(_), None) => return Err(AppError::unauthorized("user_id needs user_hash (the signed identity)")),
        _ => None,
    };
    if identity.is_none() && s.cfg.require_identity {
        return Err(AppError::unauthorized("this chat is for signed-in customers only (signed identity required)"));
    }
    let store = st.engine.store();
    if let Some(token) = b.token.as_deref().filter(|t| !t.is_empty())
        && let Some(v) = store.widget_visitor_by_token(&s.channel.slug, &hash_token(token)).await?
        && identity.as_ref().is_none_or(|subject| *subject == v.subject)
    {
        if name.is_some() || email.is_some() {
            store.touch_widget_visitor(v.id, name.as_deref(), email.as_deref()).await?;
        }
        let body = json!({
            "token": token, "visitor_id": v.id.to_string(), "identified": v.subject.starts_with("u:"),
            "name": name.or(v.name), "email": email.or(v.email), "resumed": true,
        });
        return Ok(ok_json(&s, body));
    }
    // An anonymous visitor who signs in: their chat so far joins the signed-in customer's.
    let merged = match (b.token.as_deref().filter(|t| !t.is_empty()), &identity) {
        (Some(token), Some(subject)) => match store.widget_visitor_by_token(&s.channel.slug, &hash_token(token)).await?
        {
            Some(anon) if anon.subject.starts_with("v:") => Some(merge_anonymous(&st, &s, &anon, subject).await?),
            _ => None,
        },
        _ => None,
    };
    // Each new visitor is a stored row: a script minting sessions runs out long before the disk.
    st.widget
        .limits
        .check(&format!("new:{}:{ip}", s.channel.slug), s.cfg.new_visitors_per_ip_per_minute())
        .map_err(|w| limited("new chats from this address", w))?;
    let id = Uuid::now_v7();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let v = WidgetVisitor {
        id,
        channel: s.channel.slug.clone(),
        subject: identity.unwrap_or_else(|| format!("v:{id}")),
        name,
        email,
        created_at: Utc::now(),
    };
    store.create_widget_visitor(&v, &hash_token(&token)).await?;
    tracing::debug!(channel = %s.channel.slug, visitor = %id, "widget visitor started");
    let body = json!({
        "token": token, "visitor_id": id.to_string(), "identified": v.subject.starts_with("u:"),
        "name": v.name, "email": v.email, "resumed": false, "merged": merged.is_some(),
    });
    Ok(ok_json(&s, body))
}

/// Merges the anonymous visitor `anon` into the signed identity `subject` (contact,
/// conversations, stream, uploads; the anonymous token is retired), records it in the audit log
/// and wakes the signed-in streams, which now carry the anonymous chat too.
async fn merge_anonymous(
    st: &AppState,
    s: &Site,
    anon: &WidgetVisitor,
    subject: &str,
) -> Result<switchboard_store::WidgetMerge, AppError> {
    let store = st.engine.store();
    let now = Utc::now();
    let m = store.merge_widget_visitor(anon, subject, now).await?;
    let contact = |c: Option<switchboard_domain::ContactId>| c.map(|c| c.to_string());
    store
        .record_audit(&switchboard_store::NewAuditEntry {
            actor_id: None,
            action: "widget.visitor_merged".into(),
            target: format!("contact:{}", contact(m.contact).unwrap_or_default()),
            before: Some(json!({
                "channel": s.channel.slug.as_str(), "subject": anon.subject, "contact": contact(m.merged_contact),
            })),
            after: Some(json!({
                "channel": s.channel.slug.as_str(), "subject": subject, "contact": contact(m.contact),
                "stream_items_copied": m.items_copied,
            })),
            at: now,
        })
        .await?;
    tracing::info!(channel = %s.channel.slug, visitor = %anon.id, copied = m.items_copied,
        "anonymous widget visitor merged into a signed identity");
    if m.items_copied > 0 {
        wake(st, s, subject, 0).await;
    }
    Ok(m)
}

#[derive(Deserialize)]
pub(crate) struct MessageBody {
    key: String,
    token: String,
    /// The widget's id for this message; a retry with the same id is the same message.
    client_id: String,
    #[serde(default)]
    text: String,
    /// Upload ids.
    #[serde(default)]
    attachments: Vec<String>,
    /// The `data` of the button pressed (the text is its label).
    #[serde(default)]
    button_data: Option<String>,
    /// The page the visitor is on.
    #[serde(default)]
    page: Option<String>,
}

fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn invalid(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// Tells the visitor's other tabs (on any node) that the stream has a new item.
async fn wake(st: &AppState, s: &Site, subject: &str, seq: i64) {
    st.engine
        .bus()
        .publish(
            RealtimeEvent::new(STREAM_EVENT, ConversationId(Uuid::nil()), None, None)
                .with_data(json!({"channel": s.channel.slug.as_str(), "subject": subject, "seq": seq})),
        )
        .await;
}

/// `POST /widget/v1/messages`: a visitor's message. Answered after it is durable in the event
/// log and in the visitor's stream; a retry with the same `client_id` answers the same item.
pub(crate) async fn message(
    State(st): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Json(b): Json<MessageBody>,
) -> Result<Response, AppError> {
    let s = site(&st, &b.key, &headers).await?;
    check_ip(&st, &s, &ip)?;
    let v = visitor(&st, &s, &b.token).await?;
    if !valid_client_id(&b.client_id) {
        return Err(invalid("invalid_client_id", "client_id must be 1-64 characters of A-Z, a-z, 0-9, '-' or '_'"));
    }
    let max = s.cfg.max_text();
    if b.text.chars().count() > max {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "message_too_long",
            format!("message is longer than {max} characters"),
        ));
    }
    if b.text.contains('\0') {
        return Err(invalid("invalid_text", "text contains a NUL character"));
    }
    if b.text.trim().is_empty() && b.attachments.is_empty() {
        return Err(invalid("empty_message", "empty text and no attachments"));
    }
    if b.attachments.len() > MAX_ATTACHMENTS {
        return Err(invalid("too_many_attachments", format!("at most {MAX_ATTACHMENTS} attachments")));
    }
    if let Some(d) = &b.button_data
        && (d.is_empty() || d.len() > 256 || d.chars().any(char::is_control))
    {
        return Err(invalid("invalid_button_data", "button_data must be 1-256 characters"));
    }
    let page = b.page.filter(|p| p.len() <= 2048 && !p.chars().any(char::is_control));
    let store = st.engine.store();
    let mut uploads = Vec::with_capacity(b.attachments.len());
    for id in &b.attachments {
        let up = match id.parse::<Uuid>() {
            Ok(id) => store.widget_upload(id).await?,
            Err(_) => None,
        };
        match up {
            Some(u) if u.channel == s.channel.slug && u.subject == v.subject => uploads.push(u),
            _ => return Err(invalid("unknown_upload", format!("attachment {id:?} is not an upload of this visitor"))),
        }
    }
    // Counted last: a refused request does not use up the visitor's allowance.
    check_visitor(&st, &s, &v, "messages", s.cfg.visitor_per_minute())?;

    let attachments: Vec<Attachment> = uploads
        .iter()
        .map(|u| Attachment {
            kind: if u.mime_type.starts_with("image/") { "image".into() } else { "document".into() },
            url: None,
            mime_type: Some(u.mime_type.clone()),
            filename: Some(u.filename.clone()),
            size: Some(u.size as u64),
            provider_id: Some(format!("upload:{}", u.id)),
        })
        .collect();
    let mut extra = serde_json::Map::new();
    extra.insert("widget".into(), json!({"visitor_id": v.id.to_string(), "page": page}));
    if let Some(d) = &b.button_data {
        extra.insert("button_data".into(), Value::String(d.clone()));
    }
    let event = InboundEvent {
        channel: s.channel.slug.clone(),
        provider_event_id: format!("widget:{}:{}", v.subject, b.client_id),
        contact: ContactRef {
            provider_user_id: v.subject.clone(),
            handle: v.email.clone(),
            display_name: v.name.clone(),
        },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: b.text.clone(),
        attachments,
        sent_at: Utc::now(),
        extra,
    };
    event.validate().map_err(|e| invalid("invalid_payload", e.to_string()))?;
    let ack = st.engine.ingestor().submit(event).await?;
    if !uploads.is_empty() {
        for (i, u) in uploads.iter().enumerate() {
            store.enqueue_media(&s.channel.slug, ack.message_id, i as i32, &format!("upload:{}", u.id)).await?;
        }
        st.engine.wake_media();
    }
    let files: Vec<Value> = uploads
        .iter()
        .map(|u| json!({"id": u.id.to_string(), "name": u.filename, "mime_type": u.mime_type, "size": u.size}))
        .collect();
    let body = json!({
        "text": b.text, "client_id": b.client_id, "attachments": files,
        "button_data": b.button_data, "message_id": ack.message_id.to_string(),
    });
    let (item, created) =
        store.append_widget_item(&s.channel.slug, &v.subject, &format!("c:{}", b.client_id), "visitor", &body).await?;
    if created {
        wake(&st, &s, &v.subject, item.seq).await;
    }
    Ok(ok_json(&s, json!({"seq": item.seq, "duplicate": !created, "message_id": ack.message_id.to_string()})))
}

#[derive(Deserialize)]
pub(crate) struct TypingBody {
    key: String,
    token: String,
    typing: bool,
}

/// `POST /widget/v1/typing`: the visitor is typing (or stopped); agents viewing the
/// conversation see it.
pub(crate) async fn typing(
    State(st): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Json(b): Json<TypingBody>,
) -> Result<Response, AppError> {
    let s = site(&st, &b.key, &headers).await?;
    check_ip(&st, &s, &ip)?;
    let v = visitor(&st, &s, &b.token).await?;
    check_visitor(&st, &s, &v, "typing reports", 60)?;
    let store = st.engine.store();
    // The conversation is the one the visitor's latest message was threaded into.
    let last = store.last_widget_items(&s.channel.slug, &v.subject, "visitor", 1).await?;
    let message_id = last.first().and_then(|i| i.body["message_id"].as_str()).and_then(|m| m.parse().ok());
    let conv = match message_id {
        Some(id) => store.get_message(id).await?.map(|m| m.conversation_id),
        None => None,
    };
    if let Some(conv) = conv {
        let name = v.name.clone().unwrap_or_else(|| st.ui.catalogue.get(Locale::En, "widget-visitor", None));
        let data = json!({
            "user_id": v.id.to_string(), "name": name,
            "state": if b.typing { "typing" } else { "left" }, "customer": true,
        });
        st.engine.bus().publish(RealtimeEvent::new(crate::ui::live::PRESENCE, conv, None, None).with_data(data)).await;
    }
    Ok(cors(StatusCode::NO_CONTENT.into_response(), s.origin.as_deref()))
}

#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    key: String,
    token: String,
    #[serde(default)]
    name: Option<String>,
}

/// Whether the first bytes of a file agree with its declared type (types without a signature,
/// such as text, only must not look like an executable or HTML).
pub(super) fn content_matches(mime: &str, bytes: &[u8]) -> bool {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    match mime {
        "image/png" => starts(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => starts(b"\xff\xd8\xff"),
        "image/gif" => starts(b"GIF87a") || starts(b"GIF89a"),
        "image/webp" => starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"),
        "application/pdf" => starts(b"%PDF-"),
        _ => {
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
            !(starts(b"MZ") || starts(b"\x7fELF") || head.contains("<script") || head.contains("<html"))
        }
    }
}

pub(super) fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => "bin",
    }
}

/// `POST /widget/v1/uploads?key=…&token=…&name=…`: the raw file as the body, its type in
/// `Content-Type`. Answers the upload id a message then refers to.
pub(crate) async fn upload(
    State(st): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Query(q): Query<UploadQuery>,
    body: Result<RawBody, AppError>,
) -> Result<Response, AppError> {
    let s = site(&st, &q.key, &headers).await?;
    check_ip(&st, &s, &ip)?;
    let v = visitor(&st, &s, &q.token).await?;
    let max = s.cfg.max_upload();
    let too_big = || {
        AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large", format!("files may be at most {max} bytes"))
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(too_big());
    }
    let RawBody(bytes) = body.map_err(|e| if e.status == StatusCode::PAYLOAD_TOO_LARGE { too_big() } else { e })?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    if bytes.is_empty() {
        return Err(invalid("empty_upload", "the file is empty"));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !s.cfg.accepts_type(&mime) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload_type",
            format!("files of type {mime:?} are not accepted here"),
        ));
    }
    if !content_matches(&mime, &bytes) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload_content",
            format!("the file's content is not {mime}"),
        ));
    }
    let filename: String =
        q.name.unwrap_or_default().chars().filter(|c| !c.is_control() && !matches!(c, '/' | '\\')).take(200).collect();
    let filename = if filename.trim().is_empty() { format!("file.{}", extension(&mime)) } else { filename };
    media_dir(&st)?;
    check_visitor(&st, &s, &v, "uploads", s.cfg.visitor_per_minute())?;
    let up = save_file(&st, &s.channel.slug, &v.subject, mime, filename, bytes).await?;
    Ok(ok_json(&s, json!({"id": up.id.to_string(), "name": up.filename, "mime_type": up.mime_type, "size": up.size})))
}

/// The media directory, or 503 when this server keeps no files.
pub(super) fn media_dir(st: &AppState) -> Result<std::path::PathBuf, AppError> {
    st.engine.config().media.as_ref().map(|m| m.dir.clone()).ok_or_else(|| {
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, "uploads_unavailable", "this server keeps no media files")
    })
}

/// Stores a checked file of a visitor's stream (theirs, or an agent's for them) under
/// `<media>/widget/<channel>/` and records it; only that stream's visitors may read it.
pub(super) async fn save_file(
    st: &AppState,
    channel: &switchboard_domain::ChannelSlug,
    subject: &str,
    mime: String,
    filename: String,
    bytes: axum::body::Bytes,
) -> Result<WidgetUpload, AppError> {
    let dir = media_dir(st)?;
    let id = Uuid::now_v7();
    let rel = format!("widget/{channel}/{id}.{}", extension(&mime));
    let size = bytes.len() as i64;
    let path = dir.join(&rel);
    let write = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Written aside and renamed, so a reader never sees half a file.
        let tmp = path.with_extension("part");
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &path)
    });
    let size_err = |e: String| AppError::new(StatusCode::SERVICE_UNAVAILABLE, "upload_failed", e);
    write.await.map_err(|e| size_err(e.to_string()))?.map_err(|e| size_err(format!("cannot store the file: {e}")))?;
    let up = WidgetUpload {
        id,
        channel: channel.clone(),
        subject: subject.to_owned(),
        path: rel,
        mime_type: mime,
        filename,
        size,
        created_at: Utc::now(),
    };
    st.engine.store().save_widget_upload(&up).await?;
    Ok(up)
}

#[derive(Deserialize)]
pub(crate) struct AuthQuery {
    key: String,
    token: String,
}

/// `GET /widget/v1/uploads/{id}?key=…&token=…`: a file of the visitor's stream (their upload or
/// an agent's file for them), opened by link: the token authorises it, not the page's origin.
pub(crate) async fn download(
    State(st): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Query(q): Query<AuthQuery>,
) -> Result<Response, AppError> {
    let s = super::site_for_link(&st, &q.key, &headers).await?;
    check_ip(&st, &s, &ip)?;
    let v = visitor(&st, &s, &q.token).await?;
    let id = id.parse::<Uuid>().map_err(|_| AppError::not_found("upload"))?;
    let up = st
        .engine
        .store()
        .widget_upload(id)
        .await?
        .filter(|u| u.channel == s.channel.slug && u.subject == v.subject)
        .ok_or_else(|| AppError::not_found("upload"))?;
    let dir = st.engine.config().media.as_ref().map(|m| m.dir.clone()).ok_or_else(|| AppError::not_found("upload"))?;
    let full = dir.join(&up.path);
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(full))
        .await
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "upload_unreadable", e.to_string()))?
        .map_err(|_| AppError::not_found("upload"))?;
    let mut resp = ([(header::CONTENT_TYPE, up.mime_type.clone())], bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    if !up.mime_type.starts_with("image/") {
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
    Ok(cors(resp, s.origin.as_deref()))
}

#[derive(Deserialize)]
pub(crate) struct StreamQuery {
    key: String,
    token: String,
    /// The last sequence number the widget has; the stream starts after it.
    #[serde(default)]
    after: Option<i64>,
}

fn item_event(item: &WidgetItem) -> Event {
    let mut v = item.body.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("seq".into(), json!(item.seq));
        o.insert("direction".into(), json!(item.direction));
        o.insert("created_at".into(), json!(item.created_at.to_rfc3339()));
    }
    Event::default().id(item.seq.to_string()).event("message").json_data(&v).unwrap_or_else(|_| Event::default())
}

struct StreamState {
    st: AppState,
    site_slug: switchboard_domain::ChannelSlug,
    subject: String,
    cursor: i64,
    sub: super::hub::Subscription,
    seen: Signal,
    queue: VecDeque<Event>,
    /// Read the store before waiting (first round, after a full page or a wake-up).
    read: bool,
}

/// `GET /widget/v1/stream?key=…&token=…&after=N`: the visitor's stream as server-sent events,
/// from after `N` (or the `Last-Event-ID` the browser sends on its own reconnect): `message`
/// events with `id:` = sequence number, and `typing` events.
pub(crate) async fn stream(
    State(st): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Query(q): Query<StreamQuery>,
) -> Result<Response, AppError> {
    let s = site(&st, &q.key, &headers).await?;
    check_ip(&st, &s, &ip)?;
    let v = visitor(&st, &s, &q.token).await?;
    let last_event = headers.get("last-event-id").and_then(|h| h.to_str().ok()).and_then(|h| h.parse::<i64>().ok());
    let cursor = q.after.unwrap_or(0).max(last_event.unwrap_or(0)).max(0);
    // Subscribed before the first read, so an item appended in between still wakes us.
    let sub = Hub::subscribe(&st, s.channel.slug.as_str(), &v.subject);
    let seen = sub.rx.borrow().clone();
    let state = StreamState {
        st: st.clone(),
        site_slug: s.channel.slug.clone(),
        subject: v.subject.clone(),
        cursor,
        sub,
        seen,
        queue: VecDeque::new(),
        read: true,
    };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(ev) = s.queue.pop_front() {
                return Some((Ok::<Event, Infallible>(ev), s));
            }
            if s.read {
                match s.st.engine.store().widget_items_after(&s.site_slug, &s.subject, s.cursor, PAGE).await {
                    Ok(items) => {
                        s.read = items.len() == PAGE;
                        if let Some(last) = items.last() {
                            s.cursor = last.seq;
                        }
                        deliver_marks(&s.st, &s.site_slug, &s.subject, &items);
                        s.queue.extend(items.iter().map(item_event));
                        continue;
                    }
                    Err(e) => {
                        // Ends the response; the widget reconnects from its cursor.
                        tracing::warn!(error = %e, "widget stream cannot read the store");
                        return None;
                    }
                }
            }
            if s.sub.rx.changed().await.is_err() {
                return None;
            }
            let now = s.sub.rx.borrow_and_update().clone();
            if now.version != s.seen.version {
                s.read = true;
            }
            if now.typing_version != s.seen.typing_version
                && let Some((name, on)) = &now.typing
            {
                let ev = Event::default()
                    .event("typing")
                    .json_data(json!({"name": name, "typing": on}))
                    .unwrap_or_else(|_| Event::default());
                s.queue.push_back(ev);
            }
            s.seen = now;
        }
    });
    let stream = futures_util::StreamExt::take_until(events, st.shutdown.clone().cancelled_owned());
    let resp = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))).into_response();
    Ok(cors(resp, s.origin.as_deref()))
}

/// Marks replies the visitor's stream carried as delivered (the status only moves forward, so
/// a replay after a reconnect changes nothing).
fn deliver_marks(st: &AppState, slug: &switchboard_domain::ChannelSlug, subject: &str, items: &[WidgetItem]) {
    let ids: Vec<String> =
        items.iter().filter(|i| i.direction == "agent").map(|i| format!("{subject}#{}", i.seq)).collect();
    if ids.is_empty() {
        return;
    }
    let (st, slug) = (st.clone(), slug.clone());
    tokio::spawn(async move {
        for pid in ids {
            match st
                .engine
                .store()
                .record_delivery(&slug, &pid, switchboard_domain::DeliveryStatus::Delivered, None)
                .await
            {
                Ok(Some(m)) => {
                    st.engine
                        .bus()
                        .publish(RealtimeEvent::new("message.updated", m.conversation_id, None, Some(m.id)))
                        .await
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "cannot mark a widget reply delivered"),
            }
        }
    });
}
