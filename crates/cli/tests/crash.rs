//! Crash test: `kill -9` the server mid-stream (and, separately, SIGTERM it mid-stream); every
//! acknowledged event must be stored exactly once and threaded after a restart.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const CONTACTS: u64 = 40;

fn cli(config: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--config").arg(config).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `switchboard serve` and returns it with its base URL.
fn serve(config: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("switchboard listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(30)).expect("server did not start");
    (child, url)
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

fn event(i: u64) -> Value {
    json!({"channel": "crash", "external_id": format!("ev-{i}"), "contact": {"handle": format!("cust-{}", i % CONTACTS)},
           "text": format!("message number {i}"), "sent_at": "2026-11-25T10:00:00Z"})
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGKILL: no chance to clean up.
    Kill,
    /// SIGTERM: graceful shutdown must answer or refuse every request, never lose an answered one.
    Term,
}

fn terminate(child: &mut Child) {
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    let stopped = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "serve exited with {status}");
            return;
        }
        assert!(stopped.elapsed() < Duration::from_secs(30), "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_exactly_once() {
    interrupted_stream(Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_answers_only_what_it_stored() {
    interrupted_stream(Stop::Term).await;
}

async fn interrupted_stream(stop: Stop) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[log]\nlevel = \"warn\"\n[[channels]]\nslug = \"crash\"\nkind = \"api\"\ncallback_url = \"http://127.0.0.1:9/unused\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    cli(&config, &["admin", "create-user", "--email", "ops@x.io", "--name", "Ops", "--role", "admin"]);
    let token = cli(&config, &["admin", "create-token", "--email", "ops@x.io"]).trim().to_owned();

    let (mut child, base) = serve(&config);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let acked: Arc<Mutex<HashMap<u64, (String, String)>>> = Arc::default();
    let total = 20_000u64;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (http, base, token, acked, next) = (http.clone(), base.clone(), token.clone(), acked.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let r = http.post(format!("{base}/api/v1/inbound")).bearer_auth(&token).json(&event(i)).send().await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        let v: Value = resp.json().await.unwrap();
                        let ids =
                            (v["event_id"].as_str().unwrap().to_owned(), v["message_id"].as_str().unwrap().to_owned());
                        acked.lock().unwrap().insert(i, ids);
                    }
                    _ => return, // The server is gone.
                }
            }
        }));
    }
    // Stop it mid-stream.
    let start = Instant::now();
    while acked.lock().unwrap().len() < 1500 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    match stop {
        Stop::Kill => {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        Stop::Term => terminate(&mut child),
    }
    for s in senders {
        let _ = s.await;
    }
    let acked = acked.lock().unwrap().clone();
    let sent = next.load(std::sync::atomic::Ordering::Relaxed).min(total);
    assert!(acked.len() >= 1500, "only {} acks before the kill", acked.len());
    assert!(sent < total, "the kill came after the stream ended");

    // Restart on the same data.
    let (mut child, base) = serve(&config);
    // Every acknowledged event is there, exactly once: redelivery is recognised with the same ids.
    for (i, (eid, mid)) in &acked {
        let v: Value = http
            .post(format!("{base}/api/v1/inbound"))
            .bearer_auth(&token)
            .json(&event(*i))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["duplicate"], true, "acked event {i} was lost");
        assert_eq!(v["event_id"].as_str().unwrap(), eid);
        assert_eq!(v["message_id"].as_str().unwrap(), mid);
    }
    // The pipeline finishes threading everything that was committed.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let backlog = m
            .lines()
            .find(|l| l.starts_with("switchboard_pipeline_backlog "))
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("1")
            .to_owned();
        if backlog == "0" {
            break;
        }
        assert!(Instant::now() < deadline, "pipeline did not finish: backlog {backlog}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each stored event became exactly one message, and every acked one is among them.
    let mut messages: HashMap<String, u32> = HashMap::new();
    let mut message_ids = HashSet::new();
    let mut cursor = String::new();
    loop {
        let page = get_json(&http, &format!("{base}/api/v1/conversations?limit=200&cursor={cursor}"), &token).await;
        for c in page["items"].as_array().unwrap() {
            let d =
                get_json(&http, &format!("{base}/api/v1/conversations/{}", c["id"].as_str().unwrap()), &token).await;
            for m in d["messages"].as_array().unwrap() {
                *messages.entry(m["provider_message_id"].as_str().unwrap().to_owned()).or_default() += 1;
                message_ids.insert(m["id"].as_str().unwrap().to_owned());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert!(messages.values().all(|n| *n == 1), "an event was threaded twice");
    for (i, (_, mid)) in &acked {
        assert!(messages.contains_key(&format!("ev-{i}")), "acked event {i} has no message");
        assert!(message_ids.contains(mid), "acked event {i} has another message id");
    }
    assert!(messages.len() >= acked.len() && messages.len() as u64 <= sent);
    // One conversation per customer: threading survived the crash too.
    let convs = get_json(&http, &format!("{base}/api/v1/conversations?limit=200"), &token).await;
    assert_eq!(convs["items"].as_array().unwrap().len() as u64, CONTACTS);

    terminate(&mut child);
}
