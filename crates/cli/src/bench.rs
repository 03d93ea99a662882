//! `switchboard bench ingest`: durable ingest throughput and acknowledgement latency, measured
//! against a bare axum handler in the same run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_store::{ChannelRecord, NewUser, StoreOptions};
use tokio::net::{TcpListener, TcpStream};

use crate::config::Config;
use crate::serve;

/// What to benchmark.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// `POST /api/v1/inbound` (or, with `--channel whatsapp`, signed WhatsApp webhooks on
    /// `/webhooks/{slug}`) on the real server vs a bare handler.
    Ingest(IngestArgs),
    /// Agent UI: inbox page time on a large database, ingest → live event latency.
    Ui(crate::bench_ui::UiArgs),
    /// Triage enrichment (language, sentiment, intent, urgency, PII) on one core.
    Nlp(crate::nlp::BenchNlpArgs),
    /// Automation rule evaluation (1,000 rules per message) vs a naive interpreter.
    Rules(crate::bench_routing::RulesArgs),
    /// SLA due-time computation in business hours vs calendar time.
    Sla(crate::bench_routing::SlaArgs),
    /// Website chat widget: idle connections held open (memory each) and visitor → agent round trip.
    Widget(crate::bench_widget::WidgetArgs),
    /// Quality metrics of a period over many conversations vs a plain `COUNT(*)` (SQLite).
    Metrics(crate::report::BenchMetricsArgs),
    /// Knowledge base: indexing throughput, search latency, bot decisions per second.
    Kb(crate::bench_kb::KbBenchArgs),
    /// Weekly and monthly reports from daily rollups over millions of generated messages.
    Reports(crate::bench_reports::ReportsArgs),
    /// Ingest throughput with the rollup job running vs switched off, in the same run.
    RollupIngest(crate::bench_reports::RollupIngestArgs),
}

/// Options of `bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Events per closed-loop throughput run.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Concurrent keep-alive HTTP/1.1 connections.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Offered rate of the paced latency run (events/s); 0 skips it.
    #[arg(long, default_value_t = 5000.0)]
    pub paced_rate: f64,
    /// Events in the paced latency run.
    #[arg(long, default_value_t = 25_000)]
    pub paced_events: u64,
    /// PostgreSQL server to run on (a scratch database is created and dropped); default SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Stop a run after this many seconds whatever its count.
    #[arg(long, default_value_t = 120)]
    pub max_seconds: u64,
    /// Concurrent group-commit writers (default: 1 on SQLite, 4 on PostgreSQL).
    #[arg(long)]
    pub writers: Option<usize>,
    /// Do not run the pipeline worker during the benchmark (measures the ingest path alone).
    #[arg(long)]
    pub no_pipeline: bool,
    /// Do not run the routing job (automation, assignment, SLA clocks) during the benchmark.
    #[arg(long)]
    pub no_routing: bool,
    /// Seconds to wait after the throughput run before the paced run (lets WAL checkpoints settle).
    #[arg(long, default_value_t = 0)]
    pub settle_secs: u64,
    /// Print the results as JSON as well.
    #[arg(long)]
    pub json: bool,
    /// `api` (`POST /api/v1/inbound`), `whatsapp` (signed single-message WhatsApp Cloud API
    /// webhooks), `x` (signed X Account Activity mentions) or `telegram` (Bot API updates with the
    /// webhook secret token); verification and parsing included.
    #[arg(long, default_value = "api")]
    pub channel: String,
}

/// App secret the WhatsApp benchmark signs its webhooks with.
const BENCH_APP_SECRET: &str = "bench-app-secret";

/// Runs a benchmark.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(args).await,
        BenchCommand::Ui(args) => crate::bench_ui::run(args).await,
        BenchCommand::Nlp(args) => tokio::task::spawn_blocking(move || crate::nlp::bench(args)).await?,
        BenchCommand::Rules(args) => crate::bench_routing::rules(args),
        BenchCommand::Sla(args) => crate::bench_routing::sla(args),
        BenchCommand::Widget(args) => crate::bench_widget::run(args).await,
        BenchCommand::Metrics(args) => crate::report::bench(args).await,
        BenchCommand::Kb(args) => tokio::task::spawn_blocking(move || crate::bench_kb::bench(args)).await?,
        BenchCommand::Reports(args) => crate::bench_reports::reports(args).await,
        BenchCommand::RollupIngest(args) => crate::bench_reports::rollup_ingest(args).await,
    }
}

/// Creates the benchmarks' admin user and returns an API token for it.
pub(crate) async fn admin_token(store: &switchboard_store::DynStore) -> anyhow::Result<String> {
    store
        .create_user(&NewUser {
            email: "bench@localhost".into(),
            name: "Bench".into(),
            role: Role::Admin,
            password_hash: None,
        })
        .await?;
    crate::admin::create_token(store, "bench@localhost", "bench").await
}

/// Creates the API channel `bench` the benchmarks post to (its replies go nowhere).
pub(crate) async fn api_channel(store: &switchboard_store::DynStore) -> anyhow::Result<()> {
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("bench")?,
            kind: ChannelKind::Api,
            name: "Benchmark".into(),
            callback_url: Some("http://127.0.0.1:9/unused".into()),
            secret: None,
            config: serde_json::json!({}),
            created_at: chrono::Utc::now(),
        })
        .await?;
    Ok(())
}

/// Results of one load run.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RunResult {
    name: String,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    seconds: f64,
    pub(crate) per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
}

pub(crate) struct Load {
    pub(crate) addr: SocketAddr,
    pub(crate) token: String,
    pub(crate) run_id: String,
    pub(crate) total: u64,
    pub(crate) concurrency: usize,
    pub(crate) rate: Option<f64>,
    pub(crate) deadline: Duration,
    /// Post signed WhatsApp webhooks with this app secret instead of API events.
    pub(crate) whatsapp_secret: Option<String>,
    /// With a secret: `x` posts signed X Account Activity deliveries, `telegram` Bot API updates
    /// with the secret token, anything else WhatsApp webhooks.
    pub(crate) channel: String,
}

/// The brand account the X benchmark's deliveries are for.
const BENCH_X_USER: &str = "2244994945";

/// An X Account Activity delivery carrying one mention of the brand, as X sends it (v1.1 post
/// object with numeric and string ids).
fn x_body_for(run_id: &str, i: u64) -> Bytes {
    let c = i % 5000;
    let user = 3_001_969_357u64 + c;
    let body = serde_json::json!({"for_user_id": BENCH_X_USER, "user_has_blocked": "false", "tweet_create_events": [{
        "created_at": "Wed Nov 25 10:00:00 +0000 2026", "id_str": format!("{run_id}{i}"),
        "text": "@SwitchboardCo my order #48213 has not arrived yet and tracking shows nothing since Monday. 能帮我查一下吗？",
        "source": "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>", "truncated": false,
        "in_reply_to_status_id": null, "in_reply_to_status_id_str": null, "in_reply_to_user_id_str": null,
        "user": {"id": user, "id_str": user.to_string(), "name": format!("Customer {c}"), "screen_name": format!("customer{c}"),
            "protected": false, "verified": false, "followers_count": 22, "friends_count": 45},
        "is_quote_status": false, "lang": "en", "timestamp_ms": "1764064800000",
        "entities": {"hashtags": [], "urls": [], "symbols": [],
            "user_mentions": [{"screen_name": "SwitchboardCo", "id": 2244994945u64, "id_str": BENCH_X_USER, "indices": [0, 14]}]}}]});
    Bytes::from(body.to_string())
}

/// A WhatsApp Cloud API webhook carrying one text message (`message_id`, sent at `timestamp`, Unix
/// seconds) from `wa_id` named `name`, as Meta sends it (non-ASCII escaped).
pub(crate) fn whatsapp_text_webhook(wa_id: &str, name: &str, message_id: &str, timestamp: i64, text: &str) -> Vec<u8> {
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": message_id, "timestamp": timestamp.to_string(), "type": "text",
                "text": {"body": text}}]},
        "field": "messages"}]}]});
    switchboard_channels::meta::simulator::meta_json(&body)
}

/// The ingest benchmark's WhatsApp webhook: one message of 5,000 recurring customers.
fn whatsapp_body_for(run_id: &str, i: u64) -> Bytes {
    let c = i % 5000;
    Bytes::from(whatsapp_text_webhook(
        &format!("1650555{c:04}"),
        &format!("Customer {c}"),
        &format!("wamid.{run_id}{i}"),
        1_764_064_800,
        "Hi, my order #48213 has not arrived yet and the tracking page shows no update since Monday. 能帮我查一下吗？",
    ))
}

/// A Telegram Bot API update carrying one private-chat text message, as Telegram delivers it.
/// Update ids are integers: each run gets its own range, derived from its id.
fn telegram_body_for(run_id: &str, i: u64) -> Bytes {
    let range = run_id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % 1_000_000;
    let c = i % 5000;
    let user = 5_000_000_000u64 + c;
    // Messages are deduplicated on (chat, message id): ids are unique per run as well.
    let id = range * 10_000_000 + i;
    let body = serde_json::json!({"update_id": id, "message": {
        "message_id": id, "date": 1_764_064_800u64,
        "from": {"id": user, "is_bot": false, "first_name": format!("Customer {c}"), "username": format!("customer{c}"), "language_code": "en"},
        "chat": {"id": user, "first_name": format!("Customer {c}"), "username": format!("customer{c}"), "type": "private"},
        "text": "Hi, my order #48213 has not arrived yet and the tracking page shows no update since Monday. 能帮我查一下吗？"}});
    Bytes::from(body.to_string())
}

fn body_for(run_id: &str, i: u64) -> Bytes {
    // A realistic small message: a few hundred customers, some multi-message threads.
    let body = serde_json::json!({
        "channel": "bench",
        "external_id": format!("{run_id}-{i}"),
        "contact": {"handle": format!("customer-{}", i % 5000), "name": format!("Customer {}", i % 5000)},
        "text": "Hi, my order #48213 has not arrived yet and the tracking page shows no update since Monday. Can you help?",
        "sent_at": "2026-11-25T10:00:00Z",
    });
    Bytes::from(body.to_string())
}

async fn drive(load: Arc<Load>) -> anyhow::Result<(Histogram<u64>, u64, u64, Duration)> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for _ in 0..load.concurrency {
        let (load, next) = (load.clone(), next.clone());
        tasks.push(tokio::spawn(async move { connection(load, next, start).await }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let (mut ok, mut errors) = (0, 0);
    for t in tasks {
        let (h, o, e) = t.await??;
        hist.add(h)?;
        ok += o;
        errors += e;
    }
    Ok((hist, ok, errors, start.elapsed()))
}

async fn connection(
    load: Arc<Load>,
    next: Arc<AtomicU64>,
    start: Instant,
) -> anyhow::Result<(Histogram<u64>, u64, u64)> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let (mut ok, mut errors) = (0u64, 0u64);
    let stream = TcpStream::connect(load.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    tokio::time::sleep_until(start.into()).await;
    let auth = format!("Bearer {}", load.token);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= load.total || start.elapsed() > load.deadline {
            break;
        }
        // Paced runs measure from the scheduled send time, so queueing delay is not hidden.
        let t0 = match load.rate {
            Some(rate) => {
                let at = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        let req = match &load.whatsapp_secret {
            None => hyper::Request::post("/api/v1/inbound")
                .header(hyper::header::HOST, load.addr.to_string())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header(hyper::header::AUTHORIZATION, &auth)
                .body(Full::new(body_for(&load.run_id, i)))?,
            Some(secret) if load.channel == "telegram" => hyper::Request::post("/webhooks/bench")
                .header(hyper::header::HOST, load.addr.to_string())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header("x-telegram-bot-api-secret-token", secret.as_str())
                .body(Full::new(telegram_body_for(&load.run_id, i)))?,
            Some(secret) if load.channel == "x" => {
                let body = x_body_for(&load.run_id, i);
                hyper::Request::post("/webhooks/bench")
                    .header(hyper::header::HOST, load.addr.to_string())
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .header(
                        switchboard_channels::x::signature::HEADER,
                        switchboard_channels::x::signature::sign(secret.as_bytes(), &body),
                    )
                    .body(Full::new(body))?
            }
            Some(secret) => {
                let body = whatsapp_body_for(&load.run_id, i);
                hyper::Request::post("/webhooks/bench")
                    .header(hyper::header::HOST, load.addr.to_string())
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .header(
                        "x-hub-signature-256",
                        switchboard_channels::meta::signature::sign(secret.as_bytes(), &body),
                    )
                    .body(Full::new(body))?
            }
        };
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let _ = resp.into_body().collect().await?;
        hist.record(t0.elapsed().as_micros().max(1) as u64)?;
        if status.is_success() {
            ok += 1;
        } else {
            errors += 1;
        }
    }
    Ok((hist, ok, errors))
}

fn summarize(name: &str, hist: &Histogram<u64>, ok: u64, errors: u64, took: Duration) -> RunResult {
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    RunResult {
        name: name.to_owned(),
        ok,
        errors,
        seconds: took.as_secs_f64(),
        per_second: ok as f64 / took.as_secs_f64().max(1e-9),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: hist.max() as f64 / 1000.0,
    }
}

/// Runs the load generator on its own runtime thread so it does not share the server's queue.
pub(crate) async fn run_load(load: Load, name: &str) -> anyhow::Result<RunResult> {
    let load = Arc::new(load);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("loadgen".into()).spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        let out = match rt {
            Ok(rt) => rt.block_on(drive(load)),
            Err(e) => Err(e.into()),
        };
        let _ = tx.send(out);
    })?;
    let (hist, ok, errors, took) = rx.await.context("load generator died")??;
    Ok(summarize(name, &hist, ok, errors, took))
}

/// The app secret to sign with, for `--channel whatsapp`.
fn whatsapp_secret(args: &IngestArgs) -> anyhow::Result<Option<String>> {
    match args.channel.as_str() {
        "api" => Ok(None),
        "whatsapp" | "x" | "telegram" => Ok(Some(BENCH_APP_SECRET.to_owned())),
        other => anyhow::bail!("--channel: {other:?} is not benchmarked (expected api, whatsapp, x or telegram)"),
    }
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    whatsapp_secret(&args)?;
    let deadline = Duration::from_secs(args.max_seconds);
    // 1. The baseline: a bare axum handler that returns 200 and does nothing.
    let bare_listener = TcpListener::bind("127.0.0.1:0").await?;
    let bare_addr = bare_listener.local_addr()?;
    let bare_app = axum::Router::new()
        .route("/api/v1/inbound", axum::routing::post(|| async { axum::http::StatusCode::OK }))
        .route("/webhooks/bench", axum::routing::post(|| async { axum::http::StatusCode::OK }));
    let bare = tokio::spawn(async move { axum::serve(switchboard_web::nodelay(bare_listener), bare_app).await });
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let bare_result = run_load(
        Load {
            addr: bare_addr,
            token: "none".into(),
            run_id: run_id.clone(),
            total: args.events,
            concurrency: args.concurrency,
            rate: None,
            deadline,
            whatsapp_secret: whatsapp_secret(&args)?,
            channel: args.channel.clone(),
        },
        "bare axum handler",
    )
    .await?;
    bare.abort();

    // 2. The real server, production durability, on a fresh database.
    let tmp = tempfile::tempdir()?;
    let mut scratch: Option<(String, String)> = None;
    let mut cfg = Config { data_dir: tmp.path().to_owned(), ..Config::default() };
    cfg.routing.enabled = !args.no_routing;
    if let Some(url) = &args.database_url {
        let (db_url, name) = switchboard_store::postgres::create_scratch_database(url, "sb_bench")
            .await
            .context("creating a scratch database")?;
        cfg.database_url = Some(db_url);
        scratch = Some((url.clone(), name));
    }
    let measured = measure_server(&cfg, &args, &run_id, deadline).await;
    if let Some((admin, name)) = scratch
        && let Err(e) = switchboard_store::postgres::drop_scratch_database(&admin, &name).await
    {
        eprintln!("warning: could not drop scratch database {name}: {e}");
    }
    let (sb_result, paced, threaded_per_second, backlog) = measured?;

    let ratio = sb_result.per_second / bare_result.per_second.max(1e-9);
    println!();
    println!(
        "switchboard bench ingest --channel {}: {} events, {} connections, pipeline {}",
        args.channel,
        args.events,
        args.concurrency,
        if args.no_pipeline { "off" } else { "on" }
    );
    println!(
        "{:<52} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9}",
        "run", "ok", "errors", "events/s", "p50 ms", "p99 ms", "p99.9 ms"
    );
    let mut all = vec![bare_result.clone(), sb_result.clone()];
    all.extend(paced.clone());
    for r in &all {
        println!(
            "{:<52} {:>9} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            r.name, r.ok, r.errors, r.per_second, r.p50_ms, r.p99_ms, r.p999_ms
        );
    }
    println!("ratio to the bare handler: {ratio:.3}");
    if let Some(t) = threaded_per_second {
        println!("threaded into conversations, end to end: {t:.0} events/s");
    }
    println!("events still waiting for the pipeline at the end: {backlog}");
    if args.json {
        println!(
            "{}",
            serde_json::json!({"runs": all, "ratio": ratio, "threaded_per_second": threaded_per_second, "pipeline_backlog": backlog})
        );
    }
    if sb_result.errors > 0 || paced.as_ref().is_some_and(|p| p.errors > 0) {
        anyhow::bail!("some requests failed");
    }
    Ok(())
}

async fn start_with(
    cfg: &Config,
    store: switchboard_store::DynStore,
    listener: TcpListener,
    workers: bool,
) -> anyhow::Result<serve::Running> {
    let mut c = cfg.clone();
    c.channels.clear();
    serve::start_with_workers(&c, store, listener, workers).await
}

/// Runs the throughput and paced runs against the real server; the caller drops the scratch
/// database whatever happens here.
async fn measure_server(
    cfg: &Config,
    args: &IngestArgs,
    run_id: &str,
    deadline: Duration,
) -> anyhow::Result<(RunResult, Option<RunResult>, Option<f64>, i64)> {
    let run_id = run_id.to_owned();
    let backend = if cfg.is_postgres() { "PostgreSQL" } else { "SQLite (WAL, synchronous=FULL)" };
    let opts = StoreOptions { max_connections: if cfg.is_postgres() { 16 } else { 8 }, ..Default::default() };
    let store = switchboard_store::open(&cfg.database_url(), &opts).await?;
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("bench")?,
            kind: match args.channel.as_str() {
                "x" => ChannelKind::X,
                "whatsapp" => ChannelKind::Whatsapp,
                "telegram" => ChannelKind::Telegram,
                _ => ChannelKind::Api,
            },
            name: "Benchmark".into(),
            callback_url: Some("http://127.0.0.1:9/unused".into()),
            secret: whatsapp_secret(args)?,
            config: if args.channel == "x" {
                serde_json::json!({"user_id": BENCH_X_USER})
            } else {
                serde_json::json!({})
            },
            created_at: chrono::Utc::now(),
        })
        .await?;
    let token = admin_token(&store).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut engine_cfg = cfg.clone();
    engine_cfg.log.level = "warn".into();
    engine_cfg.ingest.writers = args.writers;
    let running = start_with(&engine_cfg, store.clone(), listener, !args.no_pipeline).await?;
    let addr = running.addr;
    let sb_result = run_load(
        Load {
            addr,
            token: token.clone(),
            run_id: run_id.clone(),
            total: args.events,
            concurrency: args.concurrency,
            rate: None,
            deadline,
            whatsapp_secret: whatsapp_secret(args)?,
            channel: args.channel.clone(),
        },
        &format!("switchboard ingest ({}), {backend}", args.channel),
    )
    .await?;
    // Let the pipeline catch up, so the paced run measures a server in its steady state, and
    // report how fast events became conversations end to end.
    let mut threaded_per_second = None;
    if !args.no_pipeline {
        let t = Instant::now();
        while store.pipeline_backlog().await.unwrap_or(0) > 0 && t.elapsed() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        threaded_per_second = Some(sb_result.ok as f64 / (sb_result.seconds + t.elapsed().as_secs_f64()));
    }
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let paced = if args.paced_rate > 0.0 {
        Some(
            run_load(
                Load {
                    addr,
                    token,
                    run_id: format!("{run_id}-paced"),
                    total: args.paced_events,
                    concurrency: args.concurrency,
                    rate: Some(args.paced_rate),
                    deadline,
                    whatsapp_secret: whatsapp_secret(args)?,
                    channel: args.channel.clone(),
                },
                &format!("switchboard ingest paced at {} ev/s", args.paced_rate),
            )
            .await?,
        )
    } else {
        None
    };
    let backlog = store.pipeline_backlog().await.unwrap_or(-1);
    running.stop(Duration::from_secs(30)).await;
    Ok((sb_result, paced, threaded_per_second, backlog))
}
