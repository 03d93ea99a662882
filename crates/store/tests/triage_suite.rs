//! `TriageStore` on both backends: SQLite always, PostgreSQL when `TEST_DATABASE_URL` names a
//! server (a scratch database per test). Same harness as store_suite.rs.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Utc};
use common::for_each_backend;
use switchboard_domain::{ChannelSlug, ContactRef, InboundEvent, MessageId, Role, Visibility};
use switchboard_store::{DynStore, IntentLabel, MessageTriage, NewUser, StoreError, ThreadOutcome, ThreadingRules};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000 + secs, 0).unwrap()
}

async fn deliver(s: &DynStore, user: &str, texts: &[&str]) -> Vec<ThreadOutcome> {
    let events = texts
        .iter()
        .enumerate()
        .map(|(i, t)| InboundEvent {
            channel: ChannelSlug::parse("api").unwrap(),
            provider_event_id: format!("{user}-{i}-{t}"),
            contact: ContactRef { provider_user_id: user.to_owned(), handle: None, display_name: None },
            thread_key: String::new(),
            visibility: Visibility::Private,
            text: (*t).to_owned(),
            attachments: Vec::new(),
            sent_at: at(i as i64),
            extra: serde_json::Map::new(),
        })
        .collect();
    s.append_inbound(events).await.unwrap();
    let waiting = s.unprocessed_events(1000).await.unwrap();
    s.thread_events(waiting, ThreadingRules::default()).await.unwrap()
}

fn triage(o: &ThreadOutcome, intent: &str, secs: i64) -> MessageTriage {
    MessageTriage {
        message_id: o.message_id,
        conversation_id: o.conversation_id,
        language: "en".into(),
        language_confidence: 0.5,
        sentiment: "negative".into(),
        sentiment_score: -0.75,
        intent: intent.into(),
        intent_confidence: 0.25,
        intent_by_agent: false,
        priority: "P2".into(),
        priority_reasons: vec!["negative sentiment".into(), "public post".into()],
        pii: vec!["email".into()],
        redacted_text: "mail me at [EMAIL]".into(),
        intent_model_version: None,
        created_at: at(secs),
    }
}

#[tokio::test]
async fn triage_is_stored_per_message_and_latest_per_conversation() {
    for_each_backend(|s| async move {
        let out = deliver(&s, "alice", &["where is my order", "still nothing, mail me at a@b.co"]).await;
        assert_eq!(out.len(), 2);
        assert!(s.message_triage(out[0].message_id).await.unwrap().is_none());
        let first = triage(&out[0], "order_status", 0);
        let second = triage(&out[1], "complaint", 5);
        s.save_triage(vec![first.clone(), second.clone()]).await.unwrap();
        assert_eq!(s.message_triage(out[0].message_id).await.unwrap(), Some(first.clone()));
        assert_eq!(s.conversation_triage(out[0].conversation_id).await.unwrap(), Some(second.clone()));
        let mut both = vec![first.clone(), second.clone()];
        both.sort_by_key(|t| t.message_id);
        assert_eq!(s.conversation_message_triage(out[0].conversation_id).await.unwrap(), both);
        // Saving again replaces.
        let mut again = first.clone();
        again.sentiment = "neutral".into();
        s.save_triage(vec![again.clone()]).await.unwrap();
        assert_eq!(s.message_triage(out[0].message_id).await.unwrap(), Some(again));
        s.save_triage(Vec::new()).await.unwrap();

        // What the triage step missed: inbound messages after a cursor without a triage.
        let more = deliver(&s, "carol", &["one", "two"]).await;
        let zero = MessageId(uuid::Uuid::nil());
        assert_eq!(s.untriaged_messages(zero, 10).await.unwrap(), vec![more[0].message_id, more[1].message_id]);
        assert_eq!(s.untriaged_messages(more[0].message_id, 10).await.unwrap(), vec![more[1].message_id]);
        assert_eq!(s.untriaged_messages(zero, 1).await.unwrap().len(), 1);
        assert_eq!(s.latest_triaged_message().await.unwrap(), Some(out[1].message_id.max(out[0].message_id)));
    })
    .await;
}

#[tokio::test]
async fn agents_labels_override_and_survive_retriage_and_models_are_versioned() {
    for_each_backend(|s| async move {
        let out = deliver(&s, "bob", &["my account was hacked"]).await;
        let agent = s
            .create_user(&NewUser { email: "a@x.io".into(), name: "A".into(), role: Role::Agent, password_hash: None })
            .await
            .unwrap();
        s.save_triage(vec![triage(&out[0], "question", 0)]).await.unwrap();
        let label = IntentLabel {
            message_id: out[0].message_id,
            intent: "account_access".into(),
            text: "my account was hacked".into(),
            labelled_by: Some(agent.id),
            labelled_at: at(10),
        };
        s.label_intent(label.clone()).await.unwrap();
        let t = s.message_triage(out[0].message_id).await.unwrap().unwrap();
        assert_eq!((t.intent.as_str(), t.intent_by_agent, t.intent_confidence), ("account_access", true, 1.0));
        // A later automatic triage keeps the agent's intent.
        s.save_triage(vec![triage(&out[0], "other", 20)]).await.unwrap();
        assert_eq!(s.message_triage(out[0].message_id).await.unwrap().unwrap().intent, "account_access");
        assert_eq!(s.intent_labels().await.unwrap(), vec![label]);
        let missing = IntentLabel { message_id: MessageId::new(), ..s.intent_labels().await.unwrap()[0].clone() };
        assert!(matches!(s.label_intent(missing).await, Err(StoreError::NotFound(_))));

        assert!(s.active_intent_model().await.unwrap().is_none());
        let v1 = s.save_intent_model(vec![1, 2, 3], 40, "cold start").await.unwrap();
        let v2 = s.save_intent_model(vec![4, 5], 41, "retrained").await.unwrap();
        assert!(v2 > v1);
        let active = s.active_intent_model().await.unwrap().unwrap();
        assert_eq!((active.version, active.bytes, active.examples), (v2, vec![4, 5], 41));
        let all = s.intent_models().await.unwrap();
        assert_eq!(all.iter().map(|m| m.version).collect::<Vec<_>>(), vec![v2, v1]);
        assert!(all.iter().all(|m| m.bytes.is_empty()));
    })
    .await;
}
