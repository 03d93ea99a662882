//! A resolved conversation is asked CSAT on its channel with buttons; a typed answer and a button
//! press are recorded on the survey without reopening the conversation or adding a message; a
//! real new message still reopens it. SQLite, and PostgreSQL when `TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used)]

use std::time::Duration as StdDuration;

use chrono::Utc;
use switchboard_domain::{
    ChannelKind, ChannelSlug, ContactRef, Conversation, ConversationPatch, Direction, InboundEvent, Role, Status,
    Visibility,
};
use switchboard_engine::report_job::QualityConfig;
use switchboard_engine::routing::RoutingConfig;
use switchboard_engine::surveys::{self, SurveyConfig};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::quality::{SurveySettings, SurveyState};
use switchboard_store::routing::AUTOMATION_USER;
use switchboard_store::{ChannelRecord, DynStore, MessageKind, NewMessage, NewUser, StoreOptions};

fn event(id: &str, text: &str, button: Option<String>) -> InboundEvent {
    let mut extra = serde_json::Map::new();
    if let Some(b) = button {
        extra.insert("button_data".into(), serde_json::json!(b));
    }
    InboundEvent {
        channel: ChannelSlug::parse("api").unwrap(),
        provider_event_id: id.into(),
        contact: ContactRef { provider_user_id: "c1".into(), handle: None, display_name: Some("Ada".into()) },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.into(),
        attachments: vec![],
        sent_at: Utc::now(),
        extra,
    }
}

async fn drain(engine: &Engine, store: &DynStore) {
    engine.wake_pipeline();
    for _ in 0..200 {
        if store.pipeline_backlog().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(25)).await;
    }
    panic!("pipeline did not drain within 5 s");
}

async fn conv(store: &DynStore) -> Conversation {
    store.list_conversations(&Default::default()).await.unwrap().items[0].conversation.clone()
}

/// An API channel with CSAT on, one conversation answered by an agent, resolved and asked.
async fn asked(
    store: &DynStore,
) -> (Engine, Conversation, switchboard_store::quality::Survey, switchboard_domain::UserId) {
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("api").unwrap(),
            kind: ChannelKind::Api,
            name: "API".into(),
            callback_url: None,
            secret: None,
            config: serde_json::json!({}),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    store
        .put_survey_settings(&SurveySettings {
            channel: "api".into(),
            csat: true,
            nps: false,
            delay_minutes: 0,
            min_days_between: 30,
        })
        .await
        .unwrap();
    let config = EngineConfig {
        routing: RoutingConfig { enabled: false, ..Default::default() },
        quality: QualityConfig {
            surveys: SurveyConfig { enabled: false, ..Default::default() },
            reports: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let engine = Engine::start(store.clone(), config).await;
    store.append_inbound(vec![event("e1", "My parcel never arrived", None)]).await.unwrap();
    drain(&engine, store).await;
    let c = conv(store).await;
    let agent = store
        .create_user(&NewUser { email: "li@x.test".into(), name: "Li".into(), role: Role::Agent, password_hash: None })
        .await
        .unwrap();
    store
        .post_message(&NewMessage {
            conversation_id: c.id,
            author_id: agent.id,
            kind: MessageKind::Reply,
            visibility: Visibility::Private,
            text: "Sent again today.".into(),
            idempotency_key: None,
            at: Utc::now(),
        })
        .await
        .unwrap();
    let patch = ConversationPatch { status: Some(Status::Resolved), ..Default::default() };
    store.update_conversation(c.id, &patch, Some(agent.id)).await.unwrap();

    let wake = tokio::sync::Notify::new();
    assert_eq!(surveys::round(store, engine.bus(), &wake, None).await.unwrap(), 1);
    assert_eq!(surveys::round(store, engine.bus(), &wake, None).await.unwrap(), 0, "asked once");
    let history = store.contact_surveys(c.contact_id, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    (engine, c, history[0].clone(), agent.id)
}

async fn scenario(store: DynStore) {
    let (engine, c, survey, agent) = asked(&store).await;
    assert_eq!(survey.state, SurveyState::Sent);
    let question = store.get_message(survey.message_id.unwrap()).await.unwrap().unwrap();
    assert_eq!((question.direction, question.author_id), (Direction::Outbound, Some(AUTOMATION_USER)));
    let payload = store.reply_payload(question.id).await.unwrap().unwrap();
    assert_eq!(payload["buttons"].as_array().unwrap().len(), 5);
    assert_eq!(payload["buttons"][4]["data"], format!("csat:{}:5", survey.id));
    let messages_before = store.list_messages(c.id).await.unwrap().len();

    // A typed answer with a comment: recorded, the conversation stays resolved, no message added.
    store.append_inbound(vec![event("e2", "4 - thanks, quick help", None)]).await.unwrap();
    drain(&engine, &store).await;
    let s = store.get_survey(survey.id).await.unwrap().unwrap();
    assert_eq!((s.state, s.score, s.comment.as_deref()), (SurveyState::Answered, Some(4), Some("thanks, quick help")));
    assert_eq!(s.answered_via.as_deref(), Some("text"));
    assert_eq!((s.agent_id, s.conversation_id), (Some(agent), c.id));
    let now = conv(&store).await;
    assert_eq!((now.status, now.reopen_count), (Status::Resolved, 0));
    assert_eq!(store.list_messages(c.id).await.unwrap().len(), messages_before);

    // A late button press: consumed (not threaded), the first answer stands.
    store.append_inbound(vec![event("e3", "⭐⭐", Some(format!("csat:{}:2", survey.id)))]).await.unwrap();
    drain(&engine, &store).await;
    assert_eq!(store.get_survey(survey.id).await.unwrap().unwrap().score, Some(4));
    assert_eq!(conv(&store).await.status, Status::Resolved);
    assert_eq!(store.list_messages(c.id).await.unwrap().len(), messages_before);

    // Button data of another kind of survey or a forged id is just a message: it reopens.
    store.append_inbound(vec![event("e4", "It broke again", Some("bot:helped:x".into()))]).await.unwrap();
    drain(&engine, &store).await;
    let now = conv(&store).await;
    assert_eq!((now.status, now.reopen_count), (Status::Open, 1), "a real message reopens");
    assert_eq!(store.list_messages(c.id).await.unwrap().len(), messages_before + 1);
    engine.shutdown(StdDuration::from_secs(5)).await;
}

/// "2 items are missing" is a message, not a score; "5 stars but still no refund" is both.
async fn ambiguous(store: DynStore) {
    let (engine, c, survey, agent) = asked(&store).await;
    let messages_before = store.list_messages(c.id).await.unwrap().len();
    store.append_inbound(vec![event("a1", "2 items are missing from my order", None)]).await.unwrap();
    drain(&engine, &store).await;
    assert_eq!(store.get_survey(survey.id).await.unwrap().unwrap().state, SurveyState::Sent, "not an answer");
    let now = conv(&store).await;
    assert_eq!((now.status, now.reopen_count), (Status::Open, 1), "threaded: it reopens");
    assert_eq!(store.list_messages(c.id).await.unwrap().len(), messages_before + 1);

    let patch = ConversationPatch { status: Some(Status::Resolved), ..Default::default() };
    store.update_conversation(c.id, &patch, Some(agent)).await.unwrap();
    store.append_inbound(vec![event("a2", "5 stars but still no refund", None)]).await.unwrap();
    drain(&engine, &store).await;
    let s = store.get_survey(survey.id).await.unwrap().unwrap();
    assert_eq!((s.state, s.score, s.comment.as_deref()), (SurveyState::Answered, Some(5), Some("but still no refund")));
    let now = conv(&store).await;
    assert_eq!((now.status, now.reopen_count), (Status::Open, 2), "the complaint reaches a person");
    let messages = store.list_messages(c.id).await.unwrap();
    assert_eq!(messages.len(), messages_before + 2);
    assert_eq!(messages.last().unwrap().text, "5 stars but still no refund");
    engine.shutdown(StdDuration::from_secs(5)).await;
}

#[tokio::test]
async fn ambiguous_answers_are_threaded_when_they_ask_for_something() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = switchboard_store::open(path.to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    ambiguous(store).await;
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let (url, db) = switchboard_store::postgres::create_scratch_database(&admin, "sb_surveys_amb").await.unwrap();
        let store = switchboard_store::open(&url, &StoreOptions::default()).await.unwrap();
        ambiguous(store).await;
        switchboard_store::postgres::drop_scratch_database(&admin, &db).await.ok();
    }
}

#[tokio::test]
async fn surveys_are_answered_without_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = switchboard_store::open(path.to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    scenario(store).await;
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let (url, db) = switchboard_store::postgres::create_scratch_database(&admin, "sb_surveys").await.unwrap();
        let store = switchboard_store::open(&url, &StoreOptions::default()).await.unwrap();
        scenario(store).await;
        switchboard_store::postgres::drop_scratch_database(&admin, &db).await.ok();
    }
}
