//! [`TelegramStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::Utc;
use switchboard_domain::ChannelSlug;

use super::PgStore;
use crate::{Result, TelegramStore};

#[async_trait]
impl TelegramStore for PgStore {
    async fn telegram_offset(&self, channel: &ChannelSlug) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT next_offset FROM telegram_poll_offsets WHERE channel = $1")
            .bind(channel.as_str())
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn advance_telegram_offset(&self, channel: &ChannelSlug, next: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO telegram_poll_offsets AS t (channel, next_offset, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (channel) DO UPDATE SET next_offset = GREATEST(t.next_offset, excluded.next_offset), \
             updated_at = excluded.updated_at RETURNING next_offset",
        )
        .bind(channel.as_str())
        .bind(next)
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await?)
    }
}
