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

/// What the service promises itself; reports show each metric against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Share of conversations with an agent reply.
    pub response_rate: f64,
    /// Mean first response, business seconds.
    pub first_response_business_secs: f64,
    /// Share resolved.
    pub resolution_rate: f64,
    /// First-contact resolution rate.
    pub fcr_rate: f64,
    /// SLA attainment (every metric).
    pub sla_attainment: f64,
    /// CSAT % (4–5 of all answers).
    pub csat_percent: f64,
    /// NPS.
    pub nps: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            response_rate: 0.95,
            first_response_business_secs: 3600.0,
            resolution_rate: 0.8,
            fcr_rate: 0.7,
            sla_attainment: 0.9,
            csat_percent: 0.85,
            nps: 30.0,
        }
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
    /// Worst cases of the period.
    pub review: Vec<ReviewCase>,
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

/// Builds the report of `period` at `now`.
pub async fn build(
    store: &DynStore,
    period: &Period,
    tz: Tz,
    targets: &Targets,
    now: DateTime<Utc>,
) -> Result<ReportDoc, StoreError> {
    let cals = calendars(store).await?;
    let cur = input(store, period, tz).await?;
    let prev_period = period.previous();
    let prev = input(store, &prev_period, tz).await?;
    let step = match period.kind {
        PeriodKind::Month => PeriodKind::Week,
        _ => PeriodKind::Day,
    };
    let (from, to) = period.bounds(tz);
    let trend = quality::trend(&cur, period, step, tz, &cals, now)
        .into_iter()
        .map(|(p, m)| (if step == PeriodKind::Day { p.start.format("%a %m-%d").to_string() } else { p.label() }, m))
        .collect();
    let agent_names = store.list_users().await?.into_iter().map(|u| (u.id.0.to_string(), u.name)).collect();
    Ok(ReportDoc {
        period: period.label(),
        kind: period.kind,
        previous_period: prev_period.label(),
        time_zone: tz.name().to_owned(),
        from,
        to,
        generated_at: now,
        current: quality::compute(&cur, &cals, now),
        previous: quality::compute(&prev, &cals, now),
        targets: targets.clone(),
        trend,
        by_channel: quality::compute_by(&cur, Dimension::Channel, &cals, now),
        by_team: quality::compute_by(&cur, Dimension::Team, &cals, now),
        by_agent: quality::compute_by(&cur, Dimension::Agent, &cals, now),
        agent_names,
        review: review(&cur, &cals, now),
    })
}

/// The case review: breaches, low CSAT, repeat contacts, negative sentiment; most reasons first.
pub fn review(input: &MetricsInput, cals: &Calendars, now: DateTime<Utc>) -> Vec<ReviewCase> {
    let mut by_case: BTreeMap<i64, ReviewCase> = BTreeMap::new();
    for (measure, reason) in [
        (Measure::SlaBreached, "sla_breached"),
        (Measure::LowCsat, "low_csat"),
        (Measure::RepeatContacts, "repeat_contact"),
        (Measure::Negative, "negative"),
    ] {
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
        ("response_rate", "Response rate", |m| m.response_rate, Some(t.response_rate), true),
        ("first_response_mean_secs", "First response, mean (s)", |m| m.first_response.mean_secs, None, false),
        ("first_response_median_secs", "First response, median (s)", |m| m.first_response.median_secs, None, false),
        (
            "first_response_business_mean_secs",
            "First response, mean, business hours (s)",
            |m| m.first_response.business_mean_secs,
            Some(t.first_response_business_secs),
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
        ("resolution_rate", "Resolution rate", |m| m.resolution_rate, Some(t.resolution_rate), true),
        ("resolution_mean_secs", "Resolution time, mean (s)", |m| m.resolution_time.mean_secs, None, false),
        (
            "resolution_business_mean_secs",
            "Resolution time, mean, business hours (s)",
            |m| m.resolution_time.business_mean_secs,
            None,
            false,
        ),
        ("fcr_rate", "First-contact resolution", |m| m.fcr_rate, Some(t.fcr_rate), true),
        ("repeat_contact_rate", "Repeat-contact rate", |m| m.repeat_contact_rate, None, false),
        ("escalation_ratio", "Escalation ratio", |m| m.escalation_ratio, None, false),
        (
            "sla_first_response",
            "SLA attainment, first response",
            |m| sla_of(m, SlaMetric::FirstResponse),
            Some(t.sla_attainment),
            true,
        ),
        (
            "sla_next_response",
            "SLA attainment, next response",
            |m| sla_of(m, SlaMetric::NextResponse),
            Some(t.sla_attainment),
            true,
        ),
        (
            "sla_resolution",
            "SLA attainment, resolution",
            |m| sla_of(m, SlaMetric::Resolution),
            Some(t.sla_attainment),
            true,
        ),
        ("csat_percent", "CSAT (4-5 of all answers)", |m| m.csat.percent, Some(t.csat_percent), true),
        ("csat_average", "CSAT average", |m| m.csat.average, None, true),
        ("csat_answers", "CSAT answers", |m| count(m.csat.answers), None, true),
        ("nps", "NPS", |m| m.nps.score, Some(t.nps), true),
        ("nps_answers", "NPS answers", |m| count(m.nps.answers), None, true),
        ("sentiment_negative", "Negative customer messages", |m| count(m.sentiment.negative), None, false),
        ("sentiment_neutral", "Neutral customer messages", |m| count(m.sentiment.neutral), None, true),
        ("sentiment_positive", "Positive customer messages", |m| count(m.sentiment.positive), None, true),
        ("backlog", "Backlog at the end", |m| count(m.backlog), None, false),
        ("bot_deflection_rate", "Bot deflection rate", |m| m.bot.as_ref().and_then(|b| b.deflection_rate), None, true),
        ("bot_handoff_rate", "Bot handoff rate", |m| m.bot.as_ref().and_then(|b| b.handoff_rate), None, false),
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

/// The report's charts (SVG): volume, first response, CSAT/NPS and sentiment over the trend.
pub fn charts(doc: &ReportDoc) -> Vec<String> {
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

/// A self-contained HTML page (inline SVG charts, no scripts).
pub fn to_html(doc: &ReportDoc) -> String {
    let mut h = String::new();
    h.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>");
    h.push_str(&esc(&format!("Service quality report {}", doc.period)));
    h.push_str("</title><style>body{font-family:sans-serif;max-width:960px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.miss{color:#b91c1c}.ok{color:#15803d}</style></head><body>");
    h.push_str(&format!(
        "<h1>Service quality report {}</h1><p>{} – {} ({}); compared with {}. Generated {}.</p>",
        esc(&doc.period),
        esc(&doc.from.to_rfc3339()),
        esc(&doc.to.to_rfc3339()),
        esc(&doc.time_zone),
        esc(&doc.previous_period),
        esc(&doc.generated_at.to_rfc3339())
    ));
    h.push_str("<table><tr><th>Metric</th><th>This period</th><th>Previous</th><th>Target</th></tr>");
    for r in summary(doc) {
        let class = match r.meets_target() {
            Some(true) => " class=\"ok\"",
            Some(false) => " class=\"miss\"",
            None => "",
        };
        let cur =
            if r.key.starts_with("bot_") && r.current.is_none() { "not available".to_owned() } else { num(r.current) };
        h.push_str(&format!(
            "<tr><td>{}</td><td{class}>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.label),
            esc(&cur),
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
    h.push_str("<h2>Agents</h2><table><tr><th>Agent</th><th>Conversations</th><th>Resolved</th><th>First response, mean (s)</th><th>CSAT</th></tr>");
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
    h.push_str("</table><h2>Case review</h2><table><tr><th>Case</th><th>Why</th></tr>");
    for c in &doc.review {
        h.push_str(&format!("<tr><td>SB-{:06}</td><td>{}</td></tr>", c.case_number, esc(&c.reasons.join(", "))));
    }
    h.push_str("</table></body></html>\n");
    h
}

/// The latest complete period of `kind` before `now` in `tz`.
pub fn last_complete(kind: PeriodKind, now: DateTime<Utc>, tz: Tz) -> Period {
    let today = now.with_timezone(&tz).date_naive();
    Period::containing(kind, today).previous()
}
