//! The triage step: an inbound message that the pipeline threads gets its triage stored; agents'
//! labels retrain a new intent model version.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::Utc;
use switchboard_domain::{ChannelSlug, ContactRef, InboundEvent, Visibility};
use switchboard_engine::triage::{TriageConfig, retrain_intents};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{IntentLabel, StoreOptions};

fn event(id: &str, text: &str) -> InboundEvent {
    InboundEvent {
        channel: ChannelSlug::parse("api").unwrap(),
        provider_event_id: id.to_owned(),
        contact: ContactRef { provider_user_id: "cust-1".into(), handle: None, display_name: None },
        thread_key: String::new(),
        visibility: Visibility::Public,
        text: text.to_owned(),
        attachments: Vec::new(),
        sent_at: Utc::now(),
        extra: serde_json::Map::new(),
    }
}

#[tokio::test]
async fn inbound_messages_are_triaged_and_labels_retrain() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let engine = Engine::start(store.clone(), EngineConfig::default()).await;
    engine
        .start_triage(TriageConfig {
            languages: vec!["en".into(), "zh".into(), "es".into()],
            phone_region: Some("US".into()),
            language_fast_margin: 0.6,
            retrain_every: Duration::from_secs(3600),
            routing_wait: Duration::from_secs(5),
        })
        .await
        .unwrap();
    let ack = engine
        .ingestor()
        .submit(event("e1", "My account was HACKED!! someone changed my password, mail me at jo@example.com"))
        .await
        .unwrap();
    let mut found = None;
    for _ in 0..300 {
        if let Some(t) = store.message_triage(ack.message_id).await.unwrap() {
            found = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = found.expect("no triage stored within 30 s");
    assert_eq!(t.language, "en");
    assert_eq!(t.sentiment, "negative");
    assert_eq!(t.intent, "account_access");
    assert_eq!(t.priority, "P1", "{:?}", t.priority_reasons);
    assert_eq!(t.pii, vec!["email".to_owned()]);
    assert!(t.redacted_text.contains("[EMAIL]") && !t.redacted_text.contains("jo@example.com"));
    let conv = store.conversation_triage(t.conversation_id).await.unwrap().unwrap();
    assert_eq!(conv.message_id, ack.message_id);

    // An agent corrects the intent; the retraining job turns labels into a new model version.
    assert!(retrain_intents(&store).await.unwrap().is_none(), "no labels, no new model");
    store
        .label_intent(IntentLabel {
            message_id: ack.message_id,
            intent: "complaint".into(),
            text: "My account was HACKED!! someone changed my password".into(),
            labelled_by: None,
            labelled_at: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(store.message_triage(ack.message_id).await.unwrap().unwrap().intent, "complaint");
    let (version, _) = retrain_intents(&store).await.unwrap().unwrap();
    let active = store.active_intent_model().await.unwrap().unwrap();
    assert_eq!(active.version, version);
    assert!(switchboard_nlp::linear::Model::from_bytes(&active.bytes).is_ok());
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn messages_that_arrived_before_triage_started_are_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("c.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    let engine = Engine::start(store.clone(), EngineConfig::default()).await;
    let early = engine.ingestor().submit(event("early", "I want a refund for the broken blender")).await.unwrap();
    // Wait until the pipeline has threaded it (its message exists).
    for _ in 0..100 {
        if store.get_message(early.message_id).await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store.message_triage(early.message_id).await.unwrap().is_none());
    engine
        .start_triage(TriageConfig {
            languages: vec!["en".into()],
            phone_region: None,
            language_fast_margin: 0.6,
            retrain_every: Duration::from_secs(3600),
            routing_wait: Duration::from_secs(5),
        })
        .await
        .unwrap();
    let mut found = None;
    for _ in 0..300 {
        if let Some(t) = store.message_triage(early.message_id).await.unwrap() {
            found = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = found.expect("the early message was never triaged");
    assert_eq!(t.intent, "refund_return");
    engine.shutdown(Duration::from_secs(5)).await;
}

/// Routing waits for the triage of a new conversation's first message, so a rule on the
/// detected intent and sentiment fires on "conversation created". The test drives routing rounds
/// and stores the triage itself, so the order is fixed: round 1 runs before any triage exists.
#[tokio::test]
async fn routing_waits_for_the_triage_of_a_new_conversation() {
    use switchboard_domain::automation::{Action, Condition, Rule, TriggerEvent};
    use switchboard_engine::routing::{ManualClock, RoutingConfig};
    use switchboard_store::MessageTriage;
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("r.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    store
        .create_rule(
            0,
            &Rule {
                name: "hacked accounts".into(),
                enabled: true,
                events: vec![TriggerEvent::ConversationCreated],
                conditions: vec![
                    Condition::Intent { any_of: vec!["account_access".into()] },
                    Condition::Sentiment { any_of: vec!["negative".into()] },
                ],
                actions: vec![Action::AddTags { tags: vec!["security".into()] }],
                stop_processing: false,
            },
        )
        .await
        .unwrap();
    let clock = ManualClock::new(Utc::now());
    let config = EngineConfig {
        routing: RoutingConfig {
            enabled: false,
            tick: Duration::from_secs(3600),
            clock: clock.clock(),
            ..Default::default()
        },
        ..Default::default()
    };
    let engine = Engine::start(store.clone(), config).await;
    engine.routing().wait_for_triage(Duration::from_secs(60));
    let ack = engine.ingestor().submit(event("h1", "My account was hacked and I cannot log in!!")).await.unwrap();
    let mut msg = None;
    for _ in 0..200 {
        msg = store.get_message(ack.message_id).await.unwrap();
        if msg.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let msg = msg.expect("the message was never threaded");
    let conv = msg.conversation_id;

    // No triage yet: routing defers the conversation instead of running the created rules.
    assert_eq!(engine.routing().tick().await.unwrap().processed, 1);
    assert!(store.get_routing_state(conv).await.unwrap().unwrap().synced_at.is_none(), "routed without triage");
    assert!(store.get_conversation(conv).await.unwrap().unwrap().tags.is_empty());
    // Not taken again before the short deferral lapses.
    assert_eq!(engine.routing().tick().await.unwrap().processed, 0);

    store
        .save_triage(vec![MessageTriage {
            message_id: msg.id,
            conversation_id: conv,
            language: "en".into(),
            language_confidence: 0.9,
            sentiment: "negative".into(),
            sentiment_score: -0.8,
            intent: "account_access".into(),
            intent_confidence: 0.9,
            intent_by_agent: false,
            priority: "P1".into(),
            priority_reasons: vec![],
            pii: vec![],
            redacted_text: msg.text.clone(),
            intent_model_version: None,
            created_at: Utc::now(),
        }])
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(engine.routing().tick().await.unwrap().processed, 1);
    assert_eq!(store.get_conversation(conv).await.unwrap().unwrap().tags, vec!["security".to_owned()]);
    assert!(store.get_routing_state(conv).await.unwrap().unwrap().synced_at.is_some());
    engine.shutdown(Duration::from_secs(5)).await;
}
