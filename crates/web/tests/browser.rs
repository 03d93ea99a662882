//! The UI in a real browser: headless Debian `chromium` driven through `chromedriver` (WebDriver,
//! fantoccini). Signs in, watches a conversation arrive live, replies, sees the delivery status
//! change, sees another agent typing, assigns, resolves, sees a status change by someone else in
//! place, switches to Chinese and is refused an admin page. Screenshots go to
//! `target/screenshots/`.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test.sh installs them).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::routing::post;
use common::chrome::{shot, start_browser, text_of, wait_until};
use common::{App, Browser, Setup, spawn};
use fantoccini::Locator;
use serde_json::{Value, json};
use switchboard_engine::EngineConfig;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A loopback "customer system" that receives replies on the API channel's callback URL and
/// answers with its own message id: (callback URL, what it received).
async fn customer_system() -> (String, mpsc::UnboundedReceiver<Value>) {
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
    (format!("http://{raddr}/replies"), replies)
}

/// The app, delivering replies to the customer system, with a canned reply `/thanks`.
async fn spawn_app(callback_url: String) -> App {
    let mut engine = EngineConfig::default();
    engine.outbox.poll = Duration::from_millis(50);
    let app = spawn(Setup { callback_url: Some(callback_url), engine, ..Setup::default() }).await;
    let mut variants = std::collections::BTreeMap::new();
    variants.insert("en".to_owned(), "Hi {{contact.first_name}}, thanks for writing about {{case_number}}.".to_owned());
    variants.insert("zh".to_owned(), "{{contact.name}}您好，感谢您就 {{case_number}} 联系我们。".to_owned());
    app.store
        .create_canned(&switchboard_store::routing::CannedInput {
            shortcut: "thanks".into(),
            title: "Thank you".into(),
            team: None,
            variants,
        })
        .await
        .unwrap();
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_day_in_the_browser() {
    let (callback, mut replies) = customer_system().await;
    let app = spawn_app(callback).await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;

    // Sign in.
    c.goto(&format!("{}/inbox?view=unassigned", app.base)).await.unwrap();
    c.find(Locator::Css("#email")).await.unwrap().send_keys("lin@x.io").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(common::PASSWORD).await.unwrap();
    shot(&c, "login.png").await;
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_until(&c, "the inbox", "return location.pathname + location.search;", |s| s == "/inbox?view=unassigned").await;
    wait_until(&c, "the live connection", "return document.body.dataset.live || '';", |s| s == "1").await;

    // A conversation arrives while the page is open: it appears without a reload.
    c.execute("window.__noReload = true;", vec![]).await.unwrap();
    app.api(
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
    app.api(
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
    let got = tokio::time::timeout(Duration::from_secs(10), replies.recv()).await.unwrap().unwrap();
    let provider_id = got["id"].as_str().unwrap().to_owned();
    wait_until(
        &c,
        "sent",
        "var e = document.querySelector('.msg.outbound [data-delivery]'); return e ? e.dataset.delivery : '';",
        |s| s == "sent",
    )
    .await;
    c.execute("window.__noReload = true;", vec![]).await.unwrap();
    app.api(
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
    let mut sam = Browser::signed_in(&app, "sam@x.io").await;
    let sam = (sam.cookies["sb_session"].clone(), sam.csrf().await);
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
    app.api(
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
