//! End to end with a controllable clock: an urgent, angry message outside business hours is
//! acknowledged with the real answer time, lands in the right team and agent, warns and
//! escalates on schedule, each exactly once. Runs on SQLite, and on PostgreSQL when
//! `TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used)]

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use switchboard_domain::automation::{Action, Condition, Rule, TriggerEvent};
use switchboard_domain::calendar::{BusinessCalendar, CalendarSpec, SpecialDate};
use switchboard_domain::canned::{acknowledgement, format_due_local};
use switchboard_domain::routing::{AssignmentPolicy, Availability, MemberRole, Skills};
use switchboard_domain::sla::{
    EscalationAction, EscalationLevel, SlaConditions, SlaMetric, SlaPolicy, SlaTarget, TimeBasis,
};
use switchboard_domain::{
    ChannelKind, ChannelSlug, ContactRef, Conversation, Direction, FactKind, InboundEvent, Priority, Role, Visibility,
};
use switchboard_engine::routing::{ManualClock, RoutingConfig};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::routing::{AUTOMATION_USER, MemberInput, TeamInput};
use switchboard_store::triage::MessageTriage;
use switchboard_store::{ChannelRecord, DynStore, NewUser, StoreOptions};

async fn facts_of(store: &DynStore, conv: &Conversation, kind: FactKind) -> Vec<serde_json::Value> {
    store.list_facts(conv.id).await.unwrap().into_iter().filter(|f| f.kind == kind).map(|f| f.data).collect()
}

async fn scenario(store: DynStore) {
    let start = Utc::now();
    // Closed today and tomorrow (UTC), open around the clock otherwise: the message arrives
    // outside business hours whatever the time of day the test runs.
    let today = start.date_naive();
    let spec = CalendarSpec {
        time_zone: "UTC".into(),
        always_open: true,
        weekly: vec![],
        special_dates: [today, today + Duration::days(1)]
            .into_iter()
            .map(|date| SpecialDate { date, name: "closed".into(), intervals: vec![] })
            .collect(),
    };
    let cal = BusinessCalendar::new(&spec).unwrap();
    store.put_calendar("office", &spec).await.unwrap();
    for name in ["escalations", "tier2"] {
        store
            .create_team(&TeamInput {
                name: name.into(),
                description: String::new(),
                assignment_policy: AssignmentPolicy::LeastBusy,
                calendar: Some("office".into()),
            })
            .await
            .unwrap();
    }
    let agent = store
        .create_user(&NewUser { email: "li@x.test".into(), name: "Li".into(), role: Role::Agent, password_hash: None })
        .await
        .unwrap();
    let member = MemberInput { role: MemberRole::Agent, skills: Skills::default(), capacity: [("*".into(), 5)].into() };
    store.put_team_member("escalations", agent.id, &member).await.unwrap();
    store.set_availability(agent.id, Availability::Online, start).await.unwrap();
    store
        .create_sla_policy(
            0,
            &SlaPolicy {
                name: "Urgent".into(),
                conditions: SlaConditions { priorities: vec![Priority::Urgent], ..Default::default() },
                first_response: Some(SlaTarget { minutes: 30, basis: TimeBasis::Business }),
                next_response: None,
                resolution: None,
                warn_at_percent: Some(75),
                escalations: vec![
                    EscalationLevel { at_percent: 100, action: EscalationAction::NotifySupervisor },
                    EscalationLevel { at_percent: 200, action: EscalationAction::MoveToTeam { team: "tier2".into() } },
                ],
            },
        )
        .await
        .unwrap();
    store
        .create_rule(
            0,
            &Rule {
                name: "angry customers".into(),
                enabled: true,
                events: vec![TriggerEvent::ConversationCreated],
                conditions: vec![Condition::Keywords { any_of: vec!["unacceptable".into(), "furious".into()] }],
                actions: vec![
                    Action::SetPriority { priority: Priority::Urgent },
                    Action::AssignTeam { team: "escalations".into() },
                    Action::AddTags { tags: vec!["complaint".into()] },
                ],
                stop_processing: false,
            },
        )
        .await
        .unwrap();
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("api").unwrap(),
            kind: ChannelKind::Api,
            name: "API".into(),
            callback_url: None,
            secret: None,
            config: serde_json::json!({}),
            created_at: start,
        })
        .await
        .unwrap();

    let clock = ManualClock::new(start);
    let config = EngineConfig {
        routing: RoutingConfig {
            auto_ack: true,
            // No background job: the test drives time and every round itself, so it never reads
            // a conversation halfway through a round it did not start.
            enabled: false,
            tick: StdDuration::from_secs(3600),
            clock: clock.clock(),
            ..Default::default()
        },
        ..Default::default()
    };
    let engine = Engine::start(store.clone(), config).await;
    store
        .append_inbound(vec![InboundEvent {
            channel: ChannelSlug::parse("api").unwrap(),
            provider_event_id: "e1".into(),
            contact: ContactRef { provider_user_id: "c1".into(), handle: None, display_name: Some("Ada Byron".into()) },
            thread_key: String::new(),
            visibility: Visibility::Private,
            text: "This is unacceptable, my order is a week late!".into(),
            attachments: vec![],
            sent_at: start,
            extra: serde_json::Map::new(),
        }])
        .await
        .unwrap();
    engine.wake_pipeline();

    // Triaged, routed and acknowledged.
    let mut conv = None;
    for _ in 0..200 {
        engine.routing().tick().await.unwrap();
        let page = store.list_conversations(&Default::default()).await.unwrap();
        if let Some(c) = page.items.first().map(|s| s.conversation.clone())
            && c.assignee_id.is_some()
            && store.list_messages(c.id).await.unwrap().len() == 2
        {
            conv = Some(c);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let conv = conv.expect("conversation routed and acknowledged within 10 s");
    assert_eq!(conv.priority, Priority::Urgent);
    assert_eq!(conv.team.as_deref(), Some("escalations"));
    assert_eq!(conv.assignee_id, Some(agent.id));
    assert_eq!(conv.tags, ["complaint"]);
    let fired = facts_of(&store, &conv, FactKind::RuleFired).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["rule"], "angry customers");
    assert!(fired[0]["reasons"].as_array().unwrap().iter().any(|r| r == "keyword \"unacceptable\" found"));

    // The acknowledgement names the case and the real due time: 30 business minutes after the
    // calendar opens again.
    let due = cal.add_business(conv.created_at, Duration::minutes(30)).unwrap();
    assert!(due > conv.created_at + Duration::hours(1), "outside hours: due waits for opening");
    let messages = store.list_messages(conv.id).await.unwrap();
    let ack = messages.iter().find(|m| m.direction == Direction::Outbound).unwrap();
    let ack_now = ack.created_at;
    let due_local = format_due_local(due, ack_now, cal.time_zone(), Some("en"));
    assert_eq!(ack.text, acknowledgement(conv.case_number, &due_local, Some("en")));
    assert!(ack.text.contains(&conv.case_number.to_string()));
    assert_eq!(ack.author_id, Some(AUTOMATION_USER));
    let conv_now = store.get_conversation(conv.id).await.unwrap().unwrap();
    assert_eq!(conv_now.first_response_at, None, "the acknowledgement is no first response");
    assert_eq!(facts_of(&store, &conv, FactKind::AutoAcknowledged).await.len(), 1);
    let sla = engine.routing().sla_status(&conv_now).await.unwrap();
    let first = sla.iter().find(|s| s.metric == SlaMetric::FirstResponse).unwrap();
    assert_eq!((first.due_at, first.policy.as_str()), (Some(due), "Urgent"));

    // Li goes offline: the conversation is unassigned and routed again, to Bo.
    let bo = store
        .create_user(&NewUser { email: "bo@x.test".into(), name: "Bo".into(), role: Role::Agent, password_hash: None })
        .await
        .unwrap();
    store.put_team_member("escalations", bo.id, &member).await.unwrap();
    store.set_availability(bo.id, Availability::Online, start).await.unwrap();
    clock.advance(Duration::seconds(1));
    let freed = store.set_availability(agent.id, Availability::Offline, engine.routing().now()).await.unwrap();
    assert_eq!(freed.len(), 1);
    engine.routing().tick().await.unwrap();
    assert_eq!(store.get_conversation(conv.id).await.unwrap().unwrap().assignee_id, Some(bo.id));

    // Warning at 75 %, breach and level 1 at 100 %, level 2 at 200 %; each once.
    let warn_at = cal.add_business(conv.created_at, Duration::seconds(30 * 60 * 3 / 4)).unwrap();
    let level2_at = cal.add_business(conv.created_at, Duration::minutes(60)).unwrap();
    let tick = || async { engine.routing().tick().await.unwrap() };
    clock.set(warn_at - Duration::seconds(1));
    tick().await;
    assert!(facts_of(&store, &conv, FactKind::SlaWarning).await.is_empty(), "no warning before 75 %");
    clock.set(warn_at);
    tick().await;
    assert_eq!(facts_of(&store, &conv, FactKind::SlaWarning).await.len(), 1);
    assert!(facts_of(&store, &conv, FactKind::SlaBreached).await.is_empty());
    clock.set(due);
    tick().await;
    tick().await;
    assert_eq!(facts_of(&store, &conv, FactKind::SlaWarning).await.len(), 1, "warning fired once");
    assert_eq!(facts_of(&store, &conv, FactKind::SlaBreached).await.len(), 1);
    let esc = facts_of(&store, &conv, FactKind::SlaEscalated).await;
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0]["action"]["type"], "notify_supervisor");
    clock.set(level2_at);
    tick().await;
    tick().await;
    let esc = facts_of(&store, &conv, FactKind::SlaEscalated).await;
    assert_eq!(esc.len(), 2, "{esc:?}");
    assert_eq!(esc[1]["action"]["type"], "move_to_team");
    let moved = store.get_conversation(conv.id).await.unwrap().unwrap();
    assert_eq!(moved.team.as_deref(), Some("tier2"));
    assert_eq!(moved.assignee_id, None, "tier2 has nobody online");
    clock.advance(Duration::days(3));
    tick().await;
    assert_eq!(facts_of(&store, &conv, FactKind::SlaEscalated).await.len(), 2, "nothing fires twice");
    assert_eq!(facts_of(&store, &conv, FactKind::SlaBreached).await.len(), 1);
    engine.shutdown(StdDuration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urgent_message_outside_hours_is_acknowledged_routed_warned_and_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("r.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    scenario(store).await;
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let (url, name) = switchboard_store::postgres::create_scratch_database(&admin, "sb_test_sla").await.unwrap();
        let store = switchboard_store::open(&url, &StoreOptions::default()).await.unwrap();
        let result = tokio::spawn(scenario(store)).await;
        let _ = switchboard_store::postgres::drop_scratch_database(&admin, &name).await;
        if let Err(e) = result {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

#[tokio::test]
async fn pending_conversation_is_resolved_after_inactivity() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("r.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    store
        .create_rule(
            0,
            &Rule {
                name: "close quiet cases".into(),
                enabled: true,
                events: vec![TriggerEvent::ConversationCreated],
                conditions: vec![],
                actions: vec![Action::AutoResolveAfter { hours: 24 }],
                stop_processing: false,
            },
        )
        .await
        .unwrap();
    let start = Utc::now();
    let clock = ManualClock::new(start);
    let config = EngineConfig {
        routing: RoutingConfig { enabled: false, clock: clock.clock(), ..Default::default() },
        ..Default::default()
    };
    let engine = Engine::start(store.clone(), config).await;
    store
        .append_inbound(vec![InboundEvent {
            channel: ChannelSlug::parse("api").unwrap(),
            provider_event_id: "q1".into(),
            contact: ContactRef { provider_user_id: "c9".into(), handle: None, display_name: None },
            thread_key: String::new(),
            visibility: Visibility::Private,
            text: "Is the shop open on Sunday?".into(),
            attachments: vec![],
            sent_at: start,
            extra: serde_json::Map::new(),
        }])
        .await
        .unwrap();
    engine.wake_pipeline();
    let mut conv = None;
    for _ in 0..200 {
        engine.routing().tick().await.unwrap();
        if let Some(c) = store.list_conversations(&Default::default()).await.unwrap().items.first() {
            let c = c.conversation.clone();
            if !facts_of(&store, &c, FactKind::RuleFired).await.is_empty() {
                conv = Some(c);
                break;
            }
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let conv = conv.expect("rule fired");
    // Open (not waiting on the customer): nothing happens however long it stays quiet.
    clock.advance(Duration::hours(30));
    engine.routing().tick().await.unwrap();
    assert_eq!(store.get_conversation(conv.id).await.unwrap().unwrap().status, switchboard_domain::Status::Open);
    // Pending: resolved 24 h after the last message.
    let pending = switchboard_store::ConversationPatch {
        status: Some(switchboard_domain::Status::Pending),
        ..Default::default()
    };
    store.update_conversation(conv.id, &pending, None).await.unwrap();
    clock.set(conv.last_message_at + Duration::hours(24) - Duration::seconds(1));
    engine.routing().tick().await.unwrap();
    assert_eq!(store.get_conversation(conv.id).await.unwrap().unwrap().status, switchboard_domain::Status::Pending);
    clock.set(conv.last_message_at + Duration::hours(24));
    engine.routing().tick().await.unwrap();
    let done = store.get_conversation(conv.id).await.unwrap().unwrap();
    assert_eq!(done.status, switchboard_domain::Status::Resolved);
    let changes = facts_of(&store, &conv, FactKind::StatusChanged).await;
    assert_eq!(changes.last().unwrap()["to"], "resolved");
    engine.shutdown(StdDuration::from_secs(5)).await;
}

/// Rules see the NLP triage of the customer's message: a sentiment condition matches once the
/// message is triaged negative.
#[tokio::test]
async fn rules_match_on_stored_triage() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        switchboard_store::open(dir.path().join("t.db").to_str().unwrap(), &StoreOptions::default()).await.unwrap();
    store
        .create_rule(
            0,
            &Rule {
                name: "unhappy".into(),
                enabled: true,
                events: vec![TriggerEvent::ConversationCreated],
                conditions: vec![Condition::Sentiment { any_of: vec!["negative".into()] }],
                actions: vec![Action::AddTags { tags: vec!["unhappy".into()] }],
                stop_processing: false,
            },
        )
        .await
        .unwrap();
    let start = Utc::now();
    let clock = ManualClock::new(start);
    let config = EngineConfig {
        routing: RoutingConfig { enabled: false, clock: clock.clock(), ..Default::default() },
        ..Default::default()
    };
    let engine = Engine::start(store.clone(), config).await;
    store
        .append_inbound(vec![InboundEvent {
            channel: ChannelSlug::parse("api").unwrap(),
            provider_event_id: "t1".into(),
            contact: ContactRef { provider_user_id: "c9".into(), handle: None, display_name: None },
            thread_key: String::new(),
            visibility: Visibility::Private,
            text: "Nothing works and nobody answers".into(),
            attachments: vec![],
            sent_at: start,
            extra: serde_json::Map::new(),
        }])
        .await
        .unwrap();
    engine.wake_pipeline();
    let mut conv = None;
    for _ in 0..200 {
        if let Some(c) = store.list_conversations(&Default::default()).await.unwrap().items.first() {
            conv = Some(c.conversation.clone());
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let conv = conv.expect("threaded");
    let msg = store.list_messages(conv.id).await.unwrap().remove(0);
    store
        .save_triage(vec![MessageTriage {
            message_id: msg.id,
            conversation_id: conv.id,
            language: "en".into(),
            language_confidence: 0.9,
            sentiment: "negative".into(),
            sentiment_score: -0.8,
            intent: "complaint".into(),
            intent_confidence: 0.7,
            intent_by_agent: false,
            priority: "P2".into(),
            priority_reasons: vec![],
            pii: vec![],
            redacted_text: msg.text.clone(),
            intent_model_version: None,
            created_at: start,
        }])
        .await
        .unwrap();
    engine.routing().tick().await.unwrap();
    let now = store.get_conversation(conv.id).await.unwrap().unwrap();
    assert_eq!(now.tags, ["unhappy"]);
    let fired = facts_of(&store, &conv, FactKind::RuleFired).await;
    assert_eq!(fired.len(), 1);
    engine.shutdown(StdDuration::from_secs(5)).await;
}
