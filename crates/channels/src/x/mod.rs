//! X (Twitter): Account Activity webhooks in, v2 API out.
//!
//! The consumer secret (the channel's `secret`) answers the CRC challenge and signs every
//! delivery; a user-context OAuth 2.0 access token authorises sends. Public posts thread by the
//! post's conversation (`post:<conversation id>`); DMs are the contact's private thread (`""`), and
//! both belong to the same contact (the X user id).

pub mod events;
pub mod guard;
pub mod outbound;
pub mod poll;
pub mod signature;
pub mod simulator;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::{ChannelSettings, WebhookBatch, WebhookError};

pub use events::{Activity, Deletion, POST_THREAD, XExtras};

/// X API used when a channel names none.
pub const DEFAULT_API_BASE_URL: &str = "https://api.x.com";

/// Config keys that hold secrets: stored, never shown by the API.
pub const SECRET_CONFIG_KEYS: &[&str] = &["access_token"];

/// An X channel's settings (`ChannelRecord.config`; the consumer secret is the channel's `secret`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct XConfig {
    /// The brand's X user id (Account Activity's `for_user_id`): its own posts and DMs are echoes.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The brand's @handle, without the `@` (shown to agents).
    #[serde(default)]
    pub screen_name: Option<String>,
    /// OAuth 2.0 user-context access token for sends.
    #[serde(default)]
    pub access_token: Option<String>,
    /// API base URL without the version, e.g. `https://api.x.com` (the simulator's URL in tests).
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// `webhooks` (default: Account Activity deliveries) or `polling` (mentions timeline and DM
    /// events fetched with the access token, for apps without webhook access).
    #[serde(default)]
    pub mode: Option<String>,
    /// Polling: seconds between polls (default 60, at least 1); a 429 waits for the reset.
    #[serde(default)]
    pub poll_interval_secs: Option<u64>,
}

impl XConfig {
    /// Whether the channel polls the API instead of receiving webhooks.
    pub fn polling(&self) -> bool {
        self.mode.as_deref() == Some("polling")
    }

    /// Reads the config of a channel; a clear error names the bad key.
    pub fn from_settings(ch: &ChannelSettings) -> Result<XConfig, String> {
        if ch.config.is_null() {
            return Ok(XConfig::default());
        }
        serde_json::from_value(ch.config.clone()).map_err(|e| format!("channel {} config: {e}", ch.slug))
    }

    /// The API base URL, without a trailing slash.
    pub fn api_base(&self) -> &str {
        self.api_base_url.as_deref().unwrap_or(DEFAULT_API_BASE_URL).trim_end_matches('/')
    }

    /// Checks the settings needed to send; the message names the key.
    pub fn check_for_sending(&self) -> Result<(), String> {
        if self.access_token.as_deref().is_none_or(str::is_empty) {
            return Err("config.access_token is not set".into());
        }
        if self.user_id.as_deref().is_none_or(str::is_empty) {
            return Err("config.user_id is not set".into());
        }
        check_url(self.api_base_url.as_deref())
    }
}

fn check_url(url: Option<&str>) -> Result<(), String> {
    match url {
        Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
            Err(format!("config.api_base_url {u:?} is not an http(s) URL"))
        }
        _ => Ok(()),
    }
}

/// Validates an X channel's config for saving (admin API, CLI, config file).
pub fn validate_config(config: &serde_json::Value) -> Result<(), String> {
    let cfg: XConfig = if config.is_null() {
        XConfig::default()
    } else {
        serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?
    };
    if let Some(id) = &cfg.user_id
        && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("config.user_id {id:?} must be the numeric X user id (as a string)"));
    }
    match cfg.mode.as_deref() {
        None | Some("webhooks") => {}
        Some("polling") => {
            if cfg.user_id.is_none() {
                return Err("config.user_id is required for mode = \"polling\"".into());
            }
        }
        Some(other) => return Err(format!("config.mode {other:?} must be \"webhooks\" or \"polling\"")),
    }
    check_url(cfg.api_base_url.as_deref())
}

/// The CRC answer body `{"response_token":"sha256=…"}`, or why it cannot be given.
pub fn crc_response(secret: Option<&str>, crc_token: Option<&str>) -> Result<serde_json::Value, String> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err("this channel has no consumer secret configured".into());
    };
    let token = crc_token.filter(|t| !t.is_empty() && t.len() <= 512).ok_or("crc_token is missing")?;
    Ok(serde_json::json!({ "response_token": signature::crc_response_token(secret, token) }))
}

/// Parses a verified Account Activity body into canonical messages/echoes. Never panics.
pub fn parse_webhook(ch: &ChannelSettings, body: &[u8]) -> Result<WebhookBatch, WebhookError> {
    parse_delivery(ch, body).map(|(b, _)| b)
}

/// Parses a verified Account Activity body into the canonical batch and the X-specific parts
/// (activity, deletions, reply threads). Never panics, whatever the bytes.
pub fn parse_delivery(ch: &ChannelSettings, body: &[u8]) -> Result<(WebhookBatch, XExtras), WebhookError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Payload(format!("malformed JSON: {e}")))?;
    if !v.is_object() {
        return Err(WebhookError::Payload("not an Account Activity event: not a JSON object".into()));
    }
    let cfg = XConfig::from_settings(ch).unwrap_or_default();
    let mut batch = WebhookBatch::default();
    let mut extras = XExtras::default();
    events::parse_into(ch, &cfg, &v, &mut batch, &mut extras)?;
    batch.messages.retain(|ev| match ev.validate() {
        Ok(()) => true,
        Err(e) => {
            batch.skipped.push(format!("message {}: {e}", ev.provider_event_id.chars().take(80).collect::<String>()));
            false
        }
    });
    Ok((batch, extras))
}
