//! Personal data in free text: e-mail addresses, phone numbers (validated with the
//! libphonenumber metadata of the `phonenumber` crate), payment card numbers (Luhn), IBANs
//! (ISO 13616 mod-97) and identity-document patterns (US SSN, UK National Insurance number,
//! Chinese resident ID with its ISO 7064 check digit, passport numbers after the word
//! "passport"/"护照"). The channels' public-reply guard and the triage step use the same
//! [`detect`] / [`redact`].

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    Card,
    Iban,
    IdDocument,
}

impl PiiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Card => "card",
            PiiKind::Iban => "iban",
            PiiKind::IdDocument => "id_document",
        }
    }
    fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Card => "[CARD]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::IdDocument => "[ID]",
        }
    }
}

/// One finding: byte range in the input and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PiiSpan {
    pub start: usize,
    pub end: usize,
    pub kind: PiiKind,
}

/// Luhn checksum over the ASCII digits of `digits` (other characters ignored).
pub fn luhn_valid(digits: &str) -> bool {
    let ds: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if ds.len() < 2 {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN check: country letters, two check digits, 11–30 alphanumerics, mod-97 == 1. Spaces are
/// ignored; letters may be either case.
pub fn iban_valid(s: &str) -> bool {
    let c: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    if c.len() < 15 || c.len() > 34 {
        return false;
    }
    if !(c[0].is_ascii_uppercase() && c[1].is_ascii_uppercase() && c[2].is_ascii_digit() && c[3].is_ascii_digit()) {
        return false;
    }
    if !c.iter().all(|ch| ch.is_ascii_alphanumeric()) {
        return false;
    }
    let mut rem: u32 = 0;
    for &ch in c[4..].iter().chain(&c[..4]) {
        let v = if ch.is_ascii_digit() { ch as u32 - '0' as u32 } else { ch as u32 - 'A' as u32 + 10 };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// Chinese resident identity number (18 characters, ISO 7064 MOD 11-2 check character).
pub fn cn_id_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17].iter().zip(W).map(|(&d, w)| u32::from(d - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    b[17].to_ascii_uppercase() == check
}

fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}
fn is_email_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

fn emails(text: &str, out: &mut Vec<PiiSpan>) {
    let b = text.as_bytes();
    for (at, _) in text.match_indices('@') {
        let mut s = at;
        while s > 0 && is_email_local(b[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < b.len() && is_email_domain(b[e]) {
            e += 1;
        }
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        let domain = &text[at + 1..e];
        let tld_ok = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
        });
        if s < at && tld_ok {
            out.push(PiiSpan { start: s, end: e, kind: PiiKind::Email });
        }
    }
}

/// Runs of digits joined by single spaces, dashes, dots, slashes or parentheses (and a leading
/// `+`): candidates for cards, phone numbers and ID numbers.
fn digit_runs(text: &str) -> Vec<(usize, usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit()
            || (b[i] == b'+' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
            || b[i] == b'(' && b.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            if i > 0 && (b[i - 1].is_ascii_alphanumeric()) {
                // Part of a word such as "A1234"; skip the word.
                i += 1;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                continue;
            }
            let start = i;
            let mut end = i;
            let mut digits = 0;
            let mut j = i;
            while j < b.len() {
                let c = b[j];
                if c.is_ascii_digit() {
                    digits += 1;
                    j += 1;
                    end = j;
                } else if matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'/') || (c == b'+' && j == start) {
                    // A separator only counts when a digit follows soon.
                    let next_digit = b[j + 1..].iter().take(2).any(u8::is_ascii_digit);
                    if !next_digit {
                        break;
                    }
                    j += 1;
                } else {
                    break;
                }
            }
            let trailing_alpha = b.get(end).is_some_and(|c| c.is_ascii_alphabetic());
            if digits > 0 && !trailing_alpha {
                out.push((start, end, digits));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn cards_phones_ids(text: &str, region: Option<phonenumber::country::Id>, out: &mut Vec<PiiSpan>) {
    for (s, e, digits) in digit_runs(text) {
        let span = &text[s..e];
        let compact: String = span.chars().filter(char::is_ascii_digit).collect();
        if (13..=19).contains(&digits) && !span.starts_with('+') && luhn_valid(&compact) {
            out.push(PiiSpan { start: s, end: e, kind: PiiKind::Card });
            continue;
        }
        // US SSN: 3-2-4 with dashes.
        let parts: Vec<&str> = span.split('-').collect();
        if parts.len() == 3
            && parts[0].len() == 3
            && parts[1].len() == 2
            && parts[2].len() == 4
            && digits == 9
            && parts[0] != "000"
            && parts[0] != "666"
            && !parts[0].starts_with('9')
        {
            out.push(PiiSpan { start: s, end: e, kind: PiiKind::IdDocument });
            continue;
        }
        if (7..=15).contains(&digits) && looks_like_phone(span, region) {
            out.push(PiiSpan { start: s, end: e, kind: PiiKind::Phone });
        }
    }
}

fn looks_like_phone(span: &str, region: Option<phonenumber::country::Id>) -> bool {
    let trimmed = span.trim_end_matches([')', '.', '-', ' ']);
    if trimmed.starts_with('+') {
        return phonenumber::parse(None, trimmed).is_ok_and(|n| phonenumber::is_valid(&n));
    }
    match region {
        Some(r) => phonenumber::parse(Some(r), trimmed).is_ok_and(|n| phonenumber::is_valid(&n)),
        None => false,
    }
}

fn ibans_and_words(text: &str, out: &mut Vec<PiiSpan>) {
    let b = text.as_bytes();
    // IBAN: starts at a word boundary with two letters and two digits; groups of up to four
    // alphanumerics may be separated by single spaces.
    let mut i = 0;
    while i + 4 <= b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if boundary
            && b[i].is_ascii_alphabetic()
            && b[i + 1].is_ascii_alphabetic()
            && b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit()
        {
            let mut j = i;
            let mut n = 0;
            let mut best = None;
            while j < b.len() && n < 34 {
                if b[j].is_ascii_alphanumeric() {
                    n += 1;
                    j += 1;
                    let at_end = j == b.len() || !b[j].is_ascii_alphanumeric();
                    if at_end && n >= 15 && iban_valid(&text[i..j]) {
                        best = Some(j);
                    }
                } else if b[j] == b' ' && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) {
                    j += 1;
                } else {
                    break;
                }
            }
            if let Some(e) = best {
                out.push(PiiSpan { start: i, end: e, kind: PiiKind::Iban });
                i = e;
                continue;
            }
        }
        i += 1;
    }
    // Whole words: Chinese resident IDs, UK National Insurance numbers, passport numbers after
    // the word passport.
    let mut prev_passport = false;
    let mut pos = 0;
    for w in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '：' | '，')) {
        let start = pos;
        pos += w.len() + 1;
        let w = w.trim_end_matches(['.', '!', '?', '。']);
        if w.is_empty() {
            continue;
        }
        let wb = w.as_bytes();
        let uk_nino = wb.len() == 9
            && wb[..2].iter().all(u8::is_ascii_uppercase)
            && wb[2..8].iter().all(u8::is_ascii_digit)
            && matches!(wb[8], b'A'..=b'D')
            && !matches!(wb[0], b'D' | b'F' | b'I' | b'Q' | b'U' | b'V');
        let passport = prev_passport
            && (6..=9).contains(&wb.len())
            && wb.iter().all(u8::is_ascii_alphanumeric)
            && wb.iter().filter(|c| c.is_ascii_digit()).count() >= 5;
        let kind = cn_id_valid(w) || uk_nino || passport;
        if kind {
            out.push(PiiSpan { start, end: start + w.len(), kind: PiiKind::IdDocument });
        }
        let lw = w.to_lowercase();
        prev_passport = lw.contains("passport")
            || lw.contains("护照")
            || lw.contains("pasaporte")
            || lw.contains("reisepass")
            || lw == "no" && prev_passport;
    }
}

/// Every finding, sorted by position, overlaps resolved in favour of the earlier/longer span.
/// `region`: ISO 3166 region used for phone numbers written without a `+` country code.
pub fn detect(text: &str, region: Option<&str>) -> Vec<PiiSpan> {
    let region = region.and_then(|r| r.parse::<phonenumber::country::Id>().ok());
    let mut out = Vec::new();
    if text.contains('@') {
        emails(text, &mut out);
    }
    if text.bytes().any(|c| c.is_ascii_digit()) {
        ibans_and_words(text, &mut out);
        cards_phones_ids(text, region, &mut out);
    }
    out.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut kept: Vec<PiiSpan> = Vec::with_capacity(out.len());
    for s in out {
        if kept.last().is_none_or(|k| s.start >= k.end) {
            kept.push(s);
        }
    }
    kept
}

/// The text with every finding replaced by a placeholder such as `[EMAIL]`.
pub fn redact_spans(text: &str, spans: &[PiiSpan]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for s in spans {
        if s.start < last || s.end > text.len() || !text.is_char_boundary(s.start) || !text.is_char_boundary(s.end) {
            continue;
        }
        out.push_str(&text[last..s.start]);
        out.push_str(s.kind.placeholder());
        last = s.end;
    }
    out.push_str(&text[last..]);
    out
}

pub fn redact(text: &str, region: Option<&str>) -> String {
    redact_spans(text, &detect(text, region))
}

/// The distinct kinds found, sorted.
pub fn kinds(spans: &[PiiSpan]) -> Vec<PiiKind> {
    let mut k: Vec<PiiKind> = spans.iter().map(|s| s.kind).collect();
    k.sort();
    k.dedup();
    k
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn kinds_of(t: &str) -> Vec<PiiKind> {
        kinds(&detect(t, Some("US")))
    }

    #[test]
    fn checksums() {
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("DE89370400440532013001"));
        assert!(cn_id_valid("11010519491231002X"));
        assert!(!cn_id_valid("110105194912310021"));
    }

    #[test]
    fn finds_and_redacts_each_kind() {
        let t = "mail me at jane.doe+x@example.co.uk or call +44 20 7946 0958, card 4111-1111-1111-1111";
        assert_eq!(redact(t, Some("US")), "mail me at [EMAIL] or call [PHONE], card [CARD]");
        assert_eq!(kinds_of("IBAN DE89 3704 0044 0532 0130 00 please"), [PiiKind::Iban]);
        assert_eq!(kinds_of("my ssn is 123-45-6789"), [PiiKind::IdDocument]);
        assert_eq!(kinds_of("身份证 11010519491231002X 被盗了"), [PiiKind::IdDocument]);
        assert_eq!(kinds_of("NI number QQ123456C? no: AB123456C"), [PiiKind::IdDocument]);
        assert_eq!(kinds_of("passport X12345678 lost"), [PiiKind::IdDocument]);
        assert_eq!(kinds_of("call (415) 555-2671 today"), [PiiKind::Phone]);
    }

    #[test]
    fn leaves_ordinary_numbers_alone() {
        assert!(kinds_of("order 12345 arrived on 2024-05-01, 3 items for $40.50").is_empty());
        assert!(kinds_of("card 4111 1111 1111 1112 is not a card").is_empty());
        assert!(kinds_of("@bob thanks! #help").is_empty());
        assert!(kinds_of("DE89370400440532013001").is_empty());
    }

    proptest! {
        #[test]
        fn never_panics_and_spans_are_sound(s in "\\PC{0,80}") {
            let spans = detect(&s, Some("GB"));
            for w in spans.windows(2) {
                prop_assert!(w[0].end <= w[1].start);
            }
            for sp in &spans {
                prop_assert!(s.is_char_boundary(sp.start) && s.is_char_boundary(sp.end));
            }
            let _ = redact_spans(&s, &spans);
        }

        #[test]
        fn digit_noise_never_panics(s in "[0-9 +()./A-Z@a-z-]{0,60}") {
            let _ = redact(&s, Some("US"));
        }

        #[test]
        fn luhn_detects_any_single_digit_change(body in proptest::collection::vec(0u32..10, 15), pos in 0usize..16, delta in 1u32..10) {
            // Make a valid 16-digit number, then change one digit: Luhn must reject it.
            let mut digits: Vec<u32> = body.clone();
            let partial: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
            let check = (0..10).find(|c| luhn_valid(&format!("{partial}{c}"))).unwrap();
            digits.push(check);
            let valid: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
            prop_assert!(luhn_valid(&valid));
            digits[pos] = (digits[pos] + delta) % 10;
            let changed: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
            prop_assert!(!luhn_valid(&changed));
        }

        #[test]
        fn iban_rejects_any_single_character_change(pos in 4usize..22, delta in 1u32..10) {
            let good = "DE89370400440532013000";
            prop_assert!(iban_valid(good));
            let mut c: Vec<char> = good.chars().collect();
            let d = c[pos].to_digit(10).unwrap();
            c[pos] = char::from_digit((d + delta) % 10, 10).unwrap();
            let bad: String = c.into_iter().collect();
            prop_assert!(!iban_valid(&bad));
        }
    }
}
