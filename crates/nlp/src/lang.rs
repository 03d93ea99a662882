//! Language identification for short, noisy social text.
//!
//! Handles, URLs, hashtags, emoji, digits and punctuation are stripped first. The writing system
//! then settles most non-Latin languages outright (Hangul → ko, kana → ja, Thai → th…) when only
//! one configured language uses that script; otherwise lingua, restricted to the configured
//! languages of that script, decides. Too little text, or a low top confidence, gives
//! `unknown` rather than a confident wrong answer.

use std::str::FromStr;

use lingua::{IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Script {
    Latin,
    Cyrillic,
    Arabic,
    Devanagari,
    Thai,
    Hangul,
    Kana,
    Han,
    Greek,
    Hebrew,
    Other,
}

fn script_of(c: char) -> Script {
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF => Script::Latin,
        0x400..=0x52F => Script::Cyrillic,
        0x370..=0x3FF => Script::Greek,
        0x590..=0x5FF => Script::Hebrew,
        0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
        0x900..=0x97F => Script::Devanagari,
        0xE00..=0xE7F => Script::Thai,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Kana,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F => Script::Han,
        _ => Script::Other,
    }
}

fn script_of_language(l: Language) -> Script {
    use Language as L;
    match l {
        L::Russian => Script::Cyrillic,
        L::Arabic => Script::Arabic,
        L::Hindi => Script::Devanagari,
        L::Thai => Script::Thai,
        L::Korean => Script::Hangul,
        L::Japanese => Script::Kana,
        L::Chinese => Script::Han,
        _ => Script::Latin,
    }
}

/// What the detector says: an ISO 639-1 code or `unknown`, with a confidence in 0..=1.
#[derive(Clone, Debug, PartialEq)]
pub struct LanguageGuess {
    pub code: &'static str,
    pub confidence: f32,
}

pub const UNKNOWN: &str = "unknown";

/// Which step of the cascade gave the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Too little text, the writing system, or letters only one language uses.
    Rules,
    /// The distilled n-gram table, with a clear margin.
    Table,
    /// lingua (restricted to the table's close candidates where possible).
    Lingua,
}

/// See [`LanguageId::fast_margin`].
pub const FAST_MARGIN: f32 = 0.4;
/// See [`LanguageId::fast_weight`]; 0.2 was chosen on XLM-T training tweets (de/es/fr/it/pt), full
/// text and 3-word prefixes, not on the language-id evaluation set.
pub const FAST_WEIGHT: f32 = 0.2;
/// Per-position log-probability differences are multiplied by this before the softmax.
const FAST_SHARPNESS: f32 = 3.0;

/// Common words of romanised Hindi ("Hinglish": Hindi written in Latin letters, as much of it is
/// on social media) that are rare as words of the other Latin-script languages detected here. A
/// few are words there too (German "mein", Italian "hai"), hence two distinct ones are needed
/// ([`ROMANISED_HINDI_MIN_WORDS`]). Sorted (binary search).
const ROMANISED_HINDI: &[&str] = &[
    "aaj", "aap", "abhi", "accha", "acha", "achha", "apka", "apke", "apki", "aur", "bahut", "bhai", "bhi", "bht",
    "bilkul", "bohot", "dekho", "diya", "gayi", "hai", "hain", "hamara", "hoga", "hogi", "hota", "hote", "hoti",
    "humara", "inka", "iska", "jaise", "ji", "ka", "kaha", "kahan", "kaisa", "kaise", "kaisi", "karna", "karo",
    "karta", "karte", "ko", "koi", "kr", "kuch", "kya", "kyon", "kyu", "kyun", "kyunki", "lekin", "liya", "matlab",
    "mein", "mera", "meri", "mujhe", "nahi", "nahin", "nhi", "pyar", "raha", "rahe", "rahi", "sabse", "sahi", "sirf",
    "tera", "tere", "teri", "tha", "thi", "thoda", "tum", "tumhara", "tumhe", "unka", "uska", "waise", "wala", "wale",
    "wali", "woh", "yaar", "ye", "yeh", "zyada",
];

/// Latin-script text with at least this many distinct [`ROMANISED_HINDI`] words is Hindi. Chosen
/// on training tweets (`examples/hinglish_rule.rs`): two words catch 38 % of the XLM-T Hindi
/// training tweets (many of them are English) and 0–0.11 % of the TweetEval and XLM-T English,
/// German, Spanish, French, Italian, Portuguese and Arabic ones; one word would catch 57 %, but
/// also 1.1 % of the German and Italian tweets.
pub const ROMANISED_HINDI_MIN_WORDS: usize = 2;

/// How many distinct [`ROMANISED_HINDI`] words `clean` (stripped text) has.
pub fn romanised_hindi_words(clean: &str) -> usize {
    let mut seen = 0u128;
    let mut lower = [0u8; 8];
    for w in clean.split(' ') {
        let b = w.as_bytes();
        if b.len() < 2 || b.len() > lower.len() || !b.iter().all(u8::is_ascii_alphabetic) {
            continue;
        }
        for (l, c) in lower.iter_mut().zip(b) {
            *l = c.to_ascii_lowercase();
        }
        let word = &lower[..b.len()];
        if let Ok(i) = ROMANISED_HINDI.binary_search_by(|x| x.as_bytes().cmp(word)) {
            seen |= 1 << i;
        }
    }
    seen.count_ones() as usize
}

struct Group {
    script: Script,
    languages: Vec<Language>,
    detector: Option<LanguageDetector>,
}

/// See [`LanguageId::fst_candidates`].
pub const FST_CANDIDATES: usize = 6;
/// See [`LanguageId::fst_prune`].
pub const FST_PRUNE: f32 = f32::INFINITY;

pub struct LanguageId {
    groups: Vec<Group>,
    /// Below this top confidence the answer is `unknown`.
    pub min_confidence: f32,
    /// Fewer letters than this (after stripping) gives `unknown`.
    pub min_letters: usize,
    /// Only this many characters of the stripped text go to the statistical detector.
    pub max_chars: usize,
    /// The distilled fast pass for Latin-script text, and for each Latin-group language its
    /// column in that table.
    fast: Option<(crate::fastlang::FastLang, Vec<(Language, usize)>)>,
    /// Per-position log-probability margin between the two best languages above which the
    /// fast pass answers alone (otherwise lingua decides).
    pub fast_margin: f32,
    /// Weight of the distilled table when lingua decides (see `blend_fast`).
    pub fast_weight: f32,
    /// lingua's models scored directly (see [`crate::fastlang::NgramScorer`]) when the table is
    /// not sure, with each Latin-group language's index in it.
    fst: Option<(std::sync::Arc<crate::fastlang::NgramScorer>, Vec<usize>)>,
    /// How many of the table's best languages the direct scorer compares.
    pub fst_candidates: usize,
    /// Of those, only languages whose table score per character is within this of the best
    /// one (at least two): a language the table already puts far behind cannot win the blend,
    /// and each one scored costs a walk through its FST per position.
    pub fst_prune: f32,
}

fn truncate_letters(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LangError {
    #[error("language {0:?} is not an ISO 639-1 code this build supports (built-in: {1})")]
    Unsupported(String, String),
    #[error("no languages configured")]
    Empty,
}

/// The languages this build carries models for.
pub const SUPPORTED: &[&str] =
    &["ar", "de", "en", "es", "fr", "hi", "id", "it", "ja", "ko", "pt", "ru", "th", "tr", "vi", "zh"];

fn iso_str(l: Language) -> &'static str {
    let code = l.iso_code_639_1().to_string();
    SUPPORTED.iter().copied().find(|s| *s == code).unwrap_or(UNKNOWN)
}

impl LanguageId {
    /// `codes`: ISO 639-1 codes of the languages a brand expects (a subset of [`SUPPORTED`]).
    pub fn new(codes: &[&str]) -> Result<LanguageId, LangError> {
        LanguageId::with_table(codes, crate::fastlang::FastLang::from_bytes(crate::models::LANG_LATIN).ok())
    }

    /// As [`new`](Self::new) with another distilled table (experiments, tests).
    pub fn with_table(codes: &[&str], table: Option<crate::fastlang::FastLang>) -> Result<LanguageId, LangError> {
        if codes.is_empty() {
            return Err(LangError::Empty);
        }
        let mut langs = Vec::new();
        for c in codes {
            let iso = IsoCode639_1::from_str(c)
                .ok()
                .filter(|_| SUPPORTED.contains(c))
                .ok_or_else(|| LangError::Unsupported((*c).to_owned(), SUPPORTED.join(",")))?;
            let l = Language::from_iso_code_639_1(&iso);
            if !langs.contains(&l) {
                langs.push(l);
            }
        }
        let mut groups: Vec<Group> = Vec::new();
        for l in langs {
            let s = script_of_language(l);
            match groups.iter_mut().find(|g| g.script == s) {
                Some(g) => g.languages.push(l),
                None => groups.push(Group { script: s, languages: vec![l], detector: None }),
            }
        }
        // Han text may be Japanese written without kana: Chinese and Japanese share one group.
        if let (Some(ja), Some(zh)) =
            (groups.iter().position(|g| g.script == Script::Kana), groups.iter().position(|g| g.script == Script::Han))
        {
            groups[zh].languages.push(Language::Japanese);
            let _ = ja;
        }
        for g in &mut groups {
            if g.languages.len() > 1 {
                let mut b = LanguageDetectorBuilder::from_languages(&g.languages);
                b.with_preloaded_language_models();
                if std::env::var_os("SB_LINGUA_LOW").is_some() {
                    b.with_low_accuracy_mode();
                }
                g.detector = Some(b.build());
            }
        }
        let fast = table.and_then(|f| {
            let latin = groups.iter().find(|g| g.script == Script::Latin)?;
            let cols: Option<Vec<(Language, usize)>> = latin
                .languages
                .iter()
                .map(|l| {
                    let code = iso_str(*l);
                    f.codes.iter().position(|c| c == code).map(|i| (*l, i))
                })
                .collect();
            cols.map(|c| (f, c))
        });
        let fst = groups.iter().find(|g| g.script == Script::Latin).and_then(|latin| {
            let scorer = crate::fastlang::NgramScorer::shared()?;
            let cols: Option<Vec<usize>> =
                latin.languages.iter().map(|l| scorer.codes.iter().position(|c| *c == iso_str(*l))).collect();
            cols.map(|c| (scorer, c))
        });
        Ok(LanguageId {
            groups,
            min_confidence: 0.0,
            min_letters: 2,
            max_chars: 120,
            fast,
            fast_margin: FAST_MARGIN,
            fast_weight: FAST_WEIGHT,
            fst,
            fst_candidates: FST_CANDIDATES,
            fst_prune: FST_PRUNE,
        })
    }

    pub fn all() -> LanguageId {
        #[allow(clippy::expect_used)]
        LanguageId::new(SUPPORTED).expect("the supported list is valid")
    }

    fn has(&self, l: Language) -> bool {
        self.groups.iter().any(|g| g.languages.contains(&l))
    }

    /// Mixes the distilled table's posterior into lingua's confidences:
    /// `(1 - w) · lingua + w · table`, re-sorted.
    fn blend_fast(&self, clean: &str, values: &mut [(Language, f64)]) {
        let Some((fast, cols)) = &self.fast else { return };
        let mut all = [0f32; 16];
        let positions = fast.scores(truncate_letters(clean, self.max_chars), &mut all[..fast.codes.len()]);
        if positions == 0 {
            return;
        }
        let mut post: Vec<(Language, f32)> =
            cols.iter().map(|&(l, i)| (l, all[i] / positions as f32 * FAST_SHARPNESS)).collect();
        let m = post.iter().map(|p| p.1).fold(f32::MIN, f32::max);
        let sum: f32 = post.iter().map(|p| (p.1 - m).exp()).sum();
        for p in &mut post {
            p.1 = (p.1 - m).exp() / sum;
        }
        let w = f64::from(self.fast_weight);
        for v in values.iter_mut() {
            let f = post.iter().find(|p| p.0 == v.0).map_or(0.0, |p| f64::from(p.1));
            v.1 = (1.0 - w) * v.1 + w * f;
        }
        values.sort_by(|a, b| b.1.total_cmp(&a.1));
    }

    /// Overrides the fast pass's penalty for unseen n-grams (experiments).
    pub fn set_fast_unseen(&mut self, v: f32) {
        if let Some((f, _)) = &mut self.fast {
            f.unseen = v;
        }
    }

    pub fn detect(&self, text: &str) -> LanguageGuess {
        self.detect_traced(text).0
    }

    /// As [`detect`](Self::detect), also saying which stage of the cascade answered.
    pub fn detect_traced(&self, text: &str) -> (LanguageGuess, Stage) {
        let unknown = (LanguageGuess { code: UNKNOWN, confidence: 0.0 }, Stage::Rules);
        let clean = crate::text::strip_for_language(text);
        let mut counts = [0usize; 11];
        let mut raw = [0usize; 11];
        let mut letters = 0usize;
        for c in clean.chars() {
            if c.is_alphabetic() {
                letters += 1;
                let s = script_of(c);
                raw[s as usize] += 1;
                // Han and kana carry a word's worth of meaning per character.
                let w = if matches!(s, Script::Han | Script::Kana | Script::Hangul) { 3 } else { 1 };
                counts[s as usize] += w;
            }
        }
        let latin_letters = counts[Script::Latin as usize];
        if letters < self.min_letters && (latin_letters > 0 || letters == 0) {
            return unknown;
        }
        // Letters only Vietnamese uses (ơ ư đ and the stacked-diacritic block).
        if latin_letters > 0 && self.has(Language::Vietnamese) {
            let vi = clean
                .chars()
                .filter(|&c| matches!(c as u32, 0x1A0 | 0x1A1 | 0x1AF | 0x1B0 | 0x110 | 0x111 | 0x1EA0..=0x1EF9))
                .count();
            if vi > 0 && vi * 3 >= counts[Script::Latin as usize].min(30) / 10 {
                return (LanguageGuess { code: "vi", confidence: 0.9 }, Stage::Rules);
            }
        }
        let total: usize = counts.iter().sum();
        // Any kana means Japanese (Chinese never uses it), if Japanese is configured.
        let mut script = if counts[Script::Kana as usize] > 0 && self.groups.iter().any(|g| g.script == Script::Kana) {
            Script::Kana
        } else {
            let (mut best, mut best_n) = (Script::Other, 0);
            for s in [
                Script::Latin,
                Script::Cyrillic,
                Script::Arabic,
                Script::Devanagari,
                Script::Thai,
                Script::Hangul,
                Script::Kana,
                Script::Han,
                Script::Greek,
                Script::Hebrew,
                Script::Other,
            ] {
                if counts[s as usize] > best_n {
                    best = s;
                    best_n = counts[s as usize];
                }
            }
            best
        };
        // Social posts in other scripts often carry Latin brand names ("Twitter पर साझा",
        // "pipe를"): a configured non-Latin script with a couple of letters wins over Latin.
        if script == Script::Latin {
            for s in [Script::Hangul, Script::Thai, Script::Devanagari, Script::Arabic, Script::Cyrillic, Script::Han] {
                let need = if s == Script::Hangul { 1 } else { 2 };
                if raw[s as usize] >= need && self.groups.iter().any(|g| g.script == s) {
                    script = s;
                    break;
                }
            }
        }
        if script == Script::Kana && !self.groups.iter().any(|g| g.script == Script::Kana) {
            script = Script::Han;
        }
        let purity = counts[script as usize].max(if script == Script::Kana {
            counts[Script::Kana as usize] + counts[Script::Han as usize]
        } else {
            0
        }) as f32
            / total.max(1) as f32;
        let Some(group) = self.groups.iter().find(|g| g.script == script) else { return unknown };
        // Han without kana is Chinese: lingua's own rules give every Han-only word to Chinese
        // when both are configured, so asking it would only cost time.
        if script == Script::Han && group.languages.contains(&Language::Chinese) {
            return (LanguageGuess { code: "zh", confidence: purity.min(1.0) }, Stage::Rules);
        }
        // Hindi written in Latin letters, before the n-gram models (which know no romanised
        // Hindi and call it English or Indonesian).
        if script == Script::Latin
            && self.has(Language::Hindi)
            && romanised_hindi_words(&clean) >= ROMANISED_HINDI_MIN_WORDS
        {
            return (LanguageGuess { code: "hi", confidence: 0.9 * purity.min(1.0) }, Stage::Rules);
        }
        let text = truncate_letters(&clean, self.max_chars);
        if script == Script::Latin
            && let Some((fast, cols)) = &self.fast
        {
            let mut all = [0f32; 16];
            let positions = fast.scores(text, &mut all[..fast.codes.len()]);
            let norm = positions as f32;
            if positions > 0 {
                // Column of each group language, best first.
                let mut ranked: Vec<(usize, f32)> = cols.iter().enumerate().map(|(g, &(_, i))| (g, all[i])).collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                let best = ranked[0];
                let second = ranked.get(1).map_or(f32::MIN, |r| r.1);
                let margin = (best.1 - second) / norm;
                if margin >= self.fast_margin || cols.len() == 1 {
                    let conf = (0.5 + margin).min(1.0) * purity.min(1.0);
                    return (LanguageGuess { code: iso_str(cols[best.0].0), confidence: conf }, Stage::Table);
                }
                if let Some((scorer, fcols)) = &self.fst {
                    let cand: Vec<usize> = ranked
                        .iter()
                        .take(self.fst_candidates.max(2))
                        .enumerate()
                        .filter(|(j, r)| *j < 2 || (best.1 - r.1) / norm <= self.fst_prune)
                        .map(|(_, r)| r.0)
                        .collect();
                    let langs: Vec<usize> = cand.iter().map(|&g| fcols[g]).collect();
                    let mut sc = [0f32; 16];
                    scorer.scores(text, &langs, &mut sc[..langs.len()]);
                    // lingua's confidences over the candidates, blended with the table's.
                    let m = sc[..langs.len()].iter().copied().fold(f32::MIN, f32::max);
                    let z: f32 = sc[..langs.len()].iter().map(|v| (v - m).exp()).sum();
                    let tm = ranked[0].1;
                    let tz: f32 = cand.iter().map(|&g| ((all[cols[g].1] - tm) / norm * FAST_SHARPNESS).exp()).sum();
                    let w = self.fast_weight;
                    let (mut bi, mut bp) = (0, f32::MIN);
                    for (j, &g) in cand.iter().enumerate() {
                        let p = (1.0 - w) * (sc[j] - m).exp() / z
                            + w * ((all[cols[g].1] - tm) / norm * FAST_SHARPNESS).exp() / tz;
                        if p > bp {
                            (bi, bp) = (g, p);
                        }
                    }
                    let conf = bp * purity.min(1.0);
                    let code = if conf < self.min_confidence { UNKNOWN } else { iso_str(cols[bi].0) };
                    return (LanguageGuess { code, confidence: conf }, Stage::Lingua);
                }
            }
        }
        let mut stage = Stage::Rules;
        let (lang, conf) = match &group.detector {
            None => (group.languages[0], purity.min(1.0)),
            Some(det) => {
                stage = Stage::Lingua;
                let mut values = det.compute_language_confidence_values(text);
                if script == Script::Latin && self.fast_weight > 0.0 {
                    self.blend_fast(&clean, &mut values);
                }
                match values.first() {
                    Some(&(l, c)) => (l, c as f32 * purity.min(1.0)),
                    None => return unknown,
                }
            }
        };
        if conf < self.min_confidence {
            return (LanguageGuess { code: UNKNOWN, confidence: conf }, stage);
        }
        (LanguageGuess { code: iso_str(lang), confidence: conf }, stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn romanised_hindi_needs_two_distinct_hindi_words() {
        assert!(ROMANISED_HINDI.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert!(ROMANISED_HINDI.len() <= 128, "one bit each");
        let id = LanguageId::all();
        for t in
            ["yaar ye phone kaam nahi kar raha", "Kya baat hai bhai, maza aa gaya", "@amazon mera order kahan hai??"]
        {
            assert_eq!(id.detect_traced(t).0.code, "hi", "{t}");
        }
        // One Hindi-looking word is not enough: Italian "hai", German "mein", English "ye".
        for (t, want) in [
            ("non hai capito niente di questa storia", "it"),
            ("mein Paket ist immer noch nicht angekommen", "de"),
            ("hear ye, the parcel never arrived", "en"),
        ] {
            assert_eq!(id.detect(t).code, want, "{t}");
        }
        // Without Hindi configured the rule is off.
        let no_hi = LanguageId::new(&["en", "de", "it"]).ok();
        assert_eq!(no_hi.map(|l| l.detect("yaar ye phone kaam nahi kar raha").code), Some("en"));
    }
}
