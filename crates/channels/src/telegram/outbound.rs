//! Sending replies through the Bot API: `sendMessage` as plain text (no `parse_mode`, so nothing
//! in an agent's text is ever interpreted as markup), media by URL (`sendPhoto`, `sendDocument`,
//! `sendVideo`, `sendAudio`), inline keyboards for bot choices, and `answerCallbackQuery`.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{CHAT_THREAD, TelegramConfig};
use crate::{OutboundRequest, SendError, SendReceipt, Sender};

/// Longest text of one message (Telegram counts UTF-16 code units).
pub const MAX_TEXT: usize = 4096;
/// Longest media caption.
pub const MAX_CAPTION: usize = 1024;
/// Wait after a 429 whose body names no `retry_after`.
pub const FLOOD_WAIT: Duration = Duration::from_secs(30);

/// A built Bot API call.
#[derive(Debug, Clone, PartialEq)]
pub struct BotCall {
    /// Method name, e.g. `sendMessage`.
    pub method: &'static str,
    /// JSON body.
    pub body: Value,
}

/// The Bot API sender for Telegram channels.
pub struct TelegramSender {
    client: reqwest::Client,
}

impl TelegramSender {
    /// A sender using `client` (its timeout bounds each call).
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

/// Escapes text for `parse_mode = HTML` (for callers that format; replies are sent as plain text).
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Escapes text for `parse_mode = MarkdownV2`: every character Telegram reserves gets a `\`.
pub fn escape_markdown_v2(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "_*[]()~`>#+-=|{}.!\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The chat a reply goes to: the group of a group thread, else the customer's private chat.
pub fn chat_id(req: &OutboundRequest) -> String {
    req.thread_key.strip_prefix(CHAT_THREAD).unwrap_or(&req.recipient).to_owned()
}

/// Builds the Bot API call for a reply.
pub fn build(req: &OutboundRequest) -> Result<BotCall, SendError> {
    let chat = chat_id(req);
    let chat_json: Value = chat.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(chat));
    let mut body = json!({"chat_id": chat_json});
    // In a group, answer the customer's message so the thread is clear.
    if req.thread_key.starts_with(CHAT_THREAD)
        && let Some(mid) = req.reply_to.as_deref().and_then(|r| r.strip_prefix("msg:")).and_then(|r| r.rsplit_once(':'))
        && mid.0 == chat
        && let Ok(m) = mid.1.parse::<i64>()
    {
        body["reply_parameters"] = json!({"message_id": m, "allow_sending_without_reply": true});
    }
    let payload = req.payload.as_ref();
    let method = match payload.and_then(|p| p.get("type")).and_then(Value::as_str) {
        None | Some("buttons") => {
            if req.text.trim().is_empty() {
                return Err(SendError::Permanent("Telegram cannot send an empty message".into()));
            }
            if req.text.encode_utf16().count() > MAX_TEXT {
                return Err(SendError::Permanent(format!("the text is longer than Telegram's {MAX_TEXT} characters")));
            }
            body["text"] = json!(req.text);
            body["link_preview_options"] = json!({"is_disabled": true});
            "sendMessage"
        }
        Some("media") => {
            let m = payload.and_then(|p| p.get("media")).unwrap_or(&Value::Null);
            let link = m
                .get("link")
                .and_then(Value::as_str)
                .ok_or_else(|| SendError::Permanent("media reply without link".into()))?;
            let (method, field) = match m.get("kind").and_then(Value::as_str).unwrap_or("document") {
                "image" => ("sendPhoto", "photo"),
                "video" => ("sendVideo", "video"),
                "audio" => ("sendAudio", "audio"),
                _ => ("sendDocument", "document"),
            };
            body[field] = json!(link);
            if !req.text.trim().is_empty() {
                if req.text.encode_utf16().count() > MAX_CAPTION {
                    return Err(SendError::Permanent(format!(
                        "the caption is longer than Telegram's {MAX_CAPTION} characters"
                    )));
                }
                body["caption"] = json!(req.text);
            }
            method
        }
        Some(other) => return Err(SendError::Permanent(format!("{other} replies are not possible on Telegram"))),
    };
    // Bot choices: `payload.buttons = [{"text": "Yes", "data": "csat:yes"}, …]`, one per row.
    if let Some(buttons) = payload.and_then(|p| p.get("buttons")).and_then(Value::as_array) {
        let mut rows = Vec::new();
        for b in buttons {
            let text = b.get("text").and_then(Value::as_str).unwrap_or("");
            let data = b.get("data").and_then(Value::as_str).unwrap_or(text);
            if text.is_empty() || data.len() > 64 {
                return Err(SendError::Permanent(
                    "each button needs a text and at most 64 bytes of data (Telegram's limit)".into(),
                ));
            }
            rows.push(json!([{"text": text, "callback_data": data}]));
        }
        body["reply_markup"] = json!({"inline_keyboard": rows});
    }
    Ok(BotCall { method, body })
}

#[async_trait]
impl Sender for TelegramSender {
    async fn send(&self, req: &OutboundRequest) -> Result<SendReceipt, SendError> {
        let cfg = TelegramConfig::from_settings(&req.channel).map_err(SendError::Permanent)?;
        if cfg.bot_token.as_deref().is_none_or(str::is_empty) {
            return Err(SendError::Permanent(format!(
                "channel {} cannot send: config.bot_token is not set",
                req.channel.slug
            )));
        }
        let call = build(req)?;
        let v = call_api(&self.client, &cfg, call.method, &call.body).await?;
        let r = v.get("result").unwrap_or(&Value::Null);
        let id = match (r.pointer("/chat/id").and_then(Value::as_i64), r.get("message_id").and_then(Value::as_i64)) {
            (Some(c), Some(m)) => format!("msg:{c}:{m}"),
            // Accepted without an id (never documented): it was sent; record our own key.
            _ => req.idempotency_key.clone(),
        };
        Ok(SendReceipt { provider_message_id: id })
    }
}

/// Calls a Bot API method and returns its `result` envelope, or the classified error.
pub async fn call_api(
    client: &reqwest::Client,
    cfg: &TelegramConfig,
    method: &str,
    body: &Value,
) -> Result<Value, SendError> {
    let resp = client.post(cfg.method_url(method)).json(body).send().await.map_err(|e| SendError::Retryable {
        // The URL holds the bot token: never show it.
        reason: if e.is_timeout() {
            "Telegram Bot API timed out".into()
        } else {
            format!("Telegram Bot API request failed: {}", e.without_url())
        },
        retry_after: None,
    })?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| SendError::Retryable {
        reason: format!("Telegram response lost: {}", e.without_url()),
        retry_after: None,
    })?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if (200..300).contains(&status) && v.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(v);
    }
    Err(classify(status, &v, &text))
}

/// Turns an error response into a retry decision with Telegram's description.
pub fn classify(status: u16, v: &Value, raw: &str) -> SendError {
    let code = v.get("error_code").and_then(Value::as_u64).map_or(status, |c| u16::try_from(c).unwrap_or(status));
    let desc = v
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| raw.chars().take(200).collect());
    let reason = format!("Telegram {code}: {desc}");
    let params = v.get("parameters");
    if code == 429 {
        let wait = params.and_then(|p| p.get("retry_after")).and_then(Value::as_u64).map(Duration::from_secs);
        return SendError::Retryable { reason, retry_after: Some(wait.unwrap_or(FLOOD_WAIT)) };
    }
    if let Some(to) = params.and_then(|p| p.get("migrate_to_chat_id")).and_then(Value::as_i64) {
        return SendError::Permanent(format!("{reason} (the group is now the supergroup {to})"));
    }
    if code >= 500 || code == 408 || status >= 500 {
        return SendError::Retryable { reason, retry_after: None };
    }
    SendError::Permanent(reason)
}

/// Answers a button press (stops the spinner on the customer's button).
pub async fn answer_callback_query(client: &reqwest::Client, cfg: &TelegramConfig, id: &str) -> Result<(), SendError> {
    call_api(client, cfg, "answerCallbackQuery", &json!({"callback_query_id": id})).await.map(|_| ())
}
