//! Sentiment (negative / neutral / positive with a score in -1..=1), one trained model per
//! language where that measured better on validation, a joint multilingual model otherwise.
//! Which model serves which language is decided by `switchboard nlp train` and stored in
//! `models/sentiment-routing.tsv`.

use crate::features::{Hashed, Scratch};
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

    /// `routing`: lines `language<TAB>route`, a route being a model name or names joined by `+`
    /// (their probabilities are averaged); the line `*<TAB>route` names the fallback.
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

    fn named(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.0 == name).map(|m| &m.1)
    }

    /// The route (a model name, or names joined by `+` for an average of their probabilities)
    /// for a text detected as `lang`.
    fn route_name(&self, lang: &str) -> &str {
        self.routes.iter().find(|r| r.0 == lang).map_or(self.fallback.as_str(), |r| r.1.as_str())
    }

    fn route_models<'a>(&'a self, route: &'a str) -> impl Iterator<Item = &'a Model> + 'a {
        route.split('+').filter_map(|n| self.named(n))
    }

    /// Feature kinds a hashing pass needs for [`predict_hashed`](Self::predict_hashed) on `lang`.
    pub fn kinds_for(&self, lang: &str) -> u16 {
        self.route_models(self.route_name(lang)).fold(0, |k, m| k | m.meta.features.kinds())
    }

    /// The (first) model serving `lang`.
    pub fn model_for(&self, lang: &str) -> Option<&Model> {
        self.route_models(self.route_name(lang)).next().or(self.models.first().map(|m| &m.1))
    }

    pub fn predict(&self, text: &str, lang: &str, scratch: &mut Scratch) -> Sentiment {
        scratch.hash(text, self.kinds_for(lang));
        self.predict_hashed(&scratch.hashed, lang)
    }

    /// As [`predict`](Self::predict) from a hashing pass that covered
    /// [`kinds_for`](Self::kinds_for)`(lang)`.
    pub fn predict_hashed(&self, hashed: &Hashed, lang: &str) -> Sentiment {
        // Probabilities of negative, neutral, positive, averaged over the route's models.
        let mut sum = [0f32; 3];
        let mut n = 0;
        for model in self.route_models(self.route_name(lang)) {
            let mut p = [0f32; 8];
            let k = model.labels().len().min(8);
            model.probs_hashed(hashed, &mut p[..k]);
            for (l, pi) in model.labels().iter().zip(&p[..k]) {
                sum[match static_label(l) {
                    "negative" => 0,
                    "neutral" => 1,
                    _ => 2,
                }] += pi;
            }
            n += 1;
        }
        if n == 0 {
            return Sentiment { label: "neutral", score: 0.0, confidence: 0.0 };
        }
        let p = sum.map(|v| v / n as f32);
        let best = (0..3).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        Sentiment { label: ["negative", "neutral", "positive"][best], score: p[2] - p[0], confidence: p[best] }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_route_of_two_models_averages_their_probabilities() {
        let all = SentimentModels::embedded().unwrap();
        let pick = |route: &str| SentimentModels::new(all.models.clone(), &format!("*\t{route}\n"));
        let (de, multi, both) = (pick("sentiment-de"), pick("sentiment-multi"), pick("sentiment-de+sentiment-multi"));
        let mut s = Scratch::default();
        for t in ["Das ist wirklich super, danke!", "Schlechtester Service aller Zeiten", "Heute ist Montag"] {
            let a = de.predict(t, "de", &mut s).score;
            let b = multi.predict(t, "de", &mut s).score;
            let m = both.predict(t, "de", &mut s).score;
            assert!((m - (a + b) / 2.0).abs() < 1e-5, "{t}: {a} {b} {m}");
        }
        assert!(both.kinds_for("de") != 0);
    }
}
