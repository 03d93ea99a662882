//! The website chat widget's HTTP side: the script and styles a site embeds (`/widget.js`,
//! `/widget.css`) and the visitor API under `/widget/v1/` (config, session, messages, typing,
//! uploads, and the live stream as server-sent events).
//!
//! Why SSE + POST rather than a WebSocket: everything a visitor sends is a request that must be
//! acknowledged only once durable (a POST answered after the commit, retried with the same client
//! message id), and everything they receive is an ordered log read from a cursor, which is what
//! SSE's `id:`/`Last-Event-ID` resume is made for. Plain HTTP also passes every proxy and needs no
//! extra dependency; the cost, one request per visitor message, is small at chat rates.

pub(crate) mod agent_files;
mod api;
mod assets;
pub mod hub;
pub mod limits;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use switchboard_channels::widget::{MAX_UPLOAD_CEILING, WidgetConfig};
use switchboard_domain::ChannelKind;
use switchboard_store::ChannelRecord;

use crate::AppState;
use crate::cache::TtlCache;
use crate::error::AppError;

/// The widget's shared state: open streams and rate-limit counters.
pub struct WidgetState {
    /// Open streams of this node.
    pub hub: Arc<hub::Hub>,
    /// Requests per visitor and per IP address.
    pub limits: limits::RateLimiter,
    keys: TtlCache<String, ChannelRecord>,
}

impl Default for WidgetState {
    fn default() -> Self {
        Self {
            hub: Arc::default(),
            limits: limits::RateLimiter::default(),
            keys: TtlCache::new(Duration::from_secs(5), 10_000),
        }
    }
}

/// The widget routes, merged into the application router.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/widget.js", get(assets::script))
        .route("/widget.css", get(assets::styles))
        .route("/widget/v1/config", get(api::config).options(preflight))
        .route("/widget/v1/session", post(api::session).options(preflight))
        .route("/widget/v1/messages", post(api::message).options(preflight))
        .route("/widget/v1/typing", post(api::typing).options(preflight))
        .route(
            "/widget/v1/uploads",
            post(api::upload).options(preflight).layer(DefaultBodyLimit::max(MAX_UPLOAD_CEILING as usize + 1)),
        )
        .route("/widget/v1/uploads/{id}", get(api::download).options(preflight))
        .route("/widget/v1/stream", get(api::stream).options(preflight))
        .layer(axum::middleware::from_fn(readable_errors))
}

/// Lets the widget read why a request was refused (a 413 or 422 must not look like a network
/// failure it would retry forever). Refusals of the page itself — a 403 for an origin not on the
/// list, a 404 for an unknown key — stay unreadable to it.
async fn readable_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut resp = next.run(req).await;
    let status = resp.status();
    if let Some(o) = origin
        && (status.is_client_error() || status.is_server_error())
        && !matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
        && !resp.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        resp.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

/// What the admin pages show of a web channel: its public key, allowed origins, embed snippet.
pub(crate) struct AdminInfo {
    pub key: String,
    pub origins: Vec<String>,
    pub snippet: String,
}

/// The admin view of a web channel (`None` for other kinds).
pub(crate) fn admin_info(ch: &ChannelRecord, base: &str) -> Option<AdminInfo> {
    if ch.kind != ChannelKind::Web {
        return None;
    }
    let cfg = WidgetConfig::from_value(&ch.config).unwrap_or_default();
    let key = cfg.key(ch.slug.as_str()).to_owned();
    Some(AdminInfo {
        snippet: format!(r#"<script src="{base}/widget.js" data-key="{key}" async></script>"#),
        key,
        origins: cfg.allowed_origins,
    })
}

/// A channel and its widget settings, found by public key, with the request's origin allowed.
pub(crate) struct Site {
    pub channel: ChannelRecord,
    pub cfg: WidgetConfig,
    pub origin: Option<String>,
}

fn origin_of(headers: &HeaderMap) -> Option<String> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).filter(|o| *o != "null").map(str::to_owned)
}

/// Finds the web channel with this public key and checks the page's origin against its list.
pub(crate) async fn site(st: &AppState, key: &str, headers: &HeaderMap) -> Result<Site, AppError> {
    let channel = channel_by_key(st, key).await?;
    checked_site(channel, origin_of(headers))
}

/// Like [`site`], for what the visitor opens by link (an image in the chat, a file in a new tab):
/// browsers send no `Origin` with those, and the visitor token authorises them; an `Origin` that
/// is sent must still be allowed.
pub(crate) async fn site_for_link(st: &AppState, key: &str, headers: &HeaderMap) -> Result<Site, AppError> {
    let channel = channel_by_key(st, key).await?;
    match origin_of(headers) {
        Some(origin) => checked_site(channel, Some(origin)),
        None => Ok(Site { cfg: WidgetConfig::from_value(&channel.config).unwrap_or_default(), channel, origin: None }),
    }
}

fn checked_site(channel: ChannelRecord, origin: Option<String>) -> Result<Site, AppError> {
    let cfg = WidgetConfig::from_value(&channel.config).unwrap_or_default();
    if !cfg.origin_allowed(origin.as_deref()) {
        return Err(AppError::forbidden(format!(
            "origin {} may not use this chat widget (not in the channel's allowed_origins)",
            origin.as_deref().unwrap_or("(none)")
        )));
    }
    Ok(Site { channel, cfg, origin })
}

async fn channel_by_key(st: &AppState, key: &str) -> Result<ChannelRecord, AppError> {
    if key.is_empty() || key.len() > 64 {
        return Err(AppError::new(StatusCode::NOT_FOUND, "unknown_key", "no chat widget has this key"));
    }
    let channel = match st.widget.keys.get(&key.to_owned()) {
        Some(ch) => ch,
        None => {
            let all = st.engine.store().list_channels().await?;
            let found = all.into_iter().find(|ch| {
                ch.kind == ChannelKind::Web
                    && WidgetConfig::from_value(&ch.config).unwrap_or_default().key(ch.slug.as_str()) == key
            });
            let ch = found
                .ok_or_else(|| AppError::new(StatusCode::NOT_FOUND, "unknown_key", "no chat widget has this key"))?;
            st.widget.keys.insert(key.to_owned(), ch.clone());
            ch
        }
    };
    Ok(channel)
}

/// Lets the embedding page read a response (only for an allowed origin).
pub(crate) fn cors(mut resp: Response, origin: Option<&str>) -> Response {
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

/// CORS preflight. The channel (and so its origin list) is known only from the request itself,
/// which is checked when it comes; the preflight only says which methods and headers exist.
async fn preflight(headers: HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(o) = origin_of(&headers).and_then(|o| HeaderValue::from_str(&o).ok()) {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, x-widget-key, x-widget-token, last-event-id"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}
