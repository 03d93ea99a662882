//! Inbox search and filters on PostgreSQL: substring search served by the pg_trgm GIN indexes of
//! migration 11 (planned from the number of hits as on SQLite, see `sqlite/search.rs`), the latest
//! triage of a conversation, its earliest running SLA breach time.

use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use crate::{InboxSearchTuning, Result, like_pattern};

/// Conversations whose contact's name or one of whose messages contains `text`, as uncorrelated
/// `IN` lists (PostgreSQL looks the text up once in the trigram indexes). The API's conversation
/// list filters with it.
pub(crate) fn push_text_search(qb: &mut QueryBuilder<'_, Postgres>, text: &str) {
    let pat = like_pattern(text);
    qb.push(" AND (c.contact_id IN (SELECT k.id FROM contacts k WHERE k.name ILIKE ")
        .push_bind(pat.clone())
        .push(") OR c.id IN (SELECT m.conversation_id FROM messages m WHERE m.text ILIKE ")
        .push_bind(pat)
        .push("))");
}

/// How a text search is answered, from the number of trigram-index hits (each count stops past
/// [`InboxSearchTuning::join_max_hits`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextPlan {
    messages: i64,
    contacts: i64,
    walk: bool,
}

impl TextPlan {
    /// Counts the hits of `text` in messages and contact names.
    pub(crate) async fn count(pool: &PgPool, text: &str, tuning: InboxSearchTuning) -> Result<Self> {
        let cap = i64::try_from(tuning.join_max_hits.saturating_add(1)).unwrap_or(i64::MAX);
        let r = sqlx::query(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM messages WHERE text ILIKE $1 LIMIT $2) m) AS messages, \
                    (SELECT count(*) FROM (SELECT 1 FROM contacts WHERE name ILIKE $1 LIMIT $2) k) AS contacts",
        )
        .bind(like_pattern(text))
        .bind(cap)
        .fetch_one(pool)
        .await?;
        let (messages, contacts): (i64, i64) = (r.try_get("messages")?, r.try_get("contacts")?);
        Ok(Self { messages, contacts, walk: (messages + contacts) as u64 > tuning.join_max_hits })
    }

    /// Nothing matches anywhere: the page is empty whatever the view.
    pub(crate) fn is_empty(&self) -> bool {
        self.messages == 0 && self.contacts == 0
    }

    /// Conversations whose contact's name or one of whose messages contains `text`. With few
    /// hits, uncorrelated `IN` lists: PostgreSQL looks the text up once in the trigram indexes
    /// and reads the hits' conversations. With many, correlated probes per conversation, so that
    /// the walk of the view in its order stops at the page. A side without hits is left out.
    pub(crate) fn push(&self, qb: &mut QueryBuilder<'_, Postgres>, text: &str) {
        let pat = like_pattern(text);
        let mut sides = Vec::new();
        if self.contacts > 0 {
            sides.push(if self.walk {
                "EXISTS (SELECT 1 FROM contacts k WHERE k.id = c.contact_id AND k.name ILIKE "
            } else {
                "c.contact_id IN (SELECT k.id FROM contacts k WHERE k.name ILIKE "
            });
        }
        if self.messages > 0 {
            sides.push(if self.walk {
                "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.text ILIKE "
            } else {
                "c.id IN (SELECT m.conversation_id FROM messages m WHERE m.text ILIKE "
            });
        }
        qb.push(" AND (");
        for (i, side) in sides.iter().enumerate() {
            qb.push(if i == 0 { "" } else { " OR " }).push(*side).push_bind(pat.clone()).push(")");
        }
        if sides.is_empty() {
            qb.push("FALSE");
        }
        qb.push(")");
    }
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
