//! Inbox search and filters on PostgreSQL: substring search served by the pg_trgm GIN indexes of
//! migration 11, the latest triage of a conversation, its earliest running SLA breach time.

use sqlx::{Postgres, QueryBuilder};

use crate::like_pattern;

/// Conversations whose contact's name or one of whose messages contains `text`. Written as
/// uncorrelated `IN` lists so that PostgreSQL looks the text up once in the trigram indexes
/// instead of once per conversation.
pub(crate) fn push_text_search(qb: &mut QueryBuilder<'_, Postgres>, text: &str) {
    let pat = like_pattern(text);
    qb.push(" AND (c.contact_id IN (SELECT k.id FROM contacts k WHERE k.name ILIKE ")
        .push_bind(pat.clone())
        .push(") OR c.id IN (SELECT m.conversation_id FROM messages m WHERE m.text ILIKE ")
        .push_bind(pat)
        .push("))");
}

/// The earliest pending breach timer of conversation `c` (null: no running SLA clock).
pub(crate) const SLA_DUE: &str = "(SELECT MIN(t.fire_at) FROM sla_timers t \
     WHERE t.conversation_id = c.id AND t.kind = 'breach' AND t.fired_at IS NULL)";

/// `column` (`language` or `sentiment`) of conversation `c`'s latest triaged message equals `value`.
pub(crate) fn push_latest_triage(qb: &mut QueryBuilder<'_, Postgres>, column: &str, value: String) {
    qb.push(format!(
        " AND (SELECT t.{column} FROM message_triage t WHERE t.conversation_id = c.id \
         ORDER BY t.created_at DESC LIMIT 1) = "
    ))
    .push_bind(value);
}
