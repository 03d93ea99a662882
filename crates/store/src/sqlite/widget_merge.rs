//! [`WidgetMergeStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use switchboard_domain::ContactId;
use uuid::Uuid;

use super::{SqliteStore, merge_contacts_tx, ts};
use crate::widget_merge::{ContactPlan, WidgetMerge, WidgetMergeStore, check, contact_plan};
use crate::{Result, WidgetVisitor};

fn identity(c: &Connection, channel: &str, subject: &str) -> Result<Option<Uuid>> {
    Ok(c.prepare_cached("SELECT contact_id FROM contact_identities WHERE channel = ?1 AND provider_user_id = ?2")?
        .query_row(params![channel, subject], |r| r.get(0))
        .optional()?)
}

fn merge_tx(c: &Connection, v: &WidgetVisitor, into: &str, at: DateTime<Utc>) -> Result<WidgetMerge> {
    let ch = v.channel.as_str();
    let (anon, known) = (identity(c, ch, &v.subject)?, identity(c, ch, into)?);
    let anon_items: i64 = c.query_row(
        "SELECT COUNT(*) FROM widget_items WHERE channel = ?1 AND subject = ?2",
        params![ch, v.subject],
        |r| r.get(0),
    )?;
    let mut merged_contact = None;
    let contact = match contact_plan(known, anon, anon_items > 0) {
        ContactPlan::Merge { keep, other } => {
            merged_contact = Some(ContactId(other));
            Some(merge_contacts_tx(c, ContactId(keep), ContactId(other))?.id.0)
        }
        ContactPlan::Keep(id) => Some(id),
        ContactPlan::Create => {
            let id = Uuid::now_v7();
            c.execute(
                "INSERT INTO contacts (id, name, email, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, v.name, v.email, ts(at)],
            )?;
            Some(id)
        }
        ContactPlan::Nothing => None,
    };
    if let Some(ct) = contact {
        // The signed identity goes first on the channel: replies (sent to the first identity)
        // reach the signed-in stream.
        let first: Option<i64> = c.query_row(
            "SELECT MIN(created_at) FROM contact_identities WHERE contact_id = ?1 AND channel = ?2",
            params![ct, ch],
            |r| r.get(0),
        )?;
        let first = first.map_or(ts(at), |f| f - 1);
        c.execute(
            "INSERT INTO contact_identities (channel, provider_user_id, contact_id, handle, display_name, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (channel, provider_user_id) DO UPDATE SET \
             contact_id = excluded.contact_id, created_at = MIN(created_at, excluded.created_at)",
            params![ch, into, ct, v.email, v.name, first],
        )?;
        c.execute(
            "INSERT INTO contact_identities (channel, provider_user_id, contact_id, handle, display_name, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (channel, provider_user_id) DO UPDATE SET \
             contact_id = excluded.contact_id, created_at = MAX(created_at, excluded.created_at)",
            params![ch, v.subject, ct, v.email, v.name, ts(at)],
        )?;
    }
    // The anonymous stream continues at the end of the signed-in one, each item once.
    let last: i64 = c.query_row(
        "INSERT INTO widget_streams (channel, subject, last_seq) VALUES (?1, ?2, 0) \
         ON CONFLICT (channel, subject) DO UPDATE SET last_seq = last_seq RETURNING last_seq",
        params![ch, into],
        |r| r.get(0),
    )?;
    let copied = c.execute(
        "INSERT INTO widget_items (channel, subject, seq, dedupe_key, direction, body, created_at) \
         SELECT channel, ?3, ?4 + ROW_NUMBER() OVER (ORDER BY seq), dedupe_key, direction, body, created_at \
         FROM widget_items a WHERE a.channel = ?1 AND a.subject = ?2 AND NOT EXISTS \
         (SELECT 1 FROM widget_items b WHERE b.channel = ?1 AND b.subject = ?3 AND b.dedupe_key = a.dedupe_key) \
         ORDER BY seq",
        params![ch, v.subject, into, last],
    )? as i64;
    c.execute(
        "UPDATE widget_streams SET last_seq = last_seq + ?3 WHERE channel = ?1 AND subject = ?2",
        params![ch, into, copied],
    )?;
    c.execute(
        "UPDATE widget_uploads SET subject = ?3 WHERE channel = ?1 AND subject = ?2",
        params![ch, v.subject, into],
    )?;
    // The anonymous token stops working: that browser now speaks as the signed-in customer.
    c.execute(
        "UPDATE widget_visitors SET token_hash = 'merged:' || id, last_seen_at = ?2 WHERE id = ?1",
        params![v.id.to_string(), ts(at)],
    )?;
    Ok(WidgetMerge { contact: contact.map(ContactId), merged_contact, items_copied: copied })
}

#[async_trait]
impl WidgetMergeStore for SqliteStore {
    async fn merge_widget_visitor(
        &self,
        visitor: &WidgetVisitor,
        into_subject: &str,
        at: DateTime<Utc>,
    ) -> Result<WidgetMerge> {
        check(visitor, into_subject)?;
        let (v, into) = (visitor.clone(), into_subject.to_owned());
        self.conns.write(move |c| merge_tx(c, &v, &into, at)).await
    }
}
