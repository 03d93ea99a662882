//! SQLite implementation of [`ContactNoteStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use switchboard_domain::{ContactId, UserId};
use uuid::Uuid;

use super::{SqliteStore, from_ts, ts};
use crate::contact_notes::{ContactNote, ContactNoteStore, check_note};
use crate::{Result, StoreError};

const COLS: &str = "n.id, n.contact_id, n.author_id, COALESCE(u.name, ''), n.body, n.created_at, n.updated_at \
    FROM contact_notes n LEFT JOIN users u ON u.id = n.author_id";

fn note(r: &Row<'_>) -> rusqlite::Result<ContactNote> {
    Ok(ContactNote {
        id: r.get(0)?,
        contact_id: ContactId(r.get(1)?),
        author_id: UserId(r.get(2)?),
        author_name: r.get(3)?,
        body: r.get(4)?,
        created_at: from_ts(r.get(5)?),
        updated_at: from_ts(r.get(6)?),
    })
}

fn one(c: &rusqlite::Connection, id: Uuid) -> Result<Option<ContactNote>> {
    Ok(c.query_row(&format!("SELECT {COLS} WHERE n.id = ?1"), [id], note).optional()?)
}

#[async_trait]
impl ContactNoteStore for SqliteStore {
    async fn add_contact_note(
        &self,
        contact: ContactId,
        author: UserId,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<ContactNote> {
        check_note(body)?;
        let body = body.to_owned();
        let id = Uuid::now_v7();
        self.conns
            .write(move |c| {
                let exists: bool =
                    c.query_row("SELECT EXISTS(SELECT 1 FROM contacts WHERE id = ?1)", [contact.0], |r| r.get(0))?;
                if !exists {
                    return Err(StoreError::NotFound("contact"));
                }
                c.execute(
                    "INSERT INTO contact_notes (id, contact_id, author_id, body, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![id, contact.0, author.0, body, ts(at)],
                )?;
                one(c, id)?.ok_or(StoreError::NotFound("note"))
            })
            .await
    }

    async fn update_contact_note(&self, id: Uuid, body: &str, at: DateTime<Utc>) -> Result<ContactNote> {
        check_note(body)?;
        let body = body.to_owned();
        self.conns
            .write(move |c| {
                let n = c.execute(
                    "UPDATE contact_notes SET body = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, body, ts(at)],
                )?;
                if n == 0 {
                    return Err(StoreError::NotFound("note"));
                }
                one(c, id)?.ok_or(StoreError::NotFound("note"))
            })
            .await
    }

    async fn get_contact_note(&self, id: Uuid) -> Result<Option<ContactNote>> {
        self.conns.read(move |c| one(c, id)).await
    }

    async fn list_contact_notes(&self, contact: ContactId) -> Result<Vec<ContactNote>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare(&format!("SELECT {COLS} WHERE n.contact_id = ?1 ORDER BY n.created_at DESC, n.id DESC"))?
                    .query_map([contact.0], note)?
                    .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }
}
