//! `switchboard bench rules` and `switchboard bench sla`: the pure routing/SLA hot paths on one
//! core, each next to a baseline measured in the same run.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_domain::automation::{Action, Condition, Rule, RuleInput, RuleSet, TriggerEvent};
use switchboard_domain::calendar::{BusinessCalendar, CalendarSpec, DayHours, OpenInterval, SpecialDate};
use switchboard_domain::sla::{SlaClock, SlaMetric, SlaPolicy, SlaTarget, TimeBasis};
use switchboard_domain::{ChannelKind, Priority, Status, Visibility};

/// Options of `bench rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Rules in the rule set.
    #[arg(long, default_value_t = 1000)]
    pub rules: usize,
    /// Messages evaluated.
    #[arg(long, default_value_t = 200_000)]
    pub messages: usize,
    /// Print the results as JSON as well.
    #[arg(long)]
    pub json: bool,
}

/// Options of `bench sla`.
#[derive(Debug, Args)]
pub struct SlaArgs {
    /// Due-time computations.
    #[arg(long, default_value_t = 2_000_000)]
    pub count: usize,
    /// Print the results as JSON as well.
    #[arg(long)]
    pub json: bool,
}

const CHANNELS: &[&str] = &["whatsapp-main", "x-brand", "web-chat", "email-support", "telegram", "messenger"];
const LANGS: &[&str] = &["en", "zh", "de", "fr", "es", "ja"];
const INTENTS: &[&str] = &["billing", "delivery", "refund", "account", "complaint", "praise"];
const SENTIMENTS: &[&str] = &["negative", "neutral", "positive"];
const WORDS: &[&str] = &[
    "refund",
    "broken",
    "late",
    "cancel",
    "invoice",
    "password",
    "lawyer",
    "angry",
    "delivery",
    "tracking",
    "退款",
    "投诉",
    "快递",
    "发票",
    "damaged",
    "charged twice",
    "unsubscribe",
    "manager",
    "scam",
    "thank you",
];
const TEXTS: &[&str] = &[
    "Hi, my order #48213 has not arrived yet and the tracking page shows no update since Monday. Can you help?",
    "I was charged twice for the same invoice, please refund one of them as soon as possible.",
    "我的快递三天了还没到，请帮我查一下，谢谢。",
    "Thank you for the quick answer yesterday, everything works now!",
    "The parcel arrived damaged and I want to cancel my subscription. This is a scam.",
    "Can I change the password of my account without the old email address?",
];

fn random_rule(rng: &mut StdRng, i: usize) -> Rule {
    let pick = |rng: &mut StdRng, list: &[&str], n: usize| -> Vec<String> {
        (0..n).map(|_| list[rng.random_range(0..list.len())].to_string()).collect()
    };
    // A realistic mix: every rule narrows by channel, language or intent first (as admins write
    // them: "WhatsApp refunds", "Chinese complaints"), then adds one or two more conditions.
    let mut conditions = vec![match rng.random_range(0..3) {
        0 => Condition::Channel { any_of: pick(rng, CHANNELS, 1) },
        1 => Condition::Language { any_of: pick(rng, LANGS, 1) },
        _ => Condition::Intent { any_of: pick(rng, INTENTS, 1) },
    }];
    for _ in 0..rng.random_range(1..=2) {
        conditions.push(match rng.random_range(0..5) {
            0 => Condition::Sentiment { any_of: pick(rng, SENTIMENTS, 1) },
            1 => Condition::Priority { any_of: vec![Priority::ALL[rng.random_range(0..4)]] },
            2 => Condition::BusinessHours { open: rng.random_bool(0.5) },
            _ => Condition::Keywords { any_of: pick(rng, WORDS, 3) },
        });
    }
    Rule {
        name: format!("rule {i}"),
        enabled: true,
        events: vec![TriggerEvent::ConversationCreated, TriggerEvent::MessageReceived],
        conditions,
        actions: vec![Action::AddTags { tags: vec![format!("r{i}")] }],
        stop_processing: false,
    }
}

/// The baseline: the same rules interpreted directly, scanning the text once per keyword condition.
fn naive_fires(rule: &Rule, i: &RuleInput<'_>, lower_text: &str) -> bool {
    let has = |l: &[String], v: Option<&str>| v.is_some_and(|v| l.iter().any(|x| x.eq_ignore_ascii_case(v)));
    rule.events.contains(&i.event)
        && rule.conditions.iter().all(|c| match c {
            Condition::Channel { any_of } => any_of.iter().any(|x| x == i.channel),
            Condition::Language { any_of } => has(any_of, i.language),
            Condition::Intent { any_of } => has(any_of, i.intent),
            Condition::Sentiment { any_of } => has(any_of, i.sentiment),
            Condition::Priority { any_of } => any_of.contains(&i.priority),
            Condition::BusinessHours { open } => i.business_hours_open == Some(*open),
            Condition::Keywords { any_of } => any_of.iter().any(|w| lower_text.contains(&w.to_lowercase())),
            _ => false,
        })
}

#[derive(serde::Serialize)]
struct Line {
    name: &'static str,
    count: usize,
    seconds: f64,
    per_second: f64,
    /// Per second of this thread's CPU time: what one core does when the machine is shared.
    per_cpu_second: Option<f64>,
}

/// This thread's CPU time (user + system) from `/proc/thread-self/stat`, in seconds (Linux
/// clock ticks of 1/100 s); `None` elsewhere.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

struct Timer {
    wall: Instant,
    cpu: Option<f64>,
}

fn start() -> Timer {
    Timer { wall: Instant::now(), cpu: thread_cpu_secs() }
}

fn line(name: &'static str, count: usize, t: Timer) -> Line {
    let seconds = t.wall.elapsed().as_secs_f64();
    let cpu = match (t.cpu, thread_cpu_secs()) {
        (Some(a), Some(b)) if b - a >= 0.5 => Some(b - a),
        _ => None,
    };
    let l = Line {
        name,
        count,
        seconds,
        per_second: count as f64 / seconds.max(1e-9),
        per_cpu_second: cpu.map(|c| count as f64 / c),
    };
    let cpu_rate = l.per_cpu_second.map(|r| format!("{r:>12.0}/CPU-s")).unwrap_or_default();
    println!("{:<44} {:>10} in {:>7.3} s = {:>12.0}/s {cpu_rate}", l.name, l.count, l.seconds, l.per_second);
    l
}

/// `bench rules`.
pub fn rules(args: RulesArgs) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(8);
    let rules: Vec<Rule> = (0..args.rules).map(|i| random_rule(&mut rng, i)).collect();
    let set = RuleSet::compile(&rules)?;
    let contact = BTreeMap::new();
    let inputs: Vec<RuleInput<'_>> = (0..1024)
        .map(|k| RuleInput {
            event: if k % 3 == 0 { TriggerEvent::ConversationCreated } else { TriggerEvent::MessageReceived },
            channel: CHANNELS[k % CHANNELS.len()],
            channel_kind: ChannelKind::Api,
            visibility: Visibility::Private,
            status: Status::Open,
            priority: Priority::ALL[k % 4],
            text: TEXTS[k % TEXTS.len()],
            language: Some(LANGS[(k / 7) % LANGS.len()]),
            sentiment: Some(SENTIMENTS[k % SENTIMENTS.len()]),
            intent: (k % 5 != 0).then(|| INTENTS[k % INTENTS.len()]),
            contact: &contact,
            business_hours_open: Some(k % 2 == 0),
            local_minute: Some((k % 1440) as u16),
            depth: 0,
        })
        .collect();
    println!("rule evaluation, {} rules per message, one core", set.len());
    let mut fired = 0usize;
    let t0 = start();
    for n in 0..args.messages {
        fired += black_box(set.evaluate(black_box(&inputs[n % inputs.len()]))).fired.len();
    }
    let compiled = line("compiled, with reasons (RuleSet::evaluate)", args.messages, t0);
    let t0 = start();
    let mut matched = 0usize;
    for n in 0..args.messages {
        matched += black_box(set.matching(black_box(&inputs[n % inputs.len()]))).len();
    }
    let decide = line("compiled, decision only (RuleSet::matching)", args.messages, t0);
    anyhow::ensure!(matched == fired, "matching and evaluate disagree");
    // The baseline is slow: a tenth of the messages is enough to measure it.
    let base_n = (args.messages / 10).max(1);
    let mut fired_naive = 0usize;
    let t0 = start();
    for n in 0..base_n {
        let i = &inputs[n % inputs.len()];
        let lower = i.text.to_lowercase();
        fired_naive += rules.iter().filter(|r| naive_fires(r, i, &lower)).count();
    }
    let naive = line("baseline: naive interpretation", base_n, t0);
    println!(
        "rules fired per message: {:.2} (baseline {:.2}); speed-up {:.1}x",
        fired as f64 / args.messages as f64,
        fired_naive as f64 / base_n as f64,
        compiled.per_second / naive.per_second
    );
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({"compiled": compiled, "decision": decide, "baseline": naive}))?
        );
    }
    Ok(())
}

fn office_calendar() -> anyhow::Result<BusinessCalendar> {
    let iv = |a: &str, b: &str| OpenInterval { start: a.into(), end: b.into() };
    let weekly = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| DayHours { day: (*d).into(), intervals: vec![iv("09:00", "12:30"), iv("13:30", "18:00")] })
        .chain(std::iter::once(DayHours { day: "sat".into(), intervals: vec![iv("10:00", "14:00")] }))
        .collect();
    let special_dates = [(1, 1), (5, 1), (10, 3), (12, 24), (12, 25), (12, 26), (12, 31)]
        .iter()
        .filter_map(|(m, d)| chrono::NaiveDate::from_ymd_opt(2026, *m, *d))
        .map(|date| SpecialDate { date, name: "holiday".into(), intervals: vec![] })
        .collect();
    Ok(BusinessCalendar::new(&CalendarSpec {
        time_zone: "Europe/Berlin".into(),
        always_open: false,
        weekly,
        special_dates,
    })?)
}

/// `bench sla`.
pub fn sla(args: SlaArgs) -> anyhow::Result<()> {
    let cal = office_calendar()?;
    let policies = SlaPolicy::defaults();
    let mut rng = StdRng::seed_from_u64(8);
    let year = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")?.with_timezone(&Utc);
    let starts: Vec<(DateTime<Utc>, SlaTarget)> = (0..4096)
        .map(|_| {
            let t = year + Duration::seconds(rng.random_range(0..365 * 86_400));
            let p = &policies[rng.random_range(0..policies.len())];
            (t, p.first_response.unwrap_or(SlaTarget { minutes: 60, basis: TimeBasis::Business }))
        })
        .collect();
    println!("SLA due-time computation, Europe/Berlin office hours with holidays, one core");
    let run = |name: &'static str, basis: Option<TimeBasis>| {
        let t0 = start();
        let mut acc = 0i64;
        for n in 0..args.count {
            let (t, mut target) = starts[n % starts.len()];
            if let Some(b) = basis {
                target.basis = b;
            }
            let clock = SlaClock::start(SlaMetric::FirstResponse, target, t);
            acc = acc.wrapping_add(black_box(clock.due_at(&cal)).map(|d| d.timestamp()).unwrap_or(0));
        }
        black_box(acc);
        line(name, args.count, t0)
    };
    let business = run("business-hours due time (first response)", None);
    let calendar = run("baseline: calendar-time due time", Some(TimeBasis::Calendar));
    println!("business-hours cost vs calendar time: {:.1}x", calendar.per_second / business.per_second);
    if args.json {
        println!("{}", serde_json::to_string(&serde_json::json!({"business": business, "calendar": calendar}))?);
    }
    Ok(())
}
