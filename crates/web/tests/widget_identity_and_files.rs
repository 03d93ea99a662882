//! The chat widget over HTTP against the real server, continued: an anonymous visitor who signs
//! in joins the signed-in customer's history; agents send files that only the visitor's token
//! opens (API and composer); rate limits answer 429 with `Retry-After`, per visitor and per
//! address (behind a trusted proxy, per forwarded address); an edited customer message shows as
//! edited with its history in the agent UI.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::widget::*;
use common::{App, Browser};
use serde_json::{Value, json};
use switchboard_channels::widget::sign_identity;
use switchboard_domain::{ChannelSlug, ContactRef, ConversationId, InboundEvent, Visibility};
use switchboard_store::{AuditFilter, ConversationFilter};

fn site() -> ChannelSlug {
    ChannelSlug::parse("site").unwrap()
}

async fn message(app: &App, token: &str, client_id: &str, text: &str) -> Value {
    let (s, v) = post(
        app,
        "/widget/v1/messages",
        json!({"key": "pk_shop", "token": token, "client_id": client_id, "text": text}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// Waits until the pipeline has threaded every event.
async fn threaded(app: &App) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.store.pipeline_backlog().await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "events not threaded");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn conversation_of(app: &App, message_id: &Value) -> ConversationId {
    threaded(app).await;
    let id = message_id.as_str().unwrap().parse().unwrap();
    app.store.get_message(id).await.unwrap().unwrap().conversation_id
}

async fn api(app: &App, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.http.request(method, format!("{}{path}", app.base)).bearer_auth(app.token_of(AGENT))
}

async fn reply(app: &App, conv: ConversationId, text: &str) -> Value {
    let r = api(app, reqwest::Method::POST, &format!("/api/v1/conversations/{conv}/messages"))
        .await
        .json(&json!({"text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    r.json().await.unwrap()
}

fn texts(events: &[(String, Value)]) -> Vec<String> {
    events.iter().filter(|(k, _)| k == "message").map(|(_, v)| v["text"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn an_anonymous_chat_joins_the_signed_in_customers_history_once() {
    let app = spawn_widget(default_config()).await;
    let sig = sign_identity(SECRET, "cust-42");
    // The customer wrote last week from their laptop, signed in.
    let (_, laptop) =
        post(&app, "/widget/v1/session", json!({"key": "pk_shop", "user_id": "cust-42", "user_hash": sig})).await;
    let laptop = laptop["token"].as_str().unwrap().to_owned();
    let old = message(&app, &laptop, "l1", "Is the green tea back in stock?").await;
    let old_conv = conversation_of(&app, &old["message_id"]).await;

    // Today, on the phone, anonymously: two messages and an agent's answer.
    let anon = session(&app).await;
    let a1 = message(&app, &anon, "p1", "Hi, my parcel is late").await;
    message(&app, &anon, "p2", "Order #5521").await;
    let conv = conversation_of(&app, &a1["message_id"]).await;
    assert_ne!(conv, old_conv);
    reply(&app, conv, "Let me check #5521 for you").await;
    assert_eq!(texts(&read_stream(&app, &anon, 0, 3).await).len(), 3);
    assert_eq!(app.store.list_contacts(None, None, 10).await.unwrap().items.len(), 2, "two contacts so far");

    // The site signs them in: the phone presents its anonymous token with the signed identity.
    let (s, signed) = post(
        &app,
        "/widget/v1/session",
        json!({"key": "pk_shop", "token": anon, "user_id": "cust-42", "user_hash": sig}),
    )
    .await;
    assert_eq!(s, 200, "{signed}");
    assert_eq!((signed["identified"].as_bool(), signed["merged"].as_bool()), (Some(true), Some(true)), "{signed}");
    let phone = signed["token"].as_str().unwrap().to_owned();
    assert_ne!(phone, anon);
    // The anonymous token is retired.
    let r = app.http.get(format!("{}/widget/v1/stream?key=pk_shop&token={anon}", app.base)).header("origin", ORIGIN);
    assert_eq!(r.send().await.unwrap().status().as_u16(), 401);

    // One stream with everything, each once: last week's message, today's chat and the answer.
    let all = texts(&read_stream(&app, &phone, 0, 4).await);
    assert_eq!(
        all,
        ["Is the green tea back in stock?", "Hi, my parcel is late", "Order #5521", "Let me check #5521 for you"]
    );
    assert_eq!(texts(&read_stream(&app, &laptop, 0, 4).await), all, "the laptop sees the same thread");

    // One customer with both conversations; no message lost or doubled.
    let contacts = app.store.list_contacts(None, None, 10).await.unwrap().items;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let ids: Vec<&str> = contacts[0].identities.iter().map(|i| i.provider_user_id.as_str()).collect();
    assert_eq!(ids[0], "u:cust-42", "the signed identity first: {ids:?}");
    assert_eq!(ids.len(), 2);
    let convs = app
        .store
        .list_conversations(&ConversationFilter { contact: Some(contacts[0].id), limit: 10, ..Default::default() })
        .await
        .unwrap()
        .items;
    assert_eq!(convs.len(), 2);
    let mut n = 0;
    for c in &convs {
        n += app.store.list_messages(c.conversation.id).await.unwrap().len();
    }
    assert_eq!(n, 4);

    // Audit-logged once.
    let audit = app
        .store
        .list_audit(&AuditFilter { action_prefix: Some("widget.".into()), limit: 10, ..Default::default() })
        .await
        .unwrap()
        .items;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "widget.visitor_merged");
    assert_eq!(audit[0].target, format!("contact:{}", contacts[0].id));
    assert_eq!(audit[0].after.as_ref().unwrap()["stream_items_copied"], 3);

    // Presenting the retired token again merges nothing twice.
    let (s, again) = post(
        &app,
        "/widget/v1/session",
        json!({"key": "pk_shop", "token": anon, "user_id": "cust-42", "user_hash": sig}),
    )
    .await;
    assert_eq!((s, again["merged"].as_bool()), (200, Some(false)), "{again}");
    assert_eq!(texts(&read_stream(&app, &phone, 0, 4).await).len(), 4);

    // The conversation goes on, signed in: the agent's next answer reaches the signed-in
    // stream, and the customer's next message joins today's case.
    reply(&app, conv, "It ships tomorrow").await;
    let tail = texts(&read_stream(&app, &phone, 4, 1).await);
    assert_eq!(tail, ["It ships tomorrow"]);
    let next = message(&app, &phone, "p3", "Thanks!").await;
    assert_eq!(conversation_of(&app, &next["message_id"]).await, conv);
}

#[tokio::test]
async fn a_first_sign_in_keeps_the_anonymous_contact_and_its_thread() {
    let app = spawn_widget(default_config()).await;
    let anon = session(&app).await;
    let first = message(&app, &anon, "a1", "Do you ship to Lyon?").await;
    let conv = conversation_of(&app, &first["message_id"]).await;
    let sig = sign_identity(SECRET, "new-7");
    let (s, signed) = post(
        &app,
        "/widget/v1/session",
        json!({"key": "pk_shop", "token": anon, "user_id": "new-7", "user_hash": sig}),
    )
    .await;
    assert_eq!((s, signed["merged"].as_bool()), (200, Some(true)), "{signed}");
    let token = signed["token"].as_str().unwrap();
    let next = message(&app, token, "a2", "I just signed in").await;
    assert_eq!(conversation_of(&app, &next["message_id"]).await, conv, "the same case continues");
    let contacts = app.store.list_contacts(None, None, 10).await.unwrap().items;
    assert_eq!(contacts.len(), 1);
    let ids: Vec<&str> = contacts[0].identities.iter().map(|i| i.provider_user_id.as_str()).collect();
    assert_eq!(ids[0], "u:new-7");
    assert_eq!(texts(&read_stream(&app, token, 0, 2).await), ["Do you ship to Lyon?", "I just signed in"]);
}

fn png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[7u8; 200]);
    png
}

async fn send_file(app: &App, conv: &str, mime: &str, bytes: Vec<u8>, key: &str) -> (u16, Value) {
    let r = api(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/conversations/{conv}/files?name=receipt.png&caption=Your+receipt"),
    )
    .await
    .header("content-type", mime)
    .header("idempotency-key", key)
    .body(bytes)
    .send()
    .await
    .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Signs the agent in; answers the session cookies and the CSRF token.
async fn sign_in(app: &App) -> (String, String) {
    let mut b = Browser::signed_in(app, AGENT).await;
    let csrf = b.csrf().await;
    (b.cookie_header(), csrf)
}

#[tokio::test]
async fn agents_send_files_that_only_the_visitors_token_opens() {
    let app = spawn_widget(default_config()).await;
    let token = session(&app).await;
    let first = message(&app, &token, "m1", "Can I get my receipt?").await;
    let conv = conversation_of(&app, &first["message_id"]).await.to_string();

    // Refused: a type the channel does not take, content that is not what it claims, too big.
    let (s, v) = send_file(&app, &conv, "application/x-msdownload", b"MZ\x90\x00".to_vec(), "bad1").await;
    assert_eq!((s, v["error"]["code"].as_str()), (415, Some("upload_type")), "{v}");
    let (s, v) = send_file(&app, &conv, "image/png", b"<html><script>x</script>".to_vec(), "bad2").await;
    assert_eq!((s, v["error"]["code"].as_str()), (415, Some("upload_content")), "{v}");
    let (s, v) = send_file(&app, &conv, "image/png", vec![0x89; 4096], "bad3").await;
    assert_eq!((s, v["error"]["code"].as_str()), (413, Some("upload_too_large")), "{v}");

    // Sent once, whatever the retries.
    let (s, sent) = send_file(&app, &conv, "image/png", png(), "k1").await;
    assert_eq!(s, 201, "{sent}");
    assert_eq!(sent["attachments"][0]["kind"], "image");
    assert_eq!(sent["attachments"][0]["filename"], "receipt.png");
    let (s, again) = send_file(&app, &conv, "image/png", png(), "k1").await;
    assert_eq!((s, &again["id"]), (200, &sent["id"]));

    // The visitor's stream carries it with a link their token opens.
    let got = read_stream(&app, &token, 1, 1).await;
    let item = &got.iter().find(|(k, _)| k == "message").unwrap().1;
    assert_eq!((item["direction"].as_str(), item["text"].as_str()), (Some("agent"), Some("Your receipt")));
    let file = &item["attachments"][0];
    assert_eq!((file["name"].as_str(), file["mime_type"].as_str()), (Some("receipt.png"), Some("image/png")));
    let url =
        |t: &str| format!("{}/widget/v1/uploads/{}?key=pk_shop&token={t}", app.base, file["id"].as_str().unwrap());
    let r = app.http.get(url(&token)).header("origin", ORIGIN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png());
    let stranger = session(&app).await;
    assert_eq!(app.http.get(url(&stranger)).header("origin", ORIGIN).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(app.http.get(url("forged")).header("origin", ORIGIN).send().await.unwrap().status().as_u16(), 401);
    // Opened as a link (an <img>, a new tab): no Origin header, the token suffices; a foreign
    // page's Origin is refused.
    assert_eq!(app.http.get(url(&token)).send().await.unwrap().status().as_u16(), 200);
    let r = app.http.get(url(&token)).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(texts(&read_stream(&app, &token, 0, 2).await).len(), 2, "one item for the retried send");

    // The agent opens it like a customer's file.
    let path = format!("/api/v1/messages/{}/attachments/0", sent["id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = api(&app, reqwest::Method::GET, &path).await.send().await.unwrap();
        if r.status().as_u16() == 200 {
            assert_eq!(r.bytes().await.unwrap().to_vec(), png());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the agent's copy is not served: {}", r.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The composer's file button (web conversations only), with the CSRF token.
    let (cookie, csrf) = sign_in(&app).await;
    let case = app.store.get_conversation(conv.parse().unwrap()).await.unwrap().unwrap().case_number.to_string();
    let page = app.http.get(format!("{}/c/{case}", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("id=\"composer-file\""));
    let compose = |csrf: &str| {
        app.http
            .post(format!("{}/c/{case}/files?name=terms.pdf&idem=u1", app.base))
            .header("cookie", &cookie)
            .header("origin", &app.base)
            .header("x-csrf-token", csrf)
            .header("content-type", "application/pdf")
            .body(b"%PDF-1.4 terms".to_vec())
            .send()
    };
    assert_eq!(compose("wrong").await.unwrap().status().as_u16(), 403);
    assert_eq!(compose(&csrf).await.unwrap().status().as_u16(), 201);
    let got = read_stream(&app, &token, 2, 1).await;
    let item = &got.iter().find(|(k, _)| k == "message").unwrap().1;
    assert_eq!(item["attachments"][0]["name"], "terms.pdf");
    assert_eq!(item["author"]["name"], "Lin");
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_per_visitor_and_per_address() {
    let config = json!({"public_key": "pk_shop", "allowed_origins": [ORIGIN], "visitor_per_minute": 2,
        "ip_per_minute": 12, "new_visitors_per_ip_per_minute": 2});
    let app = spawn_widget_with(config, vec!["127.0.0.1"]).await;
    let from = |ip: &'static str, path: &str, body: Value| {
        app.http
            .post(format!("{}{path}", app.base))
            .header("origin", ORIGIN)
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
    };
    let retry_after = |r: &reqwest::Response| -> u64 { r.headers()["retry-after"].to_str().unwrap().parse().unwrap() };
    // New visitors per address.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let r = from("203.0.113.7", "/widget/v1/session", json!({"key": "pk_shop"})).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        tokens.push(r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned());
    }
    let r = from("203.0.113.7", "/widget/v1/session", json!({"key": "pk_shop"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!((1..=60).contains(&retry_after(&r)));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limited");
    assert!(v["error"]["message"].as_str().unwrap().contains("new chats from this address"), "{v}");
    // Another visitor behind the same proxy has their own allowance.
    let r = from("198.51.100.9", "/widget/v1/session", json!({"key": "pk_shop"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Messages per visitor.
    for i in 0..2 {
        let body = json!({"key": "pk_shop", "token": tokens[0], "client_id": format!("c{i}"), "text": "hi"});
        assert_eq!(from("203.0.113.7", "/widget/v1/messages", body).await.unwrap().status().as_u16(), 200);
    }
    let body = json!({"key": "pk_shop", "token": tokens[0], "client_id": "c9", "text": "hi"});
    let r = from("203.0.113.7", "/widget/v1/messages", body).await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!((1..=60).contains(&retry_after(&r)));
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN, "the widget can read why");
    // The other visitor at that address may still write.
    let body = json!({"key": "pk_shop", "token": tokens[1], "client_id": "d1", "text": "hi"});
    assert_eq!(from("203.0.113.7", "/widget/v1/messages", body).await.unwrap().status().as_u16(), 200);

    // Requests per address: 12 a minute, whatever the visitor (7 used above, refusals included).
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = app
            .http
            .get(format!("{}/widget/v1/config?key=pk_shop", app.base))
            .header("origin", ORIGIN)
            .header("x-forwarded-for", "203.0.113.7")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 429 {
            assert!((1..=60).contains(&retry_after(&r)));
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    threaded(&app).await;
    let mut n = 0;
    let all = ConversationFilter { limit: 50, ..Default::default() };
    for c in app.store.list_conversations(&all).await.unwrap().items {
        n += app.store.list_messages(c.conversation.id).await.unwrap().len();
    }
    assert_eq!(n, 3, "refused messages stored nothing");
}

#[tokio::test]
async fn an_edited_message_shows_as_edited_with_its_history_in_the_agent_ui() {
    let app = spawn_widget(default_config()).await;
    let event = |id: &str, text: &str, secs: i64, edit_of: Option<&str>| {
        let mut extra = serde_json::Map::new();
        if let Some(o) = edit_of {
            extra.insert("edit_of".into(), json!(o));
        }
        InboundEvent {
            channel: site(),
            provider_event_id: id.into(),
            contact: ContactRef { provider_user_id: "v:edit".into(), handle: None, display_name: Some("Mia".into()) },
            thread_key: String::new(),
            visibility: Visibility::Private,
            text: text.into(),
            attachments: Vec::new(),
            sent_at: chrono::DateTime::from_timestamp(1_764_000_000 + secs, 0).unwrap(),
            extra,
        }
    };
    app.store.append_inbound(vec![event("msg:1", "I ordered the wrong size <b>", 0, None)]).await.unwrap();
    threaded(&app).await;
    app.store
        .append_inbound(vec![event("edit:1:60", "I ordered the wrong size (M, not L)", 60, Some("msg:1"))])
        .await
        .unwrap();
    threaded(&app).await;
    let conv = app.store.list_conversations(&Default::default()).await.unwrap().items[0].conversation.clone();
    let (cookie, _) = sign_in(&app).await;
    let html = app
        .http
        .get(format!("{}/c/{}/thread", app.base, conv.case_number))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("I ordered the wrong size (M, not L)"), "{html}");
    assert!(html.contains("data-edited"), "{html}");
    assert!(
        html.contains("old-text\">I ordered the wrong size &#60;b&#62;</span>"),
        "the earlier text, escaped: {html}"
    );
    assert_eq!(html.matches("class=\"msg inbound").count(), 1, "one message: {html}");
}
