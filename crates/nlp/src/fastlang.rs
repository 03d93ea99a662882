//! A fast first pass for Latin-script languages: lingua's own n-gram log-probabilities (from the
//! lingua language-model crates, Apache-2.0), distilled by `switchboard nlp train language` into
//! one hashed table of byte-quantised uni- to 4-gram log-probabilities per language.
//! Scoring a message is a few table look-ups per character instead of lingua's per-n-gram FST
//! searches; when the top two languages are close, [`crate::lang::LanguageId`] still asks lingua.

use std::sync::{Arc, OnceLock};

use include_dir::Dir;

const MAGIC: &[u8; 8] = b"SBLANG\x02\0";
/// Longest n-gram the table can hold.
pub const MAX_ORDER: usize = 5;
/// Quantisation: byte `q` (1..=255) stands for ln p = -(q - 1) / STEP; 0 = n-gram unseen.
const STEP: f32 = 10.0;
/// Log-probability charged when a language has not seen even the unigram.
const UNSEEN: f32 = -8.0;

pub struct FastLang {
    /// Log-probability charged when a language has not seen even the unigram.
    pub unseen: f32,
    bits: u8,
    /// Longest n-gram distilled (3 or 4…).
    order: u8,
    pub codes: Vec<String>,
    table: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FastLangError {
    #[error("language table is truncated or not a table")]
    Corrupt,
    #[error("lingua model data for {0} could not be read: {1}")]
    Source(String, String),
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
fn step(h: u64, c: char) -> u64 {
    (h ^ u64::from(c as u32)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(7)
}

/// The lingua model folders distilled into the table, by ISO 639-1 code.
pub fn lingua_sources() -> Vec<(&'static str, &'static Dir<'static>)> {
    vec![
        ("de", &lingua_german_language_model::GERMAN_MODELS_DIRECTORY),
        ("en", &lingua_english_language_model::ENGLISH_MODELS_DIRECTORY),
        ("es", &lingua_spanish_language_model::SPANISH_MODELS_DIRECTORY),
        ("fr", &lingua_french_language_model::FRENCH_MODELS_DIRECTORY),
        ("id", &lingua_indonesian_language_model::INDONESIAN_MODELS_DIRECTORY),
        ("it", &lingua_italian_language_model::ITALIAN_MODELS_DIRECTORY),
        ("pt", &lingua_portuguese_language_model::PORTUGUESE_MODELS_DIRECTORY),
        ("tr", &lingua_turkish_language_model::TURKISH_MODELS_DIRECTORY),
        ("vi", &lingua_vietnamese_language_model::VIETNAMESE_MODELS_DIRECTORY),
    ]
}

impl FastLang {
    fn bucket(&self, h: u64) -> usize {
        (fmix64(h) >> (64 - u32::from(self.bits))) as usize
    }

    /// Builds the table from lingua's n-gram probability models (n ≤ `order`).
    pub fn distill(bits: u8, order: u8) -> Result<FastLang, FastLangError> {
        let order = order.clamp(1, MAX_ORDER as u8);
        use fst::Streamer;
        let sources = lingua_sources();
        let l = sources.len();
        let mut me = FastLang {
            unseen: UNSEEN,
            bits,
            order,
            codes: sources.iter().map(|s| s.0.to_owned()).collect(),
            table: Vec::new(),
        };
        me.table = vec![0u8; (1usize << bits) * l];
        for (li, (code, dir)) in sources.iter().enumerate() {
            let file = dir
                .get_file("ngrams.fst")
                .ok_or_else(|| FastLangError::Source((*code).to_owned(), "no ngrams.fst".into()))?;
            let map =
                fst::Map::new(file.contents()).map_err(|e| FastLangError::Source((*code).to_owned(), e.to_string()))?;
            let mut stream = map.stream();
            while let Some((key, value)) = stream.next() {
                let Ok(gram) = std::str::from_utf8(key) else { continue };
                let n = gram.chars().count();
                if n == 0 || n > usize::from(order) {
                    continue;
                }
                let logp = f64::from_bits(value) as f32;
                let mut h = 0xcbf2_9ce4_8422_2325u64 ^ n as u64;
                for c in gram.chars() {
                    h = step(h, c);
                }
                let q = (1.0 + (-logp * STEP).round()).clamp(1.0, 255.0) as u8;
                let b = me.bucket(h) * l + li;
                // On a collision keep the more probable entry.
                if me.table[b] == 0 || q < me.table[b] {
                    me.table[b] = q;
                }
            }
        }
        Ok(me)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.table.len());
        out.extend_from_slice(MAGIC);
        out.push(self.bits);
        out.push(self.order);
        out.push(self.codes.len() as u8);
        for c in &self.codes {
            let b = c.as_bytes();
            out.extend_from_slice(&[b.first().copied().unwrap_or(b'?'), b.get(1).copied().unwrap_or(b'?')]);
        }
        out.extend_from_slice(&self.table);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<FastLang, FastLangError> {
        if b.len() < 11 || &b[..8] != MAGIC {
            return Err(FastLangError::Corrupt);
        }
        let bits = b[8];
        let order = b[9];
        let l = usize::from(b[10]);
        if bits > 24 || l == 0 || l > 16 || order == 0 || usize::from(order) > MAX_ORDER {
            return Err(FastLangError::Corrupt);
        }
        let codes_end = 11 + 2 * l;
        let codes = b
            .get(11..codes_end)
            .ok_or(FastLangError::Corrupt)?
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let table = b.get(codes_end..).ok_or(FastLangError::Corrupt)?;
        if table.len() != (1usize << bits) * l {
            return Err(FastLangError::Corrupt);
        }
        Ok(FastLang { unseen: UNSEEN, bits, order, codes, table: table.to_vec() })
    }

    /// Sum of per-position log-probabilities per language (backing off from the longest n-gram
    /// to shorter ones as lingua does) over the words of `clean` (already stripped of noise).
    /// Returns the number of positions scored.
    pub fn scores(&self, clean: &str, out: &mut [f32]) -> usize {
        let l = self.codes.len();
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut chars = [' '; 64];
        let mut positions = 0;
        for word in clean.split(' ') {
            let mut n = 0;
            for c in word.chars().flat_map(char::to_lowercase) {
                if n < chars.len() {
                    chars[n] = c;
                    n += 1;
                }
            }
            for i in 0..n {
                let max = (n - i).min(usize::from(self.order));
                let mut rows = [0usize; MAX_ORDER];
                for (k, row) in rows.iter_mut().enumerate().take(max) {
                    let mut x = 0xcbf2_9ce4_8422_2325u64 ^ (k as u64 + 1);
                    for &c in &chars[i..=i + k] {
                        x = step(x, c);
                    }
                    *row = self.bucket(x) * l;
                }
                for (li, o) in out.iter_mut().enumerate().take(l) {
                    let mut v = self.unseen;
                    for k in (0..max).rev() {
                        let q = self.table[rows[k] + li];
                        if q != 0 {
                            v = -(f32::from(q) - 1.0) / STEP;
                            break;
                        }
                    }
                    *o += v;
                }
                positions += 1;
            }
        }
        positions
    }
}

/// lingua's n-gram probability models for the Latin-script languages (the FSTs inside the lingua
/// model crates), merged at start-up into one hash table: each distinct n-gram of length 1..=5
/// once, with the log-probability of every language that knows it. A text is scored the way
/// lingua's high-accuracy mode does — distinct n-grams of length 1..=5, each backing off to its
/// longest known prefix, summed and divided by the number of distinct known unigrams — with one
/// look-up per n-gram for all candidate languages instead of an FST search (or walk) per n-gram
/// and language. The values are lingua's, as `f32`, so the scores equal per-language FST look-ups
/// (tested). lingua's character rules are not applied here.
pub struct NgramScorer {
    pub codes: Vec<&'static str>,
    /// `64 - log2(slots.len())`: a key's slot is its top bits.
    shift: u32,
    /// Open addressing, linear probing: a key's low 32 bits (a check, the slot being its top
    /// bits) and `1 +` its offset in `pool` (0 = empty slot).
    slots: Vec<u64>,
    /// Per n-gram: a bit mask of the languages that know it, then their log-probabilities
    /// (`f32` bits) in language order.
    pool: Vec<u32>,
}

/// Longest n-gram lingua scores.
const N: usize = MAX_ORDER;

/// See [`NgramScorer::shared`].
static SHARED: OnceLock<Option<Arc<NgramScorer>>> = OnceLock::new();

impl NgramScorer {
    /// The process's scorer, merged on first use. A server builds several detectors (triage,
    /// bot, survey comments); the table is the same read-only data for all of them, so they
    /// share one copy instead of 35 MB and 0.3 s each. `None` if the models cannot be read.
    pub fn shared() -> Option<Arc<NgramScorer>> {
        SHARED.get_or_init(|| NgramScorer::new().ok().map(Arc::new)).clone()
    }

    /// Merges the models of [`lingua_sources`] (about 1.3 million distinct n-grams, 35 MB).
    pub fn new() -> Result<NgramScorer, FastLangError> {
        use fst::Streamer;
        let sources = lingua_sources();
        let mut maps = Vec::new();
        for (code, dir) in &sources {
            let file = dir
                .get_file("ngrams.fst")
                .ok_or_else(|| FastLangError::Source((*code).into(), "no ngrams.fst".into()))?;
            maps.push(
                fst::Map::new(file.contents()).map_err(|e| FastLangError::Source((*code).into(), e.to_string()))?,
            );
        }
        let mut union = maps.iter().collect::<fst::map::OpBuilder>().union();
        let mut keys: Vec<(u64, u32)> = Vec::new();
        let mut pool: Vec<u32> = Vec::new();
        let mut vals = [0u32; 32];
        while let Some((gram, found)) = union.next() {
            let Ok(gram) = std::str::from_utf8(gram) else { continue };
            let (mut h, mut n) = (0xcbf2_9ce4_8422_2325u64, 0u64);
            for c in gram.chars() {
                h = step(h, c);
                n += 1;
            }
            if n == 0 || n > N as u64 {
                continue;
            }
            let mut mask = 0u32;
            for v in found {
                if v.index < vals.len() {
                    mask |= 1 << v.index;
                    vals[v.index] = (f64::from_bits(v.value) as f32).to_bits();
                }
            }
            let offset = u32::try_from(pool.len()).map_err(|_| FastLangError::Corrupt)?;
            keys.push((fmix64(h ^ n), offset));
            pool.push(mask);
            let mut m = mask;
            while m != 0 {
                pool.push(vals[m.trailing_zeros() as usize]);
                m &= m - 1;
            }
        }
        // At most two thirds full.
        let bits = (keys.len() * 3 / 2).max(2).next_power_of_two().trailing_zeros();
        let mut slots = vec![0u64; 1 << bits];
        let shift = 64 - bits;
        let last = slots.len() - 1;
        for (key, offset) in keys {
            let mut i = (key >> shift) as usize;
            while slots[i] != 0 {
                i = (i + 1) & last;
            }
            slots[i] = (key << 32) | (u64::from(offset) + 1);
        }
        Ok(NgramScorer { codes: sources.iter().map(|s| s.0).collect(), shift, slots, pool })
    }

    /// Where `key`'s languages and values start in `pool`.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        let last = self.slots.len() - 1;
        let mut i = (key >> self.shift) as usize;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s >> 32 == key & 0xffff_ffff {
                return Some((s & 0xffff_ffff) as usize - 1);
            }
            i = (i + 1) & last;
        }
    }

    /// `lang`'s log-probability in the entry at `at` (see [`find`](Self::find)), if it knows it.
    #[inline]
    fn value(&self, at: usize, lang: usize) -> Option<f32> {
        let mask = self.pool[at];
        let bit = 1u32.checked_shl(lang as u32)?;
        if mask & bit == 0 {
            return None;
        }
        let rank = (mask & (bit - 1)).count_ones() as usize;
        self.pool.get(at + 1 + rank).map(|&v| f32::from_bits(v))
    }

    /// lingua's score (natural log scale; higher is more likely) of `clean` for each language
    /// index in `langs`, into `out[i]` for `langs[i]`. Returns the number of distinct unigrams.
    pub fn scores(&self, clean: &str, langs: &[usize], out: &mut [f32]) -> usize {
        let mut chars: Vec<char> = Vec::with_capacity(clean.len());
        // Each word followed by a '\0' stop.
        for word in clean.split(' ') {
            if word.is_empty() {
                continue;
            }
            chars.extend(word.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphabetic()));
            chars.push('\0');
        }
        // Distinct n-grams (key, position, length) and each position's n-gram keys.
        let mut grams: Vec<(u64, u32, u8)> = Vec::with_capacity(chars.len() * N);
        let mut keys = vec![[0u64; N]; chars.len()];
        for (i, row) in keys.iter_mut().enumerate() {
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for n in 1..=N {
                let Some(&c) = chars.get(i + n - 1) else { break };
                if c == '\0' {
                    break;
                }
                h = step(h, c);
                row[n - 1] = fmix64(h ^ n as u64);
                grams.push((row[n - 1], i as u32, n as u8));
            }
        }
        grams.sort_unstable_by_key(|g| g.0);
        grams.dedup_by_key(|g| g.0);
        let unigrams = grams.iter().filter(|g| g.2 == 1).count();
        // How long the n-grams kept at each position are: they back off to shorter ones there.
        let mut depth = vec![0u8; chars.len()];
        for g in &grams {
            depth[g.1 as usize] = depth[g.1 as usize].max(g.2);
        }
        // Each needed n-gram looked up once for all languages: where its entry starts in `pool`.
        let mut found = vec![[None; N]; chars.len()];
        for ((row, key), &d) in found.iter_mut().zip(&keys).zip(&depth) {
            for (r, &k) in row.iter_mut().zip(key).take(usize::from(d)) {
                *r = self.find(k);
            }
        }
        for (o, &li) in out.iter_mut().zip(langs) {
            let (mut sum, mut known_unigrams) = (0f32, 0usize);
            for g in &grams {
                let row = &found[g.1 as usize];
                let hit = (0..usize::from(g.2)).rev().find_map(|k| row[k].and_then(|at| self.value(at, li)));
                if let Some(v) = hit {
                    sum += v;
                    if g.2 == 1 {
                        known_unigrams += 1;
                    }
                }
            }
            *o = if known_unigrams > 0 && sum < 0.0 { sum / known_unigrams as f32 } else { f32::MIN / 4.0 };
        }
        unigrams
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// lingua's high-accuracy score of `clean` in one language, the plain way: every distinct
    /// n-gram searched in that language's FST, backing off to shorter prefixes.
    fn reference(map: &fst::Map<&[u8]>, clean: &str) -> f32 {
        let mut grams: Vec<String> = Vec::new();
        for word in clean.split(' ') {
            let w: Vec<char> = word.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphabetic()).collect();
            for i in 0..w.len() {
                for n in 1..=N.min(w.len() - i) {
                    grams.push(w[i..i + n].iter().collect());
                }
            }
        }
        grams.sort();
        grams.dedup();
        let (mut sum, mut unigrams) = (0f64, 0usize);
        for g in &grams {
            let chars: Vec<char> = g.chars().collect();
            let hit = (1..=chars.len()).rev().find_map(|n| map.get(chars[..n].iter().collect::<String>()));
            if let Some(v) = hit {
                sum += f64::from(f64::from_bits(v) as f32);
                unigrams += usize::from(chars.len() == 1);
            }
        }
        if unigrams > 0 && sum < 0.0 { (sum / unigrams as f64) as f32 } else { f32::MIN / 4.0 }
    }

    #[test]
    fn one_table_scores_as_each_language_model_does() {
        let scorer = NgramScorer::new().unwrap();
        let sources = lingua_sources();
        let langs: Vec<usize> = (0..sources.len()).collect();
        let mut out = vec![0f32; langs.len()];
        for text in [
            "the parcel never arrived and nobody answers",
            "o pedido não chegou até hoje",
            "el pedido no ha llegado todavía",
            "Straße über Äpfel schön",
            "ne ne ne",
            "xqzv",
            "",
        ] {
            scorer.scores(text, &langs, &mut out);
            for (li, (code, dir)) in sources.iter().enumerate() {
                let map = fst::Map::new(dir.get_file("ngrams.fst").unwrap().contents()).unwrap();
                let want = reference(&map, text);
                // Same values, summed in another order.
                assert!((out[li] - want).abs() <= 1e-4 * want.abs().max(1.0), "{code} {text:?}: {} vs {want}", out[li]);
            }
        }
    }
}
