//! Inbox search and filters on SQLite: trigram full-text indexes (`messages_fts`,
//! `contacts_fts`, migration 11) for text of three or more characters, the latest triage of a
//! conversation, and its earliest running SLA breach time.
//!
//! A full-text search is planned from the number of index hits ([`InboxSearchTuning`]): none is
//! an empty page at once; a few are read one by one and the ones in the view sorted (the cost
//! follows the hits, wherever they are); many are left in the index while the view is walked in
//! its sort order and each conversation is asked for (the cost follows the rows walked, which is
//! small when the hits are dense in the view), falling back to the hits when the walk finds too
//! little. Either way the page holds the same conversations in the same order.

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

/// The rowids of conversations `offset..want` among those in the view (`filters` over `c` with
/// `args`, `sort`) whose contact's name or one of whose messages matches the FTS `phrase`.
pub(crate) fn search_page(
    c: &Connection,
    tuning: InboxSearchTuning,
    phrase: &str,
    sort: InboxSort,
    filters: &str,
    args: &[V],
    (offset, want): (usize, usize),
) -> rusqlite::Result<Vec<i64>> {
    // Counting stops past the join limit: the count is only asked "few or many?".
    let cap = tuning.join_max_hits.saturating_add(1);
    let count = |table: &str| -> rusqlite::Result<u64> {
        c.prepare_cached(&format!("SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ?1 LIMIT ?2)"))?
            .query_row(rusqlite::params![phrase, cap as i64], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    let hits = Hits { messages: count("messages_fts")?, contacts: count("contacts_fts")? };
    if hits.messages == 0 && hits.contacts == 0 {
        return Ok(Vec::new());
    }
    let rank = crate::ui::PRIORITY_RANK.replace("priority", "c.priority");
    if hits.messages + hits.contacts > tuning.join_max_hits
        && (want as u64) <= tuning.walk_max_probes
        && let Some(mut found) = walk(c, tuning, phrase, hits, sort, filters, args, want, &rank)?
    {
        found.drain(..offset.min(found.len()));
        return Ok(found);
    }
    join(c, phrase, hits, sort, filters, args, (offset, want), &rank)
}

/// Index hits of a phrase (each count stops past the join limit).
#[derive(Clone, Copy)]
struct Hits {
    messages: u64,
    contacts: u64,
}

/// From the hits: each matching message's and contact's conversation, filtered to the view and
/// sorted.
#[allow(clippy::too_many_arguments)]
fn join(
    c: &Connection,
    phrase: &str,
    hits: Hits,
    sort: InboxSort,
    filters: &str,
    args: &[V],
    (offset, want): (usize, usize),
    rank: &str,
) -> rusqlite::Result<Vec<i64>> {
    let p = args.len() + 1;
    let mut sources = Vec::new();
    if hits.messages > 0 {
        sources.push(format!(
            "SELECT m.conversation_id AS id FROM messages_fts f CROSS JOIN messages m ON m.rowid = f.rowid \
             WHERE messages_fts MATCH ?{p}"
        ));
    }
    if hits.contacts > 0 {
        sources.push(format!(
            "SELECT kc.id FROM contacts_fts g CROSS JOIN contacts k ON k.rowid = g.rowid \
             CROSS JOIN conversations kc ON kc.contact_id = k.id WHERE contacts_fts MATCH ?{p}"
        ));
    }
    // Each conversation once, however many of its messages match. CROSS JOIN keeps the hits
    // outside: SQLite would otherwise walk the whole view in order.
    let sql = format!(
        "SELECT c.rowid FROM (SELECT DISTINCT id FROM ({})) h CROSS JOIN conversations c ON c.id = h.id \
         WHERE 1 = 1{filters} ORDER BY {} LIMIT {} OFFSET {offset}",
        sources.join(" UNION ALL "),
        order_by(sort, rank),
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
    Ok(out)
}

/// Walks the view in its order and asks the index about each conversation until `want` match;
/// `None` when that takes more than `walk_max_probes` conversations.
#[allow(clippy::too_many_arguments)]
fn walk(
    c: &Connection,
    tuning: InboxSearchTuning,
    phrase: &str,
    hits: Hits,
    sort: InboxSort,
    filters: &str,
    args: &[V],
    want: usize,
    rank: &str,
) -> rusqlite::Result<Option<Vec<i64>>> {
    let select = "SELECT c.rowid, c.id";
    let walks = match sort {
        InboxSort::SlaDue => sla_walks(select, filters, rank).to_vec(),
        _ => vec![format!("{select} FROM conversations c WHERE 1 = 1{filters} ORDER BY {}", order_by(sort, rank))],
    };
    let mut in_messages = c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM messages m CROSS JOIN messages_fts f ON f.rowid = m.rowid \
         WHERE m.conversation_id = ?1 AND messages_fts MATCH ?2)",
    )?;
    let mut in_contact = c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM conversations c CROSS JOIN contacts k ON k.id = c.contact_id \
         CROSS JOIN contacts_fts g ON g.rowid = k.rowid WHERE c.rowid = ?1 AND contacts_fts MATCH ?2)",
    )?;
    let mut found = Vec::new();
    let mut probed = 0u64;
    for sql in walks {
        let mut stmt = c.prepare(&sql)?;
        bind(&mut stmt, args)?;
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next()? {
            if probed == tuning.walk_max_probes {
                return Ok(None);
            }
            probed += 1;
            let (rowid, id): (i64, V) = (r.get(0)?, r.get(1)?);
            let matches = (hits.messages > 0
                && in_messages.query_row(rusqlite::params![id, phrase], |r| r.get::<_, bool>(0))?)
                || (hits.contacts > 0
                    && in_contact.query_row(rusqlite::params![rowid, phrase], |r| r.get::<_, bool>(0))?);
            if matches {
                found.push(rowid);
                if found.len() == want {
                    return Ok(Some(found));
                }
            }
        }
    }
    Ok(Some(found))
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
