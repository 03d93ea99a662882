//! A fast first pass for Latin-script languages: lingua's own n-gram log-probabilities (from the
//! lingua language-model crates, Apache-2.0), distilled by `switchboard nlp train language` into
//! one hashed table of byte-quantised uni- to 4-gram log-probabilities per language.
//! Scoring a message is a few table look-ups per character instead of lingua's per-n-gram FST
//! searches; when the top two languages are close, [`crate::lang::LanguageId`] still asks lingua.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

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

/// lingua's n-gram probability models for the Latin-script languages, read straight from the
/// FSTs the lingua model crates embed (nothing copied), and scored the way lingua's
/// high-accuracy mode does — distinct n-grams of length 1..=5, each backing off to its longest
/// known prefix, summed and divided by the number of distinct known unigrams — but with one FST
/// walk per position and language instead of one search per n-gram, no allocation per n-gram,
/// and only for the candidate languages the table left open. Every path of up to
/// [`PREFIX_CHARS`] characters is decoded once at start-up into a hash map (its probability and
/// the FST node where it ends), so a walk only decodes FST nodes for the 4th and 5th character.
/// lingua's character rules are not applied here.
pub struct FstScorer {
    pub codes: Vec<&'static str>,
    maps: Vec<fst::Map<&'static [u8]>>,
    prefixes: Vec<HashMap<u64, Prefix, BuildHasherDefault<Mixed>>>,
}

/// N-grams up to this many characters are looked up in the start-up map, longer ones in the FST.
pub const PREFIX_CHARS: usize = 3;

/// A path from the FST root: its log-probability when it is an n-gram of the model (else NaN),
/// the node it ends in and the output accumulated on the way.
#[derive(Clone, Copy)]
struct Prefix {
    logp: f32,
    addr: usize,
    out: u64,
}

/// The keys are already mixed hashes: hashing them again would only cost time.
#[derive(Default)]
struct Mixed(u64);

impl std::hash::Hasher for Mixed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The key of an n-gram: its characters chained through `step`, mixed with its length.
fn gram_key(chars: &[char]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &c in chars {
        h = step(h, c);
    }
    fmix64(h ^ chars.len() as u64)
}

fn decode_prefixes(map: &fst::Map<&'static [u8]>) -> HashMap<u64, Prefix, BuildHasherDefault<Mixed>> {
    let f = map.as_fst();
    let mut out = HashMap::default();
    // Depth-first over bytes: (node address, output so far, bytes of the path, chars completed).
    let mut stack: Vec<(usize, u64, Vec<u8>)> = vec![(f.root().addr(), 0, Vec::new())];
    while let Some((addr, acc, bytes)) = stack.pop() {
        let node = f.node(addr);
        for t in node.transitions() {
            let mut b = bytes.clone();
            b.push(t.inp);
            let acc = fst::raw::Output::new(acc).cat(t.out);
            let child = f.node(t.addr);
            match std::str::from_utf8(&b) {
                Ok(s) => {
                    let chars: Vec<char> = s.chars().collect();
                    let logp = if child.is_final() {
                        f64::from_bits(acc.cat(child.final_output()).value()) as f32
                    } else {
                        f32::NAN
                    };
                    out.insert(gram_key(&chars), Prefix { logp, addr: t.addr, out: acc.value() });
                    if chars.len() < PREFIX_CHARS {
                        stack.push((t.addr, acc.value(), b));
                    }
                }
                // In the middle of a multi-byte character.
                Err(e) if e.error_len().is_none() && b.len() < 4 * PREFIX_CHARS => stack.push((t.addr, acc.value(), b)),
                Err(_) => {}
            }
        }
    }
    out
}

impl FstScorer {
    pub fn new() -> Result<FstScorer, FastLangError> {
        let mut codes = Vec::new();
        let mut maps = Vec::new();
        let mut prefixes = Vec::new();
        for (code, dir) in lingua_sources() {
            let file =
                dir.get_file("ngrams.fst").ok_or_else(|| FastLangError::Source(code.into(), "no ngrams.fst".into()))?;
            let map = fst::Map::new(file.contents()).map_err(|e| FastLangError::Source(code.into(), e.to_string()))?;
            codes.push(code);
            prefixes.push(decode_prefixes(&map));
            maps.push(map);
        }
        Ok(FstScorer { codes, maps, prefixes })
    }

    /// lingua's score (natural log scale; higher is more likely) of `clean` for each language
    /// index in `langs`, into `out[i]` for `langs[i]`. Returns the number of distinct unigrams.
    pub fn scores(&self, clean: &str, langs: &[usize], out: &mut [f32]) -> usize {
        const N: usize = MAX_ORDER;
        let mut chars: Vec<char> = Vec::with_capacity(clean.len());
        // Each word followed by a '\0' stop.
        for word in clean.split(' ') {
            if word.is_empty() {
                continue;
            }
            chars.extend(word.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphabetic()));
            chars.push('\0');
        }
        // Distinct n-grams (key, position, length) and each position's prefix keys.
        let mut grams: Vec<(u64, u32, u8)> = Vec::with_capacity(chars.len() * N);
        let mut keys = vec![[0u64; PREFIX_CHARS]; chars.len()];
        for (i, prefix_keys) in keys.iter_mut().enumerate() {
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for n in 1..=N {
                let Some(&c) = chars.get(i + n - 1) else { break };
                if c == '\0' {
                    break;
                }
                h = step(h, c);
                let key = fmix64(h ^ n as u64);
                if n <= PREFIX_CHARS {
                    prefix_keys[n - 1] = key;
                }
                grams.push((key, i as u32, n as u8));
            }
        }
        grams.sort_unstable_by_key(|g| g.0);
        grams.dedup_by_key(|g| g.0);
        let unigrams = grams.iter().filter(|g| g.2 == 1).count();
        // How deep each position's walk must go.
        let mut depth = vec![0u8; chars.len()];
        for g in &grams {
            depth[g.1 as usize] = depth[g.1 as usize].max(g.2);
        }
        let mut lp = vec![[f32::NAN; N]; chars.len()];
        let mut utf8 = [0u8; 4];
        for (o, &li) in out.iter_mut().zip(langs) {
            let (Some(map), Some(pre)) = (self.maps.get(li), self.prefixes.get(li)) else {
                *o = f32::MIN / 4.0;
                continue;
            };
            let f = map.as_fst();
            for (i, row) in lp.iter_mut().enumerate() {
                *row = [f32::NAN; N];
                let d = usize::from(depth[i]);
                let mut last = None;
                for k in 0..d.min(PREFIX_CHARS) {
                    let Some(p) = pre.get(&keys[i][k]) else { break };
                    row[k] = p.logp;
                    last = Some((k, *p));
                }
                // Longer n-grams: continue the walk in the FST from where the prefix ended.
                let Some((k0, p)) = last else { continue };
                if k0 + 1 < PREFIX_CHARS || d <= PREFIX_CHARS {
                    continue;
                }
                let mut node = f.node(p.addr);
                let mut acc = fst::raw::Output::new(p.out);
                'walk: for k in PREFIX_CHARS..d {
                    for &b in chars[i + k].encode_utf8(&mut utf8).as_bytes() {
                        let Some(t) = node.find_input(b) else { break 'walk };
                        let tr = node.transition(t);
                        acc = acc.cat(tr.out);
                        node = f.node(tr.addr);
                    }
                    if node.is_final() {
                        row[k] = f64::from_bits(acc.cat(node.final_output()).value()) as f32;
                    }
                }
            }
            let (mut sum, mut known_unigrams) = (0f32, 0usize);
            for g in &grams {
                let row = &lp[g.1 as usize];
                if let Some(v) = (0..usize::from(g.2)).rev().map(|k| row[k]).find(|v| !v.is_nan()) {
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
