//! The composer's channel rules over HTTP: the WhatsApp template picker (the channel's approved
//! templates, parameters checked, the filled-in text in the thread), X replies measured by X's
//! weighted length and refused over 280 before they are queued, and the knowledge-base panel's
//! search for agents. The real router on port 0 against a fresh SQLite database.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, Setup, conversation_on, hidden, ingest, spawn, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::{CaseNumber, ChannelKind, Direction};

#[tokio::test]
async fn agents_pick_an_approved_whatsapp_template_when_the_window_is_closed() {
    let app = spawn_app().await;
    let config = json!({"templates": [
        {"name": "order_update", "language": "en_US", "body": "Hi {{1}}, your order {{2}} has shipped."},
        {"name": "hello", "language": "zh_CN", "body": "您好！"}
    ]});
    let case = conversation_on(&app, "wa", ChannelKind::Whatsapp, config, "8613800001", "where is my parcel", 48).await;
    let mut b = Browser::signed_in(&app, "lin@x.io").await;
    let p = b.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("window-closed") && p.body.contains("id=\"template-picker\" open"), "{}", p.body);
    assert!(p.body.contains("<option value=\"order_update|en_US\""), "{}", p.body);
    assert!(p.body.contains("data-params=\"2\""));
    let csrf = hidden(&p.body, "_csrf");
    let tpl = format!("/c/{case}/template");
    // The wrong number of parameters, or a template the channel does not list, changes nothing.
    let p = b.post(&tpl, &[("_csrf", &csrf), ("pick", "order_update|en_US"), ("params", "Wang")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("This template takes 2 parameters"), "{}", p.body);
    let p = b.post(&tpl, &[("_csrf", &csrf), ("pick", "made_up|en_US"), ("params", "")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("no such approved template"), "{}", p.body);
    let p = b
        .post(&tpl, &[("_csrf", &csrf), ("pick", "order_update|en_US"), ("params", "Wang\n#4411"), ("idem", "k1")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let conv = app.store.get_conversation_by_case(CaseNumber::parse(&case).unwrap()).await.unwrap().unwrap();
    let msgs = app.store.list_messages(conv.id).await.unwrap();
    let sent = msgs.iter().find(|m| m.direction == Direction::Outbound).unwrap();
    assert_eq!(sent.text, "Hi Wang, your order #4411 has shipped.");
    let payload = app.store.reply_payload(sent.id).await.unwrap().unwrap().to_string();
    assert!(payload.contains("order_update") && payload.contains("en_US") && payload.contains("#4411"), "{payload}");
}

#[tokio::test]
async fn x_replies_are_measured_as_x_counts_them() {
    let app = spawn_app().await;
    let case =
        conversation_on(&app, "x", ChannelKind::X, json!({}), "1600000000000000001", "dm about my order", 0).await;
    let mut b = Browser::signed_in(&app, "lin@x.io").await;
    let p = b.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("data-limit=\"280\" data-weighting=\"x\""), "{}", p.body);
    let csrf = hidden(&p.body, "_csrf");
    // 141 Chinese characters are 141 characters but weigh 282 on X: refused before queueing.
    let long: String = "好".repeat(141);
    let p = b.post(&format!("/c/{case}/reply"), &[("_csrf", &csrf), ("text", &long), ("kind", "reply")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("282 characters long") && p.body.contains("allows 280"), "{}", p.body);
    // A note has no such limit; 140 characters (280) go out.
    let p = b.post(&format!("/c/{case}/reply"), &[("_csrf", &csrf), ("text", &long), ("kind", "note")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let ok: String = "好".repeat(140);
    let p = b
        .post(&format!("/c/{case}/reply"), &[("_csrf", &csrf), ("text", &ok), ("kind", "reply"), ("idem", "x1")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // Other channels count characters: a long API reply is fine.
    let api_case = ingest(&app, "e1", "mia", "a question on the web shop").await;
    let p = b.get(&format!("/c/{api_case}")).await;
    assert!(p.body.contains("data-limit=\"0\" data-weighting=\"chars\""), "{}", p.body);
}

#[tokio::test]
async fn agents_search_the_knowledge_base_beside_the_composer() {
    let app = spawn(Setup { kb: true, ..Setup::default() }).await;
    let case = ingest(&app, "q1", "mia", "hello there").await;
    let mut b = Browser::signed_in(&app, "lin@x.io").await;
    let get = |q: &str| format!("/ui/kb/suggest?case={case}&q={q}");
    let r = b.get(&get("refund")).await;
    assert_eq!(r.status, StatusCode::OK);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["hits"][0]["slug"], "returns-refunds", "{v}");
    assert!(v["hits"][0]["summary"].as_str().unwrap().len() > 20, "{v}");
    assert!(v["hits"][0]["url"].as_str().unwrap().ends_with("/help/en/articles/returns-refunds"));
    // Without a query: the customer's latest message.
    let r = b.get(&format!("/ui/kb/suggest?case={case}")).await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["hits"].is_array());
    let p = b.get(&format!("/c/{case}")).await;
    assert!(p.body.contains("data-snippet=\"Insert snippet\"") && p.body.contains("data-search=\"Search articles\""));
    // Signed out: refused.
    let r = app.http.get(format!("{}{}", app.base, get("refund"))).send().await.unwrap();
    assert_ne!(r.status(), StatusCode::OK);
}
