//! The routing job: after threading (and whenever a conversation changes, on any node) it runs
//! automation rules, the auto-acknowledgement, team assignment and the SLA clocks of each changed
//! conversation, then fires due SLA timers (warnings and escalations). Work and timers live in
//! the database: conversations are leased, timers claimed, so any node can run this and a
//! restart loses nothing.
//!
//! Time comes from a [`Clock`], so tests move time forward instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use switchboard_domain::automation::{Action, RuleInput, RuleSet, TriggerEvent};
use switchboard_domain::calendar::BusinessCalendar;
use switchboard_domain::canned::{TemplateVars, acknowledgement, format_due_local, pick_variant, render};
use switchboard_domain::sla::{
    SlaContext, SlaMetric, SlaPolicy, SlaStatus, SlaTimerKind, TimelineEvent, derive_clocks, select_policy,
};
use switchboard_domain::{
    ChannelKind, Conversation, ConversationId, ConversationPatch, Direction, FactKind, Message, Status, Visibility,
};
use switchboard_store::routing::{AUTOMATION_USER, RoutingState, TimerSpec};
use switchboard_store::{DynStore, MessageKind, NewMessage, StoreError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{Bus, RealtimeEvent};

/// Where "now" comes from. Production uses the system clock; tests set it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// A clock a test moves by hand.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(t)))
    }

    /// Sets the time.
    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }

    /// Moves time forward.
    pub fn advance(&self, d: chrono::Duration) {
        if let Ok(mut g) = self.0.lock() {
            *g += d;
        }
    }

    /// The clock to hand to the engine.
    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || inner.lock().map(|g| *g).unwrap_or_else(|_| Utc::now()))
    }
}

/// Routing settings.
#[derive(Clone)]
pub struct RoutingConfig {
    /// Run the routing job with the other workers.
    pub enabled: bool,
    /// How often it looks for work it was not woken for (other nodes, due timers).
    pub tick: Duration,
    /// Send the automatic acknowledgement on new conversations.
    pub auto_ack: bool,
    /// Also acknowledge on public threads (an X mention). Off: never answer in public
    /// automatically; a channel's config `{"auto_ack_public": true}` allows it for that channel.
    pub auto_ack_public: bool,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tick: Duration::from_secs(2),
            auto_ack: false,
            auto_ack_public: false,
            clock: system_clock(),
        }
    }
}

impl std::fmt::Debug for RoutingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingConfig")
            .field("enabled", &self.enabled)
            .field("tick", &self.tick)
            .field("auto_ack", &self.auto_ack)
            .field("auto_ack_public", &self.auto_ack_public)
            .finish_non_exhaustive()
    }
}

/// Conversations processed per round.
const BATCH: usize = 64;
/// How long a node holds a conversation it is processing.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// How soon a conversation waiting for triage is looked at again if nothing wakes routing.
const TRIAGE_RETRY: chrono::Duration = chrono::Duration::milliseconds(250);
/// Timers fired per round.
const TIMER_BATCH: usize = 256;
/// Rules and policies are re-read at least this often (changes through this node's API apply at once).
const CONFIG_TTL: Duration = Duration::from_secs(5);
/// Conversations older than this when first seen get no "conversation created" automation
/// (a restored backup, a long outage): acknowledging them now would be wrong.
const CREATED_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Conversations processed.
    pub processed: usize,
    /// Timers fired.
    pub fired: usize,
    /// Conversations this round changed itself (an acknowledgement, an assignment, rule
    /// actions): their clocks are recomputed in the next round, which follows at once.
    pub resync: usize,
}

/// What evaluating rules for one event did.
#[derive(Debug, Default)]
struct RulesOutcome {
    /// Rules fired (facts recorded, actions applied).
    changed: bool,
    /// A rule asked to resolve after this many hours of inactivity.
    auto_resolve_hours: Option<u32>,
}

/// Language and triage signals of a conversation. The NLP triage fills these; until a field is
/// known it is `None` and conditions on it do not match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Triage {
    /// BCP 47 language tag.
    pub language: Option<String>,
    /// `negative`, `neutral` or `positive`.
    pub sentiment: Option<String>,
    /// Intent label.
    pub intent: Option<String>,
}

/// The routing job. Cheap to clone.
#[derive(Clone)]
pub struct Routing {
    inner: Arc<Inner>,
}

struct Inner {
    store: DynStore,
    bus: Bus,
    config: RoutingConfig,
    wake: Notify,
    cached: Mutex<ConfigCache>,
    http: reqwest::Client,
    /// How long (ms) a conversation waits for the triage of its newest customer message before
    /// routing goes on without it; 0 while the triage step is off.
    triage_wait_ms: AtomicU64,
}

/// The loaded rules and policies, and how many times an admin change has invalidated them: a
/// load that an invalidation overtook must not put its stale result back.
#[derive(Default)]
struct ConfigCache {
    generation: u64,
    loaded: Option<(Instant, Arc<Config>)>,
}

/// Rules and policies in force.
struct Config {
    rules: RuleSet,
    policies: Vec<SlaPolicy>,
}

impl Routing {
    /// A routing job on `store`.
    pub fn new(store: DynStore, bus: Bus, config: RoutingConfig) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                store,
                bus,
                config,
                wake: Notify::new(),
                cached: Mutex::default(),
                http,
                triage_wait_ms: AtomicU64::new(0),
            }),
        }
    }

    /// Makes routing wait, up to `max`, for the triage of a conversation's newest customer
    /// message, so rules, skills and acknowledgements see its language, sentiment and intent.
    /// The triage step sets this when it starts; a message it has not triaged within `max`
    /// (a backlog, triage slower than ingest) is routed without it, as when triage is off.
    pub fn wait_for_triage(&self, max: Duration) {
        let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        self.inner.triage_wait_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether `m` (a conversation's newest customer message) should be triaged before routing.
    async fn awaits_triage(&self, m: &Message) -> Result<bool, StoreError> {
        let wait = self.inner.triage_wait_ms.load(Ordering::Relaxed);
        if wait == 0 {
            return Ok(false);
        }
        // Message times are wall-clock times, whatever clock routing runs on.
        let age = Utc::now() - m.created_at;
        if age >= chrono::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX)) {
            return Ok(false);
        }
        Ok(self.inner.store.message_triage(m.id).await?.is_none())
    }

    /// The current time on this job's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.config.clock)()
    }

    /// Called by the pipeline after threading: new messages are waiting for routing.
    pub fn after_threading(&self) {
        self.inner.wake.notify_one();
    }

    /// Forgets cached rules and policies (after an admin changed them) and wakes the job.
    pub fn reload(&self) {
        if let Ok(mut c) = self.inner.cached.lock() {
            c.generation += 1;
            c.loaded = None;
        }
        self.inner.wake.notify_one();
    }

    /// Runs until cancelled.
    pub(crate) async fn run(self, cancel: CancellationToken) {
        loop {
            match self.tick().await {
                Ok(r) if r.processed == BATCH || r.resync > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "routing round failed"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(self.inner.config.tick) => {}
            }
        }
    }

    /// One round: process changed conversations, then fire due timers.
    pub async fn tick(&self) -> Result<TickReport, StoreError> {
        let store = &self.inner.store;
        let now = self.now();
        let cfg = self.config().await?;
        let ids = store.claim_routing_work(now, now + LEASE, BATCH).await?;
        let mut report = TickReport { processed: ids.len(), fired: 0, resync: 0 };
        for id in ids {
            match self.process(id, now, &cfg).await {
                Ok(true) => report.resync += 1,
                Ok(false) => {}
                // The lease lapses and the next round retries it.
                Err(e) => tracing::warn!(conversation = %id, error = %e, "routing a conversation failed"),
            }
        }
        let fired = store.fire_due_timers(now, TIMER_BATCH).await?;
        report.fired = fired.len();
        for f in fired {
            let kind = match f.kind {
                SlaTimerKind::Warning => "sla.warning",
                SlaTimerKind::Breach => "sla.breached",
                SlaTimerKind::Escalation(_) => "sla.escalated",
                SlaTimerKind::AutoResolve => "conversation.updated",
            };
            tracing::info!(case = %f.case_number, metric = %f.metric, timer = %f.kind.as_str(), "SLA timer fired");
            self.inner.bus.publish(RealtimeEvent::new(kind, f.conversation_id, Some(f.case_number), None)).await;
            if f.kind == SlaTimerKind::Warning
                && let Err(e) = self.on_sla_warning(f.conversation_id, f.metric, now, &cfg).await
            {
                tracing::warn!(conversation = %f.conversation_id, error = %e, "SLA warning rules failed");
            }
        }
        Ok(report)
    }

    async fn config(&self) -> Result<Arc<Config>, StoreError> {
        let mut generation = 0;
        if let Ok(c) = self.inner.cached.lock() {
            if let Some((at, cfg)) = c.loaded.as_ref()
                && at.elapsed() < CONFIG_TTL
            {
                return Ok(cfg.clone());
            }
            generation = c.generation;
        }
        let store = &self.inner.store;
        let rules: Vec<_> = store.list_rules().await?.into_iter().map(|r| r.rule).collect();
        // A stored rule that no longer compiles is skipped, not fatal: the rest still run.
        let rules = RuleSet::compile(&rules).or_else(|e| {
            tracing::warn!(error = %e, "automation rules do not compile; checking them one by one");
            let ok: Vec<_> = rules.iter().filter(|r| r.validate().is_ok()).cloned().collect();
            RuleSet::compile(&ok)
        });
        let rules = rules.map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut policies: Vec<SlaPolicy> = store.list_sla_policies().await?.into_iter().map(|p| p.policy).collect();
        // The built-in defaults apply to whatever no configured policy matches.
        policies.extend(SlaPolicy::defaults());
        let cfg = Arc::new(Config { rules, policies });
        if let Ok(mut c) = self.inner.cached.lock()
            && c.generation == generation
        {
            c.loaded = Some((Instant::now(), cfg.clone()));
        }
        Ok(cfg)
    }

    /// The business calendar of a team (around the clock in UTC without one).
    pub async fn calendar_of(&self, team: Option<&str>) -> Result<BusinessCalendar, StoreError> {
        let store = &self.inner.store;
        let Some(team) = team else { return Ok(BusinessCalendar::around_the_clock()) };
        let Some(name) = store.get_team(team).await?.and_then(|t| t.calendar) else {
            return Ok(BusinessCalendar::around_the_clock());
        };
        match store.get_calendar(&name).await? {
            Some(c) => BusinessCalendar::new(&c.spec).map_err(|e| StoreError::Invalid(format!("calendar {name}: {e}"))),
            None => Ok(BusinessCalendar::around_the_clock()),
        }
    }

    /// The SLA state shown with a conversation: clocks with due times, as routing last derived them.
    pub async fn sla_status(&self, conv: &Conversation) -> Result<Vec<SlaStatus>, StoreError> {
        let Some(state) = self.inner.store.get_routing_state(conv.id).await? else { return Ok(Vec::new()) };
        let cal = self.calendar_of(conv.team.as_deref()).await?;
        let now = self.now();
        let policy = state.policy.unwrap_or_default();
        Ok(state
            .clocks
            .iter()
            .map(|c| SlaStatus {
                metric: c.clock.metric,
                policy: policy.clone(),
                target: c.clock.target,
                due_at: c.clock.due_at(&cal),
                paused: c.clock.running_since.is_none() && c.clock.stopped_at.is_none(),
                stopped_at: c.clock.stopped_at,
                elapsed_secs: c.clock.elapsed(&cal, now).num_seconds(),
                breached: c.clock.breached(&cal, now),
            })
            .collect())
    }

    /// Processes one leased conversation; `true` when it changed it, so it needs another round.
    async fn process(&self, id: ConversationId, now: DateTime<Utc>, cfg: &Config) -> Result<bool, StoreError> {
        let store = &self.inner.store;
        let Some(conv) = store.get_conversation(id).await? else { return Ok(false) };
        // The version everything below is computed from. Timers fire only while the conversation
        // is still at the recorded version, so a change made meanwhile (an agent's reply, or our
        // own actions) holds them back until the next round recomputes the clocks.
        let version = conv.updated_at;
        let state = store.get_routing_state(id).await?.unwrap_or(RoutingState {
            conversation_id: id,
            synced_at: None,
            seen_message_at: None,
            policy: None,
            clocks: Vec::new(),
            auto_resolve_hours: None,
        });
        let messages = store.list_messages(id).await?;
        let facts = store.list_facts(id).await?;
        let latest_inbound = messages.iter().rev().find(|m| m.direction == Direction::Inbound);
        if let Some(m) = latest_inbound
            && state.seen_message_at.is_none_or(|seen| m.created_at > seen)
            && self.awaits_triage(m).await?
        {
            // The triage step wakes routing when it has stored the result.
            store.defer_routing(id, now + TRIAGE_RETRY).await?;
            return Ok(false);
        }
        let triage = triage_of(store, id, &messages).await?;

        // Which events happened since routing last looked.
        let mut events = Vec::new();
        let new_inbound = latest_inbound.is_some_and(|m| state.seen_message_at.is_none_or(|seen| m.created_at > seen));
        if state.synced_at.is_none() {
            if now - conv.created_at <= CREATED_GRACE && latest_inbound.is_some() {
                events.push(TriggerEvent::ConversationCreated);
            }
        } else if new_inbound {
            events.push(TriggerEvent::MessageReceived);
        }
        if let Some(since) = state.synced_at
            && facts
                .iter()
                .any(|f| f.kind == FactKind::StatusChanged && f.at > since && f.actor_id != Some(AUTOMATION_USER))
        {
            events.push(TriggerEvent::StatusChanged);
        }

        let channel = store.get_channel(&conv.channel).await?;
        let channel_kind = channel.as_ref().map(|c| c.kind).unwrap_or(ChannelKind::Api);
        let mut conv = conv;
        let mut changed = false;
        let mut auto_resolve_hours = state.auto_resolve_hours;
        for ev in &events {
            let cal = self.calendar_of(conv.team.as_deref()).await?;
            let out = self.run_rules(&conv, *ev, latest_inbound, &triage, channel_kind, &cal, now, cfg).await?;
            changed |= out.changed;
            auto_resolve_hours = out.auto_resolve_hours.or(auto_resolve_hours);
            if changed {
                conv = store.get_conversation(id).await?.unwrap_or(conv);
            }
        }

        // Routing: a team without an assignee gets one by the team's policy.
        if conv.team.is_some() && conv.assignee_id.is_none() && conv.status.is_active() {
            let lang = triage.language.as_deref();
            if let Some(agent) = store.assign_next(id, lang, triage.intent.as_deref(), now).await? {
                tracing::info!(case = %conv.case_number, agent = %agent, "conversation assigned");
                changed = true;
            }
        }
        if changed {
            conv = store.get_conversation(id).await?.unwrap_or(conv);
        }

        // SLA clocks from the timeline.
        let cal = self.calendar_of(conv.team.as_deref()).await?;
        let attributes = store.get_contact_attributes(conv.contact_id).await?;
        let ctx = SlaContext {
            priority: conv.priority,
            channel: conv.channel.as_str(),
            team: conv.team.as_deref(),
            tier: attributes.get("tier").map(String::as_str),
        };
        let policy = select_policy(&cfg.policies, &ctx);
        let timeline = timeline(&messages, &facts);
        let clocks = policy.map(|p| derive_clocks(conv.created_at, &timeline, p, &cal)).unwrap_or_default();

        // The acknowledgement, with the real first-response due time.
        if events.contains(&TriggerEvent::ConversationCreated)
            && self.should_acknowledge(&conv, latest_inbound, channel.as_ref())
        {
            let due =
                clocks.iter().find(|c| c.clock.metric == SlaMetric::FirstResponse).and_then(|c| c.clock.due_at(&cal));
            if let Some(due) = due {
                self.acknowledge(&conv, latest_inbound, due, &cal, &triage, now).await?;
                changed = true;
            }
        }

        let mut timers = Vec::new();
        if let Some(p) = policy {
            for tc in &clocks {
                for (kind, fire_at) in tc.clock.timers(&cal, p) {
                    let action = match kind {
                        SlaTimerKind::Escalation(n) => p.escalations.get(usize::from(n) - 1).map(|e| e.action.clone()),
                        _ => None,
                    };
                    timers.push(TimerSpec { metric: tc.clock.metric, cycle: tc.cycle, kind, action, fire_at });
                }
            }
        }
        // "Resolve after inactivity": while the conversation waits on the customer, resolve it
        // that long after the last message. A new message is a new cycle with its own timer.
        if let Some(h) = auto_resolve_hours
            && conv.status == Status::Pending
        {
            timers.push(TimerSpec {
                metric: SlaMetric::Resolution,
                cycle: messages.len() as i32,
                kind: SlaTimerKind::AutoResolve,
                action: None,
                fire_at: conv.last_message_at + chrono::Duration::hours(i64::from(h)),
            });
        }
        let latest = store.get_conversation(id).await?.unwrap_or(conv);
        let seen = latest_inbound.map(|m| m.created_at).or(state.seen_message_at);
        let new_state = RoutingState {
            conversation_id: id,
            synced_at: Some(version),
            seen_message_at: seen,
            policy: policy.map(|p| p.name.clone()),
            clocks,
            auto_resolve_hours,
        };
        store.save_routing_state(&new_state, &timers).await?;
        if changed {
            self.inner
                .bus
                .publish(RealtimeEvent::new("conversation.updated", id, Some(latest.case_number), None))
                .await;
        }
        Ok(latest.updated_at != version)
    }

    fn should_acknowledge(
        &self,
        conv: &Conversation,
        latest_inbound: Option<&Message>,
        channel: Option<&switchboard_store::ChannelRecord>,
    ) -> bool {
        if !self.inner.config.auto_ack || conv.status == Status::Closed {
            return false;
        }
        let public = latest_inbound.is_some_and(|m| m.visibility == Visibility::Public);
        let channel_allows =
            channel.and_then(|c| c.config.get("auto_ack_public")).and_then(|v| v.as_bool()) == Some(true);
        !public || self.inner.config.auto_ack_public || channel_allows
    }

    async fn acknowledge(
        &self,
        conv: &Conversation,
        latest_inbound: Option<&Message>,
        due: DateTime<Utc>,
        cal: &BusinessCalendar,
        triage: &Triage,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let lang = triage.language.as_deref();
        let due_local = format_due_local(due, now, cal.time_zone(), lang);
        let text = acknowledgement(conv.case_number, &due_local, lang);
        let (msg, created) = self
            .inner
            .store
            .post_automatic_reply(&NewMessage {
                conversation_id: conv.id,
                author_id: AUTOMATION_USER,
                kind: MessageKind::Reply,
                visibility: latest_inbound.map(|m| m.visibility).unwrap_or(Visibility::Private),
                text,
                idempotency_key: Some(format!("auto-ack:{}", conv.id)),
                at: now,
            })
            .await?;
        if created {
            self.inner
                .store
                .record_routing_fact(
                    conv.id,
                    FactKind::AutoAcknowledged,
                    serde_json::json!({"message_id": msg.id, "due_at": due, "due_local": due_local}),
                    now,
                )
                .await?;
            tracing::info!(case = %conv.case_number, "acknowledgement queued");
        }
        Ok(())
    }

    async fn on_sla_warning(
        &self,
        id: ConversationId,
        metric: SlaMetric,
        now: DateTime<Utc>,
        cfg: &Config,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let Some(conv) = store.get_conversation(id).await? else { return Ok(()) };
        let messages = store.list_messages(id).await?;
        let latest_inbound = messages.iter().rev().find(|m| m.direction == Direction::Inbound);
        let channel_kind = store.get_channel(&conv.channel).await?.map(|c| c.kind).unwrap_or(ChannelKind::Api);
        let cal = self.calendar_of(conv.team.as_deref()).await?;
        tracing::debug!(case = %conv.case_number, metric = %metric, "evaluating rules on SLA warning");
        let triage = triage_of(store, id, &messages).await?;
        let out = self
            .run_rules(&conv, TriggerEvent::SlaWarning, latest_inbound, &triage, channel_kind, &cal, now, cfg)
            .await?;
        if out.auto_resolve_hours.is_some() {
            tracing::warn!(case = %conv.case_number, "auto_resolve_after applies to conversation and message events only");
        }
        if out.changed {
            self.inner.bus.publish(RealtimeEvent::new("conversation.updated", id, Some(conv.case_number), None)).await;
        }
        Ok(())
    }

    /// Evaluates the rules for one event and applies what fired. Returns whether anything changed.
    #[allow(clippy::too_many_arguments)]
    async fn run_rules(
        &self,
        conv: &Conversation,
        event: TriggerEvent,
        latest_inbound: Option<&Message>,
        triage: &Triage,
        channel_kind: ChannelKind,
        cal: &BusinessCalendar,
        now: DateTime<Utc>,
        cfg: &Config,
    ) -> Result<RulesOutcome, StoreError> {
        let mut outcome = RulesOutcome::default();
        if cfg.rules.is_empty() {
            return Ok(outcome);
        }
        let store = &self.inner.store;
        let contact = store.get_contact(conv.contact_id).await?;
        let mut attrs = store.get_contact_attributes(conv.contact_id).await?;
        if let Some(c) = &contact {
            if let Some(n) = &c.name {
                attrs.insert("name".to_string(), n.clone());
            }
            if let Some(e) = &c.email {
                attrs.insert("email".to_string(), e.clone());
            }
        }
        let local = now.with_timezone(&cal.time_zone());
        let input = RuleInput {
            event,
            channel: conv.channel.as_str(),
            channel_kind,
            visibility: latest_inbound.map(|m| m.visibility).unwrap_or(Visibility::Private),
            status: conv.status,
            priority: conv.priority,
            text: latest_inbound.map(|m| m.text.as_str()).unwrap_or(""),
            language: triage.language.as_deref(),
            sentiment: triage.sentiment.as_deref(),
            intent: triage.intent.as_deref(),
            contact: &attrs,
            business_hours_open: Some(cal.is_open(now)),
            local_minute: Some((local.hour() * 60 + local.minute()) as u16),
            depth: 0,
        };
        let ev = cfg.rules.evaluate(&input);
        if ev.fired.is_empty() {
            return Ok(outcome);
        }
        outcome.changed = true;
        for f in &ev.fired {
            tracing::info!(case = %conv.case_number, rule = %f.rule, event = %event, "automation rule fired");
            store
                .record_routing_fact(
                    conv.id,
                    FactKind::RuleFired,
                    serde_json::json!({"rule": f.rule, "event": event, "reasons": f.reasons}),
                    now,
                )
                .await?;
        }
        let mut patch = ConversationPatch::default();
        let mut tags = conv.tags.clone();
        let mut replies = Vec::new();
        for a in &ev.actions {
            match a {
                Action::AssignTeam { team } => {
                    if conv.team.as_deref() != Some(team.as_str()) {
                        patch.team = Some(Some(team.clone()));
                        patch.assignee_id = Some(None);
                    }
                }
                Action::AssignAgent { agent_id } => patch.assignee_id = Some(Some(*agent_id)),
                Action::SetPriority { priority } => patch.priority = Some(*priority),
                Action::AddTags { tags: add } => tags.extend(add.iter().cloned()),
                Action::Snooze { minutes } => {
                    patch.status = Some(Status::Snoozed);
                    patch.snoozed_until = Some(now + chrono::Duration::minutes(i64::from(*minutes)));
                }
                Action::SendCannedReply { shortcut } => replies.push(shortcut.clone()),
                Action::Webhook { url } => self.webhook(url.clone(), conv, event),
                Action::AutoResolveAfter { hours } => outcome.auto_resolve_hours = Some(*hours),
            }
        }
        let tags = switchboard_domain::conversation::normalize_tags(&tags);
        if tags != conv.tags {
            patch.tags = Some(tags);
        }
        let has_patch = patch.status.is_some()
            || patch.assignee_id.is_some()
            || patch.priority.is_some()
            || patch.team.is_some()
            || patch.tags.is_some();
        if has_patch && let Err(e) = store.update_conversation(conv.id, &patch, Some(AUTOMATION_USER)).await {
            tracing::warn!(case = %conv.case_number, error = %e, "rule actions could not be applied");
        }
        for shortcut in replies {
            self.send_canned(conv, &shortcut, latest_inbound, triage, cal, now, event).await?;
        }
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_canned(
        &self,
        conv: &Conversation,
        shortcut: &str,
        latest_inbound: Option<&Message>,
        triage: &Triage,
        cal: &BusinessCalendar,
        now: DateTime<Utc>,
        event: TriggerEvent,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let Some(canned) = store.find_canned(shortcut, conv.team.as_deref()).await? else {
            tracing::warn!(case = %conv.case_number, shortcut, "rule names a canned reply that does not exist");
            return Ok(());
        };
        let Some((_, template)) = pick_variant(&canned.variants, triage.language.as_deref()) else { return Ok(()) };
        let vars = self.template_vars(conv, cal, now, triage.language.as_deref()).await?;
        let text = render(template, &vars).map_err(|e| StoreError::Invalid(e.to_string()))?;
        // One reply per rule-triggering message and shortcut, however often this is retried.
        let anchor = latest_inbound.map(|m| m.id.to_string()).unwrap_or_default();
        let (_, created) = store
            .post_automatic_reply(&NewMessage {
                conversation_id: conv.id,
                author_id: AUTOMATION_USER,
                kind: MessageKind::Reply,
                visibility: latest_inbound.map(|m| m.visibility).unwrap_or(Visibility::Private),
                text,
                idempotency_key: Some(format!("canned:{shortcut}:{event}:{anchor}")),
                at: now,
            })
            .await?;
        if created {
            store.count_canned_use(canned.id).await?;
        }
        Ok(())
    }

    /// Values for canned-reply variables in a conversation.
    pub async fn template_vars(
        &self,
        conv: &Conversation,
        cal: &BusinessCalendar,
        now: DateTime<Utc>,
        language: Option<&str>,
    ) -> Result<TemplateVars, StoreError> {
        let store = &self.inner.store;
        let contact = store.get_contact(conv.contact_id).await?;
        let agent_name = match conv.assignee_id {
            Some(a) => store.get_user(a).await?.map(|u| u.name),
            None => None,
        };
        let due = self.sla_status(conv).await?.into_iter().filter_map(|s| s.due_at).min();
        Ok(TemplateVars {
            contact_name: contact.and_then(|c| c.name),
            case_number: Some(conv.case_number),
            agent_name,
            sla_due_local: due.map(|d| format_due_local(d, now, cal.time_zone(), language)),
        })
    }

    fn webhook(&self, url: String, conv: &Conversation, event: TriggerEvent) {
        let body = serde_json::json!({
            "event": event, "conversation_id": conv.id, "case_number": conv.case_number,
            "channel": conv.channel, "priority": conv.priority, "team": conv.team,
        });
        let http = self.inner.http.clone();
        let case = conv.case_number;
        // Best effort, at most once: the rule's firing is recorded on the timeline either way.
        tokio::spawn(async move {
            match http.post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() => tracing::info!(case = %case, "automation webhook delivered"),
                Ok(r) => tracing::warn!(case = %case, status = %r.status(), "automation webhook refused"),
                Err(e) => tracing::warn!(case = %case, error = %e, "automation webhook failed"),
            }
        });
    }
}

/// What SLA clocks care about, in time order: customer messages, agent replies (automatic ones
/// do not count), status changes.
fn timeline(
    messages: &[Message],
    facts: &[switchboard_domain::ConversationFact],
) -> Vec<(DateTime<Utc>, TimelineEvent)> {
    let mut out: Vec<(DateTime<Utc>, TimelineEvent)> = Vec::with_capacity(messages.len() + facts.len());
    for m in messages {
        match m.direction {
            Direction::Inbound => out.push((m.created_at, TimelineEvent::CustomerMessage)),
            Direction::Outbound if m.author_id.is_some() && m.author_id != Some(AUTOMATION_USER) => {
                out.push((m.created_at, TimelineEvent::AgentReply));
            }
            _ => {}
        }
    }
    for f in facts {
        if f.kind == FactKind::StatusChanged
            && let Some(to) = f.data.get("to").and_then(|v| v.as_str()).and_then(|s| s.parse::<Status>().ok())
        {
            out.push((f.at, TimelineEvent::Status(to)));
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

/// The triage signals known for a conversation: the NLP triage of its latest triaged customer
/// message when there is one. Language falls back to the script of the customer's latest message
/// (Han characters → `zh`, otherwise `en`) when triage is off, not done yet, or said `unknown`.
async fn triage_of(store: &DynStore, id: ConversationId, messages: &[Message]) -> Result<Triage, StoreError> {
    let text = messages.iter().rev().find(|m| m.direction == Direction::Inbound).map(|m| m.text.as_str());
    let script = text.map(|t| switchboard_domain::canned::script_language(t).to_owned());
    let Some(t) = store.conversation_triage(id).await? else {
        return Ok(Triage { language: script, ..Default::default() });
    };
    let known = |s: String| (!s.is_empty() && s != "unknown").then_some(s);
    Ok(Triage { language: known(t.language).or(script), sentiment: known(t.sentiment), intent: known(t.intent) })
}
