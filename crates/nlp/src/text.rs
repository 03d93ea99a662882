//! Text clean-up shared by every model: social-media noise (handles, URLs, hashtags, emoji)
//! and character classes.

/// True for characters that are written without spaces between words (Han, kana, Thai…), so
/// each one is treated as a word of its own.
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF | 0x3040..=0x30FF | 0x3100..=0x312F | 0x31F0..=0x31FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x0E00..=0x0E7F | 0x0E80..=0x0EFF
        | 0x1000..=0x109F | 0x1780..=0x17FF)
}

/// Pictographs, dingbats, symbols and the joiners/selectors that glue emoji together.
pub fn is_emoji_like(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF | 0xFE00..=0xFE0F
        | 0x200D | 0x20E3 | 0xE0020..=0xE007F | 0x2190..=0x21FF | 0x25A0..=0x25FF)
}

/// The tokens of one text, kept in one string so tokenising allocates nothing in steady state.
#[derive(Debug, Default)]
pub struct Tokens {
    buf: String,
    spans: Vec<(u32, u32)>,
}

impl Tokens {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans.iter().map(|&(a, b)| &self.buf[a as usize..b as usize])
    }
    fn push_str(&mut self, s: &str) {
        let a = self.buf.len() as u32;
        self.buf.push_str(s);
        self.spans.push((a, self.buf.len() as u32));
    }
    fn push_char(&mut self, c: char) {
        let a = self.buf.len() as u32;
        self.buf.push(c);
        self.spans.push((a, self.buf.len() as u32));
    }
    /// Ends the word being built in `buf[start..]` (a hashtag also yields `#word`).
    fn flush(&mut self, start: &mut usize, hashtag: &mut bool) {
        let end = self.buf.len();
        if end > *start {
            if *hashtag {
                // `#word` then `word`: copy the word after a `#`, keep the original as the bare token.
                self.buf.push('#');
                self.buf.extend_from_within(*start..end);
                let tag_end = self.buf.len();
                self.spans.push((end as u32, tag_end as u32));
            }
            self.spans.push((*start as u32, end as u32));
        }
        *start = self.buf.len();
        *hashtag = false;
    }
}

/// Word-ish tokens of a social post, in order. Handles become `@user`, URLs become `http`,
/// hashtags keep their `#` and emit the bare word too, every emoji, `!` and `?` is a token, and
/// unspaced scripts yield one token per character. Letters are lower-cased; digits collapse to
/// `0`; runs of one letter longer than three are cut to three ("soooo" → "sooo").
pub fn tokenise(text: &str, out: &mut Tokens) {
    out.clear();
    let text = unescape_literal(text);
    for raw in text.split(|c: char| c.is_whitespace()) {
        if raw.is_empty() {
            continue;
        }
        let lower_raw = raw.trim_start_matches(['"', '\'', '(', '[']);
        if lower_raw.len() > 1 && lower_raw.starts_with('@') {
            out.push_str("@user");
            continue;
        }
        if is_url(lower_raw) {
            out.push_str("http");
            continue;
        }
        let mut start = out.buf.len();
        let mut run_char = '\0';
        let mut run_len = 0usize;
        let mut hashtag = false;
        for c in raw.chars() {
            if c == '#' && out.buf.len() == start {
                hashtag = true;
                continue;
            }
            if is_unspaced_script(c) {
                out.flush(&mut start, &mut hashtag);
                out.push_char(c);
                start = out.buf.len();
                continue;
            }
            let word_start = out.buf.len() == start;
            if c.is_alphanumeric() || (c == '\'' || c == '\u{2019}') && !word_start {
                let c = if c == '\u{2019}' { '\'' } else { c };
                let c = if c.is_numeric() { '0' } else { c };
                if c == run_char {
                    run_len += 1;
                } else {
                    run_char = c;
                    run_len = 1;
                }
                if run_len <= 3 {
                    if c.is_ascii() {
                        out.buf.push(c.to_ascii_lowercase());
                    } else {
                        out.buf.extend(c.to_lowercase());
                    }
                }
                continue;
            }
            run_char = '\0';
            run_len = 0;
            out.flush(&mut start, &mut hashtag);
            if c == '!' || c == '?' || is_emoji_like(c) && !matches!(c as u32, 0xFE00..=0xFE0F | 0x200D) {
                out.push_char(c);
                start = out.buf.len();
            }
        }
        out.flush(&mut start, &mut hashtag);
    }
}

/// [`tokenise`] into owned strings (tests and tools).
pub fn tokens(text: &str, out: &mut Vec<String>) {
    let mut t = Tokens::default();
    tokenise(text, &mut t);
    out.clear();
    out.extend(t.iter().map(str::to_owned));
}

fn is_url(s: &str) -> bool {
    let l = s.as_bytes();
    let starts = |p: &[u8]| l.len() >= p.len() && l[..p.len()].eq_ignore_ascii_case(p);
    starts(b"http://") || starts(b"https://") || starts(b"www.") || s.eq_ignore_ascii_case("http")
}

/// Some tweet corpora carry literal `\u2019`-style escapes; turn the common ones back into
/// characters so the text looks like what a channel delivers.
pub fn unescape_literal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("\\u") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("\\u") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let hex = after.get(..4).and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
        match hex {
            Some(c) => {
                out.push(c);
                rest = &after[4..];
            }
            None => {
                out.push_str("\\u");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The text with handles, URLs, hashtags, emoji, digits and punctuation removed: what a
/// language detector should look at. Whitespace is collapsed to single spaces.
pub fn strip_for_language(text: &str) -> String {
    let text = unescape_literal(text);
    let mut out = String::with_capacity(text.len());
    for raw in text.split_whitespace() {
        let w = raw.trim_start_matches(['"', '\'', '(', '[', '.']);
        if w.starts_with('@') || w.starts_with('#') || is_url(w) || w.eq_ignore_ascii_case("rt") {
            continue;
        }
        let start = out.len();
        for c in raw.chars() {
            if c.is_alphabetic() || c == '\'' || c == '-' || c == '\u{2019}' {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with(' ') && out.len() > start {
                out.push(' ');
            }
        }
        if out.len() > start && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_handle_social_noise() {
        let mut t = Vec::new();
        tokens("@Bob I LOOOOVE it!!! #happy http://x.y 😍 2024 don\u{2019}t", &mut t);
        assert_eq!(t, ["@user", "i", "looove", "it", "!", "!", "!", "#happy", "happy", "http", "😍", "000", "don't"]);
        tokens("我很喜欢", &mut t);
        assert_eq!(t, ["我", "很", "喜", "欢"]);
    }

    #[test]
    fn strip_removes_noise() {
        assert_eq!(strip_for_language("@bob hello #tag world http://a.b 😀 42!"), "hello world");
        assert_eq!(strip_for_language("😀😀 @x"), "");
        assert_eq!(unescape_literal("it\\u2019s"), "it\u{2019}s");
    }
}
