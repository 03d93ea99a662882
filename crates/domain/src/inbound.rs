//! The canonical inbound event every channel produces, and the generic API channel's wire format.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Attachment, ChannelSlug, Visibility};

/// Who sent an inbound message, as the provider names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactRef {
    /// The provider's stable user id (or, for the API channel, the customer's handle).
    pub provider_user_id: String,
    /// Handle, phone number or email as shown to agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// One inbound customer message in canonical form: what the event log stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// The channel it arrived on.
    pub channel: ChannelSlug,
    /// The provider's id for this event; (channel, provider_event_id) is the dedupe key.
    pub provider_event_id: String,
    /// Who wrote it.
    pub contact: ContactRef,
    /// The provider's thread inside the channel ("" when a contact has one thread per channel).
    #[serde(default)]
    pub thread_key: String,
    /// Public (a post, a comment) or private (a DM, a chat).
    pub visibility: Visibility,
    /// Text; may be empty when there are attachments.
    #[serde(default)]
    pub text: String,
    /// Attachment metadata.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// When the customer sent it, by the provider's clock.
    pub sent_at: DateTime<Utc>,
    /// Fields Switchboard does not interpret, kept as received.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Why an inbound payload was rejected. The message is safe to show to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundPayloadError {
    /// Not JSON at all (syntax error, truncated body).
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON of the wrong shape: a missing field, a wrong type.
    #[error("invalid payload: {0}")]
    Shape(String),
    /// A field is present but unacceptable.
    #[error("invalid field `{field}`: {reason}")]
    Invalid {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Longest accepted provider id (event, user, thread).
pub const MAX_ID_LEN: usize = 256;
/// Longest accepted message text, in bytes.
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 32;

fn check_id(field: &'static str, v: &str) -> Result<(), InboundPayloadError> {
    if v.trim().is_empty() {
        return Err(InboundPayloadError::Invalid { field, reason: "must not be empty".into() });
    }
    if v.len() > MAX_ID_LEN {
        return Err(InboundPayloadError::Invalid { field, reason: format!("longer than {MAX_ID_LEN} bytes") });
    }
    if v.chars().any(char::is_control) {
        return Err(InboundPayloadError::Invalid { field, reason: "contains control characters".into() });
    }
    Ok(())
}

impl InboundEvent {
    /// Checks the invariants every channel's parser must uphold.
    pub fn validate(&self) -> Result<(), InboundPayloadError> {
        check_id("external_id", &self.provider_event_id)?;
        check_id("contact.handle", &self.contact.provider_user_id)?;
        if self.thread_key.len() > MAX_ID_LEN {
            return Err(InboundPayloadError::Invalid {
                field: "thread_id",
                reason: format!("longer than {MAX_ID_LEN} bytes"),
            });
        }
        if self.text.len() > MAX_TEXT_LEN {
            return Err(InboundPayloadError::Invalid {
                field: "text",
                reason: format!("longer than {MAX_TEXT_LEN} bytes"),
            });
        }
        if self.text.trim().is_empty() && self.attachments.is_empty() {
            return Err(InboundPayloadError::Invalid { field: "text", reason: "empty text and no attachments".into() });
        }
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(InboundPayloadError::Invalid {
                field: "attachments",
                reason: format!("more than {MAX_ATTACHMENTS}"),
            });
        }
        // PostgreSQL text cannot hold NUL; refuse it here rather than acknowledge an event that
        // can never be threaded.
        let texts = [
            ("text", Some(self.text.as_str())),
            ("thread_id", Some(self.thread_key.as_str())),
            ("contact.name", self.contact.display_name.as_deref()),
            ("contact.handle", self.contact.handle.as_deref()),
        ];
        for (field, value) in texts {
            if value.is_some_and(|v| v.contains('\0')) {
                return Err(InboundPayloadError::Invalid { field, reason: "contains a NUL character".into() });
            }
        }
        // Kept fields are stored one level deeper than received; bound the depth so the stored
        // event always reads back (serde_json refuses more than 128 levels).
        if self.extra.values().any(|v| json_depth(v) > MAX_EXTRA_DEPTH) {
            return Err(InboundPayloadError::Invalid {
                field: "extra",
                reason: format!("unknown fields nest deeper than {MAX_EXTRA_DEPTH} levels"),
            });
        }
        Ok(())
    }
}

/// Deepest nesting of kept unknown fields.
pub const MAX_EXTRA_DEPTH: usize = 32;

fn json_depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The generic API channel's request body for `POST /api/v1/inbound`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "channel": "support-api",
    "external_id": "msg-8812",
    "contact": {"handle": "cust-42", "name": "Ada Lovelace"},
    "text": "My order has not arrived",
    "sent_at": "2026-11-25T10:00:00Z"
}))]
pub struct ApiInbound {
    /// Slug of an API channel.
    pub channel: String,
    /// Your system's unique id for this message; redelivery with the same id is deduplicated.
    pub external_id: String,
    /// Who wrote it.
    pub contact: ApiContact,
    /// Message text (may be empty if there are attachments).
    #[serde(default)]
    pub text: String,
    /// When the customer sent it (RFC 3339).
    pub sent_at: DateTime<Utc>,
    /// Optional thread inside the channel; messages with different threads become different conversations.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// `private` (default) or `public`.
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// Attachment metadata.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Any other fields are kept with the event.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The sender in an [`ApiInbound`] request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ApiContact {
    /// The customer's stable id or handle in your system.
    pub handle: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Any other fields are kept.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiInbound {
    /// Parses and validates a raw request body. Never panics, whatever the bytes.
    pub fn parse(body: &[u8]) -> Result<(ChannelSlug, InboundEvent), InboundPayloadError> {
        let req: ApiInbound = serde_json::from_slice(body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => InboundPayloadError::Shape(e.to_string()),
            _ => InboundPayloadError::Malformed(e.to_string()),
        })?;
        req.into_event()
    }

    /// Converts to the canonical event and validates it.
    pub fn into_event(self) -> Result<(ChannelSlug, InboundEvent), InboundPayloadError> {
        let channel = ChannelSlug::parse(&self.channel)
            .map_err(|e| InboundPayloadError::Invalid { field: "channel", reason: e.to_string() })?;
        let mut extra = self.extra;
        if !self.contact.extra.is_empty() {
            extra.insert("contact".into(), serde_json::Value::Object(self.contact.extra));
        }
        let event = InboundEvent {
            channel: channel.clone(),
            provider_event_id: self.external_id,
            contact: ContactRef {
                provider_user_id: self.contact.handle.clone(),
                handle: Some(self.contact.handle),
                display_name: self.contact.name.filter(|n| !n.trim().is_empty()),
            },
            thread_key: self.thread_id.unwrap_or_default(),
            visibility: self.visibility.unwrap_or(Visibility::Private),
            text: self.text,
            attachments: self.attachments,
            sent_at: self.sent_at,
            extra,
        };
        event.validate()?;
        Ok((channel, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OK: &str = r#"{"channel":"support-api","external_id":"m1","contact":{"handle":"c1","name":"Ada","vip":true},
        "text":"hello","sent_at":"2026-11-25T10:00:00Z","loyalty_tier":"gold"}"#;

    #[test]
    fn parses_and_keeps_unknown_fields() {
        let (slug, ev) = ApiInbound::parse(OK.as_bytes()).expect("valid");
        assert_eq!(slug.as_str(), "support-api");
        assert_eq!(ev.contact.provider_user_id, "c1");
        assert_eq!(ev.contact.display_name.as_deref(), Some("Ada"));
        assert_eq!(ev.visibility, Visibility::Private);
        assert_eq!(ev.extra["loyalty_tier"], "gold");
        assert_eq!(ev.extra["contact"]["vip"], true);
    }

    #[test]
    fn rejects_bad_fields_with_a_reason() {
        let cases = [
            (r#"{"#, "malformed"),
            (r#"[]"#, "invalid payload"),
            (r#"{"channel":"support-api"}"#, "missing field"),
            (
                r#"{"channel":"Bad Slug","external_id":"m","contact":{"handle":"c"},"text":"x","sent_at":"2026-11-25T10:00:00Z"}"#,
                "`channel`",
            ),
            (
                r#"{"channel":"a","external_id":"","contact":{"handle":"c"},"text":"x","sent_at":"2026-11-25T10:00:00Z"}"#,
                "`external_id`",
            ),
            (
                r#"{"channel":"a","external_id":"m","contact":{"handle":"c"},"text":"  ","sent_at":"2026-11-25T10:00:00Z"}"#,
                "`text`",
            ),
            (
                r#"{"channel":"a","external_id":"m","contact":{"handle":"c"},"text":"x","sent_at":"yesterday"}"#,
                "invalid payload",
            ),
            (
                r#"{"channel":"a","external_id":7,"contact":{"handle":"c"},"text":"x","sent_at":"2026-11-25T10:00:00Z"}"#,
                "invalid type",
            ),
        ];
        for (body, want) in cases {
            let err = ApiInbound::parse(body.as_bytes()).expect_err(body).to_string();
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    #[test]
    fn accepted_events_always_read_back() {
        let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        let body = OK.replace(r#""loyalty_tier":"gold""#, &format!(r#""deep":{deep}"#));
        let err = ApiInbound::parse(body.as_bytes()).expect_err("too deep").to_string();
        assert!(err.contains("`extra`"), "{err}");
        let nul = OK.replace("hello", "hel\\u0000lo");
        let err = ApiInbound::parse(nul.as_bytes()).expect_err("NUL").to_string();
        assert!(err.contains("NUL"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = ApiInbound::parse(&bytes);
        }

        #[test]
        fn structured_garbage_never_panics(
            channel in ".{0,80}", id in ".{0,300}", handle in ".{0,300}", text in ".{0,200}",
            ts in prop_oneof![Just("2026-11-25T10:00:00Z".to_string()), ".{0,30}"],
        ) {
            let body = serde_json::json!({
                "channel": channel, "external_id": id, "contact": {"handle": handle},
                "text": text, "sent_at": ts,
            });
            if let Ok((_, ev)) = ApiInbound::parse(body.to_string().as_bytes()) {
                prop_assert!(ev.validate().is_ok());
                // What is acknowledged must be readable by the pipeline.
                let stored = serde_json::to_string(&ev).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(serde_json::from_str::<InboundEvent>(&stored).is_ok());
            }
        }
    }
}
