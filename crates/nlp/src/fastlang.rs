//! A fast first pass for Latin-script languages: lingua's own n-gram log-probabilities (from the
//! lingua language-model crates, Apache-2.0), distilled by `switchboard nlp train language` into
//! one hashed table of byte-quantised uni-, bi- and trigram log-probabilities per language.
//! Scoring a message is a few table look-ups per character instead of lingua's per-n-gram FST
//! searches; when the top two languages are close, [`crate::lang::LanguageId`] still asks lingua.

use include_dir::Dir;

const MAGIC: &[u8; 8] = b"SBLANG\x01\0";
/// Quantisation: byte `q` (1..=255) stands for ln p = -(q - 1) / STEP; 0 = n-gram unseen.
const STEP: f32 = 10.0;
/// Log-probability charged when a language has not seen even the unigram.
const UNSEEN: f32 = -8.0;

pub struct FastLang {
    /// Log-probability charged when a language has not seen even the unigram.
    pub unseen: f32,
    bits: u8,
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

    /// Builds the table from lingua's n-gram probability models (n ≤ 3).
    pub fn distill(bits: u8) -> Result<FastLang, FastLangError> {
        use fst::Streamer;
        let sources = lingua_sources();
        let l = sources.len();
        let mut me = FastLang {
            unseen: UNSEEN,
            bits,
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
                if n == 0 || n > 3 {
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
        out.push(self.codes.len() as u8);
        for c in &self.codes {
            let b = c.as_bytes();
            out.extend_from_slice(&[b.first().copied().unwrap_or(b'?'), b.get(1).copied().unwrap_or(b'?')]);
        }
        out.extend_from_slice(&self.table);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<FastLang, FastLangError> {
        if b.len() < 10 || &b[..8] != MAGIC {
            return Err(FastLangError::Corrupt);
        }
        let bits = b[8];
        let l = usize::from(b[9]);
        if bits > 24 || l == 0 {
            return Err(FastLangError::Corrupt);
        }
        let codes_end = 10 + 2 * l;
        let codes = b
            .get(10..codes_end)
            .ok_or(FastLangError::Corrupt)?
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let table = b.get(codes_end..).ok_or(FastLangError::Corrupt)?;
        if table.len() != (1usize << bits) * l {
            return Err(FastLangError::Corrupt);
        }
        Ok(FastLang { unseen: UNSEEN, bits, codes, table: table.to_vec() })
    }

    /// Sum of per-position log-probabilities per language (backing off from trigram to bigram
    /// to unigram as lingua does) over the words of `clean` (already stripped of noise).
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
                let mut h = [0u64; 3];
                let max = (n - i).min(3);
                for (k, hk) in h.iter_mut().enumerate().take(max) {
                    let mut x = 0xcbf2_9ce4_8422_2325u64 ^ (k as u64 + 1);
                    for &c in &chars[i..=i + k] {
                        x = step(x, c);
                    }
                    *hk = x;
                }
                let buckets: [usize; 3] = [self.bucket(h[0]), self.bucket(h[1]), self.bucket(h[2])];
                for (li, o) in out.iter_mut().enumerate().take(l) {
                    let mut v = self.unseen;
                    for k in (0..max).rev() {
                        let q = self.table[buckets[k] * l + li];
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
