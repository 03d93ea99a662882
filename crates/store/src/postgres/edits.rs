//! Edited inbound messages on PostgreSQL: applied while threading, read by the API and the UI.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use switchboard_domain::edits::{VersionPlacement, edit_target, place_version};
use switchboard_domain::{CaseNumber, ConversationId, MessageId};
use uuid::Uuid;

use super::{PgStore, Tx};
use crate::edits::{MessageEditStore, MessageHistory, group_histories};
use crate::{Result, StoredEvent, ThreadOutcome};

/// The provider id of the message an event is (a version of).
fn version_key(se: &StoredEvent) -> &str {
    edit_target(&se.event.extra).unwrap_or(&se.event.provider_event_id)
}

/// Splits events (in order) into runs in which no two events are versions of the same message,
/// so that threading a run set-based still sees each earlier version (an edit right behind its
/// original, two edits of one message) as stored.
pub(super) fn runs<'a>(todo: &[&'a StoredEvent]) -> Vec<Vec<&'a StoredEvent>> {
    let mut out: Vec<Vec<&StoredEvent>> = vec![Vec::new()];
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for se in todo {
        let key = (se.event.channel.as_str(), version_key(se));
        if !seen.insert(key) {
            out.push(Vec::new());
            seen.clear();
            seen.insert(key);
        }
        if let Some(run) = out.last_mut() {
            run.push(*se);
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Threads the events of `run` that are versions of stored messages (edits, or originals
/// arriving after their edit) and answers the rest, to be threaded as messages of their own.
pub(super) async fn thread_versions<'a>(
    tx: &mut Tx<'_>,
    run: &[&'a StoredEvent],
    now: DateTime<Utc>,
) -> Result<(Vec<&'a StoredEvent>, Vec<ThreadOutcome>)> {
    let channels: Vec<&str> = run.iter().map(|se| se.event.channel.as_str()).collect();
    let keys: Vec<&str> = run.iter().map(|se| version_key(se)).collect();
    let rows = sqlx::query(
        "SELECT k.i, m.id, m.conversation_id, c.case_number, m.text, m.sent_at, m.edited_at \
         FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k(channel, pid, i) \
         JOIN messages m ON m.provider_message_id = k.pid AND m.direction = 'inbound' \
         JOIN conversations c ON c.id = m.conversation_id AND c.channel = k.channel \
         ORDER BY m.id FOR UPDATE OF m",
    )
    .bind(&channels)
    .bind(&keys)
    .fetch_all(&mut **tx)
    .await?;
    let mut targets: HashMap<usize, &sqlx::postgres::PgRow> = HashMap::new();
    for r in &rows {
        let i: i64 = r.try_get("i")?;
        targets.entry(i as usize - 1).or_insert(r);
    }
    let (mut rest, mut out) = (Vec::new(), Vec::new());
    for (i, se) in run.iter().enumerate() {
        let Some(r) = targets.get(&i) else {
            rest.push(*se);
            continue;
        };
        let (id, conv): (Uuid, Uuid) = (r.try_get("id")?, r.try_get("conversation_id")?);
        let text: String = r.try_get("text")?;
        let sent_at: DateTime<Utc> = r.try_get("sent_at")?;
        let shown_at = r.try_get::<Option<DateTime<Utc>>, _>("edited_at")?.unwrap_or(sent_at);
        let ev = &se.event;
        let record = |text: String, at: DateTime<Utc>| {
            sqlx::query(
                "INSERT INTO message_edits (id, message_id, text, written_at, event_id, recorded_at) \
                 SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS \
                 (SELECT 1 FROM message_edits WHERE message_id = $2 AND written_at = $4 AND text = $3)",
            )
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(text)
            .bind(at)
            .bind(se.id.0)
            .bind(now)
        };
        match place_version(&text, shown_at, &ev.text, ev.sent_at) {
            VersionPlacement::Replace { previous_at } => {
                record(text.clone(), previous_at).execute(&mut **tx).await?;
                sqlx::query("UPDATE messages SET text = $2, edited_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(&ev.text)
                    .bind(ev.sent_at)
                    .execute(&mut **tx)
                    .await?;
            }
            VersionPlacement::History => {
                record(ev.text.clone(), ev.sent_at).execute(&mut **tx).await?;
                // A late original dates the message; its edit stays the text shown.
                sqlx::query(
                    "UPDATE messages SET sent_at = LEAST(sent_at, $2), edited_at = COALESCE(edited_at, $3) WHERE id = $1",
                )
                .bind(id)
                .bind(ev.sent_at)
                .bind(shown_at)
                .execute(&mut **tx)
                .await?;
            }
            VersionPlacement::Unchanged => {}
        }
        sqlx::query("UPDATE inbound_events SET processed_at = $2, conversation_id = $3 WHERE seq = $1")
            .bind(se.seq)
            .bind(now)
            .bind(conv)
            .execute(&mut **tx)
            .await?;
        out.push(ThreadOutcome {
            event_id: se.id,
            message_id: MessageId(id),
            conversation_id: ConversationId(conv),
            case_number: CaseNumber(r.try_get("case_number")?),
            created: false,
            reopened: false,
            edited: true,
        });
    }
    Ok((rest, out))
}

/// Edits threaded before their message stand for it: they carry the original's provider id (so
/// the original, when it comes, finds them) and show as edited.
pub(super) async fn adopt_orphan_edits(tx: &mut Tx<'_>, threaded: &[&StoredEvent]) -> Result<()> {
    let (ids, originals): (Vec<Uuid>, Vec<&str>) =
        threaded.iter().filter_map(|se| Some((se.message_id.0, edit_target(&se.event.extra)?))).unzip();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE messages m SET provider_message_id = u.original, edited_at = m.sent_at \
         FROM UNNEST($1::uuid[], $2::text[]) AS u(id, original) WHERE m.id = u.id",
    )
    .bind(&ids)
    .bind(&originals)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Histories of the edited messages that `filter` (on `m`, binding `$1`, with its order) picks.
async fn read_histories(pool: &sqlx::PgPool, filter: &str, id: Uuid) -> Result<Vec<MessageHistory>> {
    let rows = sqlx::query(&format!(
        "SELECT m.id, m.edited_at, e.text, e.written_at FROM messages m \
         LEFT JOIN message_edits e ON e.message_id = m.id WHERE m.edited_at IS NOT NULL AND {filter}"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok((MessageId(r.try_get("id")?), r.try_get("edited_at")?, r.try_get("text")?, r.try_get("written_at")?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(group_histories(rows))
}

#[async_trait]
impl MessageEditStore for PgStore {
    async fn edit_histories(&self, conversation: ConversationId) -> Result<Vec<MessageHistory>> {
        read_histories(
            &self.pool,
            "m.conversation_id = $1 ORDER BY m.created_at, m.id, e.written_at, e.recorded_at",
            conversation.0,
        )
        .await
    }

    async fn edit_history(&self, message: MessageId) -> Result<Option<MessageHistory>> {
        Ok(read_histories(&self.pool, "m.id = $1 ORDER BY e.written_at, e.recorded_at", message.0)
            .await?
            .into_iter()
            .next())
    }
}
