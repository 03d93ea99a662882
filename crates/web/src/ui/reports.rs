//! Quality dashboards (`/reports`, supervisors and admins): the period's metrics against the
//! previous period and the targets, SVG charts drawn on the server, a per-agent leaderboard,
//! slices, the case review, stored weekly/monthly reports with exports, and a drill-down from a
//! number to the conversations behind it. Definitions: docs/metrics.md.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::Role;
use switchboard_domain::quality::{self, Dimension, Measure, Metrics, Period, PeriodKind};
use switchboard_engine::report::{self, ReportDoc};
use switchboard_engine::report_text::ReportLocale;

/// Cases of the review shown on the page (the report document keeps up to
/// `report::REVIEW_LIMIT`).
const REVIEW_SHOWN: usize = 50;

use super::session::UiUser;
use super::{Chrome, page_error, page_error_text, render, store_error};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct ReportQuery {
    period: Option<String>,
    dim: Option<String>,
}

pub(crate) struct Row {
    label: String,
    current: String,
    previous: String,
    target: String,
    class: &'static str,
    drill: Option<String>,
}

pub(crate) struct SliceRow {
    key: String,
    conversations: u64,
    response_rate: String,
    frt: String,
    resolution_rate: String,
    fcr: String,
    csat: String,
    nps: String,
    drill: String,
}

pub(crate) struct Stored {
    period: String,
    kind: String,
    generated: String,
}

pub(crate) struct Review {
    case: String,
    reasons: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    c: Chrome,
    period: String,
    previous: String,
    next: String,
    dim: String,
    dims: Vec<(&'static str, String, bool)>,
    rows: Vec<Row>,
    charts: Vec<String>,
    leaderboard: Vec<SliceRow>,
    slices: Vec<SliceRow>,
    review: Vec<Review>,
    /// "The 50 worst of N cases are listed …" when the review is longer than the list.
    review_more: String,
    stored: Vec<Stored>,
}

fn fmt(v: Option<f64>, key: &str) -> String {
    let Some(x) = v else { return "–".into() };
    if key.ends_with("_rate") || key.starts_with("sla_") || key == "csat_percent" || key == "escalation_ratio" {
        format!("{:.1} %", x * 100.0)
    } else if key.ends_with("_secs") {
        if x >= 3600.0 { format!("{:.1} h", x / 3600.0) } else { format!("{:.1} min", x / 60.0) }
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn drill_measure(key: &str) -> Option<Measure> {
    Some(match key {
        "conversations" => Measure::Conversations,
        "response_rate" => Measure::Unanswered,
        "resolution_rate" => Measure::Resolved,
        "fcr_rate" => Measure::Fcr,
        "repeat_contact_rate" => Measure::RepeatContacts,
        "escalation_ratio" => Measure::Escalated,
        "sla_first_response" | "sla_next_response" | "sla_resolution" => Measure::SlaBreached,
        "csat_percent" | "csat_answers" => Measure::LowCsat,
        "nps" | "nps_answers" => Measure::Detractors,
        "sentiment_negative" => Measure::Negative,
        "backlog" => Measure::Backlog,
        "bot_conversations" | "bot_deflection_rate" => Measure::BotDeflected,
        "bot_handoff_rate" => Measure::BotHandedOff,
        _ => return None,
    })
}

fn slice_row(key: String, m: &Metrics, period: &str, dim: &str) -> SliceRow {
    SliceRow {
        drill: format!(
            "/reports/drill?period={period}&measure=conversations&dim={dim}&key={}",
            super::session::urlencode(&key)
        ),
        key,
        conversations: m.conversations,
        response_rate: fmt(m.response_rate, "response_rate"),
        frt: fmt(m.first_response.mean_secs, "frt_secs"),
        resolution_rate: fmt(m.resolution_rate, "resolution_rate"),
        fcr: fmt(m.fcr_rate, "fcr_rate"),
        csat: fmt(m.csat.percent, "csat_percent"),
        nps: fmt(m.nps.score, "nps"),
    }
}

fn parse_period(me: &UiUser, tz: chrono_tz::Tz, p: Option<&str>) -> Result<Period, Response> {
    match p.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Period::containing(PeriodKind::Week, Utc::now().with_timezone(&tz).date_naive())),
        Some(s) => Period::parse(s).map_err(|e| page_error_text(&me.tr, StatusCode::BAD_REQUEST, e.to_string())),
    }
}

fn parse_dim(me: &UiUser, d: Option<&str>) -> Result<Dimension, Response> {
    Dimension::parse(d.unwrap_or("channel"))
        .map_err(|e| page_error_text(&me.tr, StatusCode::BAD_REQUEST, e.to_string()))
}

/// One survey in the contact panel of the conversation view.
pub(crate) struct SurveyView {
    pub(crate) case: String,
    pub(crate) kind: String,
    pub(crate) score: String,
    pub(crate) comment: String,
    pub(crate) sentiment: String,
    pub(crate) date: String,
}

/// A contact's survey history, newest first (empty when it cannot be read: the panel is extra).
pub(crate) async fn satisfaction(
    st: &AppState,
    tr: &super::i18n::Tr,
    contact: switchboard_domain::ContactId,
) -> Vec<SurveyView> {
    let list = match st.engine.store().contact_surveys(contact, 20).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the contact's surveys");
            return Vec::new();
        }
    };
    list.into_iter()
        .map(|s| SurveyView {
            case: switchboard_domain::CaseNumber(s.case_number).to_string(),
            kind: tr.t(&format!("survey-kind-{}", s.kind.as_str())),
            score: match s.score {
                Some(n) => format!("{n}/{}", s.kind.range().1),
                None => tr.t("survey-waiting"),
            },
            comment: s.comment.unwrap_or_default(),
            sentiment: s.comment_sentiment.unwrap_or_default(),
            date: s.answered_at.or(s.sent_at).map(|t| tr.datetime(&t)).unwrap_or_default(),
        })
        .collect()
}

/// The routes of this module.
pub(crate) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/reports", get(page))
        .route("/reports/drill", get(drill))
        .route("/reports/export/{period}/{format}", get(export))
}

/// `GET /reports`.
pub(crate) async fn page(State(st): State<AppState>, me: UiUser, Query(q): Query<ReportQuery>) -> Response {
    if let Err(r) = me.require(Role::Supervisor) {
        return r;
    }
    let qc = &st.engine.config().quality;
    let tz = qc.time_zone;
    let period = match parse_period(&me, tz, q.period.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let dim = match parse_dim(&me, q.dim.as_deref()) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let store = st.engine.store();
    let now = Utc::now();
    let doc = match report::build(store, &period, tz, &qc.targets, now).await {
        Ok(d) => d,
        Err(e) => return store_error(&me.tr, e),
    };
    let slices = match slices(&st, &period, dim).await {
        Ok(s) => s,
        Err(e) => return store_error(&me.tr, e),
    };
    let stored = match store.list_reports().await {
        Ok(l) => l,
        Err(e) => return store_error(&me.tr, e),
    };
    let label = period.label();
    let rows = report::summary(&doc)
        .into_iter()
        .map(|r| Row {
            label: me.tr.t(&format!("reports-m-{}", r.key.replace('_', "-"))),
            current: if r.key.starts_with("bot_") && doc.current.bot.is_none() {
                me.tr.t("reports-not-available")
            } else {
                fmt(r.current, r.key)
            },
            previous: fmt(r.previous, r.key),
            target: r.target.map(|t| fmt(Some(t), r.key)).unwrap_or_default(),
            class: match r.meets_target() {
                Some(true) => "ok",
                Some(false) => "miss",
                None => "",
            },
            drill: drill_measure(r.key).map(|m| format!("/reports/drill?period={label}&measure={}", m.as_str())),
        })
        .collect();
    let leaderboard = {
        let mut v: Vec<(String, &Metrics)> = doc
            .by_agent
            .iter()
            .filter(|(k, _)| k.as_str() != quality::NONE_KEY)
            .map(|(k, m)| (doc.agent_names.get(k).cloned().unwrap_or_else(|| k.clone()), m))
            .collect();
        v.sort_by(|a, b| b.1.resolved.cmp(&a.1.resolved).then(a.0.cmp(&b.0)));
        let ids: std::collections::HashMap<String, String> =
            doc.agent_names.iter().map(|(id, name)| (name.clone(), id.clone())).collect();
        v.into_iter()
            .map(|(name, m)| {
                let mut row = slice_row(name.clone(), m, &label, "agent");
                if let Some(id) = ids.get(&name) {
                    row.drill = format!("/reports/drill?period={label}&measure=conversations&dim=agent&key={id}");
                }
                row
            })
            .collect()
    };
    let page = ReportsPage {
        c: me.chrome("reports"),
        previous: period.previous().label(),
        next: period.next().label(),
        dim: dim.as_str().to_owned(),
        dims: Dimension::ALL
            .iter()
            .map(|d| (d.as_str(), me.tr.t(&format!("reports-dim-{}", d.as_str())), *d == dim))
            .collect(),
        rows,
        charts: report::charts(&doc),
        leaderboard,
        slices: slices.into_iter().map(|(k, m)| slice_row(k, &m, &label, dim.as_str())).collect(),
        review_more: {
            let shown = doc.review.len().min(REVIEW_SHOWN);
            if doc.review_total > shown as u64 {
                me.tr.targs(
                    "reports-doc-review-more",
                    &[("shown", &shown.to_string()), ("total", &doc.review_total.to_string())],
                )
            } else {
                String::new()
            }
        },
        review: doc
            .review
            .iter()
            .take(REVIEW_SHOWN)
            .map(|r| Review {
                case: switchboard_domain::CaseNumber(r.case_number).to_string(),
                reasons: r.reasons.join(", "),
            })
            .collect(),
        stored: stored
            .into_iter()
            .filter(|r| r.state == "done")
            .map(|r| Stored {
                period: r.period,
                kind: r.kind,
                generated: r.generated_at.map(|t| me.tr.datetime(&t)).unwrap_or_default(),
            })
            .collect(),
        period: label,
    };
    render(&page)
}

async fn slices(
    st: &AppState,
    period: &Period,
    dim: Dimension,
) -> Result<Vec<(String, Metrics)>, switchboard_store::StoreError> {
    let qc = &st.engine.config().quality;
    let by =
        switchboard_engine::rollup::slice_metrics(st.engine.store(), period, qc.time_zone, dim, Utc::now()).await?;
    Ok(by.into_iter().collect())
}

#[derive(Debug, Deserialize)]
pub(crate) struct LangQuery {
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DrillQuery {
    period: Option<String>,
    measure: String,
    dim: Option<String>,
    key: Option<String>,
}

pub(crate) struct DrillRow {
    case: String,
    href: String,
}

#[derive(Template)]
#[template(path = "reports_drill.html")]
struct DrillPage {
    c: Chrome,
    period: String,
    measure: String,
    slice: String,
    count: String,
    rows: Vec<DrillRow>,
}

/// `GET /reports/drill`: the conversations behind a number.
pub(crate) async fn drill(State(st): State<AppState>, me: UiUser, Query(q): Query<DrillQuery>) -> Response {
    if let Err(r) = me.require(Role::Supervisor) {
        return r;
    }
    let qc = &st.engine.config().quality;
    let period = match parse_period(&me, qc.time_zone, q.period.as_deref()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let measure = match Measure::parse(&q.measure) {
        Ok(m) => m,
        Err(e) => return page_error_text(&me.tr, StatusCode::BAD_REQUEST, e.to_string()),
    };
    let store = st.engine.store();
    let cals = match report::calendars(store).await {
        Ok(c) => c,
        Err(e) => return store_error(&me.tr, e),
    };
    let mut input = match report::input(store, &period, qc.time_zone).await {
        Ok(i) => i,
        Err(e) => return store_error(&me.tr, e),
    };
    let mut slice = String::new();
    if let (Some(d), Some(k)) = (q.dim.as_deref(), q.key.as_deref()) {
        let dim = match parse_dim(&me, Some(d)) {
            Ok(d) => d,
            Err(r) => return r,
        };
        input = input.slice(dim, k);
        slice = format!("{} = {k}", me.tr.t(&format!("reports-dim-{}", dim.as_str())));
    }
    let rows: Vec<DrillRow> = quality::drill(&input, measure, &cals, Utc::now())
        .into_iter()
        .filter(|(_, case)| *case > 0)
        .map(|(_, case)| {
            let case = switchboard_domain::CaseNumber(case).to_string();
            DrillRow { href: format!("/c/{case}"), case }
        })
        .collect();
    let count = me.tr.tn("reports-drill-count", "count", rows.len() as i64);
    render(&DrillPage {
        c: me.chrome("reports"),
        period: period.label(),
        measure: me.tr.t(&format!("reports-measure-{}", measure.as_str().replace('_', "-"))),
        slice,
        count,
        rows,
    })
}

/// `GET /reports/export/{period}/{format}`: the stored report (or, for a period without one, the
/// report computed now) as `html`, `csv`, `json` or `pdf`.
pub(crate) async fn export(
    State(st): State<AppState>,
    me: UiUser,
    Path((p, format)): Path<(String, String)>,
    Query(lang): Query<LangQuery>,
) -> Response {
    if let Err(r) = me.require(Role::Supervisor) {
        return r;
    }
    let period = match Period::parse(&p) {
        Ok(p) => p,
        Err(e) => return page_error_text(&me.tr, StatusCode::BAD_REQUEST, e.to_string()),
    };
    if !matches!(format.as_str(), "html" | "csv" | "json" | "pdf") {
        return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found");
    }
    let store = st.engine.store();
    let qc = &st.engine.config().quality;
    let stored: Option<ReportDoc> = match store.get_report(&period.label()).await {
        Ok(r) => r.and_then(|r| r.document).and_then(|d| serde_json::from_value(d).ok()),
        Err(e) => return store_error(&me.tr, e),
    };
    let doc = match stored {
        Some(d) => d,
        None => match report::build(store, &period, qc.time_zone, &qc.targets, Utc::now()).await {
            Ok(d) => d,
            Err(e) => return store_error(&me.tr, e),
        },
    };
    // Exports speak the reader's language; `?lang=en|zh-CN` picks another.
    let locale = lang
        .lang
        .as_deref()
        .and_then(ReportLocale::parse)
        .or_else(|| ReportLocale::parse(me.tr.locale.tag()))
        .unwrap_or_default();
    let (body, ctype): (Vec<u8>, &str) = match format.as_str() {
        "csv" => (report::to_csv(&doc).into_bytes(), "text/csv; charset=utf-8"),
        "json" => (serde_json::to_vec_pretty(&doc).unwrap_or_default(), "application/json"),
        "pdf" => (qc.pdf(&doc, locale), "application/pdf"),
        _ => (report::to_html(&doc, locale).into_bytes(), "text/html; charset=utf-8"),
    };
    let name = format!("attachment; filename=\"switchboard-{}.{format}\"", period.label());
    (
        [
            (header::CONTENT_TYPE, ctype.to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'".to_owned()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::{Catalogue, Locale};

    /// The keys this module builds at run time exist in both catalogues.
    #[test]
    fn built_keys_exist_in_both_languages() {
        let cat = Catalogue::load().unwrap_or_else(|e| panic!("{e}"));
        let doc = ReportDoc {
            period: "2026-W47".into(),
            kind: PeriodKind::Week,
            previous_period: "2026-W46".into(),
            time_zone: "UTC".into(),
            from: Utc::now(),
            to: Utc::now(),
            generated_at: Utc::now(),
            current: Metrics::default(),
            previous: Metrics::default(),
            targets: report::Targets::default(),
            trend: vec![],
            by_channel: Default::default(),
            by_team: Default::default(),
            by_agent: Default::default(),
            agent_names: Default::default(),
            review: vec![],
            review_total: 0,
        };
        let mut keys: Vec<String> =
            report::summary(&doc).iter().map(|r| format!("reports-m-{}", r.key.replace('_', "-"))).collect();
        keys.extend(Dimension::ALL.iter().map(|d| format!("reports-dim-{}", d.as_str())));
        keys.extend(Measure::ALL.iter().map(|m| format!("reports-measure-{}", m.as_str().replace('_', "-"))));
        keys.extend(
            [
                "survey-kind-csat",
                "survey-kind-nps",
                "survey-question-csat",
                "survey-question-nps",
                "reports-doc-review-more",
            ]
            .map(String::from),
        );
        for locale in Locale::ALL {
            for k in &keys {
                assert!(cat.has(locale, k), "{k} missing in {}", locale.tag());
            }
        }
    }
}
