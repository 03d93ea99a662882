//! Edited inbound messages ([`MessageEditStore`] and threading): every test runs against SQLite,
//! and against PostgreSQL when `TEST_DATABASE_URL` names a server. Same harness as store_suite.rs.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Utc};
use common::for_each_backend;
use switchboard_domain::{ChannelSlug, ContactRef, InboundEvent, Status, Visibility};
use switchboard_store::{ConversationPatch, DynStore, MessageVersion, ThreadOutcome, ThreadingRules};

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
}

fn message(channel: &str, chat: &str, mid: u32, text: &str, sent: i64) -> InboundEvent {
    InboundEvent {
        channel: ChannelSlug::parse(channel).unwrap(),
        provider_event_id: format!("msg:{chat}:{mid}"),
        contact: ContactRef { provider_user_id: chat.to_owned(), handle: None, display_name: Some("Mia".into()) },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.to_owned(),
        attachments: Vec::new(),
        sent_at: at(sent),
        extra: serde_json::Map::new(),
    }
}

/// Telegram's shape: `edit:<chat>:<id>:<edit_date>` naming the original in `extra.edit_of`.
fn edit(channel: &str, chat: &str, mid: u32, text: &str, edited: i64) -> InboundEvent {
    let mut ev = message(channel, chat, mid, text, edited);
    ev.provider_event_id = format!("edit:{chat}:{mid}:{edited}");
    ev.extra.insert("edit_of".into(), serde_json::json!(format!("msg:{chat}:{mid}")));
    ev
}

async fn deliver(s: &DynStore, events: Vec<InboundEvent>) -> Vec<ThreadOutcome> {
    let acks = s.append_inbound(events).await.unwrap();
    assert!(acks.iter().all(|a| !a.duplicate), "unexpected duplicate: {acks:?}");
    let waiting = s.unprocessed_events(1000).await.unwrap();
    s.thread_events(waiting, ThreadingRules::default()).await.unwrap()
}

fn v(text: &str, written: i64) -> MessageVersion {
    MessageVersion { text: text.into(), written_at: at(written) }
}

#[tokio::test]
async fn an_edit_updates_the_message_in_place_and_keeps_the_earlier_text() {
    for_each_backend(|s| async move {
        let first = deliver(&s, vec![message("tg", "42", 7, "my order is late", 0)]).await;
        let out = deliver(&s, vec![edit("tg", "42", 7, "my order #1234 is late", 30)]).await;
        assert_eq!(out.len(), 1);
        assert!(out[0].edited && !out[0].created);
        assert_eq!(out[0].message_id, first[0].message_id, "the edit names the message it changed");
        assert_eq!(out[0].conversation_id, first[0].conversation_id);
        let msgs = s.list_messages(first[0].conversation_id).await.unwrap();
        assert_eq!(msgs.len(), 1, "no second message: {msgs:?}");
        assert_eq!(msgs[0].text, "my order #1234 is late");
        assert_eq!(msgs[0].sent_at, at(0), "the message keeps its own time");
        let h = s.edit_history(first[0].message_id).await.unwrap().unwrap();
        assert_eq!(h.edited_at, at(30));
        assert_eq!(h.previous, vec![v("my order is late", 0)]);
        let all = s.edit_histories(first[0].conversation_id).await.unwrap();
        assert_eq!(all, vec![h]);
        // Search finds the text shown now.
        let found = s
            .list_conversations(&switchboard_store::ConversationFilter {
                query: Some("#1234".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_redelivered_edit_changes_nothing() {
    for_each_backend(|s| async move {
        let first = deliver(&s, vec![message("tg", "42", 7, "helo", 0)]).await;
        deliver(&s, vec![edit("tg", "42", 7, "hello", 5)]).await;
        let again = s.append_inbound(vec![edit("tg", "42", 7, "hello", 5)]).await.unwrap();
        assert!(again[0].duplicate);
        assert!(s.unprocessed_events(10).await.unwrap().is_empty());
        // The same version under another event id (a provider that numbers retries anew).
        let mut other = edit("tg", "42", 7, "hello", 5);
        other.provider_event_id = "edit:42:7:5:retry".into();
        let out = deliver(&s, vec![other]).await;
        assert!(out[0].edited);
        let h = s.edit_history(first[0].message_id).await.unwrap().unwrap();
        assert_eq!(h.previous, vec![v("helo", 0)], "one earlier version, not two");
        let msgs = s.list_messages(first[0].conversation_id).await.unwrap();
        assert_eq!((msgs.len(), msgs[0].text.as_str()), (1, "hello"));
    })
    .await;
}

#[tokio::test]
async fn an_original_and_its_edits_in_one_batch_make_one_message() {
    for_each_backend(|s| async move {
        let out = deliver(
            &s,
            vec![
                message("tg", "42", 7, "v1", 0),
                message("tg", "42", 8, "another message", 1),
                edit("tg", "42", 7, "v2", 10),
                edit("tg", "42", 7, "v3", 20),
            ],
        )
        .await;
        assert_eq!(out.len(), 4);
        assert_eq!(out.iter().filter(|o| o.edited).count(), 2);
        let msgs = s.list_messages(out[0].conversation_id).await.unwrap();
        let texts: Vec<&str> = msgs.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["v3", "another message"]);
        let h = s.edit_history(msgs[0].id).await.unwrap().unwrap();
        assert_eq!(h.edited_at, at(20));
        assert_eq!(h.previous, vec![v("v1", 0), v("v2", 10)]);
        assert!(s.edit_history(msgs[1].id).await.unwrap().is_none(), "the other message is not edited");
    })
    .await;
}

#[tokio::test]
async fn versions_arriving_out_of_order_end_in_time_order() {
    for_each_backend(|s| async move {
        // The second edit first, then the original, then the first edit, each in its own batch.
        let out = deliver(&s, vec![edit("tg", "42", 7, "v3", 20)]).await;
        assert!(!out[0].edited, "an edit without its message stands for it");
        let conv = out[0].conversation_id;
        let shown = s.list_messages(conv).await.unwrap();
        assert_eq!(shown.len(), 1);
        let h = s.edit_history(shown[0].id).await.unwrap().unwrap();
        assert!(h.previous.is_empty(), "shown as edited, the original not known yet");
        let late = deliver(&s, vec![message("tg", "42", 7, "v1", 0)]).await;
        assert!(late[0].edited);
        assert_eq!(late[0].message_id, shown[0].id);
        deliver(&s, vec![edit("tg", "42", 7, "v2", 10)]).await;
        let msgs = s.list_messages(conv).await.unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].text, "v3", "the newest version is shown whatever arrived last");
        assert_eq!(msgs[0].sent_at, at(0), "dated by the original");
        let h = s.edit_history(msgs[0].id).await.unwrap().unwrap();
        assert_eq!(h.edited_at, at(20));
        assert_eq!(h.previous, vec![v("v1", 0), v("v2", 10)]);
        // And the same mix in one batch.
        let out = deliver(
            &s,
            vec![edit("tg", "43", 1, "b3", 20), message("tg", "43", 1, "b1", 0), edit("tg", "43", 1, "b2", 10)],
        )
        .await;
        let msgs = s.list_messages(out[0].conversation_id).await.unwrap();
        assert_eq!(msgs.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["b3"]);
        let h = s.edit_history(msgs[0].id).await.unwrap().unwrap();
        assert_eq!(h.previous, vec![v("b1", 0), v("b2", 10)]);
    })
    .await;
}

#[tokio::test]
async fn an_edit_neither_reopens_nor_crosses_channels() {
    for_each_backend(|s| async move {
        let first = deliver(&s, vec![message("tg", "42", 7, "thanks, solved", 0)]).await;
        let conv = first[0].conversation_id;
        s.update_conversation(conv, &ConversationPatch { status: Some(Status::Resolved), ..Default::default() }, None)
            .await
            .unwrap();
        // Same provider ids on another channel are another message.
        let other = deliver(&s, vec![edit("tg-2", "42", 7, "elsewhere", 30)]).await;
        assert!(!other[0].edited);
        assert_ne!(other[0].conversation_id, conv);
        let out = deliver(&s, vec![edit("tg", "42", 7, "thanks, solved!", 30)]).await;
        assert!(out[0].edited && !out[0].reopened);
        let c = s.get_conversation(conv).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Resolved, "fixing a typo does not reopen the case");
        assert_eq!(s.list_messages(conv).await.unwrap()[0].text, "thanks, solved!");
        assert_eq!(s.list_messages(other[0].conversation_id).await.unwrap()[0].text, "elsewhere");
    })
    .await;
}
