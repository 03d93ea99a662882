//! [`RollupStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use switchboard_domain::FactKind;
use switchboard_domain::quality::{BacklogRecord, FCR_WINDOW_DAYS, MetricsInput};

use super::PgStore;
use super::quality::{backlog_at, backlog_count_at, metrics_input};
use crate::Result;
use crate::rollup::{RollupRow, RollupStore};

#[async_trait]
impl RollupStore for PgStore {
    async fn cohort_input(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<MetricsInput> {
        metrics_input(&self.pool, from, to, false).await
    }

    async fn backlog_at(&self, at: DateTime<Utc>, triage: bool) -> Result<Vec<BacklogRecord>> {
        let mut tx = self.pool.begin().await?;
        let v = backlog_at(&mut tx, at, triage).await?;
        tx.commit().await?;
        Ok(v)
    }

    async fn backlog_count_at(&self, at: DateTime<Utc>) -> Result<u64> {
        backlog_count_at(&self.pool, at).await
    }

    async fn put_rollup_day(
        &self,
        tz: &str,
        day: NaiveDate,
        rows: Vec<RollupRow>,
        at: DateTime<Utc>,
        valid_until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM quality_rollups WHERE tz = $1 AND day = $2")
            .bind(tz)
            .bind(day)
            .execute(&mut *tx)
            .await?;
        for r in &rows {
            sqlx::query(
                "INSERT INTO quality_rollups (tz, day, dim, key, data, computed_at, valid_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(tz)
            .bind(day)
            .bind(&r.dim)
            .bind(&r.key)
            .bind(&r.data)
            .bind(at)
            .bind(valid_until.filter(|_| r.dim.is_empty()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rollup_due(&self, tz: &str, now: DateTime<Utc>, limit: u32) -> Result<Vec<NaiveDate>> {
        Ok(sqlx::query_scalar(
            "SELECT day FROM quality_rollups WHERE tz = $1 AND dim = '' AND valid_until IS NOT NULL \
             AND valid_until < $2 ORDER BY valid_until, day LIMIT $3",
        )
        .bind(tz)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn rollup_rows(
        &self,
        tz: &str,
        from: NaiveDate,
        to: NaiveDate,
        dims: Option<&[&str]>,
    ) -> Result<Vec<RollupRow>> {
        sqlx::query(
            "SELECT day, dim, key, data FROM quality_rollups WHERE tz = $1 AND day >= $2 AND day <= $3 \
             AND ($4::text[] IS NULL OR dim = ANY($4)) ORDER BY day, dim, key",
        )
        .bind(tz)
        .bind(from)
        .bind(to)
        .bind(dims)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(RollupRow { day: r.try_get(0)?, dim: r.try_get(1)?, key: r.try_get(2)?, data: r.try_get(3)? }))
        .collect()
    }

    async fn rollup_days(&self, tz: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
        Ok(sqlx::query_scalar(
            "SELECT day FROM quality_rollups WHERE tz = $1 AND day >= $2 AND day <= $3 AND dim = '' ORDER BY day",
        )
        .bind(tz)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn rollup_cursor(&self, tz: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar("SELECT changed_since FROM quality_rollup_cursor WHERE tz = $1")
            .bind(tz)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_rollup_cursor(&self, tz: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO quality_rollup_cursor (tz, changed_since) VALUES ($1, $2) \
             ON CONFLICT (tz) DO UPDATE SET changed_since = excluded.changed_since",
        )
        .bind(tz)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT created_at FROM conversations WHERE updated_at >= $1 \
             UNION SELECT c.created_at FROM bot_outcomes o JOIN conversations c ON c.id = o.conversation_id \
               WHERE o.created_at >= $1 \
             UNION SELECT c.created_at FROM conversation_facts f JOIN conversations c ON c.id = f.conversation_id \
               WHERE f.kind = '{esc}' AND f.at >= $1 \
             UNION SELECT answered_at FROM surveys WHERE answered_at >= $1 \
             UNION SELECT created_at FROM message_triage WHERE created_at >= $1 \
             UNION SELECT o.created_at FROM conversations n JOIN conversations o \
               ON o.contact_id = n.contact_id AND o.id <> n.id \
               WHERE n.created_at >= $1 AND o.resolved_at <= n.created_at \
               AND o.resolved_at >= n.created_at - make_interval(days => $2)",
            esc = FactKind::SlaEscalated.as_str()
        ))
        .bind(since)
        .bind(FCR_WINDOW_DAYS as i32)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn first_conversation_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar("SELECT MIN(created_at) FROM conversations").fetch_one(&self.pool).await?)
    }
}
