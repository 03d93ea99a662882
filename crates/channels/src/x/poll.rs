//! Polling mode, for apps without Account Activity access: the v2 mentions timeline
//! (`GET /2/users/{id}/mentions?since_id=…`) and DM events (`GET /2/dm_events`, newest first,
//! read back to the last id seen) turned into the same canonical events the webhooks give.
//! Cursors are kept by the caller (in the database) and only advanced once the events are stored.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchboard_domain::{ContactRef, InboundEvent, Visibility};

use super::events::full_text;
use super::{POST_THREAD, XConfig};
use crate::{ChannelSettings, Echo};

/// Cursor stream names.
pub const MENTIONS: &str = "mentions";
/// Cursor stream names.
pub const DMS: &str = "dm_events";

/// What one poll of one stream found.
#[derive(Debug, Default)]
pub struct Polled {
    /// Customer posts / DMs.
    pub messages: Vec<InboundEvent>,
    /// The brand's own DMs.
    pub echoes: Vec<Echo>,
    /// The newest id seen (the next cursor), if any event came.
    pub newest: Option<String>,
}

/// Why a poll failed.
#[derive(Debug)]
pub enum PollError {
    /// Rate limited: wait this long (until `x-rate-limit-reset`).
    RateLimited(Duration),
    /// Anything else, with the reason.
    Failed(String),
}

/// X ids are decimal integers of up to 19 digits: compared by length, then text.
pub fn id_newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// What X's `x-rate-limit-*` headers said about the endpoint after a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateInfo {
    /// `x-rate-limit-remaining`: calls left in the window.
    pub remaining: Option<u64>,
    /// `x-rate-limit-reset`: when the window resets (Unix seconds).
    pub reset: Option<i64>,
}

impl RateInfo {
    /// How long to wait before the next call when the window is spent (`remaining == 0`).
    pub fn wait_if_spent(&self, now: i64) -> Option<Duration> {
        (self.remaining == Some(0)).then(|| wait_until(self.reset, now))
    }
}

/// Time until `reset` (at least one second; 60 s when X named no reset).
fn wait_until(reset: Option<i64>, now: i64) -> Duration {
    reset.map(|r| Duration::from_secs(u64::try_from((r - now).max(1)).unwrap_or(1))).unwrap_or(Duration::from_secs(60))
}

/// One page of a stream.
#[derive(Debug, Default)]
pub struct Page {
    /// What it held, in canonical form (`newest` is the newest id on this page).
    pub polled: Polled,
    /// `meta.next_token`: the next (older) page, if X has one.
    pub next_token: Option<String>,
    /// The page reached the cursor (DM events: an event at or older than `since` was on it).
    pub reached_cursor: bool,
    /// What the rate-limit headers said.
    pub rate: RateInfo,
}

async fn get(client: &reqwest::Client, cfg: &XConfig, url: &str) -> Result<(Value, RateInfo), PollError> {
    let token = cfg.access_token.as_deref().unwrap_or("");
    let resp = client.get(url).bearer_auth(token).send().await.map_err(|e| PollError::Failed(format!("X API: {e}")))?;
    let status = resp.status();
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let rate = RateInfo {
        remaining: header("x-rate-limit-remaining").and_then(|v| v.parse().ok()),
        reset: header("x-rate-limit-reset").and_then(|v| v.parse().ok()),
    };
    if status.as_u16() == 429 {
        return Err(PollError::RateLimited(wait_until(rate.reset, Utc::now().timestamp())));
    }
    let text = resp.text().await.map_err(|e| PollError::Failed(format!("X API: {e}")))?;
    if !status.is_success() {
        return Err(PollError::Failed(format!("X API {status}: {}", text.chars().take(200).collect::<String>())));
    }
    let v = serde_json::from_str(&text).map_err(|e| PollError::Failed(format!("X API answered no JSON: {e}")))?;
    Ok((v, rate))
}

fn next_token(v: &Value) -> Option<String> {
    v.pointer("/meta/next_token").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// A pagination token is opaque, but it goes into a query string: only URL-safe characters.
fn token_param(token: Option<&str>) -> Result<String, PollError> {
    match token {
        None => Ok(String::new()),
        Some(t)
            if !t.is_empty()
                && t.len() <= 512
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) =>
        {
            Ok(format!("&pagination_token={t}"))
        }
        Some(t) => Err(PollError::Failed(format!(
            "X answered an unusable pagination token {:?}",
            t.chars().take(40).collect::<String>()
        ))),
    }
}

fn user<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    v.pointer("/includes/users")
        .and_then(Value::as_array)
        .and_then(|u| u.iter().find(|u| u.get("id").and_then(Value::as_str) == Some(id)))
}

fn contact(id: &str, user: Option<&Value>) -> ContactRef {
    let username = user.and_then(|u| u.get("username")).and_then(Value::as_str);
    ContactRef {
        provider_user_id: id.to_owned(),
        handle: username.map(|u| format!("@{u}")),
        display_name: user.and_then(|u| u.get("name")).and_then(Value::as_str).or(username).map(str::to_owned),
    }
}

fn time(v: &Value) -> DateTime<Utc> {
    v.get("created_at")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}

/// Fetches one page of mentions newer than `since` (newest first); `token` is the
/// `pagination_token` of an older page of the same read.
pub async fn mentions_page(
    client: &reqwest::Client,
    ch: &ChannelSettings,
    cfg: &XConfig,
    since: Option<&str>,
    token: Option<&str>,
) -> Result<Page, PollError> {
    let me = cfg.user_id.as_deref().unwrap_or_default();
    let mut url = format!(
        "{}/2/users/{me}/mentions?max_results=100&tweet.fields=author_id,conversation_id,created_at,referenced_tweets,note_tweet&expansions=author_id&user.fields=username,name",
        cfg.api_base()
    );
    if let Some(s) = since.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
        url.push_str(&format!("&since_id={s}"));
    }
    url.push_str(&token_param(token)?);
    let (v, rate) = get(client, cfg, &url).await?;
    let next = next_token(&v);
    // With since_id X pages back to the cursor and then stops naming a next page.
    Ok(Page { polled: parse_mentions(ch, me, &v), reached_cursor: next.is_none(), next_token: next, rate })
}

/// Turns a mentions timeline page into canonical events.
pub fn parse_mentions(ch: &ChannelSettings, me: &str, v: &Value) -> Polled {
    let mut out = Polled::default();
    for t in v.get("data").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let (Some(id), Some(author)) =
            (t.get("id").and_then(Value::as_str), t.get("author_id").and_then(Value::as_str))
        else {
            continue;
        };
        if out.newest.as_deref().is_none_or(|n| id_newer(id, n)) {
            out.newest = Some(id.to_owned());
        }
        if author == me {
            continue;
        }
        let refs = t.get("referenced_tweets").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let kind_of = |k: &str| refs.iter().find(|r| r.get("type").and_then(Value::as_str) == Some(k));
        let conversation = t.get("conversation_id").and_then(Value::as_str).unwrap_or(id);
        let mut ev = InboundEvent {
            channel: ch.slug.clone(),
            provider_event_id: id.to_owned(),
            contact: contact(author, user(v, author)),
            thread_key: format!("{POST_THREAD}{conversation}"),
            visibility: Visibility::Public,
            text: full_text(t),
            attachments: vec![],
            sent_at: time(t),
            extra: serde_json::Map::new(),
        };
        let kind = if kind_of("quoted").is_some() {
            "quote"
        } else if kind_of("replied_to").is_some() {
            "reply"
        } else {
            "mention"
        };
        ev.extra.insert("message_type".into(), json!(kind));
        ev.extra.insert("raw".into(), t.clone());
        ev.extra.insert("source".into(), json!("polling"));
        if ev.validate().is_ok() {
            out.messages.push(ev);
        }
    }
    out
}

/// Fetches one page of DM events (newest first; the endpoint has no `since_id`, so the page
/// is cut at `since` and `reached_cursor` says whether it went that far); `token` is the
/// `pagination_token` of an older page.
pub async fn dm_events_page(
    client: &reqwest::Client,
    ch: &ChannelSettings,
    cfg: &XConfig,
    since: Option<&str>,
    token: Option<&str>,
) -> Result<Page, PollError> {
    let url = format!(
        "{}/2/dm_events?max_results=100&event_types=MessageCreate&dm_event.fields=id,text,event_type,created_at,sender_id,dm_conversation_id,participant_ids&expansions=sender_id&user.fields=username,name{}",
        cfg.api_base(),
        token_param(token)?
    );
    let (v, rate) = get(client, cfg, &url).await?;
    let reached = since.is_some_and(|s| {
        v.get("data")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().filter_map(|e| e.get("id").and_then(Value::as_str)).any(|id| !id_newer(id, s)))
    });
    let next = next_token(&v);
    Ok(Page {
        polled: parse_dm_events(ch, cfg.user_id.as_deref().unwrap_or_default(), &v, since),
        reached_cursor: reached || next.is_none(),
        next_token: if reached { None } else { next },
        rate,
    })
}

/// Turns a DM events page into canonical events, keeping only those newer than `since`.
pub fn parse_dm_events(ch: &ChannelSettings, me: &str, v: &Value, since: Option<&str>) -> Polled {
    let mut out = Polled::default();
    for d in v.get("data").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let (Some(id), Some(sender)) =
            (d.get("id").and_then(Value::as_str), d.get("sender_id").and_then(Value::as_str))
        else {
            continue;
        };
        if d.get("event_type").and_then(Value::as_str).is_some_and(|t| t != "MessageCreate") {
            continue;
        }
        if since.is_some_and(|s| !id_newer(id, s)) {
            continue;
        }
        if out.newest.as_deref().is_none_or(|n| id_newer(id, n)) {
            out.newest = Some(id.to_owned());
        }
        let text = d.get("text").and_then(Value::as_str).unwrap_or("").to_owned();
        if sender == me {
            let to = d
                .get("participant_ids")
                .and_then(Value::as_array)
                .and_then(|p| p.iter().filter_map(Value::as_str).find(|p| *p != me))
                .or_else(|| {
                    d.get("dm_conversation_id").and_then(Value::as_str).and_then(|c| c.split('-').find(|p| *p != me))
                });
            out.echoes.push(Echo {
                provider_message_id: id.to_owned(),
                recipient: to.unwrap_or_default().to_owned(),
                thread_key: String::new(),
                text,
                attachments: vec![],
                sent_at: time(d),
                sent_by_switchboard: false,
                switchboard_key: None,
            });
            continue;
        }
        let mut ev = InboundEvent {
            channel: ch.slug.clone(),
            provider_event_id: id.to_owned(),
            contact: contact(sender, user(v, sender)),
            thread_key: String::new(),
            visibility: Visibility::Private,
            text: if text.trim().is_empty() { "[message without text]".into() } else { text },
            attachments: vec![],
            sent_at: time(d),
            extra: serde_json::Map::new(),
        };
        ev.extra.insert("message_type".into(), json!("direct_message"));
        ev.extra.insert("raw".into(), d.clone());
        ev.extra.insert("source".into(), json!("polling"));
        if ev.validate().is_ok() {
            out.messages.push(ev);
        }
    }
    out
}
