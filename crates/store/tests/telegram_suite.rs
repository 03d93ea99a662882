//! The Telegram store suite ([`TelegramStore`]): every test runs against SQLite, and against
//! PostgreSQL when `TEST_DATABASE_URL` names a server. Same harness as store_suite.rs.
#![allow(clippy::unwrap_used)]

mod common;

use common::for_each_backend;
use switchboard_domain::ChannelSlug;

#[tokio::test]
async fn the_poll_offset_is_kept_and_only_moves_forward() {
    for_each_backend(|store| async move {
        let a = ChannelSlug::parse("tg-a").unwrap();
        let b = ChannelSlug::parse("tg-b").unwrap();
        assert_eq!(store.telegram_offset(&a).await.unwrap(), None);
        assert_eq!(store.advance_telegram_offset(&a, 800_000_010).await.unwrap(), 800_000_010);
        assert_eq!(store.advance_telegram_offset(&a, 800_000_005).await.unwrap(), 800_000_010, "never backwards");
        assert_eq!(store.advance_telegram_offset(&a, 800_000_011).await.unwrap(), 800_000_011);
        assert_eq!(store.telegram_offset(&a).await.unwrap(), Some(800_000_011));
        assert_eq!(store.telegram_offset(&b).await.unwrap(), None, "per channel");
        assert_eq!(store.advance_telegram_offset(&b, 1).await.unwrap(), 1);
    })
    .await;
}
