//! `KbStore` on both backends (SQLite always, PostgreSQL with `TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used)]

mod common;

use common::for_each_backend;
use switchboard_domain::{ChannelSlug, ContactRef, InboundEvent, MessageId, Visibility};
use switchboard_store::kb::{ArticleInput, ArticleStatus, BotOutcome, BotOutcomeKind, TranslationInput};
use switchboard_store::{DynStore, StoreError, ThreadingRules};

fn input(slug: &str, en_title: &str, status: ArticleStatus) -> ArticleInput {
    ArticleInput {
        slug: slug.into(),
        category: "orders".into(),
        tags: vec!["orders".into()],
        intents: vec!["order_status".into()],
        translations: vec![
            TranslationInput { locale: "en".into(), title: en_title.into(), body: "Body **md**".into(), status },
            TranslationInput {
                locale: "zh-CN".into(),
                title: "我的订单".into(),
                body: "正文".into(),
                status: ArticleStatus::Published,
            },
        ],
    }
}

#[tokio::test]
async fn articles_keep_versions_per_locale() {
    for_each_backend(|s| async move {
        let a = s.save_article(&input("order-status", "Where is my order?", ArticleStatus::Draft), None).await.unwrap();
        assert_eq!(a.translations.len(), 2);
        assert!(a.translations.iter().all(|t| t.version == 1));
        // Saving the same content changes nothing; a changed English title bumps only English.
        let same =
            s.save_article(&input("order-status", "Where is my order?", ArticleStatus::Draft), None).await.unwrap();
        assert_eq!(same.id, a.id);
        assert!(same.translations.iter().all(|t| t.version == 1));
        let b = s.save_article(&input("order-status", "Order status", ArticleStatus::Published), None).await.unwrap();
        let en = b.translation("en").unwrap();
        assert_eq!((en.version, en.status, en.title.as_str()), (2, ArticleStatus::Published, "Order status"));
        assert_eq!(b.translation("zh-cn").unwrap().version, 1);
        let history = s.article_history(a.id).await.unwrap();
        assert_eq!(history.len(), 3);
        assert!(history.iter().any(|v| v.locale == "en" && v.version == 1 && v.title == "Where is my order?"));
        // Variants not named are kept.
        let mut only_en = input("order-status", "Order status!", ArticleStatus::Published);
        only_en.translations.truncate(1);
        let c = s.save_article(&only_en, None).await.unwrap();
        assert_eq!(c.translations.len(), 2);
        assert_eq!(s.article_by_slug("order-status").await.unwrap().unwrap(), c);
        assert_eq!(s.get_article(a.id).await.unwrap().unwrap().slug, "order-status");
        s.save_article(&input("returns", "Returns", ArticleStatus::Published), None).await.unwrap();
        let all = s.list_articles().await.unwrap();
        assert_eq!(all.iter().map(|a| a.slug.as_str()).collect::<Vec<_>>(), ["order-status", "returns"]);
        assert!(all.iter().all(|a| a.translations.len() == 2));
        s.delete_article(a.id).await.unwrap();
        assert!(s.get_article(a.id).await.unwrap().is_none());
        assert!(matches!(s.delete_article(a.id).await, Err(StoreError::NotFound(_))));
    })
    .await;
}

#[tokio::test]
async fn bad_articles_are_refused() {
    for_each_backend(|s| async move {
        let mut bad = input("Bad Slug", "t", ArticleStatus::Draft);
        assert!(matches!(s.save_article(&bad, None).await, Err(StoreError::Invalid(m)) if m.contains("slug")));
        bad.slug = "ok".into();
        bad.translations[1].locale = "en".into();
        assert!(matches!(s.save_article(&bad, None).await, Err(StoreError::Invalid(m)) if m.contains("twice")));
        bad.translations[1].locale = "zh_CN".into();
        assert!(matches!(s.save_article(&bad, None).await, Err(StoreError::Invalid(m)) if m.contains("locale")));
        assert!(s.list_articles().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn votes_count_once_per_voter() {
    for_each_backend(|s| async move {
        let a = s.save_article(&input("x", "X", ArticleStatus::Published), None).await.unwrap();
        assert!(s.record_kb_vote(a.id, "en", "v1", true).await.unwrap());
        assert!(!s.record_kb_vote(a.id, "en", "v1", false).await.unwrap());
        assert!(s.record_kb_vote(a.id, "en", "v2", false).await.unwrap());
        assert!(s.record_kb_vote(a.id, "zh-CN", "v1", true).await.unwrap());
        let t = s.kb_votes(a.id, "en").await.unwrap();
        assert_eq!((t.helpful, t.not_helpful), (1, 1));
        let missing = switchboard_store::kb::ArticleId(uuid::Uuid::now_v7());
        assert!(matches!(s.record_kb_vote(missing, "en", "v", true).await, Err(StoreError::NotFound(_))));
    })
    .await;
}

async fn one_message(
    s: &DynStore,
    text: &str,
    extra: serde_json::Value,
) -> (switchboard_domain::ConversationId, MessageId) {
    let ev = InboundEvent {
        channel: ChannelSlug::parse("api").unwrap(),
        provider_event_id: format!("e-{text}"),
        contact: ContactRef { provider_user_id: "u1".into(), handle: None, display_name: None },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: text.into(),
        attachments: Vec::new(),
        sent_at: chrono::Utc::now(),
        extra: extra.as_object().cloned().unwrap_or_default(),
    };
    s.append_inbound(vec![ev]).await.unwrap();
    let waiting = s.unprocessed_events(10).await.unwrap();
    let out = s.thread_events(waiting, ThreadingRules::default()).await.unwrap();
    (out[0].conversation_id, out[0].message_id)
}

#[tokio::test]
async fn bot_bookkeeping() {
    for_each_backend(|s| async move {
        assert!(s.bot_settings("api").await.unwrap().is_none());
        s.save_bot_settings("api", &serde_json::json!({"enabled": true})).await.unwrap();
        s.save_bot_settings("api", &serde_json::json!({"enabled": false})).await.unwrap();
        assert_eq!(s.bot_settings("api").await.unwrap().unwrap()["enabled"], false);

        let (conv, m1) = one_message(&s, "hello", serde_json::json!({})).await;
        let (_, m2) = one_message(&s, "Yes", serde_json::json!({"button_data": "bot:helped:x"})).await;
        assert_eq!(s.message_button_data(m1).await.unwrap(), None);
        assert_eq!(s.message_button_data(m2).await.unwrap().as_deref(), Some("bot:helped:x"));

        assert_eq!(s.inbound_messages_after(MessageId(uuid::Uuid::nil()), 10).await.unwrap(), vec![m1, m2]);
        assert_eq!(s.inbound_messages_after(m1, 10).await.unwrap(), vec![m2]);
        assert!(s.bot_cursor().await.unwrap().is_none());
        s.set_bot_cursor(m2).await.unwrap();
        s.set_bot_cursor(m1).await.unwrap();
        assert_eq!(s.bot_cursor().await.unwrap(), Some(m2), "the cursor never moves back");

        let o = |m: MessageId, k: BotOutcomeKind| BotOutcome {
            id: uuid::Uuid::now_v7(),
            conversation_id: conv,
            message_id: m,
            channel_slug: "api".into(),
            outcome: k,
            reason: "r".into(),
            article_id: None,
            created_at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
        };
        assert!(s.record_bot_outcome(&o(m1, BotOutcomeKind::Answered)).await.unwrap());
        assert!(!s.record_bot_outcome(&o(m1, BotOutcomeKind::Answered)).await.unwrap(), "once per message");
        assert!(s.record_bot_outcome(&o(m2, BotOutcomeKind::Helped)).await.unwrap());
        let list = s.bot_outcomes(conv).await.unwrap();
        assert_eq!(
            list.iter().map(|o| o.outcome).collect::<Vec<_>>(),
            [BotOutcomeKind::Answered, BotOutcomeKind::Helped]
        );
        let counts = s.bot_outcome_counts(chrono::Utc::now() - chrono::Duration::hours(1)).await.unwrap();
        assert_eq!((counts.answered, counts.helped, counts.handed_off), (1, 1, 0));
    })
    .await;
}

#[tokio::test]
async fn one_translation_can_be_deleted_but_not_the_last() {
    for_each_backend(|s| async move {
        let a =
            s.save_article(&input("order-status", "Where is my order?", ArticleStatus::Published), None).await.unwrap();
        s.record_kb_vote(a.id, "zh-CN", "v1", true).await.unwrap();
        assert!(matches!(s.delete_translation(a.id, "fr").await, Err(StoreError::NotFound(_))));
        let b = s.delete_translation(a.id, "ZH-cn").await.unwrap();
        assert_eq!(b.translations.iter().map(|t| t.locale.as_str()).collect::<Vec<_>>(), vec!["en"]);
        assert_eq!(s.kb_votes(a.id, "zh-CN").await.unwrap().helpful, 0);
        assert!(s.article_history(a.id).await.unwrap().iter().all(|v| v.locale == "en"));
        assert!(matches!(s.delete_translation(a.id, "en").await, Err(StoreError::Invalid(_))));
        // Written again, the translation starts a new history.
        let c =
            s.save_article(&input("order-status", "Where is my order?", ArticleStatus::Published), None).await.unwrap();
        assert_eq!(c.translation("zh-CN").unwrap().version, 1);
        assert_eq!(c.translation("en").unwrap().version, 1);
    })
    .await;
}
