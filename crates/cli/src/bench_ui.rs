//! `switchboard bench ui`: the agent UI under a realistic database.
//!
//! 1. Inbox page time: fills a fresh SQLite database with `--conversations` conversations (half
//!    resolved, some urgent, some assigned, some tagged) through the real threading path, starts
//!    the real server and times inbox pages (and the conversation page) over loopback HTTP with a
//!    signed-in session, against `/healthz` in the same run.
//! 2. Live latency: a browser-like client holds `/ui/events` open while customer messages are
//!    offered to `POST /api/v1/inbound` at `--rate` per second; for each message, the time from
//!    its acknowledgement to the `message.created` event on the stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use hdrhistogram::Histogram;
use switchboard_domain::{
    CaseNumber, ChannelSlug, ContactRef, ConversationPatch, InboundEvent, Priority, Role, Status, Visibility,
};
use switchboard_store::{DynStore, NewUser, StoreOptions, ThreadingRules, UiSession};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::serve;

/// Options of `bench ui`.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Conversations in the database (at least 1).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub conversations: u64,
    /// Timed requests per page variant.
    #[arg(long, default_value_t = 300)]
    pub requests: u32,
    /// Offered customer messages per second in the live-latency run.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seconds of the live-latency run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// How the live run's messages arrive: `whatsapp` (signed Cloud API webhooks on
    /// `/webhooks/{slug}`) or `api` (`POST /api/v1/inbound`).
    #[arg(long, default_value = "whatsapp", value_parser = ["whatsapp", "api"])]
    pub via: String,
}

/// The WhatsApp channel the live run's webhooks are signed for.
const LIVE_WA_SLUG: &str = "live-wa";
const LIVE_WA_SECRET: &str = "bench-ui-app-secret";

const TEXTS: &[&str] = &[
    "Hi, my parcel has not arrived yet",
    "退款什么时候到账？",
    "Can I change the delivery address?",
    "The app crashes when I pay",
    "我的订单显示已签收，但是我没有收到",
    "Do you ship to Singapore?",
];

fn event(i: u64, run: &str, at: chrono::DateTime<Utc>) -> InboundEvent {
    InboundEvent {
        channel: ChannelSlug::parse("bench").unwrap_or_else(|_| unreachable!("constant slug")),
        provider_event_id: format!("{run}-{i}"),
        contact: ContactRef {
            provider_user_id: format!("{run}-user-{i}"),
            handle: Some(format!("@cust{i}")),
            display_name: Some(format!("Customer {i}")),
        },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: format!("{} (#{i})", TEXTS[(i % TEXTS.len() as u64) as usize]),
        attachments: Vec::new(),
        sent_at: at,
        extra: serde_json::Map::new(),
    }
}

/// Fills the store with `n` conversations and varies their state; returns the agent's id and the
/// newest case number.
async fn seed(store: &DynStore, n: u64) -> anyhow::Result<(switchboard_domain::UserId, i64)> {
    let agent = store
        .create_user(&NewUser {
            email: "agent@bench".into(),
            name: "Bench Agent".into(),
            role: Role::Agent,
            password_hash: None,
        })
        .await?;
    let t = Instant::now();
    let start = Utc::now() - chrono::Duration::days(30);
    let mut i = 0;
    while i < n {
        let batch: Vec<InboundEvent> = (i..(i + 1000).min(n))
            .map(|k| event(k, "seed", start + chrono::Duration::seconds((k * 20) as i64)))
            .collect();
        i += batch.len() as u64;
        store.append_inbound(batch).await?;
        let waiting = store.unprocessed_events(1000).await?;
        store.thread_events(waiting, ThreadingRules::default()).await?;
    }
    println!("  seeded {n} conversations in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let page =
        store.list_conversations(&switchboard_store::ConversationFilter { limit: 1, ..Default::default() }).await?;
    let newest = page.items.first().map(|c| c.conversation.case_number.0).unwrap_or(0);
    let mut tasks = tokio::task::JoinSet::new();
    let mut changed = 0u64;
    for case in 1..=newest {
        let patch = ConversationPatch {
            status: (case % 2 == 0).then_some(Status::Resolved),
            priority: if case % 50 == 3 {
                Some(Priority::Urgent)
            } else if case % 10 == 5 {
                Some(Priority::High)
            } else {
                None
            },
            assignee_id: (case % 20 == 1).then_some(Some(agent.id)),
            tags: (case % 7 == 0).then(|| vec!["vip".to_owned()]),
            ..Default::default()
        };
        if patch.status.is_none() && patch.priority.is_none() && patch.assignee_id.is_none() && patch.tags.is_none() {
            continue;
        }
        let store = store.clone();
        tasks.spawn(async move {
            let conv = store.get_conversation_by_case(switchboard_domain::CaseNumber(case)).await?;
            if let Some(c) = conv {
                store.update_conversation(c.id, &patch, None).await?;
            }
            anyhow::Ok(())
        });
        changed += 1;
        while tasks.len() >= 256 {
            if let Some(r) = tasks.join_next().await {
                r??;
            }
        }
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    println!("  changed {changed} of them (resolved, priority, assignee, tags) in {:.1} s", t.elapsed().as_secs_f64());
    Ok((agent.id, newest))
}

struct Timing {
    name: String,
    p50: f64,
    p99: f64,
    max: f64,
}

async fn time_get(http: &reqwest::Client, url: &str, cookie: &str, n: u32, name: &str) -> anyhow::Result<Timing> {
    let mut h = Histogram::<u64>::new(3)?;
    for i in 0..(n + 20) {
        let t = Instant::now();
        let r = http.get(url).header("cookie", cookie).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        let us = t.elapsed().as_micros() as u64;
        anyhow::ensure!(status.is_success(), "GET {url}: {status}");
        anyhow::ensure!(!body.is_empty(), "GET {url}: empty body");
        // The first requests warm caches and connections.
        if i >= 20 {
            h.record(us.max(1))?;
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(Timing {
        name: name.to_owned(),
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    })
}

/// Runs `bench ui`.
pub async fn run(args: UiArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let cfg = Config { data_dir: tmp.path().to_owned(), ..Config::default() };
    let store = switchboard_store::open(&cfg.database_url(), &StoreOptions::default()).await?;
    crate::bench::api_channel(&store).await?;
    println!("bench ui: SQLite (WAL, synchronous=FULL), {} conversations", args.conversations);
    let (agent, newest) = seed(&store, args.conversations).await?;
    anyhow::ensure!(newest > 0, "no conversation was seeded");
    // The case searched for and opened: SB-000777 as in every earlier run, or the newest when
    // fewer were seeded.
    let case = CaseNumber(newest.min(777));
    let token = crate::bench::admin_token(&store).await?;
    // A signed-in browser session for the agent (the sign-in form itself is not what is timed).
    let raw = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let now = Utc::now();
    store
        .create_session(&UiSession {
            id_hash: switchboard_web::auth::hash_token(&raw),
            user_id: agent,
            csrf_token: "bench".into(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + chrono::Duration::hours(2),
        })
        .await?;
    let cookie = format!("sb_session={raw}");

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut c = cfg.clone();
    c.channels.clear();
    c.log.level = "warn".into();
    let running = serve::start(&c, store.clone(), listener).await?;
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;

    let mut timings = Vec::new();
    let n = args.requests;
    let (case_search, case_page) = (format!("/inbox?view=all&q={case}"), format!("/c/{case}"));
    for (path, name) in [
        ("/healthz", "baseline: GET /healthz"),
        ("/inbox?view=all", "inbox: all open, most urgent first"),
        ("/inbox?view=unassigned", "inbox: unassigned open"),
        ("/inbox?view=mine", "inbox: mine"),
        ("/inbox?view=all&status=any&sort=recent", "inbox: every status, latest first"),
        ("/inbox?view=all&priority=urgent", "inbox: urgent only"),
        ("/inbox?view=all&tag=vip", "inbox: tag vip"),
        ("/inbox?view=all&page=20", "inbox: page 21 (offset 1,000)"),
        ("/inbox/rows?view=all", "inbox rows fragment (live refresh)"),
        (case_search.as_str(), "inbox: search by case number"),
        ("/inbox?view=all&q=parcel", "inbox: text search, frequent match"),
        ("/inbox?view=all&sort=sla", "inbox: SLA due first"),
        ("/inbox?view=all&language=fr", "inbox: language fr (no match)"),
        ("/inbox?view=all&sentiment=negative", "inbox: sentiment negative (no match)"),
        (case_page.as_str(), "conversation page"),
    ] {
        timings
            .push(time_get(&http, &format!("{base}{path}"), &cookie, n, name).await.with_context(|| name.to_owned())?);
    }
    // A term no open conversation contains makes the search read every open conversation's
    // messages: the worst case, measured with fewer requests.
    for (q, name) in [
        ("crashes", "inbox: text search, no open match (index)"),
        ("xyzzy", "inbox: text search, no match anywhere"),
        // Shorter than a trigram: the character and pair index (migration 18; before it, a
        // LIKE scan of every open conversation's messages).
        ("qz", "inbox: 2-letter search, no match"),
        ("sh", "inbox: 2-letter, hits only resolved (~33k)"),
        ("%E7%AD%BE%E6%94%B6", "inbox: 2 CJK chars, frequent (签收)"),
        ("%E9%80%80%E6%AC%BE", "inbox: 2 CJK chars, only resolved (退款)"),
        ("e", "inbox: 1-letter search, most messages"),
    ] {
        let url = format!("{base}/inbox?view=all&q={q}");
        timings.push(time_get(&http, &url, &cookie, n.min(30), name).await?);
    }
    let base_p50 = timings[0].p50.max(0.001);
    println!();
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>10}",
        "request (loopback, keep-alive)", "p50 ms", "p99 ms", "max ms", "p50/base"
    );
    for t in &timings {
        println!("{:<44} {:>9.2} {:>9.2} {:>9.2} {:>10.1}", t.name, t.p50, t.p99, t.max, t.p50 / base_p50);
    }

    if args.via == "whatsapp" {
        store
            .upsert_channel(&switchboard_store::ChannelRecord {
                slug: switchboard_domain::ChannelSlug::parse(LIVE_WA_SLUG)?,
                kind: switchboard_domain::ChannelKind::Whatsapp,
                name: "Live WhatsApp".into(),
                callback_url: Some("http://127.0.0.1:9/unused".into()),
                secret: Some(LIVE_WA_SECRET.into()),
                config: serde_json::json!({}),
                created_at: Utc::now(),
            })
            .await?;
    }
    live_latency(&base, &cookie, &token, &args).await?;
    running.stop(Duration::from_secs(30)).await;
    Ok(())
}

/// Offers messages at `rate`/s for `seconds` and times acknowledgement → SSE event.
async fn live_latency(base: &str, cookie: &str, token: &str, args: &UiArgs) -> anyhow::Result<()> {
    let (rate, seconds, webhook) = (args.rate, args.seconds, args.via == "whatsapp");
    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let acked: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let ack_times: Arc<Mutex<Histogram<u64>>> = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let http = reqwest::Client::new();
    let mut stream = http.get(format!("{base}/ui/events")).header("cookie", cookie).send().await?;
    anyhow::ensure!(stream.status().is_success(), "GET /ui/events: {}", stream.status());
    let rx = received.clone();
    let reader = tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            let now = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                if !frame.contains("event: message.created") {
                    continue;
                }
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(data)
                    && let Some(id) = v["message_id"].as_str()
                    && let Ok(mut m) = rx.lock()
                {
                    m.insert(id.to_owned(), now);
                }
            }
        }
    });
    let total = (rate * seconds as f64) as u64;
    let run = format!("live-{}", uuid::Uuid::now_v7().simple());
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = tokio::task::JoinSet::new();
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for i in 0..total {
        tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / rate)).into()).await;
        let permit = sem.clone().acquire_owned().await?;
        let (acked, errors, ack_times) = (acked.clone(), errors.clone(), ack_times.clone());
        // 200 recurring customers: new conversations and messages in existing ones.
        let text = TEXTS[(i % TEXTS.len() as u64) as usize];
        let request = if webhook {
            // A signed single-message Cloud API webhook, as Meta sends it.
            let c = i % 200;
            let body = crate::bench::whatsapp_text_webhook(
                &format!("1650777{c:04}"),
                &format!("Live {c}"),
                &format!("wamid.{run}{i}"),
                Utc::now().timestamp(),
                text,
            );
            http.post(format!("{base}/webhooks/{LIVE_WA_SLUG}"))
                .header("content-type", "application/json")
                .header(
                    "x-hub-signature-256",
                    switchboard_channels::meta::signature::sign(LIVE_WA_SECRET.as_bytes(), &body),
                )
                .body(body)
        } else {
            http.post(format!("{base}/api/v1/inbound")).bearer_auth(token).json(&serde_json::json!({
                "channel": "bench", "external_id": format!("{run}-{i}"),
                "contact": {"handle": format!("live-{}", i % 200), "name": format!("Live {}", i % 200)},
                "text": text, "sent_at": Utc::now().to_rfc3339(),
            }))
        };
        tasks.spawn(async move {
            let _permit = permit;
            let sent = Instant::now();
            match request.send().await {
                Ok(r) if r.status().is_success() => {
                    let at = Instant::now();
                    if let Ok(mut h) = ack_times.lock() {
                        let _ = h.record(at.duration_since(sent).as_micros().max(1) as u64);
                    }
                    // The API answers one `message_id`; the webhook its `message_ids`.
                    if let Ok(v) = r.json::<serde_json::Value>().await
                        && let Some(id) = v["message_id"].as_str().or_else(|| v["message_ids"][0].as_str())
                        && let Ok(mut m) = acked.lock()
                    {
                        m.insert(id.to_owned(), at);
                    }
                }
                _ => {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let offered_secs = start.elapsed().as_secs_f64();
    // Let the last events through.
    let wait = Instant::now();
    loop {
        let (a, r) = (acked.lock().map(|m| m.len()).unwrap_or(0), received.lock().map(|m| m.len()).unwrap_or(0));
        if r >= a || wait.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.abort();
    let acked = acked.lock().map(|m| m.clone()).unwrap_or_default();
    let received = received.lock().map(|m| m.clone()).unwrap_or_default();
    let mut h = Histogram::<u64>::new(3)?;
    let mut missing = 0;
    for (id, a) in &acked {
        match received.get(id) {
            // The event can beat the HTTP response to the client: that is zero latency.
            Some(r) => h.record(r.saturating_duration_since(*a).as_micros().max(1) as u64)?,
            None => missing += 1,
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let acks = ack_times.lock().map(|h| h.clone()).unwrap_or(Histogram::<u64>::new(3)?);
    println!();
    println!(
        "live: {} messages offered at {rate}/s over {offered_secs:.1} s ({}), {} acknowledged, {} errors, {missing} events missing",
        total,
        if webhook { "signed WhatsApp webhooks" } else { "POST /api/v1/inbound" },
        acked.len(),
        errors.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "ack → message.created on /ui/events: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    );
    println!(
        "for comparison, request → acknowledgement of the same messages: p50 {:.2} ms, p99 {:.2} ms",
        ms(acks.value_at_quantile(0.5)),
        ms(acks.value_at_quantile(0.99))
    );
    Ok(())
}
