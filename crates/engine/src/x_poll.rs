//! X polling mode: for every X channel configured with `mode = "polling"`, reads the mentions
//! timeline and DM events every `poll_interval_secs` (waiting for `x-rate-limit-reset` after a
//! 429 or when `x-rate-limit-remaining` reaches 0), stores the events durably, and only then
//! advances the stream's cursor in the database — so a crash re-reads rather than loses, and the
//! redelivery is deduplicated on the post/DM id.
//!
//! A backlog larger than one page is read page by page (`pagination_token`, newest first) back to
//! the cursor, at most [`MAX_PAGES_PER_POLL`] pages per stream and poll. Each page is stored before
//! the read's progress (`<stream>:paging`: the newest id of the read and the next page's token) is
//! written; the cursor itself moves to the newest id only when the read has reached the old
//! cursor. An unfinished read goes on from its saved token at the next poll.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_channels::x::XConfig;
use switchboard_channels::x::poll::{self, PollError, Polled};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::{DynStore, EchoOutcome, EchoRecord};
use tokio_util::sync::CancellationToken;

use crate::channel_delivery::settings;
use crate::realtime::{Bus, RealtimeEvent};

/// How often the channel list is looked at for due polls.
const TICK: Duration = Duration::from_millis(250);

/// Pages (of up to 100 events) read per stream and poll; a larger backlog is read over several
/// polls. 10 pages × 2 streams every 60 s stays far inside X's 15-minute windows (mentions: 180
/// per user; DM events: 300 per user).
pub const MAX_PAGES_PER_POLL: usize = 10;

/// Progress of a read that has not reached the cursor yet.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Paging {
    /// The newest id of the read (the cursor once it is finished).
    head: String,
    /// `pagination_token` of the next (older) page.
    next: String,
}

fn paging_stream(stream: &str) -> String {
    format!("{stream}:paging")
}

pub(crate) async fn run(store: DynStore, bus: Bus, wake: Arc<tokio::sync::Notify>, cancel: CancellationToken) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(20)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "X polling disabled: no HTTP client");
            return;
        }
    };
    let mut due: HashMap<ChannelSlug, DateTime<Utc>> = HashMap::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
        let Ok(channels) = store.list_channels().await else { continue };
        for ch in channels.iter().filter(|c| c.kind == ChannelKind::X) {
            let s = settings(ch);
            let Ok(cfg) = XConfig::from_settings(&s) else { continue };
            if !cfg.polling() || cfg.check_for_sending().is_err() {
                continue;
            }
            let now = Utc::now();
            if due.get(&ch.slug).is_some_and(|d| *d > now) {
                continue;
            }
            let interval = Duration::from_secs(cfg.poll_interval_secs.unwrap_or(60).max(1));
            let wait = match poll_channel(&store, &bus, &client, &s, &cfg).await {
                Ok((n, spent)) => {
                    if n > 0 {
                        wake.notify_one();
                    }
                    if let Some(w) = spent {
                        tracing::info!(channel = %ch.slug, wait_secs = w.as_secs(), "X rate-limit window spent; next poll after the reset");
                    }
                    spent.map_or(interval, |w| w.max(interval))
                }
                Err(PollError::RateLimited(w)) => {
                    tracing::warn!(channel = %ch.slug, wait_secs = w.as_secs(), "X polling rate limited; waiting for the reset");
                    w.max(interval)
                }
                Err(PollError::Failed(reason)) => {
                    tracing::warn!(channel = %ch.slug, %reason, "X poll failed; will try again");
                    interval
                }
            };
            due.insert(ch.slug.clone(), now + chrono::Duration::from_std(wait).unwrap_or_default());
        }
    }
}

/// Polls both streams of one channel: the number of new customer events stored, and how long
/// to wait when a rate-limit window was spent.
async fn poll_channel(
    store: &DynStore,
    bus: &Bus,
    client: &reqwest::Client,
    ch: &switchboard_channels::ChannelSettings,
    cfg: &XConfig,
) -> Result<(usize, Option<Duration>), PollError> {
    let (n, spent) = poll_stream(store, bus, client, ch, cfg, poll::MENTIONS).await?;
    if spent.is_some() {
        return Ok((n, spent));
    }
    let (m, spent) = poll_stream(store, bus, client, ch, cfg, poll::DMS).await?;
    Ok((n + m, spent))
}

/// Reads one stream page by page back to its cursor (see the module docs).
async fn poll_stream(
    store: &DynStore,
    bus: &Bus,
    client: &reqwest::Client,
    ch: &switchboard_channels::ChannelSettings,
    cfg: &XConfig,
    stream: &str,
) -> Result<(usize, Option<Duration>), PollError> {
    let failed = |e: switchboard_store::StoreError| PollError::Failed(format!("store: {e}"));
    let since = store.poll_cursor(&ch.slug, stream).await.map_err(failed)?;
    let paging_key = paging_stream(stream);
    let paging = store
        .poll_cursor(&ch.slug, &paging_key)
        .await
        .map_err(failed)?
        .and_then(|p| serde_json::from_str::<Paging>(&p).ok())
        .filter(|p| !p.next.is_empty());
    let (mut head, mut token) = match paging {
        Some(p) => (Some(p.head).filter(|h| !h.is_empty()), Some(p.next)),
        None => (None, None),
    };
    let mut stored = 0;
    for _ in 0..MAX_PAGES_PER_POLL {
        let page = if stream == poll::MENTIONS {
            poll::mentions_page(client, ch, cfg, since.as_deref(), token.as_deref()).await
        } else {
            poll::dm_events_page(client, ch, cfg, since.as_deref(), token.as_deref()).await
        };
        let page = match page {
            Ok(p) => p,
            // A saved token X no longer takes must not stall the stream: the next poll reads
            // back to the cursor from the newest page again (what was stored is deduplicated).
            Err(PollError::Failed(reason)) if token.is_some() => {
                store.set_poll_cursor(&ch.slug, &paging_key, "").await.map_err(failed)?;
                return Err(PollError::Failed(format!("{reason} (paging restarts from the newest page)")));
            }
            Err(e) => return Err(e),
        };
        let poll::Page { polled, next_token, reached_cursor, rate } = page;
        if head.is_none() {
            head.clone_from(&polled.newest);
        }
        // The page's events first; only then the progress that skips them.
        stored += save(store, bus, &ch.slug, polled).await.map_err(failed)?;
        // A channel without a cursor starts from the newest page, not from the whole history.
        let next = next_token.filter(|_| !reached_cursor && since.is_some());
        match next {
            Some(t) => {
                let p = Paging { head: head.clone().unwrap_or_default(), next: t.clone() };
                let json = serde_json::to_string(&p).map_err(|e| PollError::Failed(e.to_string()))?;
                store.set_poll_cursor(&ch.slug, &paging_key, &json).await.map_err(failed)?;
                token = Some(t);
            }
            None => {
                if let Some(h) = &head {
                    store.set_poll_cursor(&ch.slug, stream, h).await.map_err(failed)?;
                }
                if token.is_some() {
                    store.set_poll_cursor(&ch.slug, &paging_key, "").await.map_err(failed)?;
                }
                return Ok((stored, rate.wait_if_spent(Utc::now().timestamp())));
            }
        }
        if let Some(wait) = rate.wait_if_spent(Utc::now().timestamp()) {
            return Ok((stored, Some(wait)));
        }
    }
    Ok((stored, None))
}

/// Stores one page's events (deduplicated); the number of new customer events.
async fn save(store: &DynStore, bus: &Bus, slug: &ChannelSlug, polled: Polled) -> switchboard_store::Result<usize> {
    let Polled { messages, echoes, newest: _ } = polled;
    let acks = if messages.is_empty() { vec![] } else { store.append_inbound(messages).await? };
    for e in echoes {
        let rec = EchoRecord {
            provider_message_id: e.provider_message_id,
            recipient: e.recipient,
            thread_key: e.thread_key,
            text: e.text,
            attachments: e.attachments,
            sent_at: e.sent_at,
            sent_by_switchboard: false,
            switchboard_key: None,
        };
        if let EchoOutcome::Recorded(m) = store.record_echo(slug, &rec).await? {
            bus.publish(RealtimeEvent::new("message.created", m.conversation_id, None, Some(m.id))).await;
        }
    }
    Ok(acks.iter().filter(|a| !a.duplicate).count())
}
