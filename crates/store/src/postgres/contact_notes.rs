//! PostgreSQL implementation of [`ContactNoteStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::{ContactId, UserId};
use uuid::Uuid;

use super::PgStore;
use crate::contact_notes::{ContactNote, ContactNoteStore, check_note};
use crate::{Result, StoreError};

const COLS: &str = "n.id, n.contact_id, n.author_id, COALESCE(u.name, '') AS author_name, n.body, n.created_at, \
    n.updated_at FROM contact_notes n LEFT JOIN users u ON u.id = n.author_id";

fn note(r: &PgRow) -> Result<ContactNote> {
    Ok(ContactNote {
        id: r.try_get("id")?,
        contact_id: ContactId(r.try_get("contact_id")?),
        author_id: UserId(r.try_get("author_id")?),
        author_name: r.try_get("author_name")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

#[async_trait]
impl ContactNoteStore for PgStore {
    async fn add_contact_note(
        &self,
        contact: ContactId,
        author: UserId,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<ContactNote> {
        check_note(body)?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM contacts WHERE id = $1)")
            .bind(contact.0)
            .fetch_one(&self.pool)
            .await?;
        if !exists {
            return Err(StoreError::NotFound("contact"));
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO contact_notes (id, contact_id, author_id, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id)
        .bind(contact.0)
        .bind(author.0)
        .bind(body)
        .bind(at)
        .execute(&self.pool)
        .await?;
        self.get_contact_note(id).await?.ok_or(StoreError::NotFound("note"))
    }

    async fn update_contact_note(&self, id: Uuid, body: &str, at: DateTime<Utc>) -> Result<ContactNote> {
        check_note(body)?;
        let n = sqlx::query("UPDATE contact_notes SET body = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(body)
            .bind(at)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("note"));
        }
        self.get_contact_note(id).await?.ok_or(StoreError::NotFound("note"))
    }

    async fn get_contact_note(&self, id: Uuid) -> Result<Option<ContactNote>> {
        let row = sqlx::query(&format!("SELECT {COLS} WHERE n.id = $1")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(note).transpose()
    }

    async fn list_contact_notes(&self, contact: ContactId) -> Result<Vec<ContactNote>> {
        let rows = sqlx::query(&format!("SELECT {COLS} WHERE n.contact_id = $1 ORDER BY n.created_at DESC, n.id DESC"))
            .bind(contact.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(note).collect()
    }
}
