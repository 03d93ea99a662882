//! The audit log: who changed what, when, with the state before and after. Admin changes and
//! sensitive agent actions are written here; admins read it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::UserId;

use crate::{Page, Result};

/// An entry to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Who did it (`None` for the system).
    pub actor_id: Option<UserId>,
    /// What, as `area.verb`: `channel.update`, `user.create`, `session.logout_all`.
    pub action: String,
    /// What it was done to: a slug, an email, a case number.
    pub target: String,
    /// State before (no secrets).
    pub before: Option<serde_json::Value>,
    /// State after (no secrets).
    pub after: Option<serde_json::Value>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Id (UUIDv7).
    pub id: uuid::Uuid,
    /// Who did it.
    pub actor_id: Option<UserId>,
    /// The actor's email at read time.
    pub actor_email: Option<String>,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// Before.
    pub before: Option<serde_json::Value>,
    /// After.
    pub after: Option<serde_json::Value>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Which entries to list; newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor_id: Option<UserId>,
    /// Only actions starting with this (`channel.`).
    pub action_prefix: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–200).
    pub limit: u32,
}

/// Append-only audit storage.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn record_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry>;
    /// A page of entries, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Page<AuditEntry>>;
}
