//! The provider-channel store suite ([`ChannelStateStore`]): every test runs against SQLite, and
//! against PostgreSQL when `TEST_DATABASE_URL` names a server. Same harness as store_suite.rs.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::for_each_backend;
use switchboard_domain::{
    ChannelKind, ChannelSlug, ContactRef, DeliveryStatus, Direction, InboundEvent, Role, Visibility,
};
use switchboard_store::{
    ChannelRecord, DynStore, EchoOutcome, EchoRecord, MessageKind, NewMessage, NewUser, ThreadOutcome, ThreadingRules,
};

fn slug(s: &str) -> ChannelSlug {
    ChannelSlug::parse(s).unwrap()
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn inbound(event_id: &str, user: &str, handle: &str, thread: &str) -> InboundEvent {
    InboundEvent {
        channel: slug("wa"),
        provider_event_id: event_id.to_owned(),
        contact: ContactRef { provider_user_id: user.to_owned(), handle: Some(handle.to_owned()), display_name: None },
        thread_key: thread.to_owned(),
        visibility: Visibility::Private,
        text: "hello".to_owned(),
        attachments: Vec::new(),
        sent_at: whole_second(Utc::now()),
        extra: serde_json::Map::new(),
    }
}

async fn setup(s: &DynStore) -> switchboard_store::User {
    s.upsert_channel(&ChannelRecord {
        slug: slug("wa"),
        kind: ChannelKind::Whatsapp,
        name: "WhatsApp".into(),
        callback_url: None,
        secret: Some("app-secret".into()),
        config: serde_json::json!({}),
        created_at: Utc::now(),
    })
    .await
    .unwrap();
    s.create_user(&NewUser { email: "a@x.io".into(), name: "A".into(), role: Role::Agent, password_hash: None })
        .await
        .unwrap()
}

async fn deliver(s: &DynStore, events: Vec<InboundEvent>) -> Vec<ThreadOutcome> {
    s.append_inbound(events).await.unwrap();
    let waiting = s.unprocessed_events(1000).await.unwrap();
    s.thread_events(waiting, ThreadingRules::default()).await.unwrap()
}

fn reply(
    conv: switchboard_domain::ConversationId,
    author: switchboard_domain::UserId,
    text: &str,
    key: Option<&str>,
) -> NewMessage {
    NewMessage {
        conversation_id: conv,
        author_id: author,
        kind: MessageKind::Reply,
        visibility: Visibility::Private,
        text: text.into(),
        idempotency_key: key.map(str::to_owned),
        at: whole_second(Utc::now()) - Duration::seconds(5),
    }
}

#[tokio::test]
async fn reports_that_overtake_the_send_are_applied_when_it_is_recorded() {
    for_each_backend(|s| async move {
        let agent = setup(&s).await;
        let out = deliver(&s, vec![inbound("wamid.in1", "US.1", "+15550001", "")]).await;
        let (msg, _) = s.post_message(&reply(out[0].conversation_id, agent.id, "hi", None)).await.unwrap();
        let now = Utc::now();
        let item = s.claim_outbox(now, now + Duration::seconds(60), 10).await.unwrap().remove(0);
        // read and delivered arrive before the send call has answered: kept, nothing changes.
        assert!(s.report_delivery(&slug("wa"), "wamid.out1", DeliveryStatus::Read, None).await.unwrap().is_none());
        assert!(s.report_delivery(&slug("wa"), "wamid.out1", DeliveryStatus::Delivered, None).await.unwrap().is_none());
        assert!(s.report_delivery(&slug("wa"), "wamid.out1", DeliveryStatus::Read, None).await.unwrap().is_none());
        assert_eq!(s.get_message(msg.id).await.unwrap().unwrap().delivery_status, Some(DeliveryStatus::Queued));
        s.complete_outbox(item.id, item.attempts, "wamid.out1", now).await.unwrap();
        let m = s.apply_pending_deliveries(&slug("wa"), "wamid.out1").await.unwrap().unwrap();
        assert_eq!((m.id, m.delivery_status), (msg.id, Some(DeliveryStatus::Read)));
        // Applied once: nothing left.
        assert!(s.apply_pending_deliveries(&slug("wa"), "wamid.out1").await.unwrap().is_none());
        // Later reports apply directly and never move the status back.
        let m = s.report_delivery(&slug("wa"), "wamid.out1", DeliveryStatus::Sent, None).await.unwrap().unwrap();
        assert_eq!(m.delivery_status, Some(DeliveryStatus::Read));
        // Kept reports for an unknown id stay kept.
        assert!(
            s.report_delivery(&slug("wa"), "wamid.other", DeliveryStatus::Failed, Some("131047"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.apply_pending_deliveries(&slug("wa"), "wamid.other").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn read_watermarks_echoes_identities_payloads_and_reply_context() {
    for_each_backend(|s| async move {
        let agent = setup(&s).await;
        let out = deliver(&s, vec![inbound("m.in1", "psid-1", "+15550002", "")]).await;
        let conv = out[0].conversation_id;
        let (msg, _) = s.post_message(&reply(conv, agent.id, "on its way", Some("k1"))).await.unwrap();
        let now = Utc::now();
        let item = s.claim_outbox(now, now + Duration::seconds(60), 10).await.unwrap().remove(0);
        s.complete_outbox(item.id, item.attempts, "m.out1", now).await.unwrap();

        // Read watermark: messages sent before it become read, once.
        let read = s.mark_read_until(&slug("wa"), "psid-1", Utc::now()).await.unwrap();
        assert_eq!(read.iter().map(|m| m.id).collect::<Vec<_>>(), vec![msg.id]);
        assert_eq!(read[0].delivery_status, Some(DeliveryStatus::Read));
        assert!(s.mark_read_until(&slug("wa"), "psid-1", Utc::now()).await.unwrap().is_empty());

        // An echo of the brand's own message is recorded as outbound, once.
        let echo = EchoRecord {
            provider_message_id: "m.echo1".into(),
            recipient: "psid-1".into(),
            thread_key: String::new(),
            text: "Sent from the page inbox".into(),
            attachments: vec![],
            sent_at: whole_second(Utc::now()),
            sent_by_switchboard: false,
            switchboard_key: None,
        };
        let EchoOutcome::Recorded(m) = s.record_echo(&slug("wa"), &echo).await.unwrap() else { panic!("not recorded") };
        assert_eq!(
            (m.direction, m.delivery_status, m.author_id),
            (Direction::Outbound, Some(DeliveryStatus::Sent), None)
        );
        assert_eq!(s.record_echo(&slug("wa"), &echo).await.unwrap(), EchoOutcome::Known);
        // Echoes of our own sends (already recorded, or marked as ours) add nothing.
        let ours = EchoRecord { provider_message_id: "m.out1".into(), ..echo.clone() };
        assert_eq!(s.record_echo(&slug("wa"), &ours).await.unwrap(), EchoOutcome::Known);
        let marked = EchoRecord { provider_message_id: "m.out2".into(), sent_by_switchboard: true, ..echo.clone() };
        assert_eq!(s.record_echo(&slug("wa"), &marked).await.unwrap(), EchoOutcome::Known);
        // An in-flight reply with the same text is our own send echoed before its answer.
        s.post_message(&reply(conv, agent.id, "in flight", None)).await.unwrap();
        let early = EchoRecord { provider_message_id: "m.out3".into(), text: "in flight".into(), ..echo.clone() };
        assert_eq!(s.record_echo(&slug("wa"), &early).await.unwrap(), EchoOutcome::Known);
        let stranger = EchoRecord { provider_message_id: "m.x".into(), recipient: "nobody".into(), ..echo.clone() };
        assert_eq!(s.record_echo(&slug("wa"), &stranger).await.unwrap(), EchoOutcome::NoConversation);
        let msgs = s.list_messages(conv).await.unwrap();
        assert_eq!(msgs.iter().filter(|m| m.provider_message_id.as_deref() == Some("m.echo1")).count(), 1);

        // A second identifier joins the same contact, in either direction.
        s.link_identity(&slug("wa"), "US.99", "psid-1").await.unwrap();
        s.link_identity(&slug("wa"), "US.99", "psid-1").await.unwrap();
        let out2 = deliver(&s, vec![inbound("m.in2", "US.99", "@user", "")]).await;
        assert_eq!(out2[0].conversation_id, conv, "the same person keeps the same conversation");

        // Reply payloads are found through the message's idempotency key.
        let key = format!("{}:tpl-1", agent.id);
        s.save_reply_payload(&key, &serde_json::json!({"type": "template"})).await.unwrap();
        let (tpl, _) = s.post_message(&reply(conv, agent.id, "[template]", Some("tpl-1"))).await.unwrap();
        assert_eq!(s.reply_payload(tpl.id).await.unwrap().unwrap()["type"], "template");
        assert!(s.reply_payload(msg.id).await.unwrap().is_none());

        let ctx = s.reply_context(conv).await.unwrap();
        assert_eq!(ctx.recipient_handle.as_deref(), Some("+15550002"));
        assert!(ctx.last_inbound_id.is_some());
        assert!(ctx.last_inbound_at.is_some());
    })
    .await;
}

#[tokio::test]
async fn media_downloads_are_leased_retried_and_settled() {
    for_each_backend(|s| async move {
        setup(&s).await;
        let (m1, m2) = (switchboard_domain::MessageId::new(), switchboard_domain::MessageId::new());
        s.enqueue_media(&slug("wa"), m1, 0, "9001").await.unwrap();
        s.enqueue_media(&slug("wa"), m1, 0, "9001").await.unwrap();
        s.enqueue_media(&slug("wa"), m2, 1, "9002").await.unwrap();
        let now = Utc::now();
        let jobs = s.claim_media(now, now + Duration::seconds(60), 10).await.unwrap();
        assert_eq!(jobs.len(), 2, "one job per attachment");
        assert!(jobs.iter().all(|j| j.attempts == 1 && j.channel.as_str() == "wa"));
        // Leased: not claimed again until the lease ends.
        assert!(s.claim_media(now, now + Duration::seconds(60), 10).await.unwrap().is_empty());
        s.complete_media(m1, 0, "wa/m1-0.jpg", "image/jpeg", 5004).await.unwrap();
        let f = s.media_file(m1, 0).await.unwrap().unwrap();
        assert_eq!((f.state.as_str(), f.path.as_deref(), f.size), ("done", Some("wa/m1-0.jpg"), Some(5004)));
        // A retry comes back when due; a final failure keeps its reason.
        s.fail_media(m2, 1, "media info answered 503", Some(now + Duration::seconds(5))).await.unwrap();
        assert!(s.claim_media(now, now + Duration::seconds(60), 10).await.unwrap().is_empty());
        let again = s.claim_media(now + Duration::seconds(6), now + Duration::seconds(66), 10).await.unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 2));
        s.fail_media(m2, 1, "media info answered 404", None).await.unwrap();
        let f = s.media_file(m2, 1).await.unwrap().unwrap();
        assert_eq!((f.state.as_str(), f.last_error.as_deref()), ("failed", Some("media info answered 404")));
        assert!(s.claim_media(now + Duration::days(1), now + Duration::days(2), 10).await.unwrap().is_empty());
        assert!(s.media_file(m2, 7).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn an_echo_of_our_own_send_records_it_when_its_answer_was_lost() {
    for_each_backend(|s| async move {
        let agent = setup(&s).await;
        let out = deliver(&s, vec![inbound("m.in9", "psid-9", "+15550009", "")]).await;
        let (msg, _) =
            s.post_message(&reply(out[0].conversation_id, agent.id, "sent, answer lost", None)).await.unwrap();
        let now = Utc::now();
        let item = s.claim_outbox(now, now + Duration::seconds(60), 10).await.unwrap().remove(0);
        // The provider accepted the send and echoed it; our sender never recorded the answer.
        let echo = EchoRecord {
            provider_message_id: "m.sent9".into(),
            recipient: "psid-9".into(),
            thread_key: String::new(),
            text: "sent, answer lost".into(),
            attachments: vec![],
            sent_at: whole_second(now),
            sent_by_switchboard: true,
            switchboard_key: Some(item.id.to_string()),
        };
        let EchoOutcome::CompletedSend(m) = s.record_echo(&slug("wa"), &echo).await.unwrap() else {
            panic!("not completed")
        };
        assert_eq!(
            (m.id, m.provider_message_id.as_deref(), m.delivery_status),
            (msg.id, Some("m.sent9"), Some(DeliveryStatus::Sent))
        );
        assert_eq!(s.record_echo(&slug("wa"), &echo).await.unwrap(), EchoOutcome::Known);
        // The row is settled: never claimed (sent) again, and a late answer changes nothing.
        let later = now + Duration::seconds(120);
        assert!(s.claim_outbox(later, later + Duration::seconds(60), 10).await.unwrap().is_empty());
        assert!(s.complete_outbox(item.id, item.attempts, "m.sent9", now).await.is_err());
        assert_eq!(s.list_messages(out[0].conversation_id).await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn an_echo_without_a_key_completes_the_tried_reply_with_its_text() {
    for_each_backend(|s| async move {
        let agent = setup(&s).await;
        let out = deliver(&s, vec![inbound("m.in8", "psid-8", "+15550008", "")]).await;
        let conv = out[0].conversation_id;
        // Two replies with the same text: the first was tried and its answer lost (waiting for a
        // retry), the second not tried yet.
        let (first, _) = s.post_message(&reply(conv, agent.id, "Thanks!", Some("e1"))).await.unwrap();
        let now = Utc::now();
        let item = s.claim_outbox(now, now + Duration::seconds(60), 1).await.unwrap().remove(0);
        assert_eq!(item.message_id, first.id);
        s.fail_outbox(item.id, item.attempts, "X API answer lost (timeout)", Some(now + Duration::seconds(30)))
            .await
            .unwrap();
        let (second, _) = s.post_message(&reply(conv, agent.id, "Thanks!", Some("e2"))).await.unwrap();
        // The provider's echo (no key, e.g. Instagram or X) records the tried one, not the other.
        let echo = EchoRecord {
            provider_message_id: "1860000000000000001".into(),
            recipient: "psid-8".into(),
            thread_key: String::new(),
            text: "Thanks!".into(),
            attachments: vec![],
            sent_at: whole_second(now),
            sent_by_switchboard: false,
            switchboard_key: None,
        };
        let EchoOutcome::CompletedSend(m) = s.record_echo(&slug("wa"), &echo).await.unwrap() else {
            panic!("not completed")
        };
        assert_eq!((m.id, m.provider_message_id.as_deref()), (first.id, Some("1860000000000000001")));
        assert_eq!(s.record_echo(&slug("wa"), &echo).await.unwrap(), EchoOutcome::Known);
        // Only the untried one is left to send.
        let later = now + Duration::seconds(60);
        let left = s.claim_outbox(later, later + Duration::seconds(60), 10).await.unwrap();
        assert_eq!(left.iter().map(|i| i.message_id).collect::<Vec<_>>(), vec![second.id]);
        assert_eq!(s.list_messages(conv).await.unwrap().len(), 3);
    })
    .await;
}
