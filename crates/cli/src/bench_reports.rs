//! `switchboard bench reports` (weekly and monthly reports from daily rollups over a large
//! generated history) and `switchboard bench rollup-ingest` (ingest throughput with the rollup job
//! running vs not, in the same run). See docs/metrics.md, "Scale".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Duration as Span, Utc};
use chrono_tz::Tz;
use clap::Args;
use switchboard_domain::calendar::{BusinessCalendar, CalendarSpec, DayHours, OpenInterval};
use switchboard_domain::quality::PeriodKind;
use switchboard_domain::routing::AssignmentPolicy;
use switchboard_domain::sla::{SlaClock, SlaMetric, SlaTarget, TimeBasis, TrackedClock};
use switchboard_domain::survey::SurveyKind;
use switchboard_domain::{ContactId, ConversationId, Direction, Priority, Role, Status, UserId};
use switchboard_engine::{report, rollup};
use switchboard_store::kb::{BOT_USER, BotOutcomeKind};
use switchboard_store::quality::{HistoryConversation, HistoryMessage};
use switchboard_store::routing::TeamInput;
use switchboard_store::{DynStore, NewUser, StoreOptions};
use tokio_util::sync::CancellationToken;

use crate::bench::{Load, RunResult, run_load};
use crate::config::Config;

/// The brand's zone of the generated desk: periods start at Berlin midnights.
const TZ: Tz = chrono_tz::Europe::Berlin;

/// Options of `bench reports`.
#[derive(Debug, Args)]
pub struct ReportsArgs {
    /// Messages to generate (customer, agent, bot and notes), spread over `--weeks`.
    #[arg(long, default_value_t = 10_000_000)]
    pub messages: u64,
    /// Weeks of history, ending now.
    #[arg(long, default_value_t = 26)]
    pub weeks: u32,
    /// Timed repetitions of each report (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Conversations written per transaction.
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// PostgreSQL server to run on (a scratch database is created and dropped); default SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// SQLite file to use (kept afterwards); a file that already holds conversations is reused
    /// as is, without generating. Default: a temporary file.
    #[arg(long)]
    pub sqlite_path: Option<std::path::PathBuf>,
    /// Also time the weekly report from the raw rows, before the rollups exist.
    #[arg(long)]
    pub raw: bool,
    /// Print the results as JSON as well.
    #[arg(long)]
    pub json: bool,
}

/// Options of `bench rollup-ingest`.
#[derive(Debug, Args)]
pub struct RollupIngestArgs {
    /// Messages of existing history (the last `--weeks`), so every rollup round has real work.
    #[arg(long, default_value_t = 1_000_000)]
    pub history_messages: u64,
    /// Weeks of existing history, ending now.
    #[arg(long, default_value_t = 4)]
    pub weeks: u32,
    /// Events per measured run.
    #[arg(long, default_value_t = 20_000)]
    pub events: u64,
    /// Pairs of runs (rollup job off, then on).
    #[arg(long, default_value_t = 3)]
    pub pairs: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds between rollup rounds while the job is on; a round starts with every "on" run.
    /// 300 is the production schedule (`rollup_tick`).
    #[arg(long, default_value_t = 300)]
    pub tick_secs: u64,
    /// PostgreSQL server to run on (a scratch database is created and dropped); default SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Print the results as JSON as well.
    #[arg(long)]
    pub json: bool,
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` has them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A small, fast, deterministic generator (SplitMix64): every run builds the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }

    /// An index drawn with the given weights.
    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// Seconds spread log-uniformly between `lo` and `hi` (response times are heavy-tailed).
    fn log_secs(&mut self, lo: f64, hi: f64) -> Span {
        Span::seconds((lo * (hi / lo).powf(self.f())) as i64)
    }
}

/// Channel slugs and their share of the traffic.
const CHANNELS: [(&str, f64); 7] =
    [("wa", 0.34), ("fb", 0.14), ("ig", 0.12), ("tg", 0.10), ("x", 0.07), ("web", 0.17), ("mail", 0.06)];
/// Teams, whether they work office hours, and their share.
const TEAMS: [(&str, bool, f64); 5] = [
    ("support", false, 0.38),
    ("billing", true, 0.2),
    ("shipping", true, 0.22),
    ("returns", true, 0.12),
    ("vip", false, 0.08),
];
const LANGUAGES: [(&str, f64); 6] = [("en", 0.48), ("zh", 0.2), ("es", 0.1), ("de", 0.09), ("fr", 0.08), ("ja", 0.05)];
/// Intents, the team that handles them, and their share.
const INTENTS: [(&str, usize, f64); 8] = [
    ("delivery", 2, 0.27),
    ("refund", 3, 0.14),
    ("billing", 1, 0.13),
    ("product", 0, 0.14),
    ("account", 0, 0.1),
    ("complaint", 4, 0.07),
    ("praise", 0, 0.04),
    ("other", 0, 0.11),
];
const PRIORITIES: [(Priority, f64); 4] =
    [(Priority::Low, 0.1), (Priority::Normal, 0.68), (Priority::High, 0.17), (Priority::Urgent, 0.05)];
const CUSTOMER_TEXT: [&str; 6] = [
    "Hi, my order #48213 has not arrived yet and tracking shows nothing since Monday",
    "我的包裹还没有收到，能帮我查一下吗？",
    "I was charged twice for the same order, please refund one of them",
    "Hola, ¿pueden cambiar la dirección de entrega?",
    "The app logs me out every time I open it",
    "Thanks, that worked!",
];
const AGENT_TEXT: [&str; 5] = [
    "Thanks for waiting — I have checked with the carrier and it is on its way.",
    "您好，我们已经为您查询，包裹预计明天送达。",
    "I have refunded the duplicate charge; it shows in 3-5 days.",
    "Could you send me the order number, please?",
    "Glad to hear it! Anything else I can help with?",
];

/// Generates a desk's history: conversations over the hours of `weeks` weeks ending at `end`,
/// more on weekdays and in office hours (Berlin), growing 1 % a week; each with its messages,
/// triage, SLA clocks, escalations, bot outcomes, survey answers and repeat contacts.
struct Generator {
    rng: Rng,
    end: DateTime<Utc>,
    /// Each hour of the history and the conversations expected in it (fractional).
    hours: Vec<(DateTime<Utc>, f64)>,
    team_agents: Vec<Vec<UserId>>,
    office: BusinessCalendar,
    contacts: u64,
    /// Contact → their last resolved conversation (for repeat contacts).
    last_resolved: HashMap<u64, (ConversationId, DateTime<Utc>)>,
    case: i64,
}

impl Generator {
    fn new(seed: u64, conversations: f64, weeks: u32, end: DateTime<Utc>, team_agents: Vec<Vec<UserId>>) -> Self {
        use chrono::{Datelike, Timelike};
        let start = end - Span::weeks(i64::from(weeks));
        let n_hours = i64::from(weeks) * 7 * 24;
        let weights: Vec<(DateTime<Utc>, f64)> = (0..n_hours)
            .map(|h| {
                let at = start + Span::hours(h);
                let local = at.with_timezone(&TZ);
                let day = [1.15, 1.1, 1.05, 1.0, 0.95, 0.6, 0.55][local.weekday().num_days_from_monday() as usize];
                let hour = match local.hour() {
                    0..=6 => 0.15,
                    7 => 0.5,
                    8 => 0.9,
                    9..=12 => 1.4,
                    13 => 1.1,
                    14..=17 => 1.3,
                    18..=20 => 0.9,
                    _ => 0.5,
                };
                (at, day * hour * (1.0 + 0.01 * (h / 168) as f64))
            })
            .collect();
        let total: f64 = weights.iter().map(|w| w.1).sum();
        let hours = weights.into_iter().map(|(at, w)| (at, w / total * conversations)).collect();
        Generator {
            rng: Rng(seed),
            end,
            hours,
            team_agents,
            office: office_calendar()
                .and_then(|s| BusinessCalendar::new(&s).ok())
                .unwrap_or_else(BusinessCalendar::around_the_clock),
            contacts: (conversations / 2.2).max(1.0) as u64,
            last_resolved: HashMap::new(),
            case: 0,
        }
    }

    /// Every conversation of the history, hour by hour, handed to `sink` in time order.
    fn each(&mut self, mut sink: impl FnMut(HistoryConversation) -> bool) {
        let hours = std::mem::take(&mut self.hours);
        let mut carry = 0.0;
        for (at, expected) in hours {
            carry += expected;
            let n = carry.floor();
            carry -= n;
            let mut starts: Vec<i64> = (0..n as usize).map(|_| self.rng.below(3600) as i64).collect();
            starts.sort_unstable();
            for s in starts {
                let c = self.conversation(at + Span::seconds(s));
                if !sink(c) {
                    return;
                }
            }
        }
    }

    fn conversation(&mut self, created: DateTime<Utc>) -> HistoryConversation {
        self.case += 1;
        let id = ConversationId::new();
        let r = &mut self.rng;
        let channel = CHANNELS[r.pick(&CHANNELS.map(|c| c.1))].0;
        let lang = LANGUAGES[r.pick(&LANGUAGES.map(|l| l.1))].0;
        let (intent, intent_team, _) = INTENTS[r.pick(&INTENTS.map(|i| i.2))];
        let priority = PRIORITIES[r.pick(&PRIORITIES.map(|p| p.1))].0;
        let team = (!r.chance(0.08)).then_some(if r.chance(0.85) { intent_team } else { r.below(TEAMS.len()) });
        let agents = team.map_or(&self.team_agents[0], |t| &self.team_agents[t]);
        // A few agents carry much of the load.
        let agent = agents[((r.f() * r.f()) * agents.len() as f64) as usize % agents.len()];
        let contact_n = r.next() % self.contacts;
        let office_hours = team.is_some_and(|t| TEAMS[t].1);
        let cal = if office_hours { self.office.clone() } else { BusinessCalendar::around_the_clock() };
        let basis = if office_hours { TimeBasis::Business } else { TimeBasis::Calendar };
        let frt_target = match priority {
            Priority::Urgent => 15,
            Priority::High => 30,
            Priority::Normal => 60,
            Priority::Low => 240,
        };
        let customer_text = CUSTOMER_TEXT[match lang {
            "zh" | "ja" => 1,
            "es" => 3,
            _ => [0, 2, 4][r.below(3)],
        }];
        let mut messages = vec![HistoryMessage {
            direction: Direction::Inbound,
            author_id: None,
            text: customer_text.into(),
            at: created,
            triage: triage(&mut self.rng, lang, intent),
        }];
        let r = &mut self.rng;
        let mut bot_outcomes = Vec::new();
        let mut deflected = false;
        if matches!(channel, "wa" | "fb" | "web") && r.chance(0.3) {
            let at = created + Span::seconds(2);
            messages.push(HistoryMessage {
                direction: Direction::Outbound,
                author_id: Some(BOT_USER),
                text: "🤖 This article may help: How to track your parcel".into(),
                at,
                triage: None,
            });
            bot_outcomes.push((BotOutcomeKind::Answered, at));
            if r.chance(0.35) {
                bot_outcomes.push((BotOutcomeKind::Helped, at + Span::minutes(3)));
                deflected = true;
            } else {
                if r.chance(0.5) {
                    bot_outcomes.push((BotOutcomeKind::NotHelped, at + Span::minutes(3)));
                }
                bot_outcomes.push((BotOutcomeKind::HandedOff, at + Span::minutes(3)));
            }
        }
        let mut t = created;
        let mut first_reply = None;
        let abandoned = !deflected && r.chance(0.03);
        if !deflected && !abandoned {
            let mut exchanges = 1;
            while exchanges < 10 && r.chance(0.45) {
                exchanges += 1;
            }
            let speed = match priority {
                Priority::Urgent => 0.25,
                Priority::High => 0.5,
                _ => 1.0,
            };
            for e in 0..exchanges {
                let wait = r.log_secs(45.0, 6.0 * 3600.0);
                t += Span::seconds((wait.num_seconds() as f64 * speed) as i64 + 5);
                if r.chance(0.08) {
                    messages.push(HistoryMessage {
                        direction: Direction::Note,
                        author_id: Some(agent),
                        text: "Checked with the warehouse.".into(),
                        at: t - Span::seconds(2),
                        triage: None,
                    });
                }
                messages.push(HistoryMessage {
                    direction: Direction::Outbound,
                    author_id: Some(agent),
                    text: AGENT_TEXT[r.below(AGENT_TEXT.len())].into(),
                    at: t,
                    triage: None,
                });
                first_reply.get_or_insert(t);
                if e + 1 < exchanges {
                    t += r.log_secs(10.0, 3.0 * 3600.0);
                    let text = CUSTOMER_TEXT[r.below(CUSTOMER_TEXT.len())];
                    let triage = triage(r, lang, intent);
                    messages.push(HistoryMessage {
                        direction: Direction::Inbound,
                        author_id: None,
                        text: text.into(),
                        at: t,
                        triage,
                    });
                }
            }
        }
        let r = &mut self.rng;
        let resolved_at = if deflected {
            created + Span::minutes(10)
        } else if abandoned {
            created + Span::days(14)
        } else {
            t + r.log_secs(120.0, 2.0 * 86_400.0)
        };
        // Whatever happens after the end of the history has not happened yet.
        messages.retain(|m| m.at < self.end);
        bot_outcomes.retain(|(_, at)| *at < self.end);
        let first_reply = first_reply.filter(|at| *at < self.end);
        let done = resolved_at < self.end;
        let status = match (done, abandoned) {
            (false, _) => {
                if r.chance(0.2) {
                    Status::Pending
                } else {
                    Status::Open
                }
            }
            (true, true) => Status::Closed,
            (true, false) if r.chance(0.15) => Status::Closed,
            (true, false) => Status::Resolved,
        };
        // Closing sets the resolution time, as the product does (an abandoned conversation is
        // closed after 14 days).
        let resolved = done.then_some(resolved_at);
        // Clocks stop at the first reply (first response) and when the conversation is done;
        // the others are still running.
        let closed = resolved;
        let mut frt = SlaClock::start(SlaMetric::FirstResponse, SlaTarget { minutes: frt_target, basis }, created);
        let mut escalations = Vec::new();
        match (first_reply, closed) {
            (Some(at), _) => {
                frt.stop(&cal, at);
                if at - created > Span::minutes(i64::from(frt_target) * 2) && r.chance(0.4) {
                    escalations.push(created + Span::minutes(i64::from(frt_target) * 2));
                }
            }
            (None, Some(at)) => frt.stop(&cal, at),
            (None, None) => {}
        }
        let mut clocks = vec![TrackedClock { cycle: 0, clock: frt }];
        if !deflected {
            let mut res = SlaClock::start(SlaMetric::Resolution, SlaTarget { minutes: 24 * 60, basis }, created);
            if let Some(at) = closed {
                res.stop(&cal, at);
            }
            clocks.push(TrackedClock { cycle: 0, clock: res });
        }
        let mut answers = Vec::new();
        if let Some(at) = resolved.filter(|_| !abandoned) {
            let fast = first_reply.is_some_and(|f| f - created < Span::minutes(i64::from(frt_target)));
            if r.chance(0.25) {
                let when = at + r.log_secs(300.0, 86_400.0);
                let weights = if fast { [0.04, 0.04, 0.08, 0.26, 0.58] } else { [0.14, 0.1, 0.16, 0.26, 0.34] };
                if when < self.end {
                    answers.push((SurveyKind::Csat, r.pick(&weights) as i32 + 1, when));
                }
            }
            if r.chance(0.08) {
                let when = at + r.log_secs(600.0, 2.0 * 86_400.0);
                if when < self.end {
                    answers.push((
                        SurveyKind::Nps,
                        r.pick(&[1.0, 0.5, 0.5, 0.6, 0.6, 1.0, 1.2, 2.0, 3.0, 3.5, 4.0]) as i32,
                        when,
                    ));
                }
            }
        }
        let repeat_of = self
            .last_resolved
            .get(&contact_n)
            .filter(|(_, at)| *at <= created && created - *at < Span::days(7))
            .map(|(id, _)| *id);
        if let Some(at) = resolved {
            self.last_resolved.insert(contact_n, (id, at));
        }
        HistoryConversation {
            id,
            case_number: self.case,
            channel: channel.into(),
            contact_id: ContactId(uuid::Uuid::from_u128(0xC0DE_0000_0000_0000_0000 + u128::from(contact_n))),
            status,
            priority,
            team: team.map(|t| TEAMS[t].0.to_owned()),
            assignee_id: (first_reply.is_some() || status == Status::Open).then_some(agent),
            created_at: created,
            resolved_at: resolved,
            reopen_count: i32::from(resolved.is_some() && self.rng.chance(0.04)),
            repeat_of,
            messages,
            escalations,
            clocks,
            answers,
            bot_outcomes,
        }
    }
}

/// The triage of a customer message: sentiment leans on the intent.
fn triage(r: &mut Rng, lang: &str, intent: &str) -> Option<(String, String, String)> {
    let negative = match intent {
        "complaint" => 0.7,
        "refund" | "delivery" => 0.4,
        "praise" => 0.02,
        _ => 0.2,
    };
    let s = if r.chance(negative) {
        "negative"
    } else if r.chance(if intent == "praise" { 0.9 } else { 0.25 }) {
        "positive"
    } else {
        "neutral"
    };
    Some((lang.to_owned(), intent.to_owned(), s.to_owned()))
}

/// Mon–Fri 09:00–17:00 in Berlin.
fn office_calendar() -> Option<CalendarSpec> {
    Some(CalendarSpec {
        time_zone: TZ.name().into(),
        always_open: false,
        weekly: ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| DayHours {
                day: (*d).into(),
                intervals: vec![OpenInterval { start: "09:00".into(), end: "17:00".into() }],
            })
            .collect(),
        special_dates: vec![],
    })
}

/// Teams (office-hours ones on the Berlin calendar) and a dozen agents per team.
async fn desk(store: &DynStore) -> anyhow::Result<Vec<Vec<UserId>>> {
    if let Some(spec) = office_calendar() {
        store.put_calendar("office", &spec).await?;
    }
    let first = ["Ada", "Li", "María", "Jonas", "王芳", "Amélie", "Kenji", "Sara", "Omar", "Priya", "Tom", "张伟"];
    let mut out = Vec::new();
    for (t, (team, office, _)) in TEAMS.iter().enumerate() {
        store
            .create_team(&TeamInput {
                name: (*team).into(),
                description: String::new(),
                assignment_policy: AssignmentPolicy::Manual,
                calendar: office.then(|| "office".into()),
            })
            .await?;
        let mut agents = Vec::new();
        for (i, name) in first.iter().enumerate() {
            let u = store
                .create_user(&NewUser {
                    email: format!("agent{t}-{i}@bench.example"),
                    name: format!("{name} ({team})"),
                    role: Role::Agent,
                    password_hash: None,
                })
                .await?;
            agents.push(u.id);
        }
        out.push(agents);
    }
    Ok(out)
}

/// Messages per conversation of the generator, measured on a sample.
fn messages_per_conversation(team_agents: &[Vec<UserId>], end: DateTime<Utc>) -> f64 {
    let mut g = Generator::new(7, 20_000.0, 4, end - Span::weeks(8), team_agents.to_vec());
    let (mut convs, mut msgs) = (0u64, 0u64);
    g.each(|c| {
        convs += 1;
        msgs += c.messages.len() as u64;
        true
    });
    msgs as f64 / convs.max(1) as f64
}

/// What generating wrote.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Generated {
    conversations: u64,
    messages: u64,
    seconds: f64,
}

/// Writes a desk with about `messages` messages over `weeks` weeks ending at `end`, `batch`
/// conversations per transaction, the next batch generated while the last one is written.
async fn generate(
    store: &DynStore,
    messages: u64,
    weeks: u32,
    end: DateTime<Utc>,
    batch: usize,
) -> anyhow::Result<Generated> {
    let team_agents = desk(store).await?;
    let per = messages_per_conversation(&team_agents, end);
    let t0 = Instant::now();
    let mut g = Generator::new(1, messages as f64 / per, weeks, end, team_agents);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<HistoryConversation>>(2);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                store.import_history(b).await?;
            }
            anyhow::Ok(())
        })
    };
    let batch = batch.max(1);
    let producer = tokio::task::spawn_blocking(move || {
        let (mut convs, mut msgs) = (0u64, 0u64);
        let mut next = Vec::with_capacity(batch);
        let mut last_report = Instant::now();
        g.each(|c| {
            convs += 1;
            msgs += c.messages.len() as u64;
            next.push(c);
            if next.len() == batch {
                if tx.blocking_send(std::mem::replace(&mut next, Vec::with_capacity(batch))).is_err() {
                    return false;
                }
                if last_report.elapsed() > Duration::from_secs(15) {
                    eprintln!("  … {msgs} messages");
                    last_report = Instant::now();
                }
            }
            true
        });
        if !next.is_empty() {
            let _ = tx.blocking_send(next);
        }
        (convs, msgs)
    });
    let (conversations, messages) = producer.await?;
    writer.await??;
    store.finish_import().await?;
    Ok(Generated { conversations, messages, seconds: t0.elapsed().as_secs_f64() })
}

/// Opens the store of a run: a scratch PostgreSQL database (name returned, to drop), the given
/// SQLite file, or a temporary one.
async fn open(
    database_url: Option<&str>,
    sqlite_path: Option<&std::path::Path>,
    dir: &tempfile::TempDir,
    prefix: &str,
) -> anyhow::Result<(DynStore, Option<(String, String)>, &'static str)> {
    if let Some(admin) = database_url {
        let (url, name) = switchboard_store::postgres::create_scratch_database(admin, prefix)
            .await
            .context("creating a scratch database")?;
        let store = switchboard_store::open(&url, &StoreOptions { max_connections: 16, ..Default::default() }).await?;
        return Ok((store, Some((admin.to_owned(), name)), "PostgreSQL"));
    }
    let path = sqlite_path.map(std::path::Path::to_path_buf).unwrap_or_else(|| dir.path().join("bench.db"));
    let store = switchboard_store::open(
        path.to_str().context("SQLite path")?,
        &StoreOptions { sqlite_synchronous_full: false, ..Default::default() },
    )
    .await?;
    Ok((store, None, "SQLite"))
}

async fn drop_scratch(scratch: Option<(String, String)>) {
    if let Some((admin, name)) = scratch
        && let Err(e) = switchboard_store::postgres::drop_scratch_database(&admin, &name).await
    {
        eprintln!("warning: could not drop scratch database {name}: {e}");
    }
}

/// Timings of one report.
#[derive(Debug, Clone, serde::Serialize)]
struct Timed {
    period: String,
    first_s: f64,
    median_s: f64,
    max_s: f64,
    days_from_rollups: usize,
    rollup_rows: usize,
    backlog: u64,
    conversations: u64,
    load_average: String,
}

async fn time_report(store: &DynStore, kind: PeriodKind, now: DateTime<Utc>, runs: usize) -> anyhow::Result<Timed> {
    let period = report::last_complete(kind, now, TZ);
    let targets = report::Targets::default();
    let mut times = Vec::new();
    let mut doc = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        doc = Some(report::build(store, &period, TZ, &targets, now).await?);
        times.push(t.elapsed().as_secs_f64());
    }
    let doc = doc.context("no run")?;
    let cals = report::calendars(store).await?;
    let days = rollup::period_days(store, &period, TZ, &cals, now, rollup::Want::TOTALS).await?;
    let (first, last) = (period.start, period.end - Span::days(1));
    let prev = period.previous();
    // The rows a report reads: its period's with the slices it shows, the previous period's totals.
    let rows = store.rollup_rows(TZ.name(), first, last, Some(&report::WANT.row_dims())).await?.len()
        + store.rollup_rows(TZ.name(), prev.start, prev.end - Span::days(1), Some(&[""])).await?.len();
    Ok(Timed {
        period: period.label(),
        first_s: times[0],
        median_s: median(times.clone()),
        max_s: times.iter().copied().fold(0.0, f64::max),
        days_from_rollups: days.from_rollups,
        rollup_rows: rows,
        backlog: doc.current.backlog,
        conversations: doc.current.conversations,
        load_average: load_average(),
    })
}

/// `bench reports`.
pub async fn reports(args: ReportsArgs) -> anyhow::Result<()> {
    if args.messages == 0 || args.weeks < 9 {
        bail!("--messages must be at least 1 and --weeks at least 9 (a whole month and the one before)");
    }
    let dir = tempfile::tempdir()?;
    let (store, scratch, backend) =
        open(args.database_url.as_deref(), args.sqlite_path.as_deref(), &dir, "sb_bench_reports").await?;
    let result = reports_on(&store, backend, &args).await;
    store.close().await;
    drop_scratch(scratch).await;
    result
}

async fn reports_on(store: &DynStore, backend: &str, args: &ReportsArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    let existing = store.first_conversation_at().await?.is_some();
    let generated = if existing {
        eprintln!(
            "reusing the conversations already in {}",
            args.sqlite_path.as_deref().map_or_else(String::new, |p| p.display().to_string())
        );
        None
    } else {
        eprintln!("generating {} messages over {} weeks ({backend}) …", args.messages, args.weeks);
        let g = generate(store, args.messages, args.weeks, now, args.batch).await?;
        eprintln!(
            "generated {} conversations, {} messages in {:.1} s ({:.0} messages/s; load average {})",
            g.conversations,
            g.messages,
            g.seconds,
            g.messages as f64 / g.seconds.max(1e-9),
            load_average()
        );
        Some(g)
    };
    let raw_week = if args.raw && !existing {
        let t = time_report(store, PeriodKind::Week, now, 1).await?;
        eprintln!("weekly report {} from the raw rows: {:.3} s", t.period, t.first_s);
        Some(t)
    } else {
        None
    };
    let t = Instant::now();
    let days = rollup::backfill(store, TZ, now).await?;
    let rollup_s = t.elapsed().as_secs_f64();
    eprintln!("rollups: {days} days written in {rollup_s:.1} s");
    let t = Instant::now();
    rollup::refresh(store, TZ, now).await?;
    let round_s = t.elapsed().as_secs_f64();
    let week = time_report(store, PeriodKind::Week, now, args.runs).await?;
    let month = time_report(store, PeriodKind::Month, now, args.runs).await?;
    println!();
    match generated {
        Some(g) => println!(
            "switchboard bench reports ({backend}): {} messages in {} conversations over {} weeks, generated in {:.1} s",
            g.messages, g.conversations, args.weeks, g.seconds
        ),
        None => println!("switchboard bench reports ({backend}): existing history"),
    }
    println!("rollups built in {rollup_s:.1} s ({days} days), a later round (the job's 5-minute work) {round_s:.2} s");
    if let Some(r) = &raw_week {
        println!("weekly report {} from the raw rows (no rollups yet): {:.3} s", r.period, r.first_s);
    }
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>8} {:>10} {:>8} {:>14}  load average",
        "report", "first s", "median s", "max s", "days", "rollup rows", "backlog", "conversations"
    );
    for r in [&week, &month] {
        println!(
            "{:<10} {:>10.3} {:>10.3} {:>10.3} {:>8} {:>10} {:>8} {:>14}  {}",
            r.period,
            r.first_s,
            r.median_s,
            r.max_s,
            r.days_from_rollups,
            r.rollup_rows,
            r.backlog,
            r.conversations,
            r.load_average
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"backend": backend, "generated": generated, "rollup_build_s": rollup_s,
                "rollup_round_s": round_s, "raw_week": raw_week, "week": week, "month": month})
        );
    }
    Ok(())
}

/// `bench rollup-ingest`.
pub async fn rollup_ingest(args: RollupIngestArgs) -> anyhow::Result<()> {
    if args.events == 0 || args.pairs == 0 || args.tick_secs == 0 {
        bail!("--events, --pairs and --tick-secs must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let (store, scratch, backend) = open(args.database_url.as_deref(), None, &dir, "sb_bench_rollup_ingest").await?;
    let result = rollup_ingest_on(&store, backend, &args, &dir).await;
    store.close().await;
    drop_scratch(scratch).await;
    result
}

/// One measured run: events acknowledged per second, and threaded into conversations per second
/// (until the pipeline's backlog is empty).
#[derive(Debug, Clone, serde::Serialize)]
struct IngestRun {
    rollups: bool,
    acked_per_s: f64,
    threaded_per_s: f64,
    rollup_rounds: u64,
    load_average: String,
}

async fn rollup_ingest_on(
    store: &DynStore,
    backend: &str,
    args: &RollupIngestArgs,
    dir: &tempfile::TempDir,
) -> anyhow::Result<()> {
    let now = Utc::now();
    eprintln!("writing {} messages of history over {} weeks ({backend}) …", args.history_messages, args.weeks);
    let g = generate(store, args.history_messages, args.weeks, now, 5_000).await?;
    let t = Instant::now();
    rollup::backfill(store, TZ, Utc::now()).await?;
    let t_round = Instant::now();
    rollup::refresh(store, TZ, Utc::now()).await?;
    let round_s = t_round.elapsed().as_secs_f64();
    eprintln!(
        "history: {} messages; rollups built in {:.1} s; one round {round_s:.2} s",
        g.messages,
        t.elapsed().as_secs_f64()
    );

    // The server with every background job but the rollups as configured by default; the bench
    // runs the rollup job itself so it can switch it on and off between runs.
    let mut cfg = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    cfg.quality.rollups = false;
    cfg.quality.reports = false;
    cfg.log.level = "warn".into();
    crate::bench::api_channel(store).await?;
    let token = crate::bench::admin_token(store).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = crate::serve::start_with_workers(&cfg, store.clone(), listener, true).await?;
    let addr = running.addr;
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let mut runs = Vec::new();
    let measured: anyhow::Result<()> = async {
        for pair in 0..args.pairs {
            for on in [false, true] {
                let stop = CancellationToken::new();
                let rounds = Arc::new(std::sync::atomic::AtomicU64::new(0));
                let job = on.then(|| {
                    let (store, stop, rounds) = (store.clone(), stop.clone(), rounds.clone());
                    let tick = Duration::from_secs(args.tick_secs);
                    tokio::spawn(async move {
                        loop {
                            if let Err(e) = rollup::refresh(&store, TZ, Utc::now()).await {
                                eprintln!("warning: rollup round failed: {e}");
                            }
                            rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tokio::select! {
                                _ = stop.cancelled() => return,
                                _ = tokio::time::sleep(tick) => {}
                            }
                        }
                    })
                });
                let t = Instant::now();
                let r: RunResult = run_load(
                    Load {
                        addr,
                        token: token.clone(),
                        run_id: format!("{run_id}-{pair}-{on}"),
                        total: args.events,
                        concurrency: args.concurrency,
                        rate: None,
                        deadline: Duration::from_secs(600),
                        whatsapp_secret: None,
                        channel: "api".into(),
                    },
                    if on { "rollups on" } else { "rollups off" },
                )
                .await?;
                while store.pipeline_backlog().await? > 0 && t.elapsed() < Duration::from_secs(600) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let threaded = r.ok as f64 / t.elapsed().as_secs_f64();
                stop.cancel();
                if let Some(j) = job {
                    j.await?;
                }
                if r.errors > 0 {
                    bail!("{} requests failed", r.errors);
                }
                let run = IngestRun {
                    rollups: on,
                    acked_per_s: r.per_second,
                    threaded_per_s: threaded,
                    rollup_rounds: rounds.load(std::sync::atomic::Ordering::Relaxed),
                    load_average: load_average(),
                };
                eprintln!(
                    "  pair {} rollups {:<3}: {:>7.0} acked/s, {:>7.0} threaded/s, {} rounds (load {})",
                    pair + 1,
                    if on { "on" } else { "off" },
                    run.acked_per_s,
                    run.threaded_per_s,
                    run.rollup_rounds,
                    run.load_average
                );
                runs.push(run);
            }
        }
        Ok(())
    }
    .await;
    running.stop(Duration::from_secs(30)).await;
    measured?;
    let of = |on: bool, f: fn(&IngestRun) -> f64| median(runs.iter().filter(|r| r.rollups == on).map(f).collect());
    let (off_a, on_a) = (of(false, |r| r.acked_per_s), of(true, |r| r.acked_per_s));
    let (off_t, on_t) = (of(false, |r| r.threaded_per_s), of(true, |r| r.threaded_per_s));
    println!();
    println!(
        "switchboard bench rollup-ingest ({backend}): {} events per run, {} pairs, history {} messages, \
         rollup round {round_s:.2} s every {} s while on",
        args.events, args.pairs, g.messages, args.tick_secs
    );
    println!("{:<28} {:>12} {:>12} {:>8}", "median", "rollups off", "rollups on", "on/off");
    println!("{:<28} {:>12.0} {:>12.0} {:>8.3}", "acknowledged events/s", off_a, on_a, on_a / off_a.max(1e-9));
    println!("{:<28} {:>12.0} {:>12.0} {:>8.3}", "threaded events/s", off_t, on_t, on_t / off_t.max(1e-9));
    println!("load average at the end: {}", load_average());
    if args.json {
        println!(
            "{}",
            serde_json::json!({"backend": backend, "runs": runs, "rollup_round_s": round_s,
                "acked_ratio": on_a / off_a.max(1e-9), "threaded_ratio": on_t / off_t.max(1e-9)})
        );
    }
    Ok(())
}
