//! `switchboard demo`: starts, feeds conversations through the real API, delivers replies, prints
//! the login and a token that works, and stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// Kills the demo if the test fails before stopping it.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

async fn get(client: &reqwest::Client, url: &str, token: &str) -> Value {
    let resp = client.get(url).bearer_auth(token).send().await.unwrap();
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_feeds_realistic_conversations_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("demo-data");
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let child = Command::new(BIN)
        .args(["demo", "--data-dir"])
        .arg(&data_dir)
        .args(["--listen", "127.0.0.1:0", "--conversations", "40"])
        // No switchboard.toml from the working directory, no config from the environment.
        .current_dir(dir.path())
        .env_remove("SWITCHBOARD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut demo = Demo(child);
    let stdout = demo.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keeps draining stdout until the demo exits so it can never block on a full pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    let stderr_tail = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut printed = Vec::new();
    let url = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some((_, url)) = line.split_once("is running at ") {
                    printed.push(line.clone());
                    break url.trim().to_owned();
                }
                printed.push(line);
            }
            Err(e) => panic!("the demo did not start ({e}); stdout: {printed:#?}; stderr: {}", stderr_tail()),
        }
    };
    // The rest of the banner follows at once.
    let mut token = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        if let Some((_, t)) = line.split_once("API token (admin):") {
            token = Some(t.trim().to_owned());
        }
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    let token = token.unwrap_or_else(|| panic!("no token in {text}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(token.starts_with("sb_"), "{token}");
    assert!(text.contains("admin@demo.switchboard / switchboard-demo"), "{text}");
    assert!(text.contains("lin@demo.switchboard, sam@demo.switchboard"), "{text}");
    assert!(text.contains("replies delivered"), "{text}");
    assert!(text.contains("from the Graph API simulator"), "{text}");
    assert!(text.contains("from the Bot API simulator"), "{text}");
    assert!(data_dir.join("switchboard.db").is_file());

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut conversations = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let page_url = match &cursor {
            Some(c) => format!("{url}/api/v1/conversations?limit=7&cursor={c}"),
            None => format!("{url}/api/v1/conversations?limit=7"),
        };
        let page = get(&client, &page_url, &token).await;
        conversations.extend(page["items"].as_array().unwrap().iter().cloned());
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "pagination did not end");
    assert!(conversations.len() >= 40, "{} conversations", conversations.len());
    assert!(conversations.iter().any(|c| c["status"] == "resolved"), "none resolved");
    let channels: std::collections::HashSet<&str> =
        conversations.iter().filter_map(|c| c["channel"].as_str()).collect();
    assert!(channels.len() >= 2, "{channels:?}");
    for meta in ["whatsapp", "messenger", "instagram", "telegram"] {
        assert!(channels.contains(meta), "no {meta} conversation: {channels:?}");
    }

    let (mut english, mut chinese, mut sent, mut notes) = (false, false, false, false);
    for c in &conversations {
        let id = c["id"].as_str().unwrap();
        let detail = get(&client, &format!("{url}/api/v1/conversations/{id}"), &token).await;
        for m in detail["messages"].as_array().unwrap() {
            let text = m["text"].as_str().unwrap_or_default();
            match m["direction"].as_str() {
                Some("inbound") if has_cjk(text) => chinese = true,
                Some("inbound") if text.contains(' ') => english = true,
                Some("outbound") if m["delivery_status"] == "sent" => sent = true,
                Some("note") => notes = true,
                _ => {}
            }
        }
    }
    assert!(english, "no English customer message");
    assert!(chinese, "no Chinese customer message");
    assert!(sent, "no reply reached delivery_status sent");
    assert!(notes, "no internal note");

    // SIGTERM: the demo stops cleanly and exits 0.
    let pid = demo.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = demo.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}; stderr: {}", stderr_tail());
}
