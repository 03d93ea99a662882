//! Switchboard's domain: the types every layer shares and the rules that need no I/O.
#![forbid(unsafe_code)]

pub mod automation;
pub mod calendar;
pub mod canned;
pub mod channel;
pub mod contact;
pub mod conversation;
pub mod edits;
pub mod ids;
pub mod inbound;
pub mod message;
pub mod patch;
pub mod quality;
pub mod rollup;
pub mod routing;
pub mod sla;
pub mod survey;
pub mod threading;
pub mod user;

pub use channel::{ChannelKind, ChannelSlug};
pub use contact::{ChannelIdentity, Contact};
pub use conversation::{CaseNumber, Conversation, ConversationFact, FactKind, Priority, Status};
pub use ids::{ContactId, ConversationId, EventId, MessageId, OutboxId, UserId};
pub use inbound::{ContactRef, InboundEvent, InboundPayloadError};
pub use message::{Attachment, DeliveryStatus, Direction, Message, Visibility};
pub use patch::{ConversationPatch, PatchError, PatchPlan};
pub use threading::{ThreadCandidate, ThreadDecision, decide_thread};
pub use user::Role;

/// Parse error for the string forms of domain enums and values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {value:?} (expected {expected})")]
pub struct ParseError {
    /// What was being parsed ("status", "priority", ...).
    pub what: &'static str,
    /// The rejected input.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

/// Declares a string-backed enum with `as_str`, `FromStr`, `Display` and serde in snake_case.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable string form used in the API and the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err($crate::ParseError {
                        what: $what,
                        value: s.to_owned(),
                        expected: concat!($($s, " "),+),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;
