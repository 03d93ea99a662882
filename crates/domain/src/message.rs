//! Messages: what the customer and the team say.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ConversationId, MessageId, UserId, string_enum};

string_enum!(
    /// Who a message comes from.
    Direction, "direction" {
        /// From the customer.
        Inbound => "inbound",
        /// From the team (or the brand outside Switchboard) to the customer.
        Outbound => "outbound",
        /// An internal note: never sent to the customer.
        Note => "note",
    }
);

string_enum!(
    /// Who can see a message on the provider's side.
    Visibility, "visibility" {
        /// Visible to the public (an X reply, an Instagram comment).
        Public => "public",
        /// Only the customer and the brand (a DM, a chat).
        Private => "private",
    }
);

string_enum!(
    /// Delivery state of an outbound message. Moves forward only, except to `failed`.
    DeliveryStatus, "delivery status" {
        /// In the outbox.
        Queued => "queued",
        /// Accepted by the provider.
        Sent => "sent",
        /// On the customer's device.
        Delivered => "delivered",
        /// Seen by the customer.
        Read => "read",
        /// Given up; see the reason.
        Failed => "failed",
    }
);

impl DeliveryStatus {
    fn rank(self) -> u8 {
        match self {
            DeliveryStatus::Queued => 0,
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Failed => 2,
            DeliveryStatus::Delivered => 3,
            DeliveryStatus::Read => 4,
        }
    }

    /// Whether a report of `next` should replace `self`. Provider status reports arrive out of
    /// order: the furthest state wins; `failed` is overridden only by a later delivered/read
    /// (multi-device users).
    pub fn should_advance_to(self, next: DeliveryStatus) -> bool {
        next.rank() > self.rank()
    }
}

/// Metadata of one attachment; the bytes stay with the provider or in blob storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    /// image, audio, video, document, sticker, location, contacts, file, ...; unknown kinds are kept.
    pub kind: String,
    /// Where to fetch it, if the provider gives a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The provider's media id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
}

/// One message in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// Stable id.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Inbound, outbound or note.
    pub direction: Direction,
    /// Public or private on the provider's side.
    pub visibility: Visibility,
    /// The agent who wrote it (outbound and notes).
    pub author_id: Option<UserId>,
    /// Text content.
    pub text: String,
    /// Attachment metadata.
    pub attachments: Vec<Attachment>,
    /// The provider's id for this message, once known.
    pub provider_message_id: Option<String>,
    /// Delivery state (outbound only).
    pub delivery_status: Option<DeliveryStatus>,
    /// Why delivery failed.
    pub failure_reason: Option<String>,
    /// When it was written (provider time for inbound).
    pub sent_at: DateTime<Utc>,
    /// When Switchboard stored it.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryStatus::*;

    #[test]
    fn delivery_status_moves_forward() {
        assert!(Queued.should_advance_to(Sent));
        assert!(Sent.should_advance_to(Read));
        assert!(!Read.should_advance_to(Delivered));
        assert!(!Delivered.should_advance_to(Failed));
        assert!(Failed.should_advance_to(Delivered));
        assert!(Sent.should_advance_to(Failed));
    }
}
