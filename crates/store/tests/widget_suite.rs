//! The chat widget store suite ([`WidgetStore`]): every test runs against SQLite, and against
//! PostgreSQL when `TEST_DATABASE_URL` names a server. Same harness as store_suite.rs.
#![allow(clippy::unwrap_used)]

mod common;

use common::for_each_backend;
use serde_json::json;
use switchboard_domain::ChannelSlug;
use switchboard_store::{WidgetUpload, WidgetVisitor};
use uuid::Uuid;

#[tokio::test]
async fn visitors_are_found_by_token_on_their_channel_only() {
    for_each_backend(|store| async move {
        let web = ChannelSlug::parse("site").unwrap();
        let other = ChannelSlug::parse("site-2").unwrap();
        let v = WidgetVisitor {
            id: Uuid::now_v7(),
            channel: web.clone(),
            subject: "v:1".into(),
            name: Some("Mia".into()),
            email: None,
            created_at: chrono::Utc::now(),
        };
        store.create_widget_visitor(&v, "hash-1").await.unwrap();
        let found = store.widget_visitor_by_token(&web, "hash-1").await.unwrap().unwrap();
        assert_eq!((found.id, found.subject.as_str(), found.name.as_deref()), (v.id, "v:1", Some("Mia")));
        assert!(store.widget_visitor_by_token(&other, "hash-1").await.unwrap().is_none());
        assert!(store.widget_visitor_by_token(&web, "hash-2").await.unwrap().is_none());
        assert!(store.create_widget_visitor(&v, "hash-1").await.is_err(), "a token is unique");
        store.touch_widget_visitor(v.id, None, Some("mia@example.com")).await.unwrap();
        let found = store.widget_visitor_by_token(&web, "hash-1").await.unwrap().unwrap();
        assert_eq!((found.name.as_deref(), found.email.as_deref()), (Some("Mia"), Some("mia@example.com")));
    })
    .await;
}

#[tokio::test]
async fn stream_items_are_numbered_without_gaps_and_deduplicated() {
    for_each_backend(|store| async move {
        let web = ChannelSlug::parse("site").unwrap();
        let (a, first) =
            store.append_widget_item(&web, "v:1", "c:m1", "visitor", &json!({"text": "hi"})).await.unwrap();
        assert!(first);
        assert_eq!(a.seq, 1);
        let (again, created) =
            store.append_widget_item(&web, "v:1", "c:m1", "visitor", &json!({"text": "changed"})).await.unwrap();
        assert!(!created, "a repeated key is the same item");
        assert_eq!((again.seq, again.body["text"].as_str()), (1, Some("hi")));
        let (b, _) = store.append_widget_item(&web, "v:1", "o:9", "agent", &json!({"text": "hello"})).await.unwrap();
        assert_eq!(b.seq, 2, "the repeat used no number");
        let (other, _) = store.append_widget_item(&web, "v:2", "c:m1", "visitor", &json!({"text": "x"})).await.unwrap();
        assert_eq!(other.seq, 1, "numbers are per stream");

        // Concurrent appends to one stream: every key once, numbers 3..=22 exactly.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let (store, web) = (store.clone(), web.clone());
            tasks.spawn(async move {
                store.append_widget_item(&web, "v:1", &format!("c:x{i}"), "visitor", &json!({"i": i})).await.unwrap()
            });
        }
        while let Some(r) = tasks.join_next().await {
            assert!(r.unwrap().1);
        }
        let all = store.widget_items_after(&web, "v:1", 0, 100).await.unwrap();
        let seqs: Vec<i64> = all.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, (1..=22).collect::<Vec<_>>());
        let tail = store.widget_items_after(&web, "v:1", 20, 100).await.unwrap();
        assert_eq!(tail.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![21, 22], "resume after a cursor");
        assert_eq!(store.widget_items_after(&web, "v:1", 0, 5).await.unwrap().len(), 5, "paged");
        assert_eq!(all[1].direction, "agent");
        let last = store.last_widget_items(&web, "v:1", "visitor", 2).await.unwrap();
        assert_eq!(last.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![22, 21], "newest first");
        let agent = store.last_widget_items(&web, "v:1", "agent", 5).await.unwrap();
        assert_eq!(agent.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![2]);
    })
    .await;
}

#[tokio::test]
async fn uploads_read_back() {
    for_each_backend(|store| async move {
        let u = WidgetUpload {
            id: Uuid::now_v7(),
            channel: ChannelSlug::parse("site").unwrap(),
            subject: "v:1".into(),
            path: "widget/site/a.png".into(),
            mime_type: "image/png".into(),
            filename: "receipt.png".into(),
            size: 1234,
            created_at: {
                use chrono::SubsecRound;
                chrono::Utc::now().trunc_subsecs(6)
            },
        };
        store.save_widget_upload(&u).await.unwrap();
        assert_eq!(store.widget_upload(u.id).await.unwrap().unwrap(), u);
        assert!(store.widget_upload(Uuid::now_v7()).await.unwrap().is_none());
    })
    .await;
}
