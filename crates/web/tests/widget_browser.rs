//! The chat widget in a real browser (headless Debian `chromium` through `chromedriver`): a shop
//! page on another origin embeds the widget; a visitor writes, the message appears live in the
//! agent's inbox, the agent replies and the visitor sees it (with typing both ways); a reload
//! keeps the thread; the server stops and starts again on the same port and database while the
//! visitor writes, and the thread recovers with nothing lost or doubled. An agent's image from
//! the composer's file button shows in the widget; the site signing the visitor in keeps the
//! chat. Screenshots go to `target/screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test.sh installs them).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use common::chrome::{open, shot, start_driver, wait_until};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_engine::media::MediaConfig;
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, NewUser, StoreOptions};
use switchboard_web::{AppState, WebConfig, auth};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const PASSWORD: &str = "switchboard-demo";

/// One run of the server on a database file; stopped and started again on the same port.
struct Server {
    state: AppState,
    engine: Engine,
    task: JoinHandle<()>,
}

async fn start_server(db: &Path, media: &Path, listener: TcpListener) -> Server {
    let store = switchboard_store::open(db.to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let mut cfg = EngineConfig::default();
    cfg.outbox.poll = Duration::from_millis(50);
    cfg.media = Some(MediaConfig::new(media.to_path_buf()));
    let engine = Engine::start(store, cfg).await;
    let state = AppState::new(engine.clone(), WebConfig::default());
    let app = switchboard_web::router(state.clone());
    let stop = state.shutdown.clone();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Server { state, engine, task }
}

impl Server {
    async fn stop(self) {
        self.state.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        self.engine.shutdown(Duration::from_secs(5)).await;
    }
}

/// A script run against the widget's shadow root (`w`).
fn widget(body: &str) -> String {
    format!("var h = document.getElementById('switchboard-widget'); if (!h) return ''; var w = h.shadowRoot; {body}")
}

fn thread_texts() -> String {
    widget(
        "return Array.prototype.map.call(w.querySelectorAll('li.msg'), function (li) { \
           var t = li.querySelector('.text'); return (li.classList.contains('pending') ? 'PENDING:' : '') + \
           (li.classList.contains('agent') ? 'A:' : 'V:') + (t ? t.textContent : ''); }).join('|');",
    )
}

async fn type_and_send(c: &Client, text: &str) {
    let js = widget(&format!(
        "var t = w.querySelector('.composer textarea'); t.value = {text:?}; \
         t.dispatchEvent(new Event('input')); w.querySelector('.composer .send').click(); return 'ok';"
    ));
    c.execute(&js, vec![]).await.unwrap();
}

/// The shop: its page on its own origin embedding the widget, and Switchboard with a web channel
/// (identity secret `s3cret`) and an agent (Lin Wei, with an API token).
struct Shop {
    base: String,
    addr: SocketAddr,
    page_origin: String,
    db: PathBuf,
    media: PathBuf,
    token: String,
    server: Server,
}

async fn open_shop(dir: &Path) -> Shop {
    let db = dir.join("t.db");
    let media = dir.join("media");

    // The shop's own page, on another origin, embedding the widget with one script tag.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let page_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!("http://{}", page_listener.local_addr().unwrap());
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title></head>\
         <body><h1>Tea shop</h1><p>Best oolong in town.</p>\
         <script src=\"{base}/widget.js\" data-key=\"pk_test\" async></script></body></html>"
    );
    let page = axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(html) }));
    tokio::spawn(async move { axum::serve(page_listener, page).await });

    let store = switchboard_store::open(db.to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("site").unwrap(),
            kind: ChannelKind::Web,
            name: "Tea shop chat".into(),
            callback_url: None,
            secret: Some("s3cret".into()),
            config: json!({"public_key": "pk_test", "allowed_origins": [page_origin]}),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default().hash_password(PASSWORD.as_bytes(), &salt).unwrap().to_string();
    let lin = store
        .create_user(&NewUser {
            email: "lin@demo.switchboard".into(),
            name: "Lin Wei".into(),
            role: Role::Admin,
            password_hash: Some(hash),
        })
        .await
        .unwrap();
    let (token, token_hash) = auth::generate_token();
    store.create_api_token(lin.id, "t", &token_hash).await.unwrap();
    store.close().await;
    let server = start_server(&db, &media, listener).await;
    Shop { base, addr, page_origin, db, media, token, server }
}

async fn agent_signs_in(a: &Client, base: &str) {
    a.goto(&format!("{base}/inbox?view=all")).await.unwrap();
    a.find(Locator::Css("#email")).await.unwrap().send_keys("lin@demo.switchboard").await.unwrap();
    a.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    a.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_until(a, "the agent's live inbox", "return document.body.dataset.live || '';", |s| s == "1").await;
}

/// Opens the widget on the shop page and starts a chat as Mia Chen; waits for the live stream.
async fn visitor_starts_chat(v: &Client, page_origin: &str) {
    v.goto(page_origin).await.unwrap();
    wait_until(v, "the widget", &widget("return w.querySelector('.launcher') ? 'y' : '';"), |s| s == "y").await;
    v.execute(&widget("w.querySelector('.launcher').click(); return '';"), vec![]).await.unwrap();
    let intro =
        wait_until(v, "the pre-chat form", &widget("return w.querySelector('.prechat .intro').textContent;"), |s| {
            !s.is_empty()
        })
        .await;
    assert!(intro.contains("help"), "{intro}");
    v.execute(
        &widget(
            "w.querySelector('.prechat input[name=name]').value = 'Mia Chen'; \
             w.querySelector('.prechat button[type=submit]').click(); return '';",
        ),
        vec![],
    )
    .await
    .unwrap();
    wait_until(
        v,
        "the live stream",
        "var h = document.getElementById('switchboard-widget'); return h ? (h.dataset.live || '') : '';",
        |s| s == "1",
    )
    .await;
}

/// The agent opens Mia Chen's conversation from the live inbox; answers its case number.
async fn agent_opens_the_chat(a: &Client) -> String {
    let case = wait_until(
        a,
        "the widget conversation",
        "var e = document.querySelector('li.conv'); return e && e.textContent.indexOf('Mia Chen') >= 0 ? e.dataset.case : '';",
        |s| !s.is_empty(),
    )
    .await;
    a.find(Locator::Css(&format!("li[data-case='{case}'] a"))).await.unwrap().click().await.unwrap();
    wait_until(a, "the conversation", "return location.pathname;", |s| s == format!("/c/{case}")).await;
    wait_until(a, "the agent's live page", "return document.body.dataset.live || '';", |s| s == "1").await;
    case
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_with_an_agent_through_the_widget_and_survives_reloads_and_outages() {
    let dir = tempfile::tempdir().unwrap();
    let Shop { base, addr, page_origin, db, media, token, server } = open_shop(dir.path()).await;
    let driver = start_driver().await;
    let visitor_profile = tempfile::tempdir().unwrap();
    let agent_profile = tempfile::tempdir().unwrap();
    let v = open(&driver, visitor_profile.path(), "en-US", (1100, 800)).await;
    let a = open(&driver, agent_profile.path(), "en-US", (1100, 800)).await;

    // The agent watches the inbox.
    agent_signs_in(&a, &base).await;

    // The visitor opens the widget on the shop page and starts a chat.
    visitor_starts_chat(&v, &page_origin).await;
    type_and_send(&v, "Hi, is the <b>oolong</b> in stock?").await;
    wait_until(&v, "the sent message", &thread_texts(), |s| s == "V:Hi, is the <b>oolong</b> in stock?").await;
    shot(&v, "widget-visitor.png").await;

    // It appears live in the agent's inbox; the agent opens it.
    let case = agent_opens_the_chat(&a).await;
    let thread = wait_until(&a, "the message", "return document.querySelector('#thread') ? document.querySelector('#thread').textContent : document.body.textContent;", |s| s.contains("oolong")).await;
    assert!(thread.contains("<b>oolong</b>"), "shown as text to the agent too");

    // Typing both ways.
    v.execute(
        &widget(
            "var t = w.querySelector('.composer textarea'); t.value = 'and'; t.dispatchEvent(new Event('input')); return '';",
        ),
        vec![],
    )
    .await
    .unwrap();
    wait_until(&a, "the visitor typing", "return document.querySelector('#presence').textContent;", |s| {
        s.contains("Mia Chen")
    })
    .await;
    a.find(Locator::Css("#composer-text")).await.unwrap().send_keys("Yes! We have").await.unwrap();
    wait_until(&v, "the agent typing", &widget("return w.querySelector('.typing').textContent;"), |s| {
        s.contains("Lin Wei")
    })
    .await;
    a.find(Locator::Css("#composer-text")).await.unwrap().send_keys(" 3 kg of Tieguanyin.").await.unwrap();
    a.find(Locator::Css("#send")).await.unwrap().click().await.unwrap();
    wait_until(&v, "the agent's reply", &thread_texts(), |s| {
        s == "V:Hi, is the <b>oolong</b> in stock?|A:Yes! We have 3 kg of Tieguanyin."
    })
    .await;
    let who = v.execute(&widget("return w.querySelector('li.agent .who').textContent;"), vec![]).await.unwrap();
    assert_eq!(who.as_str().unwrap(), "LWLin Wei", "avatar initials and name");
    shot(&v, "widget-reply.png").await;

    // A reload keeps the thread (token in local storage, history from the stream).
    v.refresh().await.unwrap();
    wait_until(&v, "the thread after a reload", &thread_texts(), |s| {
        s == "V:Hi, is the <b>oolong</b> in stock?|A:Yes! We have 3 kg of Tieguanyin."
    })
    .await;

    // The server goes away while the visitor writes, and comes back on the same port and database.
    server.stop().await;
    wait_until(
        &v,
        "the reconnecting banner",
        &widget("return w.querySelector('.banner').hidden ? '' : 'shown';"),
        |s| s == "shown",
    )
    .await;
    type_and_send(&v, "Great, I'll take 200 g").await;
    wait_until(&v, "the pending message", &thread_texts(), |s| s.ends_with("PENDING:V:Great, I'll take 200 g")).await;
    shot(&v, "widget-offline.png").await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let server = start_server(&db, &media, listener).await;
    let expected = "V:Hi, is the <b>oolong</b> in stock?|A:Yes! We have 3 kg of Tieguanyin.|V:Great, I'll take 200 g";
    wait_until(&v, "the message delivered after the restart", &thread_texts(), |s| s == expected).await;
    wait_until(
        &v,
        "the live stream again",
        "return document.getElementById('switchboard-widget').dataset.live;",
        |s| s == "1",
    )
    .await;

    // The agent answers through the API; it arrives once.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/conversations/{case}/messages"))
        .bearer_auth(&token)
        .json(&json!({"text": "Packed and on its way."}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let full = format!("{expected}|A:Packed and on its way.");
    wait_until(&v, "the reply after the restart", &thread_texts(), |s| s == full).await;

    // Nothing lost or doubled on the agent's side either.
    let conv: Value = http
        .get(format!("{base}/api/v1/conversations/{case}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = conv["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        vec![
            "Hi, is the <b>oolong</b> in stock?",
            "Yes! We have 3 kg of Tieguanyin.",
            "Great, I'll take 200 g",
            "Packed and on its way."
        ]
    );
    let seqs = v
        .execute(&widget("return Array.prototype.map.call(w.querySelectorAll('li.msg'), function (l) { return l.dataset.seq; }).join(',');"), vec![])
        .await
        .unwrap();
    assert_eq!(seqs.as_str().unwrap(), "1,2,3,4");
    shot(&v, "widget-recovered.png").await;

    // A Chinese browser gets Chinese texts.
    let zh_profile = tempfile::tempdir().unwrap();
    let z = open(&driver, zh_profile.path(), "zh-CN", (1100, 800)).await;
    z.goto(&page_origin).await.unwrap();
    wait_until(&z, "the widget", &widget("return w.querySelector('.launcher') ? 'y' : '';"), |s| s == "y").await;
    z.execute(&widget("w.querySelector('.launcher').click(); return '';"), vec![]).await.unwrap();
    wait_until(
        &z,
        "Chinese texts",
        &widget("return w.querySelector('.prechat button[type=submit]').textContent;"),
        |s| s == "开始聊天",
    )
    .await;
    shot(&z, "widget-zh.png").await;
    z.close().await.unwrap();

    v.close().await.unwrap();
    a.close().await.unwrap();
    server.stop().await;
}

/// A 1×1 PNG (a real image, so the browser decodes it).
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_image_reaches_the_visitor_and_signing_in_keeps_the_chat() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let shop = open_shop(dir.path()).await;
    let driver = start_driver().await;
    let (vp, ap) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let v = open(&driver, vp.path(), "en-US", (1100, 800)).await;
    let a = open(&driver, ap.path(), "en-US", (1100, 800)).await;
    agent_signs_in(&a, &shop.base).await;
    visitor_starts_chat(&v, &shop.page_origin).await;
    type_and_send(&v, "Can I see the tin?").await;
    agent_opens_the_chat(&a).await;

    // The agent picks an image in the composer (the text above goes with it as its caption).
    let png = dir.path().join("tin.png");
    std::fs::write(&png, base64::engine::general_purpose::STANDARD.decode(PNG_1X1).unwrap()).unwrap();
    a.find(Locator::Css("#composer-text")).await.unwrap().send_keys("Here it is").await.unwrap();
    a.find(Locator::Css("#composer-file-input")).await.unwrap().send_keys(png.to_str().unwrap()).await.unwrap();
    wait_until(&a, "the file sent", "return document.querySelector('#composer-file .file-status').textContent;", |s| {
        s == "File sent."
    })
    .await;

    // The visitor sees it inline: the image loads with their token.
    wait_until(&v, "the agent's image", &thread_texts(), |s| s == "V:Can I see the tin?|A:Here it is").await;
    wait_until(
        &v,
        "the image decoded",
        &widget("var i = w.querySelector('li.agent a.file img.thumb'); return i && i.complete ? String(i.naturalWidth) : '';"),
        |s| s == "1",
    )
    .await;
    shot(&v, "widget-agent-image.png").await;

    // The site signs the visitor in: the same chat goes on under their identity.
    let old = v
        .execute("return JSON.parse(localStorage.getItem('switchboard-widget:pk_test') || '{}').token || '';", vec![])
        .await
        .unwrap();
    let sig = switchboard_channels::widget::sign_identity("s3cret", "cust-9");
    v.execute(
        &format!("window.SwitchboardWidget.identify({{user_id: 'cust-9', user_hash: '{sig}'}}); return '';"),
        vec![],
    )
    .await
    .unwrap();
    let new = wait_until(
        &v,
        "the signed-in token",
        "return JSON.parse(localStorage.getItem('switchboard-widget:pk_test') || '{}').token || '';",
        |s| !s.is_empty() && Some(s) != old.as_str(),
    )
    .await;
    assert!(!new.is_empty());
    wait_until(&v, "the chat after signing in", &thread_texts(), |s| s == "V:Can I see the tin?|A:Here it is").await;
    wait_until(
        &v,
        "the image after signing in",
        &widget("var i = w.querySelector('li.agent a.file img.thumb'); return i && i.complete ? String(i.naturalWidth) : '';"),
        |s| s == "1",
    )
    .await;
    type_and_send(&v, "Thanks, signed in now").await;
    wait_until(&v, "the next message", &thread_texts(), |s| s.ends_with("|V:Thanks, signed in now")).await;
    wait_until(&a, "the message in the same case", "return document.querySelector('#conv-live').textContent;", |s| {
        s.contains("Thanks, signed in now")
    })
    .await;
    v.close().await.unwrap();
    a.close().await.unwrap();
    shop.server.stop().await;
}
