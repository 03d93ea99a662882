//! The whole triage of one message: language, sentiment, intent, priority and PII.

use serde::{Deserialize, Serialize};

use crate::features::Scratch;
use crate::intent;
use crate::lang::LanguageId;
use crate::linear::Model;
use crate::pii;
use crate::sentiment::SentimentModels;
use crate::urgency::{self, MessageContext, Priority};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    pub language: String,
    pub language_confidence: f32,
    pub sentiment: String,
    pub sentiment_score: f32,
    pub intent: String,
    pub intent_confidence: f32,
    pub priority: Priority,
    pub pii: Vec<pii::PiiKind>,
    /// The text with personal data replaced by placeholders, for logs and analytics.
    pub redacted_text: String,
}

pub struct Enricher {
    pub lang: LanguageId,
    pub sentiment: SentimentModels,
    pub intent: Model,
    /// Region for phone numbers written without a country code (ISO 3166, e.g. `US`).
    pub phone_region: Option<String>,
}

#[derive(Default)]
pub struct Buffers {
    scratch: Scratch,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(transparent)]
    Lang(#[from] crate::lang::LangError),
    #[error(transparent)]
    Model(#[from] crate::linear::ModelError),
    #[error(transparent)]
    Intent(#[from] intent::IntentError),
}

impl Enricher {
    /// Built-in models; `languages` restricts language identification; `intent_model` is the
    /// active customer-service intent model (see [`intent::train`]).
    pub fn new(languages: &[&str], intent_model: Model, phone_region: Option<String>) -> Result<Enricher, EnrichError> {
        Ok(Enricher {
            lang: LanguageId::new(languages)?,
            sentiment: SentimentModels::embedded()?,
            intent: intent_model,
            phone_region,
        })
    }

    /// All supported languages and the cold-start intent model.
    pub fn default_setup() -> Result<Enricher, EnrichError> {
        let model = intent::train(&intent::default_examples(), 42, "built-in cold-start examples")?;
        Enricher::new(crate::lang::SUPPORTED, model, Some("US".into()))
    }

    pub fn enrich(&self, text: &str, ctx: &MessageContext, buf: &mut Buffers) -> Triage {
        self.enrich_with(text, ctx, &self.intent, buf)
    }

    /// As [`enrich`](Self::enrich) with another intent model (e.g. the newest retrained one).
    pub fn enrich_with(&self, text: &str, ctx: &MessageContext, intent_model: &Model, buf: &mut Buffers) -> Triage {
        let lang = self.lang.detect(text);
        // One tokenising and hashing pass serves both models.
        let kinds = self.sentiment.kinds_for(lang.code) | intent_model.meta.features.kinds();
        buf.scratch.hash(text, kinds);
        let s = self.sentiment.predict_hashed(&buf.scratch.hashed, lang.code);
        let i = intent::classify_hashed(intent_model, &buf.scratch.hashed, intent::OTHER);
        let priority = urgency::assess(text, &i.label, s.label, s.score, ctx);
        let spans = pii::detect(text, self.phone_region.as_deref());
        Triage {
            language: lang.code.to_owned(),
            language_confidence: lang.confidence,
            sentiment: s.label.to_owned(),
            sentiment_score: s.score,
            intent: i.label,
            intent_confidence: i.confidence,
            priority,
            pii: pii::kinds(&spans),
            redacted_text: pii::redact_spans(text, &spans),
        }
    }
}
