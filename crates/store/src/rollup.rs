//! Daily quality rollups (issue 10, docs/metrics.md "Rollups"): the sums of each local day kept in
//! `quality_rollups`, written by the rollup job (crates/engine/src/rollup.rs) and read by reports
//! and dashboards instead of every message of a long period.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use switchboard_domain::quality::{BacklogRecord, MetricsInput};

use crate::Result;

/// One stored rollup row: a day's sums for the whole day (`dim` and `key` empty) or one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    /// Local day in the zone the rows were made for.
    pub day: NaiveDate,
    /// `""` (whole day) or a dimension name (`channel`, `team`, …).
    pub dim: String,
    /// The slice key (`""` for the whole day).
    pub key: String,
    /// JSON of the sums.
    pub data: String,
}

/// Reading and writing the daily rollups.
#[async_trait]
pub trait RollupStore: Send + Sync {
    /// The metrics input of `[from, to)` without the backlog (the cohort, answers, sentiments).
    async fn cohort_input(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<MetricsInput>;
    /// Conversations waiting at `at`: created before it and not resolved by it (closed ones
    /// without a resolution time are not waiting). Their language and intent (of the first
    /// triaged message) only with `triage`; without, those attributes are `None`.
    async fn backlog_at(&self, at: DateTime<Utc>, triage: bool) -> Result<Vec<BacklogRecord>>;
    /// How many conversations wait at `at` (see [`RollupStore::backlog_at`]).
    async fn backlog_count_at(&self, at: DateTime<Utc>) -> Result<u64>;
    /// Replaces every row of local day `day` in zone `tz` by `rows`, computed at `at`; the day is
    /// due again (see [`RollupStore::rollup_due`]) once `valid_until` has passed.
    async fn put_rollup_day(
        &self,
        tz: &str,
        day: NaiveDate,
        rows: Vec<RollupRow>,
        at: DateTime<Utc>,
        valid_until: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// Up to `limit` stored days of zone `tz` whose `valid_until` lies before `now`, the longest
    /// overdue first.
    async fn rollup_due(&self, tz: &str, now: DateTime<Utc>, limit: u32) -> Result<Vec<NaiveDate>>;
    /// The rows of the days `from ..= to` in zone `tz`, by day; with `dims`, only the rows whose
    /// `dim` is one of them (`""` is the whole-day row).
    async fn rollup_rows(
        &self,
        tz: &str,
        from: NaiveDate,
        to: NaiveDate,
        dims: Option<&[&str]>,
    ) -> Result<Vec<RollupRow>>;
    /// The days `from ..= to` in zone `tz` that have rows.
    async fn rollup_days(&self, tz: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>>;
    /// The moment up to which the job has looked for changes (zone `tz`).
    async fn rollup_cursor(&self, tz: &str) -> Result<Option<DateTime<Utc>>>;
    /// Moves the cursor.
    async fn set_rollup_cursor(&self, tz: &str, at: DateTime<Utc>) -> Result<()>;
    /// Moments whose day's rollup may have changed since `since`: the creation of every
    /// conversation updated (a message, a status, an assignment …), escalated or given a bot
    /// outcome since, and the time of every survey answer and triage since.
    async fn changed_since(&self, since: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>>;
    /// The first conversation's creation, if any.
    async fn first_conversation_at(&self) -> Result<Option<DateTime<Utc>>>;
}
