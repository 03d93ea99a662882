//! Contacts: one person, possibly on several channels.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ChannelSlug, ContactId};

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    /// Stable id.
    pub id: ContactId,
    /// Display name.
    pub name: Option<String>,
    /// Email, if known.
    pub email: Option<String>,
    /// When first seen.
    pub created_at: DateTime<Utc>,
    /// Where this person can be reached.
    pub identities: Vec<ChannelIdentity>,
}

/// One account of a contact on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelIdentity {
    /// The channel.
    pub channel: ChannelSlug,
    /// The provider's user id (a string: X ids exceed 2^53).
    pub provider_user_id: String,
    /// Handle or phone number as shown by the provider.
    pub handle: Option<String>,
    /// Display name on that channel.
    pub display_name: Option<String>,
}
