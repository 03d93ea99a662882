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
use switchboard_engine::report_text::ReportLocale;
use switchboard_store::kb::BotOutcomeKind;
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
    /// `[quality.targets]`: shown next to each metric on the dashboards and in reports (rates
    /// are shares, 0.85 = 85 %; `first_response_minutes` and `resolution_hours` business time).
    pub targets: report::Targets,
    /// Keep daily rollups (a job on this node) so long periods read a few rows per day.
    pub rollups: bool,
    /// Language of scheduled reports (mail, HTML, PDF): `en` or `zh-CN`.
    pub report_locale: String,
    /// A TrueType font file (`.ttf` or `.ttc`) to embed in PDF reports instead of the built-in
    /// subset (Latin-1 and the 3,755 common Chinese characters), for full coverage.
    pub pdf_font: Option<std::path::PathBuf>,
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
            targets: report::Targets::default(),
            rollups: true,
            report_locale: "en".into(),
            pdf_font: None,
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
        self.targets.validate().map_err(|e| anyhow::anyhow!("invalid configuration: quality.{e}"))?;
        if ReportLocale::parse(&self.report_locale).is_none() {
            bail!("invalid configuration: quality.report_locale {:?} must be en or zh-CN", self.report_locale);
        }
        self.pdf_font()?;
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

    /// The configured PDF font, read and checked.
    fn pdf_font(&self) -> anyhow::Result<Option<std::sync::Arc<[u8]>>> {
        let Some(p) = &self.pdf_font else { return Ok(None) };
        let bytes = std::fs::read(p)
            .map_err(|e| anyhow::anyhow!("invalid configuration: quality.pdf_font {}: {e}", p.display()))?;
        switchboard_engine::pdf_font::Font::parse(&bytes)
            .map_err(|e| anyhow::anyhow!("invalid configuration: quality.pdf_font {}: {e}", p.display()))?;
        Ok(Some(bytes.into()))
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
            targets: if self.targets.validate().is_ok() { self.targets.clone() } else { report::Targets::default() },
            rollups: self.rollups,
            report_locale: ReportLocale::parse(&self.report_locale).unwrap_or_default(),
            pdf_font: self.pdf_font().ok().flatten(),
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
    /// Language of HTML and PDF: `en` or `zh-CN` (default: `quality.report_locale`).
    #[arg(long)]
    pub lang: Option<String>,
}

/// Prints a period's report, computed now from the database.
pub async fn run(cfg: &Config, args: ReportArgs) -> anyhow::Result<()> {
    let period = Period::parse(&args.period).map_err(|e| anyhow::anyhow!("--period: {e}"))?;
    if !matches!(args.format.as_str(), "html" | "csv" | "json" | "pdf") {
        bail!("--format must be html, csv, json or pdf (got {:?})", args.format);
    }
    let q = cfg.quality.engine();
    let locale = match args.lang.as_deref() {
        None => q.report_locale,
        Some(l) => ReportLocale::parse(l).with_context(|| format!("--lang must be en or zh-CN (got {l:?})"))?,
    };
    let store = serve::open_store(cfg).await?;
    let doc = report::build(&store, &period, q.time_zone, &q.targets, Utc::now()).await;
    store.close().await;
    let doc = doc.context("computing the report")?;
    if args.format == "pdf" {
        use std::io::Write;
        std::io::stdout().write_all(&q.pdf(&doc, locale))?;
        return Ok(());
    }
    let out = match args.format.as_str() {
        "csv" => report::to_csv(&doc),
        "json" => serde_json::to_string_pretty(&doc)? + "\n",
        _ => report::to_html(&doc, locale),
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
        bot_outcomes: match (h >> 50) % 10 {
            0 | 1 => vec![(BotOutcomeKind::Answered, created), (BotOutcomeKind::HandedOff, created)],
            2 => vec![(BotOutcomeKind::HandedOff, created)],
            _ => Vec::new(),
        },
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Generates a month of conversations on a scratch SQLite database, then times the month's
/// metrics (read + compute) against `COUNT(*)` of the same conversations, and the month's and a
/// week's full report computed from the raw rows against the same report from daily rollups.
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
    // A month that is over, so every day of it can come from a rollup.
    let period = Period::parse("2026-10")?;
    let week = Period::parse("2026-W42")?;
    let tz = chrono_tz::UTC;
    let (from, to) = period.bounds(tz);
    let agents: Vec<UserId> = (0..20).map(|_| UserId(uuid::Uuid::now_v7())).collect();
    let t0 = Instant::now();
    let mut batch = Vec::with_capacity(2000);
    let mut messages = 0;
    for i in 0..args.conversations {
        let c = generated(i, from, &agents);
        messages += c.messages.len();
        batch.push(c);
        if batch.len() == 2000 {
            store.import_history(std::mem::take(&mut batch)).await?;
        }
    }
    store.import_history(batch).await?;
    store.finish_import().await?;
    eprintln!(
        "generated {} conversations ({messages} messages) in {:.1} s",
        args.conversations,
        t0.elapsed().as_secs_f64()
    );
    let cals = report::calendars(&store).await?;
    let targets = report::Targets::default();
    let now = Utc::now();
    let (mut metrics_t, mut count_t, mut raw_month, mut raw_week) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..args.runs {
        let t = Instant::now();
        let n = store.count_conversations(from, to).await?;
        count_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let input = store.metrics_input(from, to).await?;
        let m = quality::compute(&input, &cals, now);
        metrics_t.push(t.elapsed().as_secs_f64());
        if m.conversations != n as u64 {
            bail!("metrics counted {} conversations, COUNT(*) {n}", m.conversations);
        }
        last = Some(m);
        let t = Instant::now();
        report::build(&store, &period, tz, &targets, now).await?;
        raw_month.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        report::build(&store, &week, tz, &targets, now).await?;
        raw_week.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let days = switchboard_engine::rollup::backfill(&store, tz, now).await?;
    let build_t = t.elapsed().as_secs_f64();
    let (mut rolled_month, mut rolled_week) = (Vec::new(), Vec::new());
    let mut doc = None;
    for _ in 0..args.runs {
        let t = Instant::now();
        doc = Some(report::build(&store, &period, tz, &targets, now).await?);
        rolled_month.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        report::build(&store, &week, tz, &targets, now).await?;
        rolled_week.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    switchboard_engine::rollup::refresh(&store, tz, now).await?;
    let round_t = t.elapsed().as_secs_f64();
    store.close().await;
    let (m, c) = (median(metrics_t), median(count_t));
    let last = last.context("no run")?;
    let doc = doc.context("no run")?;
    if doc.current.conversations != last.conversations || doc.current.csat != last.csat {
        bail!("the report from rollups disagrees with the raw metrics");
    }
    println!(
        "bench metrics (SQLite, {} conversations, {messages} messages, month {}): metrics {:.3} s, count(*) {:.4} s, \
         ratio {:.0}x; CSAT {:.3}, response rate {:.3}",
        args.conversations,
        period.label(),
        m,
        c,
        m / c.max(1e-9),
        last.csat.percent.unwrap_or(0.0),
        last.response_rate.unwrap_or(0.0),
    );
    let (rm, rw, om, ow) = (median(raw_month), median(raw_week), median(rolled_month), median(rolled_week));
    println!(
        "full report, month {}: raw {rm:.3} s, from rollups {om:.3} s ({:.1}x faster); week {}: raw {rw:.3} s, \
         from rollups {ow:.3} s ({:.1}x faster); rollups of {days} days built in {build_t:.2} s, a later round {round_t:.2} s",
        period.label(),
        rm / om.max(1e-9),
        week.label(),
        rw / ow.max(1e-9),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(toml: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("switchboard.toml");
        std::fs::write(&p, toml)?;
        Config::load(Some(&p))
    }

    #[test]
    fn targets_come_from_the_file_in_minutes_hours_and_shares() -> anyhow::Result<()> {
        let c = load_str(
            "[quality.targets]\nfirst_response_minutes = 30\nresolution_hours = 8\ncsat_percent = 0.9\nnps = -10\nbot_deflection_rate = 0.4\n",
        )?;
        let t = c.quality.engine().targets;
        assert_eq!(t.first_response_business_secs, Some(1800.0));
        assert_eq!(t.resolution_business_secs, Some(28_800.0));
        assert_eq!((t.csat_percent, t.nps, t.bot_deflection_rate), (Some(0.9), Some(-10.0), Some(0.4)));
        assert_eq!(t.response_rate, report::Targets::default().response_rate, "unset keys keep the defaults");
        Ok(())
    }

    #[test]
    fn bad_targets_name_the_key_and_the_range() {
        for (toml, needle) in [
            ("[quality.targets]\ncsat_percent = 85", "quality.targets.csat_percent must be a share between 0 and 1"),
            ("[quality.targets]\nresponse_rate = -0.1", "quality.targets.response_rate"),
            ("[quality.targets]\nnps = 130", "quality.targets.nps must be between -100 and 100"),
            ("[quality.targets]\ncsat_average = 0.5", "quality.targets.csat_average must be between 1 and 5"),
            (
                "[quality.targets]\nfirst_response_minutes = 0",
                "quality.targets.first_response_minutes must be more than 0",
            ),
            ("[quality.targets]\nresolution_hours = 100000", "quality.targets.resolution_hours"),
            ("[quality.targets]\ncsat = 0.9", "csat"),
            ("[quality.targets]\nnps = \"high\"", "nps"),
        ] {
            let err = load_str(toml).expect_err(toml).to_string();
            assert!(err.contains(needle), "{toml:?} -> {err}");
        }
    }
}
