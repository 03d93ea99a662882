//! [`TelegramStore`] on SQLite.

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{OptionalExtension, params};
use switchboard_domain::ChannelSlug;

use super::{SqliteStore, ts};
use crate::{Result, TelegramStore};

#[async_trait]
impl TelegramStore for SqliteStore {
    async fn telegram_offset(&self, channel: &ChannelSlug) -> Result<Option<i64>> {
        let channel = channel.to_string();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached("SELECT next_offset FROM telegram_poll_offsets WHERE channel = ?1")?
                    .query_row([channel], |r| r.get(0))
                    .optional()?)
            })
            .await
    }

    async fn advance_telegram_offset(&self, channel: &ChannelSlug, next: i64) -> Result<i64> {
        let channel = channel.to_string();
        let now = ts(Utc::now());
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO telegram_poll_offsets (channel, next_offset, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (channel) DO UPDATE SET next_offset = excluded.next_offset, \
                     updated_at = excluded.updated_at WHERE excluded.next_offset > telegram_poll_offsets.next_offset",
                    params![channel, next, now],
                )?;
                Ok(c.query_row("SELECT next_offset FROM telegram_poll_offsets WHERE channel = ?1", [&channel], |r| {
                    r.get(0)
                })?)
            })
            .await
    }
}
