//! Account Activity events → canonical form. One POST covers one `for_user_id` (the brand) and may
//! hold several events of several types.
//!
//! * `tweet_create_events`: mentions, replies and quote posts become public messages threaded by
//!   the post's conversation; the brand's own posts become echoes; retweets become activity.
//! * `direct_message_events`: private messages (the `users` map names the sender); the brand's
//!   own DMs become echoes.
//! * `favorite_events`, `follow_events`: activity, never customer messages.
//! * `tweet_delete_events`: the post ids to mark deleted.
//!
//! Ids are read as strings (`id_str`); a numeric id is only read as an exact 64-bit integer.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchboard_domain::{Attachment, ContactRef, InboundEvent, Visibility};

use super::XConfig;
use crate::{ChannelSettings, Echo, WebhookBatch, WebhookError};

/// Thread key prefix of a public conversation (the post's conversation id follows).
pub const POST_THREAD: &str = "post:";

/// Something a user did that is kept but is not a message: a like, a follow, a retweet.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// `favorite`, `follow`, `unfollow`, `retweet`, …
    pub kind: String,
    /// A key that is the same for a redelivery of the same event.
    pub event_id: String,
    /// Who did it.
    pub user_id: String,
    /// The post it concerns, if any.
    pub tweet_id: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// The event as received.
    pub raw: Value,
}

/// A post deleted by its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The deleted post.
    pub tweet_id: String,
    /// Its author.
    pub user_id: Option<String>,
}

/// X-specific parts of a delivery that have no place in [`WebhookBatch`].
#[derive(Debug, Clone, Default)]
pub struct XExtras {
    /// Kept activity.
    pub activities: Vec<Activity>,
    /// Posts to mark deleted.
    pub deletions: Vec<Deletion>,
    /// Messages whose thread is only known by the post they answer (`in_reply_to`): the caller
    /// may refine it to the thread of that post if it is stored. Pairs of (event id, post id).
    pub reply_threads: Vec<(String, String)>,
}

/// An id field as a string: `<key>_str` first, then `<key>` as a string or an exact integer.
pub fn id(v: &Value, key: &str) -> Option<String> {
    if let Some(s) = v.get(format!("{key}_str")).and_then(Value::as_str).filter(|s| !s.is_empty()) {
        return Some(s.to_owned());
    }
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        // serde_json reads integers up to 2^64 exactly (never through f64).
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// `timestamp_ms` / `created_timestamp`: milliseconds, as a string or a number.
fn millis(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let n = match v? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp_millis(n)
}

/// v1.1 `created_at`: `Mon Mar 26 16:33:26 +0000 2018`.
fn created_at(v: &Value) -> Option<DateTime<Utc>> {
    let s = str_of(v, "created_at")?;
    DateTime::parse_from_str(s, "%a %b %d %H:%M:%S %z %Y").ok().map(|d| d.with_timezone(&Utc))
}

fn when(v: &Value) -> DateTime<Utc> {
    millis(v.get("timestamp_ms"))
        .or_else(|| millis(v.get("created_timestamp")))
        .or_else(|| created_at(v))
        .unwrap_or_else(Utc::now)
}

/// The full text of a post: long posts carry it in `extended_tweet.full_text` (v1.1) or
/// `note_tweet` (v2), `text` holds only the first 140/280 characters.
pub fn full_text(t: &Value) -> String {
    let candidates = [
        t.get("extended_tweet").and_then(|e| e.get("full_text")),
        t.get("note_tweet").and_then(|n| n.get("text")),
        t.get("note_tweet")
            .and_then(|n| n.get("note_tweet_results"))
            .and_then(|r| r.get("result"))
            .and_then(|r| r.get("text")),
        t.get("full_text"),
        t.get("text"),
    ];
    candidates.into_iter().flatten().find_map(Value::as_str).unwrap_or("").to_owned()
}

fn media(t: &Value) -> Vec<Attachment> {
    let list = t
        .get("extended_tweet")
        .and_then(|e| e.get("extended_entities"))
        .or_else(|| t.get("extended_entities"))
        .and_then(|e| e.get("media"))
        .and_then(Value::as_array);
    list.map(|l| l.iter().filter_map(attachment).collect()).unwrap_or_default()
}

fn attachment(m: &Value) -> Option<Attachment> {
    let kind = match str_of(m, "type")? {
        "photo" => "image",
        "video" | "animated_gif" => "video",
        other => other,
    };
    Some(Attachment {
        kind: kind.to_owned(),
        url: str_of(m, "media_url_https").or_else(|| str_of(m, "media_url")).map(str::to_owned),
        mime_type: None,
        filename: None,
        size: None,
        provider_id: id(m, "id"),
    })
}

fn contact(user_id: &str, user: Option<&Value>) -> ContactRef {
    let screen = user.and_then(|u| str_of(u, "screen_name").or_else(|| str_of(u, "username")));
    ContactRef {
        provider_user_id: user_id.to_owned(),
        handle: screen.map(|s| format!("@{s}")),
        display_name: user.and_then(|u| str_of(u, "name")).or(screen).map(str::to_owned),
    }
}

pub(crate) fn parse_into(
    ch: &ChannelSettings,
    cfg: &XConfig,
    v: &Value,
    batch: &mut WebhookBatch,
    extras: &mut XExtras,
) -> Result<(), WebhookError> {
    let for_user = str_of(v, "for_user_id").map(str::to_owned).or_else(|| cfg.user_id.clone());
    if let (Some(f), Some(own)) = (str_of(v, "for_user_id"), cfg.user_id.as_deref())
        && f != own
    {
        return Err(WebhookError::Payload(format!("delivery for_user_id {f} is not this channel's user_id {own}")));
    }
    let own = for_user.as_deref();
    let Some(obj) = v.as_object() else { return Ok(()) };
    let mut known = false;
    for (key, val) in obj {
        let list = val.as_array().map(Vec::as_slice).unwrap_or_default();
        match key.as_str() {
            "for_user_id" | "user_has_blocked" | "users" | "apps" => continue,
            "tweet_create_events" => list.iter().for_each(|t| tweet(ch, own, v, t, batch, extras)),
            "direct_message_events" => list.iter().for_each(|d| dm(ch, own, v, d, batch)),
            "favorite_events" => list.iter().for_each(|f| favorite(f, batch, extras)),
            "follow_events" => list.iter().for_each(|f| follow(f, batch, extras)),
            "tweet_delete_events" => list.iter().for_each(|d| match d.get("status").and_then(|s| id(s, "id")) {
                Some(tweet_id) => extras
                    .deletions
                    .push(Deletion { tweet_id, user_id: d.get("status").and_then(|s| id(s, "user_id")) }),
                None => batch.skipped.push("tweet_delete_event without status.id".into()),
            }),
            other => {
                batch.skipped.push(format!("Account Activity {other} are not handled"));
                continue;
            }
        }
        known = true;
    }
    if !known && batch.skipped.is_empty() {
        return Err(WebhookError::Payload("not an Account Activity event: no *_events array".into()));
    }
    Ok(())
}

fn tweet(
    ch: &ChannelSettings,
    own: Option<&str>,
    root: &Value,
    t: &Value,
    batch: &mut WebhookBatch,
    extras: &mut XExtras,
) {
    let Some(tid) = id(t, "id") else { return batch.skipped.push("tweet_create_event without id".into()) };
    let user = t.get("user");
    let Some(uid) = user.and_then(|u| id(u, "id")) else {
        return batch.skipped.push(format!("post {tid} without user.id"));
    };
    let at = when(t);
    if t.get("retweeted_status").is_some() {
        extras.activities.push(Activity {
            kind: "retweet".into(),
            event_id: tid.clone(),
            user_id: uid,
            tweet_id: t.get("retweeted_status").and_then(|r| id(r, "id")),
            at,
            raw: t.clone(),
        });
        return;
    }
    let in_reply_to = id(t, "in_reply_to_status_id");
    let conversation = id(t, "conversation_id");
    let thread_id = conversation.clone().or_else(|| in_reply_to.clone()).unwrap_or_else(|| tid.clone());
    let thread_key = format!("{POST_THREAD}{thread_id}");
    let text = full_text(t);
    if own == Some(uid.as_str()) {
        batch.echoes.push(Echo {
            provider_message_id: tid,
            recipient: id(t, "in_reply_to_user_id").unwrap_or_default(),
            thread_key,
            text,
            attachments: media(t),
            sent_at: at,
            sent_by_switchboard: false,
            switchboard_key: None,
        });
        return;
    }
    let kind = if t.get("is_quote_status").and_then(Value::as_bool) == Some(true) || t.get("quoted_status").is_some() {
        "quote"
    } else if in_reply_to.is_some() {
        "reply"
    } else {
        "mention"
    };
    let attachments = media(t);
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: tid.clone(),
        contact: contact(&uid, user),
        thread_key,
        visibility: Visibility::Public,
        text: if text.trim().is_empty() && attachments.is_empty() { "[post without text]".into() } else { text },
        attachments,
        sent_at: at,
        extra: serde_json::Map::new(),
    };
    ev.extra.insert("message_type".into(), json!(kind));
    ev.extra.insert("raw".into(), t.clone());
    if let Some(b) = root.get("user_has_blocked") {
        ev.extra.insert("user_has_blocked".into(), b.clone());
    }
    if let Some(r) = &in_reply_to {
        ev.extra.insert("in_reply_to_tweet_id".into(), json!(r));
        if conversation.is_none() {
            extras.reply_threads.push((tid, r.clone()));
        }
    }
    batch.messages.push(ev);
}

fn user_of<'a>(root: &'a Value, uid: &str) -> Option<&'a Value> {
    // The documented example nests the users inside `apps` (a doc bug); accept both.
    root.get("users").and_then(|u| u.get(uid)).or_else(|| root.get("apps").and_then(|a| a.get(uid)))
}

fn dm(ch: &ChannelSettings, own: Option<&str>, root: &Value, d: &Value, batch: &mut WebhookBatch) {
    let Some(did) = id(d, "id") else { return batch.skipped.push("direct_message_event without id".into()) };
    let kind = str_of(d, "type").unwrap_or("");
    if kind != "message_create" {
        return batch.skipped.push(format!("direct message event {did} of type {kind:?} is not handled"));
    }
    let mc = d.get("message_create").unwrap_or(&Value::Null);
    let Some(sender) = id(mc, "sender_id") else {
        return batch.skipped.push(format!("direct message {did} without sender_id"));
    };
    let recipient = mc.get("target").and_then(|t| id(t, "recipient_id"));
    let data = mc.get("message_data").unwrap_or(&Value::Null);
    let text = str_of(data, "text").unwrap_or("").to_owned();
    let attachments: Vec<Attachment> =
        data.get("attachment").and_then(|a| a.get("media")).and_then(attachment).into_iter().collect();
    let at = when(d);
    if own == Some(sender.as_str()) {
        batch.echoes.push(Echo {
            provider_message_id: did,
            recipient: recipient.unwrap_or_default(),
            thread_key: String::new(),
            text,
            attachments,
            sent_at: at,
            sent_by_switchboard: false,
            switchboard_key: None,
        });
        return;
    }
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: did,
        contact: contact(&sender, user_of(root, &sender)),
        thread_key: String::new(),
        visibility: Visibility::Private,
        text: if text.trim().is_empty() && attachments.is_empty() { "[message without text]".into() } else { text },
        attachments,
        sent_at: at,
        extra: serde_json::Map::new(),
    };
    ev.extra.insert("message_type".into(), json!("direct_message"));
    ev.extra.insert("raw".into(), d.clone());
    batch.messages.push(ev);
}

fn favorite(f: &Value, batch: &mut WebhookBatch, extras: &mut XExtras) {
    let (Some(eid), Some(uid)) = (id(f, "id"), f.get("user").and_then(|u| id(u, "id"))) else {
        return batch.skipped.push("favorite_event without id or user".into());
    };
    extras.activities.push(Activity {
        kind: "favorite".into(),
        event_id: eid,
        user_id: uid,
        tweet_id: f.get("favorited_status").and_then(|s| id(s, "id")),
        at: when(f),
        raw: f.clone(),
    });
}

fn follow(f: &Value, batch: &mut WebhookBatch, extras: &mut XExtras) {
    let kind = str_of(f, "type").unwrap_or("follow");
    let source = f.get("source").and_then(|s| id(s, "id"));
    let target = f.get("target").and_then(|s| id(s, "id"));
    let (Some(source), Some(target)) = (source, target) else {
        return batch.skipped.push("follow_event without source or target id".into());
    };
    let ts = f.get("created_timestamp").map(|t| t.to_string()).unwrap_or_default();
    extras.activities.push(Activity {
        kind: kind.to_owned(),
        event_id: format!("{kind}:{source}:{target}:{}", ts.trim_matches('"')),
        user_id: source,
        tweet_id: None,
        at: when(f),
        raw: f.clone(),
    });
}
