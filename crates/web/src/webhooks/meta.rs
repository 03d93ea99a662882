//! WhatsApp, Messenger and Instagram webhooks: the signature is checked over the raw bytes before
//! anything is parsed; customer messages go through the durable ingest path and the answer waits
//! for their commit; status reports, echoes and read receipts update outbound messages.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchboard_channels::meta::{MetaConfig, parse_webhook, signature, verify_subscription};
use switchboard_channels::{WebhookBatch, WebhookError};
use switchboard_engine::RealtimeEvent;
use switchboard_engine::channel_delivery::settings;
use switchboard_store::{ChannelRecord, EchoOutcome, EchoRecord};

use crate::AppState;
use crate::error::{ApiResult, AppError};

pub(super) fn handshake(ch: &ChannelRecord, q: &HashMap<String, String>) -> ApiResult<Response> {
    let cfg = MetaConfig::from_settings(&settings(ch))
        .map_err(|e| AppError::new(StatusCode::FORBIDDEN, "misconfigured_channel", e))?;
    let get = |k: &str| q.get(k).map(String::as_str);
    match verify_subscription(&cfg, get("hub.mode"), get("hub.verify_token"), get("hub.challenge")) {
        Ok(challenge) => Ok(([(header::CONTENT_TYPE, "text/plain")], challenge).into_response()),
        Err(reason) => {
            tracing::warn!(channel = %ch.slug, %reason, "webhook subscription handshake refused");
            Err(AppError::new(StatusCode::FORBIDDEN, "verification_failed", reason))
        }
    }
}

pub(super) async fn receive(
    st: &AppState,
    ch: &ChannelRecord,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let metrics = st.engine.metrics();
    let sig = headers.get(signature::HEADER).map(|v| v.as_bytes());
    if let Err(e) = signature::verify(ch.secret.as_deref(), sig, body) {
        metrics.count_ingest("rejected");
        tracing::warn!(channel = %ch.slug, reason = %e, "webhook refused: bad signature");
        return Err(AppError::unauthorized(e.to_string()));
    }
    let batch = parse_webhook(&settings(ch), body).map_err(|e| {
        metrics.count_ingest("rejected");
        tracing::warn!(channel = %ch.slug, reason = %e, "webhook refused: bad payload");
        match e {
            WebhookError::Signature(m) => AppError::unauthorized(m),
            WebhookError::Payload(m) => AppError::bad_request("invalid_payload", m),
        }
    })?;
    let WebhookBatch { mut messages, statuses, echoes, reads, identity_links, skipped } = batch;
    if ch.kind == switchboard_domain::ChannelKind::Instagram {
        mention_authors(ch, &mut messages).await;
    }
    for s in &skipped {
        tracing::info!(channel = %ch.slug, what = %s, "webhook part not turned into a message");
    }
    let store = st.engine.store();
    // One Meta app delivers every business number's webhooks to one URL: each part goes to the
    // channel configured with its phone_number_id.
    let routes = routes(st, ch, &messages, &statuses).await?;
    let routed = |account: Option<&str>| account.and_then(|a| routes.get(a)).unwrap_or(&ch.slug).clone();
    for ev in &mut messages {
        let account = ev.extra.get("whatsapp").and_then(|w| w.get("phone_number_id")).and_then(|p| p.as_str());
        ev.channel = routed(account);
    }
    // Identities first, so the pipeline finds the contact under either id.
    for link in &identity_links {
        store.link_identity(&routed(link.account.as_deref()), &link.provider_user_id, &link.alias).await?;
    }
    let n = messages.len();
    // Media to fetch once the message is stored: WhatsApp media ids, Messenger / Instagram CDN URLs.
    let media: Vec<(switchboard_domain::ChannelSlug, Vec<(i32, String)>)> = messages
        .iter()
        .map(|ev| {
            let ids = ev
                .attachments
                .iter()
                .enumerate()
                .filter_map(|(i, a)| match &a.url {
                    // WhatsApp: a Graph media id to fetch.
                    None => a.provider_id.clone().map(|p| (i as i32, p)),
                    // Messenger / Instagram: a CDN URL that expires, so the file is copied.
                    Some(url) if downloadable(&a.kind) && switchboard_channels::meta::media::is_url(url) => {
                        Some((i as i32, url.clone()))
                    }
                    Some(_) => None,
                })
                .collect();
            (ev.channel.clone(), ids)
        })
        .collect();
    let acks = futures_util::future::join_all(messages.into_iter().map(|ev| st.engine.ingestor().submit(ev))).await;
    let mut duplicates = 0;
    let mut queued_media = false;
    // The stored messages' ids, in delivery order (a duplicate's is its first delivery's): Meta
    // ignores the answer's body; simulators, logs and `bench ui` match them to live events.
    let mut message_ids = Vec::with_capacity(acks.len());
    for (ack, (slug, media)) in acks.into_iter().zip(media) {
        let ack = ack?;
        message_ids.push(ack.message_id);
        if ack.duplicate {
            duplicates += 1;
        }
        // Before the answer: if this fails Meta redelivers, and the redelivery queues it again.
        for (index, provider_id) in media {
            store.enqueue_media(&slug, ack.message_id, index, &provider_id).await?;
            queued_media = true;
        }
    }
    if queued_media {
        st.engine.wake_media();
    }
    let bus = st.engine.bus();
    for s in &statuses {
        let slug = routed(s.account.as_deref());
        if let Some(m) = store.report_delivery(&slug, &s.provider_message_id, s.status, s.reason.as_deref()).await? {
            bus.publish(RealtimeEvent::new("message.updated", m.conversation_id, None, Some(m.id))).await;
        }
    }
    for e in echoes {
        let rec = EchoRecord {
            provider_message_id: e.provider_message_id,
            recipient: e.recipient,
            thread_key: e.thread_key,
            text: e.text,
            attachments: e.attachments,
            sent_at: e.sent_at,
            sent_by_switchboard: e.sent_by_switchboard,
            switchboard_key: e.switchboard_key,
        };
        match store.record_echo(&ch.slug, &rec).await? {
            EchoOutcome::Recorded(m) => {
                bus.publish(RealtimeEvent::new("message.created", m.conversation_id, None, Some(m.id))).await
            }
            EchoOutcome::CompletedSend(m) => {
                let applied = store.apply_pending_deliveries(&ch.slug, &rec.provider_message_id).await?;
                let m = applied.unwrap_or(m);
                bus.publish(RealtimeEvent::new("message.updated", m.conversation_id, None, Some(m.id))).await
            }
            EchoOutcome::Known => {}
            EchoOutcome::NoConversation => tracing::info!(
                channel = %ch.slug, provider_message_id = %rec.provider_message_id,
                "echo of a brand message to a customer with no conversation here; not recorded"
            ),
        }
    }
    for r in &reads {
        for m in store.mark_read_until(&ch.slug, &r.customer, r.watermark).await? {
            bus.publish(RealtimeEvent::new("message.updated", m.conversation_id, None, Some(m.id))).await;
        }
    }
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({
            "messages": n, "duplicates": duplicates, "statuses": statuses.len(), "reads": reads.len(),
            "skipped": skipped.len(), "message_ids": message_ids,
        })),
    )
        .into_response())
}

/// WhatsApp: business numbers named in the delivery that belong to another WhatsApp channel,
/// mapped to that channel. Empty (no lookup) when every part is for this channel's own number.
async fn routes(
    st: &AppState,
    ch: &ChannelRecord,
    messages: &[switchboard_domain::InboundEvent],
    statuses: &[switchboard_channels::StatusUpdate],
) -> ApiResult<HashMap<String, switchboard_domain::ChannelSlug>> {
    let mut out = HashMap::new();
    if ch.kind != switchboard_domain::ChannelKind::Whatsapp {
        return Ok(out);
    }
    let own = ch.config.get("phone_number_id").and_then(|p| p.as_str());
    let foreign = messages
        .iter()
        .filter_map(|ev| ev.extra.get("whatsapp").and_then(|w| w.get("phone_number_id")).and_then(|p| p.as_str()))
        .chain(statuses.iter().filter_map(|s| s.account.as_deref()))
        .any(|p| own.is_some_and(|o| o != p));
    if !foreign {
        return Ok(out);
    }
    for other in st.engine.store().list_channels().await? {
        if other.kind == switchboard_domain::ChannelKind::Whatsapp
            && let Some(p) = other.config.get("phone_number_id").and_then(|p| p.as_str())
        {
            out.insert(p.to_owned(), other.slug.clone());
        }
    }
    Ok(out)
}

/// Messenger / Instagram attachment kinds whose URL is a file to keep (not a link or a shared post).
fn downloadable(kind: &str) -> bool {
    matches!(kind, "image" | "audio" | "video" | "file" | "story_mention" | "ig_reel" | "reel" | "sticker")
}

/// Instagram mention webhooks name neither the author nor the text of the comment (or caption)
/// that mentions the brand: both are read through the Graph API (`mentioned_comment` /
/// `mentioned_media`), so the mention becomes the author's message on the post's mention thread.
/// Answers are cached per comment / post (Meta redelivers); a failed lookup leaves the mention
/// keyed on the post, as before, and is logged.
async fn mention_authors(ch: &ChannelRecord, messages: &mut [switchboard_domain::InboundEvent]) {
    use std::sync::{Mutex, OnceLock};
    use switchboard_channels::meta::instagram::{Mention, MentionAuthor, lookup_mention};
    static CACHE: OnceLock<Mutex<HashMap<(String, String), MentionAuthor>>> = OnceLock::new();
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    const CACHE_MAX: usize = 10_000;
    let mut cfg = None;
    for ev in messages.iter_mut() {
        let field = match ev.extra.get("message_type").and_then(|t| t.as_str()) {
            Some("mention_comment") => "comment_id",
            Some("mention_media") => "media_id",
            _ => continue,
        };
        let Some(id) = ev.extra.get(field).and_then(|c| c.as_str()).map(str::to_owned) else { continue };
        let key = (ch.slug.to_string(), format!("{field}:{id}"));
        let cached = CACHE.get_or_init(Mutex::default).lock().ok().and_then(|c| c.get(&key).cloned());
        let author = match cached {
            Some(a) => a,
            None => {
                let cfg = match &cfg {
                    Some(c) => c,
                    None => match MetaConfig::from_settings(&settings(ch)) {
                        Ok(c) => cfg.insert(c),
                        Err(e) => {
                            return tracing::warn!(channel = %ch.slug, reason = %e, "mention author lookup skipped");
                        }
                    },
                };
                let client = CLIENT.get_or_init(|| {
                    reqwest::Client::builder()
                        .timeout(std::time::Duration::from_secs(5))
                        .build()
                        .unwrap_or_else(|_| reqwest::Client::new())
                });
                let mention = if field == "comment_id" { Mention::Comment(&id) } else { Mention::Media(&id) };
                match lookup_mention(client, cfg, mention).await {
                    Ok(a) => {
                        if let Ok(mut c) = CACHE.get_or_init(Mutex::default).lock() {
                            if c.len() >= CACHE_MAX {
                                c.clear();
                            }
                            c.insert(key, a.clone());
                        }
                        a
                    }
                    Err(reason) => {
                        tracing::warn!(channel = %ch.slug, %id, %reason, "cannot look up the author of a mention; kept on the post");
                        continue;
                    }
                }
            }
        };
        ev.contact = switchboard_domain::ContactRef {
            provider_user_id: author.id.clone().unwrap_or_else(|| format!("@{}", author.username)),
            handle: Some(format!("@{}", author.username)),
            display_name: Some(author.username.clone()),
        };
        if let Some(t) = author.text.as_ref().filter(|t| !t.trim().is_empty()) {
            ev.text = t.clone();
        }
        ev.extra.insert("mention_author".into(), serde_json::json!({"id": author.id, "username": author.username}));
    }
}
