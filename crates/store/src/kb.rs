//! Knowledge base (issue 9): articles with locale variants and version history, help-center
//! votes, and the FAQ bot's per-channel settings, outcomes and durable cursor. See docs/kb-bot.md.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{ConversationId, MessageId, UserId};
use uuid::Uuid;

use crate::Result;

/// Stable id of an article (all its locale variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct ArticleId(pub Uuid);

impl std::fmt::Display for ArticleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a locale variant is visible to customers and the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    /// Being written; only agents see it.
    Draft,
    /// Live in the help center, the search API and the bot.
    Published,
}

impl ArticleStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleStatus::Draft => "draft",
            ArticleStatus::Published => "published",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<ArticleStatus> {
        match s {
            "draft" => Some(ArticleStatus::Draft),
            "published" => Some(ArticleStatus::Published),
            _ => None,
        }
    }
}

/// One locale variant of an article, at its current version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Translation {
    /// BCP 47 tag: `en`, `zh-CN`, `es` …
    pub locale: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub status: ArticleStatus,
    /// 1 for the first save, +1 for every change.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// An article with all its locale variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Article {
    pub id: ArticleId,
    /// URL name, unique: `[a-z0-9-]`.
    pub slug: String,
    pub category: String,
    pub tags: Vec<String>,
    /// Triage intents this article answers (`order_status`, `refund_return` …).
    pub intents: Vec<String>,
    pub translations: Vec<Translation>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Article {
    /// The variant in `locale`, if any.
    pub fn translation(&self, locale: &str) -> Option<&Translation> {
        self.translations.iter().find(|t| t.locale.eq_ignore_ascii_case(locale))
    }
}

/// A locale variant to save.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TranslationInput {
    pub locale: String,
    pub title: String,
    pub body: String,
    pub status: ArticleStatus,
}

/// An article to create or update (matched by slug). Variants not named are kept as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleInput {
    pub slug: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub intents: Vec<String>,
    pub translations: Vec<TranslationInput>,
}

/// One stored version of a locale variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleVersion {
    pub article_id: ArticleId,
    pub locale: String,
    pub version: i64,
    pub title: String,
    pub body: String,
    pub status: ArticleStatus,
    pub edited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// What the bot did with one message (`bot_outcomes`, read by reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BotOutcomeKind {
    /// Sent an article.
    Answered,
    /// The customer said the answer helped.
    Helped,
    /// The customer said it did not.
    NotHelped,
    /// Handed the conversation to a person.
    HandedOff,
}

impl BotOutcomeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BotOutcomeKind::Answered => "answered",
            BotOutcomeKind::Helped => "helped",
            BotOutcomeKind::NotHelped => "not_helped",
            BotOutcomeKind::HandedOff => "handed_off",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<BotOutcomeKind> {
        match s {
            "answered" => Some(BotOutcomeKind::Answered),
            "helped" => Some(BotOutcomeKind::Helped),
            "not_helped" => Some(BotOutcomeKind::NotHelped),
            "handed_off" => Some(BotOutcomeKind::HandedOff),
            _ => None,
        }
    }
}

/// A recorded bot outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BotOutcome {
    pub id: Uuid,
    pub conversation_id: ConversationId,
    /// The inbound message it answers.
    pub message_id: MessageId,
    pub channel_slug: String,
    pub outcome: BotOutcomeKind,
    /// Why (handoff trigger, search confidence …).
    pub reason: String,
    pub article_id: Option<ArticleId>,
    pub created_at: DateTime<Utc>,
}

/// Counts of outcomes since a time, for deflection and handoff rates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BotOutcomeCounts {
    pub answered: i64,
    pub helped: i64,
    pub not_helped: i64,
    pub handed_off: i64,
}

/// Help-center "was this helpful" tallies of an article variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoteTally {
    pub helpful: i64,
    pub not_helpful: i64,
}

/// Articles, votes and the bot's bookkeeping.
#[async_trait]
pub trait KbStore {
    /// Creates or updates the article with `input.slug`; each variant whose title, body or
    /// status changed gets a new version (kept in the history). Returns the article.
    async fn save_article(&self, input: &ArticleInput, by: Option<UserId>) -> Result<Article>;
    /// One article by id.
    async fn get_article(&self, id: ArticleId) -> Result<Option<Article>>;
    /// One article by slug.
    async fn article_by_slug(&self, slug: &str) -> Result<Option<Article>>;
    /// Every article with its variants, by slug.
    async fn list_articles(&self) -> Result<Vec<Article>>;
    /// Every stored version of the article's variants, newest first.
    async fn article_history(&self, id: ArticleId) -> Result<Vec<ArticleVersion>>;
    /// Deletes an article, its history and votes. `NotFound` if absent.
    async fn delete_article(&self, id: ArticleId) -> Result<()>;

    /// Records a vote once per (article, locale, voter); false for a repeat (nothing changes).
    async fn record_kb_vote(&self, id: ArticleId, locale: &str, voter: &str, helpful: bool) -> Result<bool>;
    /// Tallies for one variant.
    async fn kb_votes(&self, id: ArticleId, locale: &str) -> Result<VoteTally>;

    /// The bot settings (JSON) of a channel, if saved.
    async fn bot_settings(&self, channel: &str) -> Result<Option<serde_json::Value>>;
    /// Saves a channel's bot settings.
    async fn save_bot_settings(&self, channel: &str, settings: &serde_json::Value) -> Result<()>;
    /// Records an outcome once per (message, outcome); false for a repeat.
    async fn record_bot_outcome(&self, outcome: &BotOutcome) -> Result<bool>;
    /// The outcomes of a conversation, oldest first.
    async fn bot_outcomes(&self, conversation: ConversationId) -> Result<Vec<BotOutcome>>;
    /// Outcome counts since `since`.
    async fn bot_outcome_counts(&self, since: DateTime<Utc>) -> Result<BotOutcomeCounts>;
    /// The last inbound message the bot has decided on.
    async fn bot_cursor(&self) -> Result<Option<MessageId>>;
    /// Moves the bot's cursor forward (never back).
    async fn set_bot_cursor(&self, id: MessageId) -> Result<()>;
    /// `extra["button_data"]` of the inbound event that created this message (a pressed button).
    async fn message_button_data(&self, message: MessageId) -> Result<Option<String>>;
    /// Inbound messages with an id greater than `after`, oldest first.
    async fn inbound_messages_after(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>>;
}

impl ArticleInput {
    /// Checks the input; the message names the offending field.
    pub fn validate(&self) -> Result<()> {
        use crate::StoreError::Invalid;
        let slug_ok = !self.slug.is_empty()
            && self.slug.len() <= 100
            && self.slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err(Invalid(format!("slug {:?}: use 1-100 of a-z, 0-9 and -", self.slug)));
        }
        if self.category.trim().is_empty() || self.category.len() > 100 {
            return Err(Invalid("category: 1-100 characters".into()));
        }
        if self.tags.len() > 50 || self.tags.iter().any(|t| t.trim().is_empty() || t.len() > 60) {
            return Err(Invalid("tags: at most 50, each 1-60 characters".into()));
        }
        if self.intents.len() > 20 || self.intents.iter().any(|t| t.trim().is_empty() || t.len() > 60) {
            return Err(Invalid("intents: at most 20, each 1-60 characters".into()));
        }
        if self.translations.is_empty() {
            return Err(Invalid("translations: at least one locale variant".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.translations {
            if !valid_locale(&t.locale) {
                return Err(Invalid(format!("locale {:?}: use a BCP 47 tag such as en or zh-CN", t.locale)));
            }
            if !seen.insert(t.locale.to_ascii_lowercase()) {
                return Err(Invalid(format!("locale {} appears twice", t.locale)));
            }
            if t.title.trim().is_empty() || t.title.chars().count() > 300 {
                return Err(Invalid(format!("title ({}): 1-300 characters", t.locale)));
            }
            if t.body.len() > 200_000 {
                return Err(Invalid(format!("body ({}): at most 200,000 bytes", t.locale)));
            }
        }
        Ok(())
    }
}

/// A BCP 47-looking tag: `en`, `zh-CN`, `pt-BR`, `zh-Hant-TW`.
pub fn valid_locale(l: &str) -> bool {
    let mut parts = l.split('-');
    let Some(lang) = parts.next() else { return false };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && l.len() <= 35
}

/// The author id of the FAQ bot's messages and notes. No user has it; the UI and the API show
/// such messages as the bot's, so the bot never passes for a person.
pub const BOT_USER: UserId = UserId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0b07));
