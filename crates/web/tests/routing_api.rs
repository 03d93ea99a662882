//! HTTP tests of the routing API: the real router on port 0 against a fresh SQLite database.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{App, Setup, spawn};
use serde_json::{Value, json};
use switchboard_engine::EngineConfig;
use switchboard_web::WebConfig;

const ADMIN: &str = "admin@x.io";
const AGENT: &str = "lin@x.io";

async fn spawn_app() -> App {
    let mut engine = EngineConfig::default();
    engine.routing.tick = Duration::from_millis(50);
    spawn(Setup {
        callback_url: Some("http://127.0.0.1:9/unused".into()),
        engine,
        web: WebConfig { max_body_bytes: 64 * 1024 },
        ..Setup::default()
    })
    .await
}

impl App {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await.unwrap();
        let s = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (s, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }
    async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body)).await
    }
    async fn put(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, token, Some(body)).await
    }
}

#[tokio::test]
async fn teams_calendars_and_availability() {
    let app = spawn_app().await;
    let team = json!({"name": "billing", "assignment_policy": "round_robin"});
    let (s, _) = app.post("/api/v1/teams", app.token_of(AGENT), &team).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents cannot create teams");
    let (s, e) = app.post("/api/v1/teams", app.token_of(ADMIN), &json!({"name": "Bad Name"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["message"].as_str().unwrap().contains("team name"), "{e}");
    let (s, e) =
        app.post("/api/v1/teams", app.token_of(ADMIN), &json!({"name": "x", "assignment_policy": "random"})).await;
    assert!(s.is_client_error(), "{e}");
    let (s, t) = app.post("/api/v1/teams", app.token_of(ADMIN), &team).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, _) = app.post("/api/v1/teams", app.token_of(ADMIN), &team).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, list) = app.get("/api/v1/teams", app.token_of(AGENT)).await;
    assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 1));

    // Calendars: validated, then holidays imported from an .ics feed.
    let bad = json!({"time_zone": "Mars/Base", "always_open": true});
    let (s, e) = app.put("/api/v1/calendars/berlin", app.token_of(ADMIN), &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("Mars/Base"));
    let cal = json!({"time_zone": "Europe/Berlin", "weekly": [
        {"day": "mon", "intervals": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]},
        {"day": "tue", "intervals": [{"start": "09:00", "end": "17:00"}]}]});
    let (s, c) = app.put("/api/v1/calendars/berlin", app.token_of(ADMIN), &cal).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\nSUMMARY:Weihnachten\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = app
        .http
        .post(format!("{}/api/v1/calendars/berlin/holidays", app.base))
        .bearer_auth(app.token_of(ADMIN))
        .header("content-type", "text/calendar")
        .body(feed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["added"], 2);
    assert_eq!(v["calendar"]["spec"]["special_dates"][0]["date"], "2026-12-25");
    let r = app
        .http
        .post(format!("{}/api/v1/calendars/berlin/holidays", app.base))
        .bearer_auth(app.token_of(ADMIN))
        .body("not a calendar")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let (s, t) = app
        .put(
            "/api/v1/teams/billing",
            app.token_of(ADMIN),
            &json!({"name": "billing", "assignment_policy": "least_busy", "calendar": "berlin"}),
        )
        .await;
    assert_eq!((s, t["calendar"].as_str()), (StatusCode::OK, Some("berlin")));

    // Members and availability.
    let member = json!({"role": "agent", "skills": {"languages": ["zh", "en"]}, "capacity": {"*": 3}});
    let path = format!("/api/v1/teams/billing/members/{}", app.user_id(AGENT).await);
    let (s, _) = app.put(&path, app.token_of(AGENT), &member).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, m) = app.put(&path, app.token_of(ADMIN), &member).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["availability"], "offline");
    let (s, _) = app.put("/api/v1/me/availability", app.token_of(AGENT), &json!({"availability": "online"})).await;
    assert_eq!(s, StatusCode::OK);
    let (_, me) = app.get("/api/v1/me/availability", app.token_of(AGENT)).await;
    assert_eq!(me["availability"], "online");
    let (_, members) = app.get("/api/v1/teams/billing/members", app.token_of(ADMIN)).await;
    assert_eq!(members[0]["availability"], "online");
    let (s, _) = app.put("/api/v1/me/availability", app.token_of(AGENT), &json!({"availability": "sleepy"})).await;
    assert!(s.is_client_error());
    let (_, admin_me) = app.get("/api/v1/me", app.token_of(ADMIN)).await;
    let other = format!("/api/v1/users/{}/availability", admin_me["id"].as_str().unwrap());
    let (s, _) = app.put(&other, app.token_of(AGENT), &json!({"availability": "away"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents set only their own availability");

    let (_, doc) = app.get("/api/v1/openapi.json", app.token_of(AGENT)).await;
    for p in [
        "/api/v1/teams",
        "/api/v1/calendars/{name}/holidays",
        "/api/v1/sla-policies",
        "/api/v1/canned-replies/{id}/render",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from the OpenAPI document");
    }
}

#[tokio::test]
async fn policies_rules_canned_replies_and_conversation_sla() {
    let app = spawn_app().await;
    let mut policy = json!({"name": "VIP", "position": 0, "conditions": {"priorities": ["high"]},
        "first_response": {"minutes": 15, "basis": "calendar"}, "next_response": null, "resolution": null,
        "warn_at_percent": 80, "escalations": []});
    policy["escalations"] = json!(
        (1..=5).map(|i| json!({"at_percent": i * 100, "action": {"type": "notify_manager"}})).collect::<Vec<_>>()
    );
    let (s, e) = app.post("/api/v1/sla-policies", app.token_of(ADMIN), &policy).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["message"].as_str().unwrap().contains("at most 4"), "{e}");
    policy["escalations"] = json!([{"at_percent": 100, "action": {"type": "move_to_team", "team": "tier2"}}]);
    let (s, p) = app.post("/api/v1/sla-policies", app.token_of(AGENT), &policy).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    let (s, p) = app.post("/api/v1/sla-policies", app.token_of(ADMIN), &policy).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["first_response"]["minutes"], 15);

    let rule = json!({"name": "refunds", "events": ["conversation_created"],
        "conditions": [{"field": "keywords", "any_of": ["refund"]}],
        "actions": [{"type": "add_tags", "tags": ["refund"]}, {"type": "set_priority", "priority": "high"}]});
    let (s, r) = app.post("/api/v1/automation-rules", app.token_of(ADMIN), &rule).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, e) = app
        .post("/api/v1/automation-rules", app.token_of(ADMIN), &json!({"name": "x", "events": [], "actions": []}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let canned = json!({"shortcut": "hello", "title": "Greeting", "variants": {
        "en": "Hi {{contact.first_name}}, this is {{agent.name}} about {{case_number}}.",
        "zh": "{{contact.first_name}}您好，我是{{agent.name}}，关于{{case_number}}。"}});
    let (s, c) = app.post("/api/v1/canned-replies", app.token_of(ADMIN), &canned).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, _) = app
        .post(
            "/api/v1/canned-replies",
            app.token_of(ADMIN),
            &json!({"shortcut": "x", "title": "X", "variants": {"en": "{{nope}}"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // A conversation: the rule fires, the VIP policy sets a 15-minute first response.
    let ev = json!({"channel": "shop", "external_id": "m1", "contact": {"handle": "ada", "name": "Ada Lovelace"},
        "text": "我要退款 refund please", "sent_at": "2026-11-25T10:00:00Z"});
    let (s, ack) = app.post("/api/v1/inbound", app.token_of(ADMIN), &ev).await;
    assert_eq!(s, StatusCode::CREATED, "{ack}");
    let mut conv = Value::Null;
    for _ in 0..300 {
        let (_, page) = app.get("/api/v1/conversations", app.token_of(ADMIN)).await;
        if let Some(id) = page["items"][0]["id"].as_str() {
            let (_, detail) = app.get(&format!("/api/v1/conversations/{id}"), app.token_of(ADMIN)).await;
            // Routing runs in the background over several writes (rules, then clocks): wait for
            // the round to finish, not just to start.
            if detail["sla"].as_array().is_some_and(|a| !a.is_empty()) && detail["sla"][0]["policy"] == "VIP" {
                conv = detail;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!conv.is_null(), "SLA never appeared on the conversation");
    let id = conv["conversation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(conv["conversation"]["priority"], "high");
    assert_eq!(conv["conversation"]["tags"], json!(["refund"]));
    assert_eq!(conv["sla"][0]["policy"], "VIP");
    assert_eq!(conv["sla"][0]["metric"], "first_response");
    assert!(conv["sla"][0]["due_at"].is_string());
    let (_, sla) = app.get(&format!("/api/v1/conversations/{id}/sla"), app.token_of(AGENT)).await;
    assert_eq!(sla["fired_rules"][0]["rule"], "refunds");
    assert!(sla["fired_rules"][0]["reasons"].as_array().unwrap().iter().any(|r| r == "keyword \"refund\" found"));

    // Rendering picks the conversation's language and fills the variables.
    let cid = c["id"].as_str().unwrap();
    let (s, r) = app
        .post(&format!("/api/v1/canned-replies/{cid}/render"), app.token_of(AGENT), &json!({"conversation_id": id}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["language"], "zh");
    let case = conv["conversation"]["case_number"].as_str().unwrap();
    assert_eq!(r["text"], format!("Ada您好，我是，关于{case}。"));
    let (_, r) = app
        .post(
            &format!("/api/v1/canned-replies/{cid}/render"),
            app.token_of(AGENT),
            &json!({"conversation_id": id, "language": "en"}),
        )
        .await;
    assert_eq!(r["text"], format!("Hi Ada, this is  about {case}."));
    let (_, list) = app.get("/api/v1/canned-replies", app.token_of(AGENT)).await;
    assert_eq!(list[0]["usage_count"], 2);

    // Contact attributes: the customer tier that SLA policies choose by.
    let contact = conv["contact"]["id"].as_str().unwrap();
    let path = format!("/api/v1/contacts/{contact}/attributes");
    let (s, _) = app.put(&path, app.token_of(AGENT), &json!({"tier": "gold"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = app.put(&path, app.token_of(ADMIN), &json!({"Bad Key": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (s, a) = app.put(&path, app.token_of(ADMIN), &json!({"tier": "gold"})).await;
    assert_eq!((s, a), (StatusCode::OK, json!({"tier": "gold"})));
    let (_, a) = app.get(&path, app.token_of(AGENT)).await;
    assert_eq!(a["tier"], "gold");
}
