//! Delivery through a provider channel's [`Sender`]: the outbox row plus what the store knows
//! about the conversation (the customer's handle, the message being answered, when the customer
//! last wrote, a template or media payload) become one [`OutboundRequest`].

use chrono::Utc;
use switchboard_channels::{ChannelSettings, OutboundRequest, SendError, Sender};
use switchboard_store::{DynStore, OutboxItem};

use crate::delivery::DeliveryError;
use crate::{Bus, RealtimeEvent};

/// The channel settings a sender sees.
pub fn settings(ch: &switchboard_store::ChannelRecord) -> ChannelSettings {
    ChannelSettings { slug: ch.slug.clone(), kind: ch.kind, secret: ch.secret.clone(), config: ch.config.clone() }
}

pub(crate) async fn deliver(sender: &dyn Sender, store: &DynStore, item: &OutboxItem) -> Result<String, DeliveryError> {
    let unavailable = |e: switchboard_store::StoreError| DeliveryError::Retryable {
        reason: format!("cannot read the conversation: {e}"),
        retry_after: None,
    };
    let ctx = store.reply_context(item.conversation_id).await.map_err(unavailable)?;
    let payload = store.reply_payload(item.message_id).await.map_err(unavailable)?;
    let previous_error = if item.attempts > 1 {
        store.send_schedule(item.message_id).await.map_err(unavailable)?.and_then(|s| s.last_error)
    } else {
        None
    };
    let req = OutboundRequest {
        channel: settings(&item.channel),
        idempotency_key: item.id.to_string(),
        attempt: item.attempts,
        recipient: item.recipient.clone(),
        recipient_handle: ctx.recipient_handle,
        thread_key: item.thread_key.clone(),
        visibility: item.visibility,
        text: item.text.clone(),
        payload,
        reply_to: ctx.last_inbound_id,
        last_inbound_at: ctx.last_inbound_at,
        queued_at: item.created_at,
        previous_error,
        now: Utc::now(),
    };
    match sender.send(&req).await {
        Ok(receipt) => Ok(receipt.provider_message_id),
        Err(SendError::Retryable { reason, retry_after }) => Err(DeliveryError::Retryable { reason, retry_after }),
        Err(SendError::Permanent(reason)) => Err(DeliveryError::Permanent(reason)),
    }
}

/// After a send is recorded: applies the provider reports that arrived before it.
pub(crate) async fn after_sent(store: &DynStore, bus: &Bus, item: &OutboxItem, provider_id: &str) {
    // Only provider channels report through webhooks that can overtake the send.
    if item.channel.kind == switchboard_domain::ChannelKind::Api {
        return;
    }
    if item.channel.kind == switchboard_domain::ChannelKind::Web {
        return crate::widget::after_sent(bus, item, provider_id).await;
    }
    match store.apply_pending_deliveries(&item.channel.slug, provider_id).await {
        Ok(Some(m)) => {
            tracing::debug!(message_id = %m.id, status = ?m.delivery_status, "early delivery reports applied");
            bus.publish(RealtimeEvent::new(
                "message.updated",
                item.conversation_id,
                Some(item.case_number),
                Some(m.id),
            ))
            .await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, message_id = %item.message_id, "cannot apply early delivery reports"),
    }
}
