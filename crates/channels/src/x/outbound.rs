//! Sending through the X API v2: public replies (`POST /2/tweets` with
//! `reply.in_reply_to_tweet_id`), DMs (`POST /2/dm_conversations/with/{participant_id}/messages`)
//! and likes (`POST /2/users/{id}/likes`, from a reply payload `{"x_action":"like"}`).
//!
//! Rate limits: a 429 is retried after `x-rate-limit-reset` (through the outbox's `retry_at`).
//! Never twice: X takes no idempotency key, so a request whose answer was lost after it may have
//! reached X is not retried blindly — it fails with a reason telling the agent to check the post.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};
use switchboard_domain::Visibility;

use super::text::{MAX_WEIGHTED_LENGTH, weighted_length};
use super::{POST_THREAD, XConfig};
use crate::{OutboundRequest, SendError, SendReceipt, Sender};

/// Wait after a 429 whose answer names no reset time.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// A built X API call.
#[derive(Debug, Clone, PartialEq)]
pub struct XCall {
    /// Full URL.
    pub url: String,
    /// JSON body.
    pub body: Value,
}

/// Checks a public post's weighted length; the error is shown to the agent.
pub fn check_length(text: &str) -> Result<(), String> {
    let n = weighted_length(text);
    if n > MAX_WEIGHTED_LENGTH {
        return Err(format!(
            "this post is {n} characters by X's counting (CJK and emoji count 2, links 23); the limit is {MAX_WEIGHTED_LENGTH}"
        ));
    }
    Ok(())
}

/// Builds the call for a reply.
pub fn build(req: &OutboundRequest, cfg: &XConfig) -> Result<XCall, SendError> {
    let base = cfg.api_base();
    if let Some(p) = &req.payload
        && p.get("x_action").and_then(Value::as_str) == Some("like")
    {
        let tweet = p.get("tweet_id").and_then(Value::as_str).map(str::to_owned).or_else(|| req.reply_to.clone());
        let tweet = tweet.ok_or_else(|| SendError::Permanent("like: no post to like".into()))?;
        let me = cfg.user_id.as_deref().unwrap_or_default();
        return Ok(XCall { url: format!("{base}/2/users/{me}/likes"), body: json!({ "tweet_id": tweet }) });
    }
    if req.text.trim().is_empty() {
        return Err(SendError::Permanent("X replies need text".into()));
    }
    // A public thread may be answered privately (a DM to the same person); never the reverse.
    if req.visibility == Visibility::Public && req.thread_key.starts_with(POST_THREAD) {
        check_length(&req.text).map_err(SendError::Permanent)?;
        let Some(reply_to) = req.reply_to.as_deref().filter(|r| !r.is_empty()) else {
            return Err(SendError::Permanent("no customer post to reply to in this conversation".into()));
        };
        return Ok(XCall {
            url: format!("{base}/2/tweets"),
            body: json!({ "text": req.text, "reply": { "in_reply_to_tweet_id": reply_to } }),
        });
    }
    if req.recipient.is_empty() || !req.recipient.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SendError::Permanent(format!("{:?} is not an X user id to DM", req.recipient)));
    }
    Ok(XCall {
        url: format!("{base}/2/dm_conversations/with/{}/messages", req.recipient),
        body: json!({ "text": req.text }),
    })
}

/// The X API v2 sender.
pub struct XSender {
    client: reqwest::Client,
}

impl XSender {
    /// A sender using `client` (its timeout bounds each call).
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

fn header_u64(h: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    h.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

#[async_trait]
impl Sender for XSender {
    async fn send(&self, req: &OutboundRequest) -> Result<SendReceipt, SendError> {
        let cfg = XConfig::from_settings(&req.channel).map_err(SendError::Permanent)?;
        cfg.check_for_sending()
            .map_err(|e| SendError::Permanent(format!("channel {} cannot send: {e}", req.channel.slug)))?;
        let call = build(req, &cfg)?;
        let token = cfg.access_token.as_deref().unwrap_or("");
        let resp = match self.client.post(&call.url).bearer_auth(token).json(&call.body).send().await {
            Ok(r) => r,
            // Not connected: X never saw it, so it is safe to try again.
            Err(e) if e.is_connect() => {
                return Err(SendError::Retryable { reason: format!("X API unreachable: {e}"), retry_after: None });
            }
            Err(e) => {
                return Err(SendError::Permanent(format!(
                    "X API answer lost ({e}); X may have posted it — check before sending again"
                )));
            }
        };
        let status = resp.status();
        let reset = header_u64(resp.headers(), "x-rate-limit-reset");
        let text = resp.text().await.map_err(|e| {
            SendError::Permanent(format!("X API answer lost ({e}); X may have posted it — check before sending again"))
        })?;
        if status.is_success() {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            // Posts: data.id; DMs: data.dm_event_id or (as documented) dm_event_id at the top; likes: none.
            let id = [
                v.get("data").and_then(|d| d.get("id")),
                v.get("data").and_then(|d| d.get("dm_event_id")),
                v.get("dm_event_id"),
            ]
            .into_iter()
            .flatten()
            .find_map(Value::as_str)
            .filter(|s| !s.is_empty());
            return Ok(SendReceipt {
                provider_message_id: id.map(str::to_owned).unwrap_or_else(|| req.idempotency_key.clone()),
            });
        }
        Err(classify(status.as_u16(), &text, reset, Utc::now().timestamp()))
    }
}

/// Turns an error answer into a retry decision. `reset` is `x-rate-limit-reset` (Unix seconds).
pub fn classify(status: u16, body: &str, reset: Option<u64>, now: i64) -> SendError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let detail = v
        .get("errors")
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("message").or_else(|| e.get("detail")))
        .or_else(|| v.get("detail"))
        .or_else(|| v.get("title"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| body.chars().take(200).collect());
    let mut reason = format!("X API {status}: {detail}");
    if status == 429 {
        if let Some(at) = reset.and_then(|r| i64::try_from(r).ok()).and_then(|r| chrono::DateTime::from_timestamp(r, 0))
        {
            reason.push_str(&format!(" (rate limit resets at {})", at.format("%H:%M:%S UTC")));
        }
        let wait = reset
            .and_then(|r| i64::try_from(r).ok())
            .map(|r| Duration::from_secs(u64::try_from((r - now).max(1)).unwrap_or(1)))
            .unwrap_or(RATE_LIMIT_WAIT);
        return SendError::Retryable { reason, retry_after: Some(wait) };
    }
    if status >= 500 || status == 408 {
        // A 5xx on a post: X did not create it (it answers 201 when it did).
        return SendError::Retryable { reason, retry_after: None };
    }
    SendError::Permanent(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_waits_until_the_reset() {
        let body = r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#;
        match classify(429, body, Some(1_705_420_800), 1_705_420_770) {
            SendError::Retryable { reason, retry_after } => {
                assert_eq!(retry_after, Some(Duration::from_secs(30)));
                assert!(reason.contains("Rate limit exceeded"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(429, "{}", None, 0),
            SendError::Retryable { retry_after: Some(RATE_LIMIT_WAIT), .. }
        ));
        assert!(
            matches!(classify(403, r#"{"title":"Forbidden","detail":"You are not allowed"}"#, None, 0), SendError::Permanent(r) if r.contains("not allowed"))
        );
        assert!(matches!(classify(503, "", None, 0), SendError::Retryable { .. }));
    }
}
