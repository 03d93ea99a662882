//! The chat widget's visitor side: the app with a web channel `site` (and the media store), and
//! helpers to call the visitor API and read its stream.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_engine::EngineConfig;
use switchboard_store::ChannelRecord;

use super::{App, Setup, spawn};

pub const ORIGIN: &str = "https://shop.example";
pub const SECRET: &str = "widget-secret";
/// The agent of the widget tests.
pub const AGENT: &str = "lin@x.io";

/// The app with a web channel `site` of this `config`.
pub async fn spawn_widget(config: Value) -> App {
    spawn_widget_with(config, Vec::new()).await
}

/// The same, with these proxies trusted for `X-Forwarded-For`.
pub async fn spawn_widget_with(config: Value, proxies: Vec<&'static str>) -> App {
    let site = ChannelRecord {
        slug: ChannelSlug::parse("site").unwrap(),
        kind: ChannelKind::Web,
        name: "Shop chat".into(),
        callback_url: None,
        secret: Some(SECRET.into()),
        config,
        created_at: chrono::Utc::now(),
    };
    let mut engine = EngineConfig::default();
    engine.outbox.poll = Duration::from_millis(50);
    spawn(Setup { channels: vec![site], media: true, engine, trusted_proxies: proxies, ..Setup::default() }).await
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
