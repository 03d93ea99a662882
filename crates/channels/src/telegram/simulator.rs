//! A local Telegram Bot API for tests, the demo and `switchboard simulate`: the send methods
//! record each call and answer like Telegram (`{"ok":true,"result":Message}`), `setWebhook` /
//! `deleteWebhook` / `getWebhookInfo` / `getUpdates` keep Telegram's rules (no `getUpdates` while
//! a webhook is set; `offset` confirms earlier updates), flood control answers 429 with
//! `parameters.retry_after` for a window, blocked chats answer 403. [`Traffic`] posts updates to
//! Switchboard's webhook with the secret token header.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::SECRET_HEADER;

/// Settings of a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// The bot token requests must carry in the URL.
    pub bot_token: String,
    /// The bot's username.
    pub bot_username: String,
    /// The webhook secret token Traffic sends (Switchboard's channel secret).
    pub secret_token: String,
    /// Where Traffic posts updates (`/webhooks/{slug}` of Switchboard).
    pub webhook: Option<String>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            bot_token: "7000000001:SIM-token".into(),
            bot_username: "AcmeSupportBot".into(),
            secret_token: "sim-telegram-secret".into(),
            webhook: None,
        }
    }
}

/// One call the simulator accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentCall {
    /// Method, e.g. `sendMessage`.
    pub method: String,
    /// The JSON body.
    pub body: Value,
    /// The message id it answered with (send methods).
    pub message_id: Option<i64>,
    /// When.
    pub at: DateTime<Utc>,
}

impl SentCall {
    /// The text or caption the call carries.
    pub fn text(&self) -> Option<&str> {
        self.body.get("text").or_else(|| self.body.get("caption")).and_then(Value::as_str)
    }
}

/// The webhook as set by `setWebhook`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookInfo {
    /// URL.
    pub url: String,
    /// Secret token.
    pub secret_token: Option<String>,
    /// Allowed update types.
    pub allowed_updates: Vec<String>,
}

struct Flood {
    until: Instant,
    retry_after: u64,
}

struct SimState {
    cfg: SimulatorConfig,
    calls: Mutex<Vec<SentCall>>,
    refused: AtomicU64,
    flood: Mutex<Option<Flood>>,
    blocked: Mutex<HashSet<i64>>,
    webhook: Mutex<Option<WebhookInfo>>,
    queue: Mutex<VecDeque<Value>>,
    next_message: AtomicI64,
    /// Files `getFile` knows: file id → (file path, bytes).
    files: Mutex<std::collections::HashMap<String, (String, bytes::Bytes)>>,
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    state: Arc<SimState>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
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
        let state = Arc::new(SimState {
            cfg,
            calls: Mutex::default(),
            refused: AtomicU64::new(0),
            flood: Mutex::new(None),
            blocked: Mutex::default(),
            webhook: Mutex::new(None),
            queue: Mutex::default(),
            next_message: AtomicI64::new(5000),
            files: Mutex::default(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(method))
            .route("/file/{bot}/{*path}", axum::routing::get(file))
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

    /// The base URL to put in a channel's `api_base_url`.
    pub fn api_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its settings.
    pub fn config(&self) -> &SimulatorConfig {
        &self.state.cfg
    }

    /// Every accepted call, in order.
    pub fn calls(&self) -> Vec<SentCall> {
        lock(&self.state.calls).clone()
    }

    /// Accepted calls of one method.
    pub fn calls_of(&self, method: &str) -> Vec<SentCall> {
        self.calls().into_iter().filter(|c| c.method == method).collect()
    }

    /// Calls answered with an error (flood control, blocked chat, bad token).
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::Relaxed)
    }

    /// For the next `window`, every send answers 429 with `retry_after` seconds.
    pub fn flood(&self, window: Duration, retry_after: u64) {
        *lock(&self.state.flood) = Some(Flood { until: Instant::now() + window, retry_after });
    }

    /// The user of this private chat blocked the bot: sends answer 403.
    pub fn block(&self, chat_id: i64) {
        lock(&self.state.blocked).insert(chat_id);
    }

    /// The webhook as set, if any.
    pub fn webhook(&self) -> Option<WebhookInfo> {
        lock(&self.state.webhook).clone()
    }

    /// Makes a file downloadable: `getFile` with `file_id` names `path`, and
    /// `GET /file/bot<token>/<path>` answers `bytes`.
    pub fn add_file(&self, file_id: &str, path: &str, bytes: impl Into<bytes::Bytes>) {
        lock(&self.state.files).insert(file_id.to_owned(), (path.to_owned(), bytes.into()));
    }

    /// Queues an update for `getUpdates`.
    pub fn queue_update(&self, update: Value) {
        lock(&self.state.queue).push_back(update);
    }

    /// A traffic generator posting to the configured webhook.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            url: self.state.cfg.webhook.clone().unwrap_or_default(),
            secret: self.state.cfg.secret_token.clone(),
            bot_username: self.state.cfg.bot_username.clone(),
            client: reqwest::Client::new(),
            update_id: Arc::new(AtomicI64::new(800_000_000)),
            message_id: Arc::new(AtomicI64::new(100)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (status, axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// `GET /file/bot<token>/<file_path>`: the bytes of a file `getFile` named.
async fn file(State(st): State<Arc<SimState>>, Path((bot, path)): Path<(String, String)>) -> Response {
    if bot.strip_prefix("bot") != Some(st.cfg.bot_token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let found = lock(&st.files).values().find(|(p, _)| *p == path).map(|(_, b)| b.clone());
    match found {
        Some(b) => b.into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found", None),
    }
}

async fn method(
    State(st): State<Arc<SimState>>,
    Path((bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(st.cfg.bot_token.as_str()) {
        st.refused.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Bad Request: can't parse JSON", None),
        }
    };
    let record = |message_id: Option<i64>| {
        lock(&st.calls).push(SentCall { method: method.clone(), body: body.clone(), message_id, at: Utc::now() });
    };
    match method.as_str() {
        "getMe" => ok(json!({"id": bot_id(&st.cfg.bot_token), "is_bot": true, "first_name": "Acme Support",
                             "username": st.cfg.bot_username})),
        "setWebhook" => {
            let Some(url) = body.get("url").and_then(Value::as_str) else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: bad webhook: URL is empty", None);
            };
            let info = WebhookInfo {
                url: url.to_owned(),
                secret_token: body.get("secret_token").and_then(Value::as_str).map(str::to_owned),
                allowed_updates: body
                    .get("allowed_updates")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
            };
            *lock(&st.webhook) = if url.is_empty() { None } else { Some(info) };
            record(None);
            ok(json!(true))
        }
        "deleteWebhook" => {
            *lock(&st.webhook) = None;
            if body.get("drop_pending_updates").and_then(Value::as_bool) == Some(true) {
                lock(&st.queue).clear();
            }
            record(None);
            ok(json!(true))
        }
        "getWebhookInfo" => {
            let w = lock(&st.webhook).clone();
            let pending = lock(&st.queue).len();
            ok(json!({"url": w.as_ref().map_or("", |w| w.url.as_str()), "has_custom_certificate": false,
                      "pending_update_count": pending,
                      "allowed_updates": w.map(|w| w.allowed_updates).unwrap_or_default()}))
        }
        "getUpdates" => {
            if lock(&st.webhook).is_some() {
                return error(
                    StatusCode::CONFLICT,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                    None,
                );
            }
            let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
            let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(100).clamp(1, 100) as usize;
            let mut q = lock(&st.queue);
            // An offset confirms every update before it.
            q.retain(|u| u.get("update_id").and_then(Value::as_i64).unwrap_or(0) >= offset);
            ok(Value::Array(q.iter().take(limit).cloned().collect()))
        }
        "getFile" => {
            let Some(id) = body.get("file_id").and_then(Value::as_str) else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: file_id not specified", None);
            };
            let found = lock(&st.files).get(id).map(|(path, b)| (path.clone(), b.len()));
            match found {
                Some((path, size)) => {
                    record(None);
                    ok(json!({"file_id": id, "file_unique_id": format!("u{id}"), "file_size": size, "file_path": path}))
                }
                None => error(StatusCode::BAD_REQUEST, "Bad Request: invalid file_id", None),
            }
        }
        "answerCallbackQuery" => {
            if body.get("callback_query_id").and_then(Value::as_str).is_none() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: query is too old and response timeout expired or query ID is invalid",
                    None,
                );
            }
            record(None);
            ok(json!(true))
        }
        "sendMessage" | "sendPhoto" | "sendDocument" | "sendVideo" | "sendAudio" => {
            if let Some(f) = lock(&st.flood).as_ref().filter(|f| Instant::now() < f.until) {
                st.refused.fetch_add(1, Ordering::Relaxed);
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Too Many Requests: retry after {}", f.retry_after),
                    Some(json!({"retry_after": f.retry_after})),
                );
            }
            let Some(chat) =
                body.get("chat_id").and_then(|c| c.as_i64().or_else(|| c.as_str().and_then(|s| s.parse().ok())))
            else {
                st.refused.fetch_add(1, Ordering::Relaxed);
                return error(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
            };
            if lock(&st.blocked).contains(&chat) {
                st.refused.fetch_add(1, Ordering::Relaxed);
                return error(StatusCode::FORBIDDEN, "Forbidden: bot was blocked by the user", None);
            }
            if method == "sendMessage" && body.get("text").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty()) {
                st.refused.fetch_add(1, Ordering::Relaxed);
                return error(StatusCode::BAD_REQUEST, "Bad Request: message text is empty", None);
            }
            let mid = st.next_message.fetch_add(1, Ordering::Relaxed);
            record(Some(mid));
            let mut result = json!({
                "message_id": mid,
                "from": {"id": bot_id(&st.cfg.bot_token), "is_bot": true, "first_name": "Acme Support", "username": st.cfg.bot_username},
                "chat": {"id": chat, "type": if chat < 0 { "supergroup" } else { "private" }},
                "date": Utc::now().timestamp(),
            });
            for k in ["text", "caption", "reply_markup"] {
                if let Some(v) = body.get(k) {
                    result[k] = v.clone();
                }
            }
            ok(result)
        }
        other => error(StatusCode::NOT_FOUND, &format!("Not Found: method {other} is not simulated"), None),
    }
}

fn bot_id(token: &str) -> i64 {
    token.split_once(':').and_then(|(id, _)| id.parse().ok()).unwrap_or(0)
}

/// A Telegram user the generator writes as.
#[derive(Debug, Clone)]
pub struct Customer {
    /// User id (= private chat id).
    pub id: i64,
    /// First name.
    pub first_name: String,
    /// Username.
    pub username: Option<String>,
    /// Language code.
    pub language_code: String,
}

/// Posts updates to Switchboard's webhook with the secret token header.
#[derive(Clone)]
pub struct Traffic {
    url: String,
    secret: String,
    bot_username: String,
    client: reqwest::Client,
    update_id: Arc<AtomicI64>,
    message_id: Arc<AtomicI64>,
}

/// What a traffic run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficReport {
    /// Updates posted (duplicates included).
    pub posted: u64,
    /// Of which redeliveries of an earlier update.
    pub duplicates: u64,
    /// Edits.
    pub edits: u64,
    /// Button presses.
    pub callbacks: u64,
    /// Answered 200.
    pub accepted: u64,
    /// Answered otherwise or failed.
    pub failed: u64,
}

/// Sample texts: English, Chinese, Spanish, Arabic, emoji.
pub const TEXTS: &[&str] = &[
    "Hi, where is my order #4471?",
    "你好，我的包裹还没到 📦",
    "请问周日营业吗？🙏",
    "¿Pueden cambiar la dirección de entrega?",
    "مرحبا، أحتاج إلى مساعدة",
    "The app crashes when I pay 😡💳",
    "谢谢！问题解决了 👍🎉",
];

impl Traffic {
    /// Sample customers.
    pub fn customers() -> Vec<Customer> {
        [
            (1111111, "Test", Some("Testusername"), "en"),
            (2222222, "小明", Some("xiaoming"), "zh-hans"),
            (3333333, "Ana", None, "es"),
            (4444444, "Layla 🌙", Some("layla"), "ar"),
        ]
        .into_iter()
        .map(|(id, n, u, l)| Customer {
            id,
            first_name: n.into(),
            username: u.map(str::to_owned),
            language_code: l.into(),
        })
        .collect()
    }

    fn user(c: &Customer) -> Value {
        let mut u = json!({"id": c.id, "is_bot": false, "first_name": c.first_name, "language_code": c.language_code});
        if let Some(n) = &c.username {
            u["username"] = json!(n);
        }
        u
    }

    /// A new update id.
    pub fn next_update_id(&self) -> i64 {
        self.update_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A private text message update; returns it with its message id.
    pub fn text(&self, c: &Customer, text: &str) -> (Value, i64) {
        let mid = self.message_id.fetch_add(1, Ordering::Relaxed);
        let chat = json!({"id": c.id, "type": "private", "first_name": c.first_name});
        let u = json!({"update_id": self.next_update_id(), "message": {
            "message_id": mid, "from": Self::user(c), "chat": chat, "date": Utc::now().timestamp(), "text": text}});
        (u, mid)
    }

    /// A group message mentioning the bot.
    pub fn group_mention(&self, c: &Customer, group: i64, text: &str) -> Value {
        let mid = self.message_id.fetch_add(1, Ordering::Relaxed);
        let mention = format!("@{}", self.bot_username);
        let full = format!("{mention} {text}");
        json!({"update_id": self.next_update_id(), "message": {
            "message_id": mid, "from": Self::user(c), "chat": {"id": group, "type": "supergroup", "title": "Acme Customers"},
            "date": Utc::now().timestamp(), "text": full,
            "entities": [{"offset": 0, "length": mention.encode_utf16().count(), "type": "mention"}]}})
    }

    /// An edit of private message `mid`.
    pub fn edit(&self, c: &Customer, mid: i64, text: &str) -> Value {
        let chat = json!({"id": c.id, "type": "private", "first_name": c.first_name});
        let now = Utc::now().timestamp();
        json!({"update_id": self.next_update_id(), "edited_message": {
            "message_id": mid, "from": Self::user(c), "chat": chat, "date": now - 5, "edit_date": now, "text": text}})
    }

    /// A button press on the bot's message `mid` in the customer's private chat.
    pub fn callback(&self, c: &Customer, mid: i64, data: &str, label: &str) -> Value {
        let chat = json!({"id": c.id, "type": "private", "first_name": c.first_name});
        json!({"update_id": self.next_update_id(), "callback_query": {
            "id": format!("{}{}", c.id, self.message_id.fetch_add(1, Ordering::Relaxed)),
            "from": Self::user(c), "chat_instance": "-8473829384729384", "data": data,
            "message": {"message_id": mid, "chat": chat, "date": Utc::now().timestamp(), "text": "Was this helpful?",
                        "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": data}]]}}}})
    }

    /// Posts one update with the secret header; the HTTP status, or None when it failed.
    pub async fn post(&self, update: &Value) -> Option<u16> {
        self.post_with_secret(update, Some(&self.secret)).await
    }

    /// Posts one update with the given secret header (or none).
    pub async fn post_with_secret(&self, update: &Value, secret: Option<&str>) -> Option<u16> {
        let mut req = self.client.post(&self.url).json(update);
        if let Some(s) = secret {
            req = req.header(SECRET_HEADER, s);
        }
        req.send().await.ok().map(|r| r.status().as_u16())
    }

    /// Posts `n` updates from the sample customers: texts in several languages, every fifth one
    /// redelivered, every seventh followed by an edit, every eleventh followed by a button press.
    pub async fn run(&self, n: u64, pause: Duration) -> TrafficReport {
        let customers = Self::customers();
        let mut r = TrafficReport::default();
        let tally = |r: &mut TrafficReport, s: Option<u16>| {
            r.posted += 1;
            if s == Some(200) { r.accepted += 1 } else { r.failed += 1 }
        };
        for i in 0..n {
            let c = &customers[(i as usize) % customers.len()];
            let text = TEXTS[(i as usize) % TEXTS.len()];
            let (u, mid) = self.text(c, text);
            tally(&mut r, self.post(&u).await);
            if i % 5 == 4 {
                tally(&mut r, self.post(&u).await);
                r.duplicates += 1;
            }
            if i % 7 == 6 {
                tally(&mut r, self.post(&self.edit(c, mid, &format!("{text} (edited ✏️)"))).await);
                r.edits += 1;
            }
            if i % 11 == 10 {
                tally(&mut r, self.post(&self.callback(c, mid, "csat:yes", "👍 Yes")).await);
                r.callbacks += 1;
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
        r
    }
}
