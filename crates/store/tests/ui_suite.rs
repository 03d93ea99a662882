//! The UI and audit store suite: every test runs against SQLite, and against PostgreSQL when
//! `TEST_DATABASE_URL` names a server (each test gets a fresh database there).
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::for_each_backend;
use switchboard_domain::{
    ChannelSlug, ContactRef, ConversationId, InboundEvent, Priority, Role, Status, UserId, Visibility,
};
use switchboard_store::{
    AuditFilter, ConversationPatch, DynStore, InboxQuery, InboxSort, InboxView, NewAuditEntry, NewUser, StoreError,
    ThreadingRules, UiSession, User, UserPrefs, UserUpdate,
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
