//! Messenger webhooks (`object = page`): `entry[].messaging[]` events — messages, echoes,
//! postbacks, quick replies, reactions, deliveries and reads. Instagram messaging uses the same
//! event shapes, so [`messaging_event`] serves both.

use serde_json::{Value, json};
use switchboard_domain::{Attachment, ContactRef, DeliveryStatus, InboundEvent, Visibility};

use super::{MetaConfig, keep_raw, s, timestamp};
use crate::{ChannelSettings, Echo, ReadWatermark, StatusUpdate, WebhookBatch};

/// Metadata Switchboard attaches to its own sends; an echo carrying it is one of ours.
pub const OWN_METADATA_PREFIX: &str = "switchboard:";

pub(crate) fn parse(ch: &ChannelSettings, cfg: &MetaConfig, entries: &[Value], batch: &mut WebhookBatch) {
    for entry in entries {
        let own = cfg.page_id.as_deref().or_else(|| s(entry, "id"));
        let Some(events) = entry.get("messaging").or_else(|| entry.get("standby")).and_then(|m| m.as_array()) else {
            batch.skipped.push("entry without messaging events".into());
            continue;
        };
        for ev in events {
            messaging_event(ch, own, ev, "Messenger", batch);
        }
    }
}

/// One `messaging[]` event. `own` is the page / Instagram account id: a sender equal to it is the
/// brand itself.
pub(crate) fn messaging_event(
    ch: &ChannelSettings,
    own: Option<&str>,
    ev: &Value,
    product: &str,
    batch: &mut WebhookBatch,
) {
    let sender = ev.get("sender").and_then(|x| s(x, "id"));
    let recipient = ev.get("recipient").and_then(|x| s(x, "id"));
    let at = timestamp(ev.get("timestamp"));
    if let Some(msg) = ev.get("message") {
        let is_echo =
            msg.get("is_echo").and_then(|e| e.as_bool()).unwrap_or(false) || (sender.is_some() && sender == own);
        let Some(mid) = s(msg, "mid") else {
            batch.skipped.push(format!("{product} message without mid"));
            return;
        };
        let (text, attachments) = message_content(msg);
        if is_echo {
            let Some(to) = recipient else {
                batch.skipped.push(format!("{product} echo {mid} without recipient"));
                return;
            };
            let key = s(msg, "metadata").and_then(|m| m.strip_prefix(OWN_METADATA_PREFIX));
            batch.echoes.push(Echo {
                provider_message_id: mid.to_owned(),
                recipient: to.to_owned(),
                thread_key: String::new(),
                text,
                attachments,
                sent_at: at,
                sent_by_switchboard: key.is_some(),
                switchboard_key: key.map(str::to_owned),
            });
            return;
        }
        let Some(from) = sender else {
            batch.skipped.push(format!("{product} message {mid} without sender"));
            return;
        };
        let kind = if msg.get("quick_reply").is_some() {
            "quick_reply"
        } else if msg.get("reply_to").and_then(|r| r.get("story")).is_some() {
            "story_reply"
        } else if attachments.iter().any(|a| a.kind == "story_mention") {
            "story_mention"
        } else if msg.get("is_deleted").and_then(|d| d.as_bool()) == Some(true) {
            "deleted"
        } else if msg.get("is_unsupported").and_then(|d| d.as_bool()) == Some(true) {
            "unsupported"
        } else if attachments.is_empty() {
            "text"
        } else {
            "attachments"
        };
        let text = match kind {
            _ if !text.trim().is_empty() => text,
            "story_mention" => "[Mentioned you in their story]".into(),
            "deleted" => "[The customer deleted this message]".into(),
            "unsupported" => format!("[Unsupported {product} message]"),
            _ if !attachments.is_empty() => String::new(),
            _ => format!("[{product} message without text]"),
        };
        let mut out = event(ch, mid, from, at, text, attachments);
        keep_raw(&mut out, kind, ev);
        if let Some(p) = msg.get("quick_reply").and_then(|q| s(q, "payload")) {
            out.extra.insert("quick_reply_payload".into(), json!(p));
            // Messenger sends the quick reply's title as the text.
            let label = out.text.clone();
            crate::buttons::pressed(&mut out, &label, p);
        }
        if let Some(r) = msg.get("reply_to").and_then(|r| s(r, "mid")) {
            out.extra.insert("reply_to".into(), json!(r));
        }
        if let Some(story) = msg.get("reply_to").and_then(|r| r.get("story")) {
            out.extra.insert("story".into(), story.clone());
        }
        batch.messages.push(out);
    } else if let Some(pb) = ev.get("postback") {
        let Some(from) = sender else { return batch.skipped.push(format!("{product} postback without sender")) };
        // Postbacks carry a mid on current API versions; older ones are keyed on sender and time.
        let id =
            s(pb, "mid").map(str::to_owned).unwrap_or_else(|| format!("postback:{from}:{}", at.timestamp_millis()));
        let title = s(pb, "title").or_else(|| s(pb, "payload")).unwrap_or("postback");
        let mut out = event(ch, &id, from, at, title.to_owned(), vec![]);
        keep_raw(&mut out, "postback", ev);
        if let Some(p) = s(pb, "payload") {
            out.extra.insert("postback_payload".into(), json!(p));
            crate::buttons::pressed(&mut out, title, p);
        }
        batch.messages.push(out);
    } else if let Some(r) = ev.get("reaction") {
        let Some(from) = sender else { return batch.skipped.push(format!("{product} reaction without sender")) };
        let target = s(r, "mid").unwrap_or("");
        let action = s(r, "action").unwrap_or("react");
        let id = format!("reaction:{target}:{from}:{action}:{}", at.timestamp_millis());
        let text = match (action, s(r, "emoji").or_else(|| s(r, "reaction"))) {
            ("unreact", _) => "Removed a reaction".to_owned(),
            (_, Some(e)) => format!("Reacted {e} to a message"),
            _ => "Reacted to a message".to_owned(),
        };
        let mut out = event(ch, &id, from, at, text, vec![]);
        keep_raw(&mut out, "reaction", ev);
        out.extra.insert("reply_to".into(), json!(target));
        batch.messages.push(out);
    } else if let Some(d) = ev.get("delivery") {
        for mid in d.get("mids").and_then(|m| m.as_array()).map_or(&[][..], Vec::as_slice) {
            if let Some(mid) = mid.as_str() {
                batch.statuses.push(StatusUpdate {
                    provider_message_id: mid.to_owned(),
                    status: DeliveryStatus::Delivered,
                    reason: None,
                    at: timestamp(d.get("watermark")),
                    account: None,
                });
            }
        }
    } else if let Some(r) = ev.get("read") {
        match sender {
            Some(from) => {
                batch.reads.push(ReadWatermark { customer: from.to_owned(), watermark: timestamp(r.get("watermark")) })
            }
            None => batch.skipped.push(format!("{product} read receipt without sender")),
        }
    } else {
        let kinds: Vec<&str> = ev
            .as_object()
            .map(|o| {
                o.keys().map(String::as_str).filter(|k| !matches!(*k, "sender" | "recipient" | "timestamp")).collect()
            })
            .unwrap_or_default();
        batch.skipped.push(format!("{product} event {kinds:?} is not handled"));
    }
}

fn event(
    ch: &ChannelSettings,
    id: &str,
    from: &str,
    at: chrono::DateTime<chrono::Utc>,
    text: String,
    attachments: Vec<Attachment>,
) -> InboundEvent {
    InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: id.to_owned(),
        contact: ContactRef { provider_user_id: from.to_owned(), handle: None, display_name: None },
        thread_key: String::new(),
        visibility: Visibility::Private,
        text,
        attachments,
        sent_at: at,
        extra: serde_json::Map::new(),
    }
}

fn message_content(msg: &Value) -> (String, Vec<Attachment>) {
    let text = msg.get("text").and_then(|t| t.as_str()).unwrap_or("").to_owned();
    let attachments = msg
        .get("attachments")
        .and_then(|a| a.as_array())
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .take(switchboard_domain::inbound::MAX_ATTACHMENTS)
        .map(|a| {
            let payload = a.get("payload").unwrap_or(&Value::Null);
            Attachment {
                kind: s(a, "type").unwrap_or("file").to_owned(),
                url: s(payload, "url").map(str::to_owned),
                mime_type: None,
                filename: s(payload, "title").map(str::to_owned),
                size: None,
                provider_id: s(payload, "attachment_id").or_else(|| s(payload, "sticker_id")).map(str::to_owned),
            }
        })
        .collect();
    (text, attachments)
}
