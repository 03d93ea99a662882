//! HTTP tests: the real router on port 0 against a fresh SQLite database.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, DynStore, NewUser, StoreOptions};
use switchboard_web::{AppState, WebConfig, auth};
use tokio::net::TcpListener;

struct App {
    base: String,
    admin: String,
    agent: String,
    store: DynStore,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn spawn_app(callback_url: &str) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    for (slug, kind) in [("shop", ChannelKind::Api), ("wa", ChannelKind::Whatsapp)] {
        store
            .upsert_channel(&ChannelRecord {
                slug: ChannelSlug::parse(slug).unwrap(),
                kind,
                name: slug.into(),
                callback_url: Some(callback_url.into()),
                secret: Some("cb-secret".into()),
                config: json!({}),
                created_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let mut tokens = Vec::new();
    for (email, role) in [("admin@x.io", Role::Admin), ("agent@x.io", Role::Agent)] {
        let u = store
            .create_user(&NewUser { email: email.into(), name: email.into(), role, password_hash: None })
            .await
            .unwrap();
        let (token, hash) = auth::generate_token();
        store.create_api_token(u.id, "t", &hash).await.unwrap();
        tokens.push(token);
    }
    let mut cfg = EngineConfig::default();
    cfg.outbox.base_backoff = Duration::from_millis(20);
    cfg.outbox.max_backoff = Duration::from_millis(100);
    cfg.outbox.poll = Duration::from_millis(50);
    cfg.outbox.max_attempts = 4;
    let engine = Engine::start(store.clone(), cfg).await;
    let app = switchboard_web::router(AppState::new(engine, WebConfig { max_body_bytes: 4096 }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    App {
        base: format!("http://{addr}"),
        admin: tokens[0].clone(),
        agent: tokens[1].clone(),
        store,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

fn event(id: &str, handle: &str, text: &str) -> Value {
    json!({"channel": "shop", "external_id": id, "contact": {"handle": handle, "name": "Ada"}, "text": text,
           "sent_at": "2026-11-25T10:00:00Z"})
}

impl App {
    async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await.unwrap();
        let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn patch(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let r = self.http.patch(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await.unwrap();
        let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the pipeline has threaded the message.
    async fn message(&self, id: &str) -> Value {
        for _ in 0..200 {
            let (s, v) = self.get(&format!("/api/v1/messages/{id}"), &self.admin).await;
            if s == StatusCode::OK {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("message {id} never threaded");
    }

    async fn wait_for<F: Fn(&Value) -> bool>(&self, path: &str, pred: F) -> Value {
        for _ in 0..300 {
            let (_, v) = self.get(path, &self.admin).await;
            if pred(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("condition on {path} never met");
    }
}

#[tokio::test]
async fn inbound_is_acknowledged_durably_and_deduplicated() {
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    let (s1, a1) = app.post("/api/v1/inbound", &app.admin, &event("m-1", "c1", "Where is my order?")).await;
    assert_eq!(s1, StatusCode::CREATED, "{a1}");
    assert_eq!(a1["duplicate"], false);
    // Acknowledged means committed: the event is in the log right now.
    let eid: switchboard_domain::EventId = a1["event_id"].as_str().unwrap().parse().unwrap();
    assert!(app.store.get_event(eid).await.unwrap().is_some());
    let (s2, a2) = app.post("/api/v1/inbound", &app.admin, &event("m-1", "c1", "Where is my order?")).await;
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(a2["duplicate"], true);
    assert_eq!(a1["event_id"], a2["event_id"]);
    assert_eq!(a1["message_id"], a2["message_id"]);
    let msg = app.message(a1["message_id"].as_str().unwrap()).await;
    let (_, detail) =
        app.get(&format!("/api/v1/conversations/{}", msg["conversation_id"].as_str().unwrap()), &app.admin).await;
    assert_eq!(detail["conversation"]["case_number"], "SB-000001");
    assert_eq!(detail["messages"].as_array().unwrap().len(), 1, "redelivery created a second message");
    assert_eq!(detail["contact"]["identities"][0]["handle"], "c1");
    // The second message from the same contact joins the same conversation.
    let (_, a3) = app.post("/api/v1/inbound", &app.admin, &event("m-2", "c1", "Any news?")).await;
    let m3 = app.message(a3["message_id"].as_str().unwrap()).await;
    assert_eq!(m3["conversation_id"], msg["conversation_id"]);
    // Case numbers resolve too.
    let (s, by_case) = app.get("/api/v1/conversations/SB-000001", &app.agent).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(by_case["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_input_gets_a_reason_and_stores_nothing() {
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    let url = format!("{}/api/v1/inbound", app.base);
    let send = |body: Vec<u8>, ctype: Option<&'static str>, token: Option<String>| {
        let mut r = app.http.post(&url).body(body);
        if let Some(c) = ctype {
            r = r.header("content-type", c);
        }
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap();
            (status, v)
        }
    };
    let ok = |mut v: Value, k: &str, x: Value| {
        v[k] = x;
        serde_json::to_vec(&v).unwrap()
    };
    let base = event("bad-1", "c1", "hello");
    let tok = Some(app.admin.clone());
    let json = Some("application/json");
    // (status, error code, body, content type, token)
    type Case = (u16, &'static str, Vec<u8>, Option<&'static str>, Option<String>);
    let cases: Vec<Case> = vec![
        (400, "malformed_json", b"{\"channel\": ".to_vec(), json, tok.clone()),
        (422, "invalid_payload", br#"{"channel":"shop"}"#.to_vec(), json, tok.clone()),
        (422, "invalid_payload", ok(base.clone(), "external_id", json!(12)), json, tok.clone()),
        (422, "invalid_payload", ok(base.clone(), "sent_at", json!("last tuesday")), json, tok.clone()),
        (422, "invalid_payload", ok(base.clone(), "text", json!("   ")), json, tok.clone()),
        (413, "payload_too_large", ok(base.clone(), "text", json!("x".repeat(5000))), json, tok.clone()),
        (415, "unsupported_media_type", serde_json::to_vec(&base).unwrap(), Some("text/plain"), tok.clone()),
        (415, "unsupported_media_type", serde_json::to_vec(&base).unwrap(), None, tok.clone()),
        (404, "unknown_channel", ok(base.clone(), "channel", json!("nope")), json, tok.clone()),
        (422, "wrong_channel_kind", ok(base.clone(), "channel", json!("wa")), json, tok.clone()),
        (401, "unauthorized", serde_json::to_vec(&base).unwrap(), json, None),
        (401, "unauthorized", serde_json::to_vec(&base).unwrap(), json, Some("sb_forged".into())),
    ];
    for (status, code, body, ctype, token) in cases {
        let (s, v) = send(body, ctype, token).await;
        assert_eq!(s, status, "{v}");
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.store.pipeline_backlog().await.unwrap(), 0);
    assert!(app.store.unprocessed_events(10).await.unwrap().is_empty(), "bad input was stored");
    let (_, list) = app.get("/api/v1/conversations", &app.admin).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchboard_ingest_events_total{result=\"rejected\"} 12"), "{metrics}");
}

#[tokio::test]
async fn other_bad_requests_are_json_errors() {
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    for (path, status) in [
        ("/api/v1/conversations?status=lost", 400),
        ("/api/v1/conversations?assignee=bob", 400),
        ("/api/v1/conversations?cursor=garbage", 422),
        ("/api/v1/conversations/SB-999", 404),
        ("/api/v1/conversations/not-a-case", 400),
        ("/api/v1/messages/xyz", 400),
        ("/api/v1/nope", 404),
    ] {
        let (s, v) = app.get(path, &app.admin).await;
        assert_eq!(s.as_u16(), status, "{path}: {v}");
        assert!(v["error"]["code"].is_string(), "{path}: {v}");
    }
}

async fn first_conversation(app: &App) -> String {
    let (_, a) = app.post("/api/v1/inbound", &app.admin, &event("x-1", "c9", "I need a refund")).await;
    let m = app.message(a["message_id"].as_str().unwrap()).await;
    m["conversation_id"].as_str().unwrap().to_owned()
}

#[derive(Default)]
struct Receiver {
    calls: AtomicUsize,
    fail_first: usize,
    permanent: bool,
    keys: std::sync::Mutex<Vec<String>>,
    bodies: std::sync::Mutex<Vec<Value>>,
}

async fn spawn_receiver(r: Arc<Receiver>) -> String {
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::post(move |headers: HeaderMap, body: bytes::Bytes| {
            let r = r.clone();
            async move {
                let sig = headers.get("x-switchboard-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
                assert_eq!(sig, switchboard_engine::delivery::sign(b"cb-secret", &body), "bad signature");
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                r.keys.lock().unwrap().push(key);
                r.bodies.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                let n = r.calls.fetch_add(1, Ordering::SeqCst);
                if r.permanent {
                    (StatusCode::BAD_REQUEST, "recipient unknown".to_owned())
                } else if n < r.fail_first {
                    (StatusCode::SERVICE_UNAVAILABLE, "busy".to_owned())
                } else {
                    (StatusCode::OK, json!({"id": "ext-42"}).to_string())
                }
            }
        }),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}/cb")
}

#[tokio::test]
async fn replies_are_signed_retried_and_delivered_once() {
    let recv = Arc::new(Receiver { fail_first: 2, ..Default::default() });
    let app = spawn_app(&spawn_receiver(recv.clone()).await).await;
    let conv = first_conversation(&app).await;
    let path = format!("/api/v1/conversations/{conv}/messages");
    let (s, msg) = app.post(&path, &app.agent, &json!({"text": "Refund is on its way."})).await;
    assert_eq!(s, StatusCode::CREATED, "{msg}");
    assert_eq!(msg["delivery_status"], "queued");
    let mid = msg["id"].as_str().unwrap().to_owned();
    let done = app.wait_for(&format!("/api/v1/messages/{mid}"), |v| v["delivery_status"] == "sent").await;
    assert_eq!(done["provider_message_id"], "ext-42");
    assert_eq!(recv.calls.load(Ordering::SeqCst), 3, "two 503s then success");
    let keys = recv.keys.lock().unwrap().clone();
    assert!(keys.iter().all(|k| k == &keys[0] && !k.is_empty()), "every attempt carries the same idempotency key");
    let body = recv.bodies.lock().unwrap()[2].clone();
    assert_eq!(body["text"], "Refund is on its way.");
    assert_eq!(body["recipient"], "c9");
    assert_eq!(body["case_number"], "SB-000001");
    assert_eq!(body["attempt"], 3);
    // The brand's system reports what happened next.
    let report = |status: &str, id: &str| json!({"channel": "shop", "provider_message_id": id, "status": status});
    let (s, m) = app.post("/api/v1/delivery-reports", &app.admin, &report("read", "ext-42")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!((m["id"].as_str(), m["delivery_status"].as_str()), (Some(mid.as_str()), Some("read")));
    let (s, m) = app.post("/api/v1/delivery-reports", &app.admin, &report("delivered", "ext-42")).await;
    assert_eq!((s, m["delivery_status"].as_str()), (StatusCode::OK, Some("read")), "a late report moved it back");
    let (s, _) = app.post("/api/v1/delivery-reports", &app.admin, &report("read", "ext-0")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app.post("/api/v1/delivery-reports", &app.admin, &report("queued", "ext-42")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app.post("/api/v1/delivery-reports", &app.admin, &report("lost", "ext-42")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(recv.calls.load(Ordering::SeqCst), 3, "a delivered reply is never sent again");
    assert_eq!(app.store.outbox_backlog().await.unwrap(), 0);
}

#[tokio::test]
async fn a_permanent_error_marks_the_reply_failed_with_the_reason() {
    let recv = Arc::new(Receiver { permanent: true, ..Default::default() });
    let app = spawn_app(&spawn_receiver(recv.clone()).await).await;
    let conv = first_conversation(&app).await;
    let (_, msg) =
        app.post(&format!("/api/v1/conversations/{conv}/messages"), &app.agent, &json!({"text": "Hi"})).await;
    let done = app
        .wait_for(&format!("/api/v1/messages/{}", msg["id"].as_str().unwrap()), |v| v["delivery_status"] == "failed")
        .await;
    assert!(done["failure_reason"].as_str().unwrap().contains("recipient unknown"), "{done}");
    assert_eq!(recv.calls.load(Ordering::SeqCst), 1, "4xx is not retried");
}

#[tokio::test]
async fn idempotency_key_never_creates_two_messages() {
    let recv = Arc::new(Receiver::default());
    let app = spawn_app(&spawn_receiver(recv.clone()).await).await;
    let conv = first_conversation(&app).await;
    let url = format!("{}/api/v1/conversations/{conv}/messages", app.base);
    let send = |text: &'static str| {
        app.http
            .post(&url)
            .bearer_auth(&app.agent)
            .header("idempotency-key", "retry-77")
            .json(&json!({"text": text}))
            .send()
    };
    let r1 = send("On it").await.unwrap();
    assert_eq!(r1.status(), 201);
    let m1: Value = r1.json().await.unwrap();
    let r2 = send("On it").await.unwrap();
    assert_eq!(r2.status(), 200);
    let m2: Value = r2.json().await.unwrap();
    assert_eq!(m1["id"], m2["id"]);
    let r3 = send("Something else").await.unwrap();
    assert_eq!(r3.status(), 409);
    let (_, detail) = app.get(&format!("/api/v1/conversations/{conv}"), &app.admin).await;
    let outbound = detail["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").count();
    assert_eq!(outbound, 1);
    app.wait_for(&format!("/api/v1/messages/{}", m1["id"].as_str().unwrap()), |v| v["delivery_status"] == "sent").await;
    assert_eq!(recv.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn notes_stay_internal_and_status_changes_are_recorded() {
    let recv = Arc::new(Receiver::default());
    let app = spawn_app(&spawn_receiver(recv.clone()).await).await;
    let conv = first_conversation(&app).await;
    let (s, note) = app
        .post(&format!("/api/v1/conversations/{conv}/messages"), &app.agent, &json!({"text": "VIP", "kind": "note"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(note["direction"], "note");
    assert!(note["delivery_status"].is_null());
    let (s, c) = app
        .patch(
            &format!("/api/v1/conversations/{conv}"),
            &app.agent,
            &json!({"status": "resolved", "priority": "high", "tags": ["Refund", "refund"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "resolved");
    assert_eq!(c["tags"], json!(["refund"]));
    assert!(c["resolved_at"].is_string());
    // The customer writes again within the window: the same case reopens.
    let (_, a) = app.post("/api/v1/inbound", &app.admin, &event("x-2", "c9", "It did not arrive")).await;
    let m = app.message(a["message_id"].as_str().unwrap()).await;
    assert_eq!(m["conversation_id"], conv);
    let (_, d) = app.get(&format!("/api/v1/conversations/{conv}"), &app.admin).await;
    assert_eq!(d["conversation"]["status"], "open");
    assert_eq!(d["conversation"]["reopen_count"], 1);
    let kinds: Vec<&str> = d["facts"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"status_changed") && kinds.contains(&"reopened") && kinds.contains(&"tags_changed"),
        "{kinds:?}"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(recv.calls.load(Ordering::SeqCst), 0, "a note was sent to the customer");
    // Closed is final.
    app.patch(&format!("/api/v1/conversations/{conv}"), &app.admin, &json!({"status": "closed"})).await;
    let (s, e) = app.patch(&format!("/api/v1/conversations/{conv}"), &app.admin, &json!({"status": "open"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}

#[tokio::test]
async fn roles_are_enforced() {
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    let ch = json!({"slug": "new", "kind": "api", "name": "New", "callback_url": "http://127.0.0.1:9/x"});
    let (s, _) = app.post("/api/v1/channels", &app.agent, &ch).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut with_secret = ch.clone();
    with_secret["secret"] = json!("s3cret");
    let (s, v) = app.post("/api/v1/channels", &app.admin, &with_secret).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v.get("secret").is_none(), "the secret was shown");
    // Renaming without a secret keeps the stored one (it is never shown, so it cannot be resent).
    let (s, _) = app.post("/api/v1/channels", &app.admin, &ch).await;
    assert_eq!(s, StatusCode::OK);
    let stored = app.store.get_channel(&ChannelSlug::parse("new").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.secret.as_deref(), Some("s3cret"));
    let conv = first_conversation(&app).await;
    let (_, me) = app.get("/api/v1/me", &app.admin).await;
    let (s, _) =
        app.patch(&format!("/api/v1/conversations/{conv}"), &app.agent, &json!({"assignee_id": me["id"]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an agent assigned someone else");
    let (_, agent) = app.get("/api/v1/me", &app.agent).await;
    let (_, users) = app.get("/api/v1/users", &app.agent).await;
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert!(users[0].get("password_hash").is_none());
    let (s, c) =
        app.patch(&format!("/api/v1/conversations/{conv}"), &app.agent, &json!({"assignee_id": agent["id"]})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["assignee_id"], agent["id"]);
    let (_, mine) = app.get("/api/v1/conversations?assignee=me", &app.agent).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let (_, unassigned) = app.get("/api/v1/conversations?assignee=none", &app.agent).await;
    assert!(unassigned["items"].as_array().unwrap().is_empty());
    let (s, _) = app
        .post(
            &format!("/api/v1/contacts/{}/merge", agent["id"].as_str().unwrap()),
            &app.agent,
            &json!({"other_id": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn contacts_on_two_channels_merge_into_one_history() {
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    app.post(
        "/api/v1/channels",
        &app.admin,
        &json!({"slug": "app", "kind": "api", "name": "App", "callback_url": "http://127.0.0.1:9/x"}),
    )
    .await;
    let (_, a) = app.post("/api/v1/inbound", &app.admin, &event("k-1", "ada@shop", "hi from the shop")).await;
    let mut e2 = event("k-2", "ada-app-7", "hi from the app");
    e2["channel"] = json!("app");
    let (_, b) = app.post("/api/v1/inbound", &app.admin, &e2).await;
    let m1 = app.message(a["message_id"].as_str().unwrap()).await;
    let m2 = app.message(b["message_id"].as_str().unwrap()).await;
    let (_, c1) =
        app.get(&format!("/api/v1/conversations/{}", m1["conversation_id"].as_str().unwrap()), &app.admin).await;
    let (_, c2) =
        app.get(&format!("/api/v1/conversations/{}", m2["conversation_id"].as_str().unwrap()), &app.admin).await;
    let (k1, k2) = (c1["contact"]["id"].as_str().unwrap(), c2["contact"]["id"].as_str().unwrap());
    assert_ne!(k1, k2);
    let (s, merged) = app.post(&format!("/api/v1/contacts/{k1}/merge"), &app.admin, &json!({"other_id": k2})).await;
    assert_eq!(s, StatusCode::OK, "{merged}");
    assert_eq!(merged["identities"].as_array().unwrap().len(), 2);
    let (_, detail) = app.get(&format!("/api/v1/contacts/{k2}"), &app.admin).await;
    assert_eq!(detail["contact"]["id"], k1, "the merged-away id resolves to the survivor");
    assert_eq!(detail["conversations"].as_array().unwrap().len(), 2, "history across both channels");
}

#[tokio::test]
async fn conversations_page_with_cursors_and_filter() {
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    let mut last = String::new();
    for i in 0..7 {
        let (_, a) = app
            .post("/api/v1/inbound", &app.admin, &event(&format!("p-{i}"), &format!("c{i}"), &format!("question {i}")))
            .await;
        last = a["message_id"].as_str().unwrap().to_owned();
    }
    app.message(&last).await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = app.get(&format!("/api/v1/conversations?limit=3&cursor={cursor}"), &app.agent).await;
        assert_eq!(s, StatusCode::OK);
        for c in page["items"].as_array().unwrap() {
            seen.push(c["case_number"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
    let (_, found) = app.get("/api/v1/conversations?q=question%205", &app.agent).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    // One or two characters: the inbox's planned search (the short-query index), paged alike.
    let (_, short) = app.get("/api/v1/conversations?q=QU&limit=3", &app.agent).await;
    assert_eq!(short["items"].as_array().unwrap().len(), 3);
    let next = short["next_cursor"].as_str().expect("more than one page");
    let (_, rest) = app.get(&format!("/api/v1/conversations?q=QU&limit=5&cursor={next}"), &app.agent).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 4);
    let (_, none) = app.get("/api/v1/conversations?q=zq", &app.agent).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let (_, found) = app.get("/api/v1/conversations?status=resolved", &app.agent).await;
    assert!(found["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn live_events_stream_new_messages() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "GET /api/v1/events?access_token={} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n",
        app.agent
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    app.post("/api/v1/inbound", &app.admin, &event("live-1", "c1", "hello live")).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&buf).contains("event: message.created") {
        let n =
            tokio::time::timeout(Duration::from_secs(5), sock.read(&mut chunk)).await.expect("no live event").unwrap();
        assert!(n > 0, "stream closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    assert!(text.contains("200 OK") && text.contains("text/event-stream"), "{text}");
    assert!(text.contains("event: conversation.created"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = spawn_app("http://127.0.0.1:9/unused").await;
    for path in ["/healthz", "/readyz"] {
        let r = app.http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let m = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    for name in [
        "switchboard_ingest_ack_seconds",
        "switchboard_ingest_queue_depth",
        "switchboard_outbox_backlog",
        "switchboard_pipeline_backlog",
    ] {
        assert!(m.contains(name), "{name} missing");
    }
    let doc: Value =
        app.http.get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/inbound",
        "/api/v1/conversations",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/contacts/{id}/merge",
        "/api/v1/events",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
}

#[tokio::test]
async fn a_reply_offering_buttons_carries_them_in_the_callback() {
    let recv = Arc::new(Receiver::default());
    let app = spawn_app(&spawn_receiver(recv.clone()).await).await;
    let conv = first_conversation(&app).await;
    // A bot's reply with choices: the payload is stored under the key the message carries.
    let bot = app
        .store
        .create_user(&NewUser { email: "bot@x.io".into(), name: "Bot".into(), role: Role::Agent, password_hash: None })
        .await
        .unwrap();
    let buttons = json!([{"text": "Yes 👍", "data": "bot:helped:1"}, {"text": "No", "data": "bot:not_helped:1"}]);
    app.store.save_reply_payload(&format!("{}:payload:b1", bot.id), &json!({"buttons": buttons})).await.unwrap();
    let (msg, _) = app
        .store
        .post_message(&switchboard_store::NewMessage {
            conversation_id: conv.parse().unwrap(),
            author_id: bot.id,
            kind: switchboard_store::MessageKind::Reply,
            visibility: switchboard_domain::Visibility::Private,
            text: "Did this answer your question?".into(),
            idempotency_key: Some("payload:b1".into()),
            at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    app.wait_for(&format!("/api/v1/messages/{}", msg.id), |v| v["delivery_status"] == "sent").await;
    let body = recv.bodies.lock().unwrap()[0].clone();
    assert_eq!(body["text"], "Did this answer your question?");
    assert_eq!(body["buttons"], buttons);
    // A plain reply has no `buttons` key.
    let (_, plain) =
        app.post(&format!("/api/v1/conversations/{conv}/messages"), &app.agent, &json!({"text": "Hi"})).await;
    app.wait_for(&format!("/api/v1/messages/{}", plain["id"].as_str().unwrap()), |v| v["delivery_status"] == "sent")
        .await;
    let body = recv.bodies.lock().unwrap()[1].clone();
    assert!(body.get("buttons").is_none(), "{body}");
}
