//! Meta's Graph API channels: WhatsApp Cloud API, Facebook Messenger and Instagram.
//!
//! One app secret signs every webhook (`X-Hub-Signature-256`); one verify token answers the
//! subscription handshake; one access token authorises sends. The three products differ in the
//! shape of their payloads (see [`whatsapp`], [`messenger`], [`instagram`]).

pub mod instagram;
pub mod media;
pub mod messenger;
pub mod outbound;
pub mod signature;
pub mod simulator;
pub mod whatsapp;
pub mod window;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{ChannelKind, InboundEvent};

use crate::{ChannelSettings, WebhookBatch, WebhookError};

/// Graph API used when a channel names none.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.facebook.com/v23.0";

/// Config keys that hold secrets: stored, never shown by the API.
pub const SECRET_CONFIG_KEYS: &[&str] = &["access_token", "verify_token", "app_secret"];

/// A Meta channel's settings (`ChannelRecord.config`; the app secret is the channel's `secret`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    /// Answered in the `GET` subscription handshake.
    #[serde(default)]
    pub verify_token: Option<String>,
    /// Graph API access token (system user or page token) for sends and media.
    #[serde(default)]
    pub access_token: Option<String>,
    /// WhatsApp: the business phone number id that sends.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// Messenger: the Facebook page id.
    #[serde(default)]
    pub page_id: Option<String>,
    /// Instagram: the professional account id.
    #[serde(default)]
    pub ig_account_id: Option<String>,
    /// Graph API base URL including the version, e.g. `https://graph.facebook.com/v23.0` (the
    /// simulator's URL in tests and the demo).
    #[serde(default)]
    pub graph_base_url: Option<String>,
    /// Messenger/Instagram: allow replies with the HUMAN_AGENT tag up to 7 days after the
    /// customer's last message (requires Meta's Human Agent permission).
    #[serde(default)]
    pub human_agent_tag: bool,
    /// Largest inbound media file fetched, in bytes (default 16 MiB).
    #[serde(default)]
    pub max_media_bytes: Option<u64>,
}

impl MetaConfig {
    /// Reads the config of a channel; a clear error names the bad key.
    pub fn from_settings(ch: &ChannelSettings) -> Result<MetaConfig, String> {
        if ch.config.is_null() {
            return Ok(MetaConfig::default());
        }
        serde_json::from_value(ch.config.clone()).map_err(|e| format!("channel {} config: {e}", ch.slug))
    }

    /// The Graph API base URL, without a trailing slash.
    pub fn graph_base(&self) -> &str {
        self.graph_base_url.as_deref().unwrap_or(DEFAULT_GRAPH_BASE_URL).trim_end_matches('/')
    }

    /// Checks the settings a channel of `kind` needs to send; the message names the key.
    pub fn check_for_sending(&self, kind: ChannelKind) -> Result<(), String> {
        if self.access_token.as_deref().is_none_or(str::is_empty) {
            return Err("config.access_token is not set".into());
        }
        let (key, v) = match kind {
            ChannelKind::Whatsapp => ("phone_number_id", &self.phone_number_id),
            ChannelKind::Messenger => ("page_id", &self.page_id),
            ChannelKind::Instagram => ("ig_account_id", &self.ig_account_id),
            _ => return Ok(()),
        };
        if v.as_deref().is_none_or(str::is_empty) {
            return Err(format!("config.{key} is not set"));
        }
        if let Some(url) = &self.graph_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!("config.graph_base_url {url:?} is not an http(s) URL"));
        }
        Ok(())
    }
}

/// Validates a channel's Meta config for saving (admin API, CLI, config file).
pub fn validate_config(kind: ChannelKind, config: &serde_json::Value) -> Result<(), String> {
    let cfg: MetaConfig = if config.is_null() {
        MetaConfig::default()
    } else {
        serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?
    };
    if let Some(url) = &cfg.graph_base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!("config.graph_base_url {url:?} is not an http(s) URL"));
    }
    let _ = kind;
    Ok(())
}

/// The answer to the `GET` subscription handshake: `Ok(challenge)` to echo back with 200, or the
/// reason for a 403.
pub fn verify_subscription(
    cfg: &MetaConfig,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
) -> Result<String, String> {
    let Some(expected) = cfg.verify_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err("this channel has no verify_token configured".into());
    };
    if mode != Some("subscribe") {
        return Err("hub.mode must be subscribe".into());
    }
    let Some(token) = token else { return Err("hub.verify_token is missing".into()) };
    if !signature::constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Err("hub.verify_token does not match".into());
    }
    match challenge {
        Some(c) if !c.is_empty() && c.len() <= 256 => Ok(c.to_owned()),
        _ => Err("hub.challenge is missing".into()),
    }
}

/// Parses a verified webhook body for a channel of `kind`. Never panics, whatever the bytes.
pub fn parse_webhook(ch: &ChannelSettings, body: &[u8]) -> Result<WebhookBatch, WebhookError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Payload(format!("malformed JSON: {e}")))?;
    let object = v.get("object").and_then(|o| o.as_str()).unwrap_or("");
    let Some(entries) = v.get("entry").and_then(|e| e.as_array()) else {
        return Err(WebhookError::Payload("not a Meta webhook: no `entry` array".into()));
    };
    let mut batch = WebhookBatch::default();
    let cfg = MetaConfig::from_settings(ch).unwrap_or_default();
    match (ch.kind, object) {
        (ChannelKind::Whatsapp, "whatsapp_business_account") => whatsapp::parse(ch, entries, &mut batch),
        (ChannelKind::Messenger, "page") => messenger::parse(ch, &cfg, entries, &mut batch),
        (ChannelKind::Instagram, "instagram") => instagram::parse(ch, &cfg, entries, &mut batch),
        (kind, object) => {
            return Err(WebhookError::Payload(format!(
                "a {kind} channel does not accept webhooks for object {object:?}"
            )));
        }
    }
    // What is acknowledged must be storable: an event the store would refuse is reported, not
    // ingested (so it cannot block the delivery it came in).
    batch.messages.retain(|ev| match ev.validate() {
        Ok(()) => true,
        Err(e) => {
            batch.skipped.push(format!("message {}: {e}", ev.provider_event_id.chars().take(80).collect::<String>()));
            false
        }
    });
    Ok(batch)
}

/// Meta timestamps: WhatsApp sends strings of seconds, Messenger/Instagram numbers of
/// milliseconds, Instagram `changes` numbers of seconds. Anything unreadable is "now".
pub(crate) fn timestamp(v: Option<&serde_json::Value>) -> DateTime<Utc> {
    let n = match v {
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    match n {
        // Milliseconds since 2001 are > 10^12; seconds stay below that until the year 33658.
        Some(n) if n > 1_000_000_000_000 => DateTime::from_timestamp_millis(n),
        Some(n) if n > 0 => DateTime::from_timestamp(n, 0),
        _ => None,
    }
    .unwrap_or_else(Utc::now)
}

/// The string at `key`, if it is a non-empty string.
pub(crate) fn s<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(|x| x.as_str()).filter(|x| !x.trim().is_empty())
}

/// Marks an event with the provider's message type and keeps the raw JSON of the message.
pub(crate) fn keep_raw(ev: &mut InboundEvent, kind: &str, raw: &serde_json::Value) {
    ev.extra.insert("message_type".into(), serde_json::Value::String(kind.to_owned()));
    ev.extra.insert("raw".into(), raw.clone());
}

/// A Graph API error body: `{"error":{"message","type","code","error_subcode","error_data":{"details"}}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    /// Numeric code (e.g. 131047, 10, 130429).
    pub code: Option<i64>,
    /// Subcode (e.g. 2018278).
    pub subcode: Option<i64>,
    /// The message.
    pub message: String,
    /// WhatsApp's `error_data.details`.
    pub details: Option<String>,
}

impl GraphError {
    /// Reads an error body; `None` if it is not one.
    pub fn parse(body: &str) -> Option<GraphError> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let e = v.get("error")?;
        Some(GraphError {
            code: e.get("code").and_then(|c| c.as_i64()),
            subcode: e.get("error_subcode").and_then(|c| c.as_i64()),
            message: e.get("message").and_then(|m| m.as_str()).unwrap_or("").to_owned(),
            details: e.get("error_data").and_then(|d| d.get("details")).and_then(|d| d.as_str()).map(str::to_owned),
        })
    }

    /// `code 131047: Re-engagement message — details` for showing on the message.
    pub fn describe(&self) -> String {
        let mut s = match self.code {
            Some(c) => format!("error {c}"),
            None => "error".to_owned(),
        };
        if let Some(sc) = self.subcode {
            s.push_str(&format!("/{sc}"));
        }
        if !self.message.is_empty() {
            s.push_str(": ");
            s.push_str(&self.message);
        }
        if let Some(d) = &self.details
            && !self.message.contains(d.as_str())
        {
            s.push_str(" — ");
            s.push_str(d);
        }
        s
    }
}
