//! Merging an anonymous widget visitor into a signed identity ([`WidgetMergeStore`]) and agents'
//! file attachments ([`AgentFileStore`]): every test runs against SQLite, and against PostgreSQL
//! when `TEST_DATABASE_URL` names a server. Same harness as store_suite.rs.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Utc;
use common::for_each_backend;
use serde_json::json;
use switchboard_domain::{Attachment, ChannelKind, ChannelSlug, ContactRef, InboundEvent, Role, Visibility};
use switchboard_store::{
    ChannelRecord, ConversationFilter, DynStore, MessageKind, NewMessage, NewUser, StoreError, ThreadingRules,
    WidgetUpload, WidgetVisitor,
};
use uuid::Uuid;

fn site() -> ChannelSlug {
    ChannelSlug::parse("site").unwrap()
}

fn visitor(subject: &str) -> WidgetVisitor {
    WidgetVisitor {
        id: Uuid::now_v7(),
        channel: site(),
        subject: subject.into(),
        name: Some("Mia".into()),
        email: None,
        created_at: Utc::now(),
    }
}

/// A visitor's message: in the event log, threaded, and in their stream.
async fn write(s: &DynStore, subject: &str, client_id: &str, text: &str) {
    let ev = InboundEvent {
        channel: site(),
        provider_event_id: format!("widget:{subject}:{client_id}"),
        contact: ContactRef { provider_user_id: subject.into(), handle: None, display_name: Some("Mia".into()) },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.into(),
        attachments: Vec::new(),
        sent_at: Utc::now(),
        extra: Default::default(),
    };
    s.append_inbound(vec![ev]).await.unwrap();
    let waiting = s.unprocessed_events(100).await.unwrap();
    s.thread_events(waiting, ThreadingRules::default()).await.unwrap();
    s.append_widget_item(&site(), subject, &format!("c:{client_id}"), "visitor", &json!({"text": text})).await.unwrap();
}

async fn stream(s: &DynStore, subject: &str) -> Vec<(i64, String)> {
    s.widget_items_after(&site(), subject, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.seq, i.body["text"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn an_anonymous_visitor_merges_into_the_signed_in_contact_once() {
    for_each_backend(|s| async move {
        write(&s, "u:42", "l1", "earlier").await;
        let anon = visitor("v:anon");
        s.create_widget_visitor(&anon, "anon-hash").await.unwrap();
        write(&s, "v:anon", "p1", "hello").await;
        write(&s, "v:anon", "p2", "order 5521").await;
        s.save_widget_upload(&WidgetUpload {
            id: Uuid::now_v7(),
            channel: site(),
            subject: "v:anon".into(),
            path: "widget/site/x.png".into(),
            mime_type: "image/png".into(),
            filename: "x.png".into(),
            size: 10,
            created_at: Utc::now(),
        })
        .await
        .unwrap();

        let m = s.merge_widget_visitor(&anon, "u:42", Utc::now()).await.unwrap();
        assert_eq!(m.items_copied, 2);
        assert!(m.merged_contact.is_some());
        let kept = s.get_contact(m.contact.unwrap()).await.unwrap().unwrap();
        let ids: Vec<&str> = kept.identities.iter().map(|i| i.provider_user_id.as_str()).collect();
        assert_eq!(ids, ["u:42", "v:anon"], "the signed identity first");
        // The merged-away contact resolves to the survivor.
        assert_eq!(s.get_contact(m.merged_contact.unwrap()).await.unwrap().unwrap().id, kept.id);
        let convs = s
            .list_conversations(&ConversationFilter { contact: Some(kept.id), limit: 10, ..Default::default() })
            .await
            .unwrap();
        assert_eq!(convs.items.len(), 2);
        assert_eq!(s.list_contacts(None, None, 10).await.unwrap().items.len(), 1);
        assert_eq!(stream(&s, "u:42").await, [(1, "earlier".into()), (2, "hello".into()), (3, "order 5521".into())]);
        assert!(s.widget_visitor_by_token(&site(), "anon-hash").await.unwrap().is_none(), "token retired");

        // Again: nothing copied twice; a message of the anonymous subject still in flight lands
        // on the same contact.
        let again = s.merge_widget_visitor(&anon, "u:42", Utc::now()).await.unwrap();
        assert_eq!((again.items_copied, again.contact), (0, Some(kept.id)));
        assert_eq!(stream(&s, "u:42").await.len(), 3);
        write(&s, "v:anon", "p3", "late").await;
        assert_eq!(s.list_contacts(None, None, 10).await.unwrap().items.len(), 1);
        // Appends continue the numbering.
        let (next, _) = s.append_widget_item(&site(), "u:42", "o:1", "agent", &json!({"text": "hi"})).await.unwrap();
        assert_eq!(next.seq, 4);
    })
    .await;
}

#[tokio::test]
async fn a_first_sign_in_adopts_the_anonymous_contact_and_refuses_odd_subjects() {
    for_each_backend(|s| async move {
        let quiet = visitor("v:quiet");
        let m = s.merge_widget_visitor(&quiet, "u:1", Utc::now()).await.unwrap();
        assert_eq!((m.contact, m.items_copied), (None, 0), "a visitor who never wrote brings nothing");
        assert!(s.list_contacts(None, None, 10).await.unwrap().items.is_empty());

        let anon = visitor("v:a");
        write(&s, "v:a", "a1", "do you ship to Lyon?").await;
        let m = s.merge_widget_visitor(&anon, "u:7", Utc::now()).await.unwrap();
        assert_eq!(m.merged_contact, None);
        let c = s.get_contact(m.contact.unwrap()).await.unwrap().unwrap();
        let ids: Vec<&str> = c.identities.iter().map(|i| i.provider_user_id.as_str()).collect();
        assert_eq!(ids, ["u:7", "v:a"]);
        assert!(matches!(
            s.merge_widget_visitor(&visitor("u:9"), "u:7", Utc::now()).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(s.merge_widget_visitor(&anon, "v:b", Utc::now()).await, Err(StoreError::Invalid(_))));
    })
    .await;
}

#[tokio::test]
async fn only_agents_replies_take_attachments() {
    for_each_backend(|s| async move {
        s.upsert_channel(&ChannelRecord {
            slug: site(),
            kind: ChannelKind::Web,
            name: "Site".into(),
            callback_url: None,
            secret: None,
            config: json!({}),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
        write(&s, "v:x", "x1", "hi").await;
        let conv = s.list_conversations(&Default::default()).await.unwrap().items[0].conversation.id;
        let agent = s
            .create_user(&NewUser { email: "a@x.io".into(), name: "A".into(), role: Role::Agent, password_hash: None })
            .await
            .unwrap();
        let (reply, _) = s
            .post_message(&NewMessage {
                conversation_id: conv,
                author_id: agent.id,
                kind: MessageKind::Reply,
                visibility: Visibility::Private,
                text: String::new(),
                idempotency_key: None,
                at: Utc::now(),
            })
            .await
            .unwrap();
        let file = Attachment {
            kind: "image".into(),
            url: None,
            mime_type: Some("image/png".into()),
            filename: Some("r.png".into()),
            size: Some(10),
            provider_id: Some("upload:1".into()),
        };
        s.set_reply_attachments(reply.id, std::slice::from_ref(&file)).await.unwrap();
        assert_eq!(s.get_message(reply.id).await.unwrap().unwrap().attachments, vec![file.clone()]);
        let inbound = s.list_messages(conv).await.unwrap()[0].id;
        assert!(matches!(s.set_reply_attachments(inbound, &[file]).await, Err(StoreError::NotFound(_))));
    })
    .await;
}
