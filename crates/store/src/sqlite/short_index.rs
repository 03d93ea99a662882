//! The index of searches too short for a trigram (migration 18): each character and each pair of
//! adjacent characters of a message's text or a contact's name is one token of
//! `messages_grams` / `contacts_grams`, so a query of one or two characters is one token lookup.
//!
//! Characters are lower-cased (one-to-one mappings only, so that a pair stays a pair) as the
//! trigram tokenizer folds them; pairs holding white space are left out, as a trimmed query of
//! two characters never holds any. Each token is written as the hex of its UTF-8 bytes, which the
//! FTS5 `ascii` tokenizer keeps whole whatever the script or punctuation.

use std::fmt::Write as _;

use rusqlite::Connection;

/// Rows indexed per statement (one FTS5 segment each).
const CHUNK: usize = 500;

fn fold(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn push_token(out: &mut String, chars: &[char]) {
    if !out.is_empty() {
        out.push(' ');
    }
    let mut buf = [0u8; 4];
    for c in chars {
        for b in c.encode_utf8(&mut buf).as_bytes() {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// The space-separated tokens of `text`: every character and every pair without white space,
/// each once.
pub(crate) fn tokens(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(fold).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            continue;
        }
        if seen.insert(&chars[i..=i]) {
            push_token(&mut out, &chars[i..=i]);
        }
        if let Some(next) = chars.get(i + 1)
            && !next.is_whitespace()
            && seen.insert(&chars[i..i + 2])
        {
            push_token(&mut out, &chars[i..i + 2]);
        }
    }
    out
}

/// The FTS5 query for `text` of one or two characters: its one token, quoted.
pub(crate) fn query(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(fold).collect();
    let mut out = String::from("\"");
    push_token(&mut out, &chars);
    // `push_token` separates tokens with a space; a query is exactly one.
    out.retain(|c| c != ' ');
    out.push('"');
    out
}

/// A query of one or two characters, folded as the index folds them, to check a text for it
/// directly: true exactly when the text's tokens hold the query's token.
pub(crate) struct Needle(Vec<char>);

impl Needle {
    pub(crate) fn new(text: &str) -> Self {
        Self(text.chars().map(fold).collect())
    }

    /// `text`, folded, holds the query as adjacent characters.
    pub(crate) fn is_in(&self, text: &str) -> bool {
        let n = self.0.len();
        if n == 0 {
            return false;
        }
        let mut window: std::collections::VecDeque<char> = std::collections::VecDeque::with_capacity(n);
        for c in text.chars().map(fold) {
            if window.len() == n {
                window.pop_front();
            }
            window.push_back(c);
            if window.len() == n && window.iter().eq(self.0.iter()) {
                return true;
            }
        }
        false
    }
}

/// Indexes the rows noted in `fts_pending` (tbl 1 and 3: messages, 2 and 4: contacts) into the
/// short-search tables; the caller clears the list.
pub(crate) fn index_pending(conn: &Connection) -> rusqlite::Result<()> {
    for (table, source, column, tbls) in
        [("messages_grams", "messages", "text", "1, 3"), ("contacts_grams", "contacts", "name", "2, 4")]
    {
        let mut read = conn.prepare_cached(&format!(
            "SELECT rowid, {column} FROM {source} WHERE rowid IN (SELECT rid FROM fts_pending WHERE tbl IN ({tbls}))"
        ))?;
        let mut insert = conn.prepare_cached(&format!(
            "INSERT INTO {table} (rowid, grams) \
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)"
        ))?;
        let mut rows = read.query([])?;
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let row = rows.next()?;
            if let Some(r) = row {
                let text: Option<String> = r.get(1)?;
                chunk.push(serde_json::json!([r.get::<_, i64>(0)?, tokens(text.as_deref().unwrap_or(""))]));
            }
            if chunk.len() >= CHUNK || (row.is_none() && !chunk.is_empty()) {
                insert.execute([serde_json::Value::Array(std::mem::take(&mut chunk)).to_string()])?;
            }
            if row.is_none() {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_and_pair_once_lower_cased_without_white_space() {
        // l e (le) e (ee: "ee" once) …
        assert_eq!(tokens("Lee"), "6c 6c65 65 6565");
        assert_eq!(tokens("a b"), "61 62", "no pair across white space");
        assert_eq!(tokens("退款"), "e98080 e98080e6acbe e6acbe");
        assert_eq!(tokens(""), "");
        assert_eq!(query("Le"), "\"6c65\"");
        assert_eq!(query("退"), "\"e98080\"");
        assert!(tokens("Ünal").starts_with("c3bc c3bc6e"), "non-ASCII letters fold too");
    }

    #[test]
    fn a_needle_is_in_a_text_exactly_when_the_index_would_find_it() {
        let texts = ["Lee", "a b", "tab LE", "退款到账", "Ünal", "İstanbul", "ß straße", "", "e", "x\ty", "ab\u{301}"];
        let queries = [
            "e", "E", "le", "LE", "ee", "ab", "b", "退", "退款", "款到", "ün", "ÜN", "i", "İ", "ss", "ß", "xy",
            "b\u{301}",
        ];
        for text in texts {
            let tokens = tokens(text);
            for q in queries {
                let token = query(q);
                let indexed = tokens.split(' ').any(|t| format!("\"{t}\"") == token);
                assert_eq!(Needle::new(q).is_in(text), indexed, "{q:?} in {text:?}");
            }
        }
    }
}
