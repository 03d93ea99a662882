//! Telegram long polling: the `getUpdates` offset of each channel, kept in the database so a
//! restart neither loses nor re-reads confirmed updates.

use async_trait::async_trait;
use switchboard_domain::ChannelSlug;

use crate::Result;

/// The stored `getUpdates` offsets.
#[async_trait]
pub trait TelegramStore: Send + Sync {
    /// The next `offset` to ask `getUpdates` for (the last stored update id + 1), if any.
    async fn telegram_offset(&self, channel: &ChannelSlug) -> Result<Option<i64>>;
    /// Records that every update below `next` is stored. Only moves forward; answers the
    /// offset in force afterwards.
    async fn advance_telegram_offset(&self, channel: &ChannelSlug, next: i64) -> Result<i64>;
}
