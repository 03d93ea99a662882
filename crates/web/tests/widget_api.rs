//! The chat widget's visitor API over HTTP against the real server: keys, origins, limits, the
//! durable and deduplicated message path, the resumable stream, replies through the outbox with
//! buttons, signed identities, uploads.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::widget::*;
use serde_json::{Value, json};
use switchboard_domain::ChannelSlug;
use switchboard_store::{MessageKind, NewMessage};

#[tokio::test]
async fn bad_keys_origins_and_sizes_are_refused_and_store_nothing() {
    let app = spawn_widget(default_config()).await;
    let (s, v) = post(&app, "/widget/v1/session", json!({"key": "pk_nope"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("unknown_key")));
    let r = app
        .http
        .post(format!("{}/widget/v1/session", app.base))
        .header("origin", "https://evil.example")
        .json(&json!({"key": "pk_shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("evil.example"), "{v}");

    let token = session(&app).await;
    let msg = |text: String, id: &str| json!({"key": "pk_shop", "token": token, "client_id": id, "text": text});
    let (s, v) = post(&app, "/widget/v1/messages", msg("x".repeat(101), "m1")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (413, Some("message_too_long")));
    let (s, v) = post(&app, "/widget/v1/messages", msg("hi".into(), "bad id!")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("invalid_client_id")));
    let (s, v) = post(&app, "/widget/v1/messages", msg("   ".into(), "m2")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("empty_message")));
    let (s, _) = post(
        &app,
        "/widget/v1/messages",
        json!({"key": "pk_shop", "token": "forged", "client_id": "m3", "text": "hi"}),
    )
    .await;
    assert_eq!(s, 401);
    let r = app
        .http
        .post(format!("{}/widget/v1/messages", app.base))
        .header("origin", "https://evil.example")
        .json(&msg("hi".into(), "m4"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.store.pipeline_backlog().await.unwrap(), 0);
    assert!(subjects(&app).await.is_empty(), "no contact was created");
    assert_eq!(items(&app).await, 0);
}

#[tokio::test]
async fn a_reposted_client_id_is_one_message_and_the_rate_limit_refuses_with_a_reason() {
    let app = spawn_widget(default_config()).await;
    let token = session(&app).await;
    let body = json!({"key": "pk_shop", "token": token, "client_id": "c-1", "text": "Where is my order #4411?"});
    let (s, first) = post(&app, "/widget/v1/messages", body.clone()).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!((first["seq"].as_i64(), first["duplicate"].as_bool()), (Some(1), Some(false)));
    let (s, again) = post(&app, "/widget/v1/messages", body).await;
    assert_eq!(s, 200);
    assert_eq!((again["seq"].as_i64(), again["duplicate"].as_bool()), (Some(1), Some(true)));
    assert_eq!(again["message_id"], first["message_id"]);
    // Four more fill the allowance of five per minute (the repeat counted too); the next is refused.
    for i in 2..=4 {
        let (s, v) = post(
            &app,
            "/widget/v1/messages",
            json!({"key": "pk_shop", "token": token, "client_id": format!("c-{i}"), "text": format!("more {i}")}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = post(
        &app,
        "/widget/v1/messages",
        json!({"key": "pk_shop", "token": token, "client_id": "c-9", "text": "spam"}),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (429, Some("rate_limited")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("try again"), "{v}");

    // The agent side: one conversation, four messages, the first one once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let conv = loop {
        let page = app.store.list_conversations(&Default::default()).await.unwrap();
        if let Some(c) = page.items.first() {
            let msgs = app.store.list_messages(c.conversation.id).await.unwrap();
            if msgs.len() == 4 {
                break c.conversation.clone();
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "messages were not threaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let msgs = app.store.list_messages(conv.id).await.unwrap();
    assert_eq!(msgs.iter().filter(|m| m.text.contains("#4411")).count(), 1);
    assert!(msgs.iter().all(|m| m.text != "spam"));
    let items = app.store.widget_items_after(&conv.channel, &subjects(&app).await[0], 0, 100).await.unwrap();
    assert_eq!(items.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn the_stream_resumes_from_a_cursor_and_carries_replies_with_buttons() {
    let app = spawn_widget(default_config()).await;
    let token = session(&app).await;
    for i in 1..=3 {
        let (s, _) = post(
            &app,
            "/widget/v1/messages",
            json!({"key": "pk_shop", "token": token, "client_id": format!("m{i}"), "text": format!("message {i}")}),
        )
        .await;
        assert_eq!(s, 200);
    }
    let all = read_stream(&app, &token, 0, 3).await;
    let seqs: Vec<i64> = all.iter().filter(|(k, _)| k == "message").map(|(_, v)| v["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(all[0].1["client_id"], "m1");
    let tail = read_stream(&app, &token, 2, 1).await;
    assert_eq!(tail.len(), 1);
    assert_eq!((tail[0].1["seq"].as_i64(), tail[0].1["text"].as_str()), (Some(3), Some("message 3")));

    // An agent reply with choices, delivered through the outbox into the stream, exactly once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let conv = loop {
        let page = app.store.list_conversations(&Default::default()).await.unwrap();
        if let Some(c) = page.items.first() {
            break c.conversation.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no conversation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let payload =
        json!({"buttons": [{"text": "Yes", "data": "bot:helped:1"}, {"text": "No", "data": "bot:not_helped:1"}]});
    let agent = app.user_id(AGENT).await;
    app.store.save_reply_payload(&format!("{agent}:payload:k1"), &payload).await.unwrap();
    let (reply, _) = app
        .store
        .post_message(&NewMessage {
            conversation_id: conv.id,
            author_id: agent,
            kind: MessageKind::Reply,
            visibility: switchboard_domain::Visibility::Private,
            text: "Did that answer your question? <b>not bold</b>".into(),
            idempotency_key: Some("payload:k1".into()),
            at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let got = read_stream(&app, &token, 3, 1).await;
    let m = &got.iter().find(|(k, _)| k == "message").unwrap().1;
    assert_eq!((m["seq"].as_i64(), m["direction"].as_str()), (Some(4), Some("agent")));
    assert_eq!(m["author"]["name"], "Lin");
    assert_eq!(m["text"], "Did that answer your question? <b>not bold</b>");
    assert_eq!(m["buttons"][0], json!({"text": "Yes", "data": "bot:helped:1"}));
    // The outbox recorded it sent; reading it on the stream marked it delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let msg = app.store.get_message(reply.id).await.unwrap().unwrap();
        if msg.delivery_status == Some(switchboard_domain::DeliveryStatus::Delivered) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not delivered: {:?}", msg.delivery_status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The visitor presses "Yes": the inbound event carries the button's data, the text its label.
    let (s, v) = post(
        &app,
        "/widget/v1/messages",
        json!({"key": "pk_shop", "token": token, "client_id": "b1", "text": "Yes", "button_data": "bot:helped:1"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let mid: switchboard_domain::MessageId = v["message_id"].as_str().unwrap().parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ev = loop {
        if let Some(msg) = app.store.get_message(mid).await.unwrap() {
            let evs = app.store.list_messages(conv.id).await.unwrap();
            assert!(evs.iter().any(|m| m.text == "Yes"));
            break msg;
        }
        assert!(tokio::time::Instant::now() < deadline, "button press not threaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ev.text, "Yes");
    let ack = app
        .store
        .append_inbound(vec![switchboard_domain::InboundEvent {
            channel: ChannelSlug::parse("site").unwrap(),
            provider_event_id: format!("widget:{}:b1", subjects(&app).await[0]),
            contact: switchboard_domain::ContactRef { provider_user_id: "x".into(), handle: None, display_name: None },
            thread_key: String::new(),
            visibility: switchboard_domain::Visibility::Private,
            text: "Yes".into(),
            attachments: vec![],
            sent_at: chrono::Utc::now(),
            extra: Default::default(),
        }])
        .await
        .unwrap();
    assert!(ack[0].duplicate, "the press is stored under the widget's dedupe key");
    let stored = app.store.get_event(ack[0].event_id).await.unwrap().unwrap();
    assert_eq!(stored.event.extra["button_data"], "bot:helped:1");
}

#[tokio::test]
async fn signed_identities_share_one_stream_and_bad_signatures_are_refused() {
    let app = spawn_widget(default_config()).await;
    let sig = switchboard_channels::widget::sign_identity(SECRET, "cust-42");
    let (s, v) =
        post(&app, "/widget/v1/session", json!({"key": "pk_shop", "user_id": "cust-42", "user_hash": "00ff"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (401, Some("unauthorized")), "{v}");
    let (s, v) = post(&app, "/widget/v1/session", json!({"key": "pk_shop", "user_id": "cust-42"})).await;
    assert_eq!(s, 401, "{v}");
    let (s, a) =
        post(&app, "/widget/v1/session", json!({"key": "pk_shop", "user_id": "cust-42", "user_hash": sig})).await;
    assert_eq!((s, a["identified"].as_bool()), (200, Some(true)), "{a}");
    let (_, b) =
        post(&app, "/widget/v1/session", json!({"key": "pk_shop", "user_id": "cust-42", "user_hash": sig})).await;
    assert_ne!(a["token"], b["token"], "two browsers, two tokens");
    let (s, _) = post(
        &app,
        "/widget/v1/messages",
        json!({"key": "pk_shop", "token": a["token"], "client_id": "x1", "text": "from the laptop"}),
    )
    .await;
    assert_eq!(s, 200);
    let other = read_stream(&app, b["token"].as_str().unwrap(), 0, 1).await;
    assert_eq!(other[0].1["text"], "from the laptop", "the phone sees the laptop's thread");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while subjects(&app).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(subjects(&app).await, vec!["u:cust-42".to_owned()]);
}

#[tokio::test]
async fn uploads_are_checked_for_size_and_type_and_reach_the_agent() {
    let app = spawn_widget(default_config()).await;
    let token = session(&app).await;
    let up = |bytes: Vec<u8>, mime: &str| {
        app.http
            .post(format!("{}/widget/v1/uploads?key=pk_shop&token={token}&name=receipt.png", app.base))
            .header("origin", ORIGIN)
            .header("content-type", mime)
            .body(bytes)
            .send()
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0u8; 100]);
    let r = up(vec![0u8; 4096], "image/png").await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let r = up(b"MZ\x90\x00".to_vec(), "application/x-msdownload").await.unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let r = up(b"<html><script>alert(1)</script>".to_vec(), "image/png").await.unwrap();
    assert_eq!(r.status().as_u16(), 415, "content that is not what it claims");
    let r = up(png.clone(), "image/png").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let u: Value = r.json().await.unwrap();
    let (s, v) = post(
        &app,
        "/widget/v1/messages",
        json!({"key": "pk_shop", "token": token, "client_id": "f1", "text": "", "attachments": [u["id"]]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let mid: switchboard_domain::MessageId = v["message_id"].as_str().unwrap().parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(f) = app.store.media_file(mid, 0).await.unwrap()
            && f.state == "done"
        {
            assert_eq!((f.mime_type.as_deref(), f.size), (Some("image/png"), Some(png.len() as i64)));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the attachment was not filed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, v) = post(
        &app,
        "/widget/v1/messages",
        json!({"key": "pk_shop", "token": token, "client_id": "f2", "attachments": ["0190f0f0-0000-7000-8000-000000000000"]}),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (422, Some("unknown_upload")));
    let r = app
        .http
        .get(format!("{}/widget/v1/uploads/{}?key=pk_shop&token={token}", app.base, u["id"].as_str().unwrap()))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);
}

#[tokio::test]
async fn config_speaks_the_visitors_language_and_knows_business_hours() {
    let app = spawn_widget(json!({"public_key": "pk_shop", "calendar": "support"})).await;
    let r = app.http.get(format!("{}/widget/v1/config?key=pk_shop&locale=zh-CN", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["locale"], "zh-CN");
    assert_eq!(v["texts"]["widget-send"], "发送");
    assert!(v["texts"]["widget-typing"].as_str().unwrap().contains("{name}"));
    assert_eq!(v["limits"]["max_text"], 4000);
    let r = app.http.get(format!("{}/widget/v1/config?key=pk_shop&locale=en-GB", app.base)).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["texts"]["widget-send"], "Send");
    assert_eq!(v["hours"]["open"], true, "an unknown calendar means always open");

    // Closed all day today, open 09:30-17:00 every day: "we reply by" tomorrow 09:30.
    let today = chrono::Utc::now().date_naive();
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let spec: switchboard_domain::calendar::CalendarSpec = serde_json::from_value(json!({
        "time_zone": "UTC",
        "weekly": days.iter().map(|d| json!({"day": d, "intervals": [{"start": "09:30", "end": "17:00"}]})).collect::<Vec<_>>(),
        "special_dates": [{"date": today.to_string(), "name": "Closed", "intervals": []}],
    }))
    .unwrap();
    app.store.put_calendar("support", &spec).await.unwrap();
    let r = app.http.get(format!("{}/widget/v1/config?key=pk_shop", app.base)).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["hours"]["open"], false, "{v}");
    let next = today.succ_opt().unwrap().and_hms_opt(9, 30, 0).unwrap().and_utc();
    assert_eq!(v["hours"]["next_open"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap(), next);
    let r = app.http.get(format!("{}/widget.js", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let js = r.text().await.unwrap();
    assert!(js.len() < 40_000, "the script stays small: {} bytes", js.len());
    assert!(!js.contains("innerHTML"), "text is never rendered as HTML");
}
