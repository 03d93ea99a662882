//! Telegram end to end over real loopback HTTP: the Bot API simulator posts updates with the
//! secret token header to the real server, an agent answers through the API, and the outbox
//! sends through the simulator — exactly once, through a flood-control window, and with a
//! blocked bot shown on the message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_channels::telegram::simulator::{Simulator, SimulatorConfig, Traffic};
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, DynStore, NewUser, StoreOptions};
use switchboard_web::{AppState, WebConfig};
use tokio::net::TcpListener;

struct App {
    base: String,
    store: DynStore,
    token: String,
    sim: Simulator,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn spawn() -> App {
    spawn_with(json!({})).await
}

async fn spawn_with(extra: Value) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::start(SimulatorConfig { webhook: Some(format!("{base}/webhooks/tg")), ..Default::default() })
        .await
        .unwrap();
    let c = sim.config().clone();
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("tg").unwrap(),
            kind: ChannelKind::Telegram,
            name: "Telegram".into(),
            callback_url: None,
            secret: Some(c.secret_token.clone()),
            config: {
                let mut cfg = json!({"bot_token": c.bot_token, "bot_username": c.bot_username,
                    "api_base_url": sim.api_base_url()});
                for (k, v) in extra.as_object().unwrap() {
                    cfg[k] = v.clone();
                }
                cfg
            },
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let token = common::admin_api_token(&store, "agent@x.io").await;
    let mut cfg = EngineConfig::default();
    cfg.outbox.base_backoff = Duration::from_millis(20);
    cfg.outbox.max_backoff = Duration::from_millis(200);
    cfg.outbox.poll = Duration::from_millis(50);
    cfg.outbox.request_timeout = Duration::from_millis(2000);
    cfg.outbox.lease = Duration::from_secs(5);
    cfg.outbox.max_attempts = 200;
    let mut media = switchboard_engine::media::MediaConfig::new(dir.path().join("media"));
    media.poll = Duration::from_millis(50);
    cfg.media = Some(media);
    let engine = Engine::start(store.clone(), cfg).await;
    let app = switchboard_web::router(AppState::new(engine, WebConfig::default()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    App { base, store, token, sim, http: reqwest::Client::new(), _dir: dir }
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
        for _ in 0..200 {
            let list = self.get("/api/v1/conversations?channel=tg").await;
            for c in list["items"].as_array().unwrap() {
                let detail = self.get(&format!("/api/v1/conversations/{}", c["id"].as_str().unwrap())).await;
                if pred(&detail) {
                    return detail;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no conversation on tg matched");
    }

    async fn message_status(&self, id: &str, want: &[&str]) -> Value {
        let mut last = Value::Null;
        for _ in 0..300 {
            last = self.get(&format!("/api/v1/messages/{id}")).await;
            if want.contains(&last["delivery_status"].as_str().unwrap_or("")) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("message {id} never reached {want:?}: {last}");
    }

    fn sends_of(&self, text: &str) -> usize {
        self.sim.calls_of("sendMessage").iter().filter(|s| s.text() == Some(text)).count()
    }
}

fn texts(detail: &Value) -> Vec<String> {
    detail["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn update_to_reply_exactly_once_with_duplicates_edit_callback_and_flood() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[1];

    // The admin action points the bot's webhook at Switchboard with the secret and update types.
    let r = app
        .http
        .put(format!("{}/api/v1/channels/tg/telegram/webhook", app.base))
        .bearer_auth(&app.token)
        .json(&json!({"url": format!("{}/webhooks/tg", app.base)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["url"], format!("{}/webhooks/tg", app.base));
    let hook = app.sim.webhook().unwrap();
    assert_eq!(hook.secret_token.as_deref(), Some(app.sim.config().secret_token.as_str()));
    assert_eq!(
        hook.allowed_updates,
        ["message", "edited_message", "channel_post", "edited_channel_post", "callback_query"]
    );
    let r = app
        .http
        .put(format!("{}/api/v1/channels/tg/telegram/webhook", app.base))
        .bearer_auth(&app.token)
        .json(&json!({"url": "ftp://x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let r = app
        .http
        .delete(format!("{}/api/v1/channels/tg/telegram/webhook", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(app.sim.webhook().is_none());

    // Wrong or missing secret: 401, nothing stored.
    let (forged, _) = traffic.text(customer, "forged");
    assert_eq!(traffic.post_with_secret(&forged, Some("wrong")).await, Some(401));
    assert_eq!(traffic.post_with_secret(&forged, None).await, Some(401));
    assert_eq!(app.get("/api/v1/conversations?channel=tg").await["items"].as_array().unwrap().len(), 0);

    // An update becomes a conversation; its redelivery changes nothing.
    let (update, mid) = traffic.text(customer, "你好，我的包裹还没到 📦");
    assert_eq!(traffic.post(&update).await, Some(200));
    assert_eq!(traffic.post(&update).await, Some(200));
    let conv = app.conversation_where(|d| texts(d).contains(&"你好，我的包裹还没到 📦".to_owned())).await;
    let id = conv["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(conv["messages"].as_array().unwrap().len(), 1, "the redelivery added nothing");

    // An edit updates the message in place and keeps the earlier text; its redelivery changes
    // nothing.
    let edit = traffic.edit(customer, mid, "你好，我的包裹还没到 📦 (订单 #4471)");
    assert_eq!(traffic.post(&edit).await, Some(200));
    assert_eq!(traffic.post(&edit).await, Some(200));
    let conv = app.conversation_where(|d| texts(d).iter().any(|t| t.contains("#4471"))).await;
    assert_eq!(conv["conversation"]["id"], id.as_str(), "the edit is in the same conversation");
    let msgs = conv["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "one message, edited in place: {conv}");
    assert_eq!(msgs[0]["text"], "你好，我的包裹还没到 📦 (订单 #4471)");
    let previous = msgs[0]["edited"]["previous"].as_array().unwrap();
    assert_eq!(previous.len(), 1, "{conv}");
    assert_eq!(previous[0]["text"], "你好，我的包裹还没到 📦");
    assert!(previous[0]["written_at"].is_string() && msgs[0]["edited"]["at"].is_string(), "{conv}");
    let one = app.get(&format!("/api/v1/messages/{}", msgs[0]["id"].as_str().unwrap())).await;
    assert_eq!(one["edited"], msgs[0]["edited"]);

    // A button press: kept, and answered once.
    let cb = traffic.callback(customer, 5000, "csat:yes", "👍 Yes");
    assert_eq!(traffic.post(&cb).await, Some(200));
    assert_eq!(traffic.post(&cb).await, Some(200));
    app.conversation_where(|d| texts(d).contains(&"👍 Yes".to_owned())).await;
    for _ in 0..100 {
        if !app.sim.calls_of("answerCallbackQuery").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.sim.calls_of("answerCallbackQuery").len(), 1);

    // The agent replies: exactly one sendMessage, plain text to the customer's chat.
    let reply = "您好！我们马上查一下 🙏 <b>not bold</b>";
    let (status, msg) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": reply})).await;
    assert_eq!(status, 201, "{msg}");
    let sent = app.message_status(msg["id"].as_str().unwrap(), &["sent", "delivered", "read"]).await;
    assert!(sent["provider_message_id"].as_str().unwrap().starts_with(&format!("msg:{}:", customer.id)), "{sent}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sends_of(reply), 1);
    let call = app.sim.calls_of("sendMessage").into_iter().find(|c| c.text() == Some(reply)).unwrap();
    assert_eq!(call.body["chat_id"], customer.id);
    assert!(call.body.get("parse_mode").is_none());

    // A flood-control window: 429s with retry_after, then delivered once.
    app.sim.flood(Duration::from_millis(1200), 1);
    let refused_before = app.sim.refused();
    let reply = "Still checking — 稍等 ⏳";
    let (status, msg) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": reply})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), &["sent", "delivered", "read"]).await;
    assert!(app.sim.refused() > refused_before, "the window refused at least one attempt");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sends_of(reply), 1);

    // The customer blocked the bot: a permanent failure with Telegram's description.
    app.sim.block(customer.id);
    let (status, msg) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "hello?"})).await;
    assert_eq!(status, 201, "{msg}");
    let failed = app.message_status(msg["id"].as_str().unwrap(), &["failed"]).await;
    assert_eq!(failed["failure_reason"], "Telegram 403: Forbidden: bot was blocked by the user");
    assert_eq!(app.sends_of("hello?"), 0);
}

#[tokio::test]
async fn group_messages_only_when_addressed_and_replies_go_to_the_group() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let ana = &Traffic::customers()[2];
    let group = -1001234567890i64;
    let mut chatter = traffic.group_mention(ana, group, "ignored");
    chatter["message"]["text"] = json!("just chatting");
    chatter["message"]["entities"] = json!([]);
    assert_eq!(traffic.post(&chatter).await, Some(200));
    let mention = traffic.group_mention(ana, group, "¿abren el domingo?");
    assert_eq!(traffic.post(&mention).await, Some(200));
    let conv = app.conversation_where(|d| texts(d).iter().any(|t| t.ends_with("¿abren el domingo?"))).await;
    assert_eq!(conv["messages"].as_array().unwrap().len(), 1, "chatter is not for the desk");
    let id = conv["conversation"]["id"].as_str().unwrap();
    let (status, msg) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "Sí, 10–18h"})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), &["sent", "delivered", "read"]).await;
    let call = app.sim.calls_of("sendMessage").into_iter().find(|c| c.text() == Some("Sí, 10–18h")).unwrap();
    assert_eq!(call.body["chat_id"], group);
    assert_eq!(call.body["reply_parameters"]["message_id"], mention["message"]["message_id"]);

    // A media reply by URL: one sendPhoto with the caption.
    let (status, msg) = app
        .post(
            &format!("/api/v1/conversations/{id}/media"),
            json!({"kind": "image", "link": "https://shop.example.com/map.png", "caption": "Nuestra tienda 🗺️"}),
        )
        .await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), &["sent", "delivered", "read"]).await;
    let photos = app.sim.calls_of("sendPhoto");
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].body["photo"], "https://shop.example.com/map.png");
    assert_eq!(photos[0].body["caption"], "Nuestra tienda 🗺️");
    assert_eq!(photos[0].body["chat_id"], group);
}

#[tokio::test]
async fn long_polling_ingests_from_the_stored_offset() {
    let app = spawn_with(json!({"polling": true, "poll_timeout_secs": 1})).await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[3];
    let slug = ChannelSlug::parse("tg").unwrap();
    let (first, mid) = traffic.text(customer, "مرحبا، أين طلبي؟ 📦");
    app.sim.queue_update(first.clone());
    let conv = app.conversation_where(|d| texts(d).contains(&"مرحبا، أين طلبي؟ 📦".to_owned())).await;
    let edit = traffic.edit(customer, mid, "مرحبا، أين طلبي #4471؟");
    let edit_id = edit["update_id"].as_i64().unwrap();
    app.sim.queue_update(edit);
    // An update below the stored offset is confirmed: queued again, it is not read again.
    app.sim.queue_update(first);
    let conv2 = app.conversation_where(|d| texts(d).iter().any(|t| t.contains("#4471"))).await;
    assert_eq!(conv2["conversation"]["id"], conv["conversation"]["id"]);
    for _ in 0..100 {
        if app.store.telegram_offset(&slug).await.unwrap() == Some(edit_id + 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.store.telegram_offset(&slug).await.unwrap(), Some(edit_id + 1));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let detail = app.get(&format!("/api/v1/conversations/{}", conv["conversation"]["id"].as_str().unwrap())).await;
    let msgs = detail["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "edited in place: {detail}");
    assert_eq!(msgs[0]["edited"]["previous"][0]["text"], "مرحبا، أين طلبي؟ 📦", "{detail}");
}

#[tokio::test]
async fn photos_and_voice_notes_are_downloaded_into_the_media_store() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let mut jpeg = b"\xff\xd8\xff\xe0 photo bytes".to_vec();
    jpeg.extend_from_slice(&[7u8; 300]);
    app.sim.add_file("AgADbig", "photos/file_1.jpg", jpeg.clone());
    app.sim.add_file("AwADvoice", "voice/file_2.oga", b"OggS voice".to_vec());
    let who = json!({"id": 7001, "is_bot": false, "first_name": "Mia"});
    let chat = json!({"id": 7001, "type": "private", "first_name": "Mia"});
    let now = chrono::Utc::now().timestamp();
    let photo = json!({"update_id": traffic.next_update_id(), "message": {"message_id": 901, "from": who, "chat": chat,
        "date": now, "caption": "my receipt", "photo": [
            {"file_id": "AgADsmall", "file_unique_id": "s", "width": 90, "height": 67, "file_size": 1200},
            {"file_id": "AgADbig", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": jpeg.len()}]}});
    let voice = json!({"update_id": traffic.next_update_id(), "message": {"message_id": 902, "from": who, "chat": chat,
        "date": now, "voice": {"file_id": "AwADvoice", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg", "file_size": 10}}});
    assert_eq!(traffic.post(&photo).await, Some(200));
    assert_eq!(traffic.post(&photo).await, Some(200), "a redelivery");
    assert_eq!(traffic.post(&voice).await, Some(200));
    let detail = app.conversation_where(|d| d["messages"].as_array().is_some_and(|m| m.len() == 2)).await;
    let msgs = detail["messages"].as_array().unwrap();
    let ids: Vec<switchboard_domain::MessageId> =
        msgs.iter().map(|m| m["id"].as_str().unwrap().parse().unwrap()).collect();
    for (id, want) in ids.iter().zip([(&jpeg[..], "image/jpeg"), (&b"OggS voice"[..], "audio/ogg")]) {
        let mut done = None;
        for _ in 0..200 {
            if let Some(f) = app.store.media_file(*id, 0).await.unwrap()
                && f.state == "done"
            {
                done = Some(f);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let f = done.unwrap_or_else(|| panic!("file of {id} not downloaded"));
        assert_eq!(f.mime_type.as_deref(), Some(want.1));
        let bytes = std::fs::read(app._dir.path().join("media").join(f.path.unwrap())).unwrap();
        assert_eq!(bytes, want.0);
    }
    // The largest photo size only; one getFile per file although the photo came twice.
    let asked: Vec<String> =
        app.sim.calls_of("getFile").iter().map(|c| c.body["file_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(asked.iter().filter(|f| *f == "AgADbig").count(), 1, "{asked:?}");
    assert!(!asked.contains(&"AgADsmall".to_owned()));
}

#[tokio::test]
async fn the_admin_page_sets_and_removes_the_webhook() {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let app = spawn().await;
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default().hash_password(b"admin pass 123", &salt).unwrap();
    app.store
        .create_user(&NewUser {
            email: "ada@x.io".into(),
            name: "Ada".into(),
            role: Role::Admin,
            password_hash: Some(hash.to_string()),
        })
        .await
        .unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut b = common::Browser::at(&app.base, &http);
    b.sign_in("ada@x.io", "admin pass 123").await;
    assert!(b.get("/admin/channels/tg").await.body.contains("id=\"telegram-webhook\""));
    let (cookie, csrf) = (b.cookie_header(), b.csrf().await);
    let press = |action: &'static str, csrf: String| {
        http.post(format!("{}/admin/channels/tg/telegram-webhook", app.base))
            .header("cookie", &cookie)
            .header("origin", &app.base)
            .form(&[("_csrf", csrf.as_str()), ("action", action)])
            .send()
    };
    assert_eq!(press("set", "forged".into()).await.unwrap().status().as_u16(), 403);
    assert!(app.sim.webhook().is_none(), "nothing called without the CSRF token");
    let r = press("set", csrf.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    let hook = app.sim.webhook().unwrap();
    assert_eq!(hook.url, format!("{}/webhooks/tg", app.base));
    assert_eq!(hook.secret_token.as_deref(), Some(app.sim.config().secret_token.as_str()));
    assert!(hook.allowed_updates.contains(&"edited_message".to_owned()));
    assert!(html.contains(&format!("Telegram now delivers updates to {}/webhooks/tg", app.base)), "{html}");
    let r = press("delete", csrf).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(app.sim.webhook().is_none());
    let audit = app
        .store
        .list_audit(&switchboard_store::AuditFilter {
            action_prefix: Some("telegram.".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let mut actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["telegram.webhook_deleted", "telegram.webhook_set"]);
}
