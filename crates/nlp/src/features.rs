//! Hashed word and character n-gram features with sublinear term frequency and L2 norm.

use serde::{Deserialize, Serialize};

use crate::text;

/// How a text becomes a sparse vector. Stored inside every model so inference matches training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Hash space is `2^bits` buckets.
    pub bits: u8,
    /// 0 = no word features, 1 = unigrams, 2 = unigrams and bigrams.
    pub word_ngrams: u8,
    /// Character n-gram lengths (inclusive); `char_max = 0` turns them off.
    pub char_min: u8,
    pub char_max: u8,
    /// Mark words after a negator ("not", "never", "no", "n't", "不", "没"…) until punctuation.
    pub negation: bool,
    /// Weight of the word block relative to the character block before the L2 norm.
    pub word_weight: f32,
}

impl FeatureConfig {
    pub fn dims(&self) -> usize {
        1usize << self.bits
    }
}

/// A sparse feature vector: sorted unique bucket indices and their values.
#[derive(Clone, Debug, Default)]
pub struct SparseVec {
    pub idx: Vec<u32>,
    pub val: Vec<f32>,
}

const NEGATORS: &[&str] = &[
    "not", "no", "never", "nothing", "nobody", "none", "nor", "cannot", "cant", "dont", "doesnt", "didnt", "isnt",
    "wasnt", "wont", "aint", "nicht", "kein", "keine", "nie", "non", "pas", "jamais", "ne", "não", "nao", "nunca",
    "nada", "ni", "mai", "nem", "tidak", "bukan", "değil", "нет", "не", "nahi", "nahin", "mat", "不", "没", "無", "无",
    "别", "未",
];

fn is_negator(w: &str) -> bool {
    NEGATORS.contains(&w) || w.ends_with("n't")
}

#[inline]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[inline]
fn step(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5)
}

fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h = seed;
    for b in s.bytes() {
        h = step(h, u64::from(b));
    }
    fmix64(h)
}

/// Reusable buffers, so extracting features allocates nothing in steady state.
#[derive(Default)]
pub struct Scratch {
    toks: Vec<String>,
    chars: Vec<char>,
    raw: Vec<(u32, f32)>,
}

impl FeatureConfig {
    pub fn extract(&self, text: &str, scratch: &mut Scratch, out: &mut SparseVec) {
        self.extract_idf(text, None, scratch, out);
    }

    /// As [`extract`](Self::extract), each bucket's value multiplied by its inverse document
    /// frequency when `idf` is given (before the L2 norm).
    pub fn extract_idf(&self, text: &str, idf: Option<&[f32]>, scratch: &mut Scratch, out: &mut SparseVec) {
        let shift = 64 - u32::from(self.bits);
        let bucket = |h: u64| (fmix64(h) >> shift) as u32;
        text::tokens(text, &mut scratch.toks);
        scratch.raw.clear();
        if self.word_ngrams > 0 {
            let mut negated = false;
            let mut prev: Option<u64> = None;
            for t in &scratch.toks {
                let punct = t == "!" || t == "?";
                let mut h = hash_str(0x9e37_79b9_7f4a_7c15, t);
                if self.negation && negated && !punct {
                    h = step(h, 0xdead_beef);
                }
                scratch.raw.push((bucket(h), self.word_weight));
                if self.word_ngrams > 1 {
                    if let Some(p) = prev {
                        scratch.raw.push((bucket(step(p.rotate_left(17), h)), self.word_weight));
                    }
                    prev = Some(h);
                }
                if self.negation {
                    if punct {
                        negated = false;
                    } else if is_negator(t) {
                        negated = true;
                    }
                }
            }
        }
        if self.char_max > 0 {
            let chars = &mut scratch.chars;
            chars.clear();
            chars.push(' ');
            // Unspaced scripts (Han, kana, Thai) stay contiguous so n-grams span real characters.
            let mut prev_unspaced = false;
            for t in &scratch.toks {
                let mut it = t.chars();
                let unspaced = matches!((it.next(), it.next()), (Some(c), None) if text::is_unspaced_script(c));
                if unspaced && prev_unspaced {
                    chars.pop();
                }
                chars.extend(t.chars());
                chars.push(' ');
                prev_unspaced = unspaced;
            }
            let (lo, hi) = (usize::from(self.char_min.max(1)), usize::from(self.char_max));
            for i in 0..chars.len() {
                let mut h = 0xcbf2_9ce4_8422_2325u64;
                for n in 1..=hi {
                    let Some(&c) = chars.get(i + n - 1) else { break };
                    h = step(h, u64::from(c as u32));
                    if n >= lo && !(n == 1 && c == ' ') {
                        scratch.raw.push((bucket(h ^ n as u64), 1.0));
                    }
                }
            }
        }
        finish(&mut scratch.raw, idf, out);
    }
}

/// Sort, merge duplicates into sublinear tf (`w·(1 + ln count)`), L2-normalise.
fn finish(raw: &mut [(u32, f32)], idf: Option<&[f32]>, out: &mut SparseVec) {
    out.idx.clear();
    out.val.clear();
    raw.sort_unstable_by_key(|p| p.0);
    let mut i = 0;
    while i < raw.len() {
        let (k, w) = raw[i];
        let mut j = i + 1;
        while j < raw.len() && raw[j].0 == k {
            j += 1;
        }
        // 1 + ln(1) = 1: most buckets occur once, so skip the logarithm for them.
        let tf = if j - i == 1 { 1.0 } else { 1.0 + ((j - i) as f32).ln() };
        out.idx.push(k);
        let weight = idf.and_then(|t| t.get(k as usize)).copied().unwrap_or(1.0);
        out.val.push(w * tf * weight);
        i = j;
    }
    let norm = out.val.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for v in &mut out.val {
            *v /= norm;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn vectors_are_normalised_and_deterministic() {
        let cfg =
            FeatureConfig { bits: 16, word_ngrams: 2, char_min: 1, char_max: 4, negation: true, word_weight: 1.0 };
        let (mut s, mut a, mut b) = (Scratch::default(), SparseVec::default(), SparseVec::default());
        cfg.extract("I do not like this at all!", &mut s, &mut a);
        cfg.extract("I do not like this at all!", &mut s, &mut b);
        assert_eq!(a.idx, b.idx);
        assert!(a.idx.windows(2).all(|w| w[0] < w[1]));
        let n: f32 = a.val.iter().map(|v| v * v).sum();
        assert!((n - 1.0).abs() < 1e-4);
        cfg.extract("", &mut s, &mut a);
        assert!(a.idx.is_empty());
    }
}
