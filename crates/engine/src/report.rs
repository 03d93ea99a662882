//! Periodic quality reports (docs/reports.md): the metrics of a week or month next to the
//! previous period and the targets, the trend inside it, slices per channel / team / agent, and
//! the case review list; rendered as JSON, CSV and a self-contained HTML page with SVG charts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use switchboard_domain::calendar::BusinessCalendar;
use switchboard_domain::quality::{self, Calendars, Dimension, Measure, Metrics, MetricsInput, Period, PeriodKind};
use switchboard_store::{DynStore, StoreError};

use crate::charts::{self, PALETTE, Series};
use crate::report_text::{ReportLocale, Words};
use crate::rollup;

/// What the service promises itself; reports and dashboards show each metric against its target.
/// Every target is optional (`None`: no target shown). Rates are shares (0.85 = 85 %).
///
/// This is also the `[quality.targets]` configuration section: in configuration and in report
/// documents the two durations are written in the units people set them in,
/// `first_response_minutes` and `resolution_hours` (business time); the fields hold seconds.
/// Keys left out keep their defaults; an unknown key is refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Targets {
    /// Share of conversations with an agent reply (at least).
    pub response_rate: Option<f64>,
    /// Mean first response, business seconds (at most); `first_response_minutes` in serde.
    #[serde(rename = "first_response_minutes", serialize_with = "in_minutes")]
    pub first_response_business_secs: Option<f64>,
    /// Mean resolution time, business seconds (at most); `resolution_hours` in serde.
    #[serde(rename = "resolution_hours", serialize_with = "in_hours")]
    pub resolution_business_secs: Option<f64>,
    /// Share resolved (at least).
    pub resolution_rate: Option<f64>,
    /// First-contact resolution rate (at least).
    pub fcr_rate: Option<f64>,
    /// Repeat-contact rate (at most).
    pub repeat_contact_rate: Option<f64>,
    /// Escalation ratio (at most).
    pub escalation_ratio: Option<f64>,
    /// SLA attainment, every metric (at least).
    pub sla_attainment: Option<f64>,
    /// CSAT %, 4–5 of all answers (at least).
    pub csat_percent: Option<f64>,
    /// CSAT average, 1–5 (at least).
    pub csat_average: Option<f64>,
    /// NPS, −100–100 (at least).
    pub nps: Option<f64>,
    /// Bot deflection rate (at least).
    pub bot_deflection_rate: Option<f64>,
    /// Bot handoff rate (at most).
    pub bot_handoff_rate: Option<f64>,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            response_rate: Some(0.95),
            first_response_business_secs: Some(3600.0),
            resolution_business_secs: None,
            resolution_rate: Some(0.8),
            fcr_rate: Some(0.7),
            repeat_contact_rate: None,
            escalation_ratio: None,
            sla_attainment: Some(0.9),
            csat_percent: Some(0.85),
            csat_average: None,
            nps: Some(30.0),
            bot_deflection_rate: None,
            bot_handoff_rate: None,
        }
    }
}

fn in_minutes<S: serde::Serializer>(secs: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    secs.map(|x| x / 60.0).serialize(s)
}

fn in_hours<S: serde::Serializer>(secs: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    secs.map(|x| x / 3600.0).serialize(s)
}

/// The keys of [`Targets`] (configuration units).
const TARGET_KEYS: &[&str] = &[
    "response_rate",
    "first_response_minutes",
    "resolution_hours",
    "resolution_rate",
    "fcr_rate",
    "repeat_contact_rate",
    "escalation_ratio",
    "sla_attainment",
    "csat_percent",
    "csat_average",
    "nps",
    "bot_deflection_rate",
    "bot_handoff_rate",
];

impl<'de> Deserialize<'de> for Targets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = Targets;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("report targets")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Targets, A::Error> {
                let mut t = Targets::default();
                while let Some(key) = map.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "first_response_minutes" => {
                            t.first_response_business_secs = map.next_value::<Option<f64>>()?.map(|m| m * 60.0);
                            continue;
                        }
                        "resolution_hours" => {
                            t.resolution_business_secs = map.next_value::<Option<f64>>()?.map(|h| h * 3600.0);
                            continue;
                        }
                        // Reports stored before the durations were written in configuration units.
                        "first_response_business_secs" => &mut t.first_response_business_secs,
                        "resolution_business_secs" => &mut t.resolution_business_secs,
                        "response_rate" => &mut t.response_rate,
                        "resolution_rate" => &mut t.resolution_rate,
                        "fcr_rate" => &mut t.fcr_rate,
                        "repeat_contact_rate" => &mut t.repeat_contact_rate,
                        "escalation_ratio" => &mut t.escalation_ratio,
                        "sla_attainment" => &mut t.sla_attainment,
                        "csat_percent" => &mut t.csat_percent,
                        "csat_average" => &mut t.csat_average,
                        "nps" => &mut t.nps,
                        "bot_deflection_rate" => &mut t.bot_deflection_rate,
                        "bot_handoff_rate" => &mut t.bot_handoff_rate,
                        other => return Err(serde::de::Error::unknown_field(other, TARGET_KEYS)),
                    };
                    *slot = map.next_value()?;
                }
                Ok(t)
            }
        }
        d.deserialize_map(Keys)
    }
}

impl Targets {
    /// Checks every target's range; the message names the key (`targets.<key>`, configuration
    /// units) and the range.
    pub fn validate(&self) -> Result<(), String> {
        let shares = [
            ("response_rate", self.response_rate),
            ("resolution_rate", self.resolution_rate),
            ("fcr_rate", self.fcr_rate),
            ("repeat_contact_rate", self.repeat_contact_rate),
            ("escalation_ratio", self.escalation_ratio),
            ("sla_attainment", self.sla_attainment),
            ("csat_percent", self.csat_percent),
            ("bot_deflection_rate", self.bot_deflection_rate),
            ("bot_handoff_rate", self.bot_handoff_rate),
        ];
        for (key, v) in shares {
            if let Some(x) = v
                && !(0.0..=1.0).contains(&x)
            {
                return Err(format!("targets.{key} must be a share between 0 and 1 (0.85 = 85 %), got {x}"));
            }
        }
        for (key, v, unit, max) in [
            ("first_response_minutes", self.first_response_business_secs, 60.0, 525_600.0),
            ("resolution_hours", self.resolution_business_secs, 3600.0, 8760.0),
        ] {
            if let Some(x) = v.map(|secs| secs / unit)
                && !(x > 0.0 && x <= max)
            {
                return Err(format!("targets.{key} must be more than 0 and at most {max} (one year), got {x}"));
            }
        }
        if let Some(x) = self.csat_average
            && !(1.0..=5.0).contains(&x)
        {
            return Err(format!("targets.csat_average must be between 1 and 5, got {x}"));
        }
        if let Some(x) = self.nps
            && !(-100.0..=100.0).contains(&x)
        {
            return Err(format!("targets.nps must be between -100 and 100, got {x}"));
        }
        Ok(())
    }
}

/// A case for the weekly review, with why it is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewCase {
    /// Case number.
    pub case_number: i64,
    /// Conversation id.
    pub conversation_id: String,
    /// `sla_breached`, `low_csat`, `repeat_contact`, `negative`.
    pub reasons: Vec<String>,
}

/// A generated report: everything needed to render it again later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDoc {
    /// `2026-W47`, `2026-11`, `2026-11-23`.
    pub period: String,
    /// `week`, `month` or `day`.
    pub kind: PeriodKind,
    /// The previous period's label.
    pub previous_period: String,
    /// The brand's time zone.
    pub time_zone: String,
    /// Period start (UTC).
    pub from: DateTime<Utc>,
    /// Period end (UTC, exclusive).
    pub to: DateTime<Utc>,
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
    /// This period.
    pub current: Metrics,
    /// The period before.
    pub previous: Metrics,
    /// Targets.
    pub targets: Targets,
    /// Sub-periods (days of a week, weeks of a month) with their metrics.
    pub trend: Vec<(String, Metrics)>,
    /// Per channel.
    pub by_channel: BTreeMap<String, Metrics>,
    /// Per team.
    pub by_team: BTreeMap<String, Metrics>,
    /// Per agent (by id; see `agent_names`).
    pub by_agent: BTreeMap<String, Metrics>,
    /// Agent id → display name.
    pub agent_names: BTreeMap<String, String>,
    /// Worst cases of the period, at most [`REVIEW_LIMIT`].
    pub review: Vec<ReviewCase>,
    /// How many cases the review found (`review` holds the worst of them). Reports stored
    /// before the list was capped read 0: their list is whole.
    #[serde(default)]
    pub review_total: u64,
}

/// The longest case review a report lists (for the team meeting); the drill-down pages list
/// every case behind each reason.
pub const REVIEW_LIMIT: usize = 100;

impl ReportDoc {
    /// Cases found but not listed.
    pub fn review_more(&self) -> u64 {
        self.review_total.saturating_sub(self.review.len() as u64)
    }
}

/// Business calendars of every team (as the routing job uses them).
pub async fn calendars(store: &DynStore) -> Result<Calendars, StoreError> {
    let mut by_team = HashMap::new();
    let cals: HashMap<String, BusinessCalendar> = store
        .list_calendars()
        .await?
        .into_iter()
        .filter_map(|c| BusinessCalendar::new(&c.spec).ok().map(|b| (c.name, b)))
        .collect();
    for t in store.list_teams().await? {
        if let Some(cal) = t.calendar.as_ref().and_then(|c| cals.get(c)) {
            by_team.insert(t.name.clone(), cal.clone());
        }
    }
    Ok(Calendars { by_team, ..Calendars::default() })
}

/// The metrics input of a period in `tz`.
pub async fn input(store: &DynStore, period: &Period, tz: Tz) -> Result<MetricsInput, StoreError> {
    let (from, to) = period.bounds(tz);
    store.metrics_input(from, to).await
}

/// What a report reads of each day of its period (the previous period: the totals only).
pub const WANT: rollup::Want<'static> =
    rollup::Want { dims: &[Dimension::Channel, Dimension::Team, Dimension::Agent], review: true };

/// Builds the report of `period` at `now`: from the stored daily rollups where there are some
/// (crate::rollup), the raw rows for the rest.
pub async fn build(
    store: &DynStore,
    period: &Period,
    tz: Tz,
    targets: &Targets,
    now: DateTime<Utc>,
) -> Result<ReportDoc, StoreError> {
    let cals = calendars(store).await?;
    let prev_period = period.previous();
    let cur = rollup::period_days(store, period, tz, &cals, now, WANT).await?;
    let prev = rollup::period_days(store, &prev_period, tz, &cals, now, rollup::Want::TOTALS).await?;
    let (from, to) = period.bounds(tz);
    // The slices shown (channel, team, agent) are on the conversation row: no triage needed.
    let backlog = store.backlog_at(to, false).await?;
    let prev_backlog = store.backlog_count_at(prev_period.bounds(tz).1).await?;
    let step = match period.kind {
        PeriodKind::Month => PeriodKind::Week,
        _ => PeriodKind::Day,
    };
    let trend = period
        .split(step)
        .into_iter()
        .map(|p| {
            let label = if step == PeriodKind::Day { p.start.format("%a %m-%d").to_string() } else { p.label() };
            // A week of a month counts only the month's days (its first and last may straddle).
            (label, cur.total(p.start.max(period.start), p.end.min(period.end)).metrics(0))
        })
        .collect();
    let agent_names = store.list_users().await?.into_iter().map(|u| (u.id.0.to_string(), u.name)).collect();
    tracing::debug!(period = %period, from_rollups = cur.from_rollups, "report built");
    let mut review = cur.review();
    Ok(ReportDoc {
        period: period.label(),
        kind: period.kind,
        previous_period: prev_period.label(),
        time_zone: tz.name().to_owned(),
        from,
        to,
        generated_at: now,
        current: cur.total(period.start, period.end).metrics(backlog.len() as u64),
        previous: prev.total(prev_period.start, prev_period.end).metrics(prev_backlog),
        targets: targets.clone(),
        trend,
        by_channel: rollup::with_backlog(cur.by(Dimension::Channel), Dimension::Channel, &backlog),
        by_team: rollup::with_backlog(cur.by(Dimension::Team), Dimension::Team, &backlog),
        by_agent: rollup::with_backlog(cur.by(Dimension::Agent), Dimension::Agent, &backlog),
        agent_names,
        review_total: review.len() as u64,
        review: {
            review.truncate(REVIEW_LIMIT);
            review
        },
    })
}

/// The reasons a case is in the review, in the order they are listed.
pub const REVIEW_REASONS: [&str; 4] = ["sla_breached", "low_csat", "repeat_contact", "negative"];

/// The case review: breaches, low CSAT, repeat contacts, negative sentiment; most reasons first.
pub fn review(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>) -> Vec<ReviewCase> {
    let mut by_case: BTreeMap<i64, ReviewCase> = BTreeMap::new();
    for (measure, reason) in [Measure::SlaBreached, Measure::LowCsat, Measure::RepeatContacts, Measure::Negative]
        .into_iter()
        .zip(REVIEW_REASONS)
    {
        for (id, case) in quality::drill(input, measure, cals, now) {
            if case == 0 {
                continue;
            }
            by_case
                .entry(case)
                .or_insert_with(|| ReviewCase { case_number: case, conversation_id: id.0.to_string(), reasons: vec![] })
                .reasons
                .push(reason.to_owned());
        }
    }
    let mut v: Vec<ReviewCase> = by_case.into_values().collect();
    v.sort_by(|a, b| b.reasons.len().cmp(&a.reasons.len()).then(a.case_number.cmp(&b.case_number)));
    v
}

/// One line of the summary table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// Stable key.
    pub key: &'static str,
    /// English label.
    pub label: &'static str,
    /// This period.
    pub current: Option<f64>,
    /// Previous period.
    pub previous: Option<f64>,
    /// Target.
    pub target: Option<f64>,
    /// Whether more is better (for the target check).
    pub higher_is_better: bool,
}

impl SummaryRow {
    /// Whether the current value meets the target (`None` without either).
    pub fn meets_target(&self) -> Option<bool> {
        let (c, t) = (self.current?, self.target?);
        Some(if self.higher_is_better { c >= t } else { c <= t })
    }
}

fn count(v: u64) -> Option<f64> {
    Some(v as f64)
}

fn sla_of(m: &Metrics, metric: switchboard_domain::sla::SlaMetric) -> Option<f64> {
    m.sla.iter().find(|s| s.metric == metric).and_then(|s| s.attainment)
}

/// key, label, value, target, higher is better.
type RowSpec = (&'static str, &'static str, fn(&Metrics) -> Option<f64>, Option<f64>, bool);

/// The summary table of a report, in a fixed order.
pub fn summary(doc: &ReportDoc) -> Vec<SummaryRow> {
    use switchboard_domain::sla::SlaMetric;
    let t = &doc.targets;
    let rows: Vec<RowSpec> = vec![
        ("conversations", "Conversations", |m| count(m.conversations), None, true),
        ("response_rate", "Response rate", |m| m.response_rate, t.response_rate, true),
        ("first_response_mean_secs", "First response, mean (s)", |m| m.first_response.mean_secs, None, false),
        ("first_response_median_secs", "First response, median (s)", |m| m.first_response.median_secs, None, false),
        (
            "first_response_business_mean_secs",
            "First response, mean, business hours (s)",
            |m| m.first_response.business_mean_secs,
            t.first_response_business_secs,
            false,
        ),
        ("response_time_mean_secs", "Response time, mean (s)", |m| m.response_time.mean_secs, None, false),
        (
            "response_time_business_mean_secs",
            "Response time, mean, business hours (s)",
            |m| m.response_time.business_mean_secs,
            None,
            false,
        ),
        ("resolution_rate", "Resolution rate", |m| m.resolution_rate, t.resolution_rate, true),
        ("resolution_mean_secs", "Resolution time, mean (s)", |m| m.resolution_time.mean_secs, None, false),
        (
            "resolution_business_mean_secs",
            "Resolution time, mean, business hours (s)",
            |m| m.resolution_time.business_mean_secs,
            t.resolution_business_secs,
            false,
        ),
        ("fcr_rate", "First-contact resolution", |m| m.fcr_rate, t.fcr_rate, true),
        ("repeat_contact_rate", "Repeat-contact rate", |m| m.repeat_contact_rate, t.repeat_contact_rate, false),
        ("escalation_ratio", "Escalation ratio", |m| m.escalation_ratio, t.escalation_ratio, false),
        (
            "sla_first_response",
            "SLA attainment, first response",
            |m| sla_of(m, SlaMetric::FirstResponse),
            t.sla_attainment,
            true,
        ),
        (
            "sla_next_response",
            "SLA attainment, next response",
            |m| sla_of(m, SlaMetric::NextResponse),
            t.sla_attainment,
            true,
        ),
        ("sla_resolution", "SLA attainment, resolution", |m| sla_of(m, SlaMetric::Resolution), t.sla_attainment, true),
        ("csat_percent", "CSAT (4-5 of all answers)", |m| m.csat.percent, t.csat_percent, true),
        ("csat_average", "CSAT average", |m| m.csat.average, t.csat_average, true),
        ("csat_answers", "CSAT answers", |m| count(m.csat.answers), None, true),
        ("nps", "NPS", |m| m.nps.score, t.nps, true),
        ("nps_answers", "NPS answers", |m| count(m.nps.answers), None, true),
        ("sentiment_negative", "Negative customer messages", |m| count(m.sentiment.negative), None, false),
        ("sentiment_neutral", "Neutral customer messages", |m| count(m.sentiment.neutral), None, true),
        ("sentiment_positive", "Positive customer messages", |m| count(m.sentiment.positive), None, true),
        ("backlog", "Backlog at the end", |m| count(m.backlog), None, false),
        (
            "bot_conversations",
            "Conversations with the bot",
            |m| m.bot.as_ref().map(|b| b.conversations as f64),
            None,
            true,
        ),
        (
            "bot_deflection_rate",
            "Bot deflection rate",
            |m| m.bot.as_ref().and_then(|b| b.deflection_rate),
            t.bot_deflection_rate,
            true,
        ),
        (
            "bot_handoff_rate",
            "Bot handoff rate",
            |m| m.bot.as_ref().and_then(|b| b.handoff_rate),
            t.bot_handoff_rate,
            false,
        ),
        ("bot_helpful_rate", "Bot answers that helped", |m| m.bot.as_ref().and_then(|b| b.helpful_rate), None, true),
    ];
    rows.into_iter()
        .map(|(key, label, f, target, higher_is_better)| SummaryRow {
            key,
            label,
            current: f(&doc.current),
            previous: f(&doc.previous),
            target,
            higher_is_better,
        })
        .collect()
}

fn num(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x:.4}"),
    }
}

fn csv_field(s: &str) -> String {
    // Quote everything; a leading = + - @ is defused for spreadsheets.
    let s =
        if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() { format!("'{s}") } else { s.to_owned() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// CSV: the summary (metric, current, previous, target, meets_target), then the case review.
pub fn to_csv(doc: &ReportDoc) -> String {
    let mut out = String::from("section,metric,current,previous,target,meets_target\n");
    for r in summary(doc) {
        let meets = r.meets_target().map(|b| b.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "summary,{},{},{},{},{}\n",
            r.key,
            num(r.current),
            num(r.previous),
            num(r.target),
            meets
        ));
    }
    for c in &doc.review {
        out.push_str(&format!("review,{},{},,,\n", c.case_number, csv_field(&c.reasons.join(" "))));
    }
    out
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// The report's charts (SVG): volume, first response, SLA attainment, NPS, CSAT and sentiment
/// over the trend.
pub fn charts(doc: &ReportDoc) -> Vec<String> {
    use switchboard_domain::sla::SlaMetric;
    let labels: Vec<String> = doc.trend.iter().map(|(l, _)| l.clone()).collect();
    let col = |f: &dyn Fn(&Metrics) -> f64| doc.trend.iter().map(|(_, m)| f(m)).collect::<Vec<f64>>();
    vec![
        charts::bars(
            "Volume",
            &labels,
            &[
                Series { name: "conversations", values: col(&|m| m.conversations as f64), color: PALETTE[0] },
                Series { name: "resolved", values: col(&|m| m.resolved as f64), color: PALETTE[2] },
            ],
            false,
        ),
        charts::lines(
            "First response, mean minutes",
            &labels,
            &[
                Series {
                    name: "calendar",
                    values: col(&|m| m.first_response.mean_secs.unwrap_or(0.0) / 60.0),
                    color: PALETTE[0],
                },
                Series {
                    name: "business",
                    values: col(&|m| m.first_response.business_mean_secs.unwrap_or(0.0) / 60.0),
                    color: PALETTE[3],
                },
            ],
        ),
        charts::lines(
            "SLA attainment, %",
            &labels,
            &[
                Series {
                    name: "first response",
                    values: col(&|m| 100.0 * sla_of(m, SlaMetric::FirstResponse).unwrap_or(0.0)),
                    color: PALETTE[0],
                },
                Series {
                    name: "next response",
                    values: col(&|m| 100.0 * sla_of(m, SlaMetric::NextResponse).unwrap_or(0.0)),
                    color: PALETTE[3],
                },
                Series {
                    name: "resolution",
                    values: col(&|m| 100.0 * sla_of(m, SlaMetric::Resolution).unwrap_or(0.0)),
                    color: PALETTE[2],
                },
            ],
        ),
        charts::bars(
            "NPS answers",
            &labels,
            &[
                Series { name: "detractors", values: col(&|m| m.nps.detractors as f64), color: PALETTE[1] },
                Series { name: "passives", values: col(&|m| m.nps.passives as f64), color: RGBGray::GRAY },
                Series { name: "promoters", values: col(&|m| m.nps.promoters as f64), color: PALETTE[2] },
            ],
            true,
        ),
        charts::bars(
            "CSAT answers by score",
            &(1..=5).map(|n| n.to_string()).collect::<Vec<_>>(),
            &[Series {
                name: "answers",
                values: doc.current.csat.distribution.iter().map(|&n| n as f64).collect(),
                color: PALETTE[0],
            }],
            false,
        ),
        charts::bars(
            "Sentiment of customer messages",
            &labels,
            &[
                Series { name: "negative", values: col(&|m| m.sentiment.negative as f64), color: PALETTE[1] },
                Series { name: "neutral", values: col(&|m| m.sentiment.neutral as f64), color: RGBGray::GRAY },
                Series { name: "positive", values: col(&|m| m.sentiment.positive as f64), color: PALETTE[2] },
            ],
            true,
        ),
    ]
}

struct RGBGray;
impl RGBGray {
    const GRAY: plotters::style::RGBColor = plotters::style::RGBColor(148, 163, 184);
}

/// A summary row's value as the documents print it: "not available" for bot figures of reports
/// stored before the bot was counted.
pub fn shown(doc: &ReportDoc, r: &SummaryRow, w: &Words, num: fn(Option<f64>) -> String) -> String {
    if r.key.starts_with("bot_") && doc.current.bot.is_none() { w.get("reports-not-available") } else { num(r.current) }
}

/// "<from> to <to> (<zone>); compared with <previous>. Generated <at>." in `w`'s language.
pub fn range_line(doc: &ReportDoc, w: &Words) -> String {
    w.fill(
        "reports-doc-range",
        &[
            ("from", &doc.from.to_rfc3339()),
            ("to", &doc.to.to_rfc3339()),
            ("tz", &doc.time_zone),
            ("previous", &doc.previous_period),
            ("at", &doc.generated_at.to_rfc3339()),
        ],
    )
}

/// A self-contained HTML page (inline SVG charts, no scripts) in `locale`.
pub fn to_html(doc: &ReportDoc, locale: ReportLocale) -> String {
    let w = Words(locale);
    let title = w.fill("reports-doc-title", &[("period", &doc.period)]);
    let mut h = String::new();
    h.push_str(&format!("<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>", locale.tag()));
    h.push_str(&esc(&title));
    h.push_str("</title><style>body{font-family:sans-serif;max-width:960px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.miss{color:#b91c1c}.ok{color:#15803d}</style></head><body>");
    let range = range_line(doc, &w);
    h.push_str(&format!("<h1>{}</h1><p>{}</p>", esc(&title), esc(&range)));
    h.push_str(&format!(
        "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(&w.get("reports-metric")),
        esc(&w.get("reports-current")),
        esc(&w.get("reports-previous")),
        esc(&w.get("reports-target"))
    ));
    for r in summary(doc) {
        let class = match r.meets_target() {
            Some(true) => " class=\"ok\"",
            Some(false) => " class=\"miss\"",
            None => "",
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td{class}>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&w.metric(r.key)),
            esc(&shown(doc, &r, &w, num)),
            esc(&num(r.previous)),
            esc(&num(r.target))
        ));
    }
    h.push_str("</table>");
    for svg in charts(doc) {
        h.push_str("<figure>");
        h.push_str(&svg);
        h.push_str("</figure>");
    }
    h.push_str(&format!(
        "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(&w.get("reports-leaderboard")),
        esc(&w.get("reports-dim-agent")),
        esc(&w.metric("conversations")),
        esc(&w.get("reports-doc-resolved")),
        esc(&w.metric("first_response_mean_secs")),
        esc(&w.metric("csat_percent"))
    ));
    for (id, m) in &doc.by_agent {
        let name = doc.agent_names.get(id).cloned().unwrap_or_else(|| id.clone());
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            m.conversations,
            m.resolved,
            esc(&num(m.first_response.mean_secs)),
            esc(&num(m.csat.percent))
        ));
    }
    h.push_str(&format!(
        "</table><h2>{}</h2><table><tr><th>#</th><th>{}</th></tr>",
        esc(&w.get("reports-review")),
        esc(&w.get("reports-doc-reasons"))
    ));
    for c in &doc.review {
        h.push_str(&format!("<tr><td>SB-{:06}</td><td>{}</td></tr>", c.case_number, esc(&c.reasons.join(", "))));
    }
    h.push_str("</table>");
    if doc.review_more() > 0 {
        h.push_str(&format!("<p>{}</p>", esc(&review_more_line(doc, &w))));
    }
    h.push_str("</body></html>\n");
    h
}

/// "The 100 worst of 8,532 cases are listed …", for a review longer than the list.
pub fn review_more_line(doc: &ReportDoc, w: &Words) -> String {
    w.fill(
        "reports-doc-review-more",
        &[("shown", &doc.review.len().to_string()), ("total", &doc.review_total.to_string())],
    )
}

/// The latest complete period of `kind` before `now` in `tz`.
pub fn last_complete(kind: PeriodKind, now: DateTime<Utc>, tz: Tz) -> Period {
    let today = now.with_timezone(&tz).date_naive();
    Period::containing(kind, today).previous()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_and_write_configuration_units_and_read_stored_seconds() {
        let t: Targets =
            serde_json::from_str(r#"{"first_response_minutes": 30, "resolution_hours": 8, "nps": 10}"#).unwrap();
        assert_eq!((t.first_response_business_secs, t.resolution_business_secs), (Some(1800.0), Some(28_800.0)));
        assert_eq!((t.nps, t.csat_percent), (Some(10.0), Targets::default().csat_percent), "unset keys keep defaults");
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!((v["first_response_minutes"].as_f64(), v["resolution_hours"].as_f64()), (Some(30.0), Some(8.0)));
        assert_eq!(serde_json::from_value::<Targets>(v).unwrap(), t, "a round trip keeps every target");
        // Reports stored before kept the durations in seconds.
        let old: Targets =
            serde_json::from_str(r#"{"first_response_business_secs": 3600.0, "resolution_business_secs": null}"#)
                .unwrap();
        assert_eq!((old.first_response_business_secs, old.resolution_business_secs), (Some(3600.0), None));
        let err = serde_json::from_str::<Targets>(r#"{"csat": 0.9}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `csat`"), "{err}");
        let bad = Targets { first_response_business_secs: Some(0.0), ..Targets::default() };
        assert!(bad.validate().unwrap_err().starts_with("targets.first_response_minutes must be more than 0"));
    }
}
