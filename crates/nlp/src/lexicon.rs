//! VADER-style lexicon baseline for English sentiment (Hutto & Gilbert 2014): the VADER word
//! lexicon and emoji descriptions (MIT, `models/VADER-LICENSE.txt`), negation, boosters, ALL-CAPS
//! emphasis, "but" shifts and exclamation marks, normalised to a compound score in -1..=1.
//! Kept as the measured baseline the trained models must beat (see `switchboard nlp eval`).

use std::collections::HashMap;

const LEXICON: &str = include_str!("../models/vader_lexicon.tsv");
const EMOJI: &str = include_str!("../models/vader_emoji.tsv");

const NEGATE: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "cannot", "cant", "dont", "doesnt",
    "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt", "couldnt", "hasnt", "havent", "hadnt",
    "aint", "without", "rarely", "seldom", "despite",
];
const BOOST_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerably",
    "decidedly",
    "deeply",
    "enormously",
    "entirely",
    "especially",
    "exceptionally",
    "extremely",
    "fabulously",
    "greatly",
    "highly",
    "hugely",
    "incredibly",
    "intensely",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "totally",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utterly",
    "very",
];
const BOOST_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "kind",
    "kinda",
    "less",
    "little",
    "marginally",
    "occasionally",
    "partly",
    "scarcely",
    "slightly",
    "somewhat",
    "sort",
    "sorta",
];

pub struct Lexicon {
    words: HashMap<String, f32>,
    emoji: HashMap<char, f32>,
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::new()
    }
}

impl Lexicon {
    pub fn new() -> Lexicon {
        let mut words = HashMap::new();
        for line in LEXICON.lines() {
            if let Some((w, v)) = line.split_once('\t')
                && let Ok(v) = v.trim().parse::<f32>()
            {
                words.insert(w.to_owned(), v);
            }
        }
        let mut emoji = HashMap::new();
        for line in EMOJI.lines() {
            let Some((e, desc)) = line.split_once('\t') else { continue };
            let mut cs = e.chars();
            let (Some(c), None) = (cs.next(), cs.next()) else { continue };
            let v: f32 = desc.split_whitespace().filter_map(|w| words.get(&w.trim().to_lowercase())).sum();
            if v != 0.0 {
                emoji.insert(c, v);
            }
        }
        Lexicon { words, emoji }
    }

    /// VADER's compound score.
    pub fn compound(&self, text: &str) -> f32 {
        let text = crate::text::unescape_literal(text);
        let raw: Vec<&str> = text.split_whitespace().collect();
        let any_lower = raw.iter().any(|w| w.chars().any(char::is_lowercase));
        let mut toks: Vec<(String, bool)> = Vec::with_capacity(raw.len());
        let mut emoji_sum = 0.0;
        for w in &raw {
            for c in w.chars() {
                if let Some(v) = self.emoji.get(&c) {
                    emoji_sum += v;
                }
            }
            let trimmed: String = w.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect();
            let caps = any_lower
                && trimmed.len() > 1
                && trimmed.chars().all(|c| !c.is_lowercase())
                && trimmed.chars().any(char::is_uppercase);
            let lower = w.to_lowercase();
            // Emoticons such as ":)" are in the lexicon as written.
            if self.words.contains_key(lower.as_str()) && !trimmed.chars().all(char::is_alphanumeric) {
                toks.push((lower, false));
            } else if !trimmed.is_empty() {
                toks.push((trimmed.to_lowercase().replace('\'', ""), caps));
            }
        }
        let mut sentiments: Vec<f32> = Vec::with_capacity(toks.len());
        for (i, (t, caps)) in toks.iter().enumerate() {
            let Some(&base) = self.words.get(t.as_str()) else {
                sentiments.push(0.0);
                continue;
            };
            if BOOST_UP.contains(&t.as_str()) || BOOST_DOWN.contains(&t.as_str()) {
                sentiments.push(0.0);
                continue;
            }
            let mut v = base;
            if *caps {
                v += 0.733 * v.signum();
            }
            for back in 1..=3 {
                if i < back {
                    break;
                }
                let prev = toks[i - back].0.as_str();
                let scale = if back == 1 {
                    1.0
                } else if back == 2 {
                    0.95
                } else {
                    0.9
                };
                if BOOST_UP.contains(&prev) {
                    v += 0.293 * v.signum() * scale;
                } else if BOOST_DOWN.contains(&prev) {
                    v -= 0.293 * v.signum() * scale;
                }
                if NEGATE.contains(&prev) || prev.ends_with("nt") && prev.len() > 3 && !self.words.contains_key(prev) {
                    v *= -0.74;
                }
            }
            sentiments.push(v);
        }
        if let Some(b) = toks.iter().position(|t| t.0 == "but") {
            for (i, s) in sentiments.iter_mut().enumerate() {
                if i < b {
                    *s *= 0.5;
                } else if i > b {
                    *s *= 1.5;
                }
            }
        }
        let mut sum: f32 = sentiments.iter().sum::<f32>() + emoji_sum;
        let bangs = text.matches('!').count().min(4) as f32 * 0.292;
        let q = text.matches('?').count();
        if sum > 0.0 {
            sum += bangs;
        } else if sum < 0.0 {
            sum -= bangs;
        }
        if q > 1 && sum != 0.0 {
            sum += sum.signum() * (q.min(3) as f32 * 0.18);
        }
        sum / (sum * sum + 15.0).sqrt()
    }

    /// negative / neutral / positive by VADER's usual ±0.05 thresholds.
    pub fn label(&self, text: &str) -> &'static str {
        let c = self.compound(text);
        if c >= 0.05 {
            "positive"
        } else if c <= -0.05 {
            "negative"
        } else {
            "neutral"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_rules() {
        let l = Lexicon::new();
        assert_eq!(l.label("I love this, it is great"), "positive");
        assert_eq!(l.label("this is not good at all"), "negative");
        assert_eq!(l.label("The package arrived on Tuesday"), "neutral");
        assert!(l.compound("GREAT service!!!") > l.compound("great service"));
        assert!(l.compound("😠😠") < 0.0);
        assert!(l.compound("😀") > 0.0);
    }
}
