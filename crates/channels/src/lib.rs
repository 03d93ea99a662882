//! Switchboard's provider channels. Each provider has its own module that verifies and parses
//! inbound webhooks into canonical events, sends replies, and simulates the provider's API for
//! tests, the demo and benchmarks.
//!
//! Every provider plugs in the same way:
//! * inbound: `verify` the raw bytes, then `parse` them into a [`WebhookBatch`];
//! * outbound: a [`Sender`] turns an [`OutboundRequest`] into the provider's API call and answers
//!   a [`SendReceipt`] or a [`SendError`] that tells the outbox whether to retry.
#![forbid(unsafe_code)]

pub mod buttons;
pub mod meta;
pub mod probe;
pub mod telegram;
pub mod widget;
pub mod x;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::{Attachment, ChannelKind, ChannelSlug, DeliveryStatus, InboundEvent, Visibility};

/// A channel's settings as stored: its kind, the secret and the provider-specific config.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    /// The channel.
    pub slug: ChannelSlug,
    /// Provider kind.
    pub kind: ChannelKind,
    /// The channel's secret (Meta: the app secret that signs webhooks).
    pub secret: Option<String>,
    /// Provider-specific settings (JSON object).
    pub config: serde_json::Value,
}

/// A provider report on an outbound message (sent / delivered / read / failed).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The provider's id of the outbound message.
    pub provider_message_id: String,
    /// The reported state.
    pub status: DeliveryStatus,
    /// For failures: the provider's code, title and details.
    pub reason: Option<String>,
    /// The provider's time of the report.
    pub at: DateTime<Utc>,
    /// The business account that sent the message (WhatsApp: the `phone_number_id`).
    pub account: Option<String>,
}

/// A message the brand sent from outside Switchboard (or Switchboard itself), echoed back by the
/// provider. Recorded as outbound, never as a customer message.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    /// The provider's message id.
    pub provider_message_id: String,
    /// The customer it went to.
    pub recipient: String,
    /// The conversation thread ("" for the contact's single thread).
    pub thread_key: String,
    /// Text (may be empty with attachments).
    pub text: String,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The send carried Switchboard's own metadata: our outbox records it already.
    pub sent_by_switchboard: bool,
    /// The key Switchboard sent with it (its outbox row id), when the provider echoes it.
    pub switchboard_key: Option<String>,
}

/// "Everything up to this time was read by this customer" (Messenger/Instagram read receipts).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadWatermark {
    /// The customer.
    pub customer: String,
    /// Messages sent at or before this time are read.
    pub watermark: DateTime<Utc>,
}

/// A second identifier of the same person (WhatsApp: a business-scoped user id next to a phone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    /// The identifier the event is keyed on.
    pub provider_user_id: String,
    /// Another identifier the same person was (or may have been) known by.
    pub alias: String,
    /// The business account it was seen on (WhatsApp: the `phone_number_id`).
    pub account: Option<String>,
}

/// What one webhook delivery contained, in canonical form.
#[derive(Debug, Clone, Default)]
pub struct WebhookBatch {
    /// Customer messages for the durable ingest path.
    pub messages: Vec<InboundEvent>,
    /// Status reports on outbound messages.
    pub statuses: Vec<StatusUpdate>,
    /// The brand's own messages.
    pub echoes: Vec<Echo>,
    /// Read watermarks.
    pub reads: Vec<ReadWatermark>,
    /// Identifiers that name the same person.
    pub identity_links: Vec<IdentityLink>,
    /// Parts not turned into anything, with why (logged by the caller).
    pub skipped: Vec<String>,
}

/// Why a webhook body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The signature header is missing or does not match.
    #[error("{0}")]
    Signature(String),
    /// The body is not JSON of the provider's webhook shape.
    #[error("{0}")]
    Payload(String),
}

/// One reply to deliver, with everything the provider call needs.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// The channel.
    pub channel: ChannelSettings,
    /// Switchboard's idempotency key for this reply (the outbox row id).
    pub idempotency_key: String,
    /// Attempt number (1 for the first).
    pub attempt: i32,
    /// The customer's provider id.
    pub recipient: String,
    /// The customer's handle on the channel (WhatsApp: the phone number, when known).
    pub recipient_handle: Option<String>,
    /// The conversation's thread key.
    pub thread_key: String,
    /// Public (a comment reply) or private (a DM).
    pub visibility: Visibility,
    /// The reply text.
    pub text: String,
    /// A structured payload for non-text replies (template, media); see each provider.
    pub payload: Option<serde_json::Value>,
    /// The provider id of the customer message being answered (the latest inbound one).
    pub reply_to: Option<String>,
    /// When the customer last wrote in this conversation.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// When the agent wrote the reply (a provider post older than this is not this reply).
    pub queued_at: DateTime<Utc>,
    /// Why the previous attempt failed (retries only): a sender whose earlier answer was lost
    /// checks the provider before sending again.
    pub previous_error: Option<String>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A provider accepted a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The provider's message id (status webhooks name it).
    pub provider_message_id: String,
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying (network, timeout, 5xx, rate limit); the provider may say when.
    #[error("{reason}")]
    Retryable {
        /// What happened.
        reason: String,
        /// How long the provider asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Will never succeed as it is; the reason is shown on the message.
    #[error("{0}")]
    Permanent(String),
}

/// Delivers replies for one kind of channel.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Sends one reply.
    async fn send(&self, req: &OutboundRequest) -> Result<SendReceipt, SendError>;
}

/// The sender for a channel kind, if this build has one (`api` channels are delivered by the
/// engine's callback sender).
pub fn sender_for(kind: ChannelKind, client: &reqwest::Client) -> Option<Box<dyn Sender>> {
    match kind {
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => {
            Some(Box::new(meta::outbound::MetaSender::new(client.clone())))
        }
        ChannelKind::Telegram => Some(Box::new(telegram::outbound::TelegramSender::new(client.clone()))),
        ChannelKind::X => Some(Box::new(x::outbound::XSender::new(client.clone()))),
        _ => None,
    }
}

/// Validates a channel's provider config for saving (admin API, CLI, config file); the message
/// names the bad key. Kinds without provider config accept anything.
pub fn validate_config(kind: ChannelKind, config: &serde_json::Value) -> Result<(), String> {
    match kind {
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => meta::validate_config(kind, config),
        ChannelKind::X => x::validate_config(config),
        ChannelKind::Telegram => telegram::validate_config(config),
        ChannelKind::Web => widget::validate_config(config),
        _ => Ok(()),
    }
}

/// Whether a reply may be sent now, for a UI composer and for the reply API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WindowState {
    /// The channel has a customer-service window at all.
    pub applies: bool,
    /// A free-form reply may be sent now.
    pub open: bool,
    /// When the customer last wrote.
    pub last_customer_message_at: Option<DateTime<Utc>>,
    /// When the standard window closes (or closed).
    pub closes_at: Option<DateTime<Utc>>,
    /// Messenger/Instagram: until when a reply may still go out with the HUMAN_AGENT tag (when
    /// the channel enables it).
    pub human_agent_until: Option<DateTime<Utc>>,
    /// Kinds of replies allowed now: `text`, `media`, `template`.
    pub allowed: Vec<&'static str>,
    /// Why free-form replies are refused, in words an agent understands.
    pub reason: Option<String>,
    /// The same in Simplified Chinese.
    pub reason_zh: Option<String>,
}

/// The window state of a conversation on a channel.
pub fn window_state(
    channel: &ChannelSettings,
    visibility: Visibility,
    last_inbound_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> WindowState {
    match channel.kind {
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => {
            meta::window::state(channel, visibility, last_inbound_at, now)
        }
        _ => WindowState {
            applies: false,
            open: true,
            last_customer_message_at: last_inbound_at,
            closes_at: None,
            human_agent_until: None,
            allowed: vec!["text"],
            reason: None,
            reason_zh: None,
        },
    }
}
