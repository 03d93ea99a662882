//! The routing store suite (teams, assignment, calendars, SLA timers, rules, canned replies):
//! every test runs against SQLite, and against PostgreSQL when `TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used)]

mod common;

use common::for_each_backend;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use switchboard_domain::automation::{Action, Rule, TriggerEvent};
use switchboard_domain::calendar::CalendarSpec;
use switchboard_domain::routing::{AssignmentPolicy, Availability, MemberRole, Skills};
use switchboard_domain::sla::{EscalationAction, SlaMetric, SlaPolicy, SlaTimerKind};
use switchboard_domain::{
    ChannelSlug, ContactRef, ConversationId, FactKind, InboundEvent, Priority, Role, UserId, Visibility,
};
use switchboard_store::routing::{AUTOMATION_USER, CannedInput, MemberInput, RoutingState, TeamInput, TimerSpec};
use switchboard_store::{
    ConversationPatch, DynStore, MessageKind, NewMessage, NewUser, StoreError, ThreadingRules, User,
};

macro_rules! assert_err {
    ($result:expr, $variant:ident) => {{
        let r = $result;
        assert!(
            matches!(r, Err(StoreError::$variant { .. })),
            "expected StoreError::{}, got {:?}",
            stringify!($variant),
            r
        );
    }};
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn conversation(s: &DynStore, user: &str, text: &str) -> ConversationId {
    let ev = InboundEvent {
        channel: ChannelSlug::parse("wa").unwrap(),
        provider_event_id: format!("{user}-{text}"),
        contact: ContactRef { provider_user_id: user.to_owned(), handle: None, display_name: Some(user.to_owned()) },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.to_owned(),
        attachments: Vec::new(),
        sent_at: t("2026-01-12T08:00:00Z"),
        extra: serde_json::Map::new(),
    };
    s.append_inbound(vec![ev]).await.unwrap();
    let waiting = s.unprocessed_events(100).await.unwrap();
    s.thread_events(waiting, ThreadingRules::default()).await.unwrap()[0].conversation_id
}

async fn agent(s: &DynStore, email: &str) -> User {
    s.create_user(&NewUser { email: email.into(), name: email.into(), role: Role::Agent, password_hash: None })
        .await
        .unwrap()
}

fn team(name: &str, policy: AssignmentPolicy, calendar: Option<&str>) -> TeamInput {
    TeamInput {
        name: name.into(),
        description: String::new(),
        assignment_policy: policy,
        calendar: calendar.map(Into::into),
    }
}

fn member(langs: &[&str], cap: u32) -> MemberInput {
    MemberInput {
        role: MemberRole::Agent,
        skills: Skills { languages: langs.iter().map(|s| s.to_string()).collect(), ..Default::default() },
        capacity: [("*".to_string(), cap)].into(),
    }
}

async fn to_team(s: &DynStore, id: ConversationId, team: &str) {
    s.update_conversation(id, &ConversationPatch { team: Some(Some(team.into())), ..Default::default() }, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn teams_members_and_skill_assignment() {
    for_each_backend(|s| async move {
        let office = CalendarSpec {
            time_zone: "Asia/Shanghai".into(),
            always_open: true,
            weekly: vec![],
            special_dates: vec![],
        };
        s.put_calendar("shanghai", &office).await.unwrap();
        assert_err!(s.create_team(&team("Bad Name", AssignmentPolicy::Manual, None)).await, Invalid);
        assert_err!(s.create_team(&team("cn", AssignmentPolicy::Manual, Some("nowhere"))).await, Invalid);
        let created = s.create_team(&team("cn", AssignmentPolicy::SkillMatch, Some("shanghai"))).await.unwrap();
        assert_eq!(created.assignment_policy, AssignmentPolicy::SkillMatch);
        assert_err!(s.create_team(&team("cn", AssignmentPolicy::Manual, None)).await, Conflict);
        assert_err!(s.delete_calendar("shanghai").await, Conflict);

        let (en, zh) = (agent(&s, "en@x.test").await, agent(&s, "zh@x.test").await);
        s.put_team_member("cn", en.id, &member(&["en"], 5)).await.unwrap();
        let m = s.put_team_member("cn", zh.id, &member(&["zh"], 1)).await.unwrap();
        assert_eq!((m.availability, m.capacity.get("*").copied()), (Availability::Offline, Some(1)));
        assert_err!(s.put_team_member("cn", UserId::new(), &member(&[], 1)).await, Invalid);
        assert_eq!(s.list_team_members("cn").await.unwrap().len(), 2);

        let c1 = conversation(&s, "u1", "你好").await;
        to_team(&s, c1, "cn").await;
        let at = t("2026-01-12T09:00:00Z");
        // Everyone offline: nobody is picked.
        assert_eq!(s.assign_next(c1, Some("zh"), None, at).await.unwrap(), None);
        s.set_availability(en.id, Availability::Online, at).await.unwrap();
        s.set_availability(zh.id, Availability::Online, at).await.unwrap();
        assert_eq!(s.get_availability(zh.id).await.unwrap(), Availability::Online);
        // Language first.
        assert_eq!(s.assign_next(c1, Some("zh-CN"), None, at).await.unwrap(), Some(zh.id));
        assert_eq!(s.get_conversation(c1).await.unwrap().unwrap().assignee_id, Some(zh.id));
        // Already assigned: nothing changes.
        assert_eq!(s.assign_next(c1, Some("zh"), None, at).await.unwrap(), None);
        // The Chinese speaker is full (capacity 1): the next Chinese conversation goes to the other.
        let c2 = conversation(&s, "u2", "在吗").await;
        to_team(&s, c2, "cn").await;
        assert_eq!(s.assign_next(c2, Some("zh"), None, at).await.unwrap(), Some(en.id));

        // Going offline unassigns open work and says which, so it can be routed again.
        let freed = s.set_availability(zh.id, Availability::Offline, at).await.unwrap();
        assert_eq!(freed.iter().map(|f| f.0).collect::<Vec<_>>(), vec![c1]);
        let conv = s.get_conversation(c1).await.unwrap().unwrap();
        assert_eq!(conv.assignee_id, None);
        let facts = s.list_facts(c1).await.unwrap();
        assert!(facts.iter().any(|f| f.kind == FactKind::AssigneeChanged && f.actor_id == Some(AUTOMATION_USER)));

        // Renaming a team moves its conversations along.
        s.update_team("cn", &team("china", AssignmentPolicy::RoundRobin, None)).await.unwrap();
        assert_eq!(s.get_conversation(c2).await.unwrap().unwrap().team.as_deref(), Some("china"));
        assert!(s.get_team("cn").await.unwrap().is_none());
        s.remove_team_member("china", en.id).await.unwrap();
        assert_err!(s.remove_team_member("china", en.id).await, NotFound);
        s.delete_calendar("shanghai").await.unwrap();
        s.delete_team("china").await.unwrap();
        assert!(s.list_teams().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_assignment_respects_capacity() {
    for_each_backend(|s| async move {
        s.create_team(&team("support", AssignmentPolicy::LeastBusy, None)).await.unwrap();
        let at = t("2026-01-12T09:00:00Z");
        let mut agents = Vec::new();
        for i in 0..3 {
            let a = agent(&s, &format!("a{i}@x.test")).await;
            s.put_team_member("support", a.id, &member(&[], 2)).await.unwrap();
            s.set_availability(a.id, Availability::Online, at).await.unwrap();
            agents.push(a.id);
        }
        let mut convs = Vec::new();
        for i in 0..10 {
            let c = conversation(&s, &format!("c{i}"), "help").await;
            to_team(&s, c, "support").await;
            convs.push(c);
        }
        let tasks: Vec<_> = convs
            .iter()
            .map(|&c| {
                let s = s.clone();
                tokio::spawn(async move { s.assign_next(c, None, None, at).await.unwrap() })
            })
            .collect();
        let mut per_agent: BTreeMap<UserId, usize> = BTreeMap::new();
        for t in tasks {
            if let Some(a) = t.await.unwrap() {
                *per_agent.entry(a).or_default() += 1;
            }
        }
        // 3 agents × capacity 2: six assigned, never more than two each.
        assert_eq!(per_agent.values().sum::<usize>(), 6, "{per_agent:?}");
        assert!(per_agent.values().all(|&n| n == 2), "{per_agent:?}");
    })
    .await;
}

fn rule(name: &str) -> Rule {
    Rule {
        name: name.into(),
        enabled: true,
        events: vec![TriggerEvent::ConversationCreated],
        conditions: vec![],
        actions: vec![Action::AddTags { tags: vec!["x".into()] }],
        stop_processing: false,
    }
}

#[tokio::test]
async fn policies_rules_and_canned_replies() {
    for_each_backend(|s| async move {
        let mut p = SlaPolicy::defaults();
        let b = s.create_sla_policy(2, &p[1]).await.unwrap();
        let a = s.create_sla_policy(1, &p[0]).await.unwrap();
        assert_err!(s.create_sla_policy(3, &p[0]).await, Conflict);
        let names: Vec<String> = s.list_sla_policies().await.unwrap().into_iter().map(|r| r.policy.name).collect();
        assert_eq!(names, ["Default urgent", "Default high"]);
        p[1].name = "Renamed".into();
        assert_eq!(s.update_sla_policy(b.id, 0, &p[1]).await.unwrap().policy.name, "Renamed");
        assert_eq!(s.list_sla_policies().await.unwrap()[0].id, b.id);
        s.delete_sla_policy(a.id).await.unwrap();
        assert_err!(s.delete_sla_policy(a.id).await, NotFound);

        let r1 = s.create_rule(10, &rule("tag all")).await.unwrap();
        assert_err!(s.create_rule(11, &rule("tag all")).await, Conflict);
        s.create_rule(5, &rule("first")).await.unwrap();
        let names: Vec<String> = s.list_rules().await.unwrap().into_iter().map(|r| r.rule.name).collect();
        assert_eq!(names, ["first", "tag all"]);
        s.delete_rule(r1.id).await.unwrap();
        assert_err!(s.update_rule(r1.id, 1, &rule("gone")).await, NotFound);

        s.create_team(&team("billing", AssignmentPolicy::Manual, None)).await.unwrap();
        let variants = |en: &str| -> BTreeMap<String, String> {
            [("en".to_string(), en.to_string()), ("zh".to_string(), "您好 {{contact.first_name}}".to_string())].into()
        };
        let canned = |team: Option<&str>, en: &str| CannedInput {
            shortcut: "hello".into(),
            title: "Hello".into(),
            team: team.map(Into::into),
            variants: variants(en),
        };
        let global = s.create_canned(&canned(None, "Hi {{contact.first_name}}")).await.unwrap();
        let own = s.create_canned(&canned(Some("billing"), "Hi from billing")).await.unwrap();
        assert_err!(s.create_canned(&canned(None, "again")).await, Conflict);
        assert_err!(s.create_canned(&canned(None, "{{contact.ssn}}")).await, Invalid);
        assert_eq!(s.find_canned("hello", Some("billing")).await.unwrap().unwrap().id, own.id);
        assert_eq!(s.find_canned("hello", None).await.unwrap().unwrap().id, global.id);
        assert_eq!(s.find_canned("hello", Some("other")).await.unwrap().unwrap().id, global.id);
        assert_eq!(s.list_canned(None).await.unwrap().len(), 1);
        assert_eq!(s.list_canned(Some("billing")).await.unwrap().len(), 2);
        s.count_canned_use(global.id).await.unwrap();
        s.count_canned_use(global.id).await.unwrap();
        assert_eq!(s.get_canned(global.id).await.unwrap().unwrap().usage_count, 2);
        let updated = s.update_canned(own.id, &canned(Some("billing"), "Changed")).await.unwrap();
        assert_eq!(updated.variants["en"], "Changed");
        s.delete_canned(own.id).await.unwrap();
        assert_eq!(s.find_canned("hello", Some("billing")).await.unwrap().unwrap().id, global.id);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timers_fire_exactly_once_and_escalate() {
    for_each_backend(|s| async move {
        let c = conversation(&s, "u1", "help").await;
        let now = t("2030-01-01T00:00:00Z");
        let lease = now + Duration::seconds(30);
        let work = s.claim_routing_work(now, lease, 100).await.unwrap();
        assert!(work.contains(&c));
        // Leased: a second claimer (another node) does not get it.
        assert!(!s.claim_routing_work(now, lease, 100).await.unwrap().contains(&c));
        assert!(s.get_routing_state(c).await.unwrap().unwrap().synced_at.is_none());
        // Deferred (waiting for triage): claimable again once the short lease lapses, not before.
        let soon = now + Duration::milliseconds(200);
        s.defer_routing(c, soon).await.unwrap();
        assert!(!s.claim_routing_work(now, lease, 100).await.unwrap().contains(&c));
        assert!(s.claim_routing_work(soon + Duration::milliseconds(1), lease, 100).await.unwrap().contains(&c));

        let conv = s.get_conversation(c).await.unwrap().unwrap();
        let (w, e) = (t("2030-01-01T01:00:00Z"), t("2030-01-01T02:00:00Z"));
        let timers = vec![
            TimerSpec {
                metric: SlaMetric::FirstResponse,
                cycle: 0,
                kind: SlaTimerKind::Warning,
                action: None,
                fire_at: w,
            },
            TimerSpec {
                metric: SlaMetric::FirstResponse,
                cycle: 0,
                kind: SlaTimerKind::Escalation(1),
                action: Some(EscalationAction::RaisePriority),
                fire_at: e,
            },
        ];
        let state = RoutingState {
            conversation_id: c,
            synced_at: Some(conv.updated_at),
            seen_message_at: Some(conv.last_message_at),
            policy: Some("Default normal".into()),
            clocks: vec![],
            auto_resolve_hours: None,
        };
        s.save_routing_state(&state, &timers).await.unwrap();
        assert_eq!(s.get_routing_state(c).await.unwrap().unwrap(), state);
        assert!(!s.claim_routing_work(now, lease, 100).await.unwrap().contains(&c), "synced: no work");

        assert!(s.fire_due_timers(w - Duration::seconds(1), 10).await.unwrap().is_empty());
        // Two nodes fire at once: each timer fires exactly once.
        let (a, b) = tokio::join!(s.fire_due_timers(e, 10), s.fire_due_timers(e, 10));
        let mut fired = a.unwrap();
        fired.extend(b.unwrap());
        fired.sort_by_key(|f| f.fire_at);
        assert_eq!(
            fired.iter().map(|f| f.kind).collect::<Vec<_>>(),
            [SlaTimerKind::Warning, SlaTimerKind::Escalation(1)]
        );
        assert!(s.fire_due_timers(e + Duration::hours(1), 10).await.unwrap().is_empty());
        let conv = s.get_conversation(c).await.unwrap().unwrap();
        assert_eq!(conv.priority, Priority::High, "raise_priority escalation applied");
        let facts = s.list_facts(c).await.unwrap();
        assert_eq!(facts.iter().filter(|f| f.kind == FactKind::SlaWarning).count(), 1);
        let esc: Vec<_> = facts.iter().filter(|f| f.kind == FactKind::SlaEscalated).collect();
        assert_eq!(esc.len(), 1);
        assert_eq!(esc[0].data["action"]["type"], "raise_priority");

        // Rescheduling the same timers after they fired never fires them again.
        let state = RoutingState { synced_at: Some(conv.updated_at), ..state };
        s.save_routing_state(&state, &timers).await.unwrap();
        assert!(s.fire_due_timers(e + Duration::hours(2), 10).await.unwrap().is_empty());

        // A timer of a conversation changed since routing last looked is held back until resynced.
        let late = TimerSpec { kind: SlaTimerKind::Breach, fire_at: e, action: None, ..timers[0].clone() };
        s.save_routing_state(&state, std::slice::from_ref(&late)).await.unwrap();
        s.update_conversation(c, &ConversationPatch { tags: Some(vec!["x".into()]), ..Default::default() }, None)
            .await
            .unwrap();
        assert!(s.fire_due_timers(e + Duration::hours(2), 10).await.unwrap().is_empty());
        let conv = s.get_conversation(c).await.unwrap().unwrap();
        s.save_routing_state(&RoutingState { synced_at: Some(conv.updated_at), ..state }, &[late]).await.unwrap();
        assert_eq!(s.fire_due_timers(e + Duration::hours(2), 10).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn automatic_replies_are_sent_but_are_no_first_response() {
    for_each_backend(|s| async move {
        let c = conversation(&s, "u1", "help").await;
        let msg = NewMessage {
            conversation_id: c,
            author_id: AUTOMATION_USER,
            kind: MessageKind::Reply,
            visibility: Visibility::Private,
            text: "Thanks — your case number is SB-000001.".into(),
            idempotency_key: Some(format!("auto-ack:{c}")),
            at: t("2026-01-12T08:00:01Z"),
        };
        let (m, created) = s.post_automatic_reply(&msg).await.unwrap();
        assert!(created);
        assert_eq!(m.author_id, Some(AUTOMATION_USER));
        let (again, created) = s.post_automatic_reply(&msg).await.unwrap();
        assert!(!created);
        assert_eq!(again.id, m.id);
        let conv = s.get_conversation(c).await.unwrap().unwrap();
        assert_eq!(conv.first_response_at, None);
        assert!(s.list_facts(c).await.unwrap().iter().all(|f| f.kind != FactKind::FirstResponse));
        assert_eq!(s.outbox_backlog().await.unwrap(), 1, "sent through the outbox");
        let contact = s.get_conversation(c).await.unwrap().unwrap().contact_id;
        assert!(s.get_contact_attributes(contact).await.unwrap().is_empty());
        let attrs: BTreeMap<String, String> = [("tier".to_string(), "gold".to_string())].into();
        s.set_contact_attributes(contact, &attrs).await.unwrap();
        assert_eq!(s.get_contact_attributes(contact).await.unwrap(), attrs);
        let bad: BTreeMap<String, String> = [("Tier!".to_string(), "x".to_string())].into();
        assert_err!(s.set_contact_attributes(contact, &bad).await, Invalid);
        assert_err!(s.set_contact_attributes(switchboard_domain::ContactId::new(), &attrs).await, NotFound);
        s.set_contact_attributes(contact, &BTreeMap::new()).await.unwrap();
        assert!(s.get_contact_attributes(contact).await.unwrap().is_empty());
        s.record_routing_fact(c, FactKind::RuleFired, serde_json::json!({"rule": "r"}), t("2026-01-12T08:00:02Z"))
            .await
            .unwrap();
        assert!(s.list_facts(c).await.unwrap().iter().any(|f| f.kind == FactKind::RuleFired));
    })
    .await;
}
