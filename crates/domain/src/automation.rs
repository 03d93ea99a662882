//! Automation rules: conditions on a conversation and its latest message, actions to take, and a
//! compiled rule set that evaluates a thousand rules per message in microseconds.
//!
//! Triage fields (language, sentiment, intent, suggested priority) are optional inputs: a
//! condition on a field that is not known never matches.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

use crate::{ChannelKind, Priority, Status, UserId, Visibility, string_enum};

/// Events caused by automation itself carry depth 1 and above; rules run only up to this depth,
/// so a rule's action can never trigger rules again.
pub const MAX_CHAIN_DEPTH: u8 = 0;

string_enum!(
    /// What makes rules run.
    TriggerEvent, "trigger event" {
        /// A new conversation was opened.
        ConversationCreated => "conversation_created",
        /// A customer message arrived in an existing conversation.
        MessageReceived => "message_received",
        /// An SLA warning fired.
        SlaWarning => "sla_warning",
        /// The status changed.
        StatusChanged => "status_changed",
    }
);

/// One condition; a rule fires when all of its conditions match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Condition {
    /// The channel slug is one of these.
    Channel {
        /// Slugs.
        any_of: Vec<String>,
    },
    /// The channel's provider kind is one of these.
    ChannelKind {
        /// Kinds.
        any_of: Vec<ChannelKind>,
    },
    /// The detected language (BCP 47 primary tag, e.g. `en`, `zh`) is one of these.
    Language {
        /// Languages.
        any_of: Vec<String>,
    },
    /// The detected intent is one of these.
    Intent {
        /// Intents.
        any_of: Vec<String>,
    },
    /// The detected sentiment (`negative`, `neutral`, `positive`) is one of these.
    Sentiment {
        /// Sentiments.
        any_of: Vec<String>,
    },
    /// The priority (or, before one is set, the suggested priority) is one of these.
    Priority {
        /// Priorities.
        any_of: Vec<Priority>,
    },
    /// The message contains one of these words or phrases (case-insensitive).
    Keywords {
        /// Words or phrases.
        any_of: Vec<String>,
    },
    /// A contact attribute equals a value (case-insensitive).
    ContactAttribute {
        /// Attribute name, e.g. `tier`.
        key: String,
        /// Expected value.
        equals: String,
    },
    /// The team's calendar is open (`true`) or closed (`false`).
    BusinessHours {
        /// Open or closed.
        open: bool,
    },
    /// Local time of day (team calendar's zone) is in `[from, to)`; wraps past midnight when
    /// `to < from`.
    TimeOfDay {
        /// `HH:MM`.
        from: String,
        /// `HH:MM`.
        to: String,
    },
    /// The message is public (an X reply, a comment) or private.
    Visibility {
        /// Public or private.
        is: Visibility,
    },
    /// The conversation status is one of these.
    Status {
        /// Statuses.
        any_of: Vec<Status>,
    },
}

/// One action of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Route to a team (its assignment policy then picks an agent).
    AssignTeam {
        /// Team name.
        team: String,
    },
    /// Assign to an agent.
    AssignAgent {
        /// The agent.
        agent_id: UserId,
    },
    /// Set the priority.
    SetPriority {
        /// New priority.
        priority: Priority,
    },
    /// Add tags.
    AddTags {
        /// Tags.
        tags: Vec<String>,
    },
    /// Send a canned reply (by shortcut), in the conversation's language.
    SendCannedReply {
        /// The canned reply's shortcut.
        shortcut: String,
    },
    /// Snooze for a while.
    Snooze {
        /// Minutes.
        minutes: u32,
    },
    /// Resolve when the customer has not written for this long.
    AutoResolveAfter {
        /// Hours of inactivity.
        hours: u32,
    },
    /// POST the event to a URL.
    Webhook {
        /// Target URL (http or https).
        url: String,
    },
}

/// An automation rule as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    /// Name shown in the timeline ("which rules fired").
    pub name: String,
    /// Disabled rules are kept but never evaluated.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Events that evaluate it.
    pub events: Vec<TriggerEvent>,
    /// All must match; none means always.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// What to do, in order.
    pub actions: Vec<Action>,
    /// Later rules are not evaluated when this one fires.
    #[serde(default)]
    pub stop_processing: bool,
}

fn yes() -> bool {
    true
}

/// Why a rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?}: {reason}")]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// What is wrong.
    pub reason: String,
}

fn hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl Rule {
    /// Checks the rule's shape.
    pub fn validate(&self) -> Result<(), RuleError> {
        let err = |reason: String| Err(RuleError { rule: self.name.clone(), reason });
        if self.name.trim().is_empty() {
            return err("name must not be empty".into());
        }
        if self.events.is_empty() {
            return err("needs at least one event".into());
        }
        if self.actions.is_empty() {
            return err("needs at least one action".into());
        }
        for c in &self.conditions {
            let empty = match c {
                Condition::Channel { any_of }
                | Condition::Language { any_of }
                | Condition::Intent { any_of }
                | Condition::Sentiment { any_of }
                | Condition::Keywords { any_of } => any_of.iter().all(|s| s.trim().is_empty()),
                Condition::ChannelKind { any_of } => any_of.is_empty(),
                Condition::Priority { any_of } => any_of.is_empty(),
                Condition::Status { any_of } => any_of.is_empty(),
                Condition::ContactAttribute { key, .. } => key.trim().is_empty(),
                Condition::TimeOfDay { from, to } => {
                    if hhmm(from).is_none() || hhmm(to).is_none() {
                        return err(format!("time_of_day needs HH:MM times, got {from:?}-{to:?}"));
                    }
                    false
                }
                Condition::BusinessHours { .. } | Condition::Visibility { .. } => false,
            };
            if empty {
                return err("a condition has an empty list".into());
            }
        }
        for a in &self.actions {
            match a {
                Action::AssignTeam { team } if team.trim().is_empty() => return err("assign_team needs a team".into()),
                Action::SendCannedReply { shortcut } if shortcut.trim().is_empty() => {
                    return err("send_canned_reply needs a shortcut".into());
                }
                Action::Snooze { minutes: 0 } => return err("snooze needs minutes > 0".into()),
                Action::AutoResolveAfter { hours: 0 } => return err("auto_resolve_after needs hours > 0".into()),
                Action::Webhook { url } if !(url.starts_with("http://") || url.starts_with("https://")) => {
                    return err(format!(
                        "webhook url must be http(s), got {:?}",
                        url.chars().take(80).collect::<String>()
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// What a rule is evaluated against. Borrowed, so building one per message allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    /// The event.
    pub event: TriggerEvent,
    /// Channel slug.
    pub channel: &'a str,
    /// Channel kind.
    pub channel_kind: ChannelKind,
    /// The latest message's visibility.
    pub visibility: Visibility,
    /// Conversation status.
    pub status: Status,
    /// Conversation priority.
    pub priority: Priority,
    /// The latest customer message's text.
    pub text: &'a str,
    /// Triage: language.
    pub language: Option<&'a str>,
    /// Triage: sentiment.
    pub sentiment: Option<&'a str>,
    /// Triage: intent.
    pub intent: Option<&'a str>,
    /// Contact attributes (`tier`, `name`, `email`, …).
    pub contact: &'a BTreeMap<String, String>,
    /// Whether the team calendar is open now (`None`: no calendar known).
    pub business_hours_open: Option<bool>,
    /// Local minute of the day in the team calendar's zone.
    pub local_minute: Option<u16>,
    /// How many automation steps led here (0 for an outside event).
    pub depth: u8,
}

/// One fired rule with the reasons it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FiredRule {
    /// Rule name.
    pub rule: String,
    /// One line per condition, e.g. `keyword "refund" found`.
    pub reasons: Vec<String>,
}

/// The outcome of evaluating a rule set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Rules that fired, in order.
    pub fired: Vec<FiredRule>,
    /// Their actions, in order.
    pub actions: Vec<Action>,
}

/// Interned strings: each distinct channel, language, intent or sentiment of any rule gets a
/// small number, so matching compares integers.
type Sym = u32;

#[derive(Debug, Clone)]
enum Compiled {
    Channel(Vec<Sym>),
    /// Bit per [`ChannelKind`].
    ChannelKind(u16),
    /// Language symbols (full tag or primary subtag).
    Language(Vec<Sym>),
    Intent(Vec<Sym>),
    Sentiment(Vec<Sym>),
    /// Bit per [`Priority`].
    Priority(u8),
    /// Keyword ids in the shared automaton.
    Keywords(Vec<u32>),
    Contact(String, String),
    BusinessHours(bool),
    TimeOfDay(u16, u16),
    Visibility(Visibility),
    /// Bit per [`Status`].
    Status(u8),
}

fn bit_of<T: PartialEq>(all: &[T], v: &T) -> u32 {
    all.iter().position(|x| x == v).unwrap_or(0) as u32
}

#[derive(Debug, Clone)]
struct CompiledRule {
    /// Bit per [`TriggerEvent`].
    events: u8,
    conditions: Vec<Compiled>,
    source: Rule,
}

/// Rules compiled for fast evaluation: one keyword automaton for all rules, so the message text
/// is scanned once whatever the number of rules, and interned values, so each condition compares
/// integers.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    keywords: Option<AhoCorasick>,
    /// Keyword texts by id (for explanations).
    keyword_list: Vec<String>,
    /// Channel slugs (exact).
    channels: HashMap<String, Sym>,
    /// Languages, intents and sentiments (lower-case).
    words: HashMap<String, Sym>,
    /// Rules indexed by a value they require: a rule whose conditions include `channel`,
    /// `language` or `intent` can only fire for messages with one of those values, so only the
    /// rules in the buckets of the message's values (and the unindexed ones) are evaluated.
    by_channel: HashMap<Sym, Vec<u32>>,
    by_word: HashMap<Sym, Vec<u32>>,
    /// Rules without such a condition: evaluated for every message.
    unindexed: Vec<u32>,
}

/// The input's values as symbols (`Sym::MAX`: unknown to every rule).
struct Resolved {
    channel: Sym,
    language: [Sym; 2],
    intent: Sym,
    sentiment: Sym,
    kind_bit: u16,
    priority_bit: u8,
    status_bit: u8,
}

fn intern(map: &mut HashMap<String, Sym>, s: String) -> Sym {
    let next = map.len() as Sym;
    *map.entry(s).or_insert(next)
}

fn event_bit(e: TriggerEvent) -> u8 {
    1 << (TriggerEvent::ALL.iter().position(|x| *x == e).unwrap_or(0) as u8)
}

fn lower(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect()
}

impl RuleSet {
    /// Validates and compiles rules (in evaluation order); disabled rules are left out.
    pub fn compile(rules: &[Rule]) -> Result<RuleSet, RuleError> {
        let mut kw: Vec<String> = Vec::new();
        let mut kw_index: BTreeMap<String, u32> = BTreeMap::new();
        let mut channels = HashMap::new();
        let mut words = HashMap::new();
        let mut out = Vec::with_capacity(rules.len());
        let mut by_channel: HashMap<Sym, Vec<u32>> = HashMap::new();
        let mut by_word: HashMap<Sym, Vec<u32>> = HashMap::new();
        let mut unindexed = Vec::new();
        for r in rules {
            r.validate()?;
            if !r.enabled {
                continue;
            }
            let mut conditions = Vec::with_capacity(r.conditions.len());
            for c in &r.conditions {
                let mut syms = |list: &[String]| lower(list).into_iter().map(|w| intern(&mut words, w)).collect();
                conditions.push(match c {
                    Condition::Channel { any_of } => {
                        Compiled::Channel(any_of.iter().map(|c| intern(&mut channels, c.clone())).collect())
                    }
                    Condition::ChannelKind { any_of } => Compiled::ChannelKind(
                        any_of.iter().fold(0u16, |acc, k| acc | (1 << bit_of(ChannelKind::ALL, k))),
                    ),
                    Condition::Language { any_of } => Compiled::Language(syms(any_of)),
                    Condition::Intent { any_of } => Compiled::Intent(syms(any_of)),
                    Condition::Sentiment { any_of } => Compiled::Sentiment(syms(any_of)),
                    Condition::Priority { any_of } => {
                        Compiled::Priority(any_of.iter().fold(0u8, |acc, p| acc | (1 << bit_of(Priority::ALL, p))))
                    }
                    Condition::Keywords { any_of } => Compiled::Keywords(
                        lower(any_of)
                            .into_iter()
                            .map(|w| {
                                *kw_index.entry(w.clone()).or_insert_with(|| {
                                    kw.push(w);
                                    (kw.len() - 1) as u32
                                })
                            })
                            .collect(),
                    ),
                    Condition::ContactAttribute { key, equals } => {
                        Compiled::Contact(key.clone(), equals.to_lowercase())
                    }
                    Condition::BusinessHours { open } => Compiled::BusinessHours(*open),
                    Condition::TimeOfDay { from, to } => {
                        Compiled::TimeOfDay(hhmm(from).unwrap_or(0), hhmm(to).unwrap_or(0))
                    }
                    Condition::Visibility { is } => Compiled::Visibility(*is),
                    Condition::Status { any_of } => {
                        Compiled::Status(any_of.iter().fold(0u8, |acc, s| acc | (1 << bit_of(Status::ALL, s))))
                    }
                });
            }
            let events = r.events.iter().fold(0u8, |acc, e| acc | event_bit(*e));
            let idx = out.len() as u32;
            // Index by the first condition that names required values (all conditions must
            // match, so the rule cannot fire for a message without one of them).
            let key = conditions.iter().find_map(|c| match c {
                Compiled::Channel(l) => Some((true, l.clone())),
                Compiled::Language(l) | Compiled::Intent(l) => Some((false, l.clone())),
                _ => None,
            });
            match key {
                Some((true, syms)) => syms.into_iter().for_each(|s| by_channel.entry(s).or_default().push(idx)),
                Some((false, syms)) => syms.into_iter().for_each(|s| by_word.entry(s).or_default().push(idx)),
                None => unindexed.push(idx),
            }
            out.push(CompiledRule { events, conditions, source: r.clone() });
        }
        for list in by_channel.values_mut().chain(by_word.values_mut()) {
            list.dedup();
        }
        let keywords = if kw.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&kw)
                    .map_err(|e| RuleError { rule: String::new(), reason: format!("keywords: {e}") })?,
            )
        };
        Ok(RuleSet { rules: out, keywords, keyword_list: kw, channels, words, by_channel, by_word, unindexed })
    }

    fn resolve(&self, i: &RuleInput<'_>) -> Resolved {
        let word = |v: Option<&str>| {
            v.and_then(|v| {
                if v.bytes().any(|b| b.is_ascii_uppercase()) {
                    self.words.get(&v.to_ascii_lowercase()).copied()
                } else {
                    self.words.get(v).copied()
                }
            })
            .unwrap_or(Sym::MAX)
        };
        let primary = i.language.map(|l| l.split(['-', '_']).next().unwrap_or(l));
        Resolved {
            channel: self.channels.get(i.channel).copied().unwrap_or(Sym::MAX),
            language: [word(i.language), word(primary)],
            intent: word(i.intent),
            sentiment: word(i.sentiment),
            kind_bit: 1 << bit_of(ChannelKind::ALL, &i.channel_kind),
            priority_bit: 1 << bit_of(Priority::ALL, &i.priority),
            status_bit: 1 << bit_of(Status::ALL, &i.status),
        }
    }

    /// Number of enabled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no enabled rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates every rule for `input`, in order. Rules never run for an event that automation
    /// itself caused (depth above [`MAX_CHAIN_DEPTH`]), so rules cannot trigger each other.
    pub fn evaluate(&self, input: &RuleInput<'_>) -> Evaluation {
        let mut ev = Evaluation::default();
        let (hits, found) = self.scan(input);
        for idx in hits {
            let r = &self.rules[idx];
            ev.fired.push(FiredRule { rule: r.source.name.clone(), reasons: self.explain(r, input, &found) });
            ev.actions.extend(r.source.actions.iter().cloned());
        }
        ev
    }

    /// Human-readable reasons for a fired rule (only computed for rules that fired).
    fn explain(&self, rule: &CompiledRule, i: &RuleInput<'_>, found: &[u64]) -> Vec<String> {
        let mut out = Vec::with_capacity(rule.conditions.len() + 1);
        out.push(format!("event {}", i.event));
        for (c, src) in rule.conditions.iter().zip(&rule.source.conditions) {
            out.push(match (c, src) {
                (Compiled::Keywords(ids), _) => {
                    let hit = ids.iter().find(|&&id| found[id as usize / 64] & (1 << (id % 64)) != 0);
                    let word = hit.and_then(|&id| self.keyword_list.get(id as usize)).map(String::as_str);
                    format!("keyword {:?} found", word.unwrap_or("?"))
                }
                (_, Condition::Channel { .. }) => format!("channel is {}", i.channel),
                (_, Condition::ChannelKind { .. }) => format!("channel kind is {}", i.channel_kind),
                (_, Condition::Language { .. }) => format!("language is {}", i.language.unwrap_or("?")),
                (_, Condition::Intent { .. }) => format!("intent is {}", i.intent.unwrap_or("?")),
                (_, Condition::Sentiment { .. }) => format!("sentiment is {}", i.sentiment.unwrap_or("?")),
                (_, Condition::Priority { .. }) => format!("priority is {}", i.priority),
                (_, Condition::Keywords { .. }) => "keyword found".into(),
                (_, Condition::ContactAttribute { key, equals }) => format!("contact {key} is {equals}"),
                (_, Condition::BusinessHours { open: true }) => "inside business hours".into(),
                (_, Condition::BusinessHours { open: false }) => "outside business hours".into(),
                (_, Condition::TimeOfDay { from, to }) => format!("local time between {from} and {to}"),
                (_, Condition::Visibility { is }) => format!("message is {is}"),
                (_, Condition::Status { .. }) => format!("status is {}", i.status),
            });
        }
        out
    }

    /// The indices (in evaluation order) of the rules that fire for `input`, without building
    /// explanations: the hot path. [`RuleSet::evaluate`] adds reasons and actions.
    pub fn matching(&self, input: &RuleInput<'_>) -> Vec<usize> {
        self.scan(input).0
    }

    /// Matching rule indices and the keyword bitset of the text.
    fn scan(&self, input: &RuleInput<'_>) -> (Vec<usize>, Vec<u64>) {
        let mut hits = Vec::new();
        // Which keywords the text contains: one scan for all rules.
        let mut found = vec![0u64; self.keyword_list.len().div_ceil(64)];
        if input.depth > MAX_CHAIN_DEPTH {
            return (hits, found);
        }
        if let Some(ac) = &self.keywords
            && !input.text.is_empty()
        {
            // Non-ASCII letters are lower-cased by hand; ASCII case is handled by the automaton.
            let folded;
            let text = if input.text.is_ascii() {
                input.text
            } else {
                folded = input.text.to_lowercase();
                &folded
            };
            for m in ac.find_overlapping_iter(text) {
                let id = m.pattern().as_usize();
                found[id / 64] |= 1 << (id % 64);
            }
        }
        let res = self.resolve(input);
        let bit = event_bit(input.event);
        // The candidates, in rule order: unindexed rules plus the buckets of this message's values.
        let mut candidates: Vec<u32> = Vec::with_capacity(self.unindexed.len() + 64);
        candidates.extend_from_slice(&self.unindexed);
        let mut buckets = 0;
        if let Some(l) = self.by_channel.get(&res.channel) {
            candidates.extend_from_slice(l);
            buckets += 1;
        }
        let mut words = [res.language[0], res.language[1], res.intent];
        words.sort_unstable();
        for (i, w) in words.iter().enumerate() {
            if *w != Sym::MAX
                && (i == 0 || words[i - 1] != *w)
                && let Some(l) = self.by_word.get(w)
            {
                candidates.extend_from_slice(l);
                buckets += 1;
            }
        }
        if buckets > 0 {
            candidates.sort_unstable();
            candidates.dedup();
        }
        for idx in candidates {
            let r = &self.rules[idx as usize];
            if r.events & bit == 0 {
                continue;
            }
            if r.conditions.iter().all(|c| matches(c, input, &res, &found)) {
                hits.push(idx as usize);
                if r.source.stop_processing {
                    break;
                }
            }
        }
        (hits, found)
    }
}

fn matches(c: &Compiled, i: &RuleInput<'_>, r: &Resolved, found: &[u64]) -> bool {
    match c {
        Compiled::Channel(l) => l.contains(&r.channel),
        Compiled::ChannelKind(mask) => mask & r.kind_bit != 0,
        Compiled::Language(l) => l.iter().any(|s| r.language.contains(s) && *s != Sym::MAX),
        Compiled::Intent(l) => l.contains(&r.intent),
        Compiled::Sentiment(l) => l.contains(&r.sentiment),
        Compiled::Priority(mask) => mask & r.priority_bit != 0,
        Compiled::Keywords(ids) => ids.iter().any(|&id| found[id as usize / 64] & (1 << (id % 64)) != 0),
        Compiled::Contact(k, v) => i.contact.get(k).is_some_and(|have| have.to_lowercase() == *v),
        Compiled::BusinessHours(open) => i.business_hours_open == Some(*open),
        Compiled::TimeOfDay(from, to) => {
            i.local_minute.is_some_and(|m| if from <= to { *from <= m && m < *to } else { m >= *from || m < *to })
        }
        Compiled::Visibility(v) => i.visibility == *v,
        Compiled::Status(mask) => mask & r.status_bit != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(text: &'a str, contact: &'a BTreeMap<String, String>) -> RuleInput<'a> {
        RuleInput {
            event: TriggerEvent::ConversationCreated,
            channel: "wa",
            channel_kind: ChannelKind::Whatsapp,
            visibility: Visibility::Private,
            status: Status::Open,
            priority: Priority::Normal,
            text,
            language: Some("zh-CN"),
            sentiment: Some("negative"),
            intent: None,
            contact,
            business_hours_open: Some(false),
            local_minute: Some(23 * 60),
            depth: 0,
        }
    }

    fn rule(name: &str, conditions: Vec<Condition>, actions: Vec<Action>) -> Rule {
        Rule {
            name: name.into(),
            enabled: true,
            events: vec![TriggerEvent::ConversationCreated, TriggerEvent::MessageReceived],
            conditions,
            actions,
            stop_processing: false,
        }
    }

    #[test]
    fn rules_fire_with_reasons() {
        let rules = vec![
            rule(
                "urgent refunds",
                vec![
                    Condition::Keywords { any_of: vec!["Refund".into(), "退款".into()] },
                    Condition::Sentiment { any_of: vec!["negative".into()] },
                    Condition::BusinessHours { open: false },
                ],
                vec![Action::SetPriority { priority: Priority::Urgent }, Action::AssignTeam { team: "billing".into() }],
            ),
            rule(
                "chinese",
                vec![Condition::Language { any_of: vec!["zh".into()] }],
                vec![Action::AddTags { tags: vec!["zh".into()] }],
            ),
            rule(
                "intent known",
                vec![Condition::Intent { any_of: vec!["billing".into()] }],
                vec![Action::AddTags { tags: vec!["never".into()] }],
            ),
            rule(
                "night",
                vec![Condition::TimeOfDay { from: "22:00".into(), to: "06:00".into() }],
                vec![Action::AddTags { tags: vec!["night".into()] }],
            ),
        ];
        let set = RuleSet::compile(&rules).expect("compile");
        let contact = BTreeMap::new();
        let ev = set.evaluate(&input("我要退款 now", &contact));
        let names: Vec<&str> = ev.fired.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(names, ["urgent refunds", "chinese", "night"]);
        assert!(ev.fired[0].reasons.contains(&"keyword \"退款\" found".to_string()), "{:?}", ev.fired[0].reasons);
        assert!(ev.fired[0].reasons.contains(&"outside business hours".to_string()));
        assert_eq!(ev.actions.len(), 4);
        // ASCII case-insensitive; absent keyword → no fire.
        assert_eq!(set.evaluate(&input("REFUND please", &contact)).fired.len(), 3);
        assert_eq!(set.evaluate(&input("hello", &contact)).fired.len(), 2);
        // Loop safety: events caused by automation beyond the chain depth run nothing.
        let mut deep = input("refund", &contact);
        deep.depth = MAX_CHAIN_DEPTH + 1;
        assert!(set.evaluate(&deep).fired.is_empty());
    }

    #[test]
    fn stop_processing_and_disabled_and_events() {
        let mut first = rule("first", vec![], vec![Action::AddTags { tags: vec!["a".into()] }]);
        first.stop_processing = true;
        let second = rule("second", vec![], vec![Action::AddTags { tags: vec!["b".into()] }]);
        let set = RuleSet::compile(&[first.clone(), second.clone()]).expect("compile");
        let contact = BTreeMap::new();
        assert_eq!(set.evaluate(&input("x", &contact)).fired.len(), 1);
        first.enabled = false;
        let set = RuleSet::compile(&[first, second]).expect("compile");
        assert_eq!(set.len(), 1);
        let mut sla = input("x", &contact);
        sla.event = TriggerEvent::SlaWarning;
        assert!(set.evaluate(&sla).fired.is_empty());
    }

    #[test]
    fn contact_attributes_and_validation() {
        let set = RuleSet::compile(&[rule(
            "gold",
            vec![Condition::ContactAttribute { key: "tier".into(), equals: "Gold".into() }],
            vec![Action::SetPriority { priority: Priority::High }],
        )])
        .expect("compile");
        let mut contact = BTreeMap::new();
        assert!(set.evaluate(&input("x", &contact)).fired.is_empty());
        contact.insert("tier".to_string(), "gold".to_string());
        assert_eq!(set.evaluate(&input("x", &contact)).fired.len(), 1);

        let bad = [
            rule("", vec![], vec![Action::AddTags { tags: vec![] }]),
            rule("no actions", vec![], vec![]),
            rule(
                "bad time",
                vec![Condition::TimeOfDay { from: "25:00".into(), to: "06:00".into() }],
                vec![Action::AddTags { tags: vec![] }],
            ),
            rule("bad hook", vec![], vec![Action::Webhook { url: "ftp://x".into() }]),
            rule(
                "empty kw",
                vec![Condition::Keywords { any_of: vec![" ".into()] }],
                vec![Action::Snooze { minutes: 5 }],
            ),
        ];
        for r in bad {
            assert!(RuleSet::compile(std::slice::from_ref(&r)).is_err(), "{r:?} accepted");
        }
    }

    /// The reference: each rule interpreted directly from its definition.
    fn naive(rules: &[Rule], i: &RuleInput<'_>) -> Vec<usize> {
        let has = |l: &[String], v: Option<&str>| v.is_some_and(|v| l.iter().any(|x| x.eq_ignore_ascii_case(v)));
        let text = i.text.to_lowercase();
        let primary = i.language.map(|l| l.split(['-', '_']).next().unwrap_or(l));
        let mut out = Vec::new();
        for (n, r) in rules.iter().enumerate() {
            let ok = r.events.contains(&i.event)
                && r.conditions.iter().all(|c| match c {
                    Condition::Channel { any_of } => any_of.iter().any(|x| x == i.channel),
                    Condition::Language { any_of } => has(any_of, i.language) || has(any_of, primary),
                    Condition::Intent { any_of } => has(any_of, i.intent),
                    Condition::Sentiment { any_of } => has(any_of, i.sentiment),
                    Condition::Priority { any_of } => any_of.contains(&i.priority),
                    Condition::Keywords { any_of } => any_of.iter().any(|w| text.contains(&w.to_lowercase())),
                    Condition::BusinessHours { open } => i.business_hours_open == Some(*open),
                    _ => unreachable!("not generated"),
                });
            if ok {
                out.push(n);
                if r.stop_processing {
                    break;
                }
            }
        }
        out
    }

    proptest::proptest! {
        /// The compiled, indexed rule set fires exactly the rules a direct interpretation fires,
        /// in the same order.
        #[test]
        fn compiled_matches_naive(
            specs in proptest::collection::vec(
                (proptest::collection::vec((0u8..7, 0usize..4, 0usize..4), 1..4), proptest::bool::weighted(0.05), 0usize..3),
                0..60),
            inputs in proptest::collection::vec((0usize..4, 0usize..5, 0usize..4, 0usize..4, 0usize..4, proptest::bool::ANY, 0usize..4), 1..20),
        ) {
            const CH: [&str; 4] = ["wa", "x", "web", "mail"];
            const LANG: [&str; 5] = ["en", "zh", "zh-CN", "de", "EN"];
            const WORDS: [&str; 4] = ["refund", "Late", "退款", "broken glass"];
            const SENT: [&str; 4] = ["negative", "neutral", "positive", "NEGATIVE"];
            const TEXTS: [&str; 4] = ["I want a REFUND", "it came late", "我要退款", "nothing to see"];
            let rules: Vec<Rule> = specs
                .iter()
                .enumerate()
                .map(|(n, (conds, stop, ev))| Rule {
                    name: format!("r{n}"),
                    enabled: true,
                    events: vec![TriggerEvent::ALL[*ev]],
                    conditions: conds
                        .iter()
                        .map(|(kind, a, b)| match kind {
                            0 => Condition::Channel { any_of: vec![CH[*a].into(), CH[*b].into()] },
                            1 => Condition::Language { any_of: vec![LANG[*a].into()] },
                            2 => Condition::Intent { any_of: vec![["billing", "delivery", "zh", "x"][*a].into()] },
                            3 => Condition::Sentiment { any_of: vec![SENT[*a].into()] },
                            4 => Condition::Priority { any_of: vec![Priority::ALL[*a]] },
                            5 => Condition::Keywords { any_of: vec![WORDS[*a].into(), WORDS[*b].into()] },
                            _ => Condition::BusinessHours { open: *a % 2 == 0 },
                        })
                        .collect(),
                    actions: vec![Action::AddTags { tags: vec!["t".into()] }],
                    stop_processing: *stop,
                })
                .collect();
            let set = RuleSet::compile(&rules).expect("compile");
            let contact = BTreeMap::new();
            for (ch, lang, intent, sent, text, open, ev) in inputs {
                let input = RuleInput {
                    event: TriggerEvent::ALL[ev % 3],
                    channel: CH[ch],
                    channel_kind: ChannelKind::Api,
                    visibility: Visibility::Private,
                    status: Status::Open,
                    priority: Priority::ALL[sent],
                    text: TEXTS[text],
                    language: Some(LANG[lang]),
                    sentiment: Some(SENT[sent]),
                    intent: (intent < 3).then(|| ["billing", "delivery", "zh"][intent]),
                    contact: &contact,
                    business_hours_open: Some(open),
                    local_minute: Some(600),
                    depth: 0,
                };
                proptest::prop_assert_eq!(set.matching(&input), naive(&rules, &input));
            }
        }
    }
}
