//! `switchboard bench widget`: the website chat widget under many open visitors.
//!
//! 1. Idle connections: `--connections` visitors each hold `GET /widget/v1/stream` open (real
//!    server, SQLite, loopback). Memory per connection is the growth of this process's resident
//!    set (`VmRSS` in /proc/self/status: the server alone, the clients are a child process) from
//!    before the connections to after them, divided by their number.
//! 2. Round trip: while those stay open, `--messages` visitor messages are offered at `--rate`
//!    per second (`POST /widget/v1/messages`); for each, the time from sending the POST to its
//!    `message.created` event on an agent's `GET /api/v1/events` stream.
//!
//! The clients live in a child process (this same binary), so the server's resident set is
//! measured alone and each process needs one file descriptor per connection: 10,000 connections
//! fit the common 20,000 limit; for more, raise it (`ulimit -n 65536`); the bench checks and says
//! so.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use hdrhistogram::Histogram;
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_store::{ChannelRecord, StoreOptions};
use switchboard_web::{AppState, WebConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Options of `bench widget`.
#[derive(Debug, Args)]
pub struct WidgetArgs {
    /// Idle widget connections held open at once.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Visitor messages in the round-trip run (0 skips it).
    #[arg(long, default_value_t = 2_000)]
    pub messages: u64,
    /// Offered visitor messages per second in the round-trip run.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds the idle connections are held before the round-trip run.
    #[arg(long, default_value_t = 5)]
    pub hold_seconds: u64,
    /// Give up any phase after this many seconds.
    #[arg(long, default_value_t = 180)]
    pub max_seconds: u64,
    /// Print the results as JSON as well.
    #[arg(long)]
    pub json: bool,
    /// Internal: run as the client process holding the connections open to this server.
    #[arg(long, hide = true)]
    pub clients_for: Option<SocketAddr>,
    /// Internal: the client process's file of visitor tokens, one per line.
    #[arg(long, hide = true)]
    pub tokens: Option<std::path::PathBuf>,
}

const KEY: &str = "pk_bench";

/// This process's resident set size in KiB.
fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The soft limit on open files.
fn open_files_limit() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    s.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

/// Opens one stream and reads up to the end of the response headers; the socket stays open.
async fn open_stream(addr: SocketAddr, token: &str) -> anyhow::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "GET /widget/v1/stream?key={KEY}&token={token}&after=0 HTTP/1.1\r\nHost: {addr}\r\n\
         Accept: text/event-stream\r\nOrigin: https://shop.example\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = [0u8; 1024];
    let mut head = Vec::new();
    loop {
        let n = s.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "connection closed before the response");
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    anyhow::ensure!(head.starts_with(b"HTTP/1.1 200"), "stream refused: {}", String::from_utf8_lossy(&head));
    Ok(s)
}

/// The child process: opens a stream per token, says `ready <open> <failed>`, holds them until
/// its stdin closes.
async fn hold_clients(addr: SocketAddr, tokens: &std::path::Path) -> anyhow::Result<()> {
    let tokens: Vec<String> =
        std::fs::read_to_string(tokens)?.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let mut opening = tokio::task::JoinSet::new();
    for tok in tokens {
        let permit = sem.clone().acquire_owned().await?;
        opening.spawn(async move {
            let _permit = permit;
            open_stream(addr, &tok).await
        });
    }
    let (mut conns, mut failed) = (Vec::new(), 0usize);
    while let Some(r) = opening.join_next().await {
        match r? {
            Ok(s) => conns.push(s),
            Err(e) => {
                if failed == 0 {
                    eprintln!("  a stream failed to open: {e:#}");
                }
                failed += 1;
            }
        }
    }
    println!("ready {} {failed}", conns.len());
    // Held until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    })
    .await?;
    drop(conns);
    Ok(())
}

/// Runs `bench widget`.
pub async fn run(args: WidgetArgs) -> anyhow::Result<()> {
    if let (Some(addr), Some(tokens)) = (args.clients_for, &args.tokens) {
        return hold_clients(addr, tokens).await;
    }
    let need = args.connections as u64 + 256;
    if let Some(limit) = open_files_limit()
        && limit < need
    {
        anyhow::bail!(
            "{} connections need about {need} file descriptors per process, the limit is {limit}: \
             raise it first (`ulimit -n 65536`) or pass a smaller --connections",
            args.connections
        );
    }
    let deadline = Duration::from_secs(args.max_seconds);
    let tmp = tempfile::tempdir()?;
    let store =
        switchboard_store::open(tmp.path().join("bench.db").to_str().unwrap_or("bench.db"), &StoreOptions::default())
            .await?;
    store
        .upsert_channel(&ChannelRecord {
            slug: ChannelSlug::parse("bench")?,
            kind: ChannelKind::Web,
            name: "Benchmark chat".into(),
            callback_url: None,
            secret: Some("bench-secret".into()),
            // One address opens every connection: lift the per-IP and per-visitor limits.
            config: serde_json::json!({"public_key": KEY, "ip_per_minute": 100_000_000u64,
                "visitor_per_minute": 100_000_000u64}),
            created_at: Utc::now(),
        })
        .await?;
    let token = crate::bench::admin_token(&store).await?;
    let engine = Engine::start(store.clone(), EngineConfig::default()).await;
    let state = AppState::new(engine.clone(), WebConfig::default());
    let app = switchboard_web::router(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = state.shutdown.clone();
    let server = tokio::spawn(async move {
        axum::serve(switchboard_web::nodelay(listener), app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    println!("bench widget: SQLite (WAL, synchronous=FULL), {} connections, loopback", args.connections);

    // Visitors.
    let t = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        let permit = sem.clone().acquire_owned().await?;
        let (http, url) = (http.clone(), format!("{base}/widget/v1/session"));
        tasks.spawn(async move {
            let _permit = permit;
            let r = http.post(url).json(&serde_json::json!({"key": KEY})).send().await?;
            anyhow::ensure!(r.status().is_success(), "session: {}", r.status());
            let v: serde_json::Value = r.json().await?;
            v["token"].as_str().map(str::to_owned).context("no token in the session answer")
        });
    }
    let mut tokens = Vec::with_capacity(args.connections);
    while let Some(r) = tasks.join_next().await {
        tokens.push(r??);
        anyhow::ensure!(t.elapsed() < deadline, "creating visitors took longer than --max-seconds");
    }
    println!("  {} visitors created in {:.1} s", tokens.len(), t.elapsed().as_secs_f64());

    // Idle connections, held by a child process.
    let tokens_file = tmp.path().join("tokens.txt");
    std::fs::write(&tokens_file, tokens.join("\n"))?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib().unwrap_or(0);
    let t = Instant::now();
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "widget", "--clients-for", &addr.to_string(), "--tokens"])
        .arg(&tokens_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start the client process")?;
    let stdout = child.stdout.take().context("no stdout of the client process")?;
    let ready = tokio::time::timeout(
        deadline,
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
        }),
    )
    .await
    .context("opening connections took longer than --max-seconds")???;
    let mut parts = ready.split_whitespace().skip(1).map(|n| n.parse::<usize>().unwrap_or(0));
    let (opened, failed) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    anyhow::ensure!(ready.starts_with("ready"), "the client process failed: {ready:?}");
    let open_secs = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(args.hold_seconds)).await;
    let after = rss_kib().unwrap_or(0);
    let held = state.widget.hub.open_streams();
    let per_conn = if opened == 0 { 0.0 } else { (after.saturating_sub(before)) as f64 * 1024.0 / opened as f64 };
    println!(
        "  {opened} streams open ({failed} failed) in {open_secs:.1} s; {held} held by the server after {} s idle",
        args.hold_seconds
    );
    println!(
        "  server RSS {:.1} MiB before, {:.1} MiB after: {:.1} KiB per connection",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        per_conn / 1024.0
    );

    // Round trip: visitor POST → the agent's SSE event.
    let mut rt = None;
    if args.messages > 0 {
        rt = Some(round_trip(&http, &base, &token, &tokens, &args).await?);
    }
    drop(child.stdin.take());
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    state.shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    engine.shutdown(Duration::from_secs(10)).await;
    if args.json {
        let mut v = serde_json::json!({
            "connections": args.connections, "open": opened, "held": held, "failed": failed, "open_seconds": open_secs,
            "rss_before_kib": before, "rss_after_kib": after, "bytes_per_connection": per_conn,
        });
        if let Some(r) = rt {
            v["round_trip"] = r;
        }
        println!("{v}");
    }
    Ok(())
}

async fn round_trip(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    visitors: &[String],
    args: &WidgetArgs,
) -> anyhow::Result<serde_json::Value> {
    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut stream = http.get(format!("{base}/api/v1/events")).bearer_auth(token).send().await?;
    anyhow::ensure!(stream.status().is_success(), "GET /api/v1/events: {}", stream.status());
    let rx = received.clone();
    let reader = tokio::spawn(async move {
        let mut buf = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            let now = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                if !frame.contains("message.created") {
                    continue;
                }
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data:"))
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim_start())
                    && let Some(id) = v["message_id"].as_str()
                    && let Ok(mut m) = rx.lock()
                {
                    m.entry(id.to_owned()).or_insert(now);
                }
            }
        }
    });
    // A few hundred visitors chat; the rest stay idle.
    let active = visitors.len().clamp(1, 500);
    let start = Instant::now();
    let deadline = Duration::from_secs(args.max_seconds);
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.messages {
        if start.elapsed() > deadline {
            break;
        }
        tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / args.rate)).into()).await;
        let permit = sem.clone().acquire_owned().await?;
        let body = serde_json::json!({"key": KEY, "token": visitors[i as usize % active], "client_id": format!("rt-{i}"),
            "text": "Hi, my order #48213 has not arrived yet. 能帮我查一下吗？"});
        let (http, url, sent, errors) =
            (http.clone(), format!("{base}/widget/v1/messages"), sent.clone(), errors.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let t0 = Instant::now();
            match http.post(url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    if let Ok(v) = r.json::<serde_json::Value>().await
                        && let Some(id) = v["message_id"].as_str()
                        && let Ok(mut m) = sent.lock()
                    {
                        m.insert(id.to_owned(), t0);
                    }
                }
                _ => {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let offered = start.elapsed().as_secs_f64();
    let wait = Instant::now();
    loop {
        let (s, r) = (sent.lock().map(|m| m.len()).unwrap_or(0), received.lock().map(|m| m.len()).unwrap_or(0));
        if r >= s || wait.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.abort();
    let sent = sent.lock().map(|m| m.clone()).unwrap_or_default();
    let received = received.lock().map(|m| m.clone()).unwrap_or_default();
    let mut h = Histogram::<u64>::new(3)?;
    let mut missing = 0u64;
    for (id, t0) in &sent {
        match received.get(id) {
            Some(at) => h.record(at.saturating_duration_since(*t0).as_micros().max(1) as u64)?,
            None => missing += 1,
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    println!();
    println!(
        "round trip: {} visitor messages offered at {}/s over {offered:.1} s by {active} visitors, {} acknowledged, \
         {errors} errors, {missing} events missing",
        args.messages,
        args.rate,
        sent.len()
    );
    println!(
        "visitor POST → message.created on the agent's /api/v1/events: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
    Ok(serde_json::json!({
        "messages": args.messages, "rate": args.rate, "acknowledged": sent.len(), "errors": errors, "missing": missing,
        "p50_ms": ms(h.value_at_quantile(0.5)), "p99_ms": ms(h.value_at_quantile(0.99)), "max_ms": ms(h.max()),
    }))
}
