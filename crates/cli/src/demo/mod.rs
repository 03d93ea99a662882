//! `switchboard demo`: a server on a fresh SQLite database, filled with a few hundred realistic
//! conversations (English and Chinese, three API channels) that go through the real ingest path
//! over HTTP. Replies are really delivered by the outbox to a small in-process "brand system".
//! WhatsApp, Messenger and Instagram customers write live through the Graph API simulator.

mod data;
mod meta;
mod routing;
mod telegram;
mod x;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use clap::Args;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, ChannelSlug, Role, UserId};
use switchboard_store::{ChannelRecord, DynStore, NewUser};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use self::data::Intent;
use crate::config::Config;
use crate::{admin, serve};

/// Options of the demo.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo database lives; its `switchboard.db` is deleted and created afresh.
    #[arg(long, default_value = "./demo-data")]
    pub data_dir: PathBuf,
    /// Address to serve on (default: `listen` from the configuration, 127.0.0.1:8080);
    /// `127.0.0.1:0` picks a free port.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// How many conversations to feed.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub conversations: u32,
    /// Seed of the generated content: the same seed gives the same conversations.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// The demo users' password.
const PASSWORD: &str = "switchboard-demo";
/// Requests in flight while feeding.
const CONCURRENCY: usize = 16;
/// Longest wait for the pipeline to thread one message.
const THREADING_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the outbox to deliver the demo's replies.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The three demo users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin = 0,
    Lin = 1,
    Sam = 2,
}

const USERS: [(Who, &str, &str, Role); 3] = [
    (Who::Admin, "admin@demo.switchboard", "Demo Admin", Role::Admin),
    (Who::Lin, "lin@demo.switchboard", "林小雨", Role::Agent),
    (Who::Sam, "sam@demo.switchboard", "Sam Carter", Role::Agent),
];

/// The demo's API channels: slug and display name.
const CHANNELS: [(&str, &str); 3] =
    [("web-shop", "Web shop chat"), ("mobile-app", "Mobile app support"), ("partner-portal", "Partner portal")];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Zh,
}

#[derive(Debug, Clone)]
struct DemoContact {
    channel: &'static str,
    handle: String,
    name: String,
    /// What an English reply calls them.
    first_name: String,
    lang: Lang,
}

#[derive(Debug, Clone)]
struct Reply {
    author: Who,
    text: String,
    idempotency_key: Option<String>,
}

/// Everything that happens to one conversation.
#[derive(Debug, Clone)]
struct Plan {
    idx: usize,
    contact: DemoContact,
    thread_id: Option<String>,
    /// The customer's messages, oldest first.
    messages: Vec<(String, DateTime<Utc>)>,
    assignee: Option<Who>,
    priority: Option<&'static str>,
    tags: Vec<String>,
    team: Option<&'static str>,
    reply: Option<Reply>,
    note: Option<(Who, String)>,
    /// `pending`, `resolved` or `closed`; `None` leaves it open.
    status: Option<&'static str>,
    /// A later customer message that reopens the resolved conversation.
    reopen: Option<String>,
}

impl Plan {
    fn needs_conversation(&self) -> bool {
        self.assignee.is_some()
            || self.priority.is_some()
            || !self.tags.is_empty()
            || self.reply.is_some()
            || self.note.is_some()
            || self.status.is_some()
    }
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn fill(template: &str, order: u32, name: &str) -> String {
    template.replace("{order}", &order.to_string()).replace("{name}", name)
}

fn new_contact(rng: &mut StdRng, taken: &mut HashSet<(&'static str, String)>) -> DemoContact {
    let lang = if rng.random_bool(0.3) { Lang::Zh } else { Lang::En };
    let channel = match rng.random_range(0..100) {
        0..45 => "web-shop",
        45..85 => "mobile-app",
        _ => "partner-portal",
    };
    let (name, first_name, email_base) = match lang {
        Lang::En => {
            let (first, last) = (*pick(rng, data::EN_FIRST_NAMES), *pick(rng, data::EN_LAST_NAMES));
            let base = format!("{}.{}", first.to_lowercase(), last.to_lowercase().replace('\'', ""));
            (format!("{first} {last}"), first.to_owned(), Some(base))
        }
        Lang::Zh => {
            let name = format!("{}{}", pick(rng, data::ZH_SURNAMES), pick(rng, data::ZH_GIVEN_NAMES));
            (name.clone(), name, None)
        }
    };
    loop {
        let handle = match (channel, &email_base) {
            ("web-shop", Some(base)) => format!("{base}{}@example.com", rng.random_range(1..100)),
            ("web-shop", None) => format!("visitor-{:06x}", rng.random_range(0..0x100_0000)),
            ("mobile-app", _) => format!("app-{}", rng.random_range(10_000_000..100_000_000)),
            _ => format!("partner-{}", rng.random_range(1000..10_000)),
        };
        if taken.insert((channel, handle.clone())) {
            return DemoContact { channel, handle, name, first_name, lang };
        }
    }
}

/// Generates the conversations; the same `seed` gives the same content (times are relative to `now`).
fn make_plans(count: u32, seed: u64, now: DateTime<Utc>) -> Vec<Plan> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut contacts: Vec<DemoContact> = Vec::new();
    let mut taken = HashSet::new();
    let mut plans = Vec::with_capacity(count as usize);
    for idx in 0..count as usize {
        // Some contacts come back with a second matter, in a thread of its own.
        let (contact, thread_id) = if !contacts.is_empty() && rng.random_bool(0.12) {
            (pick(&mut rng, &contacts).clone(), Some(format!("ticket-{}", 7000 + idx)))
        } else {
            let c = new_contact(&mut rng, &mut taken);
            contacts.push(c.clone());
            (c, None)
        };
        let order = rng.random_range(100_000..1_000_000u32);
        let zh = contact.lang == Lang::Zh;
        let (intent, opening) = *pick(&mut rng, if zh { data::ZH_OPENINGS } else { data::EN_OPENINGS });
        let first = contact.first_name.as_str();
        let mut texts = vec![fill(opening, order, first)];
        let count = if intent == Intent::Praise {
            1
        } else {
            match rng.random_range(0..100) {
                0..55 => 1,
                55..80 => 2,
                80..93 => 3,
                _ => 4,
            }
        };
        let mut follow_ups = if zh { data::ZH_FOLLOW_UPS } else { data::EN_FOLLOW_UPS }.to_vec();
        follow_ups.shuffle(&mut rng);
        texts.extend(follow_ups.iter().take(count - 1).map(|t| fill(t, order, first)));
        let mut at = now - chrono::Duration::seconds(rng.random_range(3600..14 * 24 * 3600));
        let mut messages = Vec::with_capacity(texts.len());
        for text in texts {
            messages.push((text, at));
            at += chrono::Duration::seconds(rng.random_range(60..20 * 60));
        }

        let agent = if zh || rng.random_bool(0.4) { Who::Lin } else { Who::Sam };
        let reply = rng.random_bool(0.35).then(|| {
            let text = match (zh, rng.random_bool(0.75) || intent == Intent::Praise) {
                (false, true) => {
                    let fits: Vec<&str> =
                        data::EN_REPLIES.iter().filter(|(i, _)| *i == intent).map(|(_, t)| *t).collect();
                    *pick(&mut rng, &fits)
                }
                (true, true) => {
                    let fits: Vec<&str> =
                        data::ZH_REPLIES.iter().filter(|(i, _)| *i == intent).map(|(_, t)| *t).collect();
                    *pick(&mut rng, &fits)
                }
                (false, false) => *pick(&mut rng, data::EN_GENERIC_REPLIES),
                (true, false) => *pick(&mut rng, data::ZH_GENERIC_REPLIES),
            };
            Reply {
                author: agent,
                text: fill(text, order, first),
                idempotency_key: rng.random_bool(0.4).then(|| format!("demo-{seed}-{idx}-reply")),
            }
        });
        let assignee = if reply.is_some() || rng.random_bool(0.2) { Some(agent) } else { None };
        let note = rng.random_bool(0.11).then(|| {
            let text = *pick(&mut rng, if zh { data::ZH_NOTES } else { data::EN_NOTES });
            (assignee.unwrap_or(Who::Admin), text.to_owned())
        });
        let (p_high, p_urgent) = if intent == Intent::Complaint { (0.3, 0.1) } else { (0.1, 0.03) };
        let roll: f64 = rng.random();
        let priority = if roll < p_urgent {
            Some("urgent")
        } else if roll < p_urgent + p_high {
            Some("high")
        } else {
            None
        };
        let mut tags: Vec<String> = Vec::new();
        if rng.random_bool(0.55) {
            tags.extend(intent.tags().iter().map(|t| (*t).to_owned()));
            if rng.random_bool(0.08) {
                tags.push("vip".into());
            }
        }
        let team = if assignee.is_some() || !tags.is_empty() { intent.team() } else { None };
        let roll: f64 = rng.random();
        let status = match reply.is_some() {
            true if roll < 0.55 => Some("resolved"),
            true if roll < 0.65 => Some("closed"),
            true if roll < 0.78 => Some("pending"),
            false if roll < 0.16 => Some("resolved"),
            false if roll < 0.19 => Some("closed"),
            _ => None,
        };
        let reopen = (status == Some("resolved") && intent != Intent::Praise && rng.random_bool(0.2))
            .then(|| (*pick(&mut rng, if zh { data::ZH_REOPENS } else { data::EN_REOPENS })).to_owned());
        plans.push(Plan {
            idx,
            contact,
            thread_id,
            messages,
            assignee,
            priority,
            tags,
            team,
            reply,
            note,
            status,
            reopen,
        });
    }
    plans
}

/// A minimal "brand system": receives reply callbacks, checks their signature, dedupes them by
/// `idempotency-key` and answers with its own message id.
struct BrandSystem {
    addr: SocketAddr,
    secrets: Arc<HashMap<String, String>>,
    task: JoinHandle<std::io::Result<()>>,
}

struct BrandState {
    secrets: Arc<HashMap<String, String>>,
    seen: Mutex<HashMap<String, String>>,
    next: AtomicU64,
}

async fn brand_callback(
    State(st): State<Arc<BrandState>>,
    UrlPath(channel): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let Some(secret) = st.secrets.get(&channel) else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "unknown channel"})));
    };
    let signature = headers.get(switchboard_engine::delivery::SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if signature != Some(switchboard_engine::delivery::sign(secret.as_bytes(), &body).as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "bad signature"})));
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).filter(|k| !k.is_empty()) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "idempotency-key header missing"})));
    };
    let mut seen = st.seen.lock().unwrap_or_else(|e| e.into_inner());
    let id = seen
        .entry(key.to_owned())
        .or_insert_with(|| format!("brand-{}", st.next.fetch_add(1, Ordering::Relaxed) + 1))
        .clone();
    (StatusCode::OK, axum::Json(json!({"id": id})))
}

impl BrandSystem {
    async fn start() -> anyhow::Result<BrandSystem> {
        let secrets: HashMap<String, String> =
            CHANNELS.iter().map(|(slug, _)| ((*slug).to_owned(), format!("{:032x}", rand::random::<u128>()))).collect();
        let secrets = Arc::new(secrets);
        let state = Arc::new(BrandState {
            secrets: secrets.clone(),
            seen: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        });
        let app =
            axum::Router::new().route("/callbacks/{channel}", axum::routing::post(brand_callback)).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot start the demo's callback receiver")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(BrandSystem { addr, secrets, task })
    }

    fn channel_record(&self, slug: &str, name: &str) -> anyhow::Result<ChannelRecord> {
        Ok(ChannelRecord {
            slug: ChannelSlug::parse(slug)?,
            kind: ChannelKind::Api,
            name: name.to_owned(),
            callback_url: Some(format!("http://{}/callbacks/{slug}", self.addr)),
            secret: self.secrets.get(slug).cloned(),
            config: json!({}),
            created_at: Utc::now(),
        })
    }
}

/// Deletes the demo database (and only its files) so the demo starts afresh.
fn remove_database(dir: &Path) -> anyhow::Result<()> {
    for name in ["switchboard.db", "switchboard.db-wal", "switchboard.db-shm"] {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot delete the old demo database {}", path.display())),
        }
    }
    Ok(())
}

/// Creates the admin and the two agents with passwords and one API token each.
async fn create_users(store: &DynStore) -> anyhow::Result<[(UserId, String); 3]> {
    // Argon2 is deliberately slow: hash the three passwords side by side.
    let hashes: Vec<_> = USERS.iter().map(|_| tokio::task::spawn_blocking(|| admin::hash_password(PASSWORD))).collect();
    let mut out = Vec::with_capacity(USERS.len());
    for ((_, email, name, role), hash) in USERS.iter().zip(hashes) {
        let password_hash = hash.await.context("password hashing failed")??;
        let user = store
            .create_user(&NewUser {
                email: (*email).to_owned(),
                name: (*name).to_owned(),
                role: *role,
                password_hash: Some(password_hash),
            })
            .await
            .with_context(|| format!("cannot create the demo user {email}"))?;
        let token = admin::create_token(store, email, "demo").await?;
        out.push((user.id, token));
    }
    out.try_into().map_err(|_| anyhow::anyhow!("expected three demo users"))
}

/// Talks to the demo server's REST API as the demo users.
struct Api {
    client: reqwest::Client,
    base: String,
    users: [(UserId, String); 3],
}

impl Api {
    /// One request; retries when the server asks to (503: nothing was stored) or cannot be reached.
    async fn call(
        &self,
        method: Method,
        path: &str,
        who: Who,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut req = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&self.users[who as usize].1);
            if let Some(body) = body {
                req = req.json(body);
            }
            if let Some(key) = idempotency_key {
                req = req.header("idempotency-key", key);
            }
            match req.send().await {
                Ok(resp) if resp.status() == StatusCode::SERVICE_UNAVAILABLE && attempt < 6 => {}
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.with_context(|| format!("{method} {path}: reading the answer"))?;
                    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    return Ok((status, value));
                }
                // Not sent at all: safe to repeat, even for a reply without an Idempotency-Key.
                Err(e) if attempt < 6 && e.is_connect() => {}
                Err(e) => return Err(e).with_context(|| format!("{method} {path}")),
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }

    /// Like [`Api::call`]; anything but 2xx is an error.
    async fn ok(
        &self,
        method: Method,
        path: &str,
        who: Who,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let (status, value) = self.call(method.clone(), path, who, body, idempotency_key).await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok((status, value))
    }

    /// Feeds one customer message through `POST /api/v1/inbound`; returns its message id.
    async fn inbound(&self, plan: &Plan, external_id: &str, text: &str, at: DateTime<Utc>) -> anyhow::Result<String> {
        let c = &plan.contact;
        let body = json!({
            "channel": c.channel,
            "external_id": external_id,
            "contact": {"handle": c.handle, "name": c.name},
            "text": text,
            "sent_at": at,
            "thread_id": plan.thread_id,
            "locale": if c.lang == Lang::Zh { "zh-CN" } else { "en" },
        });
        let (_, ack) = self.ok(Method::POST, "/api/v1/inbound", Who::Admin, Some(&body), None).await?;
        str_field(&ack, "message_id")
    }

    /// Waits until the pipeline has threaded a message; returns it.
    async fn threaded(&self, message_id: &str) -> anyhow::Result<Value> {
        let deadline = Instant::now() + THREADING_TIMEOUT;
        loop {
            let (status, msg) =
                self.call(Method::GET, &format!("/api/v1/messages/{message_id}"), Who::Admin, None, None).await?;
            if status.is_success() {
                return Ok(msg);
            }
            if status != StatusCode::NOT_FOUND {
                bail!("GET /api/v1/messages/{message_id} answered {status}: {msg}");
            }
            if Instant::now() > deadline {
                bail!("message {message_id} was not threaded within {THREADING_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn str_field(v: &Value, field: &str) -> anyhow::Result<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned).with_context(|| format!("answer without `{field}`: {v}"))
}

/// What feeding one conversation did.
#[derive(Debug, Default)]
struct Outcome {
    inbound: usize,
    replies: Vec<String>,
    notes: usize,
    reopened: usize,
}

async fn run_plan(api: Arc<Api>, plan: Plan) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    let mut last = None;
    for (i, (text, at)) in plan.messages.iter().enumerate() {
        last = Some(api.inbound(&plan, &format!("demo-{}-{i}", plan.idx), text, *at).await?);
        out.inbound += 1;
    }
    if !plan.needs_conversation() {
        return Ok(out);
    }
    let Some(last) = last else { return Ok(out) };
    let conv = str_field(&api.threaded(&last).await?, "conversation_id")?;
    let conv_path = format!("/api/v1/conversations/{conv}");
    let msgs_path = format!("{conv_path}/messages");

    // An agent picks it up (or the admin triages it).
    let mut triage = serde_json::Map::new();
    if let Some(a) = plan.assignee {
        triage.insert("assignee_id".into(), json!(api.users[a as usize].0));
    }
    if let Some(p) = plan.priority {
        triage.insert("priority".into(), json!(p));
    }
    if !plan.tags.is_empty() {
        triage.insert("tags".into(), json!(plan.tags));
    }
    if let Some(t) = plan.team {
        triage.insert("team".into(), json!(t));
    }
    let owner = plan.assignee.unwrap_or(Who::Admin);
    if !triage.is_empty() {
        api.ok(Method::PATCH, &conv_path, owner, Some(&Value::Object(triage)), None).await?;
    }
    if let Some(r) = &plan.reply {
        let body = json!({"text": r.text});
        let key = r.idempotency_key.as_deref();
        let (_, msg) = api.ok(Method::POST, &msgs_path, r.author, Some(&body), key).await?;
        let id = str_field(&msg, "id")?;
        if key.is_some() {
            // A client retrying with the same key gets the same message back, never a second one.
            let (status, again) = api.ok(Method::POST, &msgs_path, r.author, Some(&body), key).await?;
            if status != StatusCode::OK || str_field(&again, "id")? != id {
                bail!("a retried reply with the same Idempotency-Key created another message ({status})");
            }
        }
        out.replies.push(id);
    }
    if let Some((author, text)) = &plan.note {
        api.ok(Method::POST, &msgs_path, *author, Some(&json!({"text": text, "kind": "note"})), None).await?;
        out.notes += 1;
    }
    if let Some(status) = plan.status {
        api.ok(Method::PATCH, &conv_path, owner, Some(&json!({"status": status})), None).await?;
    }
    if let Some(text) = &plan.reopen {
        // The customer writes again after the resolution: the conversation reopens.
        let id = api.inbound(&plan, &format!("demo-{}-reopen", plan.idx), text, Utc::now()).await?;
        api.threaded(&id).await?;
        out.inbound += 1;
        out.reopened += 1;
    }
    Ok(out)
}

/// Totals of the whole feed.
#[derive(Debug, Default)]
struct Totals {
    conversations_fed: usize,
    inbound: usize,
    replies: Vec<String>,
    notes: usize,
    failures: Vec<anyhow::Error>,
}

async fn feed(api: Arc<Api>, plans: Vec<Plan>) -> Totals {
    let mut totals = Totals::default();
    let mut pending = plans.into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < CONCURRENCY {
            match pending.next() {
                Some(plan) => {
                    running.spawn(run_plan(api.clone(), plan));
                }
                None => break,
            }
        }
        match running.join_next().await {
            None => break,
            Some(Ok(Ok(o))) => {
                totals.conversations_fed += 1;
                totals.inbound += o.inbound;
                totals.replies.extend(o.replies);
                totals.notes += o.notes;
            }
            Some(Ok(Err(e))) => totals.failures.push(e),
            Some(Err(e)) => totals.failures.push(anyhow::Error::new(e).context("a feeding task failed")),
        }
    }
    totals
}

/// Waits (bounded) until the outbox has delivered the replies; returns how many are `sent` or further.
async fn wait_for_deliveries(api: &Api, replies: &[String]) -> anyhow::Result<usize> {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let mut waiting: Vec<&String> = replies.iter().collect();
    let mut delivered = 0;
    loop {
        let mut still = Vec::new();
        for id in waiting {
            let (_, msg) = api.ok(Method::GET, &format!("/api/v1/messages/{id}"), Who::Admin, None, None).await?;
            match msg.get("delivery_status").and_then(Value::as_str) {
                Some("sent" | "delivered" | "read") => delivered += 1,
                Some("failed") => {}
                _ => still.push(id),
            }
        }
        waiting = still;
        if waiting.is_empty() || Instant::now() > deadline {
            return Ok(delivered);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Counts conversations through the API: (all, resolved or closed, reopened at least once).
async fn count_conversations(api: &Api) -> anyhow::Result<(usize, usize, usize)> {
    let (mut all, mut resolved, mut reopened) = (0, 0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/conversations?limit=200&cursor={c}"),
            None => "/api/v1/conversations?limit=200".to_owned(),
        };
        let (_, page) = api.ok(Method::GET, &path, Who::Admin, None, None).await?;
        for c in page.get("items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            all += 1;
            if matches!(c.get("status").and_then(Value::as_str), Some("resolved" | "closed")) {
                resolved += 1;
            }
            if c.get("reopen_count").and_then(Value::as_i64).unwrap_or(0) > 0 {
                reopened += 1;
            }
        }
        cursor = page.get("next_cursor").and_then(Value::as_str).map(str::to_owned);
        if cursor.is_none() {
            return Ok((all, resolved, reopened));
        }
    }
}

/// Feeds the demo data and prints what the demo holds.
async fn populate(api: Arc<Api>, args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let plans = make_plans(args.conversations, args.seed, Utc::now());
    let contacts: HashSet<(&str, &str)> =
        plans.iter().map(|p| (p.contact.channel, p.contact.handle.as_str())).collect();
    let contacts = contacts.len();
    let chinese = plans.iter().filter(|p| p.contact.lang == Lang::Zh).count();
    println!("Feeding {} conversations through POST /api/v1/inbound …", plans.len());
    let totals = feed(api.clone(), plans).await;
    if let Some(first) = totals.failures.first() {
        eprintln!(
            "warning: {} of {} conversations could not be fed completely; the first error: {first:#}",
            totals.failures.len(),
            args.conversations
        );
        if totals.conversations_fed == 0 && args.conversations > 0 {
            bail!("no demo conversation could be fed");
        }
    }
    let delivered = wait_for_deliveries(&api, &totals.replies).await?;
    let (conversations, resolved, reopened) = count_conversations(&api).await?;
    let messages = totals.inbound + totals.replies.len() + totals.notes;
    println!(
        "Demo data: {conversations} conversations ({} English, {chinese} Chinese) from {contacts} contacts on {} channels, \
         {messages} messages ({} from customers, {} replies, {} notes); {delivered} replies delivered, \
         {resolved} resolved or closed, {reopened} reopened ({:.1} s)",
        args.conversations as usize - chinese,
        CHANNELS.len(),
        totals.inbound,
        totals.replies.len(),
        totals.notes,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run(cfg: Config, args: DemoArgs) -> anyhow::Result<()> {
    let cfg = Config {
        data_dir: args.data_dir.clone(),
        database_url: None,
        listen: args.listen.unwrap_or(cfg.listen),
        ..cfg
    };
    // Listen for signals from the start, so an early Ctrl-C stops the demo cleanly.
    let signal = serve::shutdown_signal();
    tokio::pin!(signal);
    // Poll it once now: that installs the handlers (a signal from here on is caught, not fatal).
    tokio::select! {
        biased;
        _ = &mut signal => return Ok(()),
        _ = std::future::ready(()) => {}
    }

    let listener = TcpListener::bind(cfg.listen).await.with_context(|| {
        format!("cannot listen on {} (pick another address with --listen, e.g. 127.0.0.1:0)", cfg.listen)
    })?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create the demo data directory {}", cfg.data_dir.display()))?;
    remove_database(&cfg.data_dir)?;
    let store = serve::open_store(&cfg).await?;
    let brand = BrandSystem::start().await?;
    for (slug, name) in CHANNELS {
        let rec = brand.channel_record(slug, name)?;
        store.upsert_channel(&rec).await.with_context(|| format!("cannot save channel {slug}"))?;
    }
    let mut meta = meta::MetaDemo::start(&format!("http://{}", listener.local_addr()?)).await?;
    for rec in meta.records()? {
        store.upsert_channel(&rec).await.with_context(|| format!("cannot save channel {}", rec.slug))?;
    }
    let telegram = telegram::TelegramDemo::start(&format!("http://{}", listener.local_addr()?)).await?;
    store.upsert_channel(&telegram.record()?).await.context("cannot save channel telegram")?;
    let mut x_demo = x::XDemo::start(&format!("http://{}", listener.local_addr()?)).await?;
    store.upsert_channel(&x_demo.record()?).await.context("cannot save channel x")?;
    let users = match create_users(&store).await {
        Ok(u) => u,
        Err(e) => {
            store.close().await;
            brand.task.abort();
            return Err(e);
        }
    };
    if let Err(e) = routing::seed(&store, &[users[Who::Lin as usize].0, users[Who::Sam as usize].0]).await {
        store.close().await;
        brand.task.abort();
        return Err(e);
    }
    let running = serve::start(&cfg, store, listener).await?;
    crate::kb::demo(&running.engine).await?;
    let url = format!("http://{}", running.addr);
    let admin_token = users[Who::Admin as usize].1.clone();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let api = Arc::new(Api { client, base: url.clone(), users });

    let fed = tokio::select! {
        r = async {
            populate(api.clone(), &args).await?;
            telegram.feed(&api, 12).await?;
            meta.feed(api.clone(), 12).await?;
            x_demo.feed(api, 12).await.map(|_| ())
        } => Some(r),
        _ = &mut signal => None,
    };
    let result = match fed {
        None => {
            println!("Interrupted; stopping.");
            Ok(())
        }
        Some(Err(e)) => Err(e),
        Some(Ok(())) => {
            println!();
            println!("Switchboard demo is running at {url}");
            println!("  agent UI:     {url}/inbox");
            println!("  admin login:  {} / {PASSWORD}", USERS[0].1);
            println!("  agents:       {}, {} (same password)", USERS[1].1, USERS[2].1);
            println!("  API token (admin): {admin_token}");
            println!("  try: curl -H 'Authorization: Bearer {admin_token}' {url}/api/v1/conversations");
            println!(
                "  live: WhatsApp, Messenger and Instagram customers keep writing through the Graph API simulator at {} (channels whatsapp, messenger, instagram)",
                meta.sim.graph_base_url()
            );
            println!(
                "  live: X users mention the brand and send DMs through the X API simulator at {} (channel x)",
                x_demo.sim.api_base_url()
            );
            println!("Press Ctrl-C to stop.");
            signal.as_mut().await;
            println!("Stopping the demo …");
            Ok(())
        }
    };
    running.stop(Duration::from_secs(cfg.shutdown_grace_secs)).await;
    brand.task.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_conversations() {
        let now = Utc::now();
        let a = make_plans(50, 7, now);
        let b = make_plans(50, 7, now);
        let texts = |ps: &[Plan]| ps.iter().flat_map(|p| p.messages.iter().map(|m| m.0.clone())).collect::<Vec<_>>();
        assert_eq!(texts(&a), texts(&b));
        assert_ne!(texts(&a), texts(&make_plans(50, 8, now)));
    }

    #[test]
    fn the_mix_is_realistic() {
        let now = Utc::now();
        let plans = make_plans(300, 7, now);
        let n = plans.len() as f64;
        let share = |f: &dyn Fn(&Plan) -> bool| plans.iter().filter(|p| f(p)).count() as f64 / n;
        let zh = share(&|p| p.contact.lang == Lang::Zh);
        assert!((0.2..0.4).contains(&zh), "chinese {zh}");
        let replied = share(&|p| p.reply.is_some());
        assert!((0.25..0.45).contains(&replied), "replied {replied}");
        let done = share(&|p| matches!(p.status, Some("resolved" | "closed")) && p.reopen.is_none());
        assert!((0.2..0.4).contains(&done), "resolved {done}");
        assert!(plans.iter().any(|p| p.reopen.is_some()));
        assert!(plans.iter().any(|p| p.thread_id.is_some()));
        assert!(plans.iter().any(|p| p.messages.len() >= 3));
        assert!(plans.iter().any(|p| p.note.is_some()));
        assert!(plans.iter().any(|p| p.priority == Some("urgent")));
        assert!(plans.iter().any(|p| p.reply.as_ref().is_some_and(|r| r.idempotency_key.is_some())));
        for channel in CHANNELS.map(|c| c.0) {
            assert!(plans.iter().any(|p| p.contact.channel == channel), "{channel}");
        }
        for p in &plans {
            assert!(p.messages.windows(2).all(|w| w[0].1 < w[1].1));
            assert!(
                p.messages
                    .iter()
                    .all(|(t, at)| *at < now && *at > now - chrono::Duration::days(15) && !t.contains('{'))
            );
            assert!(!(p.status == Some("closed") && p.reopen.is_some()));
        }
    }
}
