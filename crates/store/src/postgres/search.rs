//! Inbox search and filters on PostgreSQL: substring search served by the pg_trgm GIN indexes of
//! migration 11, and for one or two characters by the character and pair GIN indexes of
//! migration 18 (planned from the number of hits as on SQLite, see `sqlite/search.rs`), the latest
//! triage of a conversation, its earliest running SLA breach time.

use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use crate::{InboxSearchTuning, Result, like_pattern};

/// How a text search is answered, from the number of index hits (each count stops past
/// [`InboxSearchTuning::join_max_hits`]). The inbox and the API's conversation list both search
/// through it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextPlan {
    messages: i64,
    contacts: i64,
    walk: bool,
    /// One or two characters: too short for a trigram, looked up in the character and pair
    /// indexes of migration 18 instead.
    short: bool,
}

/// `column` holds `text` (bound by the caller): the trigram-indexed `ILIKE`, or for one or two
/// characters the pair-indexed form of migration 18 (the same rows: `lower` is what ILIKE
/// folds with).
fn contains(column: &str, short: bool) -> String {
    if short { format!("sb_short_grams({column}) @> ARRAY[lower(") } else { format!("{column} ILIKE (") }
}

/// The value bound to [`contains`]`(…, short)`: the text itself or its `ILIKE` pattern.
fn needle(text: &str, short: bool) -> String {
    if short { text.to_owned() } else { like_pattern(text) }
}

/// Closes [`contains`].
fn close(short: bool) -> &'static str {
    if short { ")]" } else { ")" }
}

impl TextPlan {
    /// Counts the hits of `text` (trimmed, not empty) in messages and contact names.
    pub(crate) async fn count(pool: &PgPool, text: &str, tuning: InboxSearchTuning) -> Result<Self> {
        let short = text.chars().count() < 3;
        let cap = i64::try_from(tuning.join_max_hits.saturating_add(1)).unwrap_or(i64::MAX);
        let r = sqlx::query(&format!(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM messages WHERE {}$1{} LIMIT $2) m) AS messages, \
                    (SELECT count(*) FROM (SELECT 1 FROM contacts WHERE {}$1{} LIMIT $2) k) AS contacts",
            contains("text", short),
            close(short),
            contains("name", short),
            close(short),
        ))
        .bind(needle(text, short))
        .bind(cap)
        .fetch_one(pool)
        .await?;
        let (messages, contacts): (i64, i64) = (r.try_get("messages")?, r.try_get("contacts")?);
        Ok(Self { messages, contacts, walk: (messages + contacts) as u64 > tuning.join_max_hits, short })
    }

    /// Nothing matches anywhere: the page is empty whatever the view.
    pub(crate) fn is_empty(&self) -> bool {
        self.messages == 0 && self.contacts == 0
    }

    /// Conversations whose contact's name or one of whose messages contains `text`. With few
    /// hits, uncorrelated `IN` lists: PostgreSQL looks the text up once in the indexes and reads
    /// the hits' conversations. With many, correlated `ILIKE` probes per conversation, so that
    /// the walk of the view in its order stops at the page. A side without hits is left out.
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>, text: &str) {
        // The probes of the walk are plain `ILIKE`s; the lists use the index the text needs.
        let short = self.short && !self.walk;
        // (hits, correlated probe, uncorrelated list, column) per side.
        let sides = [
            (
                self.contacts,
                "EXISTS (SELECT 1 FROM contacts k WHERE k.id = c.contact_id AND ",
                "c.contact_id IN (SELECT k.id FROM contacts k WHERE ",
                "k.name",
            ),
            (
                self.messages,
                "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND ",
                "c.id IN (SELECT m.conversation_id FROM messages m WHERE ",
                "m.text",
            ),
        ];
        qb.push(" AND (");
        let mut first = true;
        for (hits, probe, list, column) in sides {
            if hits == 0 {
                continue;
            }
            qb.push(if first { "" } else { " OR " })
                .push(if self.walk { probe } else { list })
                .push(contains(column, short))
                .push_bind(needle(text, short))
                .push(close(short))
                .push(")");
            first = false;
        }
        if self.is_empty() {
            qb.push("FALSE");
        }
        qb.push(")");
    }
}

/// `column` (`language` or `sentiment`) of conversation `c`'s latest triaged message equals `value`.
pub(crate) fn push_latest_triage(qb: &mut QueryBuilder<'_, Postgres>, column: &str, value: String) {
    qb.push(format!(
        " AND (SELECT t.{column} FROM message_triage t WHERE t.conversation_id = c.id \
         ORDER BY t.created_at DESC LIMIT 1) = "
    ))
    .push_bind(value);
}
