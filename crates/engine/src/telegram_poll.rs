//! Telegram long polling, the fallback to webhooks: for every Telegram channel whose config says
//! `polling = true`, a task calls `getUpdates` from the offset kept in the database, ingests the
//! updates durably (the same parser and dedupe as the webhook), answers button presses, and only
//! then moves the stored offset past them — a crash re-reads, never loses.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_channels::telegram::{ALLOWED_UPDATES, TelegramConfig, outbound, parse_webhook};
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::DynStore;
use tokio_util::sync::CancellationToken;

use crate::Ingestor;
use crate::channel_delivery::settings;

/// How often the list of polling channels is refreshed.
const REFRESH: Duration = Duration::from_secs(5);
/// Default long-polling timeout.
const DEFAULT_TIMEOUT_SECS: u64 = 25;

/// Runs until cancelled.
pub(crate) async fn run(store: DynStore, ingestor: Ingestor, cancel: CancellationToken) {
    let mut running: HashMap<ChannelSlug, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        match store.list_channels().await {
            Ok(channels) => {
                let wanted: Vec<ChannelSlug> = channels
                    .iter()
                    .filter(|c| c.kind == ChannelKind::Telegram)
                    .filter(|c| TelegramConfig::from_settings(&settings(c)).is_ok_and(|t| t.polling))
                    .map(|c| c.slug.clone())
                    .collect();
                running.retain(|slug, task| {
                    let keep = wanted.contains(slug) && !task.is_finished();
                    if !keep {
                        task.abort();
                    }
                    keep
                });
                for slug in wanted {
                    if let std::collections::hash_map::Entry::Vacant(e) = running.entry(slug) {
                        let slug = e.key().clone();
                        tracing::info!(channel = %slug, "telegram long polling started");
                        e.insert(tokio::spawn(poll_channel(store.clone(), ingestor.clone(), slug, cancel.clone())));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "telegram polling: cannot list channels"),
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(REFRESH) => {}
        }
    }
    for (_, t) in running {
        t.abort();
    }
}

async fn poll_channel(store: DynStore, ingestor: Ingestor, slug: ChannelSlug, cancel: CancellationToken) {
    let mut failures: u32 = 0;
    loop {
        let wait = match poll_once(&store, &ingestor, &slug).await {
            Ok(0) => {
                failures = 0;
                Duration::from_millis(500)
            }
            Ok(_) => {
                failures = 0;
                Duration::ZERO
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(channel = %slug, error = %e, "telegram getUpdates failed; will retry");
                Duration::from_secs(2u64.saturating_pow(failures.min(5)))
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())
}

/// One `getUpdates` round: the number of updates handled.
pub(crate) async fn poll_once(store: &DynStore, ingestor: &Ingestor, slug: &ChannelSlug) -> Result<usize, String> {
    let ch = store.get_channel(slug).await.map_err(|e| e.to_string())?.ok_or("the channel is gone")?;
    let chs = settings(&ch);
    let cfg = TelegramConfig::from_settings(&chs)?;
    if !cfg.polling {
        return Ok(0);
    }
    let timeout = cfg.poll_timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).min(50);
    let http = client(Duration::from_secs(timeout + 10))?;
    let offset = store.telegram_offset(slug).await.map_err(|e| e.to_string())?;
    let mut body = json!({"timeout": timeout, "allowed_updates": ALLOWED_UPDATES});
    if let Some(o) = offset {
        body["offset"] = json!(o);
    }
    let v = outbound::call_api(&http, &cfg, "getUpdates", &body).await.map_err(|e| e.to_string())?;
    let updates = v.get("result").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut next = offset.unwrap_or(0);
    let mut events = Vec::new();
    for u in &updates {
        let Some(id) = u.get("update_id").and_then(Value::as_i64) else { continue };
        next = next.max(id.saturating_add(1));
        match parse_webhook(&chs, u.to_string().as_bytes()) {
            Ok(batch) => {
                for s in &batch.skipped {
                    tracing::info!(channel = %slug, what = %s, "telegram update not turned into a message");
                }
                events.extend(batch.messages);
            }
            Err(e) => tracing::warn!(channel = %slug, update_id = id, reason = %e, "telegram update refused"),
        }
    }
    let callbacks: Vec<Option<String>> = events
        .iter()
        .map(|ev| {
            ev.extra.get("telegram").and_then(|t| t.get("callback_query_id")).and_then(Value::as_str).map(str::to_owned)
        })
        .collect();
    let files: Vec<Vec<(i32, String)>> = events.iter().map(switchboard_channels::telegram::media::downloads).collect();
    let acks = futures_util::future::join_all(events.into_iter().map(|ev| ingestor.submit(ev))).await;
    for ((ack, callback), files) in acks.into_iter().zip(callbacks).zip(files) {
        // Not stored: keep the offset, so the same updates come again.
        let ack = ack.map_err(|e| format!("cannot store an update: {e}"))?;
        // Queued on redeliveries too (once per message and index): a crash between the ack and
        // this line loses no download.
        for (index, file_id) in files {
            store.enqueue_media(slug, ack.message_id, index, &file_id).await.map_err(|e| e.to_string())?;
        }
        if let (false, Some(id)) = (ack.duplicate, callback)
            && let Err(e) = outbound::answer_callback_query(&http, &cfg, &id).await
        {
            tracing::info!(channel = %slug, error = %e, "answerCallbackQuery failed");
        }
    }
    if !updates.is_empty() {
        store.advance_telegram_offset(slug, next).await.map_err(|e| e.to_string())?;
    }
    Ok(updates.len())
}
