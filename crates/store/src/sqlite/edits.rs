//! Edited inbound messages on SQLite: applied while threading, read by the API and the UI.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use switchboard_domain::edits::{VersionPlacement, edit_target, place_version};
use switchboard_domain::{CaseNumber, ConversationId, MessageId};
use uuid::Uuid;

use super::{SqliteStore, from_ts, ts};
use crate::edits::{HistoryRow, MessageEditStore, MessageHistory, group_histories};
use crate::{Result, StoredEvent, ThreadOutcome};

/// The stored inbound message an event is a version of: (id, conversation, case, text, sent_at,
/// edited_at).
type Target = (Uuid, Uuid, i64, String, i64, Option<i64>);

/// Threads `se` as a new version of a message already stored (an edit of it, or its original
/// arriving after an edit); `None` when there is no such message and the event is threaded as
/// a message of its own.
pub(super) fn thread_version(c: &Connection, se: &StoredEvent, now: DateTime<Utc>) -> Result<Option<ThreadOutcome>> {
    let ev = &se.event;
    let key = edit_target(&ev.extra).unwrap_or(&ev.provider_event_id);
    let target: Option<Target> = c
        .prepare_cached(
            "SELECT m.id, m.conversation_id, c.case_number, m.text, m.sent_at, m.edited_at FROM messages m \
             JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.provider_message_id = ?1 AND c.channel = ?2 AND m.direction = 'inbound' LIMIT 1",
        )?
        .query_row(params![key, ev.channel.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .optional()?;
    let Some((id, conv, case, text, sent_at, edited_at)) = target else { return Ok(None) };
    let shown_at = from_ts(edited_at.unwrap_or(sent_at));
    let record = |text: &str, at: DateTime<Utc>| -> Result<()> {
        c.prepare_cached(
            "INSERT INTO message_edits (id, message_id, text, written_at, event_id, recorded_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS \
             (SELECT 1 FROM message_edits WHERE message_id = ?2 AND written_at = ?4 AND text = ?3)",
        )?
        .execute(params![Uuid::now_v7(), id, text, ts(at), se.id.0, ts(now)])?;
        Ok(())
    };
    match place_version(&text, shown_at, &ev.text, ev.sent_at) {
        VersionPlacement::Replace { previous_at } => {
            record(&text, previous_at)?;
            c.prepare_cached("UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1")?.execute(params![
                id,
                ev.text,
                ts(ev.sent_at)
            ])?;
        }
        VersionPlacement::History => {
            record(&ev.text, ev.sent_at)?;
            // A late original dates the message; its edit stays the text shown.
            c.prepare_cached(
                "UPDATE messages SET sent_at = MIN(sent_at, ?2), edited_at = COALESCE(edited_at, ?3) WHERE id = ?1",
            )?
            .execute(params![id, ts(ev.sent_at), ts(shown_at)])?;
        }
        VersionPlacement::Unchanged => {}
    }
    c.prepare_cached("UPDATE inbound_events SET processed_at = ?2, conversation_id = ?3 WHERE seq = ?1")?
        .execute(params![se.seq, ts(now), conv])?;
    Ok(Some(ThreadOutcome {
        event_id: se.id,
        message_id: MessageId(id),
        conversation_id: ConversationId(conv),
        case_number: CaseNumber(case),
        created: false,
        reopened: false,
        edited: true,
    }))
}

/// An edit threaded before its message stands for it: it carries the original's provider id
/// (so the original, when it comes, finds it) and shows as edited.
pub(super) fn adopt_orphan_edit(c: &Connection, se: &StoredEvent) -> Result<()> {
    if let Some(original) = edit_target(&se.event.extra) {
        c.prepare_cached("UPDATE messages SET provider_message_id = ?2, edited_at = sent_at WHERE id = ?1")?
            .execute(params![se.message_id.0, original])?;
    }
    Ok(())
}

fn history_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HistoryRow> {
    Ok((MessageId(r.get(0)?), from_ts(r.get(1)?), r.get(2)?, r.get::<_, Option<i64>>(3)?.map(from_ts)))
}

/// Histories of the edited messages that `filter` (on `m`, binding `?1`, with its order) picks.
fn read_histories(c: &Connection, filter: &str, id: Uuid) -> Result<Vec<MessageHistory>> {
    let rows = c
        .prepare_cached(&format!(
            "SELECT m.id, m.edited_at, e.text, e.written_at FROM messages m \
             LEFT JOIN message_edits e ON e.message_id = m.id WHERE m.edited_at IS NOT NULL AND {filter}"
        ))?
        .query_map([id], history_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(group_histories(rows))
}

#[async_trait]
impl MessageEditStore for SqliteStore {
    async fn edit_histories(&self, conversation: ConversationId) -> Result<Vec<MessageHistory>> {
        self.conns
            .read(move |c| {
                read_histories(
                    c,
                    "m.conversation_id = ?1 ORDER BY m.created_at, m.id, e.written_at, e.recorded_at",
                    conversation.0,
                )
            })
            .await
    }

    async fn edit_history(&self, message: MessageId) -> Result<Option<MessageHistory>> {
        self.conns
            .read(move |c| {
                Ok(read_histories(c, "m.id = ?1 ORDER BY e.written_at, e.recorded_at", message.0)?.into_iter().next())
            })
            .await
    }
}
