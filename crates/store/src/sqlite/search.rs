//! Inbox search and filters on SQLite: trigram full-text indexes (`messages_fts`,
//! `contacts_fts`, migration 11) for text of three or more characters, the latest triage of a
//! conversation, and its earliest running SLA breach time.
//!
//! A full-text search is planned from the number of index hits ([`InboxSearchTuning`]): none is
//! an empty page at once; a few are read one by one and the ones in the view sorted (the cost
//! follows the hits, wherever they are); with many, the hits' conversation ids are collected once
//! and the view is walked in its sort order until the page is full (cheap when the hits are dense
//! in the view). Either way the page holds the same conversations in the same order.

use rusqlite::types::Value as V;
use rusqlite::{Connection, Statement};

use crate::{InboxSearchTuning, InboxSort};

/// Binds `args[i - 1]` to each parameter `?i` that `stmt` has (a query that does not use the
/// viewer, `?1`, still takes the shared argument list).
pub(crate) fn bind(stmt: &mut Statement<'_>, args: &[V]) -> rusqlite::Result<()> {
    for i in 1..=stmt.parameter_count() {
        stmt.raw_bind_parameter(i, args.get(i - 1).unwrap_or(&V::Null))?;
    }
    Ok(())
}

/// The earliest pending breach timer of conversation `c` (null: no running SLA clock).
const SLA_DUE: &str = "(SELECT MIN(t.fire_at) FROM sla_timers t \
     WHERE t.conversation_id = c.id AND t.kind = 'breach' AND t.fired_at IS NULL)";

/// The `ORDER BY` list of `sort` over conversation `c` (`rank` is the priority rank of `c`).
pub(crate) fn order_by(sort: InboxSort, rank: &str) -> String {
    match sort {
        InboxSort::Urgency => format!("{rank}, c.last_message_at, c.id"),
        InboxSort::Recent => "c.last_message_at DESC, c.id DESC".to_owned(),
        InboxSort::SlaDue => format!("{SLA_DUE} NULLS LAST, {rank}, c.last_message_at, c.id"),
    }
}

/// The SLA-due order as two index walks instead of computing every conversation's due time and
/// sorting them all: the pending breach timers by due time (each conversation at its earliest,
/// `select` over `c`, then `filters`), and the conversations without one in urgency order.
/// Together they give [`order_by`]`(SlaDue)`; the caller appends `LIMIT`s or stops reading.
pub(crate) fn sla_walks(select: &str, filters: &str, rank: &str) -> [String; 2] {
    [
        format!(
            "{select} FROM sla_timers t CROSS JOIN conversations c ON c.id = t.conversation_id \
             WHERE t.fired_at IS NULL AND t.kind = 'breach' AND NOT EXISTS (SELECT 1 FROM sla_timers e \
             WHERE e.conversation_id = t.conversation_id AND e.kind = 'breach' AND e.fired_at IS NULL \
             AND (e.fire_at < t.fire_at OR (e.fire_at = t.fire_at AND e.rowid < t.rowid))){filters} \
             ORDER BY t.fire_at, {rank}, c.last_message_at, c.id"
        ),
        format!(
            "{select} FROM conversations c WHERE NOT EXISTS (SELECT 1 FROM sla_timers t \
             WHERE t.conversation_id = c.id AND t.kind = 'breach' AND t.fired_at IS NULL){filters} \
             ORDER BY {rank}, c.last_message_at, c.id"
        ),
    ]
}

/// How a full-text search is answered.
pub(crate) enum SearchPlan {
    /// Nothing matches anywhere.
    Empty,
    /// The rowids of the page's conversations, `offset..want` of the view, in order.
    Page(Vec<i64>),
    /// A condition on conversation `c` (its `?` is the phrase) for the view's own query.
    Filter(String),
}

/// Plans the search for the FTS `phrase` in the view (`filters` over `c` with `args`, `sort`)
/// from the number of index hits; with few, answers it from the hits.
pub(crate) fn plan(
    c: &Connection,
    tuning: InboxSearchTuning,
    phrase: &str,
    sort: InboxSort,
    filters: &str,
    args: &[V],
    (offset, want): (usize, usize),
) -> rusqlite::Result<SearchPlan> {
    // Counting stops past the join limit: the count is only asked "few or many?".
    let cap = tuning.join_max_hits.saturating_add(1);
    let count = |table: &str| -> rusqlite::Result<u64> {
        c.prepare_cached(&format!("SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ?1 LIMIT ?2)"))?
            .query_row(rusqlite::params![phrase, cap as i64], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    let (messages, contacts) = (count("messages_fts")?, count("contacts_fts")?);
    if messages == 0 && contacts == 0 {
        return Ok(SearchPlan::Empty);
    }
    let hits = hit_conversations(messages > 0, contacts > 0);
    if messages + contacts > tuning.join_max_hits {
        // Many: SQLite collects the hits' conversation ids once and walks the view in its
        // order, stopping at the page. Names are turned into conversations inside the list, so
        // the walk never reads a row for its contact.
        return Ok(SearchPlan::Filter(format!(" AND c.id IN ({hits})")));
    }
    // Few: each hit's conversation once, filtered to the view and sorted. CROSS JOIN keeps the
    // hits outside: SQLite would otherwise walk the whole view in order.
    let rank = crate::ui::PRIORITY_RANK.replace("priority", "c.priority");
    let sql = format!(
        "SELECT c.rowid FROM (SELECT DISTINCT id FROM ({})) h CROSS JOIN conversations c ON c.id = h.id \
         WHERE 1 = 1{filters} ORDER BY {} LIMIT {} OFFSET {offset}",
        hits.replace('?', &format!("?{}", args.len() + 1)),
        order_by(sort, &rank),
        want.saturating_sub(offset)
    );
    let mut all = args.to_vec();
    all.push(V::Text(phrase.to_owned()));
    let mut stmt = c.prepare(&sql)?;
    bind(&mut stmt, &all)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(r.get(0)?);
    }
    Ok(SearchPlan::Page(out))
}

/// The ids of the conversations with a message, or a contact whose name, matches the phrase
/// `?` (a side without hits left out); a conversation may come more than once.
fn hit_conversations(messages: bool, contacts: bool) -> String {
    let mut sources = Vec::new();
    if messages {
        sources.push(
            "SELECT m.conversation_id AS id FROM messages_fts f CROSS JOIN messages m ON m.rowid = f.rowid \
             WHERE messages_fts MATCH ?",
        );
    }
    if contacts {
        sources.push(
            "SELECT kc.id FROM contacts_fts g CROSS JOIN contacts k ON k.rowid = g.rowid \
             CROSS JOIN conversations kc ON kc.contact_id = k.id WHERE contacts_fts MATCH ?",
        );
    }
    sources.join(" UNION ALL ")
}

/// Conversations whose contact's name matches the FTS phrase (opens a parenthesis that
/// [`FTS_MESSAGE`] closes). The API's conversation list filters with it.
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
