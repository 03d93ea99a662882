//! X end to end over real loopback HTTP: the X API simulator posts signed Account Activity
//! deliveries to the real server, agents answer through the API, the outbox sends through the
//! simulator — public replies, DMs, a rate-limit window, the PII guard, deletes and likes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_channels::x::signature;
use switchboard_channels::x::simulator::{Simulator, SimulatorConfig, Traffic};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::x::DELETED_TEXT;
use switchboard_store::{ChannelRecord, DynStore, StoreOptions};
use switchboard_web::{AppState, WebConfig};
use tokio::net::TcpListener;

struct App {
    base: String,
    token: String,
    store: DynStore,
    sim: Simulator,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn spawn() -> App {
    spawn_with(|_| {}).await
}

async fn spawn_with(tune: impl FnOnce(&mut SimulatorConfig)) -> App {
    spawn_tuned(tune, |_| {}).await
}

async fn spawn_tuned(tune: impl FnOnce(&mut SimulatorConfig), tune_engine: impl FnOnce(&mut EngineConfig)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut sim_cfg = SimulatorConfig { webhook: Some(format!("{base}/webhooks/x")), ..Default::default() };
    tune(&mut sim_cfg);
    let sim = Simulator::start(sim_cfg).await.unwrap();
    let c = sim.config().clone();
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("x").unwrap(),
            kind: ChannelKind::X,
            name: "X".into(),
            callback_url: None,
            secret: Some(c.consumer_secret.clone()),
            config: json!({"user_id": c.brand_user_id, "screen_name": c.brand_screen_name,
                "access_token": c.access_token, "api_base_url": sim.api_base_url()}),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let token = common::admin_api_token(&store, "agent@x.io").await;
    let mut cfg = EngineConfig::default();
    cfg.outbox.base_backoff = Duration::from_millis(20);
    cfg.outbox.max_backoff = Duration::from_secs(5);
    cfg.outbox.poll = Duration::from_millis(50);
    cfg.outbox.request_timeout = Duration::from_secs(5);
    cfg.outbox.lease = Duration::from_secs(10);
    tune_engine(&mut cfg);
    let engine = Engine::start(store.clone(), cfg).await;
    let app = switchboard_web::router(AppState::new(engine, WebConfig::default()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    App { base, token, store, sim, http: reqwest::Client::new(), _dir: dir }
}

impl App {
    async fn get(&self, path: &str) -> Value {
        common::get_json(&self.http, &format!("{}{path}", self.base), &self.token).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        common::send_json(&self.http, reqwest::Method::POST, &url, &self.token, Some(&body)).await
    }

    async fn conversation_where(&self, pred: impl Fn(&Value) -> bool) -> Value {
        self.conversation_on("x", pred).await
    }

    async fn conversation_on(&self, channel: &str, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let list = self.get(&format!("/api/v1/conversations?channel={channel}")).await;
            for c in list["items"].as_array().unwrap() {
                let detail = self.get(&format!("/api/v1/conversations/{}", c["id"].as_str().unwrap())).await;
                if pred(&detail) {
                    return detail;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no X conversation matched");
    }

    async fn message_status(&self, id: &str, want: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.get(&format!("/api/v1/messages/{id}")).await;
            if last["delivery_status"] == want {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("message {id} never reached {want}: {last}");
    }

    fn sends_of(&self, text: &str) -> usize {
        self.sim.sent().iter().filter(|s| s.text() == Some(text)).count()
    }
}

fn has_text(detail: &Value, text: &str) -> bool {
    detail["messages"].as_array().unwrap().iter().any(|m| m["text"] == text)
}

#[tokio::test]
async fn mention_to_public_reply_then_dm_on_the_same_contact() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[1];

    // CRC as X runs it; a bad or missing signature is refused and stores nothing.
    app.sim.check_crc(&format!("{}/webhooks/x", app.base)).await.unwrap();
    let r = app.http.get(format!("{}/webhooks/x", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let forged = serde_json::to_vec(&traffic.mention(customer, &traffic.next_id(), "forged", None)).unwrap();
    for sig in [Some(signature::sign(b"not-the-secret", &forged)), None] {
        let mut req = app.http.post(format!("{}/webhooks/x", app.base)).header("content-type", "application/json");
        if let Some(s) = sig {
            req = req.header(signature::HEADER, s);
        }
        assert_eq!(req.body(forged.clone()).send().await.unwrap().status().as_u16(), 401);
    }

    // A mention (delivered twice) becomes one public conversation threaded by the post.
    let post_id = traffic.next_id();
    let body = traffic.mention(customer, &post_id, "你们的客服电话一直打不通 😡", None);
    assert_eq!(traffic.post(&body).await, Some(200));
    assert_eq!(traffic.post(&body).await, Some(200));
    let conv = app
        .conversation_where(|d| d["messages"].as_array().unwrap().iter().any(|m| m["provider_message_id"] == post_id))
        .await;
    assert_eq!(conv["messages"].as_array().unwrap().len(), 1);
    assert_eq!(conv["messages"][0]["visibility"], "public");
    assert_eq!(conv["conversation"]["thread_key"], format!("post:{post_id}"));
    let id = conv["conversation"]["id"].as_str().unwrap().to_owned();
    let contact = conv["conversation"]["contact_id"].clone();

    // The agent answers in public: exactly one POST /2/tweets replying to the mention.
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "很抱歉！请私信我们订单号 🙏"})).await;
    assert_eq!(status, 201, "{msg}");
    assert_eq!(msg["visibility"], "public");
    let sent = app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.sends_of("很抱歉！请私信我们订单号 🙏"), 1);
    let call = app.sim.sent().into_iter().find(|s| s.kind == "tweet").unwrap();
    assert_eq!(call.in_reply_to(), Some(post_id.as_str()));
    assert_eq!(sent["provider_message_id"].as_str(), Some(call.id.as_str()));
    // X delivered our own post back: it is known, not a second message.
    let detail = app.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(detail["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").count(), 1);

    // The customer answers our reply: same public conversation.
    let reply_id = traffic.next_id();
    assert_eq!(
        traffic.post(&traffic.mention(customer, &reply_id, "@SwitchboardCo ok, DM sent", Some(&call.id))).await,
        Some(200)
    );
    app.conversation_where(|d| d["conversation"]["id"] == id.as_str() && has_text(d, "@SwitchboardCo ok, DM sent"))
        .await;

    // The DM: a private conversation of the same contact; the reply is one DM to that user.
    let dm_id = traffic.next_id();
    assert_eq!(traffic.post(&traffic.dm(customer, &dm_id, "订单号 20261125-8891")).await, Some(200));
    let dm = app.conversation_where(|d| has_text(d, "订单号 20261125-8891")).await;
    assert_eq!(dm["conversation"]["thread_key"], "");
    assert_eq!(dm["conversation"]["contact_id"], contact);
    assert_eq!(dm["messages"][0]["visibility"], "private");
    let dm_conv = dm["conversation"]["id"].as_str().unwrap().to_owned();
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{dm_conv}/messages"), json!({"text": "收到，马上为您查询"})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    let dms: Vec<_> = app.sim.sent().into_iter().filter(|s| s.kind == "dm").collect();
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0].target.as_deref(), Some(customer.id.as_str()));

    // The author deletes the mention: its content is gone from the conversation.
    assert_eq!(traffic.post(&traffic.delete(customer, &post_id)).await, Some(200));
    let detail = app.get(&format!("/api/v1/conversations/{id}")).await;
    let m =
        detail["messages"].as_array().unwrap().iter().find(|m| m["provider_message_id"] == post_id).unwrap().clone();
    assert_eq!(m["text"], DELETED_TEXT);
    assert!(!detail.to_string().contains("你们的客服电话一直打不通"));

    // Likes and follows are kept as activity, never as messages.
    assert_eq!(traffic.post(&traffic.favorite(customer, &call.id)).await, Some(200));
    assert_eq!(traffic.post(&traffic.follow(customer)).await, Some(200));
    let slug = ChannelSlug::parse("x").unwrap();
    assert_eq!(app.store.count_activity(&slug, "favorite").await.unwrap(), 1);
    assert_eq!(app.store.count_activity(&slug, "follow").await.unwrap(), 1);
}

#[tokio::test]
async fn a_rate_limit_window_delays_the_reply_then_it_goes_out_once() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[0];
    let post_id = traffic.next_id();
    assert_eq!(traffic.post(&traffic.mention(customer, &post_id, "where is my order?", None)).await, Some(200));
    let conv = app
        .conversation_where(|d| d["messages"].as_array().unwrap().iter().any(|m| m["provider_message_id"] == post_id))
        .await;
    let id = conv["conversation"]["id"].as_str().unwrap().to_owned();

    app.sim.force_rate_limit(Duration::from_secs(2));
    let started = Instant::now();
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "Checking now!"})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    // It waited for x-rate-limit-reset instead of hammering the API (backoff here is 20 ms).
    assert!(app.sim.rate_limited() >= 1);
    assert!(app.sim.rate_limited() <= 3, "retried {} times inside the window", app.sim.rate_limited());
    assert!(started.elapsed() >= Duration::from_millis(900));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sends_of("Checking now!"), 1);
}

#[tokio::test]
async fn the_pii_guard_blocks_a_public_reply_and_allows_it_as_a_dm() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[2];
    let post_id = traffic.next_id();
    assert_eq!(
        traffic.post(&traffic.mention(customer, &post_id, "¿cómo contacto con soporte?", None)).await,
        Some(200)
    );
    let conv = app
        .conversation_where(|d| d["messages"].as_array().unwrap().iter().any(|m| m["provider_message_id"] == post_id))
        .await;
    let id = conv["conversation"]["id"].as_str().unwrap().to_owned();
    let text = "Escríbenos a soporte.vip@example.com";

    let (status, err) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": text})).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "pii_in_public_reply");
    assert!(err["error"]["message"].as_str().unwrap().contains("email"));
    let detail = app.get(&format!("/api/v1/conversations/{id}")).await;
    assert_eq!(detail["messages"].as_array().unwrap().len(), 1, "nothing was queued");

    // Too long for X: refused before queueing too.
    let (status, err) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "好".repeat(141)})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("too_long_for_x")));

    // The same text as a DM to the same person goes out.
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": text, "visibility": "private"})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    let sent = app.sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].kind, sent[0].target.as_deref()), ("dm", Some(customer.id.as_str())));

    // An explicit override sends it in public and records who did it on the timeline.
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": text, "pii_override": true})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    let detail = app.get(&format!("/api/v1/conversations/{id}")).await;
    let fact = detail["facts"].as_array().unwrap().iter().find(|f| f["kind"] == "pii_override").unwrap().clone();
    assert_eq!(fact["data"]["findings"][0]["kind"], "email");
    assert_eq!(fact["data"]["message_id"], msg["id"]);
    assert!(!fact.to_string().contains("soporte.vip@example.com"), "the fact keeps only a masked form");
}

#[tokio::test]
async fn move_to_dm_replies_in_public_then_dms_and_a_like_goes_out() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[1];
    let post_id = traffic.next_id();
    assert_eq!(
        traffic.post(&traffic.mention(customer, &post_id, "退款什么时候到账？已经等了一周了 😤", None)).await,
        Some(200)
    );
    let conv = app
        .conversation_where(|d| d["messages"].as_array().unwrap().iter().any(|m| m["provider_message_id"] == post_id))
        .await;
    let id = conv["conversation"]["id"].as_str().unwrap().to_owned();

    // A public text with private data is refused before anything is queued.
    let (status, err) = app
        .post(&format!("/api/v1/conversations/{id}/x/move-to-dm"), json!({"public_text": "call 415 555 0100"}))
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("pii_in_public_reply")));

    let (status, moved) = app.post(&format!("/api/v1/conversations/{id}/x/move-to-dm"), json!({})).await;
    assert_eq!(status, 201, "{moved}");
    assert_eq!(moved["public_reply"]["visibility"], "public");
    assert_eq!(moved["dm"]["visibility"], "private");
    app.message_status(moved["public_reply"]["id"].as_str().unwrap(), "sent").await;
    app.message_status(moved["dm"]["id"].as_str().unwrap(), "sent").await;
    let sent = app.sim.sent();
    let tweet = sent.iter().find(|s| s.kind == "tweet").unwrap();
    assert_eq!(tweet.in_reply_to(), Some(post_id.as_str()));
    assert!(tweet.text().unwrap().contains("私信"), "answered in the customer's language");
    let dm = sent.iter().find(|s| s.kind == "dm").unwrap();
    assert_eq!(dm.target.as_deref(), Some(customer.id.as_str()));
    assert_eq!(sent.len(), 2);

    // The customer's DM answer lands on the same contact's DM conversation.
    let dm_id = traffic.next_id();
    assert_eq!(traffic.post(&traffic.dm(customer, &dm_id, "订单号 20261125-8891")).await, Some(200));
    let dm_conv = app.conversation_where(|d| has_text(d, "订单号 20261125-8891")).await;
    assert_eq!(dm_conv["conversation"]["contact_id"], conv["conversation"]["contact_id"]);

    // Like the customer's post.
    let (status, liked) = app.post(&format!("/api/v1/conversations/{id}/x/like"), json!({})).await;
    assert_eq!(status, 201, "{liked}");
    app.message_status(liked["id"].as_str().unwrap(), "sent").await;
    let like = app.sim.sent().into_iter().find(|s| s.kind == "like").unwrap();
    assert_eq!(like.body["tweet_id"], post_id.as_str());
    assert_eq!(like.target.as_deref(), Some(app.sim.config().brand_user_id.as_str()));
}

#[tokio::test]
async fn polling_mode_reads_mentions_and_dms_with_cursors_in_the_database() {
    let app = spawn().await;
    let c = app.sim.config().clone();
    let slug = ChannelSlug::parse("xp").unwrap();
    app.store
        .upsert_channel(&ChannelRecord {
            slug: slug.clone(),
            kind: ChannelKind::X,
            name: "X polled".into(),
            callback_url: None,
            secret: None,
            config: json!({"user_id": c.brand_user_id, "access_token": c.access_token,
                "api_base_url": app.sim.api_base_url(), "mode": "polling", "poll_interval_secs": 1}),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[3];
    let first = traffic.next_id();
    traffic.publish_mention(customer, &first, "返品の手続きがわかりません 🙏", None);
    let public = app.conversation_on("xp", |d| has_text(d, "@SwitchboardCo 返品の手続きがわかりません 🙏")).await;
    assert_eq!(public["conversation"]["thread_key"], format!("post:{first}"));
    assert_eq!(public["messages"][0]["visibility"], "public");
    assert_eq!(app.store.poll_cursor(&slug, "mentions").await.unwrap().as_deref(), Some(first.as_str()));

    // A 429 window: the poller waits for the reset, then reads what came meanwhile.
    app.sim.force_rate_limit(Duration::from_secs(2));
    let dm = traffic.next_id();
    traffic.publish_dm(customer, &dm, "注文番号は 48213 です");
    let private = app.conversation_on("xp", |d| has_text(d, "注文番号は 48213 です")).await;
    assert!(app.sim.rate_limited() >= 1);
    assert_eq!(private["conversation"]["contact_id"], public["conversation"]["contact_id"]);
    assert_eq!(app.store.poll_cursor(&slug, "dm_events").await.unwrap().as_deref(), Some(dm.as_str()));

    // The brand's DM reply shows up in the next poll as its own DM: not stored twice, not inbound.
    let id = private["conversation"]["id"].as_str().unwrap();
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "ありがとうございます！"})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let d = app.get(&format!("/api/v1/conversations/{id}")).await;
    let msgs = d["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs.iter().filter(|m| m["direction"] == "outbound").count(), 1);
    assert_eq!(app.sends_of("ありがとうございます！"), 1);
}

async fn add_polling_channel(app: &App, slug: &str) -> ChannelSlug {
    let c = app.sim.config().clone();
    let slug = ChannelSlug::parse(slug).unwrap();
    app.store
        .upsert_channel(&ChannelRecord {
            slug: slug.clone(),
            kind: ChannelKind::X,
            name: "X polled".into(),
            callback_url: None,
            secret: None,
            config: json!({"user_id": c.brand_user_id, "access_token": c.access_token,
                "api_base_url": app.sim.api_base_url(), "mode": "polling", "poll_interval_secs": 1}),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    slug
}

async fn wait_cursor(app: &App, slug: &ChannelSlug, stream: &str, want: &str) {
    for _ in 0..1200 {
        if app.store.poll_cursor(slug, stream).await.unwrap().as_deref() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the {stream} cursor never reached {want}");
}

#[tokio::test]
async fn polling_reads_a_backlog_of_several_pages_back_to_the_cursor_within_the_rate_limit() {
    // Two calls per endpoint and one-second window: the poller must stop when
    // x-rate-limit-remaining reaches 0 and go on after the reset, never running into a 429.
    let app = spawn_with(|c| {
        c.window_limit = 2;
        c.window = Duration::from_secs(1);
    })
    .await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[1];
    let first = traffic.next_id();
    traffic.publish_mention(customer, &first, "第一条", None);
    let first_dm = traffic.next_id();
    traffic.publish_dm(customer, &first_dm, "私信 0");
    let slug = add_polling_channel(&app, "xb").await;
    wait_cursor(&app, &slug, "mentions", &first).await;
    wait_cursor(&app, &slug, "dm_events", &first_dm).await;

    // A backlog of three pages of replies and three of DMs arrives between two polls.
    let mut last = String::new();
    for i in 0..250 {
        last = traffic.next_id();
        traffic.publish_mention(customer, &last, &format!("backlog {i} 📦"), Some(&first));
    }
    let mut last_dm = String::new();
    for i in 0..230 {
        last_dm = traffic.next_id();
        traffic.publish_dm(customer, &last_dm, &format!("私信 {}", i + 1));
    }
    wait_cursor(&app, &slug, "mentions", &last).await;
    wait_cursor(&app, &slug, "dm_events", &last_dm).await;
    assert_eq!(app.store.poll_cursor(&slug, "mentions:paging").await.unwrap().as_deref(), Some(""));

    let public = app.conversation_on("xb", |d| has_text(d, "@SwitchboardCo 第一条")).await;
    let texts: Vec<String> =
        public["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(texts.len(), 251, "every post of the backlog, once");
    for i in 0..250 {
        assert!(texts.contains(&format!("@SwitchboardCo backlog {i} 📦")), "post {i} missing");
    }
    let private = app.conversation_on("xb", |d| has_text(d, "私信 0")).await;
    let dms = private["messages"].as_array().unwrap();
    assert_eq!(dms.len(), 231, "every DM of the backlog, once");
    assert!(has_text(&private, "私信 1") && has_text(&private, "私信 230"));
    assert_eq!(app.sim.rate_limited(), 0, "the poller read x-rate-limit-remaining and waited for the reset");
}

async fn mention_conversation(app: &App, customer: usize, text: &str) -> (String, String) {
    let traffic = app.sim.traffic();
    let post_id = traffic.next_id();
    let c = &Traffic::customers()[customer];
    assert_eq!(traffic.post(&traffic.mention(c, &post_id, text, None)).await, Some(200));
    let conv = app
        .conversation_where(|d| d["messages"].as_array().unwrap().iter().any(|m| m["provider_message_id"] == post_id))
        .await;
    (conv["conversation"]["id"].as_str().unwrap().to_owned(), post_id)
}

fn sent_id(app: &App, text: &str) -> String {
    let sent = app.sim.sent();
    let s = sent.iter().find(|s| s.text() == Some(text)).unwrap();
    s.id.clone()
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_recorded_from_its_echo_and_not_posted_again() {
    let app = spawn_tuned(|_| {}, |e| e.outbox.request_timeout = Duration::from_millis(800)).await;
    let (id, post_id) = mention_conversation(&app, 0, "my parcel is lost 📦").await;
    // X posts it and echoes it back, but Switchboard never hears the answer.
    app.sim.lose_answers(1, Duration::from_secs(2));
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "Sorry! Looking into it."})).await;
    assert_eq!(status, 201, "{msg}");
    let m = app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    assert_eq!(m["provider_message_id"], sent_id(&app, "Sorry! Looking into it."));
    // Well past the retry backoff: still one post, in reply to the customer's.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let posts: Vec<_> = app.sim.sent().into_iter().filter(|s| s.text() == Some("Sorry! Looking into it.")).collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].in_reply_to(), Some(post_id.as_str()));
    let d = app.get(&format!("/api/v1/conversations/{id}")).await;
    let outbound = d["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").count();
    assert_eq!(outbound, 1, "the echo is not a second message: {d}");
    // The echo recorded it: no retry, not even a lookup, reached X.
    assert_eq!(app.sim.attempts(), 1);
}

#[tokio::test]
async fn a_lost_answer_without_an_echo_is_found_on_x_before_retrying() {
    // No echo webhooks: the retry must look the post / DM up on X instead of posting again.
    let app = spawn_tuned(|s| s.echo = false, |e| e.outbox.request_timeout = Duration::from_millis(800)).await;
    let (id, post_id) = mention_conversation(&app, 1, "退款什么时候到账？").await;

    app.sim.lose_answers(1, Duration::from_secs(2));
    let text = "您好，退款已处理，请查看 https://example.com/refund/1";
    let (status, msg) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": text})).await;
    assert_eq!(status, 201, "{msg}");
    let m = app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    assert_eq!(m["provider_message_id"], sent_id(&app, text));
    assert_eq!(app.sends_of(text), 1);
    assert_eq!(app.sim.sent().iter().find(|s| s.text() == Some(text)).unwrap().in_reply_to(), Some(post_id.as_str()));

    // The same for a DM.
    app.sim.lose_answers(1, Duration::from_secs(2));
    let (status, msg) = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            json!({"text": "私信您的订单详情", "visibility": "private"}),
        )
        .await;
    assert_eq!(status, 201, "{msg}");
    let m = app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    assert_eq!(m["provider_message_id"], sent_id(&app, "私信您的订单详情"));

    // A send that never reached X (the lookup finds nothing) is posted on the retry.
    app.sim.lose_answers(1, Duration::from_secs(2));
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "还有问题吗？"})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sends_of(text), 1);
    assert_eq!(app.sends_of("私信您的订单详情"), 1);
    assert_eq!(app.sends_of("还有问题吗？"), 1);
}

#[tokio::test]
async fn a_rate_limit_reset_longer_than_the_backoff_cap_is_waited_out() {
    // Our own backoff is capped at 100 ms, X's reset is 3 s away: the reset wins.
    let app = spawn_tuned(|_| {}, |e| e.outbox.max_backoff = Duration::from_millis(100)).await;
    let (id, _) = mention_conversation(&app, 2, "¿Alguien más tiene problemas?").await;
    app.sim.force_rate_limit(Duration::from_secs(3));
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "¡Lo miramos!"})).await;
    assert_eq!(status, 201, "{msg}");
    let schedule = app.get(&format!("/api/v1/messages/{}/schedule", msg["id"].as_str().unwrap())).await;
    assert!(schedule.is_object(), "{schedule}");
    app.message_status(msg["id"].as_str().unwrap(), "sent").await;
    assert!(app.sim.rate_limited() >= 1);
    assert!(app.sim.rate_limited() <= 3, "retried {} times before the reset", app.sim.rate_limited());
    assert_eq!(app.sends_of("¡Lo miramos!"), 1);
}
