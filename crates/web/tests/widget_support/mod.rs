//! The chat widget's test harness, shared by the widget test files: the real server on a
//! loopback port with a web channel, an agent (password and API token), the media store, and
//! helpers to call the visitor API and read its stream.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_engine::media::MediaConfig;
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, DynStore, NewUser, StoreOptions};
use switchboard_web::ui::proxy::TrustedProxies;
use switchboard_web::{AppState, WebConfig, auth};
use tokio::net::TcpListener;

pub const ORIGIN: &str = "https://shop.example";
pub const SECRET: &str = "widget-secret";

pub struct App {
    pub base: String,
    pub store: DynStore,
    pub http: reqwest::Client,
    pub agent: switchboard_domain::UserId,
    /// The agent's API token.
    pub token: String,
    pub _dir: tempfile::TempDir,
}

/// The agent's password (email `lin@example.com`).
pub const PASSWORD: &str = "correct horse battery";

pub async fn spawn_app(config: Value) -> App {
    spawn_app_with(config, TrustedProxies::default()).await
}

/// The server with these proxies trusted for `X-Forwarded-For`.
pub async fn spawn_app_with(config: Value, proxies: TrustedProxies) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("site").unwrap(),
            kind: ChannelKind::Web,
            name: "Shop chat".into(),
            callback_url: None,
            secret: Some(SECRET.into()),
            config,
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let agent = store
        .create_user(&NewUser {
            email: "lin@example.com".into(),
            name: "Lin Agent".into(),
            role: Role::Agent,
            password_hash: Some(
                argon2::Argon2::default()
                    .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
                    .unwrap()
                    .to_string(),
            ),
        })
        .await
        .unwrap();
    let (token, hash) = auth::generate_token();
    store.create_api_token(agent.id, "t", &hash).await.unwrap();
    let mut cfg = EngineConfig::default();
    cfg.outbox.poll = Duration::from_millis(50);
    let mut media = MediaConfig::new(dir.path().join("media"));
    media.poll = Duration::from_millis(50);
    cfg.media = Some(media);
    let engine = Engine::start(store.clone(), cfg).await;
    let app = switchboard_web::router(AppState::new(engine, WebConfig::default()).with_trusted_proxies(proxies));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    App { base: format!("http://{addr}"), store, http, agent: agent.id, token, _dir: dir }
}

pub fn default_config() -> Value {
    json!({"public_key": "pk_shop", "allowed_origins": [ORIGIN], "visitor_per_minute": 5, "max_text": 100,
           "max_upload_bytes": 2048})
}

pub async fn post(app: &App, path: &str, body: Value) -> (u16, Value) {
    let r = app.http.post(format!("{}{path}", app.base)).header("origin", ORIGIN).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    if status != 403 && status != 404 {
        // The page can read every answer, refusals included (the widget shows the reason).
        assert_eq!(r.headers().get("access-control-allow-origin").map(|v| v.as_bytes()), Some(ORIGIN.as_bytes()));
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn session(app: &App) -> String {
    let (s, v) = post(app, "/widget/v1/session", json!({"key": "pk_shop", "name": "Mia Chen"})).await;
    assert_eq!(s, 200, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

pub async fn items(app: &App) -> usize {
    let ch = ChannelSlug::parse("site").unwrap();
    let mut n = 0;
    // Every stream of the channel: the visitors of these tests write to few subjects.
    for subject in subjects(app).await {
        n += app.store.widget_items_after(&ch, &subject, 0, 1000).await.unwrap().len();
    }
    n
}

pub async fn subjects(app: &App) -> Vec<String> {
    let page = app.store.list_contacts(None, None, 100).await.unwrap();
    let mut out = Vec::new();
    for c in page.items {
        for i in c.identities {
            out.push(i.provider_user_id);
        }
    }
    out
}

/// Reads server-sent events until `want` `message` events arrived (or 10 s passed).
pub async fn read_stream(app: &App, token: &str, after: i64, want: usize) -> Vec<(String, Value)> {
    let url = format!("{}/widget/v1/stream?key=pk_shop&token={token}&after={after}", app.base);
    let mut resp = app.http.get(url).header("origin", ORIGIN).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.iter().filter(|(k, _)| k == "message").count() < want {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("stream events in time").unwrap();
        let Some(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut kind = "message".to_owned();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(k) = line.strip_prefix("event:") {
                    kind = k.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if !data.is_empty() {
                out.push((kind, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    out
}
