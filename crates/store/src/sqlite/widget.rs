//! [`WidgetStore`] on SQLite.

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::ChannelSlug;
use uuid::Uuid;

use super::{SqliteStore, from_ts, json_col, parse_col, ts};
use crate::{Result, WidgetItem, WidgetStore, WidgetUpload, WidgetVisitor};

const ITEM_COLS: &str = "seq, dedupe_key, direction, body, created_at";

fn item(r: &Row<'_>) -> rusqlite::Result<WidgetItem> {
    Ok(WidgetItem {
        seq: r.get(0)?,
        dedupe_key: r.get(1)?,
        direction: r.get(2)?,
        body: json_col(r, 3)?,
        created_at: from_ts(r.get(4)?),
    })
}

fn find_item(c: &Connection, channel: &str, subject: &str, key: &str) -> rusqlite::Result<Option<WidgetItem>> {
    c.prepare_cached(&format!(
        "SELECT {ITEM_COLS} FROM widget_items WHERE channel = ?1 AND subject = ?2 AND dedupe_key = ?3"
    ))?
    .query_row(params![channel, subject, key], item)
    .optional()
}

#[async_trait]
impl WidgetStore for SqliteStore {
    async fn create_widget_visitor(&self, v: &WidgetVisitor, token_hash: &str) -> Result<()> {
        let (v, hash) = (v.clone(), token_hash.to_owned());
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO widget_visitors (id, channel, token_hash, subject, name, email, created_at, last_seen_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                    params![
                        v.id.to_string(),
                        v.channel.as_str(),
                        hash,
                        v.subject,
                        v.name,
                        v.email,
                        ts(v.created_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn widget_visitor_by_token(&self, channel: &ChannelSlug, token_hash: &str) -> Result<Option<WidgetVisitor>> {
        let (channel, hash) = (channel.to_string(), token_hash.to_owned());
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT id, channel, subject, name, email, created_at FROM widget_visitors \
                     WHERE token_hash = ?1 AND channel = ?2",
                )?
                .query_row(params![hash, channel], |r| {
                    Ok(WidgetVisitor {
                        id: parse_col(r, 0)?,
                        channel: parse_col::<String>(r, 1).and_then(|s| {
                            ChannelSlug::parse(&s).map_err(|e| {
                                rusqlite::Error::FromSqlConversionFailure(
                                    1,
                                    rusqlite::types::Type::Text,
                                    e.to_string().into(),
                                )
                            })
                        })?,
                        subject: r.get(2)?,
                        name: r.get(3)?,
                        email: r.get(4)?,
                        created_at: from_ts(r.get(5)?),
                    })
                })
                .optional()?)
            })
            .await
    }

    async fn touch_widget_visitor(&self, id: Uuid, name: Option<&str>, email: Option<&str>) -> Result<()> {
        let (name, email) = (name.map(str::to_owned), email.map(str::to_owned));
        let now = ts(Utc::now());
        self.conns
            .write(move |c| {
                c.execute(
                    "UPDATE widget_visitors SET name = COALESCE(?2, name), email = COALESCE(?3, email), \
                     last_seen_at = ?4 WHERE id = ?1",
                    params![id.to_string(), name, email, now],
                )?;
                Ok(())
            })
            .await
    }

    async fn append_widget_item(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        dedupe_key: &str,
        direction: &str,
        body: &serde_json::Value,
    ) -> Result<(WidgetItem, bool)> {
        let (channel, subject, key, direction) =
            (channel.to_string(), subject.to_owned(), dedupe_key.to_owned(), direction.to_owned());
        let body = body.clone();
        let now = Utc::now();
        self.conns
            .write(move |c| {
                if let Some(found) = find_item(c, &channel, &subject, &key)? {
                    return Ok((found, false));
                }
                let seq: i64 = c
                    .prepare_cached(
                        "INSERT INTO widget_streams (channel, subject, last_seq) VALUES (?1, ?2, 1) \
                         ON CONFLICT (channel, subject) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                    )?
                    .query_row(params![channel, subject], |r| r.get(0))?;
                c.prepare_cached(
                    "INSERT INTO widget_items (channel, subject, seq, dedupe_key, direction, body, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![channel, subject, seq, key, direction, body.to_string(), ts(now)])?;
                Ok((WidgetItem { seq, dedupe_key: key, direction, body, created_at: from_ts(ts(now)) }, true))
            })
            .await
    }

    async fn widget_items_after(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<WidgetItem>> {
        let (channel, subject) = (channel.to_string(), subject.to_owned());
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {ITEM_COLS} FROM widget_items WHERE channel = ?1 AND subject = ?2 AND seq > ?3 \
                     ORDER BY seq LIMIT ?4"
                ))?;
                let rows = st.query_map(params![channel, subject, after, limit as i64], item)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn last_widget_items(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        direction: &str,
        limit: usize,
    ) -> Result<Vec<WidgetItem>> {
        let (channel, subject, direction) = (channel.to_string(), subject.to_owned(), direction.to_owned());
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT {ITEM_COLS} FROM widget_items WHERE channel = ?1 AND subject = ?2 AND direction = ?3 \
                     ORDER BY seq DESC LIMIT ?4"
                ))?;
                let rows = st.query_map(params![channel, subject, direction, limit as i64], item)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn save_widget_upload(&self, u: &WidgetUpload) -> Result<()> {
        let u = u.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO widget_uploads (id, channel, subject, path, mime_type, filename, size, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        u.id.to_string(),
                        u.channel.as_str(),
                        u.subject,
                        u.path,
                        u.mime_type,
                        u.filename,
                        u.size,
                        ts(u.created_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn widget_upload(&self, id: Uuid) -> Result<Option<WidgetUpload>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT channel, subject, path, mime_type, filename, size, created_at FROM widget_uploads \
                     WHERE id = ?1",
                )?
                .query_row([id.to_string()], |r| {
                    let channel: String = r.get(0)?;
                    Ok(WidgetUpload {
                        id,
                        channel: ChannelSlug::parse(&channel).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                0,
                                rusqlite::types::Type::Text,
                                e.to_string().into(),
                            )
                        })?,
                        subject: r.get(1)?,
                        path: r.get(2)?,
                        mime_type: r.get(3)?,
                        filename: r.get(4)?,
                        size: r.get(5)?,
                        created_at: from_ts(r.get(6)?),
                    })
                })
                .optional()?)
            })
            .await
    }
}
