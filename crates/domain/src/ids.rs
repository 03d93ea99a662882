//! Typed identifiers. All are UUIDv7 made in Rust, so they sort by creation time.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A conversation (case).
    ConversationId
);
id_type!(
    /// A message inside a conversation.
    MessageId
);
id_type!(
    /// A person, possibly known on several channels.
    ContactId
);
id_type!(
    /// One accepted inbound event in the durable event log.
    EventId
);
id_type!(
    /// An agent, supervisor or admin.
    UserId
);
id_type!(
    /// A row of the outbox: one reply waiting to be delivered.
    OutboxId
);
