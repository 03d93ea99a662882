//! Triage enrichment for inbound messages, offline on the CPU: language, sentiment, intent,
//! urgency/priority and PII. See docs/nlp.md.
#![forbid(unsafe_code)]

pub mod bench;
pub mod data;
pub mod enrich;
pub mod eval;
pub mod fastlang;
pub mod features;
pub mod intent;
pub mod lang;
pub mod lexicon;
pub mod linear;
pub mod metrics;
pub mod models;
pub mod pii;
pub mod sentiment;
pub mod text;
pub mod train;
pub mod urgency;
