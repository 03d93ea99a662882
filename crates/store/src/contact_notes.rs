//! Notes agents keep on a contact (shown in the conversation's side panel): who wrote them and
//! when, editable afterwards.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::{ContactId, UserId};
use uuid::Uuid;

use crate::{Result, StoreError};

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// A note on a contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactNote {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// The contact.
    pub contact_id: ContactId,
    /// Who wrote it.
    pub author_id: UserId,
    /// The author's name at read time.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// Written.
    pub created_at: DateTime<Utc>,
    /// Last edited (equal to `created_at` when never edited).
    pub updated_at: DateTime<Utc>,
}

/// Checks a note's text: not blank, at most [`MAX_NOTE_CHARS`].
pub fn check_note(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(StoreError::Invalid("a note must not be empty".into()));
    }
    let n = body.chars().count();
    if n > MAX_NOTE_CHARS {
        return Err(StoreError::Invalid(format!("a note has at most {MAX_NOTE_CHARS} characters, this one {n}")));
    }
    Ok(())
}

/// Persistence of contact notes.
#[async_trait]
pub trait ContactNoteStore {
    /// Adds a note; `Invalid` for an empty or too long text, `NotFound` for an unknown contact.
    async fn add_contact_note(
        &self,
        contact: ContactId,
        author: UserId,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<ContactNote>;
    /// Replaces a note's text.
    async fn update_contact_note(&self, id: Uuid, body: &str, at: DateTime<Utc>) -> Result<ContactNote>;
    /// One note.
    async fn get_contact_note(&self, id: Uuid) -> Result<Option<ContactNote>>;
    /// A contact's notes, newest first.
    async fn list_contact_notes(&self, contact: ContactId) -> Result<Vec<ContactNote>>;
}
