//! Instagram webhooks (`object = instagram`): DMs in `entry[].messaging[]` (the Messenger shapes,
//! plus story replies and story mentions), and public `comments` / `mentions` on the brand's posts
//! in `entry[].changes[]` (Facebook login) or `entry[].field/value` (Instagram login).

use serde_json::{Value, json};
use switchboard_domain::{ContactRef, InboundEvent, Visibility};

use super::messenger::messaging_event;
use super::{MetaConfig, keep_raw, s, timestamp};
use crate::{ChannelSettings, Echo, WebhookBatch};

/// Thread key prefix of a post's public comments: one conversation per customer per post.
pub const POST_THREAD: &str = "post:";
/// Thread key prefix of mentions of the brand on a post.
pub const MENTION_THREAD: &str = "mention:";

pub(crate) fn parse(ch: &ChannelSettings, cfg: &MetaConfig, entries: &[Value], batch: &mut WebhookBatch) {
    for entry in entries {
        let own = cfg.ig_account_id.as_deref().or_else(|| s(entry, "id"));
        let at = timestamp(entry.get("time"));
        let mut handled = false;
        if let Some(events) = entry.get("messaging").and_then(|m| m.as_array()) {
            handled = true;
            for ev in events {
                messaging_event(ch, own, ev, "Instagram", batch);
            }
        }
        if let Some(changes) = entry.get("changes").and_then(|c| c.as_array()) {
            handled = true;
            for c in changes {
                change(ch, own, c, at, batch);
            }
        }
        // Instagram-login webhooks put one change directly on the entry.
        if entry.get("field").is_some() && entry.get("value").is_some() {
            handled = true;
            change(ch, own, entry, at, batch);
        }
        if !handled {
            batch.skipped.push("Instagram entry without messaging or changes".into());
        }
    }
}

fn change(
    ch: &ChannelSettings,
    own: Option<&str>,
    c: &Value,
    entry_time: chrono::DateTime<chrono::Utc>,
    batch: &mut WebhookBatch,
) {
    let field = s(c, "field").unwrap_or("");
    let Some(v) = c.get("value") else { return };
    match field {
        "comments" | "live_comments" => comment(ch, own, field, v, entry_time, batch),
        "mentions" => mention(ch, own, v, entry_time, batch),
        other => batch.skipped.push(format!("Instagram change field {other:?} is not handled")),
    }
}

fn comment(
    ch: &ChannelSettings,
    own: Option<&str>,
    field: &str,
    v: &Value,
    at: chrono::DateTime<chrono::Utc>,
    batch: &mut WebhookBatch,
) {
    let Some(id) = s(v, "id").or_else(|| s(v, "comment_id")) else {
        return batch.skipped.push("Instagram comment without id".into());
    };
    let from = v.get("from");
    let Some(from_id) = from.and_then(|f| s(f, "id")) else {
        return batch.skipped.push(format!("Instagram comment {id} without from.id"));
    };
    let media = v.get("media").and_then(|m| s(m, "id")).or_else(|| s(v, "media_id")).unwrap_or("unknown");
    let text = s(v, "text").unwrap_or("").to_owned();
    let thread_key = format!("{POST_THREAD}{media}");
    if Some(from_id) == own {
        // The brand's own comment (a reply made here or elsewhere).
        let recipient = batch
            .messages
            .iter()
            .rev()
            .find(|m| m.thread_key == thread_key)
            .map(|m| m.contact.provider_user_id.clone());
        batch.echoes.push(Echo {
            provider_message_id: id.to_owned(),
            recipient: recipient.unwrap_or_default(),
            thread_key,
            text,
            attachments: vec![],
            sent_at: at,
            sent_by_switchboard: false,
            switchboard_key: None,
        });
        return;
    }
    let username = from.and_then(|f| s(f, "username"));
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: id.to_owned(),
        contact: ContactRef {
            provider_user_id: from_id.to_owned(),
            handle: username.map(|u| format!("@{u}")),
            display_name: username.map(str::to_owned),
        },
        thread_key,
        visibility: Visibility::Public,
        text: if text.trim().is_empty() { "[comment without text]".into() } else { text },
        attachments: vec![],
        sent_at: at,
        extra: serde_json::Map::new(),
    };
    keep_raw(&mut ev, if field == "live_comments" { "live_comment" } else { "comment" }, v);
    ev.extra.insert("media_id".into(), json!(media));
    if let Some(p) = s(v, "parent_id") {
        ev.extra.insert("parent_id".into(), json!(p));
    }
    batch.messages.push(ev);
}

fn mention(
    ch: &ChannelSettings,
    own: Option<&str>,
    v: &Value,
    at: chrono::DateTime<chrono::Utc>,
    batch: &mut WebhookBatch,
) {
    let Some(media) = s(v, "media_id") else {
        return batch.skipped.push("Instagram mention without media_id".into());
    };
    let comment = s(v, "comment_id");
    // The webhook names neither the author nor the text: both are read with the Graph API by the
    // agent's client. The conversation is keyed on the post.
    let (id, text) = match comment {
        Some(c) => {
            (c.to_owned(), format!("Mentioned @{} in a comment on post {media} (comment {c})", own.unwrap_or("us")))
        }
        None => (format!("media:{media}"), format!("Mentioned @{} in post {media}", own.unwrap_or("us"))),
    };
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: id,
        contact: ContactRef {
            provider_user_id: format!("{MENTION_THREAD}{media}"),
            handle: None,
            display_name: Some("Instagram mention".into()),
        },
        thread_key: format!("{MENTION_THREAD}{media}"),
        visibility: Visibility::Public,
        text,
        attachments: vec![],
        sent_at: at,
        extra: serde_json::Map::new(),
    };
    keep_raw(&mut ev, if comment.is_some() { "mention_comment" } else { "mention_media" }, v);
    ev.extra.insert("media_id".into(), json!(media));
    if let Some(c) = comment {
        ev.extra.insert("comment_id".into(), json!(c));
    }
    batch.messages.push(ev);
}

/// Who wrote a comment that mentions the brand, read through the Graph API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionAuthor {
    /// The author's Instagram-scoped id, when the API names it.
    pub id: Option<String>,
    /// Their @username (without the `@`).
    pub username: String,
    /// The comment's text.
    pub text: Option<String>,
}

/// What a mention webhook names: the comment that mentions the brand, or (a caption mention)
/// the post whose caption does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mention<'a> {
    /// `comment_id`.
    Comment(&'a str),
    /// `media_id` of a post whose caption mentions the brand.
    Media(&'a str),
}

/// Looks up who mentioned the brand and what they wrote (the mentions webhook names neither):
/// `GET /{ig-user-id}?fields=mentioned_comment.comment_id({id}){id,text,username,timestamp,from}`
/// for a comment, `…mentioned_media.media_id({id}){id,caption,username,timestamp,owner}` for a
/// caption. `Err` says why it could not be read.
pub async fn lookup_mention(
    client: &reqwest::Client,
    cfg: &MetaConfig,
    mention: Mention<'_>,
) -> Result<MentionAuthor, String> {
    let account = cfg.ig_account_id.as_deref().filter(|a| !a.is_empty()).ok_or("config.ig_account_id is not set")?;
    let token = cfg.access_token.as_deref().filter(|t| !t.is_empty()).ok_or("config.access_token is not set")?;
    let (field, id) = match mention {
        Mention::Comment(c) => ("mentioned_comment", c),
        Mention::Media(m) => ("mentioned_media", m),
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{:?} is not a Graph id", id.chars().take(40).collect::<String>()));
    }
    let fields = match mention {
        Mention::Comment(c) => format!("mentioned_comment.comment_id({c}){{id,text,username,timestamp,from}}"),
        Mention::Media(m) => format!("mentioned_media.media_id({m}){{id,caption,username,timestamp,owner}}"),
    };
    let url = format!("{}/{account}?fields={fields}", cfg.graph_base());
    let resp = client.get(&url).bearer_auth(token).send().await.map_err(|e| format!("Graph API: {e}"))?;
    let status = resp.status();
    let v: Value = resp.json().await.map_err(|e| format!("Graph API answered no JSON: {e}"))?;
    if !status.is_success() {
        let msg = v.pointer("/error/message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("Graph API {status}: {msg}"));
    }
    let c = v.get(field).ok_or_else(|| format!("the answer has no {field}"))?;
    let who = c.get("from").or_else(|| c.get("owner"));
    let username = s(c, "username")
        .or_else(|| who.and_then(|f| s(f, "username")))
        .ok_or_else(|| format!("the {field} names no username"))?;
    Ok(MentionAuthor {
        id: who.and_then(|f| s(f, "id")).map(str::to_owned),
        username: username.to_owned(),
        text: s(c, "text").or_else(|| s(c, "caption")).map(str::to_owned),
    })
}
