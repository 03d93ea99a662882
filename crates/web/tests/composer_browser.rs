//! The composer's channel rules in a real browser (headless Debian `chromium` through
//! `chromedriver`): X's weighted length counted as you type (CJK 2, URLs 23) and shown over the
//! limit; the WhatsApp template picker filling the approved body with the parameters as they are
//! typed; the knowledge-base panel's search inserting a snippet with its link. Screenshots go to
//! `target/screenshots/composer-*.png`.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test.sh installs them).
#![allow(clippy::unwrap_used)]

mod common;

use common::chrome::{shot, start_browser, text_of, wait_until};
use common::{PASSWORD, Setup, conversation_on, spawn};
use fantoccini::{Client, Locator};
use serde_json::json;
use switchboard_domain::ChannelKind;

/// Sets the composer's text as if typed (one input event).
async fn type_text(c: &Client, css: &str, text: &str) {
    let js = format!(
        "var e = document.querySelector({css:?}); e.value = {text:?}; e.dispatchEvent(new Event('input', {{bubbles: true}})); return 'ok';"
    );
    c.execute(&js, vec![]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_composer_follows_each_channels_rules() {
    let app = spawn(Setup { kb: true, ..Setup::default() }).await;
    let base = app.base.clone();
    let x =
        conversation_on(&app, "x", ChannelKind::X, json!({}), "1600000000000000001", "do you ship refunds", 0).await;
    let templates = json!({"templates": [
        {"name": "order_update", "language": "en_US", "body": "Hi {{1}}, your order {{2}} has shipped."}
    ]});
    let wa = conversation_on(&app, "wa", ChannelKind::Whatsapp, templates, "8613800001", "parcel late", 48).await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Css("#email")).await.unwrap().send_keys("lin@x.io").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_until(&c, "the inbox", "return location.pathname;", |s| s == "/inbox").await;

    // X: 140 Chinese characters fill the 280; one more is over; a URL counts 23.
    c.goto(&format!("{base}/c/{x}")).await.unwrap();
    type_text(&c, "#composer-text", &"好".repeat(140)).await;
    wait_until(&c, "the X count", &text_of("#char-count"), |s| s == "280 / 280").await;
    type_text(&c, "#composer-text", &"好".repeat(141)).await;
    let over = wait_until(&c, "over the limit", &text_of("#char-count"), |s| s.starts_with("282 / 280")).await;
    assert!(over.contains("Over the channel's limit"), "{over}");
    let class = c.execute("return document.querySelector('#char-count').className;", vec![]).await.unwrap();
    assert!(class.as_str().unwrap().contains("over"));
    shot(&c, "composer-x-over.png").await;
    type_text(&c, "#composer-text", "See https://example.com/a/very/long/path/that/is/long ok").await;
    wait_until(&c, "a URL weighs 23", &text_of("#char-count"), |s| s == "30 / 280").await;

    // The knowledge base beside the composer: search, then insert a snippet with its link.
    type_text(&c, "#composer-text", "").await;
    wait_until(&c, "the suggestions", "return document.querySelector('#kb-suggest').hidden ? '' : 'shown';", |s| {
        s == "shown"
    })
    .await;
    c.find(Locator::Css("#kb-search")).await.unwrap().send_keys("password reset\u{e007}").await.unwrap();
    wait_until(&c, "the search hit", &text_of("#kb-hits li a"), |s| s.to_lowercase().contains("password")).await;
    c.find(Locator::Css("#kb-hits .kb-insert-snippet")).await.unwrap().click().await.unwrap();
    let text = wait_until(&c, "the snippet", "return document.querySelector('#composer-text').value;", |s| {
        s.contains("/help/en/articles/password-reset")
    })
    .await;
    assert!(text.lines().count() >= 2 && text.lines().next().unwrap().len() > 20, "{text}");
    shot(&c, "composer-kb-snippet.png").await;

    // WhatsApp, window closed: the approved template with the parameters as typed.
    c.goto(&format!("{base}/c/{wa}")).await.unwrap();
    wait_until(&c, "the picker", &text_of("#template-preview"), |s| s.contains("Hi {{1}}")).await;
    type_text(&c, "#template-params", "Wang\n#4411").await;
    wait_until(&c, "the filled body", &text_of("#template-preview"), |s| s == "Hi Wang, your order #4411 has shipped.")
        .await;
    c.execute("document.querySelector('#template-picker').scrollIntoView(); return '';", vec![]).await.unwrap();
    shot(&c, "composer-whatsapp-template.png").await;
    c.find(Locator::Css("#template-picker button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_until(&c, "the template in the thread", &text_of(".msg.outbound .text"), |s| {
        s == "Hi Wang, your order #4411 has shipped."
    })
    .await;

    c.close().await.unwrap();
}
