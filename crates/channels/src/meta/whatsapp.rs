//! WhatsApp Cloud API webhooks: `object = whatsapp_business_account`, `entry[].changes[]` with
//! `field = messages` carrying `contacts`, `messages` and/or `statuses`.

use serde_json::{Value, json};
use switchboard_domain::{Attachment, ContactRef, DeliveryStatus, InboundEvent, Visibility};

use super::{keep_raw, s, timestamp};
use crate::{ChannelSettings, IdentityLink, StatusUpdate, WebhookBatch};

/// Media message types: their object carries `id`, `mime_type`, `sha256`, maybe `caption`/`filename`.
const MEDIA_TYPES: &[&str] = &["image", "audio", "video", "document", "sticker"];

pub(crate) fn parse(ch: &ChannelSettings, entries: &[Value], batch: &mut WebhookBatch) {
    for entry in entries {
        let Some(changes) = entry.get("changes").and_then(|c| c.as_array()) else {
            batch.skipped.push("entry without changes".into());
            continue;
        };
        for change in changes {
            let field = change.get("field").and_then(|f| f.as_str()).unwrap_or("");
            let Some(value) = change.get("value") else { continue };
            if field != "messages" {
                batch.skipped.push(format!("change field {field:?} is not handled"));
                continue;
            }
            let contacts: &[Value] = value.get("contacts").and_then(|c| c.as_array()).map_or(&[], Vec::as_slice);
            let phone_number_id = value.get("metadata").and_then(|m| s(m, "phone_number_id"));
            for msg in value.get("messages").and_then(|m| m.as_array()).map_or(&[][..], Vec::as_slice) {
                match message(ch, msg, contacts, phone_number_id) {
                    Ok((ev, link)) => {
                        batch.messages.push(ev);
                        batch.identity_links.extend(link);
                    }
                    Err(why) => batch.skipped.push(why),
                }
            }
            for st in value.get("statuses").and_then(|m| m.as_array()).map_or(&[][..], Vec::as_slice) {
                match status(st, phone_number_id) {
                    Ok(u) => batch.statuses.push(u),
                    Err(why) => batch.skipped.push(why),
                }
            }
        }
    }
}

/// The contact entry that describes the sender of `msg`.
fn contact_of<'a>(msg: &Value, contacts: &'a [Value]) -> Option<&'a Value> {
    let from = s(msg, "from");
    let from_user = s(msg, "from_user_id");
    contacts
        .iter()
        .find(|c| (from.is_some() && s(c, "wa_id") == from) || (from_user.is_some() && s(c, "user_id") == from_user))
        .or(if contacts.len() == 1 { contacts.first() } else { None })
}

fn message(
    ch: &ChannelSettings,
    msg: &Value,
    contacts: &[Value],
    phone_number_id: Option<&str>,
) -> Result<(InboundEvent, Option<IdentityLink>), String> {
    let id = s(msg, "id").ok_or("message without id")?;
    let contact = contact_of(msg, contacts);
    let phone = s(msg, "from").or_else(|| contact.and_then(|c| s(c, "wa_id")));
    let bsuid = s(msg, "from_user_id").or_else(|| contact.and_then(|c| s(c, "user_id")));
    let profile = contact.and_then(|c| c.get("profile"));
    let name = profile.and_then(|p| s(p, "name"));
    let username = profile.and_then(|p| s(p, "username"));
    // Usernames hide phone numbers: the business-scoped user id is the stable key when present.
    let key = bsuid.or(phone).ok_or_else(|| format!("message {id} names no sender (from / from_user_id)"))?;
    let link = match (bsuid, phone) {
        (Some(b), Some(p)) => Some(IdentityLink {
            provider_user_id: b.to_owned(),
            alias: p.to_owned(),
            account: phone_number_id.map(str::to_owned),
        }),
        _ => None,
    };
    let handle = phone.map(|p| format!("+{}", p.trim_start_matches('+'))).or(username.map(|u| format!("@{u}")));
    let kind = s(msg, "type").unwrap_or("unknown");
    let (text, attachments) = content(kind, msg);
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: id.to_owned(),
        contact: ContactRef {
            provider_user_id: key.to_owned(),
            handle,
            display_name: name.map(str::to_owned).or(username.map(str::to_owned)),
        },
        thread_key: s(msg, "group_id").map(|g| format!("group:{g}")).unwrap_or_default(),
        visibility: Visibility::Private,
        text,
        attachments,
        sent_at: timestamp(msg.get("timestamp")),
        extra: serde_json::Map::new(),
    };
    keep_raw(&mut ev, kind, msg);
    // A pressed reply button / list row / template quick-reply button.
    let obj = msg.get(kind).unwrap_or(&Value::Null);
    match kind {
        "interactive" => {
            let reply = s(obj, "type").and_then(|t| obj.get(t)).unwrap_or(&Value::Null);
            if let Some(data) = s(reply, "id") {
                crate::buttons::pressed(&mut ev, s(reply, "title").unwrap_or(data), data);
            }
        }
        "button" => {
            if let Some(data) = s(obj, "payload").or_else(|| s(obj, "text")) {
                crate::buttons::pressed(&mut ev, s(obj, "text").unwrap_or(data), data);
            }
        }
        _ => {}
    }
    let mut ids = serde_json::Map::new();
    for (k, v) in [
        ("wa_id", phone),
        ("user_id", bsuid),
        ("parent_user_id", s(msg, "from_parent_user_id").or_else(|| contact.and_then(|c| s(c, "parent_user_id")))),
        ("username", username),
        ("phone_number_id", phone_number_id),
    ] {
        if let Some(v) = v {
            ids.insert(k.into(), Value::String(v.to_owned()));
        }
    }
    ev.extra.insert("whatsapp".into(), Value::Object(ids));
    if let Some(ctx) = msg.get("context").and_then(|c| s(c, "id")) {
        ev.extra.insert("reply_to".into(), json!(ctx));
    }
    if let Some(r) = msg.get("referral") {
        ev.extra.insert("referral".into(), r.clone());
    }
    Ok((ev, link))
}

/// Text shown to agents and attachment metadata for each message type. Types without text get a
/// readable description, so nothing arrives empty; the raw JSON is kept beside it.
fn content(kind: &str, msg: &Value) -> (String, Vec<Attachment>) {
    let obj = msg.get(kind).unwrap_or(&Value::Null);
    match kind {
        "text" => (obj.get("body").and_then(|b| b.as_str()).unwrap_or("").to_owned(), vec![]),
        k if MEDIA_TYPES.contains(&k) => {
            let att = Attachment {
                kind: k.to_owned(),
                url: None,
                mime_type: s(obj, "mime_type").map(str::to_owned),
                filename: s(obj, "filename").map(str::to_owned),
                size: obj.get("file_size").and_then(|n| n.as_u64()),
                provider_id: s(obj, "id").map(str::to_owned),
            };
            let text = s(obj, "caption").unwrap_or("").to_owned();
            (text, vec![att])
        }
        "location" => {
            let lat = obj.get("latitude").and_then(|n| n.as_f64()).unwrap_or(0.0);
            let lon = obj.get("longitude").and_then(|n| n.as_f64()).unwrap_or(0.0);
            let place: Vec<&str> = [s(obj, "name"), s(obj, "address")].into_iter().flatten().collect();
            let text = if place.is_empty() {
                format!("📍 Location ({lat}, {lon})")
            } else {
                format!("📍 {} ({lat}, {lon})", place.join(", "))
            };
            let att = Attachment {
                kind: "location".into(),
                url: Some(format!("https://www.openstreetmap.org/?mlat={lat}&mlon={lon}")),
                mime_type: None,
                filename: None,
                size: None,
                provider_id: None,
            };
            (text, vec![att])
        }
        "contacts" => {
            let cards: Vec<String> = msg
                .get("contacts")
                .and_then(|c| c.as_array())
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|c| {
                    let name = c.get("name").and_then(|n| s(n, "formatted_name")).unwrap_or("(no name)");
                    let phones: Vec<&str> = c
                        .get("phones")
                        .and_then(|p| p.as_array())
                        .map_or(&[][..], Vec::as_slice)
                        .iter()
                        .filter_map(|p| s(p, "phone"))
                        .collect();
                    if phones.is_empty() { name.to_owned() } else { format!("{name} ({})", phones.join(", ")) }
                })
                .collect();
            (format!("👤 Shared contact: {}", cards.join("; ")), vec![])
        }
        "interactive" => {
            let sub = s(obj, "type").unwrap_or("");
            let reply = obj.get(sub).unwrap_or(&Value::Null);
            let text = match (s(reply, "title"), s(reply, "description")) {
                (Some(t), Some(d)) => format!("{t} — {d}"),
                (Some(t), None) => t.to_owned(),
                _ => format!("[interactive reply: {sub}]"),
            };
            (text, vec![])
        }
        "button" => (s(obj, "text").or_else(|| s(obj, "payload")).unwrap_or("[button]").to_owned(), vec![]),
        "reaction" => match s(obj, "emoji") {
            Some(e) => (format!("Reacted {e} to a message"), vec![]),
            None => ("Removed a reaction".into(), vec![]),
        },
        "order" => {
            let n = obj.get("product_items").and_then(|p| p.as_array()).map_or(0, Vec::len);
            (format!("🛒 Order with {n} item(s)"), vec![])
        }
        "system" => (s(obj, "body").unwrap_or("[system message]").to_owned(), vec![]),
        "unsupported" | "unknown" => {
            let what = s(obj, "type").unwrap_or("unknown");
            let err = msg
                .get("errors")
                .and_then(|e| e.get(0))
                .map(|e| {
                    let code = e.get("code").and_then(|c| c.as_i64()).map(|c| format!(" {c}")).unwrap_or_default();
                    format!(" (error{code}: {})", s(e, "title").unwrap_or(""))
                })
                .unwrap_or_default();
            (format!("[Unsupported WhatsApp message type: {what}{err}]"), vec![])
        }
        other => (format!("[WhatsApp {other} message]"), vec![]),
    }
}

fn status(st: &Value, phone_number_id: Option<&str>) -> Result<StatusUpdate, String> {
    let id = s(st, "id").ok_or("status without id")?;
    let status = match s(st, "status").unwrap_or("") {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" | "played" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        other => return Err(format!("status {other:?} for {id} is not tracked")),
    };
    let reason = st.get("errors").and_then(|e| e.get(0)).map(|e| {
        let code = e.get("code").and_then(|c| c.as_i64());
        let title = s(e, "title").or_else(|| s(e, "message")).unwrap_or("failed");
        let details = e.get("error_data").and_then(|d| s(d, "details"));
        let mut r = match code {
            Some(c) => format!("WhatsApp error {c}: {title}"),
            None => format!("WhatsApp: {title}"),
        };
        if let Some(d) = details {
            r.push_str(" — ");
            r.push_str(d);
        }
        r
    });
    Ok(StatusUpdate {
        provider_message_id: id.to_owned(),
        status,
        reason,
        at: timestamp(st.get("timestamp")),
        account: phone_number_id.map(str::to_owned),
    })
}
