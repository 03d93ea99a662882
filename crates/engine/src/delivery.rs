//! Delivering one outbox row to its channel.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use switchboard_domain::ChannelKind;
use switchboard_store::{DynStore, OutboxItem};

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Worth retrying (network, timeout, 408/429/5xx); the provider may say when.
    Retryable {
        /// What happened.
        reason: String,
        /// The provider's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Will never succeed as it is (4xx, no sender for this channel kind).
    Permanent(String),
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::Retryable { reason, .. } => write!(f, "{reason}"),
            DeliveryError::Permanent(r) => write!(f, "{r}"),
        }
    }
}

/// Header carrying the HMAC-SHA256 of the raw body, as `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-switchboard-signature";

/// `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON an API channel's callback receives for each reply.
#[derive(Debug, Serialize)]
pub struct ApiCallback<'a> {
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Switchboard's message id.
    pub id: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Case number, e.g. `SB-000123`.
    pub case_number: String,
    /// Channel slug.
    pub channel: &'a str,
    /// The customer's handle (the `contact.handle` they were ingested with).
    pub recipient: &'a str,
    /// Thread id given at ingest, if any.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub thread_id: &'a str,
    /// `public` or `private`.
    pub visibility: &'static str,
    /// The reply text.
    pub text: &'a str,
    /// When the agent wrote it.
    pub created_at: String,
    /// Delivery attempt number (1 for the first).
    pub attempt: i32,
    /// Choices the reply offers (`[{"text", "data"}]`, from the reply's `payload.buttons`): the
    /// receiving app shows them and posts the pressed one back with `button_data`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<serde_json::Value>,
}

/// Sends one reply. Returns the provider's message id.
pub async fn deliver(client: &reqwest::Client, store: &DynStore, item: &OutboxItem) -> Result<String, DeliveryError> {
    match item.channel.kind {
        ChannelKind::Api => deliver_api(client, store, item).await,
        ChannelKind::Web => crate::widget::deliver(store, item).await,
        other => match switchboard_channels::sender_for(other, client) {
            Some(sender) => crate::channel_delivery::deliver(sender.as_ref(), store, item).await,
            None => Err(DeliveryError::Permanent(format!("channel kind {other} has no outbound sender in this build"))),
        },
    }
}

async fn deliver_api(client: &reqwest::Client, store: &DynStore, item: &OutboxItem) -> Result<String, DeliveryError> {
    let url = item
        .channel
        .callback_url
        .as_deref()
        .ok_or_else(|| DeliveryError::Permanent(format!("channel {} has no callback_url", item.channel.slug)))?;
    let payload = store.reply_payload(item.message_id).await.map_err(|e| DeliveryError::Retryable {
        reason: format!("cannot read the reply's payload: {e}"),
        retry_after: None,
    })?;
    let buttons = switchboard_channels::buttons::from_payload(payload.as_ref())
        .map_err(|e| DeliveryError::Permanent(e.to_string()))?
        .into_iter()
        .map(|b| serde_json::json!({"text": b.text, "data": b.data}))
        .collect();
    let body = serde_json::to_vec(&ApiCallback {
        kind: "message",
        id: item.message_id.to_string(),
        conversation_id: item.conversation_id.to_string(),
        case_number: item.case_number.to_string(),
        channel: item.channel.slug.as_str(),
        recipient: &item.recipient,
        thread_id: &item.thread_key,
        visibility: item.visibility.as_str(),
        text: &item.text,
        created_at: item.created_at.to_rfc3339(),
        attempt: item.attempts,
        buttons,
    })
    .map_err(|e| DeliveryError::Permanent(format!("cannot encode callback: {e}")))?;
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        // The receiver dedupes on this key: a resend after a crash is the same delivery.
        .header("idempotency-key", item.id.to_string());
    if let Some(secret) = &item.channel.secret {
        req = req.header(SIGNATURE_HEADER, sign(secret.as_bytes(), &body));
    }
    let resp = req
        .body(body)
        .send()
        .await
        .map_err(|e| DeliveryError::Retryable { reason: format!("callback request failed: {e}"), retry_after: None })?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        let id = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("id").and_then(|id| id.as_str().map(str::to_owned).or_else(|| id.as_i64().map(|n| n.to_string())))
            })
            .unwrap_or_else(|| item.id.to_string());
        return Ok(id);
    }
    let snippet: String = text.chars().take(200).collect();
    let reason = format!("callback answered {status}: {snippet}");
    if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
        Err(DeliveryError::Retryable { reason, retry_after })
    } else {
        Err(DeliveryError::Permanent(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
