//! Daily quality rollups (docs/metrics.md, "Rollups"). The rollup job keeps, for every local day
//! of the brand's time zone, the day's sums (`switchboard_domain::rollup::Aggregate`) for the whole
//! day and per slice, plus the day's case-review entries, in `quality_rollups`. It recomputes a
//! day when something in it changed (a conversation created that day was updated, escalated or
//! got a bot outcome, a survey was answered or a message triaged that day, a contact came back
//! within the FCR window of a conversation resolved earlier), when its sums changed with time
//! alone (an SLA clock that was running when the day was computed has breached since: the day
//! is stored with that moment, `valid_until`), and fills days that have none, oldest first. A
//! round with nothing changed reads a few index entries and writes only its cursor.
//!
//! The SLA clocks are the routing job's, saved after it has seen a conversation's change without
//! changing the conversation: a day read while a conversation's clocks were not yet saved is due
//! again at once, and read again by the next round.
//!
//! Reports and dashboards read the stored days of a period and compute the rest — today and
//! yesterday always, and any day without rows — from the raw rows, then add them up: counts,
//! rates and means equal the raw computation; medians come from histograms (within 0.5 %)
//! unless every day was read raw.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use switchboard_domain::quality::{self, Calendars, Dimension, Metrics, MetricsInput, Period, PeriodKind};
use switchboard_domain::rollup::Aggregate;
use switchboard_store::rollup::RollupRow;
use switchboard_store::{DynStore, StoreError};
use tokio_util::sync::CancellationToken;

use crate::report::{self, ReviewCase};

/// Today and this many days before it are always read raw (they are still changing).
pub const RAW_DAYS: i64 = 1;
/// Days without rows filled per round (and at most this many overdue days recomputed).
const BACKFILL_PER_ROUND: usize = 62;

/// One day's sums: the whole day, each slice, and the day's case-review entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayRollup {
    /// The whole day.
    pub all: Aggregate,
    /// Per (dimension, slice key).
    pub by: BTreeMap<(Dimension, String), Aggregate>,
    /// Cases for the review.
    pub review: Vec<ReviewCase>,
}

/// The stored form of the whole-day row. Rows written before the review had a row of its own
/// ([`REVIEW_DIM`]) carry the review here, and are still read.
#[derive(Serialize, Deserialize)]
struct AllRow {
    aggregate: Aggregate,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    review: Vec<ReviewCase>,
}

/// The `dim` of a day's case-review row: kept apart from the whole-day sums so readers that only
/// want the sums (the previous period of a report, the dashboards) do not parse it.
pub const REVIEW_DIM: &str = "review";

/// What a reader wants of each day of a period: the whole-day sums always, the slices of `dims`,
/// and the case review if `review`. Days read from stored rows hold only these; days computed
/// from the raw rows too.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// Slices wanted.
    pub dims: &'a [Dimension],
    /// Whether the case review is wanted.
    pub review: bool,
}

impl Want<'_> {
    /// Every slice and the review.
    pub const ALL: Want<'static> = Want { dims: &Dimension::ALL, review: true };
    /// The whole-day sums only.
    pub const TOTALS: Want<'static> = Want { dims: &[], review: false };

    /// The `dim` values of the stored rows this reads.
    pub fn row_dims(&self) -> Vec<&'static str> {
        let mut v = vec![""];
        v.extend(self.dims.iter().map(|d| d.as_str()));
        if self.review {
            v.push(REVIEW_DIM);
        }
        v
    }
}

impl DayRollup {
    /// The rollup of one day's raw rows (`exact`: keep every duration, for exact medians).
    pub fn of(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>, exact: bool, want: Want<'_>) -> DayRollup {
        let mut by = BTreeMap::new();
        for &dim in want.dims {
            for key in input.keys(dim) {
                let agg = Aggregate::collect(&input.slice(dim, &key), cals, now, exact);
                by.insert((dim, key), agg);
            }
        }
        let review = if want.review { report::review(input, cals, now) } else { Vec::new() };
        DayRollup { all: Aggregate::collect(input, cals, now, exact), by, review }
    }

    fn to_rows(&self, day: NaiveDate) -> Result<Vec<RollupRow>, StoreError> {
        let mut rows = vec![
            RollupRow {
                day,
                dim: String::new(),
                key: String::new(),
                data: serde_json::to_string(&AllRow { aggregate: self.all.clone(), review: Vec::new() })?,
            },
            RollupRow {
                day,
                dim: REVIEW_DIM.to_owned(),
                key: String::new(),
                data: serde_json::to_string(&self.review)?,
            },
        ];
        for ((dim, key), agg) in &self.by {
            rows.push(RollupRow {
                day,
                dim: dim.as_str().to_owned(),
                key: key.clone(),
                data: serde_json::to_string(agg)?,
            });
        }
        Ok(rows)
    }

    fn from_rows(rows: Vec<RollupRow>) -> Result<BTreeMap<NaiveDate, DayRollup>, StoreError> {
        let mut out: BTreeMap<NaiveDate, DayRollup> = BTreeMap::new();
        for r in rows {
            let d = out.entry(r.day).or_default();
            if r.dim.is_empty() {
                let all: AllRow = serde_json::from_str(&r.data)?;
                d.all = all.aggregate;
                if !all.review.is_empty() {
                    d.review = all.review;
                }
            } else if r.dim == REVIEW_DIM {
                d.review = serde_json::from_str(&r.data)?;
            } else {
                let dim = Dimension::parse(&r.dim).map_err(|e| StoreError::Backend(e.to_string()))?;
                d.by.insert((dim, r.key), serde_json::from_str(&r.data)?);
            }
        }
        Ok(out)
    }
}

/// The days of a period, each from its stored rollup or computed from the raw rows.
#[derive(Debug, Clone, Default)]
pub struct PeriodDays {
    /// Local day → its sums.
    pub days: BTreeMap<NaiveDate, DayRollup>,
    /// How many of them came from stored rollups.
    pub from_rollups: usize,
}

impl PeriodDays {
    /// The sum of the days in `[from, to)`.
    pub fn total(&self, from: NaiveDate, to: NaiveDate) -> Aggregate {
        let mut a = Aggregate::default();
        let mut first = true;
        for d in self.days.range(from..to).map(|(_, d)| &d.all) {
            if first {
                a = d.clone();
                first = false;
            } else {
                a.merge(d);
            }
        }
        a
    }

    /// The sums per slice key of `dim` over every day.
    pub fn by(&self, dim: Dimension) -> BTreeMap<String, Aggregate> {
        let mut out: BTreeMap<String, Aggregate> = BTreeMap::new();
        for d in self.days.values() {
            for ((dm, key), agg) in &d.by {
                if *dm != dim {
                    continue;
                }
                match out.get_mut(key) {
                    Some(a) => a.merge(agg),
                    None => {
                        out.insert(key.clone(), agg.clone());
                    }
                }
            }
        }
        out
    }

    /// The case review of the whole period: one entry per case, its reasons in the usual order,
    /// most reasons first.
    pub fn review(&self) -> Vec<ReviewCase> {
        let mut by_case: BTreeMap<i64, ReviewCase> = BTreeMap::new();
        for c in self.days.values().flat_map(|d| &d.review) {
            let e = by_case.entry(c.case_number).or_insert_with(|| ReviewCase { reasons: vec![], ..c.clone() });
            for r in &c.reasons {
                if !e.reasons.contains(r) {
                    e.reasons.push(r.clone());
                }
            }
        }
        let mut v: Vec<ReviewCase> = by_case.into_values().collect();
        for c in &mut v {
            c.reasons.sort_by_key(|r| report::REVIEW_REASONS.iter().position(|x| x == r));
        }
        v.sort_by(|a, b| b.reasons.len().cmp(&a.reasons.len()).then(a.case_number.cmp(&b.case_number)));
        v
    }
}

/// The days of `period` with what `want` asks for: stored rollups where there are some, except
/// today and the last [`RAW_DAYS`] days, which are computed from the raw rows with the rest (one
/// read per run of consecutive days).
pub async fn period_days(
    store: &DynStore,
    period: &Period,
    tz: Tz,
    cals: &Calendars,
    now: DateTime<Utc>,
    want: Want<'_>,
) -> Result<PeriodDays, StoreError> {
    let days = period.split(PeriodKind::Day);
    let (Some(first), Some(last)) = (days.first(), days.last()) else { return Ok(PeriodDays::default()) };
    let raw_from = now.with_timezone(&tz).date_naive() - chrono::Duration::days(RAW_DAYS);
    let rows = store.rollup_rows(tz.name(), first.start, last.start, Some(&want.row_dims())).await?;
    let mut stored = DayRollup::from_rows(rows)?;
    stored.retain(|d, _| *d < raw_from);
    let mut out = PeriodDays { from_rollups: stored.len(), days: stored };
    let mut i = 0;
    while i < days.len() {
        if out.days.contains_key(&days[i].start) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < days.len() && !out.days.contains_key(&days[j + 1].start) {
            j += 1;
        }
        let (from, _) = days[i].bounds(tz);
        let (_, to) = days[j].bounds(tz);
        let input = store.cohort_input(from, to).await?;
        for d in &days[i..=j] {
            let (a, b) = d.bounds(tz);
            out.days.insert(d.start, DayRollup::of(&input.window(a, b), cals, now, true, want));
        }
        i = j + 1;
    }
    Ok(out)
}

/// Metrics per slice of `dim` over `period` (the backlog at its end included).
pub async fn slice_metrics(
    store: &DynStore,
    period: &Period,
    tz: Tz,
    dim: Dimension,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, Metrics>, StoreError> {
    let cals = report::calendars(store).await?;
    let days = period_days(store, period, tz, &cals, now, Want { dims: &[dim], review: false }).await?;
    let (_, to) = period.bounds(tz);
    let backlog = store.backlog_at(to, matches!(dim, Dimension::Language | Dimension::Intent)).await?;
    Ok(with_backlog(days.by(dim), dim, &backlog))
}

/// Metrics per slice key, each with its share of `backlog`; keys that only wait appear too.
pub fn with_backlog(
    mut sums: BTreeMap<String, Aggregate>,
    dim: Dimension,
    backlog: &[switchboard_domain::quality::BacklogRecord],
) -> BTreeMap<String, Metrics> {
    let mut waiting: BTreeMap<String, u64> = BTreeMap::new();
    for b in backlog {
        *waiting.entry(dim.key(&b.attrs)).or_default() += 1;
    }
    for k in waiting.keys() {
        sums.entry(k.clone()).or_default();
    }
    sums.into_iter().map(|(k, a)| (k.clone(), a.metrics(waiting.get(&k).copied().unwrap_or(0)))).collect()
}

/// Recomputes the days that need it (see the module comment); returns how many were written.
pub async fn refresh(store: &DynStore, tz: Tz, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let cals = report::calendars(store).await?;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    // Days from `raw_from` on are always read raw: no point storing them yet.
    let raw_from = local(now) - chrono::Duration::days(RAW_DAYS);
    // Days whose sums changed with time alone since they were computed.
    let mut dirty: BTreeSet<NaiveDate> =
        store.rollup_due(tz.name(), now, BACKFILL_PER_ROUND as u32).await?.into_iter().collect();
    let cursor = store.rollup_cursor(tz.name()).await?;
    if let Some(since) = cursor {
        dirty.extend(store.changed_since(since).await?.into_iter().map(local));
    }
    if let Some(first) = store.first_conversation_at().await? {
        let first = local(first);
        let last = raw_from - chrono::Duration::days(1);
        if first <= last {
            let have: BTreeSet<NaiveDate> = store.rollup_days(tz.name(), first, last).await?.into_iter().collect();
            let mut missing = Vec::new();
            let mut d = first;
            while d <= last && missing.len() < BACKFILL_PER_ROUND {
                if !have.contains(&d) {
                    missing.push(d);
                }
                d += chrono::Duration::days(1);
            }
            dirty.extend(missing);
        }
    }
    let mut written = 0;
    for day in dirty.into_iter().filter(|d| *d < raw_from) {
        let p = Period::containing(PeriodKind::Day, day);
        let (a, b) = p.bounds(tz);
        let input = store.cohort_input(a, b).await?;
        let rows = DayRollup::of(&input, &cals, now, false, Want::ALL).to_rows(day)?;
        let valid_until = quality::next_time_change(&input, &cals, now);
        store.put_rollup_day(tz.name(), day, rows, now, valid_until).await?;
        written += 1;
    }
    // Changes made while this round read are seen again next round (`now` was taken before).
    store.set_rollup_cursor(tz.name(), now).await?;
    Ok(written)
}

/// Rounds of [`refresh`] at `now` until every past day has its rows (a round that wrote fewer
/// days than a round fills was the last); returns the days written.
pub async fn backfill(store: &DynStore, tz: Tz, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = refresh(store, tz, now).await?;
        total += n;
        if n < BACKFILL_PER_ROUND {
            return Ok(total);
        }
    }
}

/// Runs [`refresh`] every `tick` (the first round after `first`) until cancelled.
pub(crate) async fn run(store: DynStore, tz: Tz, first: Duration, tick: Duration, cancel: CancellationToken) {
    let mut wait = first;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = tick;
        match refresh(&store, tz, Utc::now()).await {
            Ok(n) if n > 0 => tracing::debug!(days = n, "quality rollups refreshed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "quality rollup round failed; retrying next round"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn case(n: i64, reasons: &[&str]) -> ReviewCase {
        ReviewCase {
            case_number: n,
            conversation_id: format!("c{n}"),
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn the_review_has_a_row_of_its_own_and_old_whole_day_rows_are_still_read() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
        let mut r = DayRollup { review: vec![case(7, &["low_csat"])], ..DayRollup::default() };
        r.all.conversations = 3;
        r.by.insert((Dimension::Channel, "whatsapp".into()), Aggregate { conversations: 3, ..Aggregate::default() });
        let rows = r.to_rows(day).unwrap();
        let dims: Vec<&str> = rows.iter().map(|r| r.dim.as_str()).collect();
        assert_eq!(dims, ["", REVIEW_DIM, "channel"]);
        assert!(!rows[0].data.contains("review"), "{}", rows[0].data);
        assert_eq!(DayRollup::from_rows(rows.clone()).unwrap()[&day], r);
        // Totals only: the review row is not read.
        let totals: Vec<RollupRow> = rows.iter().filter(|r| r.dim.is_empty()).cloned().collect();
        let t = &DayRollup::from_rows(totals).unwrap()[&day];
        assert_eq!((t.all.conversations, t.review.len(), t.by.len()), (3, 0, 0));
        // A whole-day row written with the review inside it.
        let old = RollupRow {
            day,
            dim: String::new(),
            key: String::new(),
            data: serde_json::to_string(&serde_json::json!({
                "aggregate": {"conversations": 2},
                "review": [{"case_number": 9, "conversation_id": "c9", "reasons": ["negative"]}],
            }))
            .unwrap(),
        };
        let d = &DayRollup::from_rows(vec![old]).unwrap()[&day];
        assert_eq!((d.all.conversations, d.review.clone()), (2, vec![case(9, &["negative"])]));
    }

    #[test]
    fn want_names_the_rows_it_reads() {
        assert_eq!(Want::TOTALS.row_dims(), [""]);
        assert_eq!(Want { dims: &[Dimension::Team], review: true }.row_dims(), ["", "team", REVIEW_DIM]);
        assert_eq!(Want::ALL.row_dims().len(), Dimension::ALL.len() + 2);
    }
}
