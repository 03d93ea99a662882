//! A local Graph API that behaves like Meta's for WhatsApp, Messenger and Instagram: send
//! endpoints that record what they accept and answer in Meta's shapes (and with Meta's errors),
//! media endpoints, status/echo webhooks after each send (signed, sometimes out of order and
//! before the send call returns), an outage mode, and a [`Traffic`] generator that posts signed
//! customer webhooks — several languages, emoji, batches, redeliveries and unknown types.
//!
//! Used by `switchboard simulate`, the demo, the benchmarks and the end-to-end tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchboard_domain::ChannelKind;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::signature;

/// Graph API version the simulator answers under.
pub const VERSION: &str = "v23.0";

/// How the simulator misbehaves during an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Every send answers 503 with a Graph "service unavailable" error.
    ServerErrors,
    /// Sends hang without an answer (and are not processed): the caller times out.
    Timeouts,
    /// Sends answer 400 with WhatsApp's throughput error 130429 (a rate limit).
    RateLimited,
    /// A mix of the above, chosen at random per request.
    Mixed,
}

/// Settings of a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// The app secret that signs webhooks.
    pub app_secret: String,
    /// The access token sends must carry.
    pub access_token: String,
    /// The WhatsApp business phone number id.
    pub phone_number_id: String,
    /// The Facebook page id.
    pub page_id: String,
    /// The Instagram account id.
    pub ig_account_id: String,
    /// Where to post webhooks for each product (`/webhooks/{slug}` of Switchboard).
    pub webhooks: HashMap<ChannelKind, String>,
    /// Post status / echo webhooks after each accepted send.
    pub report_statuses: bool,
    /// Refuse free-form WhatsApp messages to customers who have not written within 24 hours
    /// (error 131047), like the real API.
    pub enforce_window: bool,
    /// How long a "timeout" request hangs.
    pub hang: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            app_secret: "sim-app-secret".into(),
            access_token: "sim-access-token".into(),
            phone_number_id: "106540352242922".into(),
            page_id: "682498171943165".into(),
            ig_account_id: "17841405726653026".into(),
            webhooks: HashMap::new(),
            report_statuses: true,
            enforce_window: true,
            hang: Duration::from_secs(30),
        }
    }
}

/// One send the simulator accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    /// Which product.
    pub kind: ChannelKind,
    /// The request path, e.g. `/v23.0/106540352242922/messages`.
    pub path: String,
    /// The JSON body.
    pub body: Value,
    /// The id it answered with.
    pub provider_message_id: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl SentRequest {
    /// The text the request carries (text body, caption, comment message), if any.
    pub fn text(&self) -> Option<&str> {
        let b = &self.body;
        b.pointer("/text/body")
            .or_else(|| b.pointer("/message/text"))
            .or_else(|| b.get("message").filter(|m| m.is_string()))
            .and_then(|t| t.as_str())
    }
}

struct SimState {
    cfg: SimulatorConfig,
    sent: Mutex<Vec<SentRequest>>,
    attempts: AtomicU64,
    refused: AtomicU64,
    outage: Mutex<Option<Outage>>,
    media: Mutex<HashMap<String, (String, Bytes)>>,
    last_inbound: Mutex<HashMap<String, DateTime<Utc>>>,
    base: String,
    client: reqwest::Client,
    seq: AtomicU64,
    /// Comments that mention the brand, by comment id (for the `mentioned_comment` lookup).
    mentions: Mutex<HashMap<String, Value>>,
    /// `mentioned_comment` lookups answered.
    mention_lookups: AtomicU64,
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    state: Arc<SimState>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Simulator {
    /// Starts on `127.0.0.1:0`.
    pub async fn start(cfg: SimulatorConfig) -> std::io::Result<Simulator> {
        Self::start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr`.
    pub async fn start_on(cfg: SimulatorConfig, addr: SocketAddr) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(std::io::Error::other)?;
        let state = Arc::new(SimState {
            cfg,
            sent: Mutex::default(),
            attempts: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            outage: Mutex::new(None),
            media: Mutex::default(),
            last_inbound: Mutex::default(),
            base: format!("http://{addr}"),
            client,
            seq: AtomicU64::new(0),
            mentions: Mutex::default(),
            mention_lookups: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/{version}/{node}/messages", post(send_message))
            .route("/{version}/{node}/replies", post(reply_comment))
            .route("/{version}/{node}/mentions", post(reply_mention))
            .route("/{version}/{node}", get(media_info))
            .route("/media-bytes/{id}", get(media_bytes))
            .route("/cdn/{id}", get(cdn_bytes))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Simulator { state, addr, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Graph base URL to configure on channels (`http://127.0.0.1:PORT/v23.0`).
    pub fn graph_base_url(&self) -> String {
        format!("{}/{VERSION}", self.state.base)
    }

    /// The settings it runs with.
    pub fn config(&self) -> &SimulatorConfig {
        &self.state.cfg
    }

    /// Every accepted send, in order.
    pub fn sent(&self) -> Vec<SentRequest> {
        self.state.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Send requests received, accepted or not.
    pub fn attempts(&self) -> u64 {
        self.state.attempts.load(Ordering::Relaxed)
    }

    /// Send requests refused (outage, window, bad token).
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::Relaxed)
    }

    /// Starts (`Some`) or ends (`None`) an outage.
    pub fn set_outage(&self, outage: Option<Outage>) {
        if let Ok(mut o) = self.state.outage.lock() {
            *o = outage;
        }
    }

    /// Makes a media object downloadable through the media endpoints.
    pub fn add_media(&self, id: &str, mime_type: &str, bytes: impl Into<Bytes>) {
        if let Ok(mut m) = self.state.media.lock() {
            m.insert(id.to_owned(), (mime_type.to_owned(), bytes.into()));
        }
    }

    /// A traffic generator posting signed webhooks to the configured URLs.
    pub fn traffic(&self) -> Traffic {
        Traffic { state: self.state.clone() }
    }
}

fn graph_error(status: StatusCode, code: i64, message: &str, details: Option<&str>) -> Response {
    let mut err = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "SimTrace"});
    if let Some(d) = details {
        err["error_data"] = json!({"messaging_product": "whatsapp", "details": d});
    }
    (status, axum::Json(json!({"error": err}))).into_response()
}

/// Outage and token checks shared by every send endpoint. `Some` is the answer to give instead.
async fn gate(st: &SimState, headers: &HeaderMap) -> Option<Response> {
    st.attempts.fetch_add(1, Ordering::Relaxed);
    let outage = st.outage.lock().ok().and_then(|o| *o);
    if let Some(mode) = outage {
        let mode = match mode {
            Outage::Mixed => match rand::random_range(0..3) {
                0 => Outage::ServerErrors,
                1 => Outage::Timeouts,
                _ => Outage::RateLimited,
            },
            m => m,
        };
        st.refused.fetch_add(1, Ordering::Relaxed);
        return Some(match mode {
            Outage::Timeouts => {
                tokio::time::sleep(st.cfg.hang).await;
                graph_error(StatusCode::GATEWAY_TIMEOUT, 2, "Service temporarily unavailable", None)
            }
            Outage::RateLimited => graph_error(
                StatusCode::BAD_REQUEST,
                130429,
                "(#130429) Rate limit hit",
                Some("Cloud API message throughput has been reached."),
            ),
            _ => graph_error(StatusCode::SERVICE_UNAVAILABLE, 2, "Service temporarily unavailable", None),
        });
    }
    let expected = format!("Bearer {}", st.cfg.access_token);
    let ok =
        headers.get("authorization").is_some_and(|v| signature::constant_time_eq(v.as_bytes(), expected.as_bytes()));
    if !ok {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return Some(graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.", None));
    }
    None
}

fn next_id(st: &SimState, prefix: &str) -> String {
    let n = st.seq.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}{n:06}", uuid::Uuid::now_v7().simple())
}

fn record(st: &SimState, kind: ChannelKind, path: String, body: Value, id: &str) {
    if let Ok(mut s) = st.sent.lock() {
        s.push(SentRequest { kind, path, body, provider_message_id: id.to_owned(), at: Utc::now() });
    }
}

async fn send_message(
    State(st): State<Arc<SimState>>,
    Path((version, node)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&st, &headers).await {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid JSON", None);
    };
    let path = format!("/{version}/{node}/messages");
    let cfg = &st.cfg;
    if body.get("messaging_product").and_then(|p| p.as_str()) == Some("whatsapp") {
        if node != cfg.phone_number_id {
            st.refused.fetch_add(1, Ordering::Relaxed);
            return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Unknown phone number id", None);
        }
        if body.get("status").and_then(|s| s.as_str()) == Some("read") {
            return axum::Json(json!({"success": true})).into_response();
        }
        let to = body.get("to").or_else(|| body.get("recipient")).and_then(|t| t.as_str()).unwrap_or("").to_owned();
        let kind = body.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if to.is_empty() || kind.is_empty() {
            st.refused.fetch_add(1, Ordering::Relaxed);
            return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) The parameter to is required.", None);
        }
        let recent = st
            .last_inbound
            .lock()
            .ok()
            .and_then(|m| m.get(&to).copied())
            .is_some_and(|t| Utc::now() - t < chrono::Duration::hours(24));
        let group = body.get("recipient_type").and_then(|t| t.as_str()) == Some("group");
        if cfg.enforce_window && kind != "template" && !recent && !group {
            st.refused.fetch_add(1, Ordering::Relaxed);
            return graph_error(
                StatusCode::BAD_REQUEST,
                131047,
                "(#131047) Re-engagement message",
                Some(
                    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                ),
            );
        }
        if kind == "interactive"
            && let Err(why) = check_interactive(&body)
        {
            st.refused.fetch_add(1, Ordering::Relaxed);
            return graph_error(StatusCode::BAD_REQUEST, 131009, "(#131009) Parameter value is not valid", Some(&why));
        }
        let id = next_id(&st, "wamid.SIM");
        record(&st, ChannelKind::Whatsapp, path, body, &id);
        if cfg.report_statuses {
            tokio::spawn(whatsapp_statuses(st.clone(), id.clone(), to.clone()));
        }
        return axum::Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": id, "message_status": "accepted"}],
        }))
        .into_response();
    }
    let (kind, own) = if node == cfg.page_id {
        (ChannelKind::Messenger, cfg.page_id.clone())
    } else if node == cfg.ig_account_id {
        (ChannelKind::Instagram, cfg.ig_account_id.clone())
    } else {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Unknown page or Instagram account", None);
    };
    let recipient =
        body.pointer("/recipient/id").or_else(|| body.pointer("/recipient/comment_id")).and_then(|r| r.as_str());
    let Some(recipient) = recipient.map(str::to_owned) else {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) The parameter recipient is required", None);
    };
    if body.get("message").is_none() {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) The parameter message is required", None);
    }
    if kind == ChannelKind::Messenger && body.get("messaging_type").is_none() {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) messaging_type is required", None);
    }
    if let Some(qr) = body.pointer("/message/quick_replies") {
        let ok = qr.as_array().is_some_and(|q| {
            !q.is_empty()
                && q.len() <= 13
                && q.iter().all(|r| {
                    r.get("content_type").and_then(Value::as_str) != Some("text")
                        || (r
                            .get("title")
                            .and_then(Value::as_str)
                            .is_some_and(|t| !t.is_empty() && t.chars().count() <= 20)
                            && r.get("payload").and_then(Value::as_str).is_some_and(|p| p.len() <= 1000))
                })
        });
        if !ok {
            st.refused.fetch_add(1, Ordering::Relaxed);
            return graph_error(
                StatusCode::BAD_REQUEST,
                100,
                "(#100) quick_replies: at most 13, each with a title of at most 20 characters and a payload",
                None,
            );
        }
    }
    let id = next_id(&st, if kind == ChannelKind::Messenger { "m_SIM" } else { "aWdfSIM" });
    record(&st, kind, path, body.clone(), &id);
    if st.cfg.report_statuses {
        tokio::spawn(dm_reports(st.clone(), kind, own, recipient.clone(), id.clone(), body));
    }
    axum::Json(json!({"recipient_id": recipient, "message_id": id})).into_response()
}

async fn reply_comment(
    State(st): State<Arc<SimState>>,
    Path((version, node)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&st, &headers).await {
        return r;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if body.get("message").and_then(|m| m.as_str()).is_none_or(str::is_empty) {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) The parameter message is required", None);
    }
    let id = format!("178{:014}", st.seq.fetch_add(1, Ordering::Relaxed));
    record(&st, ChannelKind::Instagram, format!("/{version}/{node}/replies"), body, &id);
    axum::Json(json!({"id": id})).into_response()
}

async fn reply_mention(
    State(st): State<Arc<SimState>>,
    Path((version, node)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&st, &headers).await {
        return r;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if node != st.cfg.ig_account_id || body.get("comment_id").is_none() || body.get("message").is_none() {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) comment_id, media_id and message are required", None);
    }
    let id = format!("179{:014}", st.seq.fetch_add(1, Ordering::Relaxed));
    record(&st, ChannelKind::Instagram, format!("/{version}/{node}/mentions"), body, &id);
    axum::Json(json!({"id": id})).into_response()
}

async fn media_info(
    State(st): State<Arc<SimState>>,
    Path((_v, id)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let expected = format!("Bearer {}", st.cfg.access_token);
    if headers.get("authorization").is_none_or(|v| v.as_bytes() != expected.as_bytes()) {
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.", None);
    }
    // `GET /{ig-user-id}?fields=mentioned_comment.comment_id(<id>){…}`: a comment mentioning us.
    if let Some(rest) = q.get("fields").and_then(|f| f.strip_prefix("mentioned_comment.comment_id(")) {
        if id != st.cfg.ig_account_id {
            return graph_error(
                StatusCode::BAD_REQUEST,
                100,
                "(#100) Tried accessing nonexisting field (mentioned_comment)",
                None,
            );
        }
        st.mention_lookups.fetch_add(1, Ordering::Relaxed);
        let comment = rest.split(')').next().unwrap_or("");
        return match st.mentions.lock().ok().and_then(|m| m.get(comment).cloned()) {
            Some(c) => axum::Json(json!({"mentioned_comment": c, "id": id})).into_response(),
            None => graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid comment_id", None),
        };
    }
    // `…?fields=mentioned_media.media_id(<id>){…}`: a post whose caption mentions us.
    if let Some(rest) = q.get("fields").and_then(|f| f.strip_prefix("mentioned_media.media_id(")) {
        if id != st.cfg.ig_account_id {
            return graph_error(
                StatusCode::BAD_REQUEST,
                100,
                "(#100) Tried accessing nonexisting field (mentioned_media)",
                None,
            );
        }
        st.mention_lookups.fetch_add(1, Ordering::Relaxed);
        let media = rest.split(')').next().unwrap_or("");
        return match st.mentions.lock().ok().and_then(|m| m.get(&format!("media:{media}")).cloned()) {
            Some(c) => axum::Json(json!({"mentioned_media": c, "id": id})).into_response(),
            None => graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid media_id", None),
        };
    }
    // The business's own nodes answer a plain read (what a connection check asks for).
    if id == st.cfg.phone_number_id {
        let body = json!({"verified_name": "Acme Support", "display_phone_number": "+1 555-010-0199",
            "quality_rating": "GREEN", "id": id});
        return axum::Json(body).into_response();
    }
    if id == st.cfg.page_id {
        return axum::Json(json!({"name": "Acme Support", "id": id})).into_response();
    }
    if id == st.cfg.ig_account_id {
        return axum::Json(json!({"username": "acmesupport", "name": "Acme Support", "id": id})).into_response();
    }
    let found = st.media.lock().ok().and_then(|m| m.get(&id).cloned());
    match found {
        Some((mime, bytes)) => {
            use sha2::Digest;
            let sha = sha2::Sha256::digest(&bytes);
            axum::Json(json!({
                "messaging_product": "whatsapp",
                "url": format!("{}/media-bytes/{id}", st.base),
                "mime_type": mime,
                "sha256": hex::encode(sha),
                "file_size": bytes.len(),
                "id": id,
            }))
            .into_response()
        }
        None => graph_error(StatusCode::NOT_FOUND, 100, "(#100) Unsupported get request. Object does not exist", None),
    }
}

async fn media_bytes(State(st): State<Arc<SimState>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let expected = format!("Bearer {}", st.cfg.access_token);
    if headers.get("authorization").is_none_or(|v| v.as_bytes() != expected.as_bytes()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match st.media.lock().ok().and_then(|m| m.get(&id).cloned()) {
        Some((mime, bytes)) => ([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// WhatsApp's limits on interactive messages: a body text; reply buttons 1–3 with titles of at
/// most 20 characters and distinct ids; a list with a button label, 1–10 rows, row titles of at
/// most 24 characters and distinct ids.
fn check_interactive(body: &Value) -> Result<(), String> {
    let i = body.get("interactive").ok_or("interactive is required")?;
    if i.pointer("/body/text").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty() || t.chars().count() > 1024) {
        return Err("interactive.body.text is required (at most 1024 characters)".into());
    }
    let distinct = |ids: Vec<&str>| ids.iter().collect::<std::collections::HashSet<_>>().len() == ids.len();
    match i.get("type").and_then(Value::as_str) {
        Some("button") => {
            let b = i.pointer("/action/buttons").and_then(Value::as_array).ok_or("action.buttons is required")?;
            if b.is_empty() || b.len() > 3 {
                return Err("between 1 and 3 buttons".into());
            }
            let titles_ok = b.iter().all(|b| {
                b.pointer("/reply/title")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty() && t.chars().count() <= 20)
            });
            let ids: Vec<&str> = b.iter().filter_map(|b| b.pointer("/reply/id").and_then(Value::as_str)).collect();
            if !titles_ok || ids.len() != b.len() || !distinct(ids) {
                return Err("each button needs a distinct id and a title of at most 20 characters".into());
            }
            Ok(())
        }
        Some("list") => {
            if i.pointer("/action/button")
                .and_then(Value::as_str)
                .is_none_or(|t| t.is_empty() || t.chars().count() > 20)
            {
                return Err("action.button is required (at most 20 characters)".into());
            }
            let rows: Vec<&Value> = i
                .pointer("/action/sections")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("rows").and_then(Value::as_array))
                .flatten()
                .collect();
            if rows.is_empty() || rows.len() > 10 {
                return Err("between 1 and 10 rows".into());
            }
            let titles_ok = rows.iter().all(|r| {
                r.get("title").and_then(Value::as_str).is_some_and(|t| !t.is_empty() && t.chars().count() <= 24)
            });
            let ids: Vec<&str> = rows.iter().filter_map(|r| r.get("id").and_then(Value::as_str)).collect();
            if !titles_ok || ids.len() != rows.len() || !distinct(ids) {
                return Err("each row needs a distinct id and a title of at most 24 characters".into());
            }
            Ok(())
        }
        other => Err(format!("interactive type {other:?} is not supported here")),
    }
}

/// A Messenger / Instagram attachment URL, as Meta's CDN serves them: no token, a signature and
/// an expiry (`oe`, hex Unix seconds) in the query; an expired URL answers 403.
async fn cdn_bytes(
    State(st): State<Arc<SimState>>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let expired =
        q.get("oe").and_then(|oe| i64::from_str_radix(oe, 16).ok()).is_none_or(|oe| oe < Utc::now().timestamp());
    if expired {
        return (StatusCode::FORBIDDEN, "URL signature expired").into_response();
    }
    match st.media.lock().ok().and_then(|m| m.get(&id).cloned()) {
        Some((mime, bytes)) => ([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Posts sent → delivered → read for a WhatsApp send, in a shuffled order, starting at once (so
/// a report can arrive before the send call has returned).
async fn whatsapp_statuses(st: Arc<SimState>, id: String, to: String) {
    let Some(url) = st.cfg.webhooks.get(&ChannelKind::Whatsapp).cloned() else { return };
    let mut order = ["sent", "delivered", "read"];
    if rand::random_bool(0.5) {
        order.swap(0, 2);
    }
    for (i, status) in order.iter().enumerate() {
        let ts = (Utc::now().timestamp() + i as i64).to_string();
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": st.cfg.phone_number_id},
                "statuses": [{"id": id, "status": status, "timestamp": ts, "recipient_id": to}]},
            "field": "messages"}]}]});
        post_signed(&st, &url, &body).await;
        tokio::time::sleep(Duration::from_millis(rand::random_range(0..20))).await;
    }
}

/// Echo, delivery and read webhooks for a Messenger / Instagram DM.
async fn dm_reports(st: Arc<SimState>, kind: ChannelKind, own: String, recipient: String, mid: String, sent: Value) {
    let Some(url) = st.cfg.webhooks.get(&kind).cloned() else { return };
    let object = if kind == ChannelKind::Messenger { "page" } else { "instagram" };
    let now = Utc::now().timestamp_millis();
    let mut message = json!({"mid": mid, "is_echo": true});
    if let Some(t) = sent.pointer("/message/text") {
        message["text"] = t.clone();
    }
    if let Some(m) = sent.pointer("/message/metadata") {
        message["metadata"] = m.clone();
    }
    if kind == ChannelKind::Messenger {
        message["app_id"] = json!(1517776481860111u64);
    }
    let echo = json!({"object": object, "entry": [{"id": own, "time": now, "messaging": [{
        "sender": {"id": own}, "recipient": {"id": recipient}, "timestamp": now, "message": message}]}]});
    post_signed(&st, &url, &echo).await;
    if kind == ChannelKind::Messenger {
        let delivery = json!({"object": object, "entry": [{"id": own, "time": now, "messaging": [{
            "sender": {"id": recipient}, "recipient": {"id": own}, "delivery": {"mids": [mid], "watermark": now}}]}]});
        let read = json!({"object": object, "entry": [{"id": own, "time": now + 5, "messaging": [{
            "sender": {"id": recipient}, "recipient": {"id": own}, "timestamp": now + 5, "read": {"watermark": now + 5}}]}]});
        post_signed(&st, &url, &delivery).await;
        post_signed(&st, &url, &read).await;
    }
}

/// Meta signs "an escaped unicode version of the payload": non-ASCII as `\uXXXX` escapes.
pub fn meta_json(v: &Value) -> Vec<u8> {
    use std::fmt::Write;
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + 64);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if !c.is_ascii() {
            out.push_str(&s[start..i]);
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{unit:04x}");
            }
            start = i + c.len_utf8();
        }
    }
    out.push_str(&s[start..]);
    out.into_bytes()
}

async fn post_signed(st: &SimState, url: &str, body: &Value) -> Option<u16> {
    let bytes = meta_json(body);
    let sig = signature::sign(st.cfg.app_secret.as_bytes(), &bytes);
    // Meta retries failed deliveries; so do we, a few times.
    for attempt in 0..5u32 {
        let r = st
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &sig)
            .body(bytes.clone())
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => return Some(resp.status().as_u16()),
            Ok(resp) if resp.status().is_client_error() => return Some(resp.status().as_u16()),
            _ => tokio::time::sleep(Duration::from_millis(50 * 2u64.pow(attempt))).await,
        }
    }
    None
}

/// A simulated customer.
#[derive(Debug, Clone)]
pub struct Customer {
    /// Display name.
    pub name: String,
    /// WhatsApp phone (digits) / Messenger PSID / Instagram-scoped id.
    pub id: String,
    /// WhatsApp business-scoped user id, if the customer has one.
    pub bsuid: Option<String>,
    /// WhatsApp / Instagram username.
    pub username: Option<String>,
}

/// A 1×1 PNG: the picture the simulated customers send (served by the media endpoints).
pub const SAMPLE_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Media id of [`SAMPLE_PNG`].
pub const SAMPLE_MEDIA_ID: &str = "1003383421387256";

/// Customer lines in several languages, with emoji.
pub const LINES: &[&str] = &[
    "Hi, my order #48213 has not arrived yet. Can you check? 📦",
    "你好，我的订单还没有到，可以帮我查一下吗？",
    "请问这件外套有M码吗？😊",
    "Hola, ¿pueden cambiar la dirección de entrega?",
    "Bonjour, je voudrais un remboursement s'il vous plaît 🙏",
    "Hallo, mein Paket ist beschädigt angekommen 😞",
    "Is the blue jacket still in stock? 💙",
    "こんにちは、返品の方法を教えてください。",
    "Thanks, that solved it! 🎉",
    "退款什么时候到账？已经等了一周了 😤",
];

/// Posts signed customer webhooks to Switchboard.
#[derive(Clone)]
pub struct Traffic {
    state: Arc<SimState>,
}

/// What a traffic run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficReport {
    /// Webhook deliveries posted.
    pub posted: u64,
    /// Deliveries answered 2xx.
    pub accepted: u64,
    /// Customer messages carried (each counted once, redeliveries excluded).
    pub messages: u64,
    /// Deliveries that repeated an earlier one.
    pub redeliveries: u64,
}

impl Traffic {
    /// The sample customers.
    pub fn customers() -> Vec<Customer> {
        let names = [
            "Sheena Nelson",
            "王小明",
            "María García",
            "Pablo M.",
            "李娜",
            "Jonas Weber",
            "佐藤 花子",
            "Amélie Durand",
        ];
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Customer {
                name: (*n).to_owned(),
                id: format!("1650555{:04}", 1234 + i),
                bsuid: (i % 3 == 0).then(|| format!("US.{:020}", 13491208655302741918u64 / (i as u64 + 1))),
                username: (i % 3 == 0).then(|| format!("user{i}")),
            })
            .collect()
    }

    /// A WhatsApp message webhook with `messages` of the given JSON objects (`id`, `type`, …
    /// filled in by the caller) from `c`.
    pub fn whatsapp_payload(&self, c: &Customer, messages: Vec<Value>) -> Value {
        let mut contact = json!({"profile": {"name": c.name}, "wa_id": c.id});
        if let Some(b) = &c.bsuid {
            contact["user_id"] = json!(b);
        }
        if let Some(u) = &c.username {
            contact["profile"]["username"] = json!(u);
        }
        json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": self.state.cfg.phone_number_id},
                "contacts": [contact], "messages": messages},
            "field": "messages"}]}]})
    }

    /// A WhatsApp text message object from `c`.
    pub fn whatsapp_text(&self, c: &Customer, text: &str) -> Value {
        let mut m = json!({"from": c.id, "id": self.wamid(), "timestamp": Utc::now().timestamp().to_string(),
            "type": "text", "text": {"body": text}});
        if let Some(b) = &c.bsuid {
            m["from_user_id"] = json!(b);
        }
        m
    }

    /// A fresh inbound WhatsApp message id.
    pub fn wamid(&self) -> String {
        next_id(&self.state, "wamid.IN")
    }

    /// A Messenger text webhook from `c`.
    pub fn messenger_text(&self, c: &Customer, text: &str) -> Value {
        let now = Utc::now().timestamp_millis();
        let page = &self.state.cfg.page_id;
        json!({"object": "page", "entry": [{"id": page, "time": now, "messaging": [{
            "sender": {"id": c.id}, "recipient": {"id": page}, "timestamp": now,
            "message": {"mid": next_id(&self.state, "m_IN"), "text": text}}]}]})
    }

    /// `mentioned_comment` lookups the simulator has answered.
    pub fn mention_lookups(&self) -> u64 {
        self.state.mention_lookups.load(Ordering::Relaxed)
    }

    /// A `mentions` webhook: `c` mentioned the brand in a comment on someone's post `media`.
    /// The webhook names neither author nor text (as Meta's); the Graph lookup does.
    pub fn instagram_mention(&self, c: &Customer, media: &str, text: &str) -> Value {
        let own = &self.state.cfg.ig_account_id;
        let comment = format!("178{:014}", self.state.seq.fetch_add(1, Ordering::Relaxed));
        let username = c.username.clone().unwrap_or_else(|| format!("ig_{}", c.id));
        if let Ok(mut m) = self.state.mentions.lock() {
            m.insert(
                comment.clone(),
                json!({"id": comment, "text": text, "username": username, "timestamp": Utc::now().to_rfc3339(),
                    "from": {"id": c.id, "username": username}}),
            );
        }
        json!({"object": "instagram", "entry": [{"id": own, "time": Utc::now().timestamp(), "changes": [{
            "field": "mentions", "value": {"comment_id": comment, "media_id": media}}]}]})
    }

    /// A `mentions` webhook for a caption: `c` mentioned the brand in the caption of their post
    /// `media` (the webhook names only the post; the Graph lookup names the author and caption).
    pub fn instagram_caption_mention(&self, c: &Customer, media: &str, caption: &str) -> Value {
        let own = &self.state.cfg.ig_account_id;
        let username = c.username.clone().unwrap_or_else(|| format!("ig_{}", c.id));
        if let Ok(mut m) = self.state.mentions.lock() {
            m.insert(
                format!("media:{media}"),
                json!({"id": media, "caption": caption, "username": username, "timestamp": Utc::now().to_rfc3339(),
                    "owner": {"id": c.id, "username": username}}),
            );
        }
        json!({"object": "instagram", "entry": [{"id": own, "time": Utc::now().timestamp(), "changes": [{
            "field": "mentions", "value": {"media_id": media}}]}]})
    }

    /// The CDN URL of media `id` (see [`Simulator::add_media`]), valid for `valid`.
    pub fn cdn_url(&self, id: &str, valid: Duration) -> String {
        let oe = Utc::now().timestamp() + i64::try_from(valid.as_secs()).unwrap_or(3600);
        format!("{}/cdn/{id}?_nc_cat=1&oh=00_AfSim&oe={oe:X}", self.state.base)
    }

    /// A Messenger webhook from `c` carrying an attachment of `kind` (`image`, `audio`, `video`,
    /// `file`) at `url`.
    pub fn messenger_attachment(&self, c: &Customer, kind: &str, url: &str) -> Value {
        let now = Utc::now().timestamp_millis();
        let page = &self.state.cfg.page_id;
        json!({"object": "page", "entry": [{"id": page, "time": now, "messaging": [{
            "sender": {"id": c.id}, "recipient": {"id": page}, "timestamp": now,
            "message": {"mid": next_id(&self.state, "m_IN"), "attachments": [{"type": kind, "payload": {"url": url}}]}}]}]})
    }

    /// An Instagram DM webhook from `c` carrying an attachment of `kind` at `url`.
    pub fn instagram_attachment(&self, c: &Customer, kind: &str, url: &str) -> Value {
        let now = Utc::now().timestamp_millis();
        let own = &self.state.cfg.ig_account_id;
        json!({"object": "instagram", "entry": [{"id": own, "time": now, "messaging": [{
            "sender": {"id": c.id}, "recipient": {"id": own}, "timestamp": now,
            "message": {"mid": next_id(&self.state, "aWdfIN"), "attachments": [{"type": kind, "payload": {"url": url}}]}}]}]})
    }

    /// An Instagram DM webhook from `c`.
    pub fn instagram_dm(&self, c: &Customer, text: &str) -> Value {
        let now = Utc::now().timestamp_millis();
        let own = &self.state.cfg.ig_account_id;
        json!({"object": "instagram", "entry": [{"id": own, "time": now, "messaging": [{
            "sender": {"id": c.id}, "recipient": {"id": own}, "timestamp": now,
            "message": {"mid": next_id(&self.state, "aWdfIN"), "text": text}}]}]})
    }

    /// A public Instagram comment by `c` on post `media`.
    pub fn instagram_comment(&self, c: &Customer, media: &str, text: &str) -> Value {
        let own = &self.state.cfg.ig_account_id;
        json!({"object": "instagram", "entry": [{"id": own, "time": Utc::now().timestamp(), "changes": [{
            "field": "comments",
            "value": {"from": {"id": c.id, "username": c.username.clone().unwrap_or_else(|| format!("ig_{}", c.id))},
                "id": format!("178{:014}", self.state.seq.fetch_add(1, Ordering::Relaxed)),
                "text": text, "media": {"id": media, "media_product_type": "FEED"}}}]}]})
    }

    /// Signs and posts a webhook for `kind`; answers the HTTP status (`None`: no answer).
    pub async fn post(&self, kind: ChannelKind, body: &Value) -> Option<u16> {
        self.note_inbound(body);
        let url = self.state.cfg.webhooks.get(&kind)?.clone();
        post_signed(&self.state, &url, body).await
    }

    /// Remembers who wrote (for the simulated 24-hour rule on sends).
    fn note_inbound(&self, body: &Value) {
        let Ok(mut last) = self.state.last_inbound.lock() else { return };
        for e in body.get("entry").and_then(|e| e.as_array()).map_or(&[][..], Vec::as_slice) {
            for ch in e.get("changes").and_then(|c| c.as_array()).map_or(&[][..], Vec::as_slice) {
                for m in ch.pointer("/value/messages").and_then(|m| m.as_array()).map_or(&[][..], Vec::as_slice) {
                    for key in ["from", "from_user_id"] {
                        if let Some(k) = m.get(key).and_then(|k| k.as_str()) {
                            last.insert(k.to_owned(), Utc::now());
                        }
                    }
                }
            }
        }
    }

    /// Posts `n` customer messages across WhatsApp, Messenger and Instagram (for the channels
    /// that have a webhook URL): multilingual text, media, locations, reactions, unknown types,
    /// batches of two, and redeliveries of about one delivery in ten. `pause` between posts.
    pub async fn run(&self, n: u64, pause: Duration) -> TrafficReport {
        let customers = Self::customers();
        let mut report = TrafficReport::default();
        let kinds: Vec<ChannelKind> = [ChannelKind::Whatsapp, ChannelKind::Messenger, ChannelKind::Instagram]
            .into_iter()
            .filter(|k| self.state.cfg.webhooks.contains_key(k))
            .collect();
        if kinds.is_empty() {
            return report;
        }
        let mut i = 0u64;
        while report.messages < n {
            let c = &customers[(i as usize) % customers.len()];
            let line = LINES[(i as usize * 7 + 3) % LINES.len()];
            let kind = kinds[(i as usize) % kinds.len()];
            let (body, count) = match kind {
                ChannelKind::Whatsapp => {
                    let m = match i % 10 {
                        3 => {
                            let mut m = self.whatsapp_text(c, "");
                            m["type"] = json!("image");
                            m.as_object_mut().map(|o| o.remove("text"));
                            if let Ok(mut media) = self.state.media.lock() {
                                media.insert(
                                    SAMPLE_MEDIA_ID.to_owned(),
                                    ("image/png".to_owned(), Bytes::from_static(SAMPLE_PNG)),
                                );
                            }
                            m["image"] = json!({"caption": "这是收到的包裹 📦", "mime_type": "image/png", "id": SAMPLE_MEDIA_ID});
                            m
                        }
                        5 => {
                            let mut m = self.whatsapp_text(c, "");
                            m["type"] = json!("location");
                            m.as_object_mut().map(|o| o.remove("text"));
                            m["location"] = json!({"latitude": 31.2304, "longitude": 121.4737, "name": "上海门店", "address": "南京东路 100 号"});
                            m
                        }
                        7 => {
                            let mut m = self.whatsapp_text(c, "");
                            m["type"] = json!("unsupported");
                            m.as_object_mut().map(|o| o.remove("text"));
                            m["unsupported"] = json!({"type": "edit"});
                            m["errors"] = json!([{"code": 131051, "title": "Message type unknown",
                                "message": "Message type unknown", "error_data": {"details": "Message type is currently not supported."}}]);
                            m
                        }
                        9 => {
                            // A batch: two messages in one delivery.
                            let a = self.whatsapp_text(c, line);
                            let b = self.whatsapp_text(c, "还有，可以开发票吗？🧾");
                            report.messages += 1;
                            json!([a, b])
                        }
                        _ => self.whatsapp_text(c, line),
                    };
                    let msgs = match m {
                        Value::Array(a) => a,
                        one => vec![one],
                    };
                    (self.whatsapp_payload(c, msgs), 1)
                }
                ChannelKind::Messenger => (self.messenger_text(c, line), 1),
                _ if i % 4 == 2 => (self.instagram_comment(c, "17918195224117851", line), 1),
                _ => (self.instagram_dm(c, line), 1),
            };
            report.posted += 1;
            report.messages += count;
            if self.post(kind, &body).await.is_some_and(|s| s < 300) {
                report.accepted += 1;
            }
            if i % 10 == 4 {
                // Providers redeliver: the same delivery again, byte for byte.
                report.posted += 1;
                report.redeliveries += 1;
                if self.post(kind, &body).await.is_some_and(|s| s < 300) {
                    report.accepted += 1;
                }
            }
            i += 1;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_json_escapes_non_ascii_like_meta() {
        let v = json!({"t": "Hi 你好 😊"});
        let s = String::from_utf8(meta_json(&v)).unwrap_or_default();
        assert_eq!(s, r#"{"t":"Hi \u4f60\u597d \ud83d\ude0a"}"#);
        assert_eq!(serde_json::from_str::<Value>(&s).ok(), Some(v));
    }
}

#[cfg(test)]
mod interactive_tests {
    use super::*;

    #[test]
    fn whatsapp_limits_on_interactive_messages_are_enforced() {
        let buttons = |n: usize, title: &str| {
            let b: Vec<Value> =
                (0..n).map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": title}})).collect();
            json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": b}}})
        };
        assert!(check_interactive(&buttons(3, "Twenty characters ok")).is_ok());
        assert!(check_interactive(&buttons(4, "Yes")).is_err());
        assert!(check_interactive(&buttons(2, "Twenty-one characters")).is_err());
        let rows: Vec<Value> = (0..11).map(|i| json!({"id": format!("r{i}"), "title": "Row"})).collect();
        let list = json!({"interactive": {"type": "list", "body": {"text": "Pick"},
            "action": {"button": "Choose", "sections": [{"rows": rows}]}}});
        assert!(check_interactive(&list).is_err());
        let dup = json!({"interactive": {"type": "list", "body": {"text": "Pick"},
            "action": {"button": "Choose", "sections": [{"rows": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}]}}});
        assert!(check_interactive(&dup).is_err());
    }
}
