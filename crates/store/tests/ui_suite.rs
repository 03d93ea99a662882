//! The UI and audit store suite: every test runs against SQLite, and against PostgreSQL when
//! `TEST_DATABASE_URL` names a server (each test gets a fresh database there).
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::for_each_backend;
use switchboard_domain::sla::{SlaMetric, SlaTimerKind};
use switchboard_domain::{
    ChannelSlug, ContactRef, ConversationId, InboundEvent, MessageId, Priority, Role, Status, UserId, Visibility,
};
use switchboard_store::routing::{RoutingState, TimerSpec};
use switchboard_store::triage::MessageTriage;
use switchboard_store::{
    AuditFilter, ConversationFilter, ConversationPatch, DynStore, InboxQuery, InboxSort, InboxView, NewAuditEntry,
    NewUser, StoreError, ThreadingRules, UiSession, User, UserPrefs, UserUpdate,
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

fn inbound(event_id: &str, user: &str, name: &str, text: &str, at: DateTime<Utc>) -> InboundEvent {
    InboundEvent {
        channel: ChannelSlug::parse("api").unwrap(),
        provider_event_id: event_id.to_owned(),
        contact: ContactRef { provider_user_id: user.to_owned(), handle: None, display_name: Some(name.to_owned()) },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.to_owned(),
        attachments: Vec::new(),
        sent_at: at,
        extra: serde_json::Map::new(),
    }
}

async fn deliver(s: &DynStore, events: Vec<InboundEvent>) -> Vec<ConversationId> {
    s.append_inbound(events).await.unwrap();
    let waiting = s.unprocessed_events(1000).await.unwrap();
    s.thread_events(waiting, ThreadingRules::default()).await.unwrap().iter().map(|o| o.conversation_id).collect()
}

async fn user(s: &DynStore, email: &str, role: Role) -> User {
    s.create_user(&NewUser { email: email.to_owned(), name: email.to_owned(), role, password_hash: Some("h".into()) })
        .await
        .unwrap()
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap()
}

fn query(user: UserId, view: InboxView) -> InboxQuery {
    InboxQuery {
        user,
        view,
        status: None,
        channel: None,
        priority: None,
        tag: None,
        language: None,
        sentiment: None,
        query: None,
        sort: InboxSort::Urgency,
        offset: 0,
        limit: 50,
    }
}

async fn ids(s: &DynStore, q: InboxQuery) -> Vec<ConversationId> {
    s.inbox(&q).await.unwrap().rows.iter().map(|r| r.summary.conversation.id).collect()
}

#[tokio::test]
async fn sessions_expire_end_and_follow_the_user() {
    for_each_backend(|s| async move {
        let ana = user(&s, "ana@x.test", Role::Agent).await;
        let now = Utc::now();
        let mk = |h: &str, exp: DateTime<Utc>| UiSession {
            id_hash: h.to_owned(),
            user_id: ana.id,
            csrf_token: format!("csrf-{h}"),
            created_at: now,
            last_seen_at: now,
            expires_at: exp,
        };
        s.create_session(&mk("a", now + Duration::hours(1))).await.unwrap();
        s.create_session(&mk("b", now + Duration::hours(1))).await.unwrap();
        s.create_session(&mk("old", now - Duration::seconds(1))).await.unwrap();
        let (sess, u) = s.find_session("a", now).await.unwrap().unwrap();
        assert_eq!((sess.csrf_token.as_str(), u.id), ("csrf-a", ana.id));
        assert!(s.find_session("old", now).await.unwrap().is_none(), "expired session accepted");
        assert!(s.find_session("nope", now).await.unwrap().is_none());

        s.touch_session("a", now, now + Duration::hours(5)).await.unwrap();
        assert!(s.find_session("a", now + Duration::hours(3)).await.unwrap().is_some());

        s.delete_session("a").await.unwrap();
        assert!(s.find_session("a", now).await.unwrap().is_none());

        // A disabled user's sessions stop working; logging out everywhere removes them.
        s.update_user(ana.id, &UserUpdate { disabled: Some(true), ..Default::default() }).await.unwrap();
        assert!(s.find_session("b", now).await.unwrap().is_none());
        s.update_user(ana.id, &UserUpdate { disabled: Some(false), ..Default::default() }).await.unwrap();
        assert!(s.find_session("b", now).await.unwrap().is_some());
        assert_eq!(s.delete_user_sessions(ana.id).await.unwrap(), 2);
        assert!(s.find_session("b", now).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn login_failures_count_per_email_and_address() {
    for_each_backend(|s| async move {
        let now = Utc::now();
        for i in 0..3 {
            s.record_login_failure("Ana@X.test", "10.0.0.1", now - Duration::minutes(i)).await.unwrap();
        }
        s.record_login_failure("bo@x.test", "10.0.0.1", now).await.unwrap();
        s.record_login_failure("ana@x.test", "10.0.0.2", now - Duration::hours(2)).await.unwrap();
        let since = now - Duration::minutes(15);
        assert_eq!(s.login_failures_since("ana@x.test", "10.0.0.1", since).await.unwrap(), (3, 4));
        assert_eq!(s.login_failures_since("ana@x.test", "10.0.0.2", since).await.unwrap(), (3, 0));
        s.clear_login_failures("ANA@x.test").await.unwrap();
        assert_eq!(s.login_failures_since("ana@x.test", "10.0.0.1", since).await.unwrap(), (0, 1));
    })
    .await;
}

#[tokio::test]
async fn prefs_and_user_updates() {
    for_each_backend(|s| async move {
        let ana = user(&s, "ana@x.test", Role::Agent).await;
        assert_eq!(s.get_prefs(ana.id).await.unwrap(), UserPrefs::default());
        let p = UserPrefs { locale: Some("zh-CN".into()), time_zone: Some("Asia/Shanghai".into()) };
        s.set_prefs(ana.id, &p).await.unwrap();
        assert_eq!(s.get_prefs(ana.id).await.unwrap(), p);
        s.set_prefs(ana.id, &UserPrefs { locale: None, ..p.clone() }).await.unwrap();
        assert_eq!(s.get_prefs(ana.id).await.unwrap().locale, None);

        let u = s
            .update_user(
                ana.id,
                &UserUpdate { role: Some(Role::Supervisor), name: Some("Ana".into()), ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(
            (u.role, u.name.as_str(), u.password_hash.as_deref(), u.disabled),
            (Role::Supervisor, "Ana", Some("h"), false)
        );
        let u = s
            .update_user(ana.id, &UserUpdate { password_hash: Some("h2".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!((u.role, u.password_hash.as_deref()), (Role::Supervisor, Some("h2")));
        let missing = s.update_user(UserId(uuid::Uuid::now_v7()), &UserUpdate::default()).await;
        assert_err!(missing, NotFound);
    })
    .await;
}

#[tokio::test]
async fn inbox_views_filters_urgency_and_unread() {
    for_each_backend(|s| async move {
        let ana = user(&s, "ana@x.test", Role::Agent).await;
        let c = deliver(
            &s,
            vec![
                inbound("e1", "u1", "Mia Chen", "my parcel is late", t0()),
                inbound("e2", "u2", "Leo", "refund please", t0() + Duration::minutes(1)),
                inbound("e3", "u3", "Zoe", "password reset", t0() + Duration::minutes(2)),
            ],
        )
        .await;
        let patch = |p: ConversationPatch| p;
        s.update_conversation(
            c[1],
            &patch(ConversationPatch {
                priority: Some(Priority::Urgent),
                tags: Some(vec!["Refund".into()]),
                ..Default::default()
            }),
            None,
        )
        .await
        .unwrap();
        s.update_conversation(c[2], &ConversationPatch { assignee_id: Some(Some(ana.id)), ..Default::default() }, None)
            .await
            .unwrap();

        s.update_conversation(
            c[0],
            &ConversationPatch { team: Some(Some("billing".into())), ..Default::default() },
            None,
        )
        .await
        .unwrap();
        let teams = |t: &[&str]| InboxView::Teams(t.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(ids(&s, query(ana.id, teams(&["billing", "vip"]))).await, vec![c[0]]);
        assert_eq!(ids(&s, query(ana.id, teams(&["vip"]))).await, Vec::<ConversationId>::new());
        assert_eq!(ids(&s, query(ana.id, teams(&[]))).await, Vec::<ConversationId>::new());

        // Urgency: urgent first, then the longest waiting.
        assert_eq!(ids(&s, query(ana.id, InboxView::All)).await, vec![c[1], c[0], c[2]]);
        let recent = InboxQuery { sort: InboxSort::Recent, ..query(ana.id, InboxView::All) };
        assert_eq!(ids(&s, recent).await, vec![c[2], c[1], c[0]]);
        assert_eq!(ids(&s, query(ana.id, InboxView::Mine)).await, vec![c[2]]);
        assert_eq!(ids(&s, query(ana.id, InboxView::Unassigned)).await, vec![c[1], c[0]]);
        let tagged = InboxQuery { tag: Some("refund".into()), ..query(ana.id, InboxView::All) };
        assert_eq!(ids(&s, tagged).await, vec![c[1]]);
        let urgent = InboxQuery { priority: Some(Priority::Urgent), ..query(ana.id, InboxView::All) };
        assert_eq!(ids(&s, urgent).await, vec![c[1]]);
        let text = InboxQuery { query: Some("PARCEL".into()), ..query(ana.id, InboxView::All) };
        assert_eq!(ids(&s, text).await, vec![c[0]]);
        let by_name = InboxQuery { query: Some("zoe".into()), ..query(ana.id, InboxView::All) };
        assert_eq!(ids(&s, by_name).await, vec![c[2]]);
        let resolved = InboxQuery { status: Some(Status::Resolved), ..query(ana.id, InboxView::All) };
        assert!(ids(&s, resolved).await.is_empty());
        let paged = InboxQuery { limit: 2, offset: 0, ..query(ana.id, InboxView::All) };
        let page = s.inbox(&paged).await.unwrap();
        assert!(page.has_more);
        assert_eq!(page.rows.len(), 2);
        let rest = s.inbox(&InboxQuery { offset: 2, ..paged }).await.unwrap();
        assert!(!rest.has_more);
        assert_eq!(rest.rows[0].summary.conversation.id, c[2]);

        // Rows carry the last text and the contact's name; unread until opened.
        let all = s.inbox(&query(ana.id, InboxView::All)).await.unwrap();
        assert_eq!(all.rows[0].last_text.as_deref(), Some("refund please"));
        assert_eq!(all.rows[0].summary.contact_name.as_deref(), Some("Leo"));
        assert!(all.rows.iter().all(|r| r.unread));
        let counts = s.inbox_counts(ana.id).await.unwrap();
        assert_eq!((counts.mine, counts.mine_unread, counts.unassigned, counts.all), (1, 1, 2, 3));
        s.mark_read(ana.id, c[2], Utc::now()).await.unwrap();
        // An older read mark never moves the mark back.
        s.mark_read(ana.id, c[2], t0()).await.unwrap();
        let mine = s.inbox(&query(ana.id, InboxView::Mine)).await.unwrap();
        assert!(!mine.rows[0].unread);
        assert_eq!(s.inbox_counts(ana.id).await.unwrap().mine_unread, 0);
        // Another agent's read marks are their own.
        let bo = user(&s, "bo@x.test", Role::Agent).await;
        assert!(s.inbox(&query(bo.id, InboxView::All)).await.unwrap().rows.iter().all(|r| r.unread));
    })
    .await;
}

#[tokio::test]
async fn audit_log_records_and_pages_newest_first() {
    for_each_backend(|s| async move {
        let admin = user(&s, "root@x.test", Role::Admin).await;
        for i in 0..5 {
            s.record_audit(&NewAuditEntry {
                actor_id: Some(admin.id),
                action: if i % 2 == 0 { "channel.update".into() } else { "user.create".into() },
                target: format!("t{i}"),
                before: (i > 0).then(|| serde_json::json!({"n": i - 1})),
                after: Some(serde_json::json!({"n": i})),
                at: t0() + Duration::seconds(i),
            })
            .await
            .unwrap();
        }
        s.record_audit(&NewAuditEntry {
            actor_id: None,
            action: "system.start".into(),
            target: String::new(),
            before: None,
            after: None,
            at: t0() + Duration::seconds(10),
        })
        .await
        .unwrap();
        let first = s.list_audit(&AuditFilter { limit: 3, ..Default::default() }).await.unwrap();
        let targets: Vec<&str> = first.items.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, ["", "t4", "t3"]);
        assert_eq!(first.items[1].actor_email.as_deref(), Some("root@x.test"));
        assert_eq!(first.items[1].before, Some(serde_json::json!({"n": 3})));
        assert_eq!(first.items[0].actor_id, None);
        let rest = s
            .list_audit(&AuditFilter { limit: 3, cursor: first.next_cursor.clone(), ..Default::default() })
            .await
            .unwrap();
        let targets: Vec<&str> = rest.items.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, ["t2", "t1", "t0"]);
        assert!(rest.next_cursor.is_none());
        assert_eq!(rest.items[2].before, None);
        let channels = s
            .list_audit(&AuditFilter { action_prefix: Some("channel.".into()), limit: 50, ..Default::default() })
            .await
            .unwrap();
        assert_eq!(channels.items.len(), 3);
        let by_actor =
            s.list_audit(&AuditFilter { actor_id: Some(admin.id), limit: 50, ..Default::default() }).await.unwrap();
        assert_eq!(by_actor.items.len(), 5);
        assert_err!(
            s.list_audit(&AuditFilter { cursor: Some("junk".into()), limit: 5, ..Default::default() }).await,
            Invalid
        );
    })
    .await;
}

#[tokio::test]
async fn inbox_counts_stop_at_the_cap() {
    for_each_backend(|s| async move {
        let ana = user(&s, "ana@x.test", Role::Agent).await;
        let n = switchboard_store::INBOX_COUNT_CAP + 5;
        let events: Vec<InboundEvent> =
            (0..n).map(|i| inbound(&format!("e{i}"), &format!("u{i}"), "C", "hello", t0())).collect();
        s.append_inbound(events).await.unwrap();
        loop {
            let waiting = s.unprocessed_events(1000).await.unwrap();
            if waiting.is_empty() {
                break;
            }
            s.thread_events(waiting, ThreadingRules::default()).await.unwrap();
        }
        let counts = s.inbox_counts(ana.id).await.unwrap();
        assert_eq!(
            (counts.all, counts.unassigned, counts.mine),
            (switchboard_store::INBOX_COUNT_CAP, switchboard_store::INBOX_COUNT_CAP, 0)
        );
    })
    .await;
}

fn triage_row(m: MessageId, c: ConversationId, language: &str, sentiment: &str, at: DateTime<Utc>) -> MessageTriage {
    MessageTriage {
        message_id: m,
        conversation_id: c,
        language: language.into(),
        language_confidence: 0.9,
        sentiment: sentiment.into(),
        sentiment_score: 0.0,
        intent: "other".into(),
        intent_confidence: 0.5,
        intent_by_agent: false,
        priority: "P3".into(),
        priority_reasons: vec![],
        pii: vec![],
        redacted_text: String::new(),
        intent_model_version: None,
        created_at: at,
    }
}

/// Starts SLA `timers` on conversation `c` (routing state synced with it now).
async fn save_timers(s: &DynStore, c: ConversationId, timers: &[TimerSpec]) {
    let conv = s.get_conversation(c).await.unwrap().unwrap();
    let state = RoutingState {
        conversation_id: c,
        synced_at: Some(conv.updated_at),
        seen_message_at: Some(conv.last_message_at),
        policy: None,
        clocks: vec![],
        auto_resolve_hours: None,
    };
    s.save_routing_state(&state, timers).await.unwrap();
}

#[tokio::test]
async fn inbox_full_text_search_triage_filters_and_sla_due_order() {
    for_each_backend(|s| async move {
        let ana = user(&s, "ana@x.test", Role::Agent).await;
        let c = deliver(
            &s,
            vec![
                inbound("f1", "u1", "Mia Chen", "my parcel is late", t0()),
                inbound("f2", "u2", "Leo", "我的订单显示已签收，但是我没有收到", t0() + Duration::minutes(1)),
                inbound("f3", "u3", "Zoë Ångström", "Say \"hello\" to the 100% refund", t0() + Duration::minutes(2)),
                inbound("f4", "u4", "Kim", "nothing to see", t0() + Duration::minutes(3)),
            ],
        )
        .await;
        let search = |q: &str| InboxQuery { query: Some(q.into()), ..query(ana.id, InboxView::All) };
        // Substrings anywhere, any case, any script; names too.
        assert_eq!(ids(&s, search("ARCE")).await, vec![c[0]]);
        assert_eq!(ids(&s, search("已签收")).await, vec![c[1]]);
        assert_eq!(ids(&s, search("Ångström")).await, vec![c[2]]);
        assert_eq!(ids(&s, search("STRÖM")).await, vec![c[2]], "ASCII letters in any case");
        assert_eq!(ids(&s, search("\"hello\"")).await, vec![c[2]], "quotes are text, not syntax");
        assert_eq!(ids(&s, search("100%")).await, vec![c[2]], "% is text, not a wildcard");
        assert_eq!(ids(&s, search("10_%")).await, Vec::<ConversationId>::new());
        assert_eq!(ids(&s, search("parcel is late and more")).await, Vec::<ConversationId>::new());
        // Shorter than a trigram (the character and pair index): still found, as substrings.
        assert_eq!(ids(&s, search("Le")).await, vec![c[1]], "a name, any case");
        assert_eq!(ids(&s, search("签收")).await, vec![c[1]]);
        assert_eq!(ids(&s, search("签")).await, vec![c[1]], "one character");
        assert_eq!(ids(&s, search("ö")).await, vec![c[2]], "one non-ASCII letter");
        assert_eq!(ids(&s, search("0%")).await, vec![c[2]], "% is text");
        assert_eq!(ids(&s, search("%")).await, vec![c[2]]);
        assert_eq!(ids(&s, search("_")).await, Vec::<ConversationId>::new(), "_ is text, not a wildcard");
        assert_eq!(ids(&s, search("\"h")).await, vec![c[2]]);
        assert_eq!(ids(&s, search("is")).await, vec![c[0]], "inside a word");
        assert_eq!(ids(&s, search("yl")).await, Vec::<ConversationId>::new(), "no pair across white space");
        assert_eq!(ids(&s, search("退款")).await, Vec::<ConversationId>::new());
        // Later messages are searchable at once (the index follows every insert).
        let later =
            deliver(&s, vec![inbound("f5", "u4", "Kim", "where is my invoice", t0() + Duration::minutes(4))]).await;
        assert_eq!(later[0], c[3]);
        assert_eq!(ids(&s, search("invoice")).await, vec![c[3]]);
        let api = s
            .list_conversations(&ConversationFilter { query: Some("invoice".into()), limit: 10, ..Default::default() })
            .await
            .unwrap();
        assert_eq!(api.items.iter().map(|i| i.conversation.id).collect::<Vec<_>>(), vec![c[3]]);
        // Short and edited: an edit moves the message in both indexes.
        assert_eq!(ids(&s, search("vo")).await, vec![c[3]]);

        // Language and sentiment of the latest triaged customer message.
        let msgs = |i: usize| {
            let s = s.clone();
            let id = c[i];
            async move { s.list_messages(id).await.unwrap() }
        };
        let m0 = msgs(0).await;
        let m1 = msgs(1).await;
        let m3 = msgs(3).await;
        s.save_triage(vec![
            triage_row(m0[0].id, c[0], "en", "negative", t0()),
            triage_row(m1[0].id, c[1], "zh", "neutral", t0()),
            triage_row(m3[0].id, c[3], "en", "negative", t0()),
            triage_row(m3[1].id, c[3], "en", "positive", t0() + Duration::minutes(5)),
        ])
        .await
        .unwrap();
        let filtered = |language: Option<&str>, sentiment: Option<&str>| InboxQuery {
            language: language.map(str::to_owned),
            sentiment: sentiment.map(str::to_owned),
            ..query(ana.id, InboxView::All)
        };
        assert_eq!(ids(&s, filtered(Some("zh"), None)).await, vec![c[1]]);
        assert_eq!(ids(&s, filtered(Some("EN"), None)).await, vec![c[0], c[3]]);
        assert_eq!(ids(&s, filtered(None, Some("negative"))).await, vec![c[0]], "the latest message counts");
        assert_eq!(ids(&s, filtered(Some("en"), Some("positive"))).await, vec![c[3]]);
        assert_eq!(ids(&s, filtered(Some("fr"), None)).await, Vec::<ConversationId>::new());

        // SLA due first: running breach timers in due order, then the rest by urgency.
        let timer = |minutes: i64| TimerSpec {
            metric: SlaMetric::FirstResponse,
            cycle: 0,
            kind: SlaTimerKind::Breach,
            action: None,
            fire_at: t0() + Duration::minutes(minutes),
        };
        for (i, due) in [(2, 30), (3, 10)] {
            let warning = TimerSpec { kind: SlaTimerKind::Warning, fire_at: t0(), ..timer(due) };
            // A second running clock: the conversation is placed once, at its earliest breach.
            let resolution = TimerSpec { metric: SlaMetric::Resolution, ..timer(due + 5) };
            save_timers(&s, c[i], &[timer(due), warning, resolution]).await;
        }
        let sla = InboxQuery { sort: InboxSort::SlaDue, ..query(ana.id, InboxView::All) };
        assert_eq!(ids(&s, sla.clone()).await, vec![c[3], c[2], c[0], c[1]]);
        let first = s.inbox(&InboxQuery { limit: 2, ..sla.clone() }).await.unwrap();
        assert!(first.has_more);
        assert_eq!(first.rows[0].summary.contact_name.as_deref(), Some("Kim"), "row columns are read for the page");
        assert_eq!(first.rows[0].last_text.as_deref(), Some("where is my invoice"));
        let second = s.inbox(&InboxQuery { limit: 2, offset: 2, ..sla.clone() }).await.unwrap();
        assert!(!second.has_more);
        assert_eq!(second.rows.iter().map(|r| r.summary.conversation.id).collect::<Vec<_>>(), vec![c[0], c[1]]);
        let filtered = InboxQuery { language: Some("en".into()), ..sla };
        assert_eq!(ids(&s, filtered).await, vec![c[3], c[0]], "filters apply inside the sorted ids");
    })
    .await;
}

#[tokio::test]
async fn contact_notes_are_kept_with_author_and_time() {
    for_each_backend(|s| async move {
        let ana = user(&s, "ana@x.test", Role::Agent).await;
        let c = deliver(&s, vec![inbound("n1", "u1", "Mia Chen", "hello", t0())]).await;
        let contact = s.get_conversation(c[0]).await.unwrap().unwrap().contact_id;
        let first = s.add_contact_note(contact, ana.id, "Prefers email", t0()).await.unwrap();
        assert_eq!(
            (first.author_name.as_str(), first.body.as_str(), first.created_at),
            ("ana@x.test", "Prefers email", t0())
        );
        let second = s.add_contact_note(contact, ana.id, "VIP since 2024", t0() + Duration::minutes(1)).await.unwrap();
        let list = s.list_contact_notes(contact).await.unwrap();
        assert_eq!(list.iter().map(|n| n.id).collect::<Vec<_>>(), vec![second.id, first.id], "newest first");
        let edited = s.update_contact_note(first.id, "Prefers phone", t0() + Duration::minutes(5)).await.unwrap();
        assert_eq!(
            (edited.body.as_str(), edited.created_at, edited.updated_at),
            ("Prefers phone", t0(), t0() + Duration::minutes(5))
        );
        assert_eq!(s.get_contact_note(first.id).await.unwrap(), Some(edited));
        // Refused: blank, too long, unknown contact or note; nothing changes.
        assert_err!(s.add_contact_note(contact, ana.id, "  ", t0()).await, Invalid);
        assert_err!(s.add_contact_note(contact, ana.id, &"x".repeat(4001), t0()).await, Invalid);
        assert_err!(s.update_contact_note(first.id, "", t0()).await, Invalid);
        assert_err!(
            s.add_contact_note(switchboard_domain::ContactId(uuid::Uuid::now_v7()), ana.id, "x", t0()).await,
            NotFound
        );
        assert_err!(s.update_contact_note(uuid::Uuid::now_v7(), "x", t0()).await, NotFound);
        assert_eq!(s.list_contact_notes(contact).await.unwrap().len(), 2);
        assert_eq!(s.get_contact_note(first.id).await.unwrap().unwrap().body, "Prefers phone");
    })
    .await;
}

/// One seeded inbox searched under a store tuning: the page must not depend on how the search is
/// answered (from the hits or by walking the view).
async fn search_answers(s: DynStore) {
    let ana = user(&s, "ana@x.test", Role::Agent).await;
    let people = [
        ("Ann", "parcel lost"),
        ("Ben", "refund crashes app"),
        ("Cal", "parcel late"),
        ("Dee", "crashes again"),
        ("Eve", "PARCEL damaged"),
        ("Fay", "crashes on pay"),
        ("Parcel Guy", "hello"),
        ("Hal", "parcel found"),
        ("Ivy", "nothing here"),
        ("Jon", "parcel twice"),
    ];
    let events = people
        .iter()
        .enumerate()
        .map(|(i, (name, text))| {
            inbound(&format!("s{i}"), &format!("su{i}"), name, text, t0() + Duration::minutes(i as i64))
        })
        .collect();
    let c = deliver(&s, events).await;
    // A second matching message: the conversation is still listed once.
    let again = deliver(&s, vec![inbound("s10", "su9", "Jon", "parcel again", t0() + Duration::minutes(11))]).await;
    assert_eq!(again, vec![c[9]]);
    for i in [1, 3, 5, 7] {
        s.update_conversation(c[i], &ConversationPatch { status: Some(Status::Resolved), ..Default::default() }, None)
            .await
            .unwrap();
    }
    s.update_conversation(c[4], &ConversationPatch { priority: Some(Priority::Urgent), ..Default::default() }, None)
        .await
        .unwrap();
    for (i, due) in [(9, 10), (2, 30)] {
        let timer = TimerSpec {
            metric: SlaMetric::FirstResponse,
            cycle: 0,
            kind: SlaTimerKind::Breach,
            action: None,
            fire_at: t0() + Duration::minutes(due),
        };
        save_timers(&s, c[i], &[timer]).await;
    }
    let open = |text: &str| InboxQuery {
        query: Some(text.into()),
        status: Some(Status::Open),
        ..query(ana.id, InboxView::All)
    };
    let none = Vec::<ConversationId>::new();

    // Hits in the view (messages and a contact's name), in each order.
    assert_eq!(ids(&s, open("parcel")).await, vec![c[4], c[0], c[2], c[6], c[9]]);
    assert_eq!(
        ids(&s, InboxQuery { sort: InboxSort::Recent, ..open("parcel") }).await,
        vec![c[9], c[6], c[4], c[2], c[0]]
    );
    assert_eq!(
        ids(&s, InboxQuery { sort: InboxSort::SlaDue, ..open("parcel") }).await,
        vec![c[9], c[2], c[4], c[0], c[6]]
    );
    assert_eq!(ids(&s, InboxQuery { status: None, ..open("parcel") }).await, vec![c[4], c[0], c[2], c[6], c[7], c[9]]);
    assert_eq!(ids(&s, open("Guy")).await, vec![c[6]], "a contact's name alone");
    // Pages of the search: the rows between, and whether more follow.
    let page = |offset: u32, limit: u32, sort: InboxSort| {
        let s = s.clone();
        let q = InboxQuery { offset, limit, sort, ..open("parcel") };
        async move {
            let p = s.inbox(&q).await.unwrap();
            (p.rows.iter().map(|r| r.summary.conversation.id).collect::<Vec<_>>(), p.has_more)
        }
    };
    assert_eq!(page(0, 1, InboxSort::Urgency).await, (vec![c[4]], true));
    assert_eq!(page(2, 2, InboxSort::Urgency).await, (vec![c[2], c[6]], true));
    assert_eq!(page(4, 2, InboxSort::Urgency).await, (vec![c[9]], false));
    assert_eq!(page(0, 1, InboxSort::Recent).await, (vec![c[9]], true));
    assert_eq!(page(1, 2, InboxSort::SlaDue).await, (vec![c[2], c[4]], true));
    let first = s.inbox(&InboxQuery { limit: 1, ..open("parcel") }).await.unwrap();
    assert_eq!(first.rows[0].summary.contact_name.as_deref(), Some("Eve"), "row columns are read for the page");
    assert_eq!(first.rows[0].last_text.as_deref(), Some("PARCEL damaged"));
    assert!(first.rows[0].unread);
    // Other filters still apply.
    assert_eq!(ids(&s, InboxQuery { priority: Some(Priority::Urgent), ..open("parcel") }).await, vec![c[4]]);
    assert_eq!(ids(&s, InboxQuery { view: InboxView::Mine, ..open("parcel") }).await, none);

    // Hits only outside the view: nothing in it, however the view is walked.
    assert_eq!(ids(&s, open("crashes")).await, none);
    assert_eq!(ids(&s, InboxQuery { sort: InboxSort::SlaDue, ..open("crashes") }).await, none);
    assert_eq!(ids(&s, InboxQuery { limit: 1, ..open("crashes") }).await, none);
    let resolved = InboxQuery { status: Some(Status::Resolved), ..open("crashes") };
    assert_eq!(ids(&s, resolved).await, vec![c[1], c[3], c[5]]);

    // No hits anywhere.
    assert_eq!(ids(&s, open("xyzzy")).await, none);
    assert_eq!(ids(&s, InboxQuery { status: None, sort: InboxSort::Recent, ..open("xyzzy") }).await, none);

    // One or two characters (the character and pair index), the same cases.
    assert_eq!(ids(&s, open("PA")).await, vec![c[4], c[0], c[2], c[6], c[9]], "messages and a name, any case");
    assert_eq!(ids(&s, InboxQuery { sort: InboxSort::SlaDue, ..open("pa") }).await, vec![c[9], c[2], c[4], c[0], c[6]]);
    assert_eq!(ids(&s, InboxQuery { offset: 2, limit: 2, ..open("pa") }).await, vec![c[2], c[6]]);
    assert_eq!(ids(&s, open("y")).await, vec![c[6], c[8]], "one character, in names only");
    assert_eq!(ids(&s, InboxQuery { status: None, ..open("y") }).await, vec![c[5], c[6], c[8]]);
    assert_eq!(ids(&s, open("sh")).await, none, "hits only outside the view");
    assert_eq!(ids(&s, InboxQuery { sort: InboxSort::SlaDue, ..open("sh") }).await, none);
    assert_eq!(ids(&s, InboxQuery { status: Some(Status::Resolved), ..open("sh") }).await, vec![c[1], c[3], c[5]]);
    assert_eq!(ids(&s, open("qz")).await, none, "no hits anywhere");

    // The API's conversation list searches the same way, latest first, page by page.
    let api = |text: &str, cursor: Option<String>| {
        let s = s.clone();
        let f = ConversationFilter {
            status: Some(Status::Open),
            query: Some(text.into()),
            cursor,
            limit: 2,
            ..Default::default()
        };
        async move {
            let p = s.list_conversations(&f).await.unwrap();
            (p.items.iter().map(|i| i.conversation.id).collect::<Vec<_>>(), p.next_cursor)
        }
    };
    for text in ["parcel", "Pa"] {
        let (first, next) = api(text, None).await;
        assert_eq!(first, vec![c[9], c[6]], "{text}");
        let (second, next) = api(text, next).await;
        assert_eq!(second, vec![c[4], c[2]], "{text}");
        let (third, next) = api(text, next).await;
        assert_eq!((third, next), (vec![c[0]], None), "{text}");
    }
    for text in ["crashes", "sh", "xyzzy", "qz"] {
        assert_eq!(api(text, None).await, (none.clone(), None), "{text}");
    }
    let names = s
        .list_conversations(&ConversationFilter { query: Some("Guy".into()), limit: 5, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(names.items.iter().map(|i| i.contact_name.clone()).collect::<Vec<_>>(), vec![Some("Parcel Guy".into())]);
}

#[tokio::test]
async fn inbox_search_gives_the_same_pages_from_the_hits_and_from_the_view() {
    use switchboard_store::{InboxSearchTuning, StoreOptions};
    let tunings = [
        // From the hits (a few of them, under the default limit).
        InboxSearchTuning::default(),
        // "Many hits": every search walks the view and checks each conversation against all
        // the hits' conversations.
        InboxSearchTuning { join_max_hits: 0, probe_per_row: 0 },
        // ... probing each conversation in the index, with a budget that always suffices here.
        InboxSearchTuning { join_max_hits: 0, probe_per_row: 1_000 },
        // ... probing with a budget that runs out on most pages, then walking against the hits.
        InboxSearchTuning { join_max_hits: 0, probe_per_row: 1 },
    ];
    for inbox_search in tunings {
        let opts = StoreOptions { inbox_search, ..Default::default() };
        common::for_each_backend_with(&opts, search_answers).await;
    }
}
