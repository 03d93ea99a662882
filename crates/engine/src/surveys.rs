//! Satisfaction surveys (issue 10): a database-backed job asks CSAT / NPS on the customer's
//! channel after resolution, and the pipeline hands answers here before threading, so an answer
//! is recorded on its survey and never reopens the conversation, wakes the bot or counts as a
//! new request.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use switchboard_domain::Visibility;
use switchboard_domain::survey::{SurveyKind, button_data, parse_answer, parse_button_data};
use switchboard_store::quality::Survey;
use switchboard_store::routing::AUTOMATION_USER;
use switchboard_store::{DynStore, MessageKind, NewMessage, StoreError, StoredEvent};
use tokio_util::sync::CancellationToken;

use crate::{Bus, RealtimeEvent};

/// A typed answer is accepted this long after the question was sent.
pub const ANSWER_WINDOW_DAYS: i64 = 7;

/// The signed web-survey link is valid this long after the question is sent.
pub const LINK_VALID_DAYS: i64 = 7;

/// Survey job settings.
#[derive(Debug, Clone)]
pub struct SurveyConfig {
    /// Run the survey job on this node.
    pub enabled: bool,
    /// Time between rounds.
    pub tick: Duration,
    /// This server's public base URL (`https://desk.example.com`): questions then carry a signed
    /// link to a web page where the survey can be answered too.
    pub public_url: Option<String>,
}

impl Default for SurveyConfig {
    fn default() -> Self {
        Self { enabled: true, tick: Duration::from_secs(30), public_url: None }
    }
}

/// The name of the survey-link key in `quality_secrets`.
pub const LINK_SECRET: &str = "survey_link";

fn link_mac(secret: &[u8], id: uuid::Uuid, expires: i64) -> Option<hmac::Hmac<sha2::Sha256>> {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(format!("survey:{id}:{expires}").as_bytes());
    Some(mac)
}

/// The signature of a survey link expiring at `expires` (unix seconds), hex.
pub fn link_signature(secret: &[u8], id: uuid::Uuid, expires: i64) -> String {
    use hmac::Mac;
    link_mac(secret, id, expires).map(|m| hex::encode(m.finalize().into_bytes())).unwrap_or_default()
}

/// Why a survey link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The signature does not match (tampered id or expiry, or another key).
    #[error("the link is not valid")]
    BadSignature,
    /// Past its expiry.
    #[error("the link has expired")]
    Expired,
}

/// Checks a link's signature (constant time) and expiry.
pub fn verify_link(
    secret: &[u8],
    id: uuid::Uuid,
    expires: i64,
    signature: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), LinkError> {
    use hmac::Mac;
    let sig = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
    link_mac(secret, id, expires)
        .ok_or(LinkError::BadSignature)?
        .verify_slice(&sig)
        .map_err(|_| LinkError::BadSignature)?;
    if now.timestamp() > expires {
        return Err(LinkError::Expired);
    }
    Ok(())
}

/// The signed web link of a survey, valid for [`LINK_VALID_DAYS`].
pub fn link(base: &str, secret: &[u8], id: uuid::Uuid, now: chrono::DateTime<Utc>) -> String {
    let expires = (now + chrono::Duration::days(LINK_VALID_DAYS)).timestamp();
    format!("{}/survey/{id}?exp={expires}&sig={}", base.trim_end_matches('/'), link_signature(secret, id, expires))
}

/// The question and its buttons, in the conversation's language (Chinese or English).
pub fn question(kind: SurveyKind, id: uuid::Uuid, chinese: bool) -> (String, serde_json::Value) {
    let (text, labels): (&str, Vec<String>) = match (kind, chinese) {
        (SurveyKind::Csat, false) => (
            "How satisfied are you with our help? Tap a button or reply with a number from 1 (very dissatisfied) to 5 (very satisfied); you may add a comment.",
            (1..=5).map(|n| "⭐".repeat(n)).collect(),
        ),
        (SurveyKind::Csat, true) => (
            "您对我们的服务满意吗？请点击按钮，或回复 1（非常不满意）到 5（非常满意）的数字，也可以附上您的意见。",
            (1..=5).map(|n| "⭐".repeat(n)).collect(),
        ),
        (SurveyKind::Nps, false) => (
            "How likely are you to recommend us to a friend? Reply with a number from 0 (not at all) to 10 (extremely likely).",
            (0..=10).map(|n| n.to_string()).collect(),
        ),
        (SurveyKind::Nps, true) => (
            "您有多大可能向朋友推荐我们？请回复 0（完全不可能）到 10（非常可能）的数字。",
            (0..=10).map(|n| n.to_string()).collect(),
        ),
    };
    let (lo, _) = kind.range();
    let buttons: Vec<serde_json::Value> = labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| serde_json::json!({"text": label, "data": button_data(kind, id, lo + i as i32)}))
        .collect();
    (text.to_owned(), serde_json::json!({"type": "buttons", "buttons": buttons}))
}

/// Posts a survey's question through the outbox (idempotent on the survey id) and marks it sent.
async fn ask(store: &DynStore, bus: &Bus, s: &Survey, public_url: Option<&str>) -> Result<(), StoreError> {
    let chinese = store.conversation_triage(s.conversation_id).await?.is_some_and(|t| t.language.starts_with("zh"));
    let (mut text, payload) = question(s.kind, s.id, chinese);
    if let Some(base) = public_url {
        // Expiry counted from the survey's creation: a re-post after a crash makes the same text,
        // which the idempotency key requires.
        let secret = store.quality_secret(LINK_SECRET).await?;
        let url = link(base, &secret, s.id, s.created_at);
        text.push_str(if chinese { "\n网页作答：" } else { "\nOr answer on the web: " });
        text.push_str(&url);
    }
    let key = format!("survey:{}", s.id);
    store.save_reply_payload(&format!("{AUTOMATION_USER}:{key}"), &payload).await?;
    let (msg, created) = store
        .post_automatic_reply(&NewMessage {
            conversation_id: s.conversation_id,
            author_id: AUTOMATION_USER,
            kind: MessageKind::Reply,
            visibility: Visibility::Private,
            text,
            idempotency_key: Some(key),
            at: Utc::now(),
        })
        .await?;
    store.mark_survey_sent(s.id, msg.id, Utc::now()).await?;
    if created {
        bus.publish(RealtimeEvent::new("message.created", s.conversation_id, None, Some(msg.id))).await;
    }
    tracing::info!(survey_id = %s.id, conversation_id = %s.conversation_id, kind = %s.kind, "survey sent");
    Ok(())
}

/// One round: create the surveys that are due, post those not yet posted, and score comments.
pub async fn round(
    store: &DynStore,
    bus: &Bus,
    outbox_wake: &tokio::sync::Notify,
    public_url: Option<&str>,
) -> Result<usize, StoreError> {
    let now = Utc::now();
    for cand in store.due_surveys(now, 100).await? {
        if let Some(s) = store.create_survey(&cand, now).await? {
            tracing::debug!(survey_id = %s.id, state = s.state.as_str(), "survey created");
        }
    }
    let pending = store.pending_surveys(100).await?;
    let mut sent = 0;
    for s in &pending {
        match ask(store, bus, s, public_url).await {
            Ok(()) => sent += 1,
            // Closed in the meantime: no replies are possible (pending_surveys skips it from now on).
            Err(StoreError::Conflict(m)) => tracing::info!(survey_id = %s.id, reason = %m, "survey not sent"),
            Err(e) => return Err(e),
        }
    }
    if sent > 0 {
        outbox_wake.notify_one();
    }
    Ok(sent)
}

/// Scores the sentiment of survey comments (crates/nlp), off the async runtime.
async fn score_comments(store: &DynStore, enricher: &mut Option<Arc<switchboard_nlp::enrich::Enricher>>) {
    let todo = match store.comments_without_sentiment(50).await {
        Ok(t) if !t.is_empty() => t,
        _ => return,
    };
    if enricher.is_none() {
        match tokio::task::spawn_blocking(switchboard_nlp::enrich::Enricher::default_setup).await {
            Ok(Ok(e)) => *enricher = Some(Arc::new(e)),
            _ => {
                tracing::warn!("survey comments: the NLP models could not be loaded");
                return;
            }
        }
    }
    let Some(e) = enricher.clone() else { return };
    let scored = tokio::task::spawn_blocking(move || {
        let mut buf = switchboard_nlp::enrich::Buffers::default();
        let ctx = switchboard_nlp::urgency::MessageContext::default();
        todo.into_iter()
            .map(|s| (s.id, e.enrich(s.comment.as_deref().unwrap_or(""), &ctx, &mut buf).sentiment))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for (id, sentiment) in scored {
        if let Err(err) = store.set_comment_sentiment(id, &sentiment).await {
            tracing::warn!(survey_id = %id, error = %err, "cannot store comment sentiment");
        }
    }
}

/// The survey job: a round every `cfg.tick` until cancelled.
pub(crate) async fn run(
    store: DynStore,
    bus: Bus,
    outbox_wake: Arc<tokio::sync::Notify>,
    cfg: SurveyConfig,
    cancel: CancellationToken,
) {
    let mut enricher = None;
    loop {
        if let Err(e) = round(&store, &bus, &outbox_wake, cfg.public_url.as_deref()).await {
            tracing::warn!(error = %e, "survey round failed; retrying next round");
        }
        score_comments(&store, &mut enricher).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(cfg.tick) => {}
        }
    }
}

/// An answer found in an inbound event.
struct Found {
    survey: Survey,
    score: i32,
    comment: String,
    via: &'static str,
    /// The message also asks for something: thread it after recording the score.
    follow_up: bool,
}

/// What an inbound event answers, if anything: a survey button press, or a typed score on a
/// thread whose contact has an open survey.
async fn answer_of(store: &DynStore, ev: &StoredEvent) -> Result<Option<Found>, StoreError> {
    let e = &ev.event;
    if let Some(data) = e.extra.get("button_data").and_then(|v| v.as_str()) {
        let Some((kind, id, score)) = parse_button_data(data) else { return Ok(None) };
        let Some(s) = store.get_survey(id).await? else { return Ok(None) };
        // A button of another channel's survey (forged data) is just a message.
        if s.kind != kind || s.channel != e.channel.as_str() {
            return Ok(None);
        }
        return Ok(Some(Found { survey: s, score, comment: String::new(), via: "button", follow_up: false }));
    }
    // Cheap check first: only text that opens with a score can be an answer.
    if parse_answer(SurveyKind::Csat, &e.text).is_none() && parse_answer(SurveyKind::Nps, &e.text).is_none() {
        return Ok(None);
    }
    let since = Utc::now() - chrono::Duration::days(ANSWER_WINDOW_DAYS);
    let Some(s) = store.open_survey_for(e.channel.as_str(), &e.thread_key, &e.contact.provider_user_id, since).await?
    else {
        return Ok(None);
    };
    Ok(parse_answer(s.kind, &e.text).map(|a| Found {
        survey: s,
        score: a.score,
        comment: a.comment,
        via: "text",
        follow_up: a.follow_up,
    }))
}

/// Takes the survey answers out of a batch of events (recording each on its survey and marking
/// the event processed) and returns the rest, in order, for threading. An answer that still asks
/// for something ("5 stars but still no refund") is recorded and threaded too, so it reaches a
/// person (and reopens the conversation).
pub async fn take_answers(store: &DynStore, bus: &Bus, events: Vec<StoredEvent>) -> Vec<StoredEvent> {
    let mut rest = Vec::with_capacity(events.len());
    for ev in events {
        match answer_of(store, &ev).await {
            Ok(Some(Found { survey: s, score, comment, via, follow_up })) => {
                let event = (!follow_up).then_some(&ev);
                match store.answer_survey(s.id, score, &comment, via, event, Utc::now()).await {
                    Ok(done) => {
                        tracing::info!(survey_id = %s.id, score, via, follow_up, "survey answered");
                        bus.publish(RealtimeEvent::new("conversation.updated", done.conversation_id, None, None)).await;
                        if follow_up {
                            rest.push(ev);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(survey_id = %s.id, error = %e, "survey answer not recorded; threading it");
                        rest.push(ev);
                    }
                }
            }
            Ok(None) => rest.push(ev),
            Err(e) => {
                tracing::warn!(error = %e, "survey lookup failed; threading the event");
                rest.push(ev);
            }
        }
    }
    rest
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn links_are_signed_and_expire() {
        let id = uuid::Uuid::now_v7();
        let now = Utc::now();
        let url = link("https://desk.example/", b"key", id, now);
        let q = url.split_once('?').unwrap().1;
        let exp: i64 = q.split('&').next().unwrap().strip_prefix("exp=").unwrap().parse().unwrap();
        let sig = q.split("sig=").nth(1).unwrap();
        assert!(url.starts_with(&format!("https://desk.example/survey/{id}?")));
        assert_eq!(verify_link(b"key", id, exp, sig, now), Ok(()));
        assert_eq!(verify_link(b"other", id, exp, sig, now), Err(LinkError::BadSignature));
        assert_eq!(verify_link(b"key", id, exp + 1, sig, now), Err(LinkError::BadSignature));
        assert_eq!(verify_link(b"key", uuid::Uuid::now_v7(), exp, sig, now), Err(LinkError::BadSignature));
        assert_eq!(verify_link(b"key", id, exp, "zz", now), Err(LinkError::BadSignature));
        let later = now + chrono::Duration::days(LINK_VALID_DAYS + 1);
        assert_eq!(verify_link(b"key", id, exp, sig, later), Err(LinkError::Expired));
    }

    #[test]
    fn questions_carry_one_button_per_score() {
        let id = uuid::Uuid::now_v7();
        let (_, p) = question(SurveyKind::Nps, id, false);
        let b = p["buttons"].as_array().map(Vec::len);
        assert_eq!(b, Some(11));
        assert_eq!(p["buttons"][10]["data"], format!("nps:{id}:10"));
        let (text, p) = question(SurveyKind::Csat, id, true);
        assert!(text.contains("满意"));
        assert_eq!(p["buttons"][0]["data"], format!("csat:{id}:1"));
    }
}
