//! [`RollupStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use switchboard_domain::FactKind;
use switchboard_domain::quality::{BacklogRecord, FCR_WINDOW_DAYS, MetricsInput};

use super::quality::{backlog_at, backlog_count_at, metrics_input};
use super::{SqliteStore, from_ts, ts};
use crate::Result;
use crate::rollup::{RollupRow, RollupStore};

fn day_str(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn parse_day(s: &str) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

#[async_trait]
impl RollupStore for SqliteStore {
    async fn cohort_input(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<MetricsInput> {
        self.conns.read(move |c| metrics_input(c, ts(from), ts(to), false)).await
    }

    async fn backlog_at(&self, at: DateTime<Utc>, triage: bool) -> Result<Vec<BacklogRecord>> {
        self.conns.read(move |c| backlog_at(c, ts(at), triage)).await
    }

    async fn backlog_count_at(&self, at: DateTime<Utc>) -> Result<u64> {
        self.conns.read(move |c| backlog_count_at(c, ts(at))).await
    }

    async fn put_rollup_day(
        &self,
        tz: &str,
        day: NaiveDate,
        rows: Vec<RollupRow>,
        at: DateTime<Utc>,
        valid_until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let tz = tz.to_owned();
        self.conns
            .write(move |c| {
                let d = day_str(day);
                c.prepare_cached("DELETE FROM quality_rollups WHERE tz = ?1 AND day = ?2")?.execute(params![tz, d])?;
                let mut st = c.prepare_cached(
                    "INSERT INTO quality_rollups (tz, day, dim, key, data, computed_at, valid_until) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for r in &rows {
                    let until = valid_until.filter(|_| r.dim.is_empty()).map(ts);
                    st.execute(params![tz, d, r.dim, r.key, r.data, ts(at), until])?;
                }
                Ok(())
            })
            .await
    }

    async fn rollup_due(&self, tz: &str, now: DateTime<Utc>, limit: u32) -> Result<Vec<NaiveDate>> {
        let tz = tz.to_owned();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT day FROM quality_rollups WHERE tz = ?1 AND dim = '' AND valid_until IS NOT NULL \
                     AND valid_until < ?2 ORDER BY valid_until, day LIMIT ?3",
                )?
                .query_map(params![tz, ts(now), limit], |r| parse_day(&r.get::<_, String>(0)?))?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn rollup_rows(
        &self,
        tz: &str,
        from: NaiveDate,
        to: NaiveDate,
        dims: Option<&[&str]>,
    ) -> Result<Vec<RollupRow>> {
        let tz = tz.to_owned();
        let dims = dims.map(serde_json::to_string).transpose()?;
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT day, dim, key, data FROM quality_rollups WHERE tz = ?1 AND day >= ?2 AND day <= ?3 \
                     AND (?4 IS NULL OR dim IN (SELECT value FROM json_each(?4))) ORDER BY day, dim, key",
                )?
                .query_map(params![tz, day_str(from), day_str(to), dims], |r| {
                    Ok(RollupRow {
                        day: parse_day(&r.get::<_, String>(0)?)?,
                        dim: r.get(1)?,
                        key: r.get(2)?,
                        data: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn rollup_days(&self, tz: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
        let tz = tz.to_owned();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT day FROM quality_rollups WHERE tz = ?1 AND day >= ?2 AND day <= ?3 AND dim = '' ORDER BY day",
                )?
                .query_map(params![tz, day_str(from), day_str(to)], |r| parse_day(&r.get::<_, String>(0)?))?
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn rollup_cursor(&self, tz: &str) -> Result<Option<DateTime<Utc>>> {
        let tz = tz.to_owned();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached("SELECT changed_since FROM quality_rollup_cursor WHERE tz = ?1")?
                    .query_row([tz], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map(from_ts))
            })
            .await
    }

    async fn set_rollup_cursor(&self, tz: &str, at: DateTime<Utc>) -> Result<()> {
        let tz = tz.to_owned();
        self.conns
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO quality_rollup_cursor (tz, changed_since) VALUES (?1, ?2) \
                     ON CONFLICT (tz) DO UPDATE SET changed_since = excluded.changed_since",
                )?
                .execute(params![tz, ts(at)])?;
                Ok(())
            })
            .await
    }

    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT created_at FROM conversations WHERE updated_at >= ?1 \
                     UNION SELECT c.created_at FROM bot_outcomes o JOIN conversations c ON c.id = o.conversation_id \
                       WHERE o.created_at >= ?1 \
                     UNION SELECT c.created_at FROM conversation_facts f JOIN conversations c ON c.id = f.conversation_id \
               WHERE f.kind = '{esc}' AND f.at >= ?1 \
             UNION SELECT answered_at FROM surveys WHERE answered_at >= ?1 \
                     UNION SELECT created_at FROM message_triage WHERE created_at >= ?1 \
                     UNION SELECT o.created_at FROM conversations n JOIN conversations o \
                       ON o.contact_id = n.contact_id AND o.id <> n.id \
                       WHERE n.created_at >= ?1 AND o.resolved_at <= n.created_at \
                       AND o.resolved_at >= n.created_at - ?2",
                    esc = FactKind::SlaEscalated.as_str()
                ))?
                .query_map(params![ts(since), FCR_WINDOW_DAYS * 86_400_000_000], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(from_ts))
                .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn first_conversation_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.conns
            .read(|c| {
                Ok(c.query_row("SELECT MIN(created_at) FROM conversations", [], |r| r.get::<_, Option<i64>>(0))?
                    .map(from_ts))
            })
            .await
    }
}
