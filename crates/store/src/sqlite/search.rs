//! Inbox search and filters on SQLite: trigram full-text indexes (`messages_fts`,
//! `contacts_fts`, migration 11) for text of three or more characters, the latest triage of a
//! conversation, and its earliest running SLA breach time.

/// Conversations whose contact's name matches the FTS phrase (opens a parenthesis that
/// [`FTS_MESSAGE`] closes).
pub(crate) const FTS_CONTACT: &str = " AND (c.contact_id IN (SELECT k.id FROM contacts k WHERE k.rowid IN \
     (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?))";

/// …or one of whose messages matches it.
pub(crate) const FTS_MESSAGE: &str = " OR c.id IN (SELECT m.conversation_id FROM messages m WHERE m.rowid IN \
     (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)))";

/// The FTS5 query for a substring search: one quoted phrase (the trigram tokenizer matches it
/// anywhere, case-insensitively). `None` when the text is shorter than a trigram; the caller
/// then falls back to `LIKE`.
pub(crate) fn fts_phrase(text: &str) -> Option<String> {
    (text.chars().count() >= 3).then(|| format!("\"{}\"", text.replace('"', "\"\"")))
}

/// `column` (`language` or `sentiment`) of conversation `c`'s latest triaged message equals `?`.
pub(crate) fn latest_triage_clause(column: &str) -> String {
    format!(
        " AND (SELECT t.{column} FROM message_triage t WHERE t.conversation_id = c.id \
         ORDER BY t.created_at DESC LIMIT 1) = ?"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_quoted_and_short_text_is_left_to_like() {
        assert_eq!(fts_phrase("parcel").as_deref(), Some("\"parcel\""));
        assert_eq!(fts_phrase("say \"hi\"").as_deref(), Some("\"say \"\"hi\"\"\""));
        assert_eq!(fts_phrase("退款到"), Some("\"退款到\"".into()));
        assert_eq!(fts_phrase("退款"), None);
        assert_eq!(fts_phrase("ab"), None);
    }
}
