//! Telegram Bot API channel.
//!
//! Inbound: Telegram posts one `Update` per webhook request, authenticated by the
//! `X-Telegram-Bot-Api-Secret-Token` header (the `secret_token` given to `setWebhook`; here the
//! channel's `secret`), checked in constant time before anything is parsed. Outbound: see
//! [`outbound`]. A local Bot API: see [`simulator`].
//!
//! Provider ids (the dedupe key of each inbound event, so a redelivered update is a no-op):
//! * a message: `msg:<chat_id>:<message_id>`;
//! * an edit: `edit:<chat_id>:<message_id>:<edit_date>`, naming the original in
//!   `extra.edit_of`; threading updates the stored message in place and keeps the earlier texts
//!   (`switchboard_store::edits`);
//! * a callback query (button press): `callback:<id>`;
//! * any other update type: `update:<update_id>`.

pub mod media;
pub mod outbound;
pub mod simulator;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::{Attachment, ContactRef, InboundEvent, Visibility};

use crate::meta::signature::constant_time_eq;
use crate::meta::timestamp;
use crate::{ChannelSettings, WebhookBatch, WebhookError};

/// The header Telegram authenticates webhooks with.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Bot API used when a channel names none.
pub const DEFAULT_API_BASE_URL: &str = "https://api.telegram.org";

/// Update types Switchboard asks for in `setWebhook` / `getUpdates`.
pub const ALLOWED_UPDATES: &[&str] =
    &["message", "edited_message", "channel_post", "edited_channel_post", "callback_query"];

/// Thread key prefix of group chats (private chats use the contact's single thread, `""`).
pub const CHAT_THREAD: &str = "chat:";

/// A Telegram channel's settings (`ChannelRecord.config`; the webhook secret token is the
/// channel's `secret`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot token from @BotFather (`123456:ABC…`).
    #[serde(default)]
    pub bot_token: Option<String>,
    /// The bot's username without `@`; group messages that mention it are for the desk.
    #[serde(default)]
    pub bot_username: Option<String>,
    /// Bot API base URL (the simulator's URL in tests and the demo).
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Receive updates by long polling (`getUpdates`) instead of the webhook.
    #[serde(default)]
    pub polling: bool,
    /// Long-polling timeout in seconds (default 25, at most 50).
    #[serde(default)]
    pub poll_timeout_secs: Option<u64>,
}

impl TelegramConfig {
    /// Reads the config of a channel; a clear error names the bad key.
    pub fn from_settings(ch: &ChannelSettings) -> Result<TelegramConfig, String> {
        if ch.config.is_null() {
            return Ok(TelegramConfig::default());
        }
        serde_json::from_value(ch.config.clone()).map_err(|e| format!("channel {} config: {e}", ch.slug))
    }

    /// The Bot API base URL, without a trailing slash.
    pub fn api_base(&self) -> &str {
        self.api_base_url.as_deref().unwrap_or(DEFAULT_API_BASE_URL).trim_end_matches('/')
    }

    /// The bot's own user id: the part of the token before `:`.
    pub fn bot_id(&self) -> Option<&str> {
        self.bot_token.as_deref().and_then(|t| t.split_once(':')).map(|(id, _)| id).filter(|id| !id.is_empty())
    }

    /// The URL of a Bot API method.
    pub fn method_url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.api_base(), self.bot_token.as_deref().unwrap_or(""))
    }
}

/// Validates a channel's Telegram config for saving (admin API, CLI, config file).
pub fn validate_config(config: &Value) -> Result<(), String> {
    let cfg: TelegramConfig = if config.is_null() {
        TelegramConfig::default()
    } else {
        serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?
    };
    if let Some(url) = &cfg.api_base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!("config.api_base_url {url:?} is not an http(s) URL"));
    }
    if cfg.poll_timeout_secs.is_some_and(|t| t > 50) {
        return Err("config.poll_timeout_secs must be at most 50".into());
    }
    if cfg.polling && cfg.bot_token.is_none() {
        return Err("config.polling needs config.bot_token".into());
    }
    if let Some(t) = &cfg.bot_token
        && (t.split_once(':').is_none_or(|(id, rest)| id.is_empty() || rest.is_empty()) || t.contains('/'))
    {
        return Err("config.bot_token does not look like a bot token (<bot id>:<secret>)".into());
    }
    Ok(())
}

/// Checks the secret token header. The reason is safe to log (it never contains the secret).
pub fn verify(secret: Option<&str>, header: Option<&[u8]>) -> Result<(), WebhookError> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(WebhookError::Signature("the channel has no webhook secret token configured".into()));
    };
    let Some(header) = header else {
        return Err(WebhookError::Signature("missing X-Telegram-Bot-Api-Secret-Token header".into()));
    };
    if constant_time_eq(header, secret.as_bytes()) {
        Ok(())
    } else {
        Err(WebhookError::Signature("X-Telegram-Bot-Api-Secret-Token does not match".into()))
    }
}

/// Parses one webhook body (one `Update`). Never panics, whatever the bytes.
pub fn parse_webhook(ch: &ChannelSettings, body: &[u8]) -> Result<WebhookBatch, WebhookError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| WebhookError::Payload(format!("malformed JSON: {e}")))?;
    let mut batch = WebhookBatch::default();
    parse_update(ch, &v, &mut batch)?;
    // What is acknowledged must be storable: an event the store would refuse is reported, not
    // ingested (so it cannot block the delivery it came in).
    batch.messages.retain(|ev| match ev.validate() {
        Ok(()) => true,
        Err(e) => {
            batch.skipped.push(format!("message {}: {e}", ev.provider_event_id.chars().take(80).collect::<String>()));
            false
        }
    });
    Ok(batch)
}

/// Parses one `Update` object into `batch`.
pub fn parse_update(ch: &ChannelSettings, v: &Value, batch: &mut WebhookBatch) -> Result<(), WebhookError> {
    let Some(obj) = v.as_object() else {
        return Err(WebhookError::Payload("not a Telegram update: not a JSON object".into()));
    };
    let Some(update_id) = obj.get("update_id").and_then(Value::as_i64) else {
        return Err(WebhookError::Payload("not a Telegram update: no integer `update_id`".into()));
    };
    let cfg = TelegramConfig::from_settings(ch).unwrap_or_default();
    let Some((kind, body)) = obj.iter().find(|(k, _)| k.as_str() != "update_id") else {
        batch.skipped.push(format!("update {update_id} carries nothing"));
        return Ok(());
    };
    let parsed = match kind.as_str() {
        "message" => message(ch, &cfg, update_id, body, false),
        "edited_message" => message(ch, &cfg, update_id, body, true),
        "channel_post" => message(ch, &cfg, update_id, body, false),
        "edited_channel_post" => message(ch, &cfg, update_id, body, true),
        "callback_query" => callback(ch, update_id, body).map(Some),
        other => unknown(ch, update_id, other, body).map(Some),
    };
    match parsed {
        Ok(Some(ev)) => batch.messages.push(ev),
        Ok(None) => {}
        Err(why) => batch.skipped.push(why),
    }
    Ok(())
}

pub(crate) fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn id_of(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(Value::as_i64)
}

fn contact(user: &Value) -> Option<ContactRef> {
    let id = id_of(user, "id")?;
    let name: Vec<&str> = [str_of(user, "first_name"), str_of(user, "last_name")].into_iter().flatten().collect();
    let username = str_of(user, "username");
    Some(ContactRef {
        provider_user_id: id.to_string(),
        handle: username.map(|u| format!("@{u}")),
        display_name: if name.is_empty() { username.map(str::to_owned) } else { Some(name.join(" ")) },
    })
}

fn is_private(chat: &Value) -> bool {
    str_of(chat, "type").is_none_or(|t| t == "private")
}

fn thread_of(chat: &Value) -> String {
    match id_of(chat, "id") {
        Some(id) if !is_private(chat) => format!("{CHAT_THREAD}{id}"),
        _ => String::new(),
    }
}

/// The text covered by an entity; offsets and lengths count UTF-16 code units.
fn entity_text(text: &str, e: &Value) -> Option<String> {
    let off = usize::try_from(id_of(e, "offset")?).ok()?;
    let len = usize::try_from(id_of(e, "length")?).ok()?;
    let units: Vec<u16> = text.encode_utf16().collect();
    let end = off.checked_add(len)?;
    units.get(off..end).map(String::from_utf16_lossy)
}

/// In a group, whether a message is for the bot: a command (to any bot or to this one), a
/// mention of the bot, or a reply to one of the bot's messages.
fn addresses_bot(cfg: &TelegramConfig, msg: &Value, text: &str) -> bool {
    let username = cfg.bot_username.as_deref().map(|u| u.trim_start_matches('@').to_lowercase());
    let bot_id = cfg.bot_id();
    let entities = msg.get("entities").or_else(|| msg.get("caption_entities")).and_then(Value::as_array);
    for e in entities.map_or(&[][..], Vec::as_slice) {
        match str_of(e, "type") {
            Some("bot_command") => {
                match entity_text(text, e).and_then(|c| c.split_once('@').map(|(_, b)| b.to_lowercase())) {
                    None => return true,
                    Some(b) if username.as_deref() == Some(b.as_str()) => return true,
                    Some(_) => {}
                }
            }
            Some("mention") => {
                if let (Some(u), Some(m)) = (username.as_deref(), entity_text(text, e))
                    && m.trim_start_matches('@').to_lowercase() == u
                {
                    return true;
                }
            }
            Some("text_mention") => {
                let uid = e.get("user").and_then(|u| id_of(u, "id")).map(|i| i.to_string());
                if uid.is_some() && uid.as_deref() == bot_id {
                    return true;
                }
            }
            _ => {}
        }
    }
    if let Some(from) = msg.get("reply_to_message").and_then(|r| r.get("from"))
        && from.get("is_bot").and_then(Value::as_bool) == Some(true)
    {
        let same_name =
            username.as_deref().is_some_and(|u| str_of(from, "username").map(str::to_lowercase).as_deref() == Some(u));
        let same_id = bot_id.is_some() && id_of(from, "id").map(|i| i.to_string()).as_deref() == bot_id;
        // Without a configured bot identity any bot's message counts (only ours can be replied to
        // in the chats our bot sees, unless there are several bots).
        return same_name || same_id || (username.is_none() && bot_id.is_none());
    }
    false
}

fn file_attachment(kind: &str, obj: &Value) -> Attachment {
    Attachment {
        kind: kind.to_owned(),
        url: None,
        mime_type: str_of(obj, "mime_type").map(str::to_owned),
        filename: str_of(obj, "file_name").map(str::to_owned),
        size: obj.get("file_size").and_then(Value::as_u64),
        provider_id: str_of(obj, "file_id").map(str::to_owned),
    }
}

/// Text shown to agents and attachments. Types without text get a readable description.
fn content(msg: &Value) -> (&'static str, String, Vec<Attachment>) {
    let caption = str_of(msg, "caption").unwrap_or("").to_owned();
    if let Some(t) = str_of(msg, "text") {
        return ("text", t.to_owned(), vec![]);
    }
    if let Some(sizes) = msg.get("photo").and_then(Value::as_array) {
        // Sizes are listed small to large; pick the largest by pixels to be safe.
        let best = sizes.iter().max_by_key(|p| id_of(p, "width").unwrap_or(0) * id_of(p, "height").unwrap_or(0));
        let mut att = best.map(|p| file_attachment("image", p));
        if let Some(a) = att.as_mut() {
            a.mime_type.get_or_insert_with(|| "image/jpeg".into());
        }
        return ("photo", caption, att.into_iter().collect());
    }
    for (key, kind) in [
        ("document", "document"),
        ("voice", "audio"),
        ("audio", "audio"),
        ("video", "video"),
        ("video_note", "video"),
        ("animation", "video"),
    ] {
        if let Some(obj) = msg.get(key).filter(|o| o.is_object()) {
            let text = if caption.is_empty() && key == "voice" { "🎤 Voice message".to_owned() } else { caption };
            return (
                match key {
                    "document" => "document",
                    "voice" => "voice",
                    "audio" => "audio",
                    "video" => "video",
                    "video_note" => "video_note",
                    _ => "animation",
                },
                text,
                vec![file_attachment(kind, obj)],
            );
        }
    }
    if let Some(st) = msg.get("sticker").filter(|o| o.is_object()) {
        let emoji = str_of(st, "emoji").unwrap_or("");
        let mut att = file_attachment("sticker", st);
        att.mime_type.get_or_insert_with(|| {
            if st.get("is_animated").and_then(Value::as_bool) == Some(true) {
                "application/x-tgsticker"
            } else {
                "image/webp"
            }
            .into()
        });
        return ("sticker", format!("Sticker {emoji}").trim_end().to_owned(), vec![att]);
    }
    if let Some(loc) = msg.get("venue").and_then(|v| v.get("location")).or_else(|| msg.get("location")) {
        let lat = loc.get("latitude").and_then(Value::as_f64).unwrap_or(0.0);
        let lon = loc.get("longitude").and_then(Value::as_f64).unwrap_or(0.0);
        let venue = msg.get("venue");
        let place: Vec<&str> = [venue.and_then(|v| str_of(v, "title")), venue.and_then(|v| str_of(v, "address"))]
            .into_iter()
            .flatten()
            .collect();
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
        return ("location", text, vec![att]);
    }
    if let Some(c) = msg.get("contact") {
        let name: Vec<&str> = [str_of(c, "first_name"), str_of(c, "last_name")].into_iter().flatten().collect();
        let phone = str_of(c, "phone_number").unwrap_or("");
        return ("contact", format!("👤 Shared contact: {} ({phone})", name.join(" ")), vec![]);
    }
    let other = msg
        .as_object()
        .and_then(|o| {
            o.keys().find(|k| {
                !matches!(
                    k.as_str(),
                    "message_id"
                        | "from"
                        | "chat"
                        | "date"
                        | "edit_date"
                        | "reply_to_message"
                        | "entities"
                        | "caption"
                        | "caption_entities"
                        | "message_thread_id"
                        | "sender_chat"
                )
            })
        })
        .map_or("unknown", String::as_str);
    ("other", format!("[Telegram {other} message]"), vec![])
}

fn message(
    ch: &ChannelSettings,
    cfg: &TelegramConfig,
    update_id: i64,
    msg: &Value,
    edited: bool,
) -> Result<Option<InboundEvent>, String> {
    let mid = id_of(msg, "message_id").ok_or_else(|| format!("update {update_id}: message without message_id"))?;
    let chat = msg.get("chat").ok_or_else(|| format!("update {update_id}: message without chat"))?;
    let chat_id = id_of(chat, "id").ok_or_else(|| format!("update {update_id}: chat without id"))?;
    let from = msg.get("from").or_else(|| msg.get("sender_chat")).unwrap_or(chat);
    let who = contact(from).ok_or_else(|| format!("update {update_id}: message names no sender"))?;
    if from.get("is_bot").and_then(Value::as_bool) == Some(true)
        && cfg.bot_id().is_some_and(|b| b == who.provider_user_id)
    {
        return Ok(None);
    }
    let (kind, text, attachments) = content(msg);
    let plain = str_of(msg, "text").or_else(|| str_of(msg, "caption")).unwrap_or("");
    if !is_private(chat) && !addresses_bot(cfg, msg, plain) {
        // Group chatter between members is not for the desk (privacy mode delivers it only when
        // the bot is an admin or privacy mode is off).
        return Err(format!("update {update_id}: group message {mid} does not address the bot"));
    }
    let original = format!("msg:{chat_id}:{mid}");
    let edit_date = id_of(msg, "edit_date");
    let provider_event_id =
        if edited { format!("edit:{chat_id}:{mid}:{}", edit_date.unwrap_or(update_id)) } else { original.clone() };
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id,
        contact: who,
        thread_key: thread_of(chat),
        visibility: Visibility::Private,
        text,
        attachments,
        sent_at: timestamp(if edited { msg.get("edit_date").or_else(|| msg.get("date")) } else { msg.get("date") }),
        extra: serde_json::Map::new(),
    };
    ev.extra.insert("message_type".into(), json!(kind));
    ev.extra.insert(
        "telegram".into(),
        json!({"update_id": update_id, "chat_id": chat_id, "chat_type": str_of(chat, "type"),
               "chat_title": str_of(chat, "title"), "message_id": mid}),
    );
    if let Some(r) = msg.get("reply_to_message").and_then(|r| id_of(r, "message_id")) {
        ev.extra.insert("reply_to".into(), json!(format!("msg:{chat_id}:{r}")));
    }
    if edited {
        ev.extra.insert("edit_of".into(), json!(original));
        ev.extra.insert("edited".into(), json!(true));
    }
    ev.extra.insert("raw".into(), msg.clone());
    Ok(Some(ev))
}

fn callback(ch: &ChannelSettings, update_id: i64, q: &Value) -> Result<InboundEvent, String> {
    let id = str_of(q, "id").ok_or_else(|| format!("update {update_id}: callback query without id"))?;
    let from = q.get("from").ok_or_else(|| format!("update {update_id}: callback query without from"))?;
    let who = contact(from).ok_or_else(|| format!("update {update_id}: callback query names no user"))?;
    let data = str_of(q, "data").or_else(|| str_of(q, "game_short_name")).unwrap_or("");
    let msg = q.get("message");
    // The label of the pressed button, found in the message's keyboard.
    let label = msg
        .and_then(|m| m.pointer("/reply_markup/inline_keyboard"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|b| str_of(b, "callback_data") == Some(data))
        .and_then(|b| str_of(b, "text"));
    // The contract of every channel: the text is the label, `button_data` the data.
    let text = label.unwrap_or(data).to_owned();
    let chat = msg.and_then(|m| m.get("chat"));
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: format!("callback:{id}"),
        contact: who,
        thread_key: chat.map(thread_of).unwrap_or_default(),
        visibility: Visibility::Private,
        text,
        attachments: vec![],
        sent_at: timestamp(msg.and_then(|m| m.get("date"))),
        extra: serde_json::Map::new(),
    };
    ev.sent_at = chrono::Utc::now();
    crate::buttons::pressed(&mut ev, label.unwrap_or(""), data);
    ev.extra.insert("message_type".into(), json!("callback_query"));
    ev.extra.insert(
        "telegram".into(),
        json!({"update_id": update_id, "callback_query_id": id, "data": data,
               "chat_id": chat.and_then(|c| id_of(c, "id")), "inline_message_id": str_of(q, "inline_message_id")}),
    );
    if let (Some(c), Some(m)) = (chat.and_then(|c| id_of(c, "id")), msg.and_then(|m| id_of(m, "message_id"))) {
        ev.extra.insert("reply_to".into(), json!(format!("msg:{c}:{m}")));
    }
    ev.extra.insert("raw".into(), q.clone());
    Ok(ev)
}

/// Any other update type: kept as an event from whoever it names, with the raw JSON.
fn unknown(ch: &ChannelSettings, update_id: i64, kind: &str, body: &Value) -> Result<InboundEvent, String> {
    let user = ["from", "user", "sender_chat", "chat", "voter_chat"]
        .iter()
        .find_map(|k| body.get(*k).filter(|u| id_of(u, "id").is_some()))
        .ok_or_else(|| format!("update {update_id}: {kind} names no user or chat; not stored"))?;
    let who = contact(user).ok_or_else(|| format!("update {update_id}: {kind} names no user"))?;
    let mut ev = InboundEvent {
        channel: ch.slug.clone(),
        provider_event_id: format!("update:{update_id}"),
        contact: who,
        thread_key: body.get("chat").map(thread_of).unwrap_or_default(),
        visibility: Visibility::Private,
        text: format!("[Telegram {kind} update]"),
        attachments: vec![],
        sent_at: timestamp(body.get("date")),
        extra: serde_json::Map::new(),
    };
    ev.extra.insert("message_type".into(), json!(kind));
    ev.extra.insert("telegram".into(), json!({"update_id": update_id}));
    ev.extra.insert("raw".into(), body.clone());
    Ok(ev)
}
