//! Sending through the X API v2: public replies (`POST /2/tweets` with
//! `reply.in_reply_to_tweet_id`), DMs (`POST /2/dm_conversations/with/{participant_id}/messages`)
//! and likes (`POST /2/users/{id}/likes`, from a reply payload `{"x_action":"like"}`).
//!
//! Rate limits: a 429 is retried after the reset X names (`x-rate-limit-reset`, or the 24-hour
//! `x-user-limit-24hour-reset` / `x-app-limit-24hour-reset` when that quota is the spent one, or
//! `Retry-After`), through the outbox's `retry_at`.
//!
//! Never twice, never lost: X takes no idempotency key. A request whose answer was lost after it
//! may have reached X is retried, but the retry first looks for the post (the brand's timeline,
//! `GET /2/users/{id}/tweets`) or DM (`GET /2/dm_conversations/with/{id}/dm_events`) with the
//! same text (and the same `in_reply_to`) made since the reply was queued; when X has it, that is
//! the send and nothing is posted again. The brand's own post or DM arriving as an echo (webhook
//! or poll) meanwhile records the send too (see the store's `record_echo`).

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

/// Starts the reason of an attempt whose answer was lost: the next attempt checks X first.
pub const LOST_ANSWER: &str = "X API answer lost";

/// Brand posts / DM events looked at when checking whether a lost send went out.
const LOOKUP_PAGE: u32 = 50;

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
    // X v2 has no quick replies (DMs) or buttons (posts): choices become a numbered list.
    let text = crate::buttons::numbered(&req.text, &crate::buttons::from_payload(req.payload.as_ref())?);
    // A public thread may be answered privately (a DM to the same person); never the reverse.
    if req.visibility == Visibility::Public && req.thread_key.starts_with(POST_THREAD) {
        check_length(&text).map_err(SendError::Permanent)?;
        let Some(reply_to) = req.reply_to.as_deref().filter(|r| !r.is_empty()) else {
            return Err(SendError::Permanent("no customer post to reply to in this conversation".into()));
        };
        return Ok(XCall {
            url: format!("{base}/2/tweets"),
            body: json!({ "text": text, "reply": { "in_reply_to_tweet_id": reply_to } }),
        });
    }
    if req.recipient.is_empty() || !req.recipient.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SendError::Permanent(format!("{:?} is not an X user id to DM", req.recipient)));
    }
    Ok(XCall {
        url: format!("{base}/2/dm_conversations/with/{}/messages", req.recipient),
        body: json!({ "text": text }),
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

fn lost(e: impl std::fmt::Display) -> SendError {
    SendError::Retryable {
        reason: format!("{LOST_ANSWER} ({e}); X may have posted it — it is checked before sending again"),
        retry_after: None,
    }
}

/// The reset to wait for after a 429: the spent quota's reset (the 15-minute window, or the
/// 24-hour user/app quota of posts), or `Retry-After`; Unix seconds.
pub fn rate_limit_reset(h: &reqwest::header::HeaderMap, now: i64) -> Option<u64> {
    let spent = |quota: &str| header_u64(h, &format!("{quota}-remaining")) == Some(0);
    let mut resets: Vec<u64> = ["x-user-limit-24hour", "x-app-limit-24hour"]
        .into_iter()
        .filter(|q| spent(q))
        .filter_map(|q| header_u64(h, &format!("{q}-reset")))
        .collect();
    if resets.is_empty() {
        resets.extend(header_u64(h, "x-rate-limit-reset"));
    }
    if let Some(secs) = header_u64(h, "retry-after") {
        resets.push(u64::try_from(now).unwrap_or(0).saturating_add(secs));
    }
    resets.into_iter().max()
}

/// Compares a text we sent with the text X shows for it: X rewrites links (t.co) and may trim.
fn same_text(sent: &str, shown: &str) -> bool {
    fn norm(s: &str) -> String {
        s.split_whitespace()
            .filter(|w| !(w.starts_with("http://") || w.starts_with("https://")))
            .collect::<Vec<_>>()
            .join(" ")
    }
    norm(sent) == norm(shown)
}

fn created_at(v: &Value) -> Option<chrono::DateTime<Utc>> {
    v.get("created_at")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl XSender {
    /// After a lost answer: whether X has the post/DM already, and its id. `Err` when X could
    /// not be asked (the reason keeps [`LOST_ANSWER`] so the next attempt asks again).
    async fn find_sent(&self, req: &OutboundRequest, cfg: &XConfig, call: &XCall) -> Result<Option<String>, SendError> {
        let base = cfg.api_base();
        let me = cfg.user_id.as_deref().unwrap_or_default();
        // X's times have second precision (and clocks differ a little).
        let since = req.queued_at - chrono::Duration::seconds(5);
        let in_reply_to = call.body.pointer("/reply/in_reply_to_tweet_id").and_then(Value::as_str);
        let sent_text = call.body.get("text").and_then(Value::as_str).unwrap_or(&req.text);
        let url = if call.url.ends_with("/2/tweets") {
            format!(
                "{base}/2/users/{me}/tweets?max_results={LOOKUP_PAGE}&tweet.fields=created_at,referenced_tweets,note_tweet&start_time={}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        } else {
            format!(
                "{base}/2/dm_conversations/with/{}/dm_events?max_results={LOOKUP_PAGE}&event_types=MessageCreate&dm_event.fields=created_at,sender_id,text",
                req.recipient
            )
        };
        let token = cfg.access_token.as_deref().unwrap_or("");
        let unchecked = |why: String| SendError::Retryable {
            reason: format!("{LOST_ANSWER} earlier and X could not be checked ({why}); not sent again yet"),
            retry_after: None,
        };
        let resp = self.client.get(&url).bearer_auth(token).send().await.map_err(|e| unchecked(e.to_string()))?;
        let status = resp.status();
        let reset = rate_limit_reset(resp.headers(), Utc::now().timestamp());
        let text = resp.text().await.map_err(|e| unchecked(e.to_string()))?;
        if status.as_u16() == 429 {
            return Err(match classify(429, &text, reset, Utc::now().timestamp()) {
                SendError::Retryable { reason, retry_after } => {
                    SendError::Retryable { reason: format!("{LOST_ANSWER} earlier; checking X: {reason}"), retry_after }
                }
                other => other,
            });
        }
        if !status.is_success() {
            return Err(unchecked(format!("X API {status}: {}", text.chars().take(200).collect::<String>())));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| unchecked(format!("no JSON: {e}")))?;
        let found = v.get("data").and_then(Value::as_array).into_iter().flatten().find(|item| {
            let mine = if in_reply_to.is_some() {
                item.get("referenced_tweets").and_then(Value::as_array).is_some_and(|r| {
                    r.iter().any(|r| {
                        r.get("type").and_then(Value::as_str) == Some("replied_to")
                            && r.get("id").and_then(Value::as_str) == in_reply_to
                    })
                })
            } else {
                item.get("sender_id").and_then(Value::as_str) == Some(me)
            };
            mine && created_at(item).is_none_or(|t| t >= since) && same_text(sent_text, &super::events::full_text(item))
        });
        Ok(found.and_then(|f| f.get("id").and_then(Value::as_str)).map(str::to_owned))
    }
}

#[async_trait]
impl Sender for XSender {
    async fn send(&self, req: &OutboundRequest) -> Result<SendReceipt, SendError> {
        let cfg = XConfig::from_settings(&req.channel).map_err(SendError::Permanent)?;
        cfg.check_for_sending()
            .map_err(|e| SendError::Permanent(format!("channel {} cannot send: {e}", req.channel.slug)))?;
        let call = build(req, &cfg)?;
        let is_like = call.url.ends_with("/likes");
        // A like is idempotent on X; a post or DM whose earlier answer was lost is looked for first.
        if !is_like
            && req.previous_error.as_deref().is_some_and(|e| e.starts_with(LOST_ANSWER))
            && let Some(id) = self.find_sent(req, &cfg, &call).await?
        {
            return Ok(SendReceipt { provider_message_id: id });
        }
        let token = cfg.access_token.as_deref().unwrap_or("");
        let resp = match self.client.post(&call.url).bearer_auth(token).json(&call.body).send().await {
            Ok(r) => r,
            // Not connected: X never saw it, so it is safe to try again.
            Err(e) if e.is_connect() => {
                return Err(SendError::Retryable { reason: format!("X API unreachable: {e}"), retry_after: None });
            }
            Err(e) => return Err(lost(e)),
        };
        let status = resp.status();
        let reset = rate_limit_reset(resp.headers(), Utc::now().timestamp());
        let text = resp.text().await.map_err(lost)?;
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
#[allow(clippy::unwrap_used)]
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

    #[test]
    fn the_spent_quota_names_the_reset_and_retry_after_counts() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-rate-limit-remaining", "12".parse().unwrap());
        h.insert("x-rate-limit-reset", "1000900".parse().unwrap());
        assert_eq!(rate_limit_reset(&h, 1_000_000), Some(1_000_900));
        // The 24-hour post quota is the spent one: its reset, hours away, is the one to wait for.
        h.insert("x-user-limit-24hour-remaining", "0".parse().unwrap());
        h.insert("x-user-limit-24hour-reset", "1050000".parse().unwrap());
        assert_eq!(rate_limit_reset(&h, 1_000_000), Some(1_050_000));
        h.insert("retry-after", "90000".parse().unwrap());
        assert_eq!(rate_limit_reset(&h, 1_000_000), Some(1_090_000));
        assert_eq!(rate_limit_reset(&reqwest::header::HeaderMap::new(), 0), None);
    }

    #[test]
    fn links_rewritten_by_x_still_match() {
        assert!(same_text("see https://example.com/a  now", "see https://t.co/xyz now"));
        assert!(!same_text("see you", "see you later"));
    }
}
