//! Channels: where a conversation happens.

use serde::{Deserialize, Serialize};

use crate::{ParseError, string_enum};

string_enum!(
    /// The kind of provider behind a channel.
    ChannelKind, "channel kind" {
        /// The generic API channel: a customer's own system feeds `POST /api/v1/inbound`.
        Api => "api",
        /// WhatsApp Cloud API.
        Whatsapp => "whatsapp",
        /// Facebook Messenger.
        Messenger => "messenger",
        /// Instagram messaging and comments.
        Instagram => "instagram",
        /// X (Twitter) mentions, replies and DMs.
        X => "x",
        /// Telegram bot.
        Telegram => "telegram",
        /// The website chat widget.
        Web => "web",
        /// Email.
        Email => "email",
    }
);

/// The URL-safe name of one configured channel, e.g. `support-api` in `/webhooks/support-api`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "support-api")]
pub struct ChannelSlug(String);

impl ChannelSlug {
    /// Longest accepted slug.
    pub const MAX_LEN: usize = 64;

    /// Validates a slug: 1–64 characters of `a-z`, `0-9`, `-`, `_`, starting with a letter or digit.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && s.as_bytes()[0].is_ascii_alphanumeric();
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError {
                what: "channel slug",
                value: s.chars().take(80).collect(),
                expected: "1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit",
            })
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChannelSlug {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ChannelSlug> for String {
    fn from(s: ChannelSlug) -> Self {
        s.0
    }
}

impl std::fmt::Display for ChannelSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_validated() {
        assert!(ChannelSlug::parse("support-api").is_ok());
        assert!(ChannelSlug::parse("wa_1").is_ok());
        for bad in ["", "-x", "Upper", "sp ace", "a/b", &"x".repeat(65)] {
            assert!(ChannelSlug::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in ChannelKind::ALL {
            assert_eq!(k.as_str().parse::<ChannelKind>(), Ok(*k));
        }
        assert!("fax".parse::<ChannelKind>().is_err());
    }
}
