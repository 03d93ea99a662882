//! The FAQ bot job (issue 9): for each new inbound message on a bot-enabled channel whose
//! conversation is still active, decide (crate switchboard-kb, `bot::decide`) and act: answer
//! with an article snippet, a help-center link and Yes/No buttons; record the customer's
//! feedback; or hand off to a person with a private note saying what the bot tried. Every
//! outcome goes to `bot_outcomes`.
//!
//! Durable and idempotent: a cursor in the database (`bot_cursor`) remembers the last inbound
//! message decided; replies carry idempotency keys derived from the inbound message and
//! outcomes are unique per (message, outcome), so a crash or a second node repeats nothing.
//! Triage missing for a message (the triage step is off or behind) is computed here with the
//! built-in models and stored.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use switchboard_domain::{Conversation, ConversationPatch, Direction, Message, MessageId, Visibility};
use switchboard_kb::bot::{self, BotSettings, Decision, HandoffReason, History, Input, Signals};
use switchboard_nlp::enrich::{Buffers, Enricher};
use switchboard_nlp::urgency::MessageContext;
use switchboard_store::kb::{ArticleId, BOT_USER, BotOutcome, BotOutcomeKind};
use switchboard_store::routing::AUTOMATION_USER;
use switchboard_store::{MessageKind, MessageTriage, NewMessage, StoreError};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::kb::KbService;
use crate::{Engine, RealtimeEvent};

/// Messages decided per round.
const BATCH: usize = 64;
/// How often the job looks for work it was not woken for (other nodes' messages).
const TICK: Duration = Duration::from_secs(2);
/// Tag put on conversations the bot handed off.
pub const HANDOFF_TAG: &str = "bot-handoff";

/// The job's state.
struct Bot {
    engine: Engine,
    kb: Arc<KbService>,
    enricher: OnceCell<Arc<Enricher>>,
    /// Whether any channel has the bot on, and when that was read.
    enabled: std::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

/// How long the "any channel has the bot on" answer is reused.
const SETTINGS_TTL: Duration = Duration::from_secs(2);

pub(crate) async fn run(engine: Engine, kb: Arc<KbService>, cancel: CancellationToken) {
    let store = engine.store().clone();
    let mut rx = engine.bus().subscribe();
    let bot = Bot { engine, kb, enricher: OnceCell::new(), enabled: std::sync::Mutex::new(None) };
    // First start: decide on what arrives from now on, not on old history.
    let mut cursor = match store.bot_cursor().await {
        Ok(Some(c)) => c,
        _ => {
            let floor = id_floor(Utc::now());
            let _ = store.set_bot_cursor(floor).await;
            floor
        }
    };
    loop {
        match bot.round(cursor).await {
            Ok((c, n)) => {
                cursor = c;
                if n == BATCH {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "bot round failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = rx.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// A message id below every id created at `t` or later (ids are UUIDv7).
fn id_floor(t: chrono::DateTime<Utc>) -> MessageId {
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, t.timestamp().max(0) as u64, 0);
    let mut b = *uuid::Uuid::new_v7(ts).as_bytes();
    for x in &mut b[6..] {
        *x = 0;
    }
    MessageId(uuid::Uuid::from_bytes(b))
}

impl Bot {
    /// Decides on the next batch; returns the new cursor and how many were looked at.
    async fn round(&self, mut cursor: MessageId) -> Result<(MessageId, usize), StoreError> {
        let store = self.engine.store();
        let ids = store.inbound_messages_after(cursor, BATCH).await?;
        let n = ids.len();
        if !self.any_enabled().await? {
            // No channel has the bot on: nothing to read per message.
            if let Some(&last) = ids.last() {
                store.set_bot_cursor(last).await?;
                cursor = last;
            }
            return Ok((cursor, n));
        }
        for id in ids {
            // A failure leaves the cursor before this message: the next round retries it.
            self.handle(id).await?;
            store.set_bot_cursor(id).await?;
            cursor = id;
        }
        Ok((cursor, n))
    }

    /// Whether any channel has the bot on. A "yes" is reused for a moment; a "no" is re-read
    /// every round, so a message right after an admin turned the bot on is not skipped.
    async fn any_enabled(&self) -> Result<bool, StoreError> {
        if let Ok(g) = self.enabled.lock()
            && let Some((at, true)) = *g
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(true);
        }
        let store = self.engine.store();
        let mut on = false;
        for ch in store.list_channels().await? {
            if let Some(v) = store.bot_settings(ch.slug.as_str()).await?
                && BotSettings::from_json(&v).is_ok_and(|s| s.enabled)
            {
                on = true;
                break;
            }
        }
        if let Ok(mut g) = self.enabled.lock() {
            *g = Some((std::time::Instant::now(), on));
        }
        Ok(on)
    }

    async fn handle(&self, id: MessageId) -> Result<(), StoreError> {
        let store = self.engine.store();
        let Some(msg) = store.get_message(id).await? else { return Ok(()) };
        let Some(conv) = store.get_conversation(msg.conversation_id).await? else { return Ok(()) };
        let settings = match store.bot_settings(conv.channel.as_str()).await? {
            Some(v) => match BotSettings::from_json(&v) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(channel = %conv.channel, error = %e, "stored bot settings unreadable; bot off");
                    return Ok(());
                }
            },
            None => return Ok(()),
        };
        if !settings.enabled || !conv.status.is_active() {
            return Ok(());
        }
        let triage = match store.message_triage(id).await? {
            Some(t) => t,
            None => self.compute_triage(&msg).await?,
        };
        let signals = Signals {
            language: triage.language.clone(),
            sentiment: triage.sentiment.clone(),
            sentiment_score: triage.sentiment_score,
            intent: triage.intent.clone(),
            intent_confidence: triage.intent_confidence,
            priority: triage.priority.clone(),
            priority_reasons: triage.priority_reasons.clone(),
        };
        let history = self.history(&conv, &msg).await?;
        let button = store.message_button_data(id).await?;
        let input = Input {
            text: &msg.text,
            button_data: button.as_deref(),
            public: msg.visibility == Visibility::Public,
            signals: &signals,
            history: &history,
            settings: &settings,
        };
        let locale = bot::locale_for(&signals.language, &settings.default_locale);
        let decision = match bot::decide_before_search(&input) {
            Some(d) => d,
            None => {
                let results = if self.kb.index().has_locale(&locale) {
                    Some(self.kb.search(&msg.text, &locale, 3).await?)
                } else {
                    None
                };
                bot::decide(&input, results.as_ref())
            }
        };
        tracing::debug!(message = %id, case = %conv.case_number, ?decision, "bot decision");
        let outcome = |kind: BotOutcomeKind, reason: String, article: Option<ArticleId>| BotOutcome {
            id: uuid::Uuid::now_v7(),
            conversation_id: conv.id,
            message_id: id,
            channel_slug: conv.channel.as_str().to_owned(),
            outcome: kind,
            reason,
            article_id: article,
            created_at: Utc::now(),
        };
        match decision {
            Decision::Silent(_) => {}
            Decision::Answer { hit, confidence } => {
                let url = self.kb.article_url(&hit.slug, &locale);
                let text = bot::answer_text(&locale, &hit, &url);
                let payload = bot::answer_payload(&locale, hit.article_id);
                self.reply(&conv, &msg, "answer", text, Some(payload)).await?;
                let reason = format!("confidence {confidence:.2}");
                store.record_bot_outcome(&outcome(BotOutcomeKind::Answered, reason, Some(hit.article_id))).await?;
                tracing::info!(case = %conv.case_number, article = %hit.slug, "bot answered");
            }
            Decision::Feedback { article, helped, then_handoff } => {
                let kind = if helped { BotOutcomeKind::Helped } else { BotOutcomeKind::NotHelped };
                if helped {
                    self.reply(&conv, &msg, "feedback", bot::thanks_text(&locale).into(), None).await?;
                } else if !then_handoff {
                    self.reply(&conv, &msg, "feedback", bot::retry_text(&locale).into(), None).await?;
                }
                store.record_bot_outcome(&outcome(kind, "customer feedback".into(), Some(article))).await?;
                if then_handoff {
                    let detail = "the customer said two answers did not help".to_owned();
                    self.handoff(&conv, &msg, &locale, &signals, &history, HandoffReason::RepeatedFailure, &detail)
                        .await?;
                    store
                        .record_bot_outcome(&outcome(
                            BotOutcomeKind::HandedOff,
                            format!("{}: {detail}", HandoffReason::RepeatedFailure.as_str()),
                            Some(article),
                        ))
                        .await?;
                }
            }
            Decision::Handoff { reason, detail } => {
                self.handoff(&conv, &msg, &locale, &signals, &history, reason, &detail).await?;
                store
                    .record_bot_outcome(&outcome(
                        BotOutcomeKind::HandedOff,
                        format!("{}: {detail}", reason.as_str()),
                        None,
                    ))
                    .await?;
                tracing::info!(case = %conv.case_number, reason = reason.as_str(), "bot handed off");
            }
        }
        Ok(())
    }

    /// What the bot did before in this conversation, and whether a person has replied.
    async fn history(&self, conv: &Conversation, msg: &Message) -> Result<History, StoreError> {
        let store = self.engine.store();
        let mut h = History::default();
        for o in store.bot_outcomes(conv.id).await? {
            if o.message_id == msg.id {
                continue;
            }
            match o.outcome {
                BotOutcomeKind::Answered => {
                    if let Some(a) = o.article_id {
                        h.answered.push(a);
                        h.awaiting_feedback = Some(a);
                    }
                }
                BotOutcomeKind::Helped => h.awaiting_feedback = None,
                BotOutcomeKind::NotHelped => {
                    h.awaiting_feedback = None;
                    if let Some(a) = o.article_id {
                        h.not_helped.push(a);
                    }
                }
                BotOutcomeKind::HandedOff => h.handed_off = true,
            }
        }
        h.human_replied = store.list_messages(conv.id).await?.iter().any(|m| {
            m.direction == Direction::Outbound
                && m.created_at <= msg.created_at
                && m.author_id != Some(BOT_USER)
                && m.author_id != Some(AUTOMATION_USER)
        });
        Ok(h)
    }

    /// Triage with the built-in models, stored like the triage step's.
    async fn compute_triage(&self, msg: &Message) -> Result<MessageTriage, StoreError> {
        let langs = self.kb.config().languages.clone();
        let enricher = self
            .enricher
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    let refs: Vec<&str> = langs.iter().map(String::as_str).collect();
                    let cold = switchboard_nlp::intent::train(
                        &switchboard_nlp::intent::default_examples(),
                        42,
                        "built-in cold-start examples",
                    )
                    .map_err(|e| e.to_string())?;
                    Enricher::new(&refs, cold, None).map(Arc::new).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| StoreError::Backend(format!("bot triage task: {e}")))?
                .map_err(StoreError::Backend)
            })
            .await?
            .clone();
        let (text, public) = (msg.text.clone(), msg.visibility == Visibility::Public);
        let t = tokio::task::spawn_blocking(move || {
            let ctx = MessageContext { public, ..MessageContext::default() };
            enricher.enrich(&text, &ctx, &mut Buffers::default())
        })
        .await
        .map_err(|e| StoreError::Backend(format!("bot triage task: {e}")))?;
        let row = MessageTriage {
            message_id: msg.id,
            conversation_id: msg.conversation_id,
            language: t.language,
            language_confidence: t.language_confidence,
            sentiment: t.sentiment,
            sentiment_score: t.sentiment_score,
            intent: t.intent,
            intent_confidence: t.intent_confidence,
            intent_by_agent: false,
            priority: t.priority.level,
            priority_reasons: t.priority.reasons,
            pii: t.pii.iter().map(|k| k.as_str().to_owned()).collect(),
            redacted_text: t.redacted_text,
            intent_model_version: None,
            created_at: Utc::now(),
        };
        self.engine.store().save_triage(vec![row.clone()]).await?;
        Ok(row)
    }

    /// Sends a bot reply (idempotent per inbound message and purpose).
    async fn reply(
        &self,
        conv: &Conversation,
        msg: &Message,
        purpose: &str,
        text: String,
        payload: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        let store = self.engine.store();
        let key = format!("bot:{}:{purpose}", msg.id);
        if let Some(p) = &payload {
            store.save_reply_payload(&format!("{BOT_USER}:{key}"), p).await?;
        }
        let (m, created) = store
            .post_message(&NewMessage {
                conversation_id: conv.id,
                author_id: BOT_USER,
                kind: MessageKind::Reply,
                visibility: msg.visibility,
                text,
                idempotency_key: Some(key),
                at: Utc::now(),
            })
            .await?;
        if created {
            self.engine.wake_outbox();
            self.engine
                .bus()
                .publish(RealtimeEvent::new("message.created", conv.id, Some(conv.case_number), Some(m.id)))
                .await;
        }
        Ok(())
    }

    /// Hands the conversation to people: tells the customer (never in public), leaves a note
    /// for the agents, tags the conversation and wakes routing, which assigns it.
    #[allow(clippy::too_many_arguments)]
    async fn handoff(
        &self,
        conv: &Conversation,
        msg: &Message,
        locale: &str,
        s: &Signals,
        h: &History,
        reason: HandoffReason,
        detail: &str,
    ) -> Result<(), StoreError> {
        let store = self.engine.store();
        if msg.visibility == Visibility::Private {
            self.reply(conv, msg, "handoff", bot::handoff_text(locale).into(), None).await?;
        }
        let mut tried = Vec::new();
        for a in &h.answered {
            if let Some(article) = store.get_article(*a).await? {
                let title = article.translation(locale).or(article.translations.first()).map(|t| t.title.clone());
                let verdict = if h.not_helped.contains(a) { "did not help" } else { "no feedback" };
                tried.push(format!("\"{}\" ({verdict})", title.unwrap_or(article.slug)));
            }
        }
        let note = format!(
            "Bot handed off: {} — {detail}.\nCustomer: language {}, intent {} ({:.2}), sentiment {} ({:.2}), priority {}.\nBot tried: {}.",
            reason.as_str(),
            s.language,
            s.intent,
            s.intent_confidence,
            s.sentiment,
            s.sentiment_score,
            s.priority,
            if tried.is_empty() { "no article sent".to_owned() } else { tried.join(", ") }
        );
        let (m, created) = store
            .post_message(&NewMessage {
                conversation_id: conv.id,
                author_id: BOT_USER,
                kind: MessageKind::Note,
                visibility: Visibility::Private,
                text: note,
                idempotency_key: Some(format!("bot:{}:note", msg.id)),
                at: Utc::now(),
            })
            .await?;
        if !conv.tags.iter().any(|t| t == HANDOFF_TAG) {
            let mut tags = conv.tags.clone();
            tags.push(HANDOFF_TAG.into());
            store
                .update_conversation(
                    conv.id,
                    &ConversationPatch { tags: Some(tags), ..ConversationPatch::default() },
                    None,
                )
                .await?;
        }
        if created {
            self.engine
                .bus()
                .publish(RealtimeEvent::new("message.created", conv.id, Some(conv.case_number), Some(m.id)))
                .await;
        }
        self.engine.routing().after_threading();
        Ok(())
    }
}
