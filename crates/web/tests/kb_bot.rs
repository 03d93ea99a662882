//! Knowledge base, FAQ bot and help center end to end over real loopback HTTP: customers write
//! through the API channel, the bot answers with an article link or hands off, the help center
//! and the signed case-status page show what they should and nothing more.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_engine::kb::KbConfig;
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, DynStore, StoreOptions};
use switchboard_web::{AppState, WebConfig};
use tokio::net::TcpListener;

struct App {
    base: String,
    store: DynStore,
    engine: Engine,
    token: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn spawn() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("shop").unwrap(),
            kind: ChannelKind::Api,
            name: "Shop".into(),
            callback_url: None,
            secret: Some("s".into()),
            config: json!({}),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let token = common::admin_api_token(&store, "admin@x.io").await;
    let mut cfg = EngineConfig::default();
    cfg.outbox.poll = Duration::from_millis(50);
    let engine = Engine::start(store.clone(), cfg).await;
    let kb = engine
        .start_kb(KbConfig {
            index_dir: Some(dir.path().join("kb-index")),
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
    let app = switchboard_web::router(AppState::new(engine.clone(), WebConfig::default()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let app = App { base, store, engine, token, http: reqwest::Client::new(), _dir: dir };
    let (s, body) = app.send("PUT", "/api/v1/channels/shop/bot", json!({"enabled": true})).await;
    assert_eq!(s, 200, "{body}");
    app
}

impl App {
    async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        common::send_json(&self.http, method.parse().unwrap(), &url, &self.token, Some(&body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        common::send_json(&self.http, reqwest::Method::GET, &url, &self.token, None).await
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Sends a customer message; returns (conversation id, message id).
    async fn customer(&self, who: &str, text: &str, extra: Value) -> (String, String) {
        let mut body = json!({"channel": "shop", "external_id": format!("{who}-{text}-{}", uuid::Uuid::now_v7()),
            "contact": {"handle": who}, "text": text, "sent_at": chrono::Utc::now().to_rfc3339()});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, ack) = self.send("POST", "/api/v1/inbound", body).await;
        assert_eq!(s, 201, "{ack}");
        let mid = ack["message_id"].as_str().unwrap().to_owned();
        for _ in 0..400 {
            let (s, m) = self.get(&format!("/api/v1/messages/{mid}")).await;
            if s == 200 {
                return (m["conversation_id"].as_str().unwrap().to_owned(), mid);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("message {mid} was never threaded");
    }

    /// Waits until the conversation has `n` bot outcomes; returns them.
    async fn outcomes(&self, conv: &str, n: usize) -> Vec<Value> {
        for _ in 0..600 {
            let (_, o) = self.get(&format!("/api/v1/conversations/{conv}/bot-outcomes")).await;
            if o.as_array().is_some_and(|a| a.len() >= n) {
                return o.as_array().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("conversation {conv} never reached {n} bot outcomes");
    }

    async fn messages(&self, conv: &str) -> Vec<switchboard_domain::Message> {
        let id: switchboard_domain::ConversationId = conv.parse().unwrap();
        self.store.list_messages(id).await.unwrap()
    }
}

fn outbound(msgs: &[switchboard_domain::Message]) -> Vec<&switchboard_domain::Message> {
    msgs.iter().filter(|m| m.direction == switchboard_domain::Direction::Outbound).collect()
}

#[tokio::test]
async fn a_question_the_kb_answers_gets_an_answer_with_a_link_and_buttons() {
    let app = spawn().await;
    let (conv, _) = app.customer("ada", "How do I return an item and get a refund?", json!({})).await;
    let o = app.outcomes(&conv, 1).await;
    assert_eq!(o[0]["outcome"], "answered", "{o:?}");
    let msgs = app.messages(&conv).await;
    let out = outbound(&msgs);
    assert_eq!(out.len(), 1);
    assert!(out[0].text.contains(&format!("{}/help/en/articles/returns-refunds", app.base)), "{}", out[0].text);
    assert!(out[0].text.starts_with("🤖"), "marked as the bot's: {}", out[0].text);
    assert_eq!(out[0].author_id, Some(switchboard_store::kb::BOT_USER));
    let article = o[0]["article_id"].as_str().unwrap().to_owned();
    let payload = app.store.reply_payload(out[0].id).await.unwrap().unwrap();
    assert_eq!(payload["buttons"][0]["data"], format!("bot:helped:{article}"));
    assert_eq!(payload["buttons"][1]["data"], format!("bot:not_helped:{article}"));

    // The customer presses "Yes".
    app.customer("ada", "Yes", json!({"button_data": format!("bot:helped:{article}")})).await;
    let o = app.outcomes(&conv, 2).await;
    assert_eq!(o[1]["outcome"], "helped");
    let (_, counts) = app.get("/api/v1/bot/outcomes").await;
    assert_eq!((counts["answered"].as_i64(), counts["helped"].as_i64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn chinese_question_is_answered_in_chinese_and_asking_for_a_person_hands_off_with_a_note() {
    let app = spawn().await;
    let (conv, _) = app.customer("li", "请问配送一般需要多长时间？", json!({})).await;
    let o = app.outcomes(&conv, 1).await;
    assert_eq!(o[0]["outcome"], "answered", "{o:?}");
    let msgs = app.messages(&conv).await;
    assert!(outbound(&msgs)[0].text.contains("/help/zh-CN/articles/delivery-times"), "{}", outbound(&msgs)[0].text);

    app.customer("li", "没用，我要转人工", json!({})).await;
    let o = app.outcomes(&conv, 2).await;
    assert_eq!(o[1]["outcome"], "handed_off");
    assert!(o[1]["reason"].as_str().unwrap().starts_with("requested_human"), "{o:?}");
    let msgs = app.messages(&conv).await;
    let note = msgs.iter().find(|m| m.direction == switchboard_domain::Direction::Note).expect("a private note");
    assert!(note.text.contains("requested_human") && note.text.contains("配送需要多长时间"), "{}", note.text);
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert!(
        c["conversation"]["tags"].to_string().contains("bot-handoff") || c["tags"].to_string().contains("bot-handoff"),
        "{c}"
    );
    // After the handoff the bot stays out of the conversation.
    let before = outbound(&app.messages(&conv).await).len();
    let (_, m3) = app.customer("li", "我的订单到哪了", json!({})).await;
    for _ in 0..100 {
        if app.store.bot_cursor().await.unwrap() >= Some(m3.parse().unwrap()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(app.outcomes(&conv, 2).await.len(), 2);
    assert_eq!(outbound(&app.messages(&conv).await).len(), before);
}

#[tokio::test]
async fn low_confidence_and_public_posts_hand_off_without_an_answer() {
    let app = spawn().await;
    let (conv, _) = app.customer("bo", "Do you sell garden furniture in dark blue?", json!({})).await;
    let o = app.outcomes(&conv, 1).await;
    assert_eq!(o[0]["outcome"], "handed_off");
    assert!(o[0]["reason"].as_str().unwrap().starts_with("low_confidence"), "{o:?}");
    assert!(!outbound(&app.messages(&conv).await).iter().any(|m| m.text.contains("/help/")));

    let (conv, _) =
        app.customer("cy", "How do I return an item and get a refund?", json!({"visibility": "public"})).await;
    let o = app.outcomes(&conv, 1).await;
    assert_eq!(o[0]["outcome"], "handed_off");
    assert!(o[0]["reason"].as_str().unwrap().starts_with("public_post"), "{o:?}");
    assert!(outbound(&app.messages(&conv).await).is_empty(), "nothing said in public");
}

#[tokio::test]
async fn the_same_question_failing_twice_hands_off() {
    let app = spawn().await;
    let (conv, _) = app.customer("di", "How long does delivery take?", json!({})).await;
    assert_eq!(app.outcomes(&conv, 1).await[0]["outcome"], "answered");
    app.customer("di", "No", json!({})).await;
    assert_eq!(app.outcomes(&conv, 2).await[1]["outcome"], "not_helped");
    app.customer("di", "How do I reset my password?", json!({})).await;
    assert_eq!(app.outcomes(&conv, 3).await[2]["outcome"], "answered");
    app.customer("di", "no", json!({})).await;
    let o = app.outcomes(&conv, 5).await;
    assert_eq!(o[3]["outcome"], "not_helped");
    assert_eq!(o[4]["outcome"], "handed_off");
    assert!(o[4]["reason"].as_str().unwrap().starts_with("repeated_failure"), "{o:?}");
}

#[tokio::test]
async fn search_api_and_bot_settings_validate_input() {
    let app = spawn().await;
    let (s, r) = app.get("/api/v1/kb/search?q=pasword%20reset&locale=en").await;
    assert_eq!(s, 200);
    assert_eq!(r["hits"][0]["slug"], "password-reset", "{r}");
    assert!(r["hits"][0]["url"].as_str().unwrap().ends_with("/help/en/articles/password-reset"));
    let (_, r) = app.get("/api/v1/kb/search?q=%E5%BF%98%E8%AE%B0%E5%AF%86%E7%A0%81&locale=zh-CN").await;
    assert_eq!(r["hits"][0]["slug"], "password-reset", "{r}");
    assert_eq!(app.get("/api/v1/kb/search?q=x&locale=EN_us").await.0, 400);
    assert_eq!(app.get("/api/v1/kb/search?q=x&limit=0").await.0, 400);
    let (s, e) = app.send("PUT", "/api/v1/channels/shop/bot", json!({"min_confidence": 3})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (400, Some("invalid_settings")));
    assert_eq!(app.send("PUT", "/api/v1/channels/nope/bot", json!({})).await.0, 404);
    let (s, b) = app.get("/api/v1/channels/shop/bot").await;
    assert_eq!((s, b["enabled"].as_bool()), (200, Some(true)), "an invalid update changed nothing");
    // Articles: bad input is refused, a saved draft is not searchable, publishing makes it so.
    let mut art = json!({"slug": "gift-cards", "category": "billing", "translations": [
        {"locale": "en", "title": "Gift cards", "body": "Gift cards never expire.", "status": "draft"}]});
    let (s, _) =
        app.send("POST", "/api/v1/kb/articles", json!({"slug": "Bad!", "category": "x", "translations": []})).await;
    assert_eq!(s, 422);
    assert_eq!(app.send("POST", "/api/v1/kb/articles", art.clone()).await.0, 200);
    let (_, r) = app.get("/api/v1/kb/search?q=gift%20cards").await;
    assert!(!r["hits"].as_array().unwrap().iter().any(|h| h["slug"] == "gift-cards"), "{r}");
    art["translations"][0]["status"] = json!("published");
    assert_eq!(app.send("POST", "/api/v1/kb/articles", art).await.0, 200);
    assert_eq!(app.get("/api/v1/kb/search?q=gift%20cards").await.1["hits"][0]["slug"], "gift-cards");
    let (_, h) = app.get("/api/v1/kb/articles/gift-cards/history").await;
    assert_eq!(h.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn help_center_pages_and_signed_case_status() {
    let app = spawn().await;
    let (s, home) = app.page("/help/en/").await;
    assert_eq!(s, 200);
    assert!(home.contains("Returns and refunds") && home.contains("How do I return an item"), "{home}");
    let (s, art) = app.page("/help/zh-CN/articles/returns-refunds").await;
    assert_eq!(s, 200);
    assert!(art.contains("<h1>如何退货退款？</h1>") || art.contains("如何退货退款"), "{art}");
    assert!(
        art.contains(&format!(r#"<link rel="canonical" href="{}/help/zh-CN/articles/returns-refunds">"#, app.base)),
        "{art}"
    );
    assert!(art.contains(r#"hreflang="en""#), "{art}");
    assert!(art.contains("<strong>30天内</strong>"), "Markdown rendered: {art}");
    assert_eq!(app.page("/help/en/articles/no-such").await.0, 404);
    assert_eq!(app.page("/help/fr/").await.0, 404);
    let (_, found) = app.page("/help/en/search?q=refund").await;
    assert!(found.contains("/help/en/articles/returns-refunds"), "{found}");
    let (_, map) = app.page("/help/sitemap.xml").await;
    assert!(
        map.contains(&format!("{}/help/zh-CN/articles/password-reset", app.base)) && map.contains("hreflang=\"zh-CN\"")
    );

    // Votes: one per visitor; a bad form changes nothing.
    let vote = |v: &str| {
        app.http
            .post(format!("{}/help/en/articles/returns-refunds/vote", app.base))
            .form(&[("helpful", v.to_owned())])
            .send()
    };
    assert_eq!(vote("yes").await.unwrap().status().as_u16(), 200);
    assert!(vote("no").await.unwrap().text().await.unwrap().contains("already voted"));
    assert_eq!(vote("maybe").await.unwrap().status().as_u16(), 400);
    let a = app.store.article_by_slug("returns-refunds").await.unwrap().unwrap();
    let t = app.store.kb_votes(a.id, "en").await.unwrap();
    assert_eq!((t.helpful, t.not_helpful), (1, 0));

    // Case status: the bot's public reply shows, the private handoff note does not.
    let (conv, _) = app.customer("ed", "How long does delivery take?", json!({})).await;
    app.outcomes(&conv, 1).await;
    app.customer("ed", "agent please", json!({})).await;
    app.outcomes(&conv, 2).await;
    let c = app.store.get_conversation(conv.parse().unwrap()).await.unwrap().unwrap();
    let kb = app.engine.kb().unwrap();
    let link = kb.case_link(c.case_number.0, chrono::Utc::now() + chrono::Duration::hours(1));
    let (s, page) = app.page(&link).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("How long does delivery take?") && page.contains("Automated answer"), "{page}");
    assert!(!page.contains("Bot handed off"), "no private notes: {page}");
    assert_eq!(app.page(&link.replace("sig=", "sig=00")).await.0, 403);
    let expired = kb.case_link(c.case_number.0, chrono::Utc::now() - chrono::Duration::hours(1));
    assert_eq!(app.page(&expired).await.0, 403);
    assert_eq!(app.page(&format!("/case/{}", c.case_number.0)).await.0, 403);
}

/// Telegram: the answer carries an inline keyboard; pressing "Yes" is recorded as helped.
#[tokio::test]
async fn telegram_answer_has_buttons_and_a_press_is_feedback() {
    use switchboard_channels::telegram::simulator::{Simulator, SimulatorConfig, Traffic};
    let app = spawn().await;
    let sim =
        Simulator::start(SimulatorConfig { webhook: Some(format!("{}/webhooks/tg", app.base)), ..Default::default() })
            .await
            .unwrap();
    let c = sim.config().clone();
    app.store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("tg").unwrap(),
            kind: ChannelKind::Telegram,
            name: "Telegram".into(),
            callback_url: None,
            secret: Some(c.secret_token.clone()),
            config: json!({"bot_token": c.bot_token, "bot_username": c.bot_username, "api_base_url": sim.api_base_url()}),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(app.send("PUT", "/api/v1/channels/tg/bot", json!({"enabled": true})).await.0, 200);
    let traffic = sim.traffic();
    let customer = &Traffic::customers()[0];
    let (update, _) = traffic.text(customer, "How do I cancel my order?");
    assert_eq!(traffic.post(&update).await, Some(200));
    let mut sent = None;
    for _ in 0..400 {
        sent = sim
            .calls_of("sendMessage")
            .into_iter()
            .find(|s| s.text().is_some_and(|t| t.contains("/help/en/articles/cancel-order")));
        if sent.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let Some(sent) = sent else {
        let (_, list) = app.get("/api/v1/conversations?channel=tg").await;
        let conv = list["items"][0]["id"].as_str().unwrap_or_default().to_owned();
        let (_, o) = app.get(&format!("/api/v1/conversations/{conv}/bot-outcomes")).await;
        panic!("the bot's answer never reached Telegram: {o}");
    };
    let keyboard = &sent.body["reply_markup"]["inline_keyboard"];
    let data = keyboard[0][0]["callback_data"].as_str().unwrap().to_owned();
    assert!(data.starts_with("bot:helped:"), "{keyboard}");
    let press = traffic.callback(customer, sent.message_id.unwrap(), &data, "Yes");
    assert_eq!(traffic.post(&press).await, Some(200));
    let (_, list) = app.get("/api/v1/conversations?channel=tg").await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_owned();
    let o = app.outcomes(&conv, 2).await;
    assert_eq!((o[0]["outcome"].as_str(), o[1]["outcome"].as_str()), (Some("answered"), Some("helped")), "{o:?}");
}
