//! Inbound media: downloads customers' pictures, voice notes, videos and documents from the
//! provider into the data directory (WhatsApp through the Graph media endpoint, Messenger and
//! Instagram from the attachment's CDN URL, which expires). Jobs live in the database (any node may run them, a crash
//! re-runs them); failures are retried with backoff and never hold up the message itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use switchboard_channels::meta::MetaConfig;
use switchboard_channels::meta::media::{extension, fetch, fetch_url, is_url};
use switchboard_channels::telegram::TelegramConfig;
use switchboard_channels::telegram::media::fetch as telegram_fetch;
use switchboard_domain::ChannelKind;
use switchboard_store::{DynStore, MediaJob};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff;
use crate::channel_delivery::settings;

/// Media download tunables.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Where files are written (`<data_dir>/media`).
    pub dir: PathBuf,
    /// Attempts before a download is given up.
    pub max_attempts: u32,
    /// First retry delay.
    pub base_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Timeout of one download.
    pub request_timeout: Duration,
    /// How often to look for due downloads without being woken.
    pub poll: Duration,
}

impl MediaConfig {
    /// Defaults for files under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            max_attempts: 8,
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30 * 60),
            request_timeout: Duration::from_secs(60),
            poll: Duration::from_secs(2),
        }
    }
}

pub(crate) async fn run(store: DynStore, cfg: MediaConfig, wake: Arc<Notify>, cancel: CancellationToken) {
    let client = match reqwest::Client::builder().timeout(cfg.request_timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build HTTP client; media downloads not running");
            return;
        }
    };
    loop {
        loop {
            let now = Utc::now();
            let lease = chrono::Duration::from_std(cfg.request_timeout * 2).unwrap_or(chrono::Duration::minutes(2));
            let jobs = match store.claim_media(now, now + lease, 8).await {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim media downloads");
                    break;
                }
            };
            if jobs.is_empty() {
                break;
            }
            let mut set = tokio::task::JoinSet::new();
            for job in jobs {
                let (store, client, cfg) = (store.clone(), client.clone(), cfg.clone());
                set.spawn(async move { download(&store, &client, &cfg, job).await });
            }
            while set.join_next().await.is_some() {}
            if cancel.is_cancelled() {
                return;
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(cfg.poll) => {}
        }
    }
}

async fn download(store: &DynStore, client: &reqwest::Client, cfg: &MediaConfig, job: MediaJob) {
    let result = fetch_one(store, client, cfg, &job).await;
    let outcome = match result {
        Ok((path, mime, size)) => {
            tracing::debug!(message_id = %job.message_id, index = job.index, size, "media downloaded");
            store.complete_media(job.message_id, job.index, &path, &mime, size).await
        }
        Err((retryable, reason)) => {
            let retry_at = (retryable && (job.attempts as u32) < cfg.max_attempts).then(|| {
                let wait = backoff(job.attempts.max(1) as u32, cfg.base_backoff, cfg.max_backoff);
                Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(1))
            });
            tracing::warn!(message_id = %job.message_id, index = job.index, attempt = job.attempts, %reason,
                retry = retry_at.is_some(), "media download failed");
            store.fail_media(job.message_id, job.index, &reason, retry_at).await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, message_id = %job.message_id, "cannot record media download; the lease will expire");
    }
}

async fn fetch_one(
    store: &DynStore,
    client: &reqwest::Client,
    cfg: &MediaConfig,
    job: &MediaJob,
) -> Result<(String, String, i64), (bool, String)> {
    let ch = store
        .get_channel(&job.channel)
        .await
        .map_err(|e| (true, format!("cannot read the channel: {e}")))?
        .ok_or_else(|| (false, format!("channel {} no longer exists", job.channel)))?;
    let media = match ch.kind {
        ChannelKind::Web => return crate::widget::local_media(store, job).await,
        ChannelKind::Telegram => {
            let cfg = TelegramConfig::from_settings(&settings(&ch)).map_err(|e| (false, e))?;
            telegram_fetch(client, &cfg, &job.provider_id).await.map_err(|e| (e.retryable, e.reason))?
        }
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => {
            let meta = MetaConfig::from_settings(&settings(&ch)).map_err(|e| (false, e))?;
            // WhatsApp names a Graph media id; Messenger and Instagram a CDN URL that expires.
            if is_url(&job.provider_id) {
                fetch_url(client, &meta, &job.provider_id).await
            } else {
                fetch(client, &meta, &job.provider_id).await
            }
            .map_err(|e| (e.retryable, e.reason))?
        }
        other => return Err((false, format!("{other} channels have no media endpoint"))),
    };
    let rel = format!("{}/{}-{}.{}", job.channel, job.message_id, job.index, extension(&media.mime_type));
    let path = cfg.dir.join(&rel);
    let bytes = media.bytes.clone();
    let target = path.clone();
    let write = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Written aside and renamed, so a reader never sees half a file.
        let tmp = target.with_extension("part");
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &target)
    });
    write
        .await
        .map_err(|e| (true, format!("cannot write {}: {e}", path.display())))?
        .map_err(|e| (true, format!("cannot write {}: {e}", path.display())))?;
    Ok((rel, media.mime_type, media.bytes.len() as i64))
}
