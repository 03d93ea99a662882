//! Inbox search and filters on SQLite: trigram full-text indexes (`messages_fts`,
//! `contacts_fts`, migration 11) for text of three or more characters, the character and pair
//! indexes of migration 18 (`short_index.rs`) for one or two, the latest triage of a
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

/// The `ORDER BY` list of `sort` over conversation `c` (`rank` is the priority rank of `c`).
pub(crate) fn order_by(sort: InboxSort, rank: &str) -> String {
    match sort {
        InboxSort::Urgency => format!("{rank}, c.last_message_at, c.id"),
        InboxSort::Recent => "c.last_message_at DESC, c.id DESC".to_owned(),
        InboxSort::SlaDue => format!("{} NULLS LAST, {rank}, c.last_message_at, c.id", crate::ui::SLA_DUE),
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

/// How a text search is answered.
pub(crate) enum SearchPlan {
    /// Nothing matches anywhere.
    Empty,
    /// The rowids of the page's conversations, `offset..want` of the view, in order.
    Page(Vec<i64>),
    /// The view's own query answers it: a condition on `c` was added to its filters.
    Walk,
}

/// The indexes that answer `text` and the FTS5 query for them: the trigram indexes for three
/// characters or more, one quoted phrase (quotes, `%` and `_` are plain text); the short-search
/// indexes of migration 18 for one or two (`Le`, `退款`), one token.
fn index_query(text: &str) -> ([&'static str; 2], String) {
    match fts_phrase(text) {
        Some(phrase) => (["messages_fts", "contacts_fts"], phrase),
        None => (["messages_grams", "contacts_grams"], super::short_index::query(text)),
    }
}

/// Plans the search for `text` (trimmed, not empty) in the view (`filters` over `c` with `args`,
/// `sort`) from the number of index hits; with few, answers it from the hits. The inbox and the
/// API's conversation list both search through it.
pub(crate) fn plan(
    c: &Connection,
    tuning: InboxSearchTuning,
    text: &str,
    sort: InboxSort,
    filters: &mut String,
    args: &mut Vec<V>,
    (offset, want): (usize, usize),
) -> rusqlite::Result<SearchPlan> {
    let ([messages_index, contacts_index], query) = index_query(text);
    // Counting stops past the join limit: the count is only asked "few or many?".
    let cap = tuning.join_max_hits.saturating_add(1);
    let count = |table: &str| -> rusqlite::Result<u64> {
        c.prepare_cached(&format!("SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ?1 LIMIT ?2)"))?
            .query_row(rusqlite::params![query, cap as i64], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    let (messages, contacts) = (count(messages_index)?, count(contacts_index)?);
    if messages == 0 && contacts == 0 {
        return Ok(SearchPlan::Empty);
    }
    let sides = ((messages > 0).then_some(messages_index), (contacts > 0).then_some(contacts_index));
    if messages + contacts > tuning.join_max_hits && fts_phrase(text).is_none() {
        // Many hits of one or two characters (`e`): first walk the view and check each
        // conversation's texts, stopping at the page; a character in most conversations fills it
        // after a few dozen. Past the budget the hits are too sparse in this view for that to
        // pay, and the walk against the hits below answers.
        let budget = tuning.probe_per_row.saturating_mul(want as u64);
        let sides_hit = (messages > 0, contacts > 0);
        if let Some(ids) = probe_walk(c, budget, sort, filters, args, text, sides_hit, (offset, want))? {
            return Ok(SearchPlan::Page(ids));
        }
    }
    let hits = hit_conversations(sides.0, sides.1, args.len() + 1);
    args.push(V::Text(query));
    if messages + contacts > tuning.join_max_hits {
        // Many: SQLite collects the hits' conversation ids once and walks the view in its
        // order, stopping at the page. Names are turned into conversations inside the list, so
        // the walk never reads a row for its contact.
        filters.push_str(&format!(" AND c.id IN ({hits})"));
        return Ok(SearchPlan::Walk);
    }
    // Few: each hit's conversation once, filtered to the view and sorted. CROSS JOIN keeps the
    // hits outside: SQLite would otherwise walk the whole view in order.
    let rank = crate::ui::PRIORITY_RANK.replace("priority", "c.priority");
    let sql = format!(
        "SELECT c.rowid FROM (SELECT DISTINCT id FROM ({hits})) h CROSS JOIN conversations c ON c.id = h.id \
         WHERE 1 = 1{filters} ORDER BY {} LIMIT {} OFFSET {offset}",
        order_by(sort, &rank),
        want.saturating_sub(offset)
    );
    let mut stmt = c.prepare(&sql)?;
    bind(&mut stmt, args)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(r.get(0)?);
    }
    Ok(SearchPlan::Page(out))
}

/// Walks the view (`filters` over `c` with `args`, in `sort` order) and reads, for each
/// conversation, its contact's name (when `names`) and its messages' text (when `messages`),
/// checking them for the one- or two-character `text` exactly as the short-search index does,
/// until `want` conversations matched: the rowids of `offset..want` of them. `None` once `budget`
/// rows (conversations and messages) were read first: the page is then not known.
#[allow(clippy::too_many_arguments)]
fn probe_walk(
    c: &Connection,
    budget: u64,
    sort: InboxSort,
    filters: &str,
    args: &[V],
    text: &str,
    (messages, names): (bool, bool),
    (offset, want): (usize, usize),
) -> rusqlite::Result<Option<Vec<i64>>> {
    if budget == 0 {
        return Ok(None);
    }
    let needle = super::short_index::Needle::new(text);
    let rank = crate::ui::PRIORITY_RANK.replace("priority", "c.priority");
    let name = if names { "(SELECT name FROM contacts WHERE id = c.contact_id)" } else { "NULL" };
    let select = format!("SELECT c.rowid, c.id, {name}");
    let walks = match sort {
        InboxSort::Urgency | InboxSort::Recent => {
            vec![format!("{select} FROM conversations c WHERE 1 = 1{filters} ORDER BY {}", order_by(sort, &rank))]
        }
        InboxSort::SlaDue => sla_walks(&select, filters, &rank).into(),
    };
    let mut texts = c.prepare_cached("SELECT text FROM messages WHERE conversation_id = ?1")?;
    let (mut found, mut read) = (Vec::new(), 0u64);
    'walks: for sql in walks {
        let mut stmt = c.prepare(&sql)?;
        bind(&mut stmt, args)?;
        let mut rows = stmt.raw_query();
        while let Some(r) = rows.next()? {
            read += 1;
            let (rowid, id, name): (i64, V, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let mut hit = name.is_some_and(|n| needle.is_in(&n));
            if !hit && messages {
                let mut bodies = texts.query([&id])?;
                while let Some(b) = bodies.next()? {
                    read += 1;
                    if b.get_ref(0)?.as_str_or_null()?.is_some_and(|t| needle.is_in(t)) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                found.push(rowid);
                if found.len() >= want {
                    break 'walks;
                }
            }
            if read >= budget {
                return Ok(None);
            }
        }
    }
    found.drain(..offset.min(found.len()));
    Ok(Some(found))
}

/// The ids of the conversations with a message, or a contact whose name, matches the query
/// `?{param}` in the given index (a side without hits left out); a conversation may come more
/// than once.
fn hit_conversations(messages: Option<&str>, contacts: Option<&str>, param: usize) -> String {
    let mut sources = Vec::new();
    if let Some(t) = messages {
        sources.push(format!(
            "SELECT m.conversation_id AS id FROM {t} f CROSS JOIN messages m ON m.rowid = f.rowid \
             WHERE {t} MATCH ?{param}"
        ));
    }
    if let Some(t) = contacts {
        sources.push(format!(
            "SELECT kc.id FROM {t} g CROSS JOIN contacts k ON k.rowid = g.rowid \
             CROSS JOIN conversations kc ON kc.contact_id = k.id WHERE {t} MATCH ?{param}"
        ));
    }
    sources.join(" UNION ALL ")
}

/// The FTS5 query for a substring search: one quoted phrase (the trigram tokenizer matches it
/// anywhere, case-insensitively). `None` when the text is shorter than a trigram; the
/// short-search index answers it then.
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
    fn phrases_are_quoted_and_short_text_goes_to_the_short_index() {
        assert_eq!(fts_phrase("parcel").as_deref(), Some("\"parcel\""));
        assert_eq!(fts_phrase("say \"hi\"").as_deref(), Some("\"say \"\"hi\"\"\""));
        assert_eq!(fts_phrase("退款到"), Some("\"退款到\"".into()));
        assert_eq!(fts_phrase("退款"), None);
        assert_eq!(fts_phrase("ab"), None);
        assert_eq!(index_query("ab"), (["messages_grams", "contacts_grams"], "\"6162\"".to_owned()));
        assert_eq!(index_query("abc").0, ["messages_fts", "contacts_fts"]);
    }
}
