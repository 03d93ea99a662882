//! Replies to website chat widget visitors. "Sending" a reply appends it to the visitor's stream
//! (deduplicated on the outbox row id, so a resend after a crash is the same item) and tells
//! every node's open widget streams through the realtime bus; acknowledged means the item is
//! committed, and the visitor's client reads it by sequence number, once.

use serde_json::{Value, json};
use switchboard_store::{DynStore, MediaJob, OutboxItem};
use uuid::Uuid;

use crate::delivery::DeliveryError;
use crate::{Bus, RealtimeEvent};

/// The bus event kind that says a widget stream has new items (`data`: channel, subject, seq).
pub const STREAM_EVENT: &str = "widget.stream";

/// The item body the widget shows for one reply.
async fn reply_body(store: &DynStore, item: &OutboxItem) -> Result<Value, DeliveryError> {
    let unavailable = |e: switchboard_store::StoreError| DeliveryError::Retryable {
        reason: format!("cannot read the reply: {e}"),
        retry_after: None,
    };
    let payload = store.reply_payload(item.message_id).await.map_err(unavailable)?;
    let author = match store.get_message(item.message_id).await.map_err(unavailable)?.and_then(|m| m.author_id) {
        Some(id) => store.get_user(id).await.map_err(unavailable)?.map(|u| u.name),
        None => None,
    };
    let mut body = json!({
        "text": item.text,
        "author": {"name": author},
        "message_id": item.message_id.to_string(),
        "conversation_id": item.conversation_id.to_string(),
        "case_number": item.case_number.to_string(),
        "sent_at": item.created_at.to_rfc3339(),
    });
    // An agent's file (stored for this visitor's stream): the widget links it with the token.
    if let Some(m) = payload.as_ref().and_then(|p| p.get("media")).filter(|m| m.get("upload_id").is_some()) {
        body["attachments"] = json!([{
            "id": m["upload_id"], "name": m["filename"], "mime_type": m["mime_type"], "size": m["size"],
        }]);
    }
    // Only well-formed buttons reach the visitor: text to show, data to post back.
    if let Some(buttons) = payload.as_ref().and_then(|p| p.get("buttons")).and_then(Value::as_array) {
        let clean: Vec<Value> = buttons
            .iter()
            .filter_map(|b| {
                let text = b.get("text")?.as_str()?;
                let data = b.get("data")?.as_str()?;
                (!text.is_empty() && !data.is_empty()).then(|| json!({"text": text, "data": data}))
            })
            .take(10)
            .collect();
        if !clean.is_empty() {
            body["buttons"] = Value::Array(clean);
        }
    }
    Ok(body)
}

/// Delivers one reply into the visitor's stream; answers the provider id `<subject>#<seq>`.
pub(crate) async fn deliver(store: &DynStore, item: &OutboxItem) -> Result<String, DeliveryError> {
    let body = reply_body(store, item).await?;
    let (stored, _) = store
        .append_widget_item(&item.channel.slug, &item.recipient, &format!("o:{}", item.id), "agent", &body)
        .await
        .map_err(|e| DeliveryError::Retryable { reason: format!("cannot store the reply: {e}"), retry_after: None })?;
    Ok(format!("{}#{}", item.recipient, stored.seq))
}

/// Wakes the visitor's open streams on every node once the send is recorded.
pub(crate) async fn after_sent(bus: &Bus, item: &OutboxItem, provider_id: &str) {
    let seq = provider_id.rsplit_once('#').and_then(|(_, s)| s.parse::<i64>().ok()).unwrap_or(0);
    bus.publish(
        RealtimeEvent::new(STREAM_EVENT, item.conversation_id, Some(item.case_number), Some(item.message_id))
            .with_data(json!({"channel": item.channel.slug.as_str(), "subject": item.recipient, "seq": seq})),
    )
    .await;
}

/// A visitor's upload is already in the media directory: the "download" of a widget attachment
/// (provider id `upload:<id>`) only looks it up.
pub(crate) async fn local_media(store: &DynStore, job: &MediaJob) -> Result<(String, String, i64), (bool, String)> {
    let id = job
        .provider_id
        .strip_prefix("upload:")
        .and_then(|s| s.parse::<Uuid>().ok())
        .ok_or_else(|| (false, format!("{:?} is not a widget upload id", job.provider_id)))?;
    let up = store
        .widget_upload(id)
        .await
        .map_err(|e| (true, format!("cannot read the upload: {e}")))?
        .ok_or_else(|| (false, format!("upload {id} does not exist")))?;
    if up.channel != job.channel {
        return Err((false, format!("upload {id} belongs to another channel")));
    }
    Ok((up.path, up.mime_type, up.size))
}
