//! Sentiment (negative / neutral / positive with a score in -1..=1), one trained model per
//! language where that measured better on validation, a joint multilingual model otherwise.
//! Which model serves which language is decided by `switchboard nlp train` and stored in
//! `models/sentiment-routing.tsv`.

use crate::features::{Scratch, SparseVec};
use crate::linear::Model;
use crate::models;

#[derive(Clone, Debug, PartialEq)]
pub struct Sentiment {
    pub label: &'static str,
    /// P(positive) − P(negative).
    pub score: f32,
    /// Probability of the chosen label.
    pub confidence: f32,
}

pub struct SentimentModels {
    models: Vec<(String, Model)>,
    routes: Vec<(String, String)>,
    fallback: String,
}

fn static_label(l: &str) -> &'static str {
    match l {
        "negative" => "negative",
        "positive" => "positive",
        _ => "neutral",
    }
}

impl SentimentModels {
    /// The models built into this binary.
    pub fn embedded() -> Result<SentimentModels, crate::linear::ModelError> {
        let mut ms = Vec::new();
        for (name, bytes) in models::SENTIMENT {
            ms.push(((*name).to_owned(), Model::from_bytes(bytes)?));
        }
        Ok(SentimentModels::new(ms, models::SENTIMENT_ROUTING))
    }

    /// `routing`: lines `language<TAB>model name`; the line `*<TAB>name` names the fallback.
    pub fn new(models: Vec<(String, Model)>, routing: &str) -> SentimentModels {
        let mut routes = Vec::new();
        let mut fallback = models.first().map(|m| m.0.clone()).unwrap_or_default();
        for line in routing.lines() {
            if let Some((l, m)) = line.split_once('\t') {
                if l == "*" {
                    fallback = m.trim().to_owned();
                } else {
                    routes.push((l.trim().to_owned(), m.trim().to_owned()));
                }
            }
        }
        SentimentModels { models, routes, fallback }
    }

    pub fn model_for(&self, lang: &str) -> Option<&Model> {
        let name = self.routes.iter().find(|r| r.0 == lang).map_or(self.fallback.as_str(), |r| r.1.as_str());
        self.models.iter().find(|m| m.0 == name).or(self.models.first()).map(|m| &m.1)
    }

    pub fn predict(&self, text: &str, lang: &str, scratch: &mut Scratch, v: &mut SparseVec) -> Sentiment {
        let Some(model) = self.model_for(lang) else {
            return Sentiment { label: "neutral", score: 0.0, confidence: 0.0 };
        };
        model.features(text, scratch, v);
        let mut p = [0f32; 8];
        let k = model.labels().len().min(8);
        model.probs(v, &mut p[..k]);
        let (mut best, mut pos, mut neg) = (0, 0.0, 0.0);
        for (i, l) in model.labels().iter().enumerate().take(k) {
            if p[i] > p[best] {
                best = i;
            }
            match l.as_str() {
                "positive" => pos = p[i],
                "negative" => neg = p[i],
                _ => {}
            }
        }
        Sentiment { label: static_label(&model.labels()[best]), score: pos - neg, confidence: p[best] }
    }
}
