//! Sending replies through the Graph API: WhatsApp text, media and templates; Messenger with the
//! right `messaging_type` (and the HUMAN_AGENT tag where allowed); Instagram DMs, public comment
//! replies, private replies to comments and replies to mentions.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use switchboard_domain::{ChannelKind, Visibility};

use super::instagram::{MENTION_THREAD, POST_THREAD};
use super::messenger::OWN_METADATA_PREFIX;
use super::window::{DmPolicy, STANDARD, dm_policy};
use super::{GraphError, MetaConfig};
use crate::{OutboundRequest, SendError, SendReceipt, Sender, buttons};

/// Graph error codes that mean "slow down": application / account / page throttling (4, 17, 32,
/// 613), WhatsApp account throughput (80007, 130429) and the per-user pair rate limit (131056).
pub const RATE_LIMIT_CODES: &[i64] = &[4, 17, 32, 613, 80007, 130429, 131056];
/// Graph error codes that are temporary failures on Meta's side.
pub const TRANSIENT_CODES: &[i64] = &[1, 2, 131000, 131016, 133004];
/// Wait after a rate-limit error when the response names no `Retry-After`.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// WhatsApp's pair rate limit clears quickly; retry sooner.
pub const PAIR_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);

/// A built Graph API call.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphCall {
    /// Full URL.
    pub url: String,
    /// JSON body.
    pub body: Value,
    /// Where the provider's message id is in a success response: `messages[0].id`,
    /// `message_id` or `id`.
    pub id_field: IdField,
}

/// Where a send response carries the message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdField {
    /// WhatsApp: `messages[0].id`.
    WhatsApp,
    /// Messenger / Instagram DMs: `message_id`.
    MessageId,
    /// Comment replies: `id`.
    Id,
}

/// The Graph API sender for WhatsApp, Messenger and Instagram channels.
pub struct MetaSender {
    client: reqwest::Client,
}

impl MetaSender {
    /// A sender using `client` (its timeout bounds each call).
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Sender for MetaSender {
    async fn send(&self, req: &OutboundRequest) -> Result<SendReceipt, SendError> {
        let cfg = MetaConfig::from_settings(&req.channel).map_err(SendError::Permanent)?;
        cfg.check_for_sending(req.channel.kind)
            .map_err(|e| SendError::Permanent(format!("channel {} cannot send: {e}", req.channel.slug)))?;
        let call = build(req, &cfg)?;
        let token = cfg.access_token.as_deref().unwrap_or("");
        let resp = self.client.post(&call.url).bearer_auth(token).json(&call.body).send().await.map_err(|e| {
            SendError::Retryable {
                reason: if e.is_timeout() {
                    "Graph API timed out".into()
                } else {
                    format!("Graph API request failed: {e}")
                },
                retry_after: None,
            }
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp
            .text()
            .await
            .map_err(|e| SendError::Retryable { reason: format!("Graph API response lost: {e}"), retry_after: None })?;
        if status.is_success() {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let id = match call.id_field {
                IdField::WhatsApp => v.get("messages").and_then(|m| m.get(0)).and_then(|m| m.get("id")),
                IdField::MessageId => v.get("message_id"),
                IdField::Id => v.get("id"),
            }
            .and_then(|i| i.as_str())
            .filter(|i| !i.is_empty());
            // Accepted without an id (never documented): it was sent; record our own key rather
            // than send it again.
            let id = id.map(str::to_owned).unwrap_or_else(|| req.idempotency_key.clone());
            return Ok(SendReceipt { provider_message_id: id });
        }
        Err(classify(status.as_u16(), &text, retry_after))
    }
}

/// Turns an error response into a retry decision with the provider's reason.
pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> SendError {
    let err = GraphError::parse(body);
    let reason = match &err {
        Some(e) => format!("Graph API {status}: {}", e.describe()),
        None => format!("Graph API {status}: {}", body.chars().take(200).collect::<String>()),
    };
    let code = err.as_ref().and_then(|e| e.code);
    if let Some(c) = code.filter(|c| RATE_LIMIT_CODES.contains(c)) {
        let wait = if c == 131056 { PAIR_RATE_LIMIT_WAIT } else { RATE_LIMIT_WAIT };
        return SendError::Retryable { reason, retry_after: Some(retry_after.unwrap_or(wait)) };
    }
    if code.is_some_and(|c| TRANSIENT_CODES.contains(&c)) || status == 408 || status == 429 || status >= 500 {
        return SendError::Retryable { reason, retry_after };
    }
    SendError::Permanent(reason)
}

/// Builds the Graph API call for a reply, enforcing the messaging window first.
pub fn build(req: &OutboundRequest, cfg: &MetaConfig) -> Result<GraphCall, SendError> {
    let base = cfg.graph_base();
    let node = |v: &Option<String>| v.clone().unwrap_or_default();
    match req.channel.kind {
        ChannelKind::Whatsapp => whatsapp(req, base, &node(&cfg.phone_number_id)),
        ChannelKind::Messenger => {
            let (messaging_type, tag) = dm_type(req, cfg)?;
            let mut body = json!({
                "recipient": {"id": req.recipient},
                "messaging_type": messaging_type,
                "message": dm_message(req)?,
            });
            body["message"]["metadata"] = json!(format!("{OWN_METADATA_PREFIX}{}", req.idempotency_key));
            if let Some(tag) = tag {
                body["tag"] = json!(tag);
            }
            Ok(GraphCall { url: format!("{base}/{}/messages", node(&cfg.page_id)), body, id_field: IdField::MessageId })
        }
        ChannelKind::Instagram => instagram(req, cfg, base),
        other => Err(SendError::Permanent(format!("{other} is not a Meta channel"))),
    }
}

fn dm_type(req: &OutboundRequest, cfg: &MetaConfig) -> Result<(&'static str, Option<&'static str>), SendError> {
    match dm_policy(cfg, req.last_inbound_at, req.now) {
        DmPolicy::Response => Ok(("RESPONSE", None)),
        DmPolicy::HumanAgent => Ok(("MESSAGE_TAG", Some("HUMAN_AGENT"))),
        DmPolicy::Closed => Err(SendError::Permanent(
            "outside the messaging window: the customer's last message is too old for Meta to allow a reply".into(),
        )),
    }
}

/// Messenger / Instagram: most quick replies on one message, and their longest title.
pub const MAX_QUICK_REPLIES: usize = 13;
/// Longest quick-reply title (Messenger cuts longer ones).
pub const MAX_QUICK_REPLY_TITLE: usize = 20;
/// WhatsApp: most reply buttons, and their longest title.
pub const MAX_REPLY_BUTTONS: usize = 3;
/// Longest WhatsApp reply-button title.
pub const MAX_REPLY_BUTTON_TITLE: usize = 20;
/// WhatsApp: most rows of an interactive list, and their longest title.
pub const MAX_LIST_ROWS: usize = 10;
/// Longest WhatsApp list-row title.
pub const MAX_LIST_ROW_TITLE: usize = 24;

/// The reply text, with the choices as a numbered list where the channel cannot show them.
fn text_with_choices(req: &OutboundRequest) -> Result<String, SendError> {
    Ok(buttons::numbered(&req.text, &buttons::from_payload(req.payload.as_ref())?))
}

/// The `message` object of a Messenger/Instagram DM: text (with `payload.buttons` as quick
/// replies, or numbered when they do not fit), or a media attachment by URL.
fn dm_message(req: &OutboundRequest) -> Result<Value, SendError> {
    match req.payload.as_ref().and_then(|p| p.get("type")).and_then(|t| t.as_str()) {
        // `"type": "buttons"` (surveys) names what a payload without a type means.
        None | Some("buttons") => {
            let choices = buttons::from_payload(req.payload.as_ref())?;
            if choices.is_empty() {
                return Ok(json!({"text": req.text}));
            }
            if choices.len() <= MAX_QUICK_REPLIES
                && buttons::labels_fit(&choices, MAX_QUICK_REPLY_TITLE)
                && !req.text.trim().is_empty()
            {
                let qr: Vec<Value> = choices
                    .iter()
                    .map(|b| json!({"content_type": "text", "title": b.text, "payload": b.data}))
                    .collect();
                return Ok(json!({"text": req.text, "quick_replies": qr}));
            }
            Ok(json!({"text": buttons::numbered(&req.text, &choices)}))
        }
        Some("media") => {
            let m = &req.payload.as_ref().map(|p| p["media"].clone()).unwrap_or(Value::Null);
            let kind = match m.get("kind").and_then(|k| k.as_str()).unwrap_or("file") {
                k @ ("image" | "audio" | "video") => k,
                _ => "file",
            };
            let url = m
                .get("link")
                .and_then(|l| l.as_str())
                .ok_or_else(|| SendError::Permanent("media reply without link".into()))?;
            Ok(json!({"attachment": {"type": kind, "payload": {"url": url, "is_reusable": false}}}))
        }
        Some(other) => Err(SendError::Permanent(format!("{other} replies are not possible on this channel"))),
    }
}

fn whatsapp(req: &OutboundRequest, base: &str, phone_number_id: &str) -> Result<GraphCall, SendError> {
    let payload_type = req.payload.as_ref().and_then(|p| p.get("type")).and_then(|t| t.as_str());
    let is_template = payload_type == Some("template");
    if !is_template && req.last_inbound_at.is_none_or(|t| req.now - t >= STANDARD) {
        return Err(SendError::Permanent(
            "outside the 24-hour customer-service window: only an approved template can be sent (WhatsApp error 131047)".into(),
        ));
    }
    let mut body = json!({"messaging_product": "whatsapp"});
    if let Some(group) = req.thread_key.strip_prefix("group:") {
        body["recipient_type"] = json!("group");
        body["to"] = json!(group);
    } else {
        body["recipient_type"] = json!("individual");
        // The phone number routes when known; a username-only customer is reached by their
        // business-scoped user id.
        match req.recipient_handle.as_deref().and_then(|h| h.strip_prefix('+')) {
            Some(phone) => body["to"] = json!(phone),
            None if req.recipient.contains('.') => body["recipient"] = json!(req.recipient),
            None => body["to"] = json!(req.recipient),
        }
    }
    match payload_type {
        None | Some("buttons") => {
            let choices = buttons::from_payload(req.payload.as_ref())?;
            match whatsapp_interactive(&req.text, &choices, req.payload.as_ref()) {
                Some(interactive) => {
                    body["type"] = json!("interactive");
                    body["interactive"] = interactive;
                }
                None => {
                    body["type"] = json!("text");
                    body["text"] = json!({"preview_url": false, "body": buttons::numbered(&req.text, &choices)});
                }
            }
        }
        Some("template") => {
            let t = req.payload.as_ref().map(|p| p["template"].clone()).unwrap_or(Value::Null);
            if t.get("name").and_then(|n| n.as_str()).is_none_or(str::is_empty) {
                return Err(SendError::Permanent("template reply without a template name".into()));
            }
            body["type"] = json!("template");
            body["template"] = t;
        }
        Some("media") => {
            let m = req.payload.as_ref().map(|p| p["media"].clone()).unwrap_or(Value::Null);
            let kind = m.get("kind").and_then(|k| k.as_str()).unwrap_or("document");
            if !matches!(kind, "image" | "audio" | "video" | "document" | "sticker") {
                return Err(SendError::Permanent(format!("WhatsApp cannot send media of kind {kind:?}")));
            }
            let link = m
                .get("link")
                .and_then(|l| l.as_str())
                .ok_or_else(|| SendError::Permanent("media reply without link".into()))?;
            let mut obj = json!({"link": link});
            if !req.text.trim().is_empty() && kind != "audio" && kind != "sticker" {
                obj["caption"] = json!(req.text);
            }
            if let Some(f) = m.get("filename").and_then(|f| f.as_str()) {
                obj["filename"] = json!(f);
            }
            body["type"] = json!(kind);
            body[kind] = obj;
        }
        Some(other) => return Err(SendError::Permanent(format!("unknown reply payload type {other:?}"))),
    }
    Ok(GraphCall { url: format!("{base}/{phone_number_id}/messages"), body, id_field: IdField::WhatsApp })
}

/// WhatsApp's interactive message for `choices`: reply buttons for up to 3 short labels, a list
/// for up to 10; `None` when there are no choices or they do not fit (numbered text instead).
fn whatsapp_interactive(text: &str, choices: &[buttons::Button], payload: Option<&Value>) -> Option<Value> {
    let unique =
        choices.iter().map(|b| b.data.as_str()).collect::<std::collections::HashSet<_>>().len() == choices.len();
    if choices.is_empty() || !unique || text.trim().is_empty() || text.chars().count() > 1024 {
        return None;
    }
    let body = json!({"text": text});
    if choices.len() <= MAX_REPLY_BUTTONS && buttons::labels_fit(choices, MAX_REPLY_BUTTON_TITLE) {
        let list: Vec<Value> =
            choices.iter().map(|b| json!({"type": "reply", "reply": {"id": b.data, "title": b.text}})).collect();
        return Some(json!({"type": "button", "body": body, "action": {"buttons": list}}));
    }
    if choices.len() <= MAX_LIST_ROWS && buttons::labels_fit(choices, MAX_LIST_ROW_TITLE) {
        // The button that opens the list: `payload.list_button`, else "Choose" / "请选择".
        let open = payload
            .and_then(|p| p.get("list_button"))
            .and_then(Value::as_str)
            .filter(|l| !l.trim().is_empty() && l.chars().count() <= 20)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                if text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
                    "请选择".into()
                } else {
                    "Choose".into()
                }
            });
        let rows: Vec<Value> = choices.iter().map(|b| json!({"id": b.data, "title": b.text})).collect();
        return Some(json!({"type": "list", "body": body, "action": {"button": open, "sections": [{"rows": rows}]}}));
    }
    None
}

fn instagram(req: &OutboundRequest, cfg: &MetaConfig, base: &str) -> Result<GraphCall, SendError> {
    let account = cfg.ig_account_id.clone().unwrap_or_default();
    let on_post = req.thread_key.starts_with(POST_THREAD);
    if let Some(media) = req.thread_key.strip_prefix(MENTION_THREAD) {
        let Some(comment) = req.reply_to.as_deref().filter(|c| !c.starts_with("media:")) else {
            return Err(SendError::Permanent(
                "the brand was mentioned in a post caption, not a comment: there is no comment to reply to".into(),
            ));
        };
        return Ok(GraphCall {
            url: format!("{base}/{account}/mentions"),
            body: json!({"comment_id": comment, "media_id": media, "message": text_with_choices(req)?}),
            id_field: IdField::Id,
        });
    }
    if on_post {
        let comment = req
            .reply_to
            .as_deref()
            .ok_or_else(|| SendError::Permanent("no customer comment to reply to in this conversation".into()))?;
        if req.visibility == Visibility::Public {
            return Ok(GraphCall {
                url: format!("{base}/{comment}/replies"),
                body: json!({"message": text_with_choices(req)?}),
                id_field: IdField::Id,
            });
        }
        // A private reply to a public comment: one DM to its author.
        return Ok(GraphCall {
            url: format!("{base}/{account}/messages"),
            body: json!({"recipient": {"comment_id": comment}, "message": {"text": text_with_choices(req)?}}),
            id_field: IdField::MessageId,
        });
    }
    let (messaging_type, tag) = dm_type(req, cfg)?;
    let mut body = json!({"recipient": {"id": req.recipient}, "message": dm_message(req)?});
    if let Some(tag) = tag {
        body["messaging_type"] = json!(messaging_type);
        body["tag"] = json!(tag);
    }
    Ok(GraphCall { url: format!("{base}/{account}/messages"), body, id_field: IdField::MessageId })
}
