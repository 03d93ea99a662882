//! [`AgentFileStore`] on PostgreSQL.

use async_trait::async_trait;
use switchboard_domain::{Attachment, MessageId};

use super::PgStore;
use crate::agent_files::AgentFileStore;
use crate::{Result, StoreError};

#[async_trait]
impl AgentFileStore for PgStore {
    async fn set_reply_attachments(&self, message_id: MessageId, attachments: &[Attachment]) -> Result<()> {
        let n = sqlx::query("UPDATE messages SET attachments = $2 WHERE id = $1 AND direction = 'outbound'")
            .bind(message_id.0)
            .bind(serde_json::to_string(attachments)?)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 { Err(StoreError::NotFound("reply")) } else { Ok(()) }
    }
}
