//! A local X API that answers like X: `POST /2/tweets`, `POST /2/dm_conversations/with/{id}/messages`
//! and `POST /2/users/{id}/likes` with X's response shapes, `x-rate-limit-*` headers on every
//! answer and 429 `{"errors":[{"code":88,"message":"Rate limit exceeded"}]}` once a window's quota
//! is spent (or while a rate-limit window is forced); the CRC challenge against Switchboard; the
//! brand's own posts and DMs delivered back as signed Account Activity events; and a [`Traffic`]
//! generator posting signed customer activity — public complaints, questions and praise in
//! several languages with emoji, long posts, DMs, likes, follows, deletes and duplicate deliveries.
//! For polling mode it also serves `GET /2/users/{id}/mentions` (with `since_id`) and
//! `GET /2/dm_events` from what [`Traffic::publish_mention`] / [`Traffic::publish_dm`] put there,
//! newest first, in pages (`max_results`, `meta.next_token` → `pagination_token`) as X does.
//!
//! Used by `switchboard simulate`, the demo, the benchmarks and the end-to-end tests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::signature;
use super::text::{MAX_WEIGHTED_LENGTH, weighted_length};

/// Settings of a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// The consumer secret that signs deliveries and answers CRC.
    pub consumer_secret: String,
    /// The access token sends must carry.
    pub access_token: String,
    /// The brand's user id (`for_user_id`).
    pub brand_user_id: String,
    /// The brand's @handle.
    pub brand_screen_name: String,
    /// Switchboard's webhook URL (`/webhooks/{slug}`), if deliveries are posted.
    pub webhook: Option<String>,
    /// Deliver the brand's own posts and DMs back as Account Activity events after each send.
    pub echo: bool,
    /// Requests allowed per rate-limit window and endpoint.
    pub window_limit: u32,
    /// Length of a rate-limit window.
    pub window: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            consumer_secret: "sim-x-consumer-secret".into(),
            access_token: "sim-x-access-token".into(),
            brand_user_id: "2244994945".into(),
            brand_screen_name: "SwitchboardCo".into(),
            webhook: None,
            echo: true,
            window_limit: 300,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// One accepted API call.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    /// `tweet`, `dm` or `like`.
    pub kind: &'static str,
    /// The DM recipient or the liking user.
    pub target: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// The id X gave it.
    pub id: String,
}

impl SentRequest {
    /// The text, if any.
    pub fn text(&self) -> Option<&str> {
        self.body.get("text").and_then(Value::as_str)
    }
    /// The post it replies to.
    pub fn in_reply_to(&self) -> Option<&str> {
        self.body.pointer("/reply/in_reply_to_tweet_id").and_then(Value::as_str)
    }
}

struct Window {
    started: DateTime<Utc>,
    used: u32,
}

struct SimState {
    cfg: SimulatorConfig,
    sent: Mutex<Vec<SentRequest>>,
    attempts: AtomicU64,
    limited: AtomicU64,
    windows: Mutex<std::collections::HashMap<&'static str, Window>>,
    forced_until: Mutex<Option<DateTime<Utc>>>,
    seq: AtomicU64,
    client: reqwest::Client,
    /// Polling mode: mentions of the brand (v2 post objects, oldest first).
    timeline: Mutex<Vec<Value>>,
    /// Polling mode: DM events (v2, oldest first), customers' and the brand's.
    dm_log: Mutex<Vec<Value>>,
    /// Users named in the above.
    users: Mutex<std::collections::HashMap<String, Value>>,
    /// The brand's posts (v2 shape, oldest first), for `GET /2/users/{id}/tweets`.
    own_posts: Mutex<Vec<Value>>,
    /// Who wrote each customer post (X names `in_reply_to_user_id` on replies to it).
    authors: Mutex<std::collections::HashMap<String, String>>,
    /// Answers to lose: the next `n` accepted posts/DMs are answered only after this delay
    /// (longer than the caller's timeout: X did it, the caller never hears).
    lose: Mutex<(u32, Duration)>,
}

impl SimState {
    /// Post ids above 2^53, as X's are.
    fn next_id(&self) -> String {
        (1_860_000_000_000_000_000u64 + self.seq.fetch_add(1, Ordering::Relaxed)).to_string()
    }
}

/// A running simulator; stops when dropped.
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
            limited: AtomicU64::new(0),
            windows: Mutex::default(),
            forced_until: Mutex::new(None),
            seq: AtomicU64::new(0),
            client,
            timeline: Mutex::default(),
            dm_log: Mutex::default(),
            users: Mutex::default(),
            own_posts: Mutex::default(),
            authors: Mutex::default(),
            lose: Mutex::new((0, Duration::ZERO)),
        });
        let app = Router::new()
            .route("/2/tweets", post(create_tweet))
            .route("/2/dm_conversations/with/{participant}/messages", post(send_dm))
            .route("/2/users/{id}/likes", post(like))
            .route("/2/users/{id}/mentions", axum::routing::get(mentions_timeline))
            .route("/2/dm_events", axum::routing::get(dm_events))
            .route("/2/users/{id}/tweets", axum::routing::get(user_tweets))
            .route("/2/dm_conversations/with/{participant}/dm_events", axum::routing::get(conversation_dm_events))
            .route("/2/users/me", axum::routing::get(users_me))
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

    /// The API base URL to configure on channels (`api_base_url`).
    pub fn api_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The settings it runs with.
    pub fn config(&self) -> &SimulatorConfig {
        &self.state.cfg
    }

    /// Every accepted call, in order.
    pub fn sent(&self) -> Vec<SentRequest> {
        self.state.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Calls received, accepted or not.
    pub fn attempts(&self) -> u64 {
        self.state.attempts.load(Ordering::Relaxed)
    }

    /// Calls answered 429.
    pub fn rate_limited(&self) -> u64 {
        self.state.limited.load(Ordering::Relaxed)
    }

    /// Answers every call with 429 until `for_` has passed (a spent quota).
    pub fn force_rate_limit(&self, for_: Duration) {
        if let Ok(mut f) = self.state.forced_until.lock() {
            *f = Some(Utc::now() + chrono::Duration::from_std(for_).unwrap_or_default());
        }
    }

    /// The next `n` accepted posts/DMs are made, but answered only after `delay` (set it longer
    /// than Switchboard's request timeout: the answer is lost).
    pub fn lose_answers(&self, n: u32, delay: Duration) {
        if let Ok(mut l) = self.state.lose.lock() {
            *l = (n, delay);
        }
    }

    /// X's side of the CRC check: GETs `url?crc_token=…` and checks the `response_token`.
    pub async fn check_crc(&self, url: &str) -> Result<(), String> {
        let token = format!("crc-{}", self.state.next_id());
        let resp = self
            .state
            .client
            .get(url)
            .query(&[("crc_token", &token)])
            .send()
            .await
            .map_err(|e| format!("CRC request failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("CRC answered {}", resp.status()));
        }
        let v: Value = resp.json().await.map_err(|e| format!("CRC answer is not JSON: {e}"))?;
        let want = signature::crc_response_token(&self.state.cfg.consumer_secret, &token);
        if v.get("response_token").and_then(Value::as_str) == Some(want.as_str()) {
            Ok(())
        } else {
            Err(format!("CRC response_token is wrong: {v}"))
        }
    }

    /// A traffic generator posting signed deliveries to the configured webhook.
    pub fn traffic(&self) -> Traffic {
        Traffic { state: self.state.clone() }
    }
}

fn rate_headers(limit: u32, remaining: u32, reset: DateTime<Utc>) -> [(&'static str, HeaderValue); 3] {
    [
        ("x-rate-limit-limit", HeaderValue::from(limit)),
        ("x-rate-limit-remaining", HeaderValue::from(remaining)),
        ("x-rate-limit-reset", HeaderValue::from(reset.timestamp().max(0) as u64)),
    ]
}

fn with_headers(mut r: Response, headers: [(&'static str, HeaderValue); 3]) -> Response {
    for (k, v) in headers {
        r.headers_mut().insert(k, v);
    }
    r
}

/// Token, quota and forced-limit checks. `Err` is the answer to give instead.
fn gate(
    st: &SimState,
    headers: &HeaderMap,
    endpoint: &'static str,
) -> Result<[(&'static str, HeaderValue); 3], Box<Response>> {
    st.attempts.fetch_add(1, Ordering::Relaxed);
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != format!("Bearer {}", st.cfg.access_token) {
        return Err(Box::new(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
                ),
            )
                .into_response(),
        ));
    }
    let now = Utc::now();
    let limit = st.cfg.window_limit;
    let forced = st.forced_until.lock().ok().and_then(|f| *f).filter(|f| *f > now);
    let Ok(mut windows) = st.windows.lock() else {
        return Err(Box::new(StatusCode::SERVICE_UNAVAILABLE.into_response()));
    };
    let window = chrono::Duration::from_std(st.cfg.window).unwrap_or_default();
    let w = windows.entry(endpoint).or_insert(Window { started: now, used: 0 });
    if now - w.started >= window {
        *w = Window { started: now, used: 0 };
    }
    let reset = forced.unwrap_or(w.started + window);
    if forced.is_some() || w.used >= limit {
        st.limited.fetch_add(1, Ordering::Relaxed);
        let body = json!({"errors": [{"code": 88, "message": "Rate limit exceeded"}]});
        return Err(Box::new(with_headers(
            (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response(),
            rate_headers(limit, 0, reset),
        )));
    }
    w.used += 1;
    Ok(rate_headers(limit, limit - w.used, reset))
}

fn problem(status: StatusCode, detail: &str) -> Response {
    (status, axum::Json(json!({"title": status.canonical_reason().unwrap_or(""), "type": "about:blank", "status": status.as_u16(), "detail": detail})))
        .into_response()
}

/// The delay before answering an accepted call whose answer is to be lost, if any.
fn lost_answer_delay(st: &SimState) -> Option<Duration> {
    let mut l = st.lose.lock().ok()?;
    if l.0 == 0 {
        return None;
    }
    l.0 -= 1;
    Some(l.1)
}

fn record(st: &SimState, kind: &'static str, target: Option<String>, body: Value, id: String) {
    if let Ok(mut s) = st.sent.lock() {
        s.push(SentRequest { kind, target, body, id });
    }
}

async fn create_tweet(State(st): State<Arc<SimState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let h = match gate(&st, &headers, "tweets") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "The request body is not valid JSON");
    };
    let text = v.get("text").and_then(Value::as_str).unwrap_or("");
    if text.trim().is_empty() {
        return problem(StatusCode::BAD_REQUEST, "text must not be empty");
    }
    if weighted_length(text) > MAX_WEIGHTED_LENGTH {
        return problem(StatusCode::FORBIDDEN, "Your Tweet text is too long.");
    }
    let id = st.next_id();
    record(&st, "tweet", None, v.clone(), id.clone());
    let parent = v.pointer("/reply/in_reply_to_tweet_id").and_then(Value::as_str);
    if let Ok(mut p) = st.own_posts.lock() {
        let mut post = json!({"id": id, "text": text, "author_id": st.cfg.brand_user_id, "edit_history_tweet_ids": [id],
            "created_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
        if let Some(parent) = parent {
            post["referenced_tweets"] = json!([{"type": "replied_to", "id": parent}]);
        }
        p.push(post);
    }
    if st.cfg.echo {
        let to = parent.and_then(|p| st.authors.lock().ok().and_then(|a| a.get(p).cloned()));
        let echo = own_tweet(&st.cfg, &id, text, parent.map(|p| (p, to.unwrap_or_default())));
        spawn_delivery(&st, echo);
    }
    if let Some(delay) = lost_answer_delay(&st) {
        tokio::time::sleep(delay).await;
    }
    with_headers(
        (StatusCode::CREATED, axum::Json(json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}})))
            .into_response(),
        h,
    )
}

async fn send_dm(
    State(st): State<Arc<SimState>>,
    Path(participant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let h = match gate(&st, &headers, "dm") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    if participant.is_empty() || !participant.bytes().all(|b| b.is_ascii_digit()) {
        return problem(StatusCode::BAD_REQUEST, "participant_id must be a numeric user id");
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "The request body is not valid JSON");
    };
    let text = v.get("text").and_then(Value::as_str).unwrap_or("").to_owned();
    if text.trim().is_empty() && v.get("attachments").is_none() {
        return problem(StatusCode::BAD_REQUEST, "text or attachments is required");
    }
    let id = st.next_id();
    record(&st, "dm", Some(participant.clone()), v, id.clone());
    log_dm(&st, &id, &st.cfg.brand_user_id.clone(), &participant, &text);
    if st.cfg.echo {
        let echo = own_dm(&st.cfg, &id, &participant, &text);
        spawn_delivery(&st, echo);
    }
    if let Some(delay) = lost_answer_delay(&st) {
        tokio::time::sleep(delay).await;
    }
    let conv = format!("{participant}-{}", st.cfg.brand_user_id);
    with_headers(
        (StatusCode::CREATED, axum::Json(json!({"data": {"dm_conversation_id": conv, "dm_event_id": id}})))
            .into_response(),
        h,
    )
}

async fn like(
    State(st): State<Arc<SimState>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let h = match gate(&st, &headers, "likes") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    if user != st.cfg.brand_user_id {
        return problem(StatusCode::FORBIDDEN, "You are not permitted to perform this action.");
    }
    let Some(tweet) =
        serde_json::from_slice::<Value>(&body).ok().filter(|v| v.get("tweet_id").and_then(Value::as_str).is_some())
    else {
        return problem(StatusCode::BAD_REQUEST, "tweet_id is required");
    };
    let id = st.next_id();
    record(&st, "like", Some(user), tweet, id);
    with_headers((StatusCode::OK, axum::Json(json!({"data": {"liked": true}}))).into_response(), h)
}

fn log_dm(st: &SimState, id: &str, from: &str, to: &str, text: &str) {
    if let Ok(mut l) = st.dm_log.lock() {
        l.push(json!({"id": id, "event_type": "MessageCreate", "text": text, "sender_id": from,
            "participant_ids": [from, to], "dm_conversation_id": format!("{from}-{to}"),
            "created_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)}));
    }
}

fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// An opaque-looking `next_token`: the last id of the page, in base 36.
fn page_token(last: &Value) -> String {
    let mut n = last["id"].as_str().and_then(|i| i.parse::<u64>().ok()).unwrap_or(0);
    let mut out = Vec::new();
    loop {
        out.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    format!("7140dib{}", String::from_utf8_lossy(&out))
}

/// The id a `pagination_token` continues below (`Err` for a token this simulator did not give).
fn page_start(q: &std::collections::HashMap<String, String>) -> Result<Option<String>, ()> {
    let Some(t) = q.get("pagination_token") else { return Ok(None) };
    let digits = t.strip_prefix("7140dib").ok_or(())?;
    u64::from_str_radix(digits, 36).map(|n| Some(n.to_string())).map_err(|_| ())
}

fn includes(st: &SimState, ids: impl Iterator<Item = String>) -> Value {
    let users = st.users.lock().map(|u| ids.filter_map(|i| u.get(&i).cloned()).collect::<Vec<_>>()).unwrap_or_default();
    json!({ "users": users })
}

/// `GET /2/users/me`: the account the access token acts for (a connection check).
async fn users_me(State(st): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    let h = match gate(&st, &headers, "users_me") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let body =
        json!({"data": {"id": st.cfg.brand_user_id, "name": "Switchboard Co", "username": st.cfg.brand_screen_name}});
    with_headers(axum::Json(body).into_response(), h)
}

async fn mentions_timeline(
    State(st): State<Arc<SimState>>,
    Path(user): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let h = match gate(&st, &headers, "mentions") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    if user != st.cfg.brand_user_id {
        return problem(StatusCode::FORBIDDEN, "You are not permitted to read this user's mentions.");
    }
    let since = q.get("since_id").cloned();
    let max = q.get("max_results").and_then(|m| m.parse::<usize>().ok()).unwrap_or(10).clamp(5, 100);
    let Ok(before) = page_start(&q) else {
        return problem(StatusCode::BAD_REQUEST, "The `pagination_token` query parameter value is not valid");
    };
    let (data, more) = st
        .timeline
        .lock()
        .map(|t| {
            let mut it = t
                .iter()
                .rev()
                .filter(|p| since.as_deref().is_none_or(|s| p["id"].as_str().is_some_and(|i| newer(i, s))))
                .filter(|p| before.as_deref().is_none_or(|b| p["id"].as_str().is_some_and(|i| newer(b, i))));
            let page: Vec<Value> = it.by_ref().take(max).cloned().collect();
            (page, it.next().is_some())
        })
        .unwrap_or_default();
    let mut body = json!({"meta": {"result_count": data.len()}});
    if !data.is_empty() {
        body["meta"]["newest_id"] = data[0]["id"].clone();
        body["meta"]["oldest_id"] = data[data.len() - 1]["id"].clone();
        if more {
            body["meta"]["next_token"] = json!(page_token(&data[data.len() - 1]));
        }
        body["includes"] = includes(&st, data.iter().filter_map(|p| p["author_id"].as_str().map(str::to_owned)));
        body["data"] = Value::Array(data);
    }
    with_headers((StatusCode::OK, axum::Json(body)).into_response(), h)
}

async fn dm_events(
    State(st): State<Arc<SimState>>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let h = match gate(&st, &headers, "dm_events") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let max = q.get("max_results").and_then(|m| m.parse::<usize>().ok()).unwrap_or(100).clamp(1, 100);
    let Ok(before) = page_start(&q) else {
        return problem(StatusCode::BAD_REQUEST, "The `pagination_token` query parameter value is not valid");
    };
    let (data, more) = st
        .dm_log
        .lock()
        .map(|l| {
            let mut it = l
                .iter()
                .rev()
                .filter(|d| before.as_deref().is_none_or(|b| d["id"].as_str().is_some_and(|i| newer(b, i))));
            let page: Vec<Value> = it.by_ref().take(max).cloned().collect();
            (page, it.next().is_some())
        })
        .unwrap_or_default();
    let mut body = json!({"meta": {"result_count": data.len()}});
    if !data.is_empty() {
        if more {
            body["meta"]["next_token"] = json!(page_token(&data[data.len() - 1]));
        }
        body["includes"] = includes(&st, data.iter().filter_map(|d| d["sender_id"].as_str().map(str::to_owned)));
        body["data"] = Value::Array(data);
    }
    with_headers((StatusCode::OK, axum::Json(body)).into_response(), h)
}

/// `GET /2/users/{id}/tweets`: the brand's posts, newest first (`start_time`, `max_results`).
async fn user_tweets(
    State(st): State<Arc<SimState>>,
    Path(user): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let h = match gate(&st, &headers, "user_tweets") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    if user != st.cfg.brand_user_id {
        return problem(StatusCode::FORBIDDEN, "You are not permitted to read this user's posts in this simulator.");
    }
    let start = match q.get("start_time").map(|t| DateTime::parse_from_rfc3339(t)) {
        None => None,
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        Some(Err(_)) => return problem(StatusCode::BAD_REQUEST, "The `start_time` query parameter value is not valid"),
    };
    let max = q.get("max_results").and_then(|m| m.parse::<usize>().ok()).unwrap_or(10).clamp(5, 100);
    let data: Vec<Value> = st
        .own_posts
        .lock()
        .map(|p| {
            p.iter()
                .rev()
                .filter(|p| {
                    start.is_none_or(|s| {
                        p["created_at"]
                            .as_str()
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                            .is_some_and(|t| t.with_timezone(&Utc) >= s)
                    })
                })
                .take(max)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut body = json!({"meta": {"result_count": data.len()}});
    if !data.is_empty() {
        body["data"] = Value::Array(data);
    }
    with_headers((StatusCode::OK, axum::Json(body)).into_response(), h)
}

/// `GET /2/dm_conversations/with/{participant}/dm_events`: the one-to-one conversation, newest first.
async fn conversation_dm_events(
    State(st): State<Arc<SimState>>,
    Path(participant): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let h = match gate(&st, &headers, "dm_conversation_events") {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let max = q.get("max_results").and_then(|m| m.parse::<usize>().ok()).unwrap_or(100).clamp(1, 100);
    let data: Vec<Value> = st
        .dm_log
        .lock()
        .map(|l| {
            l.iter()
                .rev()
                .filter(|d| {
                    d["participant_ids"].as_array().is_some_and(|p| p.iter().any(|p| p.as_str() == Some(&participant)))
                })
                .take(max)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut body = json!({"meta": {"result_count": data.len()}});
    if !data.is_empty() {
        body["data"] = Value::Array(data);
    }
    with_headers((StatusCode::OK, axum::Json(body)).into_response(), h)
}

fn v1_time(t: DateTime<Utc>) -> String {
    t.format("%a %b %d %H:%M:%S +0000 %Y").to_string()
}

fn user_object(id: &str, screen_name: &str, name: &str) -> Value {
    json!({"id": id.parse::<u64>().unwrap_or(0), "id_str": id, "name": name, "screen_name": screen_name,
        "protected": false, "verified": false, "followers_count": 12, "friends_count": 40})
}

fn tweet_object(id: &str, user: Value, text: &str, in_reply_to: Option<(&str, &str)>) -> Value {
    let now = Utc::now();
    let short: String = text.chars().take(140).collect();
    let long = text.chars().count() > 140;
    let mut t = json!({
        "created_at": v1_time(now), "id": id.parse::<u64>().unwrap_or(0), "id_str": id,
        "text": if long { format!("{short}…") } else { text.to_owned() },
        "source": "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
        "truncated": long, "user": user, "is_quote_status": false, "lang": "und",
        "in_reply_to_status_id": null, "in_reply_to_status_id_str": null,
        "in_reply_to_user_id": null, "in_reply_to_user_id_str": null,
        "entities": {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []},
        "timestamp_ms": now.timestamp_millis().to_string(),
    });
    if long {
        t["extended_tweet"] = json!({"full_text": text, "display_text_range": [0, text.chars().count()]});
    }
    if let Some((post, user)) = in_reply_to {
        t["in_reply_to_status_id"] = json!(post.parse::<u64>().unwrap_or(0));
        t["in_reply_to_status_id_str"] = json!(post);
        t["in_reply_to_user_id_str"] = json!(user);
    }
    t
}

fn own_tweet(cfg: &SimulatorConfig, id: &str, text: &str, in_reply_to: Option<(&str, String)>) -> Value {
    let brand = user_object(&cfg.brand_user_id, &cfg.brand_screen_name, &cfg.brand_screen_name);
    // X names the author of the parent post (empty when the simulator never saw it).
    let t = tweet_object(id, brand, text, in_reply_to.as_ref().map(|(p, u)| (*p, u.as_str())));
    json!({"for_user_id": cfg.brand_user_id, "tweet_create_events": [t]})
}

fn own_dm(cfg: &SimulatorConfig, id: &str, to: &str, text: &str) -> Value {
    json!({"for_user_id": cfg.brand_user_id, "direct_message_events": [dm_event(id, &cfg.brand_user_id, to, text)]})
}

fn dm_event(id: &str, from: &str, to: &str, text: &str) -> Value {
    json!({"type": "message_create", "id": id, "created_timestamp": Utc::now().timestamp_millis().to_string(),
        "message_create": {"target": {"recipient_id": to}, "sender_id": from,
            "message_data": {"text": text, "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []}}}})
}

fn spawn_delivery(st: &Arc<SimState>, body: Value) {
    let st = st.clone();
    tokio::spawn(async move {
        let _ = post_signed(&st, &body).await;
    });
}

/// Posts a signed delivery; the status, or `None` when it could not be delivered.
async fn post_signed(st: &SimState, body: &Value) -> Option<u16> {
    let url = st.cfg.webhook.as_deref()?;
    let bytes = serde_json::to_vec(body).ok()?;
    let sig = signature::sign(st.cfg.consumer_secret.as_bytes(), &bytes);
    let r = st
        .client
        .post(url)
        .header("content-type", "application/json")
        .header(signature::HEADER, sig)
        .body(bytes)
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

/// A simulated X user.
#[derive(Debug, Clone)]
pub struct Customer {
    /// User id.
    pub id: String,
    /// @handle without the `@`.
    pub screen_name: String,
    /// Display name.
    pub name: String,
}

/// Public posts: complaints, questions and praise, several languages, emoji.
pub const PUBLIC_LINES: &[&str] = &[
    "my order #48213 still hasn't shipped after 9 days. what is going on? 😡",
    "你们的客服电话一直打不通，订单到底什么时候发货？",
    "does the blue jacket come in size M? 🤔",
    "just got my package, love it!! 💙🎉",
    "¿Alguien más tiene problemas con la app hoy? No puedo pagar 😩",
    "返品の手続きがわかりません。教えてください 🙏",
    "Lieferung kam beschädigt an. Sehr enttäuscht 😞",
    "thank you for the quick refund, great service 👍🏽",
    "app keeps crashing on checkout since the update 🐛 https://example.com/screenshot/123",
    "退款什么时候到账？已经等了一周了 😤",
];

/// A long post (more than 280 characters: its full text is only in `extended_tweet`).
pub const LONG_LINE: &str = "I have been a loyal customer for six years and I have never had an experience like this. \
I ordered a winter coat three weeks ago, paid for express shipping, and the tracking page has said 'label created' \
ever since. I wrote to support twice and got the same template answer both times. Please, can someone actually \
look at my order and tell me where it is? I need it before my trip next week. 🧥✈️";

/// DMs.
pub const DM_LINES: &[&str] = &[
    "Hi, here is my order number: 48213",
    "你好，我的订单号是 20261125-8891，请帮我查一下",
    "Can I change the delivery address? 🏠",
    "Gracias por responder tan rápido 🙌",
];

/// Posts signed Account Activity deliveries to Switchboard.
#[derive(Clone)]
pub struct Traffic {
    state: Arc<SimState>,
}

/// What a traffic run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficReport {
    /// Deliveries posted.
    pub posted: u64,
    /// Deliveries answered 2xx.
    pub accepted: u64,
    /// Customer posts and DMs carried (redeliveries excluded).
    pub messages: u64,
    /// Likes, follows and retweets.
    pub activities: u64,
    /// Deletes.
    pub deletes: u64,
    /// Deliveries that repeated an earlier one.
    pub redeliveries: u64,
}

impl Traffic {
    /// The sample users.
    pub fn customers() -> Vec<Customer> {
        [
            ("furiouscamper", "Jordan Brinks"),
            ("xiaoming_w", "王小明"),
            ("maria_gz", "María García"),
            ("hanako_s", "佐藤 花子"),
            ("jonas_w", "Jonas Weber"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (s, n))| Customer {
            id: format!("{}", 3_001_969_357u64 + i as u64 * 7919),
            screen_name: (*s).into(),
            name: (*n).into(),
        })
        .collect()
    }

    /// A fresh post id.
    pub fn next_id(&self) -> String {
        self.state.next_id()
    }

    /// A delivery of a customer's public post mentioning the brand (or replying to `in_reply_to`).
    pub fn mention(&self, c: &Customer, id: &str, text: &str, in_reply_to: Option<&str>) -> Value {
        let cfg = &self.state.cfg;
        if let Ok(mut a) = self.state.authors.lock() {
            a.insert(id.to_owned(), c.id.clone());
        }
        let text = if in_reply_to.is_some() { text.to_owned() } else { format!("@{} {text}", cfg.brand_screen_name) };
        let mut t = tweet_object(
            id,
            user_object(&c.id, &c.screen_name, &c.name),
            &text,
            in_reply_to.map(|p| (p, cfg.brand_user_id.as_str())),
        );
        t["entities"]["user_mentions"] = json!([{"screen_name": cfg.brand_screen_name, "id_str": cfg.brand_user_id, "indices": [0, cfg.brand_screen_name.len() + 1]}]);
        json!({"for_user_id": cfg.brand_user_id, "user_has_blocked": "false", "tweet_create_events": [t]})
    }

    /// Polling mode: puts a customer's post mentioning the brand (or replying in `conversation`)
    /// on the mentions timeline (v2 shape) instead of delivering it.
    pub fn publish_mention(&self, c: &Customer, id: &str, text: &str, conversation: Option<&str>) {
        let st = &self.state;
        if let Ok(mut u) = st.users.lock() {
            u.insert(c.id.clone(), json!({"id": c.id, "name": c.name, "username": c.screen_name}));
        }
        if let Ok(mut a) = st.authors.lock() {
            a.insert(id.to_owned(), c.id.clone());
        }
        let mut post = json!({"id": id, "text": format!("@{} {text}", st.cfg.brand_screen_name), "author_id": c.id,
            "conversation_id": conversation.unwrap_or(id), "edit_history_tweet_ids": [id],
            "created_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
        if let Some(parent) = conversation {
            post["referenced_tweets"] = json!([{"type": "replied_to", "id": parent}]);
        }
        if let Ok(mut t) = st.timeline.lock() {
            t.push(post);
        }
    }

    /// Polling mode: puts a customer's DM to the brand in the DM events list.
    pub fn publish_dm(&self, c: &Customer, id: &str, text: &str) {
        let st = &self.state;
        if let Ok(mut u) = st.users.lock() {
            u.insert(c.id.clone(), json!({"id": c.id, "name": c.name, "username": c.screen_name}));
        }
        log_dm(st, id, &c.id, &st.cfg.brand_user_id, text);
    }

    /// A delivery of a customer's DM to the brand.
    pub fn dm(&self, c: &Customer, id: &str, text: &str) -> Value {
        let cfg = &self.state.cfg;
        let mut users = serde_json::Map::new();
        users.insert(c.id.clone(), json!({"id": c.id, "name": c.name, "screen_name": c.screen_name}));
        users.insert(
            cfg.brand_user_id.clone(),
            json!({"id": cfg.brand_user_id, "name": cfg.brand_screen_name, "screen_name": cfg.brand_screen_name}),
        );
        json!({"for_user_id": cfg.brand_user_id, "direct_message_events": [dm_event(id, &c.id, &cfg.brand_user_id, text)], "users": users})
    }

    /// A like of the brand's post `tweet_id`.
    pub fn favorite(&self, c: &Customer, tweet_id: &str) -> Value {
        let cfg = &self.state.cfg;
        json!({"for_user_id": cfg.brand_user_id, "favorite_events": [{
            "id": format!("{:x}", rand::random::<u128>()), "created_at": v1_time(Utc::now()),
            "timestamp_ms": Utc::now().timestamp_millis(),
            "favorited_status": {"id_str": tweet_id, "text": "", "user": user_object(&cfg.brand_user_id, &cfg.brand_screen_name, &cfg.brand_screen_name)},
            "user": user_object(&c.id, &c.screen_name, &c.name)}]})
    }

    /// A follow of the brand.
    pub fn follow(&self, c: &Customer) -> Value {
        let cfg = &self.state.cfg;
        json!({"for_user_id": cfg.brand_user_id, "follow_events": [{"type": "follow",
            "created_timestamp": Utc::now().timestamp_millis().to_string(),
            "target": user_object(&cfg.brand_user_id, &cfg.brand_screen_name, &cfg.brand_screen_name),
            "source": user_object(&c.id, &c.screen_name, &c.name)}]})
    }

    /// The author deleted post `id`.
    pub fn delete(&self, c: &Customer, id: &str) -> Value {
        json!({"for_user_id": self.state.cfg.brand_user_id, "tweet_delete_events": [{
            "status": {"id": id, "user_id": c.id}, "timestamp_ms": Utc::now().timestamp_millis().to_string()}]})
    }

    /// Signs and posts a delivery; the HTTP status, or `None` when it could not be delivered.
    pub async fn post(&self, body: &Value) -> Option<u16> {
        post_signed(&self.state, body).await
    }

    /// Posts `n` customer posts and DMs (with likes, follows, deletes, long posts and a duplicate
    /// delivery about one in ten along the way). `pause` between deliveries.
    pub async fn run(&self, n: u64, pause: Duration) -> TrafficReport {
        let customers = Self::customers();
        let mut report = TrafficReport::default();
        let mut i = 0u64;
        let mut last_post: Option<(usize, String)> = None;
        while report.messages < n {
            let ci = (i as usize) % customers.len();
            let c = &customers[ci];
            let id = self.next_id();
            let (body, counts_as_message) = match i % 12 {
                3 | 9 => (self.dm(c, &id, DM_LINES[(i as usize / 3) % DM_LINES.len()]), true),
                5 => (self.mention(c, &id, LONG_LINE, None), true),
                6 => (self.favorite(c, &self.state.cfg.brand_user_id.clone()), false),
                7 => (self.follow(c), false),
                11 => match &last_post {
                    // A customer deletes an earlier post.
                    Some((who, post)) => (self.delete(&customers[*who], post), false),
                    None => (self.follow(c), false),
                },
                _ => (self.mention(c, &id, PUBLIC_LINES[(i as usize * 7 + 3) % PUBLIC_LINES.len()], None), true),
            };
            if counts_as_message && body.get("tweet_create_events").is_some() {
                last_post = Some((ci, id.clone()));
            }
            match i % 12 {
                6 | 7 => report.activities += 1,
                11 => report.deletes += 1,
                _ => {}
            }
            report.posted += 1;
            if counts_as_message {
                report.messages += 1;
            }
            if self.post(&body).await.is_some_and(|s| s < 300) {
                report.accepted += 1;
            }
            if i % 10 == 4 {
                report.posted += 1;
                report.redeliveries += 1;
                if self.post(&body).await.is_some_and(|s| s < 300) {
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
