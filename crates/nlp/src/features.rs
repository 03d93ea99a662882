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
    /// Character n-grams only inside word boundaries (each word padded with one space, as
    /// scikit-learn's `char_wb`) instead of across them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub char_wb: bool,
    /// L2-normalise the word block and the character block separately (then weight the word
    /// block by `word_weight` and normalise the whole), as a union of two vectorisers does.
    #[serde(default, skip_serializing_if = "is_false")]
    pub block_norm: bool,
    /// Words of runs of Chinese characters as segmented by jieba (its default dictionary, no
    /// HMM): 0 = none, 1 = unigrams, 2 = unigrams and bigrams; in the word block. The character
    /// n-grams already see every short word, but not where a word ends.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub jieba_words: u8,
}

// Old model files lack the newer switches: leaving them out when off keeps those files
// byte-identical when retrained.
fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// jieba's default dictionary, loaded once per process (~0.3 s) on the first Chinese model.
fn jieba() -> &'static jieba_rs::Jieba {
    static JIEBA: std::sync::OnceLock<jieba_rs::Jieba> = std::sync::OnceLock::new();
    JIEBA.get_or_init(jieba_rs::Jieba::new)
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

/// Kinds of hashed features, one bit each, so one hashing pass can serve several models
/// ([`Hashed`]): plain and negation-marked word unigrams and bigrams, character n-grams 1..=5.
const W1_PLAIN: u16 = 1;
const W1_NEG: u16 = 1 << 1;
const W2_PLAIN: u16 = 1 << 2;
const W2_NEG: u16 = 1 << 3;
const fn char_kind(n: usize) -> u16 {
    1 << (3 + n)
}
/// Character n-grams inside word boundaries (`char_wb`), n = 1..=5: bits 9..=13.
const fn wb_kind(n: usize) -> u16 {
    1 << (8 + n)
}
const CHAR_KINDS: u16 = 0x1f << 4;
const WB_KINDS: u16 = 0x1f << 9;
/// jieba words and word bigrams of Chinese runs.
const JW1: u16 = 1 << 14;
const JW2: u16 = 1 << 15;
const WORD_KINDS: u16 = W1_PLAIN | W1_NEG | W2_PLAIN | W2_NEG | JW1 | JW2;
const KIND_BITS: u32 = 16;
const KIND_MASK: u64 = (1 << KIND_BITS) - 1;
/// Longest character n-gram a model may ask for.
pub const MAX_CHAR_NGRAM: u8 = 5;

/// Every feature of one text for a set of feature configurations, hashed once: each entry is
/// the n-gram's 64-bit mixed hash with its kind bits in the low 16 bits, sorted. A model with
/// `2^bits` buckets (bits ≤ 48) takes `entry >> (64 - bits)`, so the sorted order is also bucket
/// order for every model and merging duplicates is one linear pass.
#[derive(Default)]
pub struct Hashed {
    entries: Vec<u64>,
    /// Union of the kind bits this pass produced.
    mask: u16,
}

/// Reusable buffers, so extracting features allocates nothing in steady state.
#[derive(Default)]
pub struct Scratch {
    toks: text::Tokens,
    chars: Vec<char>,
    /// A run of unspaced-script characters waiting for jieba.
    run: String,
    sort_buf: Vec<u64>,
    pub hashed: Hashed,
}

impl FeatureConfig {
    /// The kinds of features this configuration uses.
    pub fn kinds(&self) -> u16 {
        let mut m = 0;
        if self.word_ngrams > 0 {
            m |= if self.negation { W1_NEG } else { W1_PLAIN };
        }
        if self.word_ngrams > 1 {
            m |= if self.negation { W2_NEG } else { W2_PLAIN };
        }
        if self.jieba_words > 0 {
            m |= JW1;
        }
        if self.jieba_words > 1 {
            m |= JW2;
        }
        if self.char_max > 0 {
            for n in usize::from(self.char_min.max(1))..=usize::from(self.char_max.min(MAX_CHAR_NGRAM)) {
                m |= if self.char_wb { wb_kind(n) } else { char_kind(n) };
            }
        }
        m
    }

    pub fn extract(&self, text: &str, scratch: &mut Scratch, out: &mut SparseVec) {
        self.extract_idf(text, None, scratch, out);
    }

    /// As [`extract`](Self::extract), each bucket's value multiplied by its inverse document
    /// frequency when `idf` is given (before the L2 norm).
    pub fn extract_idf(&self, text: &str, idf: Option<&[f32]>, scratch: &mut Scratch, out: &mut SparseVec) {
        scratch.hash(text, self.kinds());
        self.from_hashed(&scratch.hashed, idf, out);
    }

    /// Each of this configuration's buckets in a hashing pass, once and in bucket order:
    /// `f(bucket, sublinear term frequency × word-block weight, in the word block?)` (the
    /// word-block weight is applied later when the blocks are normalised separately).
    #[inline]
    pub fn buckets(&self, h: &Hashed, mut f: impl FnMut(u32, f32, bool)) {
        let mask = u64::from(self.kinds());
        debug_assert!(mask & u64::from(h.mask) == mask, "hashing pass lacks kinds this model needs");
        let shift = 64 - u32::from(self.bits);
        let mut cur = u32::MAX;
        let mut count = 0u32;
        let mut word_first = false;
        let mut emit = |k: u32, count: u32, word: bool| {
            // 1 + ln(1) = 1: most buckets occur once, so skip the logarithm for them.
            let tf = if count == 1 { 1.0 } else { 1.0 + (count as f32).ln() };
            let w = if word && !self.block_norm { self.word_weight } else { 1.0 };
            f(k, w * tf, word);
        };
        for &e in &h.entries {
            if e & mask == 0 {
                continue;
            }
            let k = (e >> shift) as u32;
            if k == cur && count > 0 {
                count += 1;
                continue;
            }
            if count > 0 {
                emit(cur, count, word_first);
            }
            cur = k;
            count = 1;
            word_first = e & u64::from(WORD_KINDS) != 0;
        }
        if count > 0 {
            emit(cur, count, word_first);
        }
    }

    /// This configuration's vector from a hashing pass that produced (at least) its kinds.
    pub fn from_hashed(&self, h: &Hashed, idf: Option<&[f32]>, out: &mut SparseVec) {
        out.idx.clear();
        out.val.clear();
        self.buckets(h, |k, v, word| {
            let weight = idf.and_then(|t| t.get(k as usize)).copied().unwrap_or(1.0);
            out.idx.push(k);
            // With separate block norms the word block is marked by a negative sign until the
            // norms are known (every value is positive otherwise: tf ≥ 1, weights > 0).
            let v = v * weight;
            out.val.push(if word && self.block_norm { -v } else { v });
        });
        if self.block_norm {
            let (mut nw, mut nc) = (0f32, 0f32);
            for &v in &out.val {
                if v < 0.0 {
                    nw += v * v;
                } else {
                    nc += v * v;
                }
            }
            let (sw, sc) = (
                if nw > 0.0 { self.word_weight / nw.sqrt() } else { 0.0 },
                if nc > 0.0 { 1.0 / nc.sqrt() } else { 0.0 },
            );
            for v in &mut out.val {
                *v = if *v < 0.0 { -*v * sw } else { *v * sc };
            }
        }
        let norm = out.val.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for v in &mut out.val {
                *v /= norm;
            }
        }
    }
}

impl Scratch {
    /// Tokenises and hashes `text` once for every feature kind in `kinds` (see
    /// [`FeatureConfig::kinds`]); the result is in `self.hashed`.
    pub fn hash(&mut self, text: &str, kinds: u16) {
        text::tokenise(text, &mut self.toks);
        let entries = &mut self.hashed.entries;
        entries.clear();
        self.hashed.mask = kinds;
        let tag = |h: u64, kind: u16| (fmix64(h) & !KIND_MASK) | u64::from(kind);
        let words = kinds & (W1_PLAIN | W1_NEG | W2_PLAIN | W2_NEG) != 0;
        if words {
            let neg_wanted = kinds & (W1_NEG | W2_NEG) != 0;
            let mut negated = false;
            // Previous token's hash without and with negation marking (bigram chains differ
            // once a negator was seen).
            let mut prev: Option<(u64, u64)> = None;
            for t in self.toks.iter() {
                let punct = t == "!" || t == "?";
                let plain = hash_str(0x9e37_79b9_7f4a_7c15, t);
                let neg = if neg_wanted && negated && !punct { step(plain, 0xdead_beef) } else { plain };
                // One entry when both variants hash alike, else one per wanted variant.
                let mut push_variants = |p: u64, n: u64, kp: u16, kn: u16| {
                    if p == n {
                        entries.push(tag(p, (kp | kn) & kinds));
                    } else {
                        for (h, k) in [(p, kp), (n, kn)] {
                            if kinds & k != 0 {
                                entries.push(tag(h, k));
                            }
                        }
                    }
                };
                push_variants(plain, neg, W1_PLAIN, W1_NEG);
                if let Some((pp, pn)) = prev {
                    push_variants(step(pp.rotate_left(17), plain), step(pn.rotate_left(17), neg), W2_PLAIN, W2_NEG);
                }
                prev = Some((plain, neg));
                if neg_wanted {
                    if punct {
                        negated = false;
                    } else if is_negator(t) {
                        negated = true;
                    }
                }
            }
            entries.retain(|&e| e & KIND_MASK != 0);
        }
        if kinds & (JW1 | JW2) != 0 {
            let run = &mut self.run;
            run.clear();
            for t in self.toks.iter() {
                let mut it = t.chars();
                if matches!((it.next(), it.next()), (Some(c), None) if text::is_unspaced_script(c)) {
                    run.push_str(t);
                } else if !run.is_empty() {
                    push_jieba_words(run, kinds, entries);
                    run.clear();
                }
            }
            if !run.is_empty() {
                push_jieba_words(run, kinds, entries);
            }
        }
        let char_kinds = (kinds & CHAR_KINDS) >> 4;
        let wb_kinds = (kinds & WB_KINDS) >> 9;
        let all_kinds = char_kinds | wb_kinds;
        if all_kinds != 0 {
            let lo = all_kinds.trailing_zeros() as usize + 1;
            let hi = (16 - all_kinds.leading_zeros()) as usize;
            let chars = &mut self.chars;
            chars.clear();
            chars.push(' ');
            // Unspaced scripts (Han, kana, Thai) stay contiguous so n-grams span real characters.
            let mut prev_unspaced = false;
            for t in self.toks.iter() {
                let mut it = t.chars();
                let unspaced = matches!((it.next(), it.next()), (Some(c), None) if text::is_unspaced_script(c));
                if unspaced && prev_unspaced {
                    chars.pop();
                }
                chars.extend(t.chars());
                chars.push(' ');
                prev_unspaced = unspaced;
            }
            for i in 0..chars.len() {
                let mut h = 0xcbf2_9ce4_8422_2325u64;
                // Whether the n-gram so far has a space inside it (not at either end): it then
                // crosses a word boundary, and so does every longer one from `i`.
                let mut crosses = false;
                for n in 1..=hi {
                    let Some(&c) = chars.get(i + n - 1) else { break };
                    h = step(h, u64::from(c as u32));
                    crosses |= n >= 3 && chars[i + n - 2] == ' ';
                    if n < lo || (n == 1 && c == ' ') {
                        continue;
                    }
                    if kinds & char_kind(n) != 0 {
                        entries.push(tag(h ^ n as u64, char_kind(n)));
                    }
                    if kinds & wb_kind(n) != 0 && !crosses {
                        entries.push(tag(h ^ n as u64, wb_kind(n)));
                    }
                }
            }
        }
        sort_hashes(entries, &mut self.sort_buf);
    }
}

/// jieba's words of one run of Chinese characters (and their bigrams when `kinds` asks).
fn push_jieba_words(run: &str, kinds: u16, entries: &mut Vec<u64>) {
    let tag = |h: u64, kind: u16| (fmix64(h) & !KIND_MASK) | u64::from(kind);
    let mut prev: Option<u64> = None;
    for t in jieba().cut(run, false) {
        let h = hash_str(0x51_7cc1_b727_220a, t.word);
        if kinds & JW1 != 0 {
            entries.push(tag(h, JW1));
        }
        if let Some(p) = prev
            && kinds & JW2 != 0
        {
            entries.push(tag(step(p.rotate_left(17), h), JW2));
        }
        prev = Some(h);
    }
}

/// Sorts `v` into the order `sort_unstable` gives, faster for the few hundred mixed hashes of a
/// message: two counting passes on the top 16 bits, then an insertion sort that only moves the
/// rare entries sharing them. `buf` is scratch space.
fn sort_hashes(v: &mut [u64], buf: &mut Vec<u64>) {
    if v.len() < 64 {
        v.sort_unstable();
        return;
    }
    buf.clear();
    buf.resize(v.len(), 0);
    counting_pass(v, buf, 48);
    counting_pass(buf, v, 56);
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// Stable counting sort of `src` into `dst` by the byte at `shift`.
fn counting_pass(src: &[u64], dst: &mut [u64], shift: u32) {
    let mut start = [0usize; 256];
    for &x in src {
        start[((x >> shift) & 0xff) as usize] += 1;
    }
    let mut sum = 0;
    for c in &mut start {
        (*c, sum) = (sum, sum + *c);
    }
    for &x in src {
        let b = ((x >> shift) & 0xff) as usize;
        dst[start[b]] = x;
        start[b] += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_sort_as_sort_unstable_does() {
        let mut rng = crate::linear::Rng::new(7);
        let mut buf = Vec::new();
        for len in [0, 1, 63, 64, 65, 500, 3000] {
            // Some shared top bits and exact duplicates, as n-grams repeated in a text give.
            let mut v: Vec<u64> = (0..len)
                .map(|i| match i % 5 {
                    0 => rng.next_u64() & 0xffff_0000_0000_00ff,
                    _ => rng.next_u64(),
                })
                .collect();
            let dup: Vec<u64> = v.iter().step_by(7).copied().collect();
            v.extend(dup);
            let mut want = v.clone();
            want.sort_unstable();
            sort_hashes(&mut v, &mut buf);
            assert_eq!(v, want, "length {len}");
        }
    }

    #[test]
    fn vectors_are_normalised_and_deterministic() {
        let cfg = FeatureConfig {
            bits: 16,
            word_ngrams: 2,
            char_min: 1,
            char_max: 4,
            negation: true,
            word_weight: 1.0,
            char_wb: false,
            block_norm: false,
            jieba_words: 0,
        };
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

    #[test]
    fn one_shared_pass_gives_each_model_its_own_vector() {
        let sentiment = FeatureConfig {
            bits: 18,
            word_ngrams: 2,
            char_min: 1,
            char_max: 5,
            negation: true,
            word_weight: 1.0,
            char_wb: false,
            block_norm: false,
            jieba_words: 0,
        };
        let intent = FeatureConfig {
            bits: 14,
            word_ngrams: 2,
            char_min: 2,
            char_max: 5,
            negation: false,
            word_weight: 1.0,
            char_wb: false,
            block_norm: false,
            jieba_words: 0,
        };
        let (mut s, mut own, mut shared) = (Scratch::default(), SparseVec::default(), SparseVec::default());
        for text in ["I do not like this at all! #fail @bob", "我不喜欢这个 app 😡", "no no NO, never again", ""]
        {
            s.hash(text, sentiment.kinds() | intent.kinds());
            let mut hashed = Hashed::default();
            std::mem::swap(&mut hashed, &mut s.hashed);
            for cfg in [&sentiment, &intent] {
                cfg.extract(text, &mut s, &mut own);
                cfg.from_hashed(&hashed, None, &mut shared);
                assert_eq!(own.idx, shared.idx, "{text:?}");
                assert_eq!(own.val, shared.val, "{text:?}");
            }
            // Negation marking changes the sentiment words but not the intent ones.
            if text.starts_with("I do not") {
                cfg_differs(&sentiment, &intent, &hashed);
            }
        }
    }

    fn cfg(word_ngrams: u8, char_max: u8, char_wb: bool, block_norm: bool) -> FeatureConfig {
        FeatureConfig {
            bits: 24,
            word_ngrams,
            char_min: 1,
            char_max,
            negation: false,
            word_weight: 1.0,
            char_wb,
            block_norm,
            jieba_words: 0,
        }
    }

    #[test]
    fn word_bounded_char_ngrams_stay_inside_words() {
        let (mut s, mut v) = (Scratch::default(), SparseVec::default());
        let only = |n: u8, wb: bool| FeatureConfig { char_min: n, ..cfg(0, n, wb, false) };
        // " ab cd ": 3-grams " ab", "ab ", "b c", " cd", "cd "; inside words: all but "b c".
        only(3, false).extract("ab cd", &mut s, &mut v);
        assert_eq!(v.idx.len(), 5);
        only(3, true).extract("ab cd", &mut s, &mut v);
        assert_eq!(v.idx.len(), 4);
        // A one-letter word padded: " a " is a 3-gram of its own; nothing longer fits.
        only(3, true).extract("a", &mut s, &mut v);
        assert_eq!(v.idx.len(), 1);
        only(4, true).extract("a", &mut s, &mut v);
        assert!(v.idx.is_empty());
        // Chinese runs stay contiguous, as for the plain character n-grams.
        only(2, true).extract("很好", &mut s, &mut v);
        assert_eq!(v.idx.len(), 3);
    }

    #[test]
    fn separate_block_norms_weigh_words_and_characters_equally() {
        let (mut s, mut words, mut chars, mut both) =
            (Scratch::default(), SparseVec::default(), SparseVec::default(), SparseVec::default());
        let text = "the parcel never arrived, never!";
        cfg(2, 0, false, false).extract(text, &mut s, &mut words);
        cfg(0, 4, false, false).extract(text, &mut s, &mut chars);
        cfg(2, 4, false, true).extract(text, &mut s, &mut both);
        assert_eq!(both.idx.len(), words.idx.len() + chars.idx.len());
        let h = std::f32::consts::FRAC_1_SQRT_2;
        for part in [&words, &chars] {
            for (i, v) in part.idx.iter().zip(&part.val) {
                let j = both.idx.binary_search(i).unwrap();
                assert!((both.val[j] - v * h).abs() < 1e-5, "bucket {i}");
            }
        }
    }

    #[test]
    fn jieba_words_come_from_chinese_runs_only() {
        let (mut s, mut v) = (Scratch::default(), SparseVec::default());
        let words = |n: u8| FeatureConfig { jieba_words: n, ..cfg(0, 0, false, false) };
        // "我 / 喜欢 / 这个 / 手机": four words, three bigrams.
        words(1).extract("我喜欢这个手机", &mut s, &mut v);
        assert_eq!(v.idx.len(), 4);
        words(2).extract("我喜欢这个手机", &mut s, &mut v);
        assert_eq!(v.idx.len(), 7);
        // Latin words are not segmented; a Latin word ends a Chinese run.
        words(2).extract("great phone", &mut s, &mut v);
        assert!(v.idx.is_empty());
        words(1).extract("手机 ok 手机", &mut s, &mut v);
        assert_eq!(v.idx.len(), 1);
        // They join the word block, so the word weight applies to them.
        let both = FeatureConfig { jieba_words: 1, word_weight: 2.0, ..cfg(0, 1, false, true) };
        both.extract("手机", &mut s, &mut v);
        assert_eq!(v.idx.len(), 3);
        assert!(v.val.iter().any(|&x| (x - 2.0 / 5f32.sqrt()).abs() < 1e-5), "{:?}", v.val);
    }

    fn cfg_differs(a: &FeatureConfig, b: &FeatureConfig, h: &Hashed) {
        let (mut va, mut vb) = (SparseVec::default(), SparseVec::default());
        a.from_hashed(h, None, &mut va);
        b.from_hashed(h, None, &mut vb);
        assert_ne!(va.idx.len(), vb.idx.len());
    }
}
