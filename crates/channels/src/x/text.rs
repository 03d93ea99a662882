//! X's weighted post length (twitter-text v3 rules): code points in the Latin, general
//! punctuation and similar ranges weigh 1; everything else (CJK, most other scripts) weighs 2; an
//! emoji — including a ZWJ sequence, skin tone, keycap or flag — weighs 2 as a whole; every URL
//! counts as 23 (its t.co length). The limit is 280.
//!
//! Not modelled: Unicode NFC normalisation before counting, and bare domains without `http(s)://`
//! or `www.` (twitter-text also links those).

/// The most a post may weigh.
pub const MAX_WEIGHTED_LENGTH: usize = 280;
/// What a URL weighs (its t.co form).
pub const URL_LENGTH: usize = 23;

/// Code point ranges that weigh 1 (twitter-text `config/v3.json`).
const LIGHT: &[(u32, u32)] = &[(0, 4351), (8192, 8205), (8208, 8223), (8242, 8247)];

fn is_light(c: char) -> bool {
    let u = c as u32;
    LIGHT.iter().any(|&(a, b)| (a..=b).contains(&u))
}

fn is_emoji_start(c: char) -> bool {
    let u = c as u32;
    (0x1F000..=0x1FAFF).contains(&u) || (0x2600..=0x27BF).contains(&u) || (0x2B00..=0x2BFF).contains(&u)
}

fn is_regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

fn is_modifier(c: char) -> bool {
    c == '\u{FE0F}'
        || c == '\u{FE0E}'
        || c == '\u{20E3}'
        || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
        || ('\u{E0020}'..='\u{E007F}').contains(&c)
}

/// Whether a word is a URL X would shorten.
fn is_url(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    (w.starts_with("http://") && w.len() > 7)
        || (w.starts_with("https://") && w.len() > 8)
        || (w.starts_with("www.") && w.len() > 5)
}

/// The weighted length of `text`.
pub fn weighted_length(text: &str) -> usize {
    let mut total = 0;
    let mut rest = text;
    while !rest.is_empty() {
        // Words are separated by whitespace; whitespace itself weighs 1 per character.
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        if is_url(word) {
            total += URL_LENGTH;
        } else {
            total += word_weight(word);
        }
        let ws_end = tail.find(|c: char| !c.is_whitespace()).unwrap_or(tail.len());
        let (ws, tail) = tail.split_at(ws_end);
        total += ws.chars().map(|c| if is_light(c) { 1 } else { 2 }).sum::<usize>();
        rest = tail;
    }
    total
}

fn word_weight(word: &str) -> usize {
    let mut total = 0;
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        let keycap = (c.is_ascii_digit() || c == '#' || c == '*')
            && chars.peek().is_some_and(|n| *n == '\u{FE0F}' || *n == '\u{20E3}');
        if is_emoji_start(c) || keycap {
            total += 2;
            if is_regional(c) && chars.peek().copied().is_some_and(is_regional) {
                chars.next();
            }
            // Absorb the rest of the sequence: modifiers and ZWJ-joined emoji.
            loop {
                match chars.peek().copied() {
                    Some(m) if is_modifier(m) => {
                        chars.next();
                    }
                    Some('\u{200D}') => {
                        chars.next();
                        chars.next();
                    }
                    _ => break,
                }
            }
        } else {
            total += if is_light(c) { 1 } else { 2 };
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_x() {
        assert_eq!(weighted_length("hello"), 5);
        assert_eq!(weighted_length("你好"), 4);
        assert_eq!(weighted_length("こんにちは"), 10);
        assert_eq!(weighted_length("café"), 4);
        assert_eq!(weighted_length("see https://example.com/a/very/long/path/that/is/long ok"), 4 + 23 + 3);
        assert_eq!(weighted_length("😀"), 2);
        assert_eq!(weighted_length("👍🏽"), 2);
        assert_eq!(weighted_length("👨‍👩‍👧‍👦"), 2);
        assert_eq!(weighted_length("🇯🇵"), 2);
        assert_eq!(weighted_length("❤️"), 2);
        assert_eq!(weighted_length("1️⃣"), 2);
        assert_eq!(weighted_length(&"a".repeat(280)), 280);
        assert_eq!(weighted_length(&"中".repeat(140)), 280);
        assert!(weighted_length(&"中".repeat(141)) > MAX_WEIGHTED_LENGTH);
    }
}
