//! The store test suite: every test runs against SQLite, and against PostgreSQL when
//! `TEST_DATABASE_URL` names a server (each test gets a fresh database there).
#![allow(clippy::unwrap_used)]

mod common;

use common::for_each_backend;
use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use switchboard_domain::{
    CaseNumber, ChannelKind, ChannelSlug, ContactId, ContactRef, ConversationFact, ConversationId, DeliveryStatus,
    Direction, FactKind, InboundEvent, Priority, Role, Status, UserId, Visibility,
};
use switchboard_store::{
    ChannelRecord, ConversationFilter, ConversationPatch, DynStore, MessageKind, NewMessage, NewUser, StoreError,
    ThreadOutcome, ThreadingRules, User,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn slug(s: &str) -> ChannelSlug {
    ChannelSlug::parse(s).unwrap()
}

/// A time with whole seconds, so that it survives both backends' microsecond storage exactly.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn sent_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap()
}

fn inbound(channel: &str, event_id: &str, user: &str, text: &str) -> InboundEvent {
    InboundEvent {
        channel: slug(channel),
        provider_event_id: event_id.to_owned(),
        contact: ContactRef { provider_user_id: user.to_owned(), handle: Some(format!("@{user}")), display_name: None },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.to_owned(),
        attachments: Vec::new(),
        sent_at: sent_at(),
        extra: serde_json::Map::new(),
    }
}

fn named(mut ev: InboundEvent, name: &str) -> InboundEvent {
    ev.contact.display_name = Some(name.to_owned());
    ev
}

fn on_thread(mut ev: InboundEvent, thread_key: &str) -> InboundEvent {
    ev.thread_key = thread_key.to_owned();
    ev
}

/// Appends `events` and threads everything waiting, checking the outcomes line up with the acks.
async fn deliver_with(s: &DynStore, events: Vec<InboundEvent>, rules: ThreadingRules) -> Vec<ThreadOutcome> {
    let acks = s.append_inbound(events).await.unwrap();
    assert!(acks.iter().all(|a| !a.duplicate), "unexpected duplicate: {acks:?}");
    let waiting = s.unprocessed_events(1000).await.unwrap();
    assert_eq!(waiting.len(), acks.len());
    let out = s.thread_events(waiting, rules).await.unwrap();
    assert_eq!(out.len(), acks.len());
    for (o, a) in out.iter().zip(&acks) {
        assert_eq!(o.event_id, a.event_id);
        assert_eq!(o.message_id, a.message_id);
    }
    out
}

async fn deliver(s: &DynStore, events: Vec<InboundEvent>) -> Vec<ThreadOutcome> {
    deliver_with(s, events, ThreadingRules::default()).await
}

async fn user(s: &DynStore, email: &str) -> User {
    s.create_user(&NewUser {
        email: email.to_owned(),
        name: format!("User {email}"),
        role: Role::Agent,
        password_hash: None,
    })
    .await
    .unwrap()
}

fn status(to: Status) -> ConversationPatch {
    ConversationPatch { status: Some(to), ..Default::default() }
}

fn new_message(conv: ConversationId, author: UserId, kind: MessageKind, text: &str, at: DateTime<Utc>) -> NewMessage {
    NewMessage {
        conversation_id: conv,
        author_id: author,
        kind,
        visibility: Visibility::Public,
        text: text.to_owned(),
        idempotency_key: None,
        at,
    }
}

fn api_channel(callback_url: &str) -> ChannelRecord {
    ChannelRecord {
        slug: slug("api"),
        kind: ChannelKind::Api,
        name: "Support API".to_owned(),
        callback_url: Some(callback_url.to_owned()),
        secret: Some("shh".to_owned()),
        config: serde_json::json!({}),
        created_at: sent_at(),
    }
}

fn kinds(facts: &[ConversationFact]) -> Vec<FactKind> {
    facts.iter().map(|f| f.kind).collect()
}

fn count(facts: &[ConversationFact], kind: FactKind) -> usize {
    facts.iter().filter(|f| f.kind == kind).count()
}

async fn conversation_ids(s: &DynStore, filter: ConversationFilter) -> BTreeSet<ConversationId> {
    let filter = ConversationFilter { limit: 200, ..filter };
    let page = s.list_conversations(&filter).await.unwrap();
    assert!(page.next_cursor.is_none());
    page.items.iter().map(|c| c.conversation.id).collect()
}

fn set<const N: usize>(ids: [ConversationId; N]) -> BTreeSet<ConversationId> {
    ids.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Ingest
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn append_inbound_acks_in_order_and_deduplicates() {
    for_each_backend(|s| async move {
        let first = vec![inbound("api", "e1", "alice", "hi"), inbound("api", "e2", "bob", "yo")];
        let acks = s.append_inbound(first.clone()).await.unwrap();
        assert_eq!(acks.len(), 2);
        assert!(!acks[0].duplicate && !acks[1].duplicate);
        assert_ne!(acks[0].event_id, acks[1].event_id);
        assert_ne!(acks[0].message_id, acks[1].message_id);
        // Acks are in the order of the events.
        for (ack, ev) in acks.iter().zip(&first) {
            let stored = s.get_event(ack.event_id).await.unwrap().unwrap();
            assert_eq!(&stored.event, ev);
            assert_eq!(stored.message_id, ack.message_id);
            assert!(stored.processed_at.is_none());
        }
        assert_eq!(s.pipeline_backlog().await.unwrap(), 2);

        // A redelivery in a later batch returns the ids stored the first time.
        let acks2 = s
            .append_inbound(vec![
                inbound("api", "e3", "alice", "more"),
                inbound("api", "e1", "alice", "hi (redelivered, edited)"),
            ])
            .await
            .unwrap();
        assert!(!acks2[0].duplicate);
        assert!(acks2[1].duplicate);
        assert_eq!(acks2[1].event_id, acks[0].event_id);
        assert_eq!(acks2[1].message_id, acks[0].message_id);
        // The first delivery wins.
        let e1 = s.get_event(acks[0].event_id).await.unwrap().unwrap();
        assert_eq!(e1.event.text, "hi");

        // A redelivery within the same batch, too.
        let acks3 = s
            .append_inbound(vec![
                inbound("api", "e4", "carol", "x"),
                inbound("api", "e4", "carol", "x"),
                inbound("api", "e2", "bob", "yo"),
            ])
            .await
            .unwrap();
        assert!(!acks3[0].duplicate);
        assert!(acks3[1].duplicate);
        assert_eq!(acks3[1].event_id, acks3[0].event_id);
        assert_eq!(acks3[1].message_id, acks3[0].message_id);
        assert!(acks3[2].duplicate);
        assert_eq!(acks3[2].event_id, acks[1].event_id);
        assert_eq!(acks3[2].message_id, acks[1].message_id);

        // The same provider id on another channel is another event.
        let other = s.append_inbound(vec![inbound("chat", "e1", "alice", "hi")]).await.unwrap();
        assert!(!other[0].duplicate);
        assert_ne!(other[0].event_id, acks[0].event_id);
        assert_ne!(other[0].message_id, acks[0].message_id);

        // e1, e2, e3, e4, chat/e1.
        assert_eq!(s.pipeline_backlog().await.unwrap(), 5);
        let waiting = s.unprocessed_events(100).await.unwrap();
        let order: Vec<(&str, &str)> =
            waiting.iter().map(|e| (e.event.channel.as_str(), e.event.provider_event_id.as_str())).collect();
        assert_eq!(order, [("api", "e1"), ("api", "e2"), ("api", "e3"), ("api", "e4"), ("chat", "e1")]);
        assert!(waiting.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(s.unprocessed_events(2).await.unwrap().len(), 2);

        // An empty batch is fine.
        assert!(s.append_inbound(Vec::new()).await.unwrap().is_empty());
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 2. Threading
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn thread_events_opens_and_joins_conversations() {
    for_each_backend(|s| async move {
        let first = deliver(&s, vec![named(inbound("api", "m1", "alice", "hello"), "Alice")]).await;
        assert!(first[0].created && !first[0].reopened);
        assert_eq!(first[0].case_number, CaseNumber(1));
        let conv1 = first[0].conversation_id;

        let acks = s
            .append_inbound(vec![
                inbound("api", "m2", "alice", "again"),
                inbound("api", "m3", "bob", "hi"),
                on_thread(inbound("api", "m4", "alice", "other thread"), "t2"),
                inbound("api", "m5", "alice", "and again"),
            ])
            .await
            .unwrap();
        let waiting = s.unprocessed_events(100).await.unwrap();
        assert_eq!(waiting.len(), 4);
        let out = s.thread_events(waiting.clone(), ThreadingRules::default()).await.unwrap();
        assert_eq!(out.len(), 4);

        // Same contact, same thread: joins.
        assert_eq!(out[0].conversation_id, conv1);
        assert!(!out[0].created && !out[0].reopened);
        assert_eq!(out[0].case_number, CaseNumber(1));
        // Another contact: case 2.
        assert!(out[1].created);
        assert_eq!(out[1].case_number, CaseNumber(2));
        assert_ne!(out[1].conversation_id, conv1);
        // Another thread of the same contact: a new conversation.
        assert!(out[2].created);
        assert_eq!(out[2].case_number, CaseNumber(3));
        assert_ne!(out[2].conversation_id, conv1);
        // The first thread again.
        assert_eq!(out[3].conversation_id, conv1);
        assert!(!out[3].created);

        // Messages get the pre-assigned ids.
        for (o, a) in out.iter().zip(&acks) {
            assert_eq!(o.message_id, a.message_id);
            let m = s.get_message(a.message_id).await.unwrap().unwrap();
            assert_eq!(m.conversation_id, o.conversation_id);
            assert_eq!(m.direction, Direction::Inbound);
            assert!(m.author_id.is_none());
            assert!(m.delivery_status.is_none());
        }
        let msgs = s.list_messages(conv1).await.unwrap();
        let ids: Vec<_> = msgs.iter().map(|m| m.id).collect();
        assert_eq!(ids, [first[0].message_id, acks[0].message_id, acks[3].message_id]);
        let texts: Vec<_> = msgs.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["hello", "again", "and again"]);
        assert_eq!(msgs[0].provider_message_id.as_deref(), Some("m1"));
        assert_eq!(msgs[0].sent_at, sent_at());

        let c1 = s.get_conversation(conv1).await.unwrap().unwrap();
        assert_eq!(c1.status, Status::Open);
        assert_eq!(c1.priority, Priority::Normal);
        assert_eq!(c1.channel, slug("api"));
        assert_eq!(c1.thread_key, "");
        assert_eq!(c1.reopen_count, 0);
        assert!(c1.repeat_of.is_none());
        assert!(c1.first_response_at.is_none());
        assert_eq!(kinds(&s.list_facts(conv1).await.unwrap()), [FactKind::Created]);

        let c2 = s.get_conversation_by_case(CaseNumber(2)).await.unwrap().unwrap();
        assert_eq!(c2.id, out[1].conversation_id);
        assert_ne!(c2.contact_id, c1.contact_id);
        let c3 = s.get_conversation(out[2].conversation_id).await.unwrap().unwrap();
        assert_eq!(c3.contact_id, c1.contact_id);
        assert_eq!(c3.thread_key, "t2");
        assert!(s.get_conversation_by_case(CaseNumber(4)).await.unwrap().is_none());
        assert!(s.get_conversation(ConversationId::new()).await.unwrap().is_none());

        // Everything is processed and remembers its conversation.
        assert!(s.unprocessed_events(100).await.unwrap().is_empty());
        assert_eq!(s.pipeline_backlog().await.unwrap(), 0);
        let e = s.get_event(acks[1].event_id).await.unwrap().unwrap();
        assert!(e.processed_at.is_some());
        assert_eq!(e.conversation_id, Some(c2.id));

        // Threading an already processed event again is skipped: no second message.
        let again = s.thread_events(waiting, ThreadingRules::default()).await.unwrap();
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(s.list_messages(conv1).await.unwrap().len(), 3);
        assert_eq!(s.list_messages(c2.id).await.unwrap().len(), 1);
        assert!(s.get_conversation_by_case(CaseNumber(4)).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingest_and_threading_do_not_duplicate() {
    for_each_backend(|s| async move {
        let events: Vec<InboundEvent> = (0..20)
            .map(|i| inbound("api", &format!("cc{i}"), &format!("user{}", i % 5), &format!("message {i}")))
            .collect();
        // Several receivers append the same deliveries at once.
        let appends: Vec<_> = (0..4)
            .map(|_| {
                let (s, events) = (s.clone(), events.clone());
                tokio::spawn(async move { s.append_inbound(events).await.unwrap() })
            })
            .collect();
        let mut all_acks = Vec::new();
        for a in appends {
            all_acks.push(a.await.unwrap());
        }
        for acks in &all_acks[1..] {
            let same: Vec<_> = acks.iter().map(|a| (a.event_id, a.message_id)).collect();
            let first: Vec<_> = all_acks[0].iter().map(|a| (a.event_id, a.message_id)).collect();
            assert_eq!(same, first);
        }
        let fresh = all_acks.iter().flatten().filter(|a| !a.duplicate).count();
        assert_eq!(fresh, 20);
        assert_eq!(s.pipeline_backlog().await.unwrap(), 20);

        // Several pipeline workers thread the same events at once.
        let waiting = s.unprocessed_events(100).await.unwrap();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (s, waiting) = (s.clone(), waiting.clone());
                tokio::spawn(async move { s.thread_events(waiting, ThreadingRules::default()).await.unwrap() })
            })
            .collect();
        let mut outcomes = Vec::new();
        for w in workers {
            outcomes.extend(w.await.unwrap());
        }
        assert_eq!(outcomes.len(), 20, "each event is threaded exactly once");
        let events: BTreeSet<_> = outcomes.iter().map(|o| o.event_id).collect();
        assert_eq!(events.len(), 20);
        assert_eq!(s.pipeline_backlog().await.unwrap(), 0);

        let convs: BTreeSet<_> = outcomes.iter().map(|o| o.conversation_id).collect();
        assert_eq!(convs.len(), 5, "one conversation per contact");
        let cases: BTreeSet<_> = outcomes.iter().map(|o| o.case_number.0).collect();
        assert_eq!(cases, (1..=5).collect());
        for c in convs {
            assert_eq!(s.list_messages(c).await.unwrap().len(), 4);
        }
        assert_eq!(s.list_contacts(None, None, 50).await.unwrap().items.len(), 5);
    })
    .await;
}

#[tokio::test]
async fn events_of_one_batch_see_each_other() {
    for_each_backend(|s| async move {
        // A brand-new contact writing several times in one batch: one contact, one conversation
        // per thread; later events join what earlier ones opened.
        let out = deliver(
            &s,
            vec![
                inbound("api", "b1", "dora", "first"),
                named(inbound("api", "b2", "dora", "second"), "Dora"),
                on_thread(inbound("api", "b3", "dora", "elsewhere"), "t2"),
                named(inbound("api", "b4", "dora", "third"), "Dora E."),
                inbound("api", "b5", "erin", "hi"),
            ],
        )
        .await;
        let conv = out[0].conversation_id;
        assert!(out[0].created && !out[0].reopened);
        assert_eq!(out[0].case_number, CaseNumber(1));
        assert_eq!(out[1].conversation_id, conv);
        assert!(!out[1].created && !out[1].reopened);
        assert_eq!(out[1].case_number, CaseNumber(1));
        assert!(out[2].created);
        assert_eq!(out[2].case_number, CaseNumber(2));
        assert_eq!(out[3].conversation_id, conv);
        assert!(!out[3].created);
        assert!(out[4].created);
        assert_eq!(out[4].case_number, CaseNumber(3));

        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Open);
        assert_eq!(kinds(&s.list_facts(conv).await.unwrap()), [FactKind::Created]);
        let texts: Vec<_> = s.list_messages(conv).await.unwrap().into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["first", "second", "third"]);
        let other = s.get_conversation(out[2].conversation_id).await.unwrap().unwrap();
        assert_eq!(other.contact_id, c.contact_id);
        assert_eq!(other.thread_key, "t2");
        assert_eq!(s.list_contacts(None, None, 50).await.unwrap().items.len(), 2);
        // The contact is named after the first event; the identity follows the latest display name.
        let dora = s.get_contact(c.contact_id).await.unwrap().unwrap();
        assert_eq!(dora.name.as_deref(), Some("@dora"));
        assert_eq!(dora.identities.len(), 1);
        assert_eq!(dora.identities[0].display_name.as_deref(), Some("Dora E."));
        assert_eq!(dora.identities[0].handle.as_deref(), Some("@dora"));

        // A known identity renamed twice in one batch keeps the last name (and the last handle
        // given with a new name); an event without a display name changes nothing.
        let mut renamed = named(inbound("api", "b6", "dora", "x"), "D");
        renamed.contact.handle = Some("@dora2".to_owned());
        let mut again = named(inbound("api", "b7", "dora", "y"), "Dora");
        again.contact.handle = None;
        let mut unnamed = inbound("api", "b8", "dora", "z");
        unnamed.contact.handle = Some("@ignored".to_owned());
        let out = deliver(&s, vec![renamed, again, unnamed]).await;
        assert!(out.iter().all(|o| o.conversation_id == conv && !o.created));
        let dora = s.get_contact(c.contact_id).await.unwrap().unwrap();
        assert_eq!(dora.identities[0].display_name.as_deref(), Some("Dora"));
        assert_eq!(dora.identities[0].handle.as_deref(), Some("@dora2"));
        assert_eq!(dora.name.as_deref(), Some("@dora"));

        // An event listed twice in a batch is threaded once.
        let acks = s.append_inbound(vec![inbound("api", "b9", "erin", "twice?")]).await.unwrap();
        let waiting = s.unprocessed_events(10).await.unwrap();
        assert_eq!(waiting.len(), 1);
        let twice = vec![waiting[0].clone(), waiting[0].clone()];
        let out = s.thread_events(twice, ThreadingRules::default()).await.unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event_id, acks[0].event_id);
        assert_eq!(out[0].case_number, CaseNumber(3));
        assert_eq!(s.list_messages(out[0].conversation_id).await.unwrap().len(), 2);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. Reopen, repeat contacts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn resolved_conversation_reopens_within_the_window() {
    for_each_backend(|s| async move {
        let agent = user(&s, "agent@example.com").await;
        let conv = deliver(&s, vec![inbound("api", "r1", "alice", "help")]).await[0].conversation_id;
        let resolved = s.update_conversation(conv, &status(Status::Resolved), Some(agent.id)).await.unwrap();
        assert_eq!(resolved.status, Status::Resolved);
        assert!(resolved.resolved_at.is_some());

        let out = deliver(&s, vec![inbound("api", "r2", "alice", "still broken")]).await;
        assert_eq!(out[0].conversation_id, conv);
        assert!(out[0].reopened && !out[0].created);
        assert_eq!(out[0].case_number, CaseNumber(1));

        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Open);
        assert_eq!(c.reopen_count, 1);
        assert!(c.resolved_at.is_none());
        let facts = s.list_facts(conv).await.unwrap();
        assert_eq!(count(&facts, FactKind::Reopened), 1);
        let reopened = facts.iter().find(|f| f.kind == FactKind::Reopened).unwrap();
        assert!(reopened.actor_id.is_none());
        assert_eq!(s.list_messages(conv).await.unwrap().len(), 2);

        // A second resolution and message reopens it again.
        s.update_conversation(conv, &status(Status::Resolved), None).await.unwrap();
        let out = deliver(&s, vec![inbound("api", "r3", "alice", "one more thing")]).await;
        assert_eq!(out[0].conversation_id, conv);
        assert_eq!(s.get_conversation(conv).await.unwrap().unwrap().reopen_count, 2);
        assert!(s.get_conversation_by_case(CaseNumber(2)).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn closed_conversation_starts_a_repeat_contact() {
    for_each_backend(|s| async move {
        let old = deliver(&s, vec![inbound("api", "c1", "alice", "help")]).await[0].conversation_id;
        s.update_conversation(old, &status(Status::Closed), None).await.unwrap();

        let out = deliver(&s, vec![inbound("api", "c2", "alice", "new problem")]).await;
        assert!(out[0].created && !out[0].reopened);
        assert_ne!(out[0].conversation_id, old);
        assert_eq!(out[0].case_number, CaseNumber(2));
        let new = s.get_conversation(out[0].conversation_id).await.unwrap().unwrap();
        assert_eq!(new.repeat_of, Some(old));
        assert_eq!(new.status, Status::Open);
        let facts = s.list_facts(new.id).await.unwrap();
        assert_eq!(kinds(&facts), [FactKind::Created, FactKind::RepeatContact]);
        assert_eq!(facts[1].data["repeat_of"], serde_json::json!(old.to_string()));

        let closed = s.get_conversation(old).await.unwrap().unwrap();
        assert_eq!(closed.status, Status::Closed);
        assert_eq!(closed.reopen_count, 0);
        assert_eq!(s.list_messages(old).await.unwrap().len(), 1);

        // The next message joins the new conversation.
        let next = deliver(&s, vec![inbound("api", "c3", "alice", "any news?")]).await;
        assert_eq!(next[0].conversation_id, new.id);
        assert!(!next[0].created);
    })
    .await;
}

#[tokio::test]
async fn resolved_conversation_outside_the_window_is_not_reopened() {
    for_each_backend(|s| async move {
        let old = deliver(&s, vec![inbound("api", "w1", "alice", "help")]).await[0].conversation_id;
        s.update_conversation(old, &status(Status::Resolved), None).await.unwrap();
        // The clock must move past the resolution time for a zero window to be exceeded.
        tokio::time::sleep(StdDuration::from_millis(5)).await;

        let rules = ThreadingRules { reopen_window: Duration::zero() };
        let out = deliver_with(&s, vec![inbound("api", "w2", "alice", "hello again")], rules).await;
        assert!(out[0].created && !out[0].reopened);
        assert_ne!(out[0].conversation_id, old);
        let new = s.get_conversation(out[0].conversation_id).await.unwrap().unwrap();
        // Outside the window it is not a repeat contact either.
        assert_eq!(new.repeat_of, None);
        assert_eq!(kinds(&s.list_facts(new.id).await.unwrap()), [FactKind::Created]);

        let old = s.get_conversation(old).await.unwrap().unwrap();
        assert_eq!(old.status, Status::Resolved);
        assert_eq!(old.reopen_count, 0);
        assert!(old.resolved_at.is_some());
        assert_eq!(count(&s.list_facts(old.id).await.unwrap(), FactKind::Reopened), 0);
    })
    .await;
}

#[tokio::test]
async fn one_batch_reopens_reactivates_and_joins() {
    for_each_backend(|s| async move {
        let first = deliver(
            &s,
            vec![
                inbound("api", "x1", "alice", "help"),
                on_thread(inbound("api", "x2", "alice", "pending thread"), "p"),
                on_thread(inbound("api", "x3", "alice", "open thread"), "o"),
            ],
        )
        .await;
        let (resolved, pending, open) = (first[0].conversation_id, first[1].conversation_id, first[2].conversation_id);
        s.update_conversation(resolved, &status(Status::Resolved), None).await.unwrap();
        s.update_conversation(pending, &status(Status::Pending), None).await.unwrap();

        let out = deliver(
            &s,
            vec![
                inbound("api", "x4", "alice", "still broken"),
                on_thread(inbound("api", "x5", "alice", "the info"), "p"),
                inbound("api", "x6", "alice", "hello?"),
                on_thread(inbound("api", "x7", "alice", "more info"), "p"),
                on_thread(inbound("api", "x8", "alice", "and here"), "o"),
                inbound("api", "x9", "bob", "hi"),
            ],
        )
        .await;
        // Reopened once; the next message joins the reopened conversation.
        assert_eq!(out[0].conversation_id, resolved);
        assert!(out[0].reopened && !out[0].created);
        assert_eq!(out[0].case_number, CaseNumber(1));
        assert_eq!(out[2].conversation_id, resolved);
        assert!(!out[2].reopened && !out[2].created);
        // Reactivated once, then joined.
        for o in [&out[1], &out[3]] {
            assert_eq!(o.conversation_id, pending);
            assert!(!o.reopened && !o.created);
            assert_eq!(o.case_number, CaseNumber(2));
        }
        assert_eq!(out[4].conversation_id, open);
        assert!(!out[4].reopened && !out[4].created);
        assert!(out[5].created);
        assert_eq!(out[5].case_number, CaseNumber(4));

        let r = s.get_conversation(resolved).await.unwrap().unwrap();
        assert_eq!(r.status, Status::Open);
        assert_eq!(r.reopen_count, 1);
        assert!(r.resolved_at.is_none());
        assert_eq!(count(&s.list_facts(resolved).await.unwrap(), FactKind::Reopened), 1);
        assert_eq!(s.list_messages(resolved).await.unwrap().len(), 3);

        let p = s.get_conversation(pending).await.unwrap().unwrap();
        assert_eq!(p.status, Status::Open);
        assert_eq!(p.reopen_count, 0);
        let facts = s.list_facts(pending).await.unwrap();
        assert_eq!(kinds(&facts), [FactKind::Created, FactKind::StatusChanged, FactKind::StatusChanged]);
        assert_eq!(facts[2].data["from"], "pending");
        assert_eq!(facts[2].data["by"], "customer");
        assert_eq!(s.list_messages(pending).await.unwrap().len(), 3);

        let o = s.get_conversation(open).await.unwrap().unwrap();
        assert_eq!(o.status, Status::Open);
        assert_eq!(kinds(&s.list_facts(open).await.unwrap()), [FactKind::Created]);
        assert_eq!(s.list_messages(open).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_conversation_reopened_earlier_in_the_batch_is_not_repeated() {
    for_each_backend(|s| async move {
        let first = deliver(
            &s,
            vec![
                on_thread(inbound("api", "y1", "alice", "one"), "a"),
                on_thread(inbound("api", "y2", "alice", "two"), "b"),
            ],
        )
        .await;
        let (a, b) = (first[0].conversation_id, first[1].conversation_id);
        s.update_conversation(b, &status(Status::Closed), None).await.unwrap();
        tokio::time::sleep(StdDuration::from_millis(5)).await;
        s.update_conversation(a, &status(Status::Resolved), None).await.unwrap();

        // The first event reopens `a`, the contact's most recently resolved conversation; the
        // second opens a conversation on a new thread, a repeat of `b`, now the last resolved.
        let out = deliver(
            &s,
            vec![
                on_thread(inbound("api", "y3", "alice", "back"), "a"),
                on_thread(inbound("api", "y4", "alice", "new"), "c"),
            ],
        )
        .await;
        assert_eq!(out[0].conversation_id, a);
        assert!(out[0].reopened);
        assert!(out[1].created);
        assert_eq!(out[1].case_number, CaseNumber(3));
        let new = s.get_conversation(out[1].conversation_id).await.unwrap().unwrap();
        assert_eq!(new.repeat_of, Some(b));
        let facts = s.list_facts(new.id).await.unwrap();
        assert_eq!(kinds(&facts), [FactKind::Created, FactKind::RepeatContact]);
        assert_eq!(facts[1].data["repeat_of"], serde_json::json!(b.to_string()));
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 4. Pending / snoozed
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn customer_message_reactivates_pending_and_snoozed() {
    for_each_backend(|s| async move {
        let conv = deliver(&s, vec![inbound("api", "p1", "alice", "help")]).await[0].conversation_id;
        s.update_conversation(conv, &status(Status::Pending), None).await.unwrap();

        let out = deliver(&s, vec![inbound("api", "p2", "alice", "here is the info")]).await;
        assert_eq!(out[0].conversation_id, conv);
        assert!(!out[0].created && !out[0].reopened);
        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Open);
        assert_eq!(c.reopen_count, 0);
        let facts = s.list_facts(conv).await.unwrap();
        let last = facts.last().unwrap();
        assert_eq!(last.kind, FactKind::StatusChanged);
        assert_eq!(last.data["from"], "pending");
        assert_eq!(last.data["to"], "open");
        assert!(last.actor_id.is_none());

        let until = whole_second(Utc::now()) + Duration::hours(4);
        let snooze =
            ConversationPatch { status: Some(Status::Snoozed), snoozed_until: Some(until), ..Default::default() };
        let snoozed = s.update_conversation(conv, &snooze, None).await.unwrap();
        assert_eq!(snoozed.status, Status::Snoozed);
        assert_eq!(snoozed.snoozed_until, Some(until));

        deliver(&s, vec![inbound("api", "p3", "alice", "ping")]).await;
        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Open);
        assert_eq!(c.snoozed_until, None);
        let facts = s.list_facts(conv).await.unwrap();
        let last = facts.last().unwrap();
        assert_eq!(last.kind, FactKind::StatusChanged);
        assert_eq!(last.data["from"], "snoozed");
        assert_eq!(s.list_messages(conv).await.unwrap().len(), 3);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 5. update_conversation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_conversation_records_facts_and_validates() {
    for_each_backend(|s| async move {
        let actor = user(&s, "lead@example.com").await;
        let assignee = user(&s, "agent@example.com").await;
        let conv = deliver(&s, vec![inbound("api", "u1", "alice", "help")]).await[0].conversation_id;

        let patch = ConversationPatch {
            status: Some(Status::Pending),
            assignee_id: Some(Some(assignee.id)),
            priority: Some(Priority::High),
            team: Some(Some("  billing ".to_owned())),
            tags: Some(vec![" VIP".into(), "refund".into(), "vip".into(), "".into()]),
            snoozed_until: None,
        };
        let c = s.update_conversation(conv, &patch, Some(actor.id)).await.unwrap();
        assert_eq!(c.status, Status::Pending);
        assert_eq!(c.assignee_id, Some(assignee.id));
        assert_eq!(c.priority, Priority::High);
        assert_eq!(c.team.as_deref(), Some("billing"));
        assert_eq!(c.tags, ["refund", "vip"]);
        assert_eq!(s.get_conversation(conv).await.unwrap().unwrap(), c);

        let facts = s.list_facts(conv).await.unwrap();
        for kind in [
            FactKind::StatusChanged,
            FactKind::AssigneeChanged,
            FactKind::PriorityChanged,
            FactKind::TeamChanged,
            FactKind::TagsChanged,
        ] {
            let f: Vec<_> = facts.iter().filter(|f| f.kind == kind).collect();
            assert_eq!(f.len(), 1, "{kind}: {facts:?}");
            assert_eq!(f[0].actor_id, Some(actor.id), "{kind}");
        }
        let st = facts.iter().find(|f| f.kind == FactKind::StatusChanged).unwrap();
        assert_eq!(st.data["from"], "open");
        assert_eq!(st.data["to"], "pending");
        let tags = facts.iter().find(|f| f.kind == FactKind::TagsChanged).unwrap();
        assert_eq!(tags.data["to"], serde_json::json!(["refund", "vip"]));

        // The same patch again changes nothing and records nothing.
        let n = facts.len();
        s.update_conversation(conv, &patch, Some(actor.id)).await.unwrap();
        assert_eq!(s.list_facts(conv).await.unwrap().len(), n);

        // Unassign and clear the team.
        let clear = ConversationPatch { assignee_id: Some(None), team: Some(None), ..Default::default() };
        let c = s.update_conversation(conv, &clear, None).await.unwrap();
        assert_eq!(c.assignee_id, None);
        assert_eq!(c.team, None);
        let facts = s.list_facts(conv).await.unwrap();
        assert_eq!(count(&facts, FactKind::AssigneeChanged), 2);
        assert_eq!(count(&facts, FactKind::TeamChanged), 2);

        // Assigning a user who does not exist is invalid, and nothing of the patch is applied.
        let bad = ConversationPatch {
            status: Some(Status::Open),
            assignee_id: Some(Some(UserId::new())),
            ..Default::default()
        };
        assert_err!(s.update_conversation(conv, &bad, Some(actor.id)).await, Invalid);
        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Pending);
        assert_eq!(c.assignee_id, None);
        assert_eq!(s.list_facts(conv).await.unwrap().len(), facts.len());

        // Snoozing needs a time.
        assert_err!(s.update_conversation(conv, &status(Status::Snoozed), None).await, Invalid);

        // Closed is final.
        let closed = s.update_conversation(conv, &status(Status::Closed), Some(actor.id)).await.unwrap();
        assert_eq!(closed.status, Status::Closed);
        assert!(closed.resolved_at.is_some());
        assert_err!(s.update_conversation(conv, &status(Status::Open), None).await, Conflict);
        assert_err!(s.update_conversation(conv, &status(Status::Resolved), None).await, Conflict);
        assert_eq!(s.get_conversation(conv).await.unwrap().unwrap().status, Status::Closed);

        assert_err!(s.update_conversation(ConversationId::new(), &status(Status::Resolved), None).await, NotFound);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 6. post_message
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn post_message_replies_notes_and_idempotency() {
    for_each_backend(|s| async move {
        let agent = user(&s, "agent@example.com").await;
        let conv = deliver(&s, vec![inbound("api", "pm1", "alice", "help")]).await[0].conversation_id;
        let t1 = whole_second(Utc::now()) + Duration::seconds(1);

        // A note: private, not sent, no first response.
        let (note, created) =
            s.post_message(&new_message(conv, agent.id, MessageKind::Note, "internal", t1)).await.unwrap();
        assert!(created);
        assert_eq!(note.direction, Direction::Note);
        assert_eq!(note.visibility, Visibility::Private);
        assert_eq!(note.delivery_status, None);
        assert_eq!(note.author_id, Some(agent.id));
        assert_eq!(s.outbox_backlog().await.unwrap(), 0);
        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.first_response_at, None);
        assert_eq!(count(&s.list_facts(conv).await.unwrap(), FactKind::FirstResponse), 0);

        // The first reply: queued, in the outbox, sets the first response.
        let (r1, created) =
            s.post_message(&new_message(conv, agent.id, MessageKind::Reply, "on it", t1)).await.unwrap();
        assert!(created);
        assert_eq!(r1.direction, Direction::Outbound);
        assert_eq!(r1.visibility, Visibility::Public);
        assert_eq!(r1.delivery_status, Some(DeliveryStatus::Queued));
        assert_eq!(r1.author_id, Some(agent.id));
        assert_eq!(r1.text, "on it");
        assert_eq!(r1.conversation_id, conv);
        assert_eq!(s.get_message(r1.id).await.unwrap().unwrap(), r1);
        assert_eq!(s.outbox_backlog().await.unwrap(), 1);
        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.first_response_at, Some(t1));
        assert_eq!(c.last_message_at, t1);

        // A second reply does not move the first response.
        let t2 = t1 + Duration::minutes(5);
        let (r2, _) = s.post_message(&new_message(conv, agent.id, MessageKind::Reply, "done", t2)).await.unwrap();
        assert_ne!(r2.id, r1.id);
        assert_eq!(s.outbox_backlog().await.unwrap(), 2);
        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.first_response_at, Some(t1));
        assert_eq!(c.last_message_at, t2);
        let facts = s.list_facts(conv).await.unwrap();
        assert_eq!(count(&facts, FactKind::FirstResponse), 1);

        // Idempotency: the same key returns the first message and queues nothing more.
        let keyed = NewMessage {
            idempotency_key: Some("key-1".into()),
            ..new_message(conv, agent.id, MessageKind::Reply, "exactly once", t2)
        };
        let (k1, created) = s.post_message(&keyed).await.unwrap();
        assert!(created);
        assert_eq!(s.outbox_backlog().await.unwrap(), 3);
        let (k2, created) = s.post_message(&keyed).await.unwrap();
        assert!(!created);
        assert_eq!(k2.id, k1.id);
        assert_eq!(k2, k1);
        assert_eq!(s.outbox_backlog().await.unwrap(), 3);
        let changed = NewMessage { text: "something else".into(), ..keyed.clone() };
        assert_err!(s.post_message(&changed).await, Conflict);
        assert_eq!(s.outbox_backlog().await.unwrap(), 3);
        let msgs = s.list_messages(conv).await.unwrap();
        assert_eq!(msgs.len(), 5); // inbound, note, 2 replies, keyed reply
        assert_eq!(msgs.iter().filter(|m| m.text == "exactly once").count(), 1);

        // A keyed note repeated is also stored once.
        let keyed_note = NewMessage {
            idempotency_key: Some("key-2".into()),
            ..new_message(conv, agent.id, MessageKind::Note, "note once", t2)
        };
        let (n1, _) = s.post_message(&keyed_note).await.unwrap();
        let (n2, created) = s.post_message(&keyed_note).await.unwrap();
        assert!(!created);
        assert_eq!(n1.id, n2.id);
        assert_eq!(s.outbox_backlog().await.unwrap(), 3);

        // The same key on another conversation is a conflict, not a silent success.
        let elsewhere = deliver(&s, vec![inbound("api", "pm2", "bob", "me too")]).await[0].conversation_id;
        let moved = NewMessage { conversation_id: elsewhere, ..keyed.clone() };
        assert_err!(s.post_message(&moved).await, Conflict);
        assert!(s.list_messages(elsewhere).await.unwrap().iter().all(|m| m.direction == Direction::Inbound));
        assert_eq!(s.outbox_backlog().await.unwrap(), 3);

        // No replies to closed conversations (notes are still allowed).
        s.update_conversation(conv, &status(Status::Closed), None).await.unwrap();
        assert_err!(s.post_message(&new_message(conv, agent.id, MessageKind::Reply, "too late", t2)).await, Conflict);
        assert_eq!(s.outbox_backlog().await.unwrap(), 3);
        assert_eq!(s.list_messages(conv).await.unwrap().len(), 6);

        assert_err!(
            s.post_message(&new_message(ConversationId::new(), agent.id, MessageKind::Reply, "?", t2)).await,
            NotFound
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 7. list_conversations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_conversations_filters_and_pages() {
    for_each_backend(|s| async move {
        let agent = user(&s, "agent@example.com").await;
        // Three conversations threaded together (same activity time), then two later ones.
        let mut out = deliver(
            &s,
            vec![
                named(inbound("api", "l1", "alice", "my refund is 100% late"), "Alice Smith"),
                named(inbound("api", "l2", "bob", "order 1000 missing"), "Bob Jones"),
                named(inbound("chat", "l3", "carol", "code a_b fails"), "Carol White"),
            ],
        )
        .await;
        out.extend(deliver(&s, vec![named(inbound("chat", "l4", "dave", "code axb fails"), "Dave Brown")]).await);
        out.extend(deliver(&s, vec![named(inbound("api", "l5", "erin", "hello"), "Erin Stone")]).await);
        let ids: Vec<ConversationId> = out.iter().map(|o| o.conversation_id).collect();
        let [c1, c2, c3, c4, c5] = <[ConversationId; 5]>::try_from(ids.clone()).unwrap();

        let upd = |id, patch: ConversationPatch| {
            let s = s.clone();
            async move { s.update_conversation(id, &patch, None).await.unwrap() }
        };
        upd(c2, status(Status::Pending)).await;
        upd(c3, ConversationPatch { assignee_id: Some(Some(agent.id)), ..Default::default() }).await;
        upd(c5, ConversationPatch { assignee_id: Some(Some(agent.id)), ..Default::default() }).await;
        upd(c4, ConversationPatch { priority: Some(Priority::Urgent), ..Default::default() }).await;
        upd(c1, ConversationPatch { team: Some(Some("billing".into())), ..Default::default() }).await;

        // Newest activity first; ties broken by id, newest first.
        let full = s.list_conversations(&ConversationFilter { limit: 200, ..Default::default() }).await.unwrap();
        assert!(full.next_cursor.is_none());
        let order: Vec<ConversationId> = full.items.iter().map(|c| c.conversation.id).collect();
        let mut expected = Vec::new();
        for id in &ids {
            expected.push(s.get_conversation(*id).await.unwrap().unwrap());
        }
        expected.sort_by_key(|c| std::cmp::Reverse((c.last_message_at, c.id)));
        let expected: Vec<ConversationId> = expected.iter().map(|c| c.id).collect();
        assert_eq!(order, expected);
        assert_eq!(&order[..2], &[c5, c4]);
        let alice = full.items.iter().find(|c| c.conversation.id == c1).unwrap();
        assert_eq!(alice.contact_name.as_deref(), Some("Alice Smith"));
        assert_eq!(alice.conversation.team.as_deref(), Some("billing"));

        let f = ConversationFilter::default;
        assert_eq!(conversation_ids(&s, ConversationFilter { status: Some(Status::Pending), ..f() }).await, set([c2]));
        assert_eq!(
            conversation_ids(&s, ConversationFilter { status: Some(Status::Open), ..f() }).await,
            set([c1, c3, c4, c5])
        );
        assert_eq!(
            conversation_ids(&s, ConversationFilter { channel: Some(slug("chat")), ..f() }).await,
            set([c3, c4])
        );
        assert_eq!(
            conversation_ids(&s, ConversationFilter { assignee: Some(Some(agent.id)), ..f() }).await,
            set([c3, c5])
        );
        assert_eq!(conversation_ids(&s, ConversationFilter { assignee: Some(None), ..f() }).await, set([c1, c2, c4]));
        assert_eq!(
            conversation_ids(&s, ConversationFilter { priority: Some(Priority::Urgent), ..f() }).await,
            set([c4])
        );
        assert_eq!(
            conversation_ids(&s, ConversationFilter { priority: Some(Priority::Normal), ..f() }).await,
            set([c1, c2, c3, c5])
        );
        assert_eq!(conversation_ids(&s, ConversationFilter { team: Some("billing".into()), ..f() }).await, set([c1]));
        let alice_contact = s.get_conversation(c1).await.unwrap().unwrap().contact_id;
        assert_eq!(conversation_ids(&s, ConversationFilter { contact: Some(alice_contact), ..f() }).await, set([c1]));
        assert_eq!(
            conversation_ids(&s, ConversationFilter { channel: Some(slug("api")), assignee: Some(None), ..f() }).await,
            set([c1, c2])
        );

        let q = |text: &str| ConversationFilter { query: Some(text.to_owned()), ..f() };
        // Case numbers.
        assert_eq!(conversation_ids(&s, q("SB-000001")).await, set([c1]));
        assert_eq!(conversation_ids(&s, q("SB-000004")).await, set([c4]));
        assert_eq!(conversation_ids(&s, q("SB-000099")).await, set([]));
        // Contact names, case-insensitively.
        assert_eq!(conversation_ids(&s, q("alice")).await, set([c1]));
        assert_eq!(conversation_ids(&s, q("Jones")).await, set([c2]));
        // Message text.
        assert_eq!(conversation_ids(&s, q("missing")).await, set([c2]));
        assert_eq!(conversation_ids(&s, q("code")).await, set([c3, c4]));
        // LIKE wildcards are literal.
        assert_eq!(conversation_ids(&s, q("100%")).await, set([c1]));
        assert_eq!(conversation_ids(&s, q("%")).await, set([c1]));
        assert_eq!(conversation_ids(&s, q("a_b")).await, set([c3]));
        assert_eq!(conversation_ids(&s, q("_")).await, set([c3]));
        assert_eq!(conversation_ids(&s, q("nothing like this")).await, set([]));
        // Combined with another filter.
        assert_eq!(conversation_ids(&s, ConversationFilter { channel: Some(slug("api")), ..q("code") }).await, set([]));

        // Pages of two return everything exactly once, in order.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page =
                s.list_conversations(&ConversationFilter { limit: 2, cursor: cursor.clone(), ..f() }).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 2);
            seen.extend(page.items.iter().map(|c| c.conversation.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(pages < 10, "pagination does not end");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected);

        // Pagination keeps the filter.
        let first =
            s.list_conversations(&ConversationFilter { limit: 2, status: Some(Status::Open), ..f() }).await.unwrap();
        let second = s
            .list_conversations(&ConversationFilter {
                limit: 2,
                status: Some(Status::Open),
                cursor: first.next_cursor.clone(),
                ..f()
            })
            .await
            .unwrap();
        assert!(second.next_cursor.is_none());
        let both: Vec<_> = first.items.iter().chain(&second.items).map(|c| c.conversation.id).collect();
        let open_expected: Vec<_> = expected.iter().copied().filter(|id| *id != c2).collect();
        assert_eq!(both, open_expected);

        for garbage in ["garbage", "123.not-a-uuid", "x.00000000000000000000000000000000", ""] {
            assert_err!(
                s.list_conversations(&ConversationFilter { cursor: Some(garbage.into()), limit: 2, ..f() }).await,
                Invalid
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 8. Contacts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn contacts_identities_merge_and_search() {
    for_each_backend(|s| async move {
        let out = deliver(
            &s,
            vec![
                named(inbound("api", "k1", "alice-api", "hi"), "Alice"),
                named(inbound("chat", "k2", "alice-chat", "hi again"), "A. Smith"),
                named(inbound("api", "k3", "bob", "hello"), "Bob"),
            ],
        )
        .await;
        let conv_api = s.get_conversation(out[0].conversation_id).await.unwrap().unwrap();
        let conv_chat = s.get_conversation(out[1].conversation_id).await.unwrap().unwrap();
        let keep = conv_api.contact_id;
        let other = conv_chat.contact_id;
        let bob = s.get_conversation(out[2].conversation_id).await.unwrap().unwrap().contact_id;
        assert_ne!(keep, other);

        let k = s.get_contact(keep).await.unwrap().unwrap();
        assert_eq!(k.name.as_deref(), Some("Alice"));
        assert_eq!(k.identities.len(), 1);
        assert_eq!(k.identities[0].channel, slug("api"));
        assert_eq!(k.identities[0].provider_user_id, "alice-api");
        assert_eq!(k.identities[0].handle.as_deref(), Some("@alice-api"));
        assert_eq!(k.identities[0].display_name.as_deref(), Some("Alice"));
        assert!(s.get_contact(ContactId::new()).await.unwrap().is_none());

        let o = s.update_contact(other, None, Some("alice@example.com")).await.unwrap();
        assert_eq!(o.email.as_deref(), Some("alice@example.com"));
        assert_eq!(o.name.as_deref(), Some("A. Smith"));

        let all = s.list_contacts(None, None, 50).await.unwrap();
        assert_eq!(all.items.len(), 3);
        let smith = s.list_contacts(Some("smith"), None, 50).await.unwrap();
        assert_eq!(smith.items.iter().map(|c| c.id).collect::<Vec<_>>(), [other]);

        // Merge.
        let merged = s.merge_contacts(keep, other).await.unwrap();
        assert_eq!(merged.id, keep);
        assert_eq!(merged.name.as_deref(), Some("Alice"));
        assert_eq!(merged.email.as_deref(), Some("alice@example.com"));
        let mut ids: Vec<_> = merged.identities.iter().map(|i| i.provider_user_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["alice-api", "alice-chat"]);
        // The merged-away id leads to the survivor.
        assert_eq!(s.get_contact(other).await.unwrap().unwrap(), merged);
        // Conversations moved.
        assert_eq!(s.get_conversation(conv_chat.id).await.unwrap().unwrap().contact_id, keep);
        assert_eq!(
            conversation_ids(&s, ConversationFilter { contact: Some(keep), ..Default::default() }).await,
            set([conv_api.id, conv_chat.id])
        );
        assert_eq!(
            conversation_ids(&s, ConversationFilter { contact: Some(other), ..Default::default() }).await,
            set([])
        );

        // A new message from the moved identity joins the moved conversation.
        let next = deliver(&s, vec![inbound("chat", "k4", "alice-chat", "still there?")]).await;
        assert_eq!(next[0].conversation_id, conv_chat.id);
        assert!(!next[0].created);

        // Merging into itself (directly or through the merge) is invalid.
        assert_err!(s.merge_contacts(keep, keep).await, Invalid);
        assert_err!(s.merge_contacts(keep, other).await, Invalid);
        assert_err!(s.merge_contacts(keep, ContactId::new()).await, NotFound);

        // Lists leave merged contacts out and search identities too.
        let all = s.list_contacts(None, None, 50).await.unwrap();
        let listed: BTreeSet<_> = all.items.iter().map(|c| c.id).collect();
        assert_eq!(listed, BTreeSet::from([keep, bob]));
        let smith = s.list_contacts(Some("smith"), None, 50).await.unwrap();
        assert_eq!(smith.items.iter().map(|c| c.id).collect::<Vec<_>>(), [keep]);
        let by_email = s.list_contacts(Some("ALICE@example"), None, 50).await.unwrap();
        assert_eq!(by_email.items.iter().map(|c| c.id).collect::<Vec<_>>(), [keep]);
        let bobs = s.list_contacts(Some("bob"), None, 50).await.unwrap();
        assert_eq!(bobs.items.iter().map(|c| c.id).collect::<Vec<_>>(), [bob]);
        assert!(s.list_contacts(Some("%"), None, 50).await.unwrap().items.is_empty());
        assert!(s.list_contacts(Some("nobody"), None, 50).await.unwrap().items.is_empty());

        // Pages of one.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..5 {
            let page = s.list_contacts(None, cursor.as_deref(), 1).await.unwrap();
            seen.extend(page.items.iter().map(|c| c.id));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert!(cursor.is_none());
        assert_eq!(seen, all.items.iter().map(|c| c.id).collect::<Vec<_>>());
        assert_err!(s.list_contacts(None, Some("nope"), 10).await, Invalid);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 9. Outbox
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn outbox_leases_completes_and_fails() {
    for_each_backend(|s| async move {
        s.upsert_channel(&api_channel("https://example.com/callback")).await.unwrap();
        let agent = user(&s, "agent@example.com").await;
        let out = deliver(&s, vec![inbound("api", "o1", "alice-1", "help")]).await;
        let conv = out[0].conversation_id;
        let t0 = whole_second(Utc::now());

        let (msg, _) = s.post_message(&new_message(conv, agent.id, MessageKind::Reply, "hello", t0)).await.unwrap();
        // Not yet due.
        assert!(s.claim_outbox(t0 - Duration::seconds(1), t0 + Duration::seconds(60), 10).await.unwrap().is_empty());

        let items = s.claim_outbox(t0 + Duration::seconds(1), t0 + Duration::seconds(61), 10).await.unwrap();
        assert_eq!(items.len(), 1);
        let item = &items[0];
        assert_eq!(item.attempts, 1);
        assert_eq!(item.message_id, msg.id);
        assert_eq!(item.conversation_id, conv);
        assert_eq!(item.case_number, CaseNumber(1));
        assert_eq!(item.channel, api_channel("https://example.com/callback"));
        assert_eq!(item.recipient, "alice-1");
        assert_eq!(item.thread_key, "");
        assert_eq!(item.visibility, Visibility::Public);
        assert_eq!(item.text, "hello");
        assert_eq!(item.created_at, t0);

        // Leased: nobody else gets it until the lease runs out.
        assert!(s.claim_outbox(t0 + Duration::seconds(2), t0 + Duration::seconds(62), 10).await.unwrap().is_empty());
        assert_eq!(s.outbox_backlog().await.unwrap(), 1);
        let again = s.claim_outbox(t0 + Duration::seconds(62), t0 + Duration::seconds(122), 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, item.id);
        assert_eq!(again[0].attempts, 2);

        // The first lease holder is stale now: its outcome is refused and changes nothing.
        assert_err!(s.complete_outbox(item.id, 1, "stale", t0 + Duration::seconds(63)).await, Conflict);
        assert_err!(s.fail_outbox(item.id, 1, "stale", None).await, Conflict);
        s.complete_outbox(item.id, 2, "prov-1", t0 + Duration::seconds(63)).await.unwrap();
        // Settled rows cannot be settled again.
        assert_err!(s.fail_outbox(item.id, 2, "late", Some(t0)).await, Conflict);
        let sent = s.get_message(msg.id).await.unwrap().unwrap();
        assert_eq!(sent.provider_message_id.as_deref(), Some("prov-1"));
        assert_eq!(sent.delivery_status, Some(DeliveryStatus::Sent));
        assert_eq!(s.outbox_backlog().await.unwrap(), 0);
        assert!(s.claim_outbox(t0 + Duration::days(1), t0 + Duration::days(2), 10).await.unwrap().is_empty());
        assert_err!(s.complete_outbox(switchboard_domain::OutboxId::new(), 1, "x", t0).await, NotFound);

        // A failure with a retry time waits until then.
        let (msg2, _) = s.post_message(&new_message(conv, agent.id, MessageKind::Reply, "second", t0)).await.unwrap();
        let items = s.claim_outbox(t0 + Duration::seconds(1), t0 + Duration::seconds(61), 10).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].message_id, msg2.id);
        let id2 = items[0].id;
        s.fail_outbox(id2, 1, "timeout", Some(t0 + Duration::minutes(10))).await.unwrap();
        assert_eq!(s.outbox_backlog().await.unwrap(), 1);
        let waiting = s.get_message(msg2.id).await.unwrap().unwrap();
        assert_eq!(waiting.delivery_status, Some(DeliveryStatus::Queued));
        assert!(s.claim_outbox(t0 + Duration::minutes(5), t0 + Duration::minutes(6), 10).await.unwrap().is_empty());
        let retried = s.claim_outbox(t0 + Duration::minutes(11), t0 + Duration::minutes(12), 10).await.unwrap();
        assert_eq!(retried.len(), 1);
        assert_eq!(retried[0].id, id2);
        assert_eq!(retried[0].attempts, 2);

        // A failure without a retry time is final.
        s.fail_outbox(id2, 2, "rejected by provider", None).await.unwrap();
        let failed = s.get_message(msg2.id).await.unwrap().unwrap();
        assert_eq!(failed.delivery_status, Some(DeliveryStatus::Failed));
        assert_eq!(failed.failure_reason.as_deref(), Some("rejected by provider"));
        assert_eq!(s.outbox_backlog().await.unwrap(), 0);
        assert!(s.claim_outbox(t0 + Duration::days(1), t0 + Duration::days(2), 10).await.unwrap().is_empty());
        // The first message is unaffected.
        let first = s.get_message(msg.id).await.unwrap().unwrap();
        assert_eq!(first.delivery_status, Some(DeliveryStatus::Sent));
    })
    .await;
}

#[tokio::test]
async fn outbox_claims_respect_the_limit() {
    for_each_backend(|s| async move {
        s.upsert_channel(&api_channel("https://example.com/callback")).await.unwrap();
        let agent = user(&s, "agent@example.com").await;
        let conv = deliver(&s, vec![inbound("api", "ol1", "alice", "help")]).await[0].conversation_id;
        let t0 = whole_second(Utc::now());
        let mut ids = Vec::new();
        for i in 0..3 {
            let at = t0 + Duration::seconds(i);
            let (m, _) =
                s.post_message(&new_message(conv, agent.id, MessageKind::Reply, &format!("r{i}"), at)).await.unwrap();
            ids.push(m.id);
        }
        let later = t0 + Duration::minutes(1);
        let lease = t0 + Duration::minutes(2);
        let a = s.claim_outbox(later, lease, 2).await.unwrap();
        assert_eq!(a.iter().map(|i| i.message_id).collect::<Vec<_>>(), ids[..2]);
        let b = s.claim_outbox(later, lease, 2).await.unwrap();
        assert_eq!(b.iter().map(|i| i.message_id).collect::<Vec<_>>(), ids[2..]);
        assert!(s.claim_outbox(later, lease, 2).await.unwrap().is_empty());
        assert_eq!(s.outbox_backlog().await.unwrap(), 3);
    })
    .await;
}

#[tokio::test]
async fn outbox_row_without_a_channel_record_fails() {
    for_each_backend(|s| async move {
        // No channel record for "chat": nothing can deliver the reply.
        let agent = user(&s, "agent@example.com").await;
        let conv = deliver(&s, vec![inbound("chat", "x1", "alice", "help")]).await[0].conversation_id;
        let t0 = whole_second(Utc::now());
        let (m, _) = s.post_message(&new_message(conv, agent.id, MessageKind::Reply, "hi", t0)).await.unwrap();
        let items = s.claim_outbox(t0 + Duration::seconds(1), t0 + Duration::seconds(60), 10).await.unwrap();
        assert!(items.is_empty());
        assert_eq!(s.outbox_backlog().await.unwrap(), 0);
        let m = s.get_message(m.id).await.unwrap().unwrap();
        assert_eq!(m.delivery_status, Some(DeliveryStatus::Failed));
        assert!(m.failure_reason.is_some());
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 10. Users and tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn users_and_api_tokens() {
    for_each_backend(|s| async move {
        let u = s
            .create_user(&NewUser {
                email: " Alice@Example.COM ".into(),
                name: "Alice".into(),
                role: Role::Admin,
                password_hash: Some("$argon2id$fake".into()),
            })
            .await
            .unwrap();
        assert_eq!(u.email, "alice@example.com");
        assert_eq!(u.name, "Alice");
        assert_eq!(u.role, Role::Admin);
        assert_eq!(u.password_hash.as_deref(), Some("$argon2id$fake"));
        assert!(!u.disabled);
        assert_eq!(s.get_user(u.id).await.unwrap().unwrap(), u);
        assert_eq!(s.find_user_by_email("ALICE@example.com").await.unwrap().unwrap(), u);
        assert!(s.find_user_by_email("nobody@example.com").await.unwrap().is_none());
        assert!(s.get_user(UserId::new()).await.unwrap().is_none());

        for dup in ["alice@example.com", "ALICE@EXAMPLE.COM"] {
            let r = s
                .create_user(&NewUser { email: dup.into(), name: "Dup".into(), role: Role::Agent, password_hash: None })
                .await;
            assert_err!(r, Conflict);
        }
        let b = user(&s, "bob@example.com").await;
        let emails: Vec<_> = s.list_users().await.unwrap().into_iter().map(|u| u.email).collect();
        assert_eq!(emails, ["alice@example.com", "bob@example.com"]);

        let t = s.create_api_token(u.id, "ci", "hash-1").await.unwrap();
        assert_eq!(t.user_id, u.id);
        assert_eq!(t.name, "ci");
        let (found, owner) = s.find_api_token("hash-1").await.unwrap().unwrap();
        assert_eq!(found.id, t.id);
        assert_eq!(found.user_id, u.id);
        assert_eq!(found.name, "ci");
        assert_eq!(owner, u);
        let tb = s.create_api_token(b.id, "bot", "hash-2").await.unwrap();
        let (found_b, owner_b) = s.find_api_token("hash-2").await.unwrap().unwrap();
        assert_eq!((found_b.id, owner_b.id), (tb.id, b.id));
        assert!(s.find_api_token("hash-3").await.unwrap().is_none());
        assert!(s.find_api_token("").await.unwrap().is_none());
        assert_err!(s.create_api_token(UserId::new(), "ghost", "hash-4").await, NotFound);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 11. Channels
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn channels_upsert_get_and_list() {
    for_each_backend(|s| async move {
        assert!(s.get_channel(&slug("api")).await.unwrap().is_none());
        assert!(s.list_channels().await.unwrap().is_empty());

        let v1 = api_channel("https://one.example.com/cb");
        s.upsert_channel(&v1).await.unwrap();
        assert_eq!(s.get_channel(&slug("api")).await.unwrap().unwrap(), v1);

        let web = ChannelRecord {
            slug: slug("chat"),
            kind: ChannelKind::Web,
            name: "Website".into(),
            callback_url: None,
            secret: None,
            config: serde_json::json!({"color": "#123456", "greeting": "Hi"}),
            created_at: sent_at() + Duration::hours(1),
        };
        s.upsert_channel(&web).await.unwrap();

        let v2 = ChannelRecord {
            name: "Renamed API".into(),
            callback_url: Some("https://two.example.com/cb".into()),
            secret: None,
            config: serde_json::json!({"retries": 3}),
            ..v1.clone()
        };
        s.upsert_channel(&v2).await.unwrap();
        assert_eq!(s.get_channel(&slug("api")).await.unwrap().unwrap(), v2);
        assert_eq!(s.get_channel(&slug("chat")).await.unwrap().unwrap(), web);
        assert!(s.get_channel(&slug("nope")).await.unwrap().is_none());
        assert_eq!(s.list_channels().await.unwrap(), [v2, web]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 12. Shutdown
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn closed_store_refuses_calls() {
    for_each_backend(|s| async move {
        s.ping().await.unwrap();
        s.close().await;
        assert_err!(s.ping().await, Closed);
        assert_err!(s.list_channels().await, Closed);
        assert_err!(s.append_inbound(vec![inbound("api", "z1", "alice", "late")]).await, Closed);
        assert_err!(s.pipeline_backlog().await, Closed);
    })
    .await;
}

#[tokio::test]
async fn delivery_reports_only_move_forward() {
    for_each_backend(|s| async move {
        s.upsert_channel(&api_channel("https://example.com/callback")).await.unwrap();
        let agent = user(&s, "agent@example.com").await;
        let out = deliver(&s, vec![inbound("api", "d1", "dora", "help")]).await;
        let t0 = whole_second(Utc::now());
        let (msg, _) =
            s.post_message(&new_message(out[0].conversation_id, agent.id, MessageKind::Reply, "hi", t0)).await.unwrap();
        let item = s.claim_outbox(t0 + Duration::seconds(1), t0 + Duration::seconds(61), 10).await.unwrap().remove(0);
        s.complete_outbox(item.id, item.attempts, "prov-9", t0).await.unwrap();
        // Unknown ids, other channels and inbound messages are not matched.
        assert!(s.record_delivery(&slug("api"), "nope", DeliveryStatus::Read, None).await.unwrap().is_none());
        assert!(s.record_delivery(&slug("other"), "prov-9", DeliveryStatus::Read, None).await.unwrap().is_none());
        assert!(s.record_delivery(&slug("api"), "d1", DeliveryStatus::Read, None).await.unwrap().is_none());
        // Read arrives before delivered: delivered does not move it back.
        let m = s.record_delivery(&slug("api"), "prov-9", DeliveryStatus::Read, None).await.unwrap().unwrap();
        assert_eq!((m.id, m.delivery_status), (msg.id, Some(DeliveryStatus::Read)));
        let m = s.record_delivery(&slug("api"), "prov-9", DeliveryStatus::Delivered, None).await.unwrap().unwrap();
        assert_eq!(m.delivery_status, Some(DeliveryStatus::Read));
        let m = s.record_delivery(&slug("api"), "prov-9", DeliveryStatus::Failed, Some("x")).await.unwrap().unwrap();
        assert_eq!(m.delivery_status, Some(DeliveryStatus::Read));
        assert_eq!(m.failure_reason, None);
        // A failure is recorded with its reason, and a later delivered report overrides it.
        let (msg2, _) = s
            .post_message(&new_message(out[0].conversation_id, agent.id, MessageKind::Reply, "again", t0))
            .await
            .unwrap();
        let item = s.claim_outbox(t0 + Duration::seconds(1), t0 + Duration::seconds(61), 10).await.unwrap().remove(0);
        s.complete_outbox(item.id, item.attempts, "prov-10", t0).await.unwrap();
        let m =
            s.record_delivery(&slug("api"), "prov-10", DeliveryStatus::Failed, Some("blocked")).await.unwrap().unwrap();
        assert_eq!(
            (m.id, m.delivery_status, m.failure_reason.as_deref()),
            (msg2.id, Some(DeliveryStatus::Failed), Some("blocked"))
        );
        let m = s.record_delivery(&slug("api"), "prov-10", DeliveryStatus::Delivered, None).await.unwrap().unwrap();
        assert_eq!((m.delivery_status, m.failure_reason), (Some(DeliveryStatus::Delivered), None));
    })
    .await;
}

#[tokio::test]
async fn snoozed_conversations_wake_once_when_due() {
    for_each_backend(|s| async move {
        let out =
            deliver(&s, vec![inbound("api", "z1", "zoe", "later please"), inbound("api", "z2", "zed", "hm")]).await;
        let (a, b) = (out[0].conversation_id, out[1].conversation_id);
        let now = whole_second(Utc::now());
        let snooze = |until| ConversationPatch {
            status: Some(Status::Snoozed),
            snoozed_until: Some(until),
            ..Default::default()
        };
        s.update_conversation(a, &snooze(now + Duration::hours(1)), None).await.unwrap();
        s.update_conversation(b, &snooze(now + Duration::hours(3)), None).await.unwrap();
        assert!(s.wake_snoozed(now).await.unwrap().is_empty());
        let woken = s.wake_snoozed(now + Duration::hours(2)).await.unwrap();
        assert_eq!(woken, vec![(a, out[0].case_number)]);
        assert!(s.wake_snoozed(now + Duration::hours(2)).await.unwrap().is_empty(), "woken twice");
        let conv = s.get_conversation(a).await.unwrap().unwrap();
        assert_eq!((conv.status, conv.snoozed_until), (Status::Open, None));
        let facts = s.list_facts(a).await.unwrap();
        let last = facts.last().unwrap();
        assert_eq!(last.kind, FactKind::StatusChanged);
        assert_eq!(last.data["by"], "snooze");
        assert_eq!(s.get_conversation(b).await.unwrap().unwrap().status, Status::Snoozed);
    })
    .await;
}

#[tokio::test]
async fn merge_chains_resolve_in_one_hop() {
    for_each_backend(|s| async move {
        let out = deliver(
            &s,
            vec![inbound("api", "m1", "ann", "a"), inbound("api", "m2", "ben", "b"), inbound("api", "m3", "cat", "c")],
        )
        .await;
        let contact = |i: usize| {
            let s = s.clone();
            let conv = out[i].conversation_id;
            async move { s.get_conversation(conv).await.unwrap().unwrap().contact_id }
        };
        let (a, b, c) = (contact(0).await, contact(1).await, contact(2).await);
        s.merge_contacts(a, b).await.unwrap();
        s.merge_contacts(c, a).await.unwrap();
        // b was merged into a, a into c: both resolve to c, with all three identities.
        let via_b = s.get_contact(b).await.unwrap().unwrap();
        assert_eq!(via_b.id, c);
        assert_eq!(via_b.identities.len(), 3);
        // Merging back the other way is refused instead of making a cycle.
        assert_err!(s.merge_contacts(b, c).await, Invalid);
        let page = s.list_contacts(None, None, 50).await.unwrap();
        assert_eq!(page.items.iter().map(|k| k.id).collect::<Vec<_>>(), vec![c]);
    })
    .await;
}
