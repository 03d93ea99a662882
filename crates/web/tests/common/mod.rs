//! What the web integration tests share: the real router on port 0 against a fresh SQLite
//! database with a channel, users and their API tokens ([`spawn`]), a cookie-keeping HTTP client
//! that signs in and posts forms with their CSRF token ([`Browser`]), helpers to read pages, the
//! chat widget's visitor side ([`widget`]), the Meta channels against the Graph API simulator
//! ([`meta`]), and headless Debian chromium driven through chromedriver ([`chrome`]).
#![allow(dead_code, clippy::unwrap_used)]

pub mod chrome;
pub mod meta;
pub mod widget;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug, Role, UserId};
use switchboard_engine::kb::KbConfig;
use switchboard_engine::media::MediaConfig;
use switchboard_engine::triage::TriageConfig;
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{AuditFilter, ChannelRecord, DynStore, NewUser, StoreOptions};
use switchboard_web::{AppState, WebConfig, auth};
use tokio::net::TcpListener;

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery";

/// The users every app has: an admin (who owns [`App::token`]), two agents and a supervisor.
pub const USERS: &[(&str, &str, Role)] = &[
    ("admin@x.io", "Ada Admin", Role::Admin),
    ("lin@x.io", "Lin", Role::Agent),
    ("sam@x.io", "Sam", Role::Agent),
    ("sue@x.io", "Sue", Role::Supervisor),
];

/// How to start the app.
#[derive(Default)]
pub struct Setup {
    /// Where the `shop` API channel delivers replies.
    pub callback_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<&'static str>,
    /// The engine's settings.
    pub engine: EngineConfig,
    /// Start the knowledge base (index in memory) with the seed articles.
    pub kb: bool,
    /// Start triage with these settings.
    pub triage: Option<TriageConfig>,
    /// Keep media (downloads, uploads) under the app's directory, polled every 50 ms.
    pub media: bool,
    /// More channels beside `shop`.
    pub channels: Vec<ChannelRecord>,
    /// The HTTP layer's settings.
    pub web: WebConfig,
}

/// A running app.
pub struct App {
    pub base: String,
    pub store: DynStore,
    pub engine: Engine,
    /// The admin's API token.
    pub token: String,
    /// Every user's API token, by email.
    pub tokens: HashMap<&'static str, String>,
    /// Follows no redirects, so tests see them.
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The app with the default setup.
pub async fn spawn_app() -> App {
    spawn(Setup::default()).await
}

/// The app: a `shop` API channel (with a verify token and an access token in its settings) and
/// the setup's channels, [`USERS`], each with an API token.
pub async fn spawn(setup: Setup) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let shop = ChannelRecord {
        slug: ChannelSlug::parse("shop").unwrap(),
        kind: ChannelKind::Api,
        name: "Shop".into(),
        callback_url: setup.callback_url,
        secret: Some("s3cret-value".into()),
        config: json!({"verify_token": "vt-123", "access_token": "EAAG-secret-token"}),
        created_at: chrono::Utc::now(),
    };
    for channel in std::iter::once(&shop).chain(&setup.channels) {
        store.upsert_channel(channel).await.unwrap();
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default().hash_password(PASSWORD.as_bytes(), &salt).unwrap().to_string();
    let mut token = String::new();
    let mut tokens = HashMap::new();
    for (email, name, role) in USERS {
        let u = store
            .create_user(&NewUser {
                email: (*email).into(),
                name: (*name).into(),
                role: *role,
                password_hash: Some(hash.clone()),
            })
            .await
            .unwrap();
        let (t, h) = auth::generate_token();
        store.create_api_token(u.id, "t", &h).await.unwrap();
        if *role == Role::Admin {
            token = t.clone();
        }
        tokens.insert(*email, t);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut config = setup.engine;
    if setup.media {
        let mut media = MediaConfig::new(dir.path().join("media"));
        media.poll = Duration::from_millis(50);
        config.media = Some(media);
    }
    let engine = Engine::start(store.clone(), config).await;
    if let Some(triage) = setup.triage {
        engine.start_triage(triage).await.unwrap();
    }
    if setup.kb {
        let kb = engine
            .start_kb(KbConfig {
                public_url: base.clone(),
                case_link_secret: b"test key".to_vec(),
                languages: vec!["en".into(), "zh".into()],
                ..KbConfig::default()
            })
            .await
            .unwrap();
        for a in switchboard_kb::seed::articles().unwrap() {
            kb.save(&a, None).await.unwrap();
        }
    }
    let proxies = switchboard_web::ui::proxy::TrustedProxies::parse(&setup.trusted_proxies).unwrap();
    let app = switchboard_web::router(AppState::new(engine.clone(), setup.web).with_trusted_proxies(proxies));
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    App {
        base,
        store,
        engine,
        token,
        tokens,
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        _dir: dir,
    }
}

impl App {
    /// The API token of the user with this email.
    pub fn token_of(&self, email: &str) -> &str {
        self.tokens.get(email).unwrap_or_else(|| panic!("no user {email}"))
    }

    /// The id of the user with this email.
    pub async fn user_id(&self, email: &str) -> UserId {
        self.store.find_user_by_email(email).await.unwrap().unwrap().id
    }

    /// An API call with the admin's token; panics unless it succeeds. The JSON answer.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let (status, answer) = send_json(&self.http, method, &url, &self.token, Some(&body)).await;
        assert!((200..300).contains(&status), "{path}: {status}");
        answer
    }

    /// The latest audit entries: (action, has before, has after).
    pub async fn audit_actions(&self) -> Vec<(String, bool, bool)> {
        let page = self.store.list_audit(&AuditFilter { limit: 100, ..Default::default() }).await.unwrap();
        page.items.iter().map(|e| (e.action.clone(), e.before.is_some(), e.after.is_some())).collect()
    }
}

/// A browser over HTTP: keeps cookies, sends a language.
pub struct Browser<'a> {
    /// The app's address.
    pub base: &'a str,
    /// A client that follows no redirects.
    pub http: &'a reqwest::Client,
    pub cookies: HashMap<String, String>,
    pub lang: &'static str,
}

/// A page as the browser got it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a App) -> Self {
        Browser::at(&app.base, &app.http)
    }

    /// A browser of the server at `base`; `http` must not follow redirects.
    pub fn at(base: &'a str, http: &'a reqwest::Client) -> Self {
        Browser { base, http, cookies: HashMap::new(), lang: "en" }
    }

    /// A browser signed in as `email`.
    pub async fn signed_in(app: &'a App, email: &str) -> Browser<'a> {
        let mut b = Browser::new(app);
        b.sign_in(email, PASSWORD).await;
        b
    }

    /// Signs in; panics unless the server accepts.
    pub async fn sign_in(&mut self, email: &str, password: &str) {
        let p = self.login(email, password).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{email}: {}", p.body);
    }

    pub fn keep(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let s = v.to_str().unwrap();
            let (kv, _) = s.split_once(';').unwrap_or((s, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.lang)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.lang)
            .form(form)
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    pub async fn page(&mut self, r: reqwest::Response) -> Page {
        self.keep(r.headers());
        let status = r.status();
        let header = |name: HeaderName| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let (location, content_type) = (header(LOCATION), header(CONTENT_TYPE));
        Page { status, location, content_type, body: r.text().await.unwrap() }
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = hidden(&form.body, "_csrf");
        self.post("/login", &[("email", email), ("password", password), ("_csrf", &csrf), ("next", "/inbox")]).await
    }

    /// The CSRF token of the signed-in session, from any page.
    pub async fn csrf(&mut self) -> String {
        let p = self.get("/settings").await;
        assert_eq!(p.status, StatusCode::OK);
        hidden(&p.body, "_csrf")
    }
}

/// The value of the first `<input name="{name}" value="…">`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}"));
    let rest = &html[i + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Undoes askama's HTML escaping of a field's text.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// The text of the first `<textarea name="{name}">` after `after`.
pub fn textarea(html: &str, after: &str, name: &str) -> String {
    let from = html.find(after).unwrap_or_else(|| panic!("no {after} in {html}"));
    let html = &html[from..];
    let marker = format!("name=\"{name}\"");
    let i = html.find(&marker).unwrap();
    let rest = &html[i..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</textarea>").unwrap();
    unescape(&rest[open..close])
}

/// A customer message on the `shop` channel; waits until it is threaded and returns its case.
pub async fn ingest(app: &App, id: &str, handle: &str, text: &str) -> String {
    let r = app
        .http
        .post(format!("{}/api/v1/inbound", app.base))
        .bearer_auth(&app.token)
        .json(&json!({"channel": "shop", "external_id": id, "contact": {"handle": handle, "name": "Mia Chen"}, "text": text, "sent_at": chrono::Utc::now().to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    for _ in 0..200 {
        let v: Value = app
            .http
            .get(format!("{}/api/v1/conversations?q={}", app.base, text.replace(' ', "+")))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(c) = v["items"].as_array().and_then(|a| a.first()) {
            return c["case_number"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never threaded");
}

/// A channel of `kind` named `slug` with `config`, and a private conversation on it started by
/// `user` writing `text` `ago_hours` hours ago; its case number.
pub async fn conversation_on(
    app: &App,
    slug: &str,
    kind: ChannelKind,
    config: Value,
    user: &str,
    text: &str,
    ago_hours: i64,
) -> String {
    let channel = ChannelSlug::parse(slug).unwrap();
    if app.store.get_channel(&channel).await.unwrap().is_none() {
        app.store
            .upsert_channel(&ChannelRecord {
                slug: channel.clone(),
                kind,
                name: slug.into(),
                callback_url: None,
                secret: None,
                config,
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let ev = switchboard_domain::InboundEvent {
        channel,
        provider_event_id: format!("{user}-{text}"),
        contact: switchboard_domain::ContactRef {
            provider_user_id: user.into(),
            handle: Some(user.into()),
            display_name: Some("Wang".into()),
        },
        thread_key: String::new(),
        visibility: switchboard_domain::Visibility::Private,
        text: text.into(),
        attachments: Vec::new(),
        sent_at: chrono::Utc::now() - chrono::Duration::hours(ago_hours),
        extra: serde_json::Map::new(),
    };
    app.store.append_inbound(vec![ev]).await.unwrap();
    for _ in 0..250 {
        let filter = switchboard_store::ConversationFilter { query: Some(text.into()), limit: 5, ..Default::default() };
        if let Some(c) = app.store.list_conversations(&filter).await.unwrap().items.first() {
            return c.conversation.case_number.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{text} was never threaded");
}

/// An admin with this email and an API token for it (the channel end-to-end tests' caller).
pub async fn admin_api_token(store: &DynStore, email: &str) -> String {
    let u = store
        .create_user(&NewUser { email: email.into(), name: "Admin".into(), role: Role::Admin, password_hash: None })
        .await
        .unwrap();
    let (token, hash) = auth::generate_token();
    store.create_api_token(u.id, "t", &hash).await.unwrap();
    token
}

/// `GET url` with the bearer token; the answer must be JSON.
pub async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

/// `method url` with the bearer token and, when given, a JSON body: the status and the JSON
/// answer (null when there is none).
pub async fn send_json(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}
