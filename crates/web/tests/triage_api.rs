//! Triage over HTTP: an inbound message gets its triage, an agent corrects its intent, model
//! versions are listed, and bad requests are refused with a reason.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Setup, spawn};
use serde_json::{Value, json};
use switchboard_engine::triage::TriageConfig;
use switchboard_web::WebConfig;

#[tokio::test]
async fn triage_intent_labels_and_models_over_http() {
    let triage = TriageConfig {
        languages: vec!["en".into(), "zh".into()],
        phone_region: None,
        language_fast_margin: 0.6,
        retrain_every: Duration::from_secs(3600),
        routing_wait: Duration::from_secs(5),
    };
    let app = spawn(Setup { triage: Some(triage), web: WebConfig { max_body_bytes: 4096 }, ..Setup::default() }).await;
    let (base, http, token) = (app.base.clone(), app.http.clone(), app.token_of("lin@x.io").to_owned());

    let r = http
        .post(format!("{base}/api/v1/inbound"))
        .bearer_auth(&token)
        .json(&json!({"channel": "shop", "external_id": "x1", "contact": {"handle": "ada"},
                      "text": "我的快递三天了还没到，太慢了", "sent_at": "2026-11-25T10:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let ack: Value = r.json().await.unwrap();
    let mid = ack["message_id"].as_str().unwrap().to_owned();
    let mut triage = Value::Null;
    for _ in 0..300 {
        let r = http.get(format!("{base}/api/v1/messages/{mid}/triage")).bearer_auth(&token).send().await.unwrap();
        if r.status() == 200 {
            triage = r.json().await.unwrap();
            break;
        }
        assert_eq!(r.status(), 404);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(triage["language"], "zh", "{triage}");
    assert_eq!(triage["sentiment"], "negative", "{triage}");
    assert_eq!(triage["intent_by_agent"], false);
    let conv = triage["conversation_id"].as_str().unwrap().to_owned();
    let c: Value = http
        .get(format!("{base}/api/v1/conversations/{conv}/triage"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["message_id"], mid.as_str());
    // The triage is also part of the conversation and the message as the API returns them.
    let get = |path: String| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            http.get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    let detail = get(format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(detail["triage"]["message_id"], mid.as_str(), "{detail}");
    let m = detail["messages"].as_array().unwrap().iter().find(|m| m["id"] == mid.as_str()).unwrap();
    assert_eq!(m["triage"]["sentiment"], "negative", "{m}");
    let one = get(format!("/api/v1/messages/{mid}")).await;
    assert_eq!(one["triage"]["language"], "zh", "{one}");
    assert_eq!(one["direction"], "inbound");

    // An agent's label.
    let put = |body: Value, id: String| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let r = http
                .put(format!("{base}/api/v1/messages/{id}/intent"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, body) = put(json!({"intent": "delivery"}), mid.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!((body["intent"].as_str(), body["intent_by_agent"].as_bool()), (Some("delivery"), Some(true)));
    let (s, body) = put(json!({"intent": "teleport"}), mid.clone()).await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("invalid_intent")));
    let (s, body) = put(json!({"intent": "delivery", "extra": 1}), mid.clone()).await;
    assert_eq!(s, 422, "unknown fields are refused like everywhere in the API: {body}");
    let (s, body) = put(json!({"intent": "delivery"}), uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(s, 404, "{body}");
    let (s, _) = put(json!({"intent": "delivery"}), "nope".into()).await;
    assert_eq!(s, 400);
    assert_eq!(app.store.intent_labels().await.unwrap().len(), 1);

    // Model versions: none stored until the retraining job runs.
    let m: Value = http
        .get(format!("{base}/api/v1/nlp/intent-models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["active_version"], Value::Null);
    let (v, _) = switchboard_engine::triage::retrain_intents(&app.store).await.unwrap().unwrap();
    let m: Value = http
        .get(format!("{base}/api/v1/nlp/intent-models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["active_version"], v);
    assert_eq!(m["items"][0]["active"], true);

    let doc: Value = http.get(format!("{base}/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for p in ["/api/v1/messages/{id}/triage", "/api/v1/messages/{id}/intent", "/api/v1/nlp/intent-models"] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    assert!(http.get(format!("{base}/api/v1/nlp/intent-models")).send().await.unwrap().status() == 401);
}
