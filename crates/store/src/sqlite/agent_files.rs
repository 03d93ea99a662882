//! [`AgentFileStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::params;
use switchboard_domain::{Attachment, MessageId};

use super::SqliteStore;
use crate::agent_files::AgentFileStore;
use crate::{Result, StoreError};

#[async_trait]
impl AgentFileStore for SqliteStore {
    async fn set_reply_attachments(&self, message_id: MessageId, attachments: &[Attachment]) -> Result<()> {
        let json = serde_json::to_string(attachments)?;
        self.conns
            .write(move |c| {
                let n = c.execute(
                    "UPDATE messages SET attachments = ?2 WHERE id = ?1 AND direction = 'outbound'",
                    params![message_id.0, json],
                )?;
                if n == 0 { Err(StoreError::NotFound("reply")) } else { Ok(()) }
            })
            .await
    }
}
