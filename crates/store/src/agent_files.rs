//! Files agents send: an agent's reply that carries a file (the website chat widget's media
//! replies) lists it in the message's attachments, like a customer's file, so the agent UI and
//! the API show and serve it.

use async_trait::async_trait;
use switchboard_domain::{Attachment, MessageId};

use crate::Result;

/// Attachments of agents' replies.
#[async_trait]
pub trait AgentFileStore: Send + Sync {
    /// Sets the attachments of an agent's reply (`NotFound` for any other message). Setting the
    /// same list again changes nothing.
    async fn set_reply_attachments(&self, message_id: MessageId, attachments: &[Attachment]) -> Result<()>;
}
