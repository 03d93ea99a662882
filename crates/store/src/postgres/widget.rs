//! [`WidgetStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::ChannelSlug;
use uuid::Uuid;

use super::PgStore;
use crate::{Result, StoreError, WidgetItem, WidgetStore, WidgetUpload, WidgetVisitor};

const ITEM_COLS: &str = "seq, dedupe_key, direction, body, created_at";

fn item(r: &PgRow) -> Result<WidgetItem> {
    Ok(WidgetItem {
        seq: r.try_get(0)?,
        dedupe_key: r.try_get(1)?,
        direction: r.try_get(2)?,
        body: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

fn slug(s: &str) -> Result<ChannelSlug> {
    ChannelSlug::parse(s).map_err(|e| StoreError::Backend(format!("stored channel slug: {e}")))
}

#[async_trait]
impl WidgetStore for PgStore {
    async fn create_widget_visitor(&self, v: &WidgetVisitor, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO widget_visitors (id, channel, token_hash, subject, name, email, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(v.id)
        .bind(v.channel.as_str())
        .bind(token_hash)
        .bind(&v.subject)
        .bind(&v.name)
        .bind(&v.email)
        .bind(v.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn widget_visitor_by_token(&self, channel: &ChannelSlug, token_hash: &str) -> Result<Option<WidgetVisitor>> {
        let row = sqlx::query(
            "SELECT id, channel, subject, name, email, created_at FROM widget_visitors \
             WHERE token_hash = $1 AND channel = $2",
        )
        .bind(token_hash)
        .bind(channel.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let channel: String = r.try_get(1)?;
            Ok(WidgetVisitor {
                id: r.try_get(0)?,
                channel: slug(&channel)?,
                subject: r.try_get(2)?,
                name: r.try_get(3)?,
                email: r.try_get(4)?,
                created_at: r.try_get(5)?,
            })
        })
        .transpose()
    }

    async fn touch_widget_visitor(&self, id: Uuid, name: Option<&str>, email: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE widget_visitors SET name = COALESCE($2, name), email = COALESCE($3, email), last_seen_at = $4 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(email)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn append_widget_item(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        dedupe_key: &str,
        direction: &str,
        body: &serde_json::Value,
    ) -> Result<(WidgetItem, bool)> {
        let mut tx = self.pool.begin().await?;
        // Bumping the stream's counter locks its row: concurrent appends to one stream queue
        // here, so the dedupe check below sees whatever the one before committed.
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO widget_streams AS s (channel, subject, last_seq) VALUES ($1, $2, 1) \
             ON CONFLICT (channel, subject) DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq",
        )
        .bind(channel.as_str())
        .bind(subject)
        .fetch_one(&mut *tx)
        .await?;
        let found = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM widget_items WHERE channel = $1 AND subject = $2 AND dedupe_key = $3"
        ))
        .bind(channel.as_str())
        .bind(subject)
        .bind(dedupe_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = found {
            let existing = item(&r)?;
            tx.rollback().await?;
            return Ok((existing, false));
        }
        let now: DateTime<Utc> = crate::now_micros();
        sqlx::query(
            "INSERT INTO widget_items (channel, subject, seq, dedupe_key, direction, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(channel.as_str())
        .bind(subject)
        .bind(seq)
        .bind(dedupe_key)
        .bind(direction)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            WidgetItem {
                seq,
                dedupe_key: dedupe_key.to_owned(),
                direction: direction.to_owned(),
                body: body.clone(),
                created_at: now,
            },
            true,
        ))
    }

    async fn widget_items_after(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<WidgetItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM widget_items WHERE channel = $1 AND subject = $2 AND seq > $3 ORDER BY seq LIMIT $4"
        ))
        .bind(channel.as_str())
        .bind(subject)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(item).collect()
    }

    async fn last_widget_items(
        &self,
        channel: &ChannelSlug,
        subject: &str,
        direction: &str,
        limit: usize,
    ) -> Result<Vec<WidgetItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLS} FROM widget_items WHERE channel = $1 AND subject = $2 AND direction = $3 \
             ORDER BY seq DESC LIMIT $4"
        ))
        .bind(channel.as_str())
        .bind(subject)
        .bind(direction)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(item).collect()
    }

    async fn save_widget_upload(&self, u: &WidgetUpload) -> Result<()> {
        sqlx::query(
            "INSERT INTO widget_uploads (id, channel, subject, path, mime_type, filename, size, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(u.id)
        .bind(u.channel.as_str())
        .bind(&u.subject)
        .bind(&u.path)
        .bind(&u.mime_type)
        .bind(&u.filename)
        .bind(u.size)
        .bind(u.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn widget_upload(&self, id: Uuid) -> Result<Option<WidgetUpload>> {
        let row = sqlx::query(
            "SELECT channel, subject, path, mime_type, filename, size, created_at FROM widget_uploads WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let channel: String = r.try_get(0)?;
            Ok(WidgetUpload {
                id,
                channel: slug(&channel)?,
                subject: r.try_get(1)?,
                path: r.try_get(2)?,
                mime_type: r.try_get(3)?,
                filename: r.try_get(4)?,
                size: r.try_get(5)?,
                created_at: r.try_get(6)?,
            })
        })
        .transpose()
    }
}
