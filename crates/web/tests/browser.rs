//! The UI in a real browser: headless Debian `chromium` driven through `chromedriver` (WebDriver,
//! fantoccini). Signs in, watches a conversation arrive live, replies, sees the delivery status
//! change, sees another agent typing, assigns, resolves, sees a status change by someone else in
//! place, switches to Chinese and is refused an admin page. Screenshots go to
//! `target/screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test.sh installs them).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use axum::routing::post;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, NewUser, StoreOptions};
use switchboard_web::{AppState, WebConfig, auth};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PASSWORD: &str = "switchboard-demo";

/// Kills chromedriver (and with it the browser) when the test ends, even on failure.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_chromedriver() -> PathBuf {
    for p in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if std::path::Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("chromedriver not found: install chromium and chromium-driver (scripts/test.sh does)");
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn start_browser(profile: &std::path::Path) -> (Driver, Client) {
    let port = free_port().await;
    let child = Command::new(find_chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1280,900", "--lang=en-US",
                     format!("--user-data-dir={}", profile.display())]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    (driver, client)
}

struct App {
    base: String,
    token: String,
    http: reqwest::Client,
    replies: mpsc::UnboundedReceiver<Value>,
    _dir: tempfile::TempDir,
}

/// The server, plus a loopback "customer system" that receives replies on the API channel's
/// callback URL and answers with its own message id.
async fn spawn_app() -> App {
    let (tx, replies) = mpsc::unbounded_channel();
    let receiver = axum::Router::new().route(
        "/replies",
        post(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let id = format!("shop-{}", v["idempotency_key"].as_str().unwrap_or("x"));
                let _ = tx.send(json!({"id": id}));
                axum::Json(json!({"id": id}))
            }
        }),
    );
    let rl = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raddr = rl.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(rl, receiver).await });

    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("shop").unwrap(),
            kind: ChannelKind::Api,
            name: "Web shop".into(),
            callback_url: Some(format!("http://{raddr}/replies")),
            secret: Some("cb-secret".into()),
            config: json!({}),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default().hash_password(PASSWORD.as_bytes(), &salt).unwrap().to_string();
    let mut token = String::new();
    for (email, name, role) in [
        ("admin@demo.switchboard", "Ada Admin", Role::Admin),
        ("lin@demo.switchboard", "Lin", Role::Agent),
        ("sam@demo.switchboard", "Sam", Role::Agent),
    ] {
        let u = store
            .create_user(&NewUser { email: email.into(), name: name.into(), role, password_hash: Some(hash.clone()) })
            .await
            .unwrap();
        if role == Role::Admin {
            let (t, h) = auth::generate_token();
            store.create_api_token(u.id, "t", &h).await.unwrap();
            token = t;
        }
    }
    let mut variants = std::collections::BTreeMap::new();
    variants.insert("en".to_owned(), "Hi {{contact.first_name}}, thanks for writing about {{case_number}}.".to_owned());
    variants.insert("zh".to_owned(), "{{contact.name}}您好，感谢您就 {{case_number}} 联系我们。".to_owned());
    store
        .create_canned(&switchboard_store::routing::CannedInput {
            shortcut: "thanks".into(),
            title: "Thank you".into(),
            team: None,
            variants,
        })
        .await
        .unwrap();
    let mut cfg = EngineConfig::default();
    cfg.outbox.poll = Duration::from_millis(50);
    let engine = Engine::start(store.clone(), cfg).await;
    let app = switchboard_web::router(AppState::new(engine, WebConfig::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    App { base: format!("http://{addr}"), token, http: reqwest::Client::new(), replies, _dir: dir }
}

/// Polls `script` (which returns a string) until `pred` holds.
async fn wait_until(c: &Client, what: &str, script: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        let s = v.as_str().unwrap_or("").to_owned();
        if pred(&s) {
            return s;
        }
        if Instant::now() > deadline {
            let src = c.source().await.unwrap_or_default();
            panic!("timed out waiting for {what}; last value {s:?}\npage:\n{}", &src[..src.len().min(4000)]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn text_of(selector: &str) -> String {
    format!("var e = document.querySelector({selector:?}); return e ? e.textContent : '';")
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(name), png).unwrap();
}

async fn api(app: &App, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&app.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_day_in_the_browser() {
    let mut app = spawn_app().await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;

    // Sign in.
    c.goto(&format!("{}/inbox?view=unassigned", app.base)).await.unwrap();
    c.find(Locator::Css("#email")).await.unwrap().send_keys("lin@demo.switchboard").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    shot(&c, "login.png").await;
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_until(&c, "the inbox", "return location.pathname + location.search;", |s| s == "/inbox?view=unassigned").await;
    wait_until(&c, "the live connection", "return document.body.dataset.live || '';", |s| s == "1").await;

    // A conversation arrives while the page is open: it appears without a reload.
    c.execute("window.__noReload = true;", vec![]).await.unwrap();
    api(
        &app,
        reqwest::Method::POST,
        "/api/v1/inbound",
        json!({"channel": "shop", "external_id": "evt-1", "contact": {"handle": "mia", "name": "Mia Chen"},
               "text": "Hi, my order #4411 has not arrived yet", "sent_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    let case = wait_until(
        &c,
        "the new conversation",
        "var e = document.querySelector('li.conv'); return e ? e.dataset.case : '';",
        |s| !s.is_empty(),
    )
    .await;
    let reloaded = c.execute("return window.__noReload === true;", vec![]).await.unwrap();
    assert_eq!(reloaded, Value::Bool(true), "the page was reloaded");
    assert!(wait_until(&c, "the row", &text_of("li.conv"), |s| s.contains("Mia Chen")).await.contains("#4411"));
    api(
        &app,
        reqwest::Method::POST,
        "/api/v1/inbound",
        json!({"channel": "shop", "external_id": "evt-2", "contact": {"handle": "leo", "name": "Leo Wang"},
               "text": "退款什么时候到账？", "sent_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    wait_until(&c, "the second conversation", "return String(document.querySelectorAll('li.conv').length);", |s| {
        s == "2"
    })
    .await;
    shot(&c, "inbox.png").await;

    // Keyboard: `j` moves to the first conversation, `?` opens the shortcut help, Escape closes it.
    c.find(Locator::Css("#main")).await.unwrap().send_keys("j").await.unwrap();
    wait_until(
        &c,
        "j",
        "var a = document.activeElement; var li = a && a.closest('li'); return li ? li.dataset.case : '';",
        |s| !s.is_empty(),
    )
    .await;
    c.find(Locator::Css("#main")).await.unwrap().send_keys("?").await.unwrap();
    wait_until(
        &c,
        "the shortcut help",
        "return document.querySelector('#shortcuts').hidden ? 'hidden' : 'shown';",
        |s| s == "shown",
    )
    .await;
    c.find(Locator::Css("#shortcuts [data-close]")).await.unwrap().send_keys("\u{e00c}").await.unwrap();
    wait_until(
        &c,
        "the help closed",
        "return document.querySelector('#shortcuts').hidden ? 'hidden' : 'shown';",
        |s| s == "hidden",
    )
    .await;

    // Open it and reply.
    c.find(Locator::Css(&format!("li[data-case='{case}'] a"))).await.unwrap().click().await.unwrap();
    wait_until(&c, "the conversation", "return location.pathname;", |s| s == format!("/c/{case}")).await;
    // A canned reply by its shortcut, rendered for this conversation.
    let composer = c.find(Locator::Css("#composer-text")).await.unwrap();
    composer.send_keys("/tha").await.unwrap();
    wait_until(&c, "the canned reply suggestion", &text_of("#canned-list"), |s| s.contains("/thanks")).await;
    composer.send_keys("\u{e007}").await.unwrap();
    let expected = format!("Hi Mia, thanks for writing about {case}.");
    let script = "return document.querySelector('#composer-text').value;";
    wait_until(&c, "the inserted canned reply", script, |s| s == expected).await;
    composer.send_keys(" Sorry about that, it ships today.").await.unwrap();
    c.find(Locator::Css("#send")).await.unwrap().click().await.unwrap();
    wait_until(&c, "the reply in the thread", &text_of(".msg.outbound .text"), |s| s.contains("ships today")).await;
    wait_until(&c, "the live connection", "return document.body.dataset.live || '';", |s| s == "1").await;

    // The customer's system receives it; the delivery status moves on in place.
    let got = tokio::time::timeout(Duration::from_secs(10), app.replies.recv()).await.unwrap().unwrap();
    let provider_id = got["id"].as_str().unwrap().to_owned();
    wait_until(
        &c,
        "sent",
        "var e = document.querySelector('.msg.outbound [data-delivery]'); return e ? e.dataset.delivery : '';",
        |s| s == "sent",
    )
    .await;
    c.execute("window.__noReload = true;", vec![]).await.unwrap();
    api(
        &app,
        reqwest::Method::POST,
        "/api/v1/delivery-reports",
        json!({"channel": "shop", "provider_message_id": provider_id, "status": "delivered"}),
    )
    .await;
    wait_until(
        &c,
        "delivered",
        "var e = document.querySelector('.msg.outbound [data-delivery]'); return e ? e.dataset.delivery : '';",
        |s| s == "delivered",
    )
    .await;
    assert!(
        wait_until(&c, "the label", &text_of(".msg.outbound .delivery"), |s| s.contains("Delivered"))
            .await
            .contains("Delivered")
    );

    // Another agent starts typing in the same conversation: collision warning.
    let sam = signed_in_cookie(&app, "sam@demo.switchboard").await;
    let r = app
        .http
        .post(format!("{}/ui/presence", app.base))
        .header("cookie", format!("sb_session={}", sam.0))
        .header("x-csrf-token", sam.1.clone())
        .json(&json!({"case": case, "state": "typing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    wait_until(&c, "the collision warning", &text_of("#presence"), |s| s.contains("Sam is typing")).await;

    // Assign to me, then resolve.
    c.find(Locator::Css("#assign-me")).await.unwrap().click().await.unwrap();
    wait_until(&c, "the assignment", &text_of("#conv-assignee"), |s| s.contains("Lin")).await;
    c.find(Locator::Css("#resolve")).await.unwrap().click().await.unwrap();
    wait_until(&c, "resolved", &text_of("#conv-status"), |s| s == "Resolved").await;

    // Someone else reopens it: the page updates in place.
    wait_until(&c, "the live connection", "return document.body.dataset.live || '';", |s| s == "1").await;
    c.execute("window.__noReload = true;", vec![]).await.unwrap();
    api(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/conversations/{case}"),
        json!({"status": "open", "priority": "high"}),
    )
    .await;
    wait_until(&c, "reopened in place", &text_of("#conv-status"), |s| s == "Open").await;
    assert_eq!(c.execute("return window.__noReload === true;", vec![]).await.unwrap(), Value::Bool(true));
    let status_field = "return document.querySelector('#update-form [name=status]').value;";
    wait_until(&c, "the action form in step", status_field, |s| s == "open").await;
    // Keep a presence in the picture.
    let _ = app
        .http
        .post(format!("{}/ui/presence", app.base))
        .header("cookie", format!("sb_session={}", sam.0))
        .header("x-csrf-token", sam.1.clone())
        .json(&json!({"case": case, "state": "viewing"}))
        .send()
        .await;
    wait_until(&c, "the viewer", &text_of("#presence"), |s| s.contains("Sam is viewing")).await;
    shot(&c, "conversation.png").await;

    // Switch to Chinese.
    c.goto(&format!("{}/settings", app.base)).await.unwrap();
    c.find(Locator::Css("#locale option[value='zh-CN']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#settings-save")).await.unwrap().click().await.unwrap();
    wait_until(&c, "Chinese labels", &text_of("header.top nav"), |s| s.contains("收件箱") && s.contains("设置")).await;
    c.goto(&format!("{}/inbox?view=all&status=any", app.base)).await.unwrap();
    wait_until(&c, "Chinese inbox", &text_of(".views"), |s| s.contains("我的") && s.contains("未分配")).await;
    shot(&c, "inbox-zh.png").await;

    // An agent is refused an admin page.
    c.goto(&format!("{}/admin/users", app.base)).await.unwrap();
    let msg = wait_until(&c, "the refusal", &text_of("#error-message"), |s| !s.is_empty()).await;
    assert_eq!(msg, "你没有权限打开此页面。");

    // On a phone.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{}/c/{case}", app.base)).await.unwrap();
    wait_until(&c, "the conversation", &text_of("#conv-status"), |s| !s.is_empty()).await;
    shot(&c, "conversation-phone.png").await;

    c.close().await.unwrap();
}

/// Signs `email` in over HTTP: (session cookie, CSRF token).
async fn signed_in_cookie(app: &App, email: &str) -> (String, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.get(format!("{}/login", app.base)).send().await.unwrap();
    let login_cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let body = r.text().await.unwrap();
    let csrf = field(&body, "_csrf");
    let r = http
        .post(format!("{}/login", app.base))
        .header("cookie", login_cookie)
        .form(&[("email", email), ("password", PASSWORD), ("_csrf", &csrf)])
        .send()
        .await
        .unwrap();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| v.to_str().unwrap().strip_prefix("sb_session=").map(|s| s.split(';').next().unwrap().to_owned()))
        .unwrap();
    let page = http
        .get(format!("{}/settings", app.base))
        .header("cookie", format!("sb_session={session}"))
        .send()
        .await
        .unwrap();
    let token = field(&page.text().await.unwrap(), "_csrf");
    (session, token)
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker).unwrap();
    let rest = &html[i + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}
