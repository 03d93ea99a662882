//! End to end over real loopback HTTP: the Graph API simulator posts signed webhooks to the real
//! server, agents answer through the API, the outbox sends through the simulator, and the
//! simulator's status webhooks bring the replies to delivered/read — with and without an outage.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::meta::{MetaApp, spawn_meta};
use serde_json::{Value, json};
use switchboard_channels::meta::signature;
use switchboard_channels::meta::simulator::{Outage, SimulatorConfig, Traffic, meta_json};
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_engine::EngineConfig;
use switchboard_store::NewUser;

async fn spawn() -> MetaApp {
    let sim = SimulatorConfig { hang: Duration::from_secs(2), ..Default::default() };
    spawn_meta(sim, |dir| {
        let mut cfg = EngineConfig::default();
        cfg.outbox.base_backoff = Duration::from_millis(20);
        cfg.outbox.max_backoff = Duration::from_millis(200);
        // The outage answers Graph rate-limit errors (a 60 s wait each): shortened for the test.
        cfg.outbox.max_retry_after = Duration::from_millis(200);
        cfg.outbox.poll = Duration::from_millis(50);
        cfg.outbox.request_timeout = Duration::from_millis(700);
        cfg.outbox.lease = Duration::from_secs(5);
        cfg.outbox.max_attempts = 200;
        let mut media = switchboard_engine::media::MediaConfig::new(dir.join("media"));
        media.poll = Duration::from_millis(50);
        media.base_backoff = Duration::from_millis(20);
        media.max_attempts = 3;
        cfg.media = Some(media);
        cfg
    })
    .await
}

impl MetaApp {
    /// Waits until a conversation on `channel` exists whose messages satisfy `pred`.
    async fn conversation_where(&self, channel: &str, pred: impl Fn(&Value) -> bool) -> Value {
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
        panic!("no conversation on {channel} matched");
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
        self.sim.sent().iter().filter(|s| s.text() == Some(text)).count()
    }
}

fn has_text(detail: &Value, text: &str) -> bool {
    detail["messages"].as_array().unwrap().iter().any(|m| m["text"] == text)
}

#[tokio::test]
async fn whatsapp_message_to_read_reply_exactly_once() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customer = &Traffic::customers()[1];

    // Handshake.
    let url =
        format!("{}/webhooks/wa?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock", app.base);
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "1158201444");
    let r = app.http.get(url.replace("meatyhamhock", "wrong")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // A signed customer message becomes a conversation; its redelivery changes nothing.
    let body = traffic.whatsapp_payload(customer, vec![traffic.whatsapp_text(customer, "你好，我的订单还没有到 📦")]);
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &body).await, Some(200));
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &body).await, Some(200));
    let conv = app.conversation_where("wa", |d| has_text(d, "你好，我的订单还没有到 📦")).await;
    let id = conv["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(conv["messages"].as_array().unwrap().len(), 1, "the redelivery added nothing");
    assert_eq!(conv["contact"]["identities"][0]["display_name"], "王小明");

    // A bad or missing signature: 401, nothing stored.
    let forged = traffic.whatsapp_payload(customer, vec![traffic.whatsapp_text(customer, "forged")]);
    let bytes = meta_json(&forged);
    for sig in [Some(signature::sign(b"not-the-secret", &bytes)), None] {
        let mut req = app.http.post(format!("{}/webhooks/wa", app.base)).header("content-type", "application/json");
        if let Some(s) = sig {
            req = req.header("x-hub-signature-256", s);
        }
        assert_eq!(req.body(bytes.clone()).send().await.unwrap().status().as_u16(), 401);
    }

    // The window is open; the agent replies; the simulator receives exactly one send, and its
    // status webhooks (sometimes out of order, sometimes before the send call returned) bring the
    // message to read.
    let w = app.get(&format!("/api/v1/conversations/{id}/window")).await;
    assert_eq!((w["open"].as_bool(), w["channel_kind"].as_str()), (Some(true), Some("whatsapp")));
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "您好！我们马上查一下 🙏"})).await;
    assert_eq!(status, 201, "{msg}");
    let done = app.message_status(msg["id"].as_str().unwrap(), &["read"]).await;
    assert!(done["provider_message_id"].as_str().unwrap().starts_with("wamid.SIM"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sends_of("您好！我们马上查一下 🙏"), 1);
    let sent = app.sim.sent();
    assert_eq!(sent[0].body["to"], customer.id);

    // Outside the window only a template goes out: refused with the reason before sending.
    let late = Traffic::customers()[2].clone();
    let mut old = traffic.whatsapp_text(&late, "Hola, ¿pueden cambiar la dirección?");
    old["timestamp"] = json!((chrono::Utc::now() - chrono::Duration::hours(30)).timestamp().to_string());
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &traffic.whatsapp_payload(&late, vec![old])).await, Some(200));
    let conv = app.conversation_where("wa", |d| has_text(d, "Hola, ¿pueden cambiar la dirección?")).await;
    let late_id = conv["conversation"]["id"].as_str().unwrap().to_owned();
    let (status, err) = app.post(&format!("/api/v1/conversations/{late_id}/messages"), json!({"text": "hi"})).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "messaging_window_closed");
    assert!(err["error"]["message"].as_str().unwrap().contains("24 hours"));
    let w = app.get(&format!("/api/v1/conversations/{late_id}/window")).await;
    assert_eq!(w["open"], false);
    assert_eq!(w["allowed"], json!(["template"]));
    let (status, tpl) = app
        .post(
            &format!("/api/v1/conversations/{late_id}/template"),
            json!({"name": "order_update", "language": "es", "components": [{"type": "body", "parameters": [{"type": "text", "text": "4471"}]}]}),
        )
        .await;
    assert_eq!(status, 201, "{tpl}");
    app.message_status(tpl["id"].as_str().unwrap(), &["delivered", "read"]).await;
    let t = app.sim.sent().into_iter().find(|s| s.body["type"] == "template").unwrap();
    assert_eq!(t.body["template"]["name"], "order_update");
    assert_eq!(t.body["template"]["language"]["code"], "es");
    assert_eq!(app.sim.sent().len(), 2, "the refused reply was never sent");

    // The answer names the stored messages in delivery order (Meta ignores the body; simulators
    // and `switchboard bench ui` match them to live events); a redelivery names the same one.
    let last = Traffic::customers()[3].clone();
    let bytes = meta_json(&traffic.whatsapp_payload(&last, vec![traffic.whatsapp_text(&last, "one more thing")]));
    let post = || {
        app.http
            .post(format!("{}/webhooks/wa", app.base))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature::sign(app.sim.config().app_secret.as_bytes(), &bytes))
            .body(bytes.clone())
            .send()
    };
    let first: serde_json::Value = post().await.unwrap().json().await.unwrap();
    let again: serde_json::Value = post().await.unwrap().json().await.unwrap();
    assert_eq!((first["messages"].as_u64(), again["duplicates"].as_u64()), (Some(1), Some(1)));
    assert_eq!(first["message_ids"], again["message_ids"]);
    let conv = app.conversation_where("wa", |d| has_text(d, "one more thing")).await;
    let stored = conv["messages"].as_array().unwrap().iter().find(|m| m["text"] == "one more thing").unwrap();
    assert_eq!(first["message_ids"], json!([stored["id"]]));
    drop(app.store);
}

#[tokio::test]
async fn an_outage_delays_replies_but_loses_and_duplicates_none() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let customers = Traffic::customers();
    // Conversations on WhatsApp and Messenger, and a public Instagram comment.
    let wa = &customers[0];
    let fb = &customers[3];
    let ig = &customers[4];
    traffic
        .post(
            ChannelKind::Whatsapp,
            &traffic.whatsapp_payload(wa, vec![traffic.whatsapp_text(wa, "Where is my parcel? 📦")]),
        )
        .await;
    traffic.post(ChannelKind::Messenger, &traffic.messenger_text(fb, "Bonjour, un remboursement svp 🙏")).await;
    traffic.post(ChannelKind::Instagram, &traffic.instagram_comment(ig, "17918195224117851", "这件有M码吗？😍")).await;
    let wa_conv = app.conversation_where("wa", |d| has_text(d, "Where is my parcel? 📦")).await;
    let fb_conv = app.conversation_where("fb", |d| has_text(d, "Bonjour, un remboursement svp 🙏")).await;
    let ig_conv = app.conversation_where("ig", |d| has_text(d, "这件有M码吗？😍")).await;
    assert_eq!(ig_conv["messages"][0]["visibility"], "public");

    app.sim.set_outage(Some(Outage::Mixed));
    let mut replies = Vec::new();
    for i in 0..4 {
        for (conv, label) in [(&wa_conv, "wa"), (&fb_conv, "fb"), (&ig_conv, "ig")] {
            let text = format!("{label} reply {i} ✅");
            let id = conv["conversation"]["id"].as_str().unwrap();
            let (status, msg) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": text})).await;
            assert_eq!(status, 201, "{msg}");
            replies.push((msg["id"].as_str().unwrap().to_owned(), text, label));
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.sim.refused() > 0, "the outage refused sends");
    app.sim.set_outage(None);

    for (id, text, label) in &replies {
        let want: &[&str] = match *label {
            "wa" => &["read"],
            "fb" => &["delivered", "read"],
            _ => &["sent", "delivered", "read"],
        };
        let m = app.message_status(id, want).await;
        assert!(m["failure_reason"].is_null(), "{m}");
        assert_eq!(app.sends_of(text), 1, "{text} sent {} times", app.sends_of(text));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (_, text, _) in &replies {
        assert_eq!(app.sends_of(text), 1, "{text}");
    }
    // The comment replies went to the comment's replies edge, publicly.
    let comment_replies = app.sim.sent().into_iter().filter(|s| s.path.ends_with("/replies")).count();
    assert_eq!(comment_replies, 4);
    // Messenger echoes of our own sends did not add messages.
    let fb_id = fb_conv["conversation"]["id"].as_str().unwrap();
    let detail = app.get(&format!("/api/v1/conversations/{fb_id}")).await;
    assert_eq!(detail["messages"].as_array().unwrap().len(), 5, "{detail}");
}

#[tokio::test]
async fn statuses_from_fixtures_update_and_echoes_from_elsewhere_are_outbound() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let c = &Traffic::customers()[5];
    traffic.post(ChannelKind::Messenger, &traffic.messenger_text(c, "Hallo, mein Paket ist beschädigt 😞")).await;
    let conv = app.conversation_where("fb", |d| has_text(d, "Hallo, mein Paket ist beschädigt 😞")).await;
    // The page answered from Meta's own inbox: the echo is recorded as an outbound message.
    let now = chrono::Utc::now().timestamp_millis();
    let page = &app.sim.config().page_id;
    let echo = json!({"object": "page", "entry": [{"id": page, "time": now, "messaging": [{
        "sender": {"id": page}, "recipient": {"id": c.id}, "timestamp": now,
        "message": {"mid": "m_from_page_inbox", "is_echo": true, "app_id": 263902037430900u64, "text": "Wir kümmern uns darum!"}}]}]});
    assert_eq!(traffic.post(ChannelKind::Messenger, &echo).await, Some(200));
    assert_eq!(traffic.post(ChannelKind::Messenger, &echo).await, Some(200));
    let id = conv["conversation"]["id"].as_str().unwrap();
    let detail = app.get(&format!("/api/v1/conversations/{id}")).await;
    let out: Vec<&Value> =
        detail["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(out.len(), 1, "{detail}");
    assert_eq!(out[0]["text"], "Wir kümmern uns darum!");
    assert_eq!(out[0]["delivery_status"], "sent");
}

#[tokio::test]
async fn whatsapp_media_is_fetched_into_the_data_directory() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let c = &Traffic::customers()[6];
    let jpeg: Vec<u8> = [0xFF, 0xD8, 0xFF, 0xE0].iter().copied().chain((0..5000u32).map(|i| (i % 251) as u8)).collect();
    app.sim.add_media("9001", "image/jpeg", jpeg.clone());
    let mut ok = traffic.whatsapp_text(c, "");
    ok["type"] = json!("image");
    ok.as_object_mut().unwrap().remove("text");
    ok["image"] = json!({"caption": "破损的包裹", "mime_type": "image/jpeg", "id": "9001"});
    let mut missing = ok.clone();
    missing["id"] = json!(traffic.wamid());
    missing["image"] = json!({"caption": "second photo", "mime_type": "image/jpeg", "id": "9404"});
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &traffic.whatsapp_payload(c, vec![ok, missing])).await, Some(200));
    let conv = app.conversation_where("wa", |d| has_text(d, "破损的包裹") && has_text(d, "second photo")).await;
    let msgs = conv["messages"].as_array().unwrap();
    let id_of = |t: &str| msgs.iter().find(|m| m["text"] == t).unwrap()["id"].as_str().unwrap().to_owned();
    let (good, bad) = (id_of("破损的包裹"), id_of("second photo"));
    assert_eq!(msgs[0]["attachments"][0]["provider_id"], "9001");
    let mut got = None;
    for _ in 0..100 {
        let r = app
            .http
            .get(format!("{}/api/v1/messages/{good}/attachments/0", app.base))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 200 {
            assert_eq!(r.headers()["content-type"], "image/jpeg");
            got = Some(r.bytes().await.unwrap());
            break;
        }
        assert_eq!(r.status().as_u16(), 409, "pending until downloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got.unwrap().as_ref(), jpeg.as_slice());
    // A media id the provider does not know fails with the provider's reason; the message stays.
    let mut status = 0;
    for _ in 0..100 {
        let r = app
            .http
            .get(format!("{}/api/v1/messages/{bad}/attachments/0", app.base))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        status = r.status().as_u16();
        if status == 502 {
            let body: Value = r.json().await.unwrap();
            assert!(body["error"]["message"].as_str().unwrap().contains("404"), "{body}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 502);
}

#[tokio::test]
async fn a_second_business_number_lands_on_its_own_channel() {
    let app = spawn().await;
    let mut wa2 = app.store.get_channel(&ChannelSlug::parse("wa").unwrap()).await.unwrap().unwrap();
    wa2.slug = ChannelSlug::parse("wa2").unwrap();
    wa2.config["phone_number_id"] = json!("227040397163384");
    app.store.upsert_channel(&wa2).await.unwrap();
    let traffic = app.sim.traffic();
    let c = &Traffic::customers()[7];
    let mut body = traffic.whatsapp_payload(c, vec![traffic.whatsapp_text(c, "Bonjour, deuxième numéro")]);
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!("227040397163384");
    // Delivered to the first channel's URL, as one Meta app does for all its numbers.
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &body).await, Some(200));
    app.conversation_where("wa2", |d| has_text(d, "Bonjour, deuxième numéro")).await;
    let on_wa = app.get("/api/v1/conversations?channel=wa").await;
    assert!(on_wa["items"].as_array().unwrap().is_empty(), "{on_wa}");
}

#[tokio::test]
async fn a_permanent_provider_error_is_shown_on_the_message_and_secrets_stay_hidden() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let c = &Traffic::customers()[2];
    // Posted around the simulator's traffic generator, so the simulated WhatsApp believes the
    // customer never wrote: a free-form send is refused with 131047, as Meta does.
    let body = traffic.whatsapp_payload(c, vec![traffic.whatsapp_text(c, "¿Siguen abiertos?")]);
    let bytes = meta_json(&body);
    let r = app
        .http
        .post(format!("{}/webhooks/wa", app.base))
        .header("x-hub-signature-256", signature::sign(app.sim.config().app_secret.as_bytes(), &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let conv = app.conversation_where("wa", |d| has_text(d, "¿Siguen abiertos?")).await;
    let id = conv["conversation"]["id"].as_str().unwrap();
    let (status, msg) =
        app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "Sí, hasta las 8"})).await;
    assert_eq!(status, 201);
    let failed = app.message_status(msg["id"].as_str().unwrap(), &["failed"]).await;
    let reason = failed["failure_reason"].as_str().unwrap();
    assert!(reason.contains("131047") && reason.contains("24 hours"), "{reason}");
    assert_eq!(app.sends_of("Sí, hasta las 8"), 0);
    assert_eq!(app.sim.attempts(), 1, "a permanent error is not retried");

    // The new endpoints are in the OpenAPI document.
    let doc = app.get("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/conversations/{id}/window",
        "/api/v1/conversations/{id}/template",
        "/api/v1/conversations/{id}/media",
        "/api/v1/messages/{id}/attachments/{index}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    // Channel secrets never come back from the API.
    let list = app.get("/api/v1/channels").await;
    let wa = list.as_array().unwrap().iter().find(|c| c["slug"] == "wa").unwrap();
    assert!(wa.get("secret").is_none(), "{wa}");
    assert_eq!(wa["config"]["access_token"], "********");
    assert_eq!(wa["config"]["verify_token"], "********");
    assert_eq!(wa["config"]["phone_number_id"], app.sim.config().phone_number_id);
    // Saving it back as shown keeps the real values.
    let (status, saved) = app
        .post("/api/v1/channels", json!({"slug": "wa", "kind": "whatsapp", "name": "WhatsApp", "config": wa["config"]}))
        .await;
    assert_eq!(status, 200, "{saved}");
    let stored = app.store.get_channel(&ChannelSlug::parse("wa").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.config["access_token"], app.sim.config().access_token);
    assert_eq!(stored.secret.as_deref(), Some(app.sim.config().app_secret.as_str()));
    let (status, err) = app
        .post("/api/v1/channels", json!({"slug": "wa", "kind": "whatsapp", "name": "W", "config": {"phone": "1"}}))
        .await;
    assert_eq!(status, 422, "{err}");
}

impl MetaApp {
    /// Polls `GET /api/v1/messages/{id}/attachments/0` until it is no longer pending (409).
    async fn attachment_settled(&self, id: &str) -> reqwest::Response {
        for _ in 0..200 {
            let r = self
                .http
                .get(format!("{}/api/v1/messages/{id}/attachments/0", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            if r.status().as_u16() != 409 {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("attachment of {id} still pending");
    }
}

#[tokio::test]
async fn messenger_and_instagram_attachments_are_copied_before_their_urls_expire() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let cs = Traffic::customers();
    let png: Vec<u8> = [0x89, b'P', b'N', b'G'].iter().copied().chain((0..3000u32).map(|i| (i % 199) as u8)).collect();
    let ogg: Vec<u8> = b"OggS".iter().copied().chain((0..2000u32).map(|i| (i % 97) as u8)).collect();
    app.sim.add_media("fbcdn-1", "image/png", png.clone());
    app.sim.add_media("igcdn-1", "audio/ogg", ogg.clone());
    let fb_url = traffic.cdn_url("fbcdn-1", Duration::from_secs(3600));
    let ig_url = traffic.cdn_url("igcdn-1", Duration::from_secs(3600));
    // The same file behind a URL whose signature has expired.
    let expired = format!("{}?oe=5F5E100", fb_url.split('?').next().unwrap());
    assert_eq!(
        traffic.post(ChannelKind::Messenger, &traffic.messenger_attachment(&cs[3], "image", &fb_url)).await,
        Some(200)
    );
    assert_eq!(
        traffic.post(ChannelKind::Instagram, &traffic.instagram_attachment(&cs[4], "audio", &ig_url)).await,
        Some(200)
    );
    assert_eq!(
        traffic.post(ChannelKind::Messenger, &traffic.messenger_attachment(&cs[5], "video", &expired)).await,
        Some(200)
    );

    for (channel, url, mime, bytes) in [("fb", &fb_url, "image/png", &png), ("ig", &ig_url, "audio/ogg", &ogg)] {
        let conv = app
            .conversation_where(channel, |d| {
                d["messages"].as_array().unwrap().iter().any(|m| m["attachments"][0]["url"] == url.as_str())
            })
            .await;
        let id = conv["messages"][0]["id"].as_str().unwrap().to_owned();
        let r = app.attachment_settled(&id).await;
        assert_eq!(r.status().as_u16(), 200, "{channel}");
        assert_eq!(r.headers()["content-type"], mime);
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    // An expired URL is not retried for ever: the reason is shown, the message stays.
    let conv = app
        .conversation_where("fb", |d| {
            d["messages"].as_array().unwrap().iter().any(|m| m["attachments"][0]["url"] == expired.as_str())
        })
        .await;
    let id = conv["messages"][0]["id"].as_str().unwrap().to_owned();
    let r = app.attachment_settled(&id).await;
    assert_eq!(r.status().as_u16(), 502);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");
}

#[tokio::test]
async fn an_instagram_mention_is_from_its_author_looked_up_once() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let c = &Traffic::customers()[0];
    let body = traffic.instagram_mention(c, "17918195224117851", "@brand 这个颜色还有货吗？ 😍");
    assert_eq!(traffic.post(ChannelKind::Instagram, &body).await, Some(200));
    // Meta redelivers: the cached author is used, not a second lookup.
    assert_eq!(traffic.post(ChannelKind::Instagram, &body).await, Some(200));
    let conv = app.conversation_where("ig", |d| has_text(d, "@brand 这个颜色还有货吗？ 😍")).await;
    assert_eq!(conv["conversation"]["thread_key"], "mention:17918195224117851");
    assert_eq!(conv["messages"].as_array().unwrap().len(), 1);
    assert_eq!(traffic.mention_lookups(), 1);
    let contact = app.get(&format!("/api/v1/contacts/{}", conv["conversation"]["contact_id"].as_str().unwrap())).await;
    let username = c.username.clone().unwrap_or_else(|| format!("ig_{}", c.id));
    assert!(contact.to_string().contains(&format!("@{username}")), "{contact}");
    // The reply answers the comment on the post.
    let id = conv["conversation"]["id"].as_str().unwrap();
    let (status, msg) = app.post(&format!("/api/v1/conversations/{id}/messages"), json!({"text": "有的！"})).await;
    assert_eq!(status, 201, "{msg}");
    app.message_status(msg["id"].as_str().unwrap(), &["sent", "delivered", "read"]).await;
    let sent = app.sim.sent().into_iter().find(|s| s.text() == Some("有的！")).unwrap();
    assert!(sent.path.ends_with("/mentions"), "{}", sent.path);
    assert_eq!(sent.body["media_id"], "17918195224117851");

    // A mention in a post's caption: the post's author and caption are looked up the same way.
    let c = &Traffic::customers()[3];
    let body = traffic.instagram_caption_mention(c, "17900000000000042", "Loving my new jacket from @brand 🧥");
    assert_eq!(traffic.post(ChannelKind::Instagram, &body).await, Some(200));
    let conv = app.conversation_where("ig", |d| has_text(d, "Loving my new jacket from @brand 🧥")).await;
    assert_eq!(conv["conversation"]["thread_key"], "mention:17900000000000042");
    assert_eq!(traffic.mention_lookups(), 2);
}

/// Queues a reply offering `buttons` the way a bot does: the payload under the key the message carries.
async fn reply_with_buttons(app: &MetaApp, conversation: &str, text: &str, buttons: Value) -> String {
    let bot = app
        .store
        .create_user(&NewUser {
            email: format!("bot-{}@x.io", uuid::Uuid::now_v7().simple()),
            name: "Bot".into(),
            role: Role::Agent,
            password_hash: None,
        })
        .await
        .unwrap();
    let key = format!("payload:{}", uuid::Uuid::now_v7().simple());
    app.store.save_reply_payload(&format!("{}:{key}", bot.id), &json!({ "buttons": buttons })).await.unwrap();
    let (msg, _) = app
        .store
        .post_message(&switchboard_store::NewMessage {
            conversation_id: conversation.parse().unwrap(),
            author_id: bot.id,
            kind: switchboard_store::MessageKind::Reply,
            visibility: switchboard_domain::Visibility::Private,
            text: text.into(),
            idempotency_key: Some(key),
            at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    msg.id.to_string()
}

#[tokio::test]
async fn buttons_reach_the_graph_api_in_each_products_shape_and_a_press_comes_back_as_its_label() {
    let app = spawn().await;
    let traffic = app.sim.traffic();
    let cs = Traffic::customers();
    traffic
        .post(
            ChannelKind::Whatsapp,
            &traffic.whatsapp_payload(&cs[1], vec![traffic.whatsapp_text(&cs[1], "Need help 🙏")]),
        )
        .await;
    traffic.post(ChannelKind::Messenger, &traffic.messenger_text(&cs[3], "Besoin d'aide")).await;
    let wa = app.conversation_where("wa", |d| has_text(d, "Need help 🙏")).await;
    let fb = app.conversation_where("fb", |d| has_text(d, "Besoin d'aide")).await;
    let yes_no = json!([{"text": "Yes 👍", "data": "bot:helped:1"}, {"text": "No", "data": "bot:not_helped:1"}]);
    let wa_reply =
        reply_with_buttons(&app, wa["conversation"]["id"].as_str().unwrap(), "Did this help?", yes_no.clone()).await;
    let fb_reply =
        reply_with_buttons(&app, fb["conversation"]["id"].as_str().unwrap(), "Ça vous a aidé ?", yes_no).await;
    // Eleven choices do not fit a list: numbered text, which the simulator accepts too.
    let many: Vec<Value> =
        (1..=11).map(|i| json!({"text": format!("Store {i}"), "data": format!("store:{i}")})).collect();
    let wa_many =
        reply_with_buttons(&app, wa["conversation"]["id"].as_str().unwrap(), "Which store?", json!(many)).await;
    for id in [&wa_reply, &fb_reply, &wa_many] {
        let m = app.message_status(id, &["sent", "delivered", "read"]).await;
        assert!(m["failure_reason"].is_null(), "{m}");
    }
    let sent = app.sim.sent();
    let interactive = sent.iter().find(|s| s.body["type"] == "interactive").unwrap();
    assert_eq!(interactive.body["interactive"]["action"]["buttons"][1]["reply"]["id"], "bot:not_helped:1");
    let numbered = sent.iter().find(|s| s.text().is_some_and(|t| t.starts_with("Which store?"))).unwrap();
    assert!(numbered.text().unwrap().ends_with("11. Store 11"));
    let quick = sent.iter().find(|s| s.body.pointer("/message/quick_replies").is_some()).unwrap();
    assert_eq!(quick.body["message"]["quick_replies"][0]["payload"], "bot:helped:1");

    // The customer presses "No": the message reads as the label.
    let mut press = traffic.whatsapp_text(&cs[1], "");
    press["type"] = json!("interactive");
    press.as_object_mut().unwrap().remove("text");
    press["interactive"] = json!({"type": "button_reply", "button_reply": {"id": "bot:not_helped:1", "title": "No"}});
    assert_eq!(traffic.post(ChannelKind::Whatsapp, &traffic.whatsapp_payload(&cs[1], vec![press])).await, Some(200));
    app.conversation_where("wa", |d| {
        d["messages"].as_array().unwrap().iter().any(|m| m["text"] == "No" && m["direction"] == "inbound")
    })
    .await;
}
