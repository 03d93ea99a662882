//! `switchboard report` (a period's quality report as HTML, CSV or JSON), the `[quality]` config
//! section, and `switchboard bench metrics`.

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use chrono_tz::Tz;
use clap::Args;
use serde::{Deserialize, Serialize};
use switchboard_domain::quality::{self, Period};
use switchboard_domain::sla::{SlaClock, SlaMetric, SlaTarget, TimeBasis, TrackedClock};
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, Priority, Status, UserId};
use switchboard_engine::report;
use switchboard_store::quality::{HistoryConversation, HistoryMessage};

use crate::config::Config;
use crate::serve;

/// `[quality]`: surveys, metrics and reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySection {
    /// The brand's IANA time zone: report periods start at its midnights.
    pub time_zone: String,
    /// Run the survey job on this node.
    pub surveys: bool,
    /// Run the scheduled-report job on this node.
    pub reports: bool,
    /// Mail reports through this server: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`; unset: reports stay in the UI only.
    pub smtp_url: Option<String>,
    /// Sender of report mails.
    pub report_from: String,
    /// Recipients of report mails.
    pub report_to: Vec<String>,
    /// This server's public base URL; survey questions then carry a signed web-survey link.
    pub public_url: Option<String>,
}

impl Default for QualitySection {
    fn default() -> Self {
        Self {
            time_zone: "UTC".into(),
            surveys: true,
            reports: true,
            smtp_url: None,
            report_from: "switchboard@localhost".into(),
            report_to: Vec::new(),
            public_url: None,
        }
    }
}

impl QualitySection {
    fn tz(&self) -> anyhow::Result<Tz> {
        self.time_zone.parse::<Tz>().map_err(|_| {
            anyhow::anyhow!(
                "invalid configuration: quality.time_zone {:?} is not an IANA time zone (e.g. Europe/Berlin)",
                self.time_zone
            )
        })
    }

    /// Checks the section; the message names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.tz()?;
        if let Some(u) = &self.public_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            bail!("invalid configuration: quality.public_url {u:?} must start with https:// or http://");
        }
        if let Some(smtp) = self.smtp() {
            switchboard_engine::mail::validate(&smtp).map_err(|e| {
                anyhow::anyhow!("invalid configuration: quality.smtp_url / report_from / report_to: {e}")
            })?;
        }
        Ok(())
    }

    fn smtp(&self) -> Option<switchboard_engine::mail::SmtpConfig> {
        self.smtp_url.as_ref().filter(|u| !u.trim().is_empty()).map(|url| switchboard_engine::mail::SmtpConfig {
            url: url.clone(),
            from: self.report_from.clone(),
            to: self.report_to.clone(),
        })
    }

    /// The engine's settings.
    pub fn engine(&self) -> switchboard_engine::report_job::QualityConfig {
        let mut q = switchboard_engine::report_job::QualityConfig {
            time_zone: self.tz().unwrap_or(chrono_tz::UTC),
            reports: self.reports,
            smtp: self.smtp(),
            ..Default::default()
        };
        q.surveys.enabled = self.surveys;
        q.surveys.public_url = self.public_url.clone().filter(|u| !u.trim().is_empty());
        q
    }
}

/// Options of `switchboard report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// `2026-W47` (ISO week), `2026-11` (month) or `2026-11-23` (day), in `quality.time_zone`.
    #[arg(long)]
    pub period: String,
    /// `html`, `csv`, `json` or `pdf` (binary, to stdout).
    #[arg(long, default_value = "html")]
    pub format: String,
}

/// Prints a period's report, computed now from the database.
pub async fn run(cfg: &Config, args: ReportArgs) -> anyhow::Result<()> {
    let period = Period::parse(&args.period).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    if !matches!(args.format.as_str(), "html" | "csv" | "json" | "pdf") {
        bail!("--format must be html, csv, json or pdf (got {:?})", args.format);
    }
    let q = cfg.quality.engine();
    let store = serve::open_store(cfg).await?;
    let doc = report::build(&store, &period, q.time_zone, &q.targets, Utc::now()).await;
    store.close().await;
    let doc = doc.context("computing the report")?;
    if args.format == "pdf" {
        use std::io::Write;
        std::io::stdout().write_all(&switchboard_engine::pdf::to_pdf(&doc))?;
        return Ok(());
    }
    let out = match args.format.as_str() {
        "csv" => report::to_csv(&doc),
        "json" => serde_json::to_string_pretty(&doc)? + "\n",
        _ => report::to_html(&doc),
    };
    print!("{out}");
    Ok(())
}

/// Options of `bench metrics`.
#[derive(Debug, Args)]
pub struct BenchMetricsArgs {
    /// Conversations generated (spread over one month).
    #[arg(long, default_value_t = 100_000)]
    pub conversations: usize,
    /// Timed repetitions (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

fn generated(i: usize, month_start: chrono::DateTime<Utc>, agents: &[UserId]) -> HistoryConversation {
    // A fixed pseudo-random walk so every run builds the same history.
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let created = month_start + Duration::seconds((h % (29 * 86_400)) as i64);
    let reply = created + Duration::seconds(((h >> 20) % 7200) as i64 + 30);
    let resolved = (h >> 33) % 10 < 8;
    let agent = agents[(h >> 40) as usize % agents.len()];
    let langs = ["en", "zh", "de", "es"];
    let sentiments = ["negative", "neutral", "positive"];
    let mut messages = vec![
        HistoryMessage {
            direction: Direction::Inbound,
            author_id: None,
            text: "where is my order".into(),
            at: created,
            triage: Some((
                langs[(h >> 8) as usize % 4].into(),
                "delivery".into(),
                sentiments[(h >> 12) as usize % 3].into(),
            )),
        },
        HistoryMessage {
            direction: Direction::Outbound,
            author_id: Some(agent),
            text: "on its way".into(),
            at: reply,
            triage: None,
        },
    ];
    if (h >> 16).is_multiple_of(2) {
        messages.push(HistoryMessage {
            direction: Direction::Inbound,
            author_id: None,
            text: "thanks".into(),
            at: reply + Duration::minutes(5),
            triage: None,
        });
    }
    let mut clock =
        SlaClock::start(SlaMetric::FirstResponse, SlaTarget { minutes: 60, basis: TimeBasis::Calendar }, created);
    clock.stop(&switchboard_domain::calendar::BusinessCalendar::around_the_clock(), reply);
    let end = reply + Duration::minutes(30);
    HistoryConversation {
        id: ConversationId::new(),
        case_number: i as i64 + 1,
        channel: ["wa", "tg", "x"][(h >> 24) as usize % 3].into(),
        contact_id: ContactId(uuid::Uuid::from_u128(0xC000_0000 + (h % 60_000) as u128)),
        status: if resolved { Status::Resolved } else { Status::Open },
        priority: Priority::Normal,
        team: Some(["billing", "support"][(h >> 28) as usize % 2].into()),
        assignee_id: Some(agent),
        created_at: created,
        resolved_at: resolved.then_some(end),
        reopen_count: 0,
        repeat_of: None,
        messages,
        escalations: Vec::new(),
        clocks: vec![TrackedClock { cycle: 0, clock }],
        answers: if resolved && (h >> 36).is_multiple_of(3) {
            vec![(SurveyKind::Csat, ((h >> 44) % 5) as i32 + 1, end + Duration::hours(1))]
        } else {
            Vec::new()
        },
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Generates a month of conversations on a scratch SQLite database, then times the month's
/// metrics (read + compute) against `COUNT(*)` of the same conversations.
pub async fn bench(args: BenchMetricsArgs) -> anyhow::Result<()> {
    if args.conversations == 0 || args.runs == 0 {
        bail!("--conversations and --runs must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.db");
    let store = switchboard_store::open(
        path.to_str().context("temp path")?,
        &switchboard_store::StoreOptions { sqlite_synchronous_full: false, ..Default::default() },
    )
    .await?;
    let period = Period::parse("2026-11")?;
    let (from, to) = period.bounds(chrono_tz::UTC);
    let agents: Vec<UserId> = (0..20).map(|_| UserId(uuid::Uuid::now_v7())).collect();
    let t0 = Instant::now();
    let mut batch = Vec::with_capacity(2000);
    for i in 0..args.conversations {
        batch.push(generated(i, from, &agents));
        if batch.len() == 2000 {
            store.import_history(std::mem::take(&mut batch)).await?;
        }
    }
    store.import_history(batch).await?;
    eprintln!("generated {} conversations in {:.1} s", args.conversations, t0.elapsed().as_secs_f64());
    let cals = report::calendars(&store).await?;
    let (mut metrics_t, mut count_t) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..args.runs {
        let t = Instant::now();
        let n = store.count_conversations(from, to).await?;
        count_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let input = store.metrics_input(from, to).await?;
        let m = quality::compute(&input, &cals, Utc::now());
        metrics_t.push(t.elapsed().as_secs_f64());
        if m.conversations != n as u64 {
            bail!("metrics counted {} conversations, COUNT(*) {n}", m.conversations);
        }
        last = Some(m);
    }
    store.close().await;
    let (m, c) = (median(metrics_t), median(count_t));
    let last = last.context("no run")?;
    println!(
        "bench metrics (SQLite, {} conversations, month {}): metrics {:.3} s, count(*) {:.4} s, ratio {:.0}x; \
         CSAT {:.3}, response rate {:.3}",
        args.conversations,
        period.label(),
        m,
        c,
        m / c.max(1e-9),
        last.csat.percent.unwrap_or(0.0),
        last.response_rate.unwrap_or(0.0),
    );
    Ok(())
}
