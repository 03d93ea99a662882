//! A PII guard for public replies: refuses a public post that contains an email address, a phone
//! number, a payment card number (Luhn-valid) or an order / case / ticket reference, unless the
//! agent overrides it.
//!
//! E-mail, phone, card, IBAN and identity-document findings come from the workspace's PII
//! detector (`switchboard_nlp::pii`, phone numbers validated with libphonenumber metadata); this
//! module adds references to private matters and keeps its own small e-mail/phone/card scan as a
//! second opinion for what the detector leaves out (national phone formats without a region).

/// Something private found in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiFinding {
    /// `email`, `phone`, `card`, `iban`, `id_document` or `reference`.
    pub kind: &'static str,
    /// The match with all but its last characters masked (safe to show and log).
    pub masked: String,
}

fn mask(s: &str) -> String {
    let n = s.chars().count();
    s.chars().enumerate().map(|(i, c)| if i + 2 < n && !matches!(c, '@' | '.' | ' ' | '-') { '•' } else { c }).collect()
}

/// Everything private found in `text`: the workspace detector's findings first, then what this
/// module's scan finds in the rest, then references.
pub fn scan(text: &str) -> Vec<PiiFinding> {
    let spans = switchboard_nlp::pii::detect(text, None);
    let mut out: Vec<PiiFinding> = spans
        .iter()
        .filter_map(|s| text.get(s.start..s.end).map(|found| PiiFinding { kind: s.kind.as_str(), masked: mask(found) }))
        .collect();
    // The second opinion only sees what the detector did not claim.
    let rest = switchboard_nlp::pii::redact_spans(text, &spans);
    emails(&rest, &mut out);
    numbers(&rest, &mut out);
    references(text, &mut out);
    out
}

/// Words that introduce a reference to a private matter.
const REFERENCE_WORDS: &[&str] =
    &["order", "case", "ticket", "tracking", "invoice", "account", "订单", "单号", "工单", "注文番号", "pedido"];

/// An order / case / ticket reference (a keyword, then within a few characters a token with at
/// least 4 digits), and Switchboard case numbers (`SB-000123`).
fn references(text: &str, out: &mut Vec<PiiFinding>) {
    let lower = text.to_lowercase();
    for (pos, _) in lower.match_indices("sb-") {
        let digits: String = lower[pos + 3..].chars().take_while(char::is_ascii_digit).collect();
        if digits.len() >= 6 {
            // Sliced from the lower-cased copy: its byte offsets are not the original's.
            out.push(PiiFinding { kind: "reference", masked: mask(&format!("SB-{digits}")) });
        }
    }
    for word in REFERENCE_WORDS {
        for (pos, _) in lower.match_indices(word) {
            let after = &lower[pos + word.len()..];
            // Skip up to 12 characters of "number", "#", "no.", ":" and spaces.
            let mut rest = after;
            for _ in 0..12 {
                let Some(c) = rest.chars().next() else { break };
                if c.is_ascii_digit() {
                    break;
                }
                rest = &rest[c.len_utf8()..];
            }
            let token: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            let skipped = &after[..after.len() - rest.len()];
            let plausible =
                skipped.chars().all(|c| !c.is_alphabetic() || c.is_ascii_alphabetic()) && skipped.len() <= 12;
            if plausible && token.chars().filter(char::is_ascii_digit).count() >= 4 {
                out.push(PiiFinding { kind: "reference", masked: mask(&token) });
            }
        }
    }
}

fn is_local(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-')
}

fn emails(text: &str, out: &mut Vec<PiiFinding>) {
    for (at, _) in text.match_indices('@') {
        let before = &text[..at];
        let local_start = before.char_indices().rev().take_while(|(_, c)| is_local(*c)).last().map(|(i, _)| i);
        let Some(local_start) = local_start else { continue };
        let local = &before[local_start..];
        let after = &text[at + 1..];
        let domain_end = after.char_indices().find(|(_, c)| !is_domain(*c)).map(|(i, _)| i).unwrap_or(after.len());
        let domain = after[..domain_end].trim_end_matches(['.', '-']);
        let Some((host, tld)) = domain.rsplit_once('.') else { continue };
        if local.trim_matches('.').is_empty()
            || host.is_empty()
            || tld.chars().count() < 2
            || !tld.chars().all(char::is_alphabetic)
        {
            continue;
        }
        out.push(PiiFinding { kind: "email", masked: mask(&format!("{local}@{domain}")) });
    }
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

fn is_date_prefix(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && matches!(b[4], b'-' | b'.' | b'/')
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b[4]
        && b[8..10].iter().all(u8::is_ascii_digit)
}

fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')')
}

/// Whether a digit follows the separators starting at `j` (at most two, e.g. `) `).
fn digit_after_seps(chars: &[(usize, char)], j: usize) -> bool {
    chars[j..].iter().take(3).find(|(_, c)| !is_sep(*c)).is_some_and(|(_, c)| c.is_ascii_digit())
        && chars[j..].iter().take_while(|(_, c)| is_sep(*c)).count() <= 2
}

/// Runs of digits joined by spaces, dashes, dots or parentheses (an optional leading `+`).
fn numbers(text: &str, out: &mut Vec<PiiFinding>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let plus = c == '+' && chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit());
        let prev_word = i > 0 && chars[i - 1].1.is_alphanumeric();
        if !(c.is_ascii_digit() || plus || c == '(') || prev_word {
            i += 1;
            continue;
        }
        let mut j = i + usize::from(plus);
        let mut digits = Vec::new();
        let mut end = start;
        while j < chars.len() {
            let (pos, d) = chars[j];
            if let Some(v) = d.to_digit(10).filter(|_| d.is_ascii_digit()) {
                digits.push(v);
                end = pos + 1;
            } else if !(is_sep(d) && digit_after_seps(&chars, j)) {
                break;
            }
            j += 1;
        }
        let followed_by_word = chars.get(j).is_some_and(|(_, n)| n.is_alphabetic());
        let found = &text[start..end.max(start)];
        // A date (2026-11-25, 2026.11.25), maybe followed by an hour, is not a phone number.
        if is_date_prefix(found) {
            i = chars.iter().position(|(p, _)| *p >= start + 10).unwrap_or(chars.len());
            continue;
        }
        if !followed_by_word {
            if (13..=19).contains(&digits.len()) && luhn(&digits) {
                out.push(PiiFinding { kind: "card", masked: mask(found) });
            } else if (10..=15).contains(&digits.len()) || (plus && (8..=15).contains(&digits.len())) {
                out.push(PiiFinding { kind: "phone", masked: mask(found) });
            }
        }
        i = j.max(i + 1);
    }
}

/// A one-line reason for refusing a public reply.
pub fn describe(findings: &[PiiFinding]) -> String {
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind).collect();
    format!(
        "this public reply contains private data ({}); send it as a DM, remove it, or override the PII guard",
        kinds.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(t: &str) -> Vec<&'static str> {
        scan(t).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn finds_private_data_and_leaves_ordinary_replies_alone() {
        assert_eq!(kinds("write to jane.doe@example.com please"), ["email"]);
        assert_eq!(kinds("call +1 415 555 0100 now"), ["phone"]);
        assert_eq!(kinds("call (415) 555-0100"), ["phone"]);
        assert_eq!(kinds("我的电话 13812345678"), ["phone"]);
        assert_eq!(kinds("card 4111 1111 1111 1111 ok"), ["card"]);
        assert_eq!(kinds("card 4111-1111-1111-1111"), ["card"]);
        assert_eq!(kinds("@furiouscamper sorry about order #4471, DM us!"), ["reference"]);
        assert_eq!(kinds("your case SB-000123 is escalated"), ["reference", "reference"]);
        assert_eq!(kinds("您的订单号 20261125 已发货"), ["reference"]);
        assert!(kinds("sorry about your order, please DM us").is_empty());
        assert!(kinds("we have 2000 stores").is_empty());
        assert!(kinds("hi@TwitterDev thanks").is_empty());
        assert!(kinds("shipped on 2026-11-25 at 10:30").is_empty());
        assert!(kinds("shipped 2026-11-25 10:30, arrives 2026/11/28 18").is_empty());
        assert_eq!(kinds("on 2026-11-25 call 415 555 0100"), ["phone"]);
        assert!(kinds("version 1.2.3 and 50% off").is_empty());
        // 16 digits failing Luhn is not a card (and too long for a phone).
        assert!(kinds("number 4111 1111 1111 1112").is_empty());
        assert_eq!(kinds("tracking 4111 1111 1111 1112"), ["reference"]);
        // Lower-casing changes byte lengths here; no panic, still found.
        assert_eq!(kinds("İİİ case SB-000123"), ["reference", "reference"]);
        assert_eq!(scan("mail a@bc.io")[0].masked, "•@••.io");
        // From the workspace detector: an IBAN.
        assert_eq!(kinds("IBAN GB82 WEST 1234 5698 7654 32"), ["iban"]);
    }
}
