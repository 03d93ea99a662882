//! XStore on both backends (the store_suite pattern: each test runs on SQLite and, with
//! TEST_DATABASE_URL, on PostgreSQL).
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Utc};
use common::for_each_backend;
use serde_json::json;
use switchboard_domain::{Attachment, ChannelSlug, ContactRef, InboundEvent, Visibility};
use switchboard_store::x::DELETED_TEXT;
use switchboard_store::{ActivityRecord, DynStore, ThreadingRules};

fn slug() -> ChannelSlug {
    ChannelSlug::parse("brand-x").unwrap()
}

fn post(id: &str, user: &str, thread: &str, text: &str) -> InboundEvent {
    let mut extra = serde_json::Map::new();
    extra.insert("raw".into(), json!({"text": text}));
    InboundEvent {
        channel: slug(),
        provider_event_id: id.into(),
        contact: ContactRef { provider_user_id: user.into(), handle: Some(format!("@{user}")), display_name: None },
        thread_key: thread.into(),
        visibility: Visibility::Public,
        text: text.into(),
        attachments: vec![Attachment {
            kind: "image".into(),
            url: Some("https://pbs.twimg.com/media/x.jpg".into()),
            mime_type: None,
            filename: None,
            size: None,
            provider_id: Some("9".into()),
        }],
        sent_at: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
        extra,
    }
}

async fn deliver(s: &DynStore, events: Vec<InboundEvent>) {
    s.append_inbound(events).await.unwrap();
    let waiting = s.unprocessed_events(1000).await.unwrap();
    s.thread_events(waiting, ThreadingRules::default()).await.unwrap();
}

#[tokio::test]
async fn a_deleted_post_loses_its_content_everywhere() {
    for_each_backend(|s| async move {
        let ch = slug();
        deliver(
            &s,
            vec![post("1800000000000000001", "42", "post:1800000000000000001", "my card is 4111 1111 1111 1111")],
        )
        .await;
        assert_eq!(
            s.thread_of_post(&ch, "1800000000000000001").await.unwrap().as_deref(),
            Some("post:1800000000000000001")
        );
        assert_eq!(s.thread_of_post(&ch, "1").await.unwrap(), None);
        assert!(!s.post_deleted(&ch, "1800000000000000001").await.unwrap());
        // Triage and an agent's intent label keep copies of the text.
        let conv = s.list_conversations(&Default::default()).await.unwrap().items[0].conversation.id;
        let mid = s.list_messages(conv).await.unwrap()[0].id;
        s.save_triage(vec![switchboard_store::MessageTriage {
            message_id: mid,
            conversation_id: conv,
            language: "en".into(),
            language_confidence: 0.9,
            sentiment: "neutral".into(),
            sentiment_score: 0.0,
            intent: "billing".into(),
            intent_confidence: 0.5,
            intent_by_agent: false,
            priority: "normal".into(),
            priority_reasons: vec![],
            pii: vec!["card".into()],
            redacted_text: "my card is [card]".into(),
            intent_model_version: None,
            created_at: Utc::now(),
        }])
        .await
        .unwrap();
        s.label_intent(switchboard_store::IntentLabel {
            message_id: mid,
            intent: "billing".into(),
            text: "my card is [card]".into(),
            labelled_by: None,
            labelled_at: Utc::now(),
        })
        .await
        .unwrap();
        let changed = s.mark_post_deleted(&ch, "1800000000000000001", Utc::now()).await.unwrap();
        let t = s.message_triage(mid).await.unwrap().unwrap();
        assert_eq!((t.redacted_text.as_str(), t.pii.len()), (DELETED_TEXT, 0));
        assert!(s.intent_labels().await.unwrap().iter().all(|l| l.message_id != mid));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].text, DELETED_TEXT);
        assert!(changed[0].attachments.is_empty());
        let msgs = s.list_messages(changed[0].conversation_id).await.unwrap();
        assert_eq!(msgs[0].text, DELETED_TEXT);
        assert!(s.post_deleted(&ch, "1800000000000000001").await.unwrap());
        // Idempotent, and a redelivered delete changes nothing more.
        assert_eq!(s.mark_post_deleted(&ch, "1800000000000000001", Utc::now()).await.unwrap().len(), 1);

        // Deleted before the pipeline threaded it: the stored event is scrubbed, so the message
        // is created without the content.
        s.append_inbound(vec![post(
            "1800000000000000002",
            "42",
            "post:1800000000000000002",
            "call me on 415 555 0100",
        )])
        .await
        .unwrap();
        assert!(s.mark_post_deleted(&ch, "1800000000000000002", Utc::now()).await.unwrap().is_empty());
        let waiting = s.unprocessed_events(10).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].event.text, DELETED_TEXT);
        assert!(waiting[0].event.attachments.is_empty());
        assert!(!waiting[0].event.extra.contains_key("raw"));
        s.thread_events(waiting, ThreadingRules::default()).await.unwrap();
        let conv = s.thread_of_post(&ch, "1800000000000000002").await.unwrap();
        assert!(conv.is_some());

        // Deleted before it arrived (the delete overtook the post): the append itself stores no
        // content, whoever delivers it (webhook or polling); other posts keep theirs.
        assert!(s.mark_post_deleted(&ch, "1800000000000000003", Utc::now()).await.unwrap().is_empty());
        let acks = s
            .append_inbound(vec![
                post("1800000000000000003", "42", "post:1800000000000000003", "my email is a@b.example"),
                post("1800000000000000004", "42", "post:1800000000000000004", "still here"),
            ])
            .await
            .unwrap();
        assert!(acks.iter().all(|a| !a.duplicate));
        let waiting = s.unprocessed_events(10).await.unwrap();
        assert_eq!(waiting.len(), 2);
        let (gone, kept) = (&waiting[0].event, &waiting[1].event);
        assert_eq!((gone.provider_event_id.as_str(), gone.text.as_str()), ("1800000000000000003", DELETED_TEXT));
        assert!(gone.attachments.is_empty() && !gone.extra.contains_key("raw"));
        assert_eq!((kept.text.as_str(), kept.attachments.len()), ("still here", 1));
        assert!(kept.extra.contains_key("raw"));
        // A redelivery of the deleted post is a duplicate and changes nothing.
        let again = s
            .append_inbound(vec![post(
                "1800000000000000003",
                "42",
                "post:1800000000000000003",
                "my email is a@b.example",
            )])
            .await
            .unwrap();
        assert!(again[0].duplicate);
        assert_eq!(s.unprocessed_events(10).await.unwrap()[0].event.text, DELETED_TEXT);
    })
    .await;
}

#[tokio::test]
async fn activity_is_kept_once() {
    for_each_backend(|s| async move {
        let ch = slug();
        let a = ActivityRecord {
            kind: "favorite".into(),
            event_id: "a7ba59eab0bfcba386f7acedac279542".into(),
            user_id: "3001969357".into(),
            tweet_id: Some("978310230917279744".into()),
            at: Utc::now(),
            raw: json!({"id": "a7ba59eab0bfcba386f7acedac279542"}),
        };
        assert!(s.record_activity(&ch, &a).await.unwrap());
        assert!(!s.record_activity(&ch, &a).await.unwrap());
        assert_eq!(s.count_activity(&ch, "favorite").await.unwrap(), 1);
        assert_eq!(s.count_activity(&ch, "follow").await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn poll_cursors_are_kept_per_channel_and_stream() {
    for_each_backend(|s| async move {
        let ch = slug();
        assert_eq!(s.poll_cursor(&ch, "mentions").await.unwrap(), None);
        s.set_poll_cursor(&ch, "mentions", "1860000000000000001").await.unwrap();
        s.set_poll_cursor(&ch, "mentions", "1860000000000000009").await.unwrap();
        s.set_poll_cursor(&ch, "dm_events", "5").await.unwrap();
        assert_eq!(s.poll_cursor(&ch, "mentions").await.unwrap().as_deref(), Some("1860000000000000009"));
        assert_eq!(s.poll_cursor(&ch, "dm_events").await.unwrap().as_deref(), Some("5"));
        assert_eq!(s.poll_cursor(&ChannelSlug::parse("other").unwrap(), "mentions").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_queued_reply_has_a_send_schedule() {
    for_each_backend(|s| async move {
        let ch = slug();
        deliver(&s, vec![post("1800000000000000003", "42", "post:1800000000000000003", "hi")]).await;
        let conv = s
            .list_conversations(&switchboard_store::ConversationFilter::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|c| c.conversation.channel == ch)
            .unwrap()
            .conversation
            .id;
        let u = s
            .create_user(&switchboard_store::NewUser {
                email: "a@x.io".into(),
                name: "A".into(),
                role: switchboard_domain::Role::Agent,
                password_hash: None,
            })
            .await
            .unwrap();
        let (msg, _) = s
            .post_message(&switchboard_store::NewMessage {
                conversation_id: conv,
                author_id: u.id,
                kind: switchboard_store::MessageKind::Reply,
                visibility: Visibility::Public,
                text: "on it".into(),
                idempotency_key: None,
                at: Utc::now(),
            })
            .await
            .unwrap();
        let sched = s.send_schedule(msg.id).await.unwrap().unwrap();
        assert_eq!(sched.state, "pending");
        assert_eq!(sched.attempts, 0);
        assert!(sched.next_attempt_at.is_some());
        assert_eq!(sched.last_error, None);
        let inbound = s.list_messages(conv).await.unwrap()[0].id;
        assert_eq!(s.send_schedule(inbound).await.unwrap(), None);
    })
    .await;
}
