//! Threading inbound events into conversations on PostgreSQL, set-based: a batch costs a constant
//! number of round trips whatever its size.
//!
//! The database supplies the state the threading rule needs (identities, the latest conversation
//! per thread, the last resolved conversation per contact) in a few bulk reads; the rule itself
//! (`decide_thread`) runs in Rust over the events in order, keeping the state in memory so that
//! a later event of the batch sees what an earlier one did; the writes then go back in bulk.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::Row;
use switchboard_domain::{
    CaseNumber, ContactId, ConversationId, FactKind, InboundEvent, Status, ThreadCandidate, ThreadDecision,
    decide_thread,
};
use uuid::Uuid;

use super::{Tx, parse};
use crate::{Result, StoreError, StoredEvent, ThreadOutcome, ThreadingRules};

/// A sender: (channel, provider user id).
type Sender = (String, String);
/// A conversation thread: (contact, channel, thread key).
type ThreadKey = (Uuid, String, String);

fn sender(ev: &InboundEvent) -> Sender {
    (ev.channel.as_str().to_owned(), ev.contact.provider_user_id.clone())
}

fn thread_key(contact: ContactId, ev: &InboundEvent) -> ThreadKey {
    (contact.0, ev.channel.as_str().to_owned(), ev.thread_key.clone())
}

/// Threads `events` (in order) inside `tx`; events already processed are skipped.
pub(super) async fn thread_batch(
    tx: &mut Tx<'_>,
    events: &[StoredEvent],
    rules: ThreadingRules,
    now: DateTime<Utc>,
) -> Result<Vec<ThreadOutcome>> {
    let todo = claim(tx, events).await?;
    if todo.is_empty() {
        return Ok(Vec::new());
    }
    lock_senders(tx, &todo).await?;
    let mut out = Vec::with_capacity(todo.len());
    for run in super::edits::runs(&todo) {
        let (rest, versions) = super::edits::thread_versions(tx, &run, now).await?;
        out.extend(versions);
        if rest.is_empty() {
            continue;
        }
        let contacts = resolve_contacts(tx, &rest, now).await?;
        let mut state = ThreadState::load(tx, &rest, &contacts).await?;
        let plan = state.plan(&rest, &contacts.ids, rules, now);
        out.extend(write(tx, &rest, &plan, now).await?);
        super::edits::adopt_orphan_edits(tx, &rest).await?;
    }
    Ok(out)
}

/// Locks the unprocessed events' rows in log order (another node threading the same events waits,
/// then skips them: they are processed when it gets the lock); returns those this transaction
/// claimed, in the given order. They are marked processed with their conversation at the end.
async fn claim<'a>(tx: &mut Tx<'_>, events: &'a [StoredEvent]) -> Result<Vec<&'a StoredEvent>> {
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    let claimed: Vec<i64> = sqlx::query_scalar(
        "SELECT seq FROM inbound_events WHERE seq = ANY($1) AND processed_at IS NULL ORDER BY seq FOR UPDATE",
    )
    .bind(&seqs)
    .fetch_all(&mut **tx)
    .await?;
    let mut claimed: HashSet<i64> = claimed.into_iter().collect();
    // An event listed twice is threaded once.
    Ok(events.iter().filter(|e| claimed.remove(&e.seq)).collect())
}

/// Serialises threading per sender across nodes: one advisory lock per distinct sender, all in
/// one statement, taken in lock-key order so that two nodes with overlapping senders cannot
/// deadlock.
async fn lock_senders(tx: &mut Tx<'_>, todo: &[&StoredEvent]) -> Result<()> {
    let keys: BTreeSet<String> = todo
        .iter()
        .map(|se| format!("{}\u{1f}{}", se.event.channel.as_str(), se.event.contact.provider_user_id))
        .collect();
    let keys: Vec<String> = keys.into_iter().collect();
    sqlx::query(
        "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h FROM UNNEST($1::text[]) AS t(k)) s \
         ORDER BY h",
    )
    .bind(&keys)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A sender's identity as the batch leaves it.
struct Identity {
    contact: ContactId,
    handle: Option<String>,
    display_name: Option<String>,
    /// `Some(contact name)` when this batch creates the contact.
    created: Option<Option<String>>,
    /// A found identity whose names this batch changes.
    changed: bool,
}

/// The contact behind each event, and which contacts the batch created.
struct Contacts {
    ids: Vec<ContactId>,
    created: HashSet<ContactId>,
}

/// Finds or creates the contact behind every event's sender, updating display names and handles
/// as the events, in order, would one by one.
async fn resolve_contacts(tx: &mut Tx<'_>, todo: &[&StoredEvent], now: DateTime<Utc>) -> Result<Contacts> {
    let mut order: Vec<Sender> = Vec::new();
    let mut seen = HashSet::new();
    for se in todo {
        let s = sender(&se.event);
        if seen.insert(s.clone()) {
            order.push(s);
        }
    }
    let (channels, pids): (Vec<String>, Vec<String>) = order.iter().cloned().unzip();
    let rows = sqlx::query(
        "SELECT ci.channel, ci.provider_user_id, ci.contact_id, ci.handle, ci.display_name FROM contact_identities ci \
         JOIN UNNEST($1::text[], $2::text[]) AS k(channel, pid) ON ci.channel = k.channel AND ci.provider_user_id = k.pid",
    )
    .bind(&channels)
    .bind(&pids)
    .fetch_all(&mut **tx)
    .await?;
    let mut identities: HashMap<Sender, Identity> = HashMap::with_capacity(order.len());
    for r in rows {
        let identity = Identity {
            contact: ContactId(r.try_get("contact_id")?),
            handle: r.try_get("handle")?,
            display_name: r.try_get("display_name")?,
            created: None,
            changed: false,
        };
        identities.insert((r.try_get("channel")?, r.try_get("provider_user_id")?), identity);
    }

    let mut ids = Vec::with_capacity(todo.len());
    for se in todo {
        let c = &se.event.contact;
        let identity = identities.entry(sender(&se.event)).or_insert_with(|| Identity {
            contact: ContactId::new(),
            handle: c.handle.clone(),
            display_name: c.display_name.clone(),
            created: Some(c.display_name.clone().or_else(|| c.handle.clone())),
            changed: false,
        });
        if c.display_name.is_some() && c.display_name != identity.display_name {
            identity.display_name = c.display_name.clone();
            if c.handle.is_some() {
                identity.handle = c.handle.clone();
            }
            if identity.created.is_none() {
                identity.changed = true;
            }
        }
        ids.push(identity.contact);
    }

    let created = insert_contacts(tx, &order, &identities, now).await?;
    update_identities(tx, &order, &identities).await?;
    Ok(Contacts { ids, created })
}

/// Creates the batch's new contacts and their identities (one statement).
async fn insert_contacts(
    tx: &mut Tx<'_>,
    order: &[Sender],
    identities: &HashMap<Sender, Identity>,
    now: DateTime<Utc>,
) -> Result<HashSet<ContactId>> {
    let (mut ids, mut names, mut channels, mut pids, mut handles, mut shown) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in order {
        let Some(i) = identities.get(s) else { continue };
        let Some(name) = &i.created else { continue };
        ids.push(i.contact.0);
        names.push(name.clone());
        channels.push(s.0.clone());
        pids.push(s.1.clone());
        handles.push(i.handle.clone());
        shown.push(i.display_name.clone());
    }
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    sqlx::query(
        "WITH c AS (INSERT INTO contacts (id, name, created_at) \
         SELECT id, name, $7 FROM UNNEST($1::uuid[], $2::text[]) AS t(id, name)) \
         INSERT INTO contact_identities (channel, provider_user_id, contact_id, handle, display_name, created_at) \
         SELECT channel, pid, id, handle, shown, $7 \
         FROM UNNEST($3::text[], $4::text[], $1::uuid[], $5::text[], $6::text[]) AS t(channel, pid, id, handle, shown)",
    )
    .bind(&ids)
    .bind(&names)
    .bind(&channels)
    .bind(&pids)
    .bind(&handles)
    .bind(&shown)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(ids.into_iter().map(ContactId).collect())
}

/// Writes the display names and handles that changed on found identities (one statement).
async fn update_identities(tx: &mut Tx<'_>, order: &[Sender], identities: &HashMap<Sender, Identity>) -> Result<()> {
    let (mut channels, mut pids, mut handles, mut shown) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in order {
        let Some(i) = identities.get(s).filter(|i| i.changed) else { continue };
        channels.push(s.0.clone());
        pids.push(s.1.clone());
        handles.push(i.handle.clone());
        shown.push(i.display_name.clone());
    }
    if channels.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE contact_identities ci SET display_name = u.shown, handle = u.handle \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS u(channel, pid, handle, shown) \
         WHERE ci.channel = u.channel AND ci.provider_user_id = u.pid",
    )
    .bind(&channels)
    .bind(&pids)
    .bind(&handles)
    .bind(&shown)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The conversation state the threading rule reads, kept up to date as the batch is walked.
struct ThreadState {
    /// The newest conversation per thread (absent: none).
    latest: HashMap<ThreadKey, ThreadCandidate>,
    /// Per contact, its most recently resolved conversations, newest first: enough of them that
    /// one survives every reopen the batch can make.
    resolved: HashMap<Uuid, Vec<(ConversationId, DateTime<Utc>)>>,
    /// Conversations reopened by the batch so far (no longer resolved).
    reopened: HashSet<ConversationId>,
}

impl ThreadState {
    async fn load(tx: &mut Tx<'_>, todo: &[&StoredEvent], contacts: &Contacts) -> Result<Self> {
        // A contact created by this batch has no conversations yet.
        let mut keys: Vec<ThreadKey> = Vec::new();
        let mut seen = HashSet::new();
        for (se, contact) in todo.iter().zip(&contacts.ids) {
            let key = thread_key(*contact, &se.event);
            if !contacts.created.contains(contact) && seen.insert(key.clone()) {
                keys.push(key);
            }
        }
        let latest = load_latest(tx, &keys).await?;
        // Only a thread without an active conversation needs the repeat-contact lookup; threading
        // never makes an active conversation inactive, so the need is known up front. Each thread
        // of the contact in the batch can reopen at most one resolved conversation.
        let mut threads_per_contact: HashMap<Uuid, i64> = HashMap::new();
        let mut needy: HashSet<Uuid> = HashSet::new();
        for key in &keys {
            *threads_per_contact.entry(key.0).or_default() += 1;
            if !latest.get(key).is_some_and(|c| c.status.is_active()) {
                needy.insert(key.0);
            }
        }
        let wanted: Vec<(Uuid, i64)> =
            threads_per_contact.into_iter().filter(|(c, _)| needy.contains(c)).map(|(c, n)| (c, n + 1)).collect();
        let resolved = load_resolved(tx, &wanted).await?;
        Ok(Self { latest, resolved, reopened: HashSet::new() })
    }

    /// The contact's most recently resolved conversation, as of this point of the batch.
    fn last_resolved(&self, contact: ContactId) -> Option<(ConversationId, DateTime<Utc>)> {
        self.resolved.get(&contact.0)?.iter().find(|(id, _)| !self.reopened.contains(id)).copied()
    }

    /// Walks the events in order, deciding each with `decide_thread` and recording the writes.
    fn plan(
        &mut self,
        todo: &[&StoredEvent],
        contacts: &[ContactId],
        rules: ThreadingRules,
        at: DateTime<Utc>,
    ) -> Plan {
        let mut plan = Plan::default();
        for (se, contact) in todo.iter().zip(contacts) {
            let ev = &se.event;
            let key = thread_key(*contact, ev);
            let latest = self.latest.get(&key).copied();
            let last_resolved = match latest {
                Some(cand) if cand.status.is_active() => None,
                _ => self.last_resolved(*contact),
            };
            let open = |id, resolved_at| ThreadCandidate { id, status: Status::Open, resolved_at };
            let (conv, created, reopened) = match decide_thread(latest, last_resolved, at, rules.reopen_window) {
                ThreadDecision::Join { id, reactivate } => {
                    if reactivate {
                        let from = latest.map(|c| c.status.as_str()).unwrap_or("pending");
                        plan.touch(id, Change::Reactivate);
                        let data = serde_json::json!({"from": from, "to": "open", "by": "customer"});
                        plan.fact(id, FactKind::StatusChanged, data);
                        self.latest.insert(key, open(id, latest.and_then(|c| c.resolved_at)));
                    }
                    (id, false, false)
                }
                ThreadDecision::Reopen { id } => {
                    plan.touch(id, Change::Reopen);
                    plan.fact(id, FactKind::Reopened, serde_json::json!({"by": "customer", "event_id": se.id}));
                    self.reopened.insert(id);
                    self.latest.insert(key, open(id, None));
                    (id, false, true)
                }
                ThreadDecision::New { repeat_of } => {
                    let id = ConversationId::new();
                    let (channel, thread_key) = (ev.channel.as_str().to_owned(), ev.thread_key.clone());
                    plan.new_convs.push(NewConversation { id, contact: *contact, channel, thread_key, repeat_of });
                    plan.fact(id, FactKind::Created, serde_json::json!({"channel": ev.channel, "event_id": se.id}));
                    if let Some(prev) = repeat_of {
                        plan.fact(id, FactKind::RepeatContact, serde_json::json!({"repeat_of": prev}));
                    }
                    self.latest.insert(key, open(id, None));
                    (id, true, false)
                }
            };
            plan.touch(conv, Change::None);
            plan.threaded.push(Threaded { conv, created, reopened });
        }
        plan
    }
}

/// The newest conversation of each thread (one query).
async fn load_latest(tx: &mut Tx<'_>, keys: &[ThreadKey]) -> Result<HashMap<ThreadKey, ThreadCandidate>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let contacts: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let channels: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let threads: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    // Lock the threads' conversations first (DISTINCT ON cannot lock): an agent resolving one
    // concurrently then either commits before we read it, or waits until we have added the message.
    sqlx::query(
        "SELECT c.id FROM conversations c \
         JOIN UNNEST($1::uuid[], $2::text[], $3::text[]) AS k(contact_id, channel, thread_key) \
         ON c.contact_id = k.contact_id AND c.channel = k.channel AND c.thread_key = k.thread_key \
         ORDER BY c.id FOR UPDATE OF c",
    )
    .bind(&contacts)
    .bind(&channels)
    .bind(&threads)
    .execute(&mut **tx)
    .await?;
    let rows = sqlx::query(
        "SELECT DISTINCT ON (c.contact_id, c.channel, c.thread_key) c.contact_id, c.channel, c.thread_key, c.id, \
         c.status, c.resolved_at FROM conversations c \
         JOIN UNNEST($1::uuid[], $2::text[], $3::text[]) AS k(contact_id, channel, thread_key) \
         ON c.contact_id = k.contact_id AND c.channel = k.channel AND c.thread_key = k.thread_key \
         ORDER BY c.contact_id, c.channel, c.thread_key, c.created_at DESC",
    )
    .bind(&contacts)
    .bind(&channels)
    .bind(&threads)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            let key = (r.try_get("contact_id")?, r.try_get("channel")?, r.try_get("thread_key")?);
            let cand = ThreadCandidate {
                id: ConversationId(r.try_get("id")?),
                status: parse(r, "status")?,
                resolved_at: r.try_get("resolved_at")?,
            };
            Ok((key, cand))
        })
        .collect()
}

/// Per contact, its `limit` most recently resolved conversations, newest first (one query).
async fn load_resolved(
    tx: &mut Tx<'_>,
    wanted: &[(Uuid, i64)],
) -> Result<HashMap<Uuid, Vec<(ConversationId, DateTime<Utc>)>>> {
    let mut out: HashMap<Uuid, Vec<(ConversationId, DateTime<Utc>)>> = HashMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let (contacts, limits): (Vec<Uuid>, Vec<i64>) = wanted.iter().copied().unzip();
    let rows = sqlx::query(
        "SELECT k.contact_id, r.id, r.resolved_at FROM UNNEST($1::uuid[], $2::bigint[]) AS k(contact_id, lim) \
         CROSS JOIN LATERAL (SELECT id, resolved_at FROM conversations WHERE contact_id = k.contact_id \
         AND resolved_at IS NOT NULL ORDER BY resolved_at DESC LIMIT k.lim) r",
    )
    .bind(&contacts)
    .bind(&limits)
    .fetch_all(&mut **tx)
    .await?;
    for r in &rows {
        let resolved_at: Option<DateTime<Utc>> = r.try_get("resolved_at")?;
        let resolved_at =
            resolved_at.ok_or_else(|| StoreError::Backend("resolved conversation without a time".into()))?;
        out.entry(r.try_get("contact_id")?).or_default().push((ConversationId(r.try_get("id")?), resolved_at));
    }
    for list in out.values_mut() {
        list.sort_by_key(|&(_, resolved_at)| std::cmp::Reverse(resolved_at));
    }
    Ok(out)
}

/// What happens to a conversation's status besides the new message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    None = 0,
    /// Pending or snoozed back to open.
    Reactivate = 1,
    /// Resolved back to open.
    Reopen = 2,
}

struct NewConversation {
    id: ConversationId,
    contact: ContactId,
    channel: String,
    thread_key: String,
    repeat_of: Option<ConversationId>,
}

struct Threaded {
    conv: ConversationId,
    created: bool,
    reopened: bool,
}

/// The writes a batch makes, in event order.
#[derive(Default)]
struct Plan {
    threaded: Vec<Threaded>,
    new_convs: Vec<NewConversation>,
    /// Every conversation that gets a message, with its status change.
    touched: HashMap<ConversationId, Change>,
    facts: Vec<(Uuid, ConversationId, FactKind, String)>,
}

impl Plan {
    fn touch(&mut self, id: ConversationId, change: Change) {
        let c = self.touched.entry(id).or_insert(Change::None);
        *c = (*c).max(change);
    }

    fn fact(&mut self, id: ConversationId, kind: FactKind, data: serde_json::Value) {
        self.facts.push((Uuid::now_v7(), id, kind, data.to_string()));
    }
}

/// Applies a plan; returns the outcomes in event order.
async fn write(tx: &mut Tx<'_>, todo: &[&StoredEvent], plan: &Plan, now: DateTime<Utc>) -> Result<Vec<ThreadOutcome>> {
    insert_conversations(tx, plan, now).await?;
    let cases = touch_conversations(tx, plan, now).await?;
    insert_facts(tx, plan, now).await?;
    insert_messages(tx, todo, plan, now).await?;
    let seqs: Vec<i64> = todo.iter().map(|se| se.seq).collect();
    let convs: Vec<Uuid> = plan.threaded.iter().map(|t| t.conv.0).collect();
    sqlx::query(
        "UPDATE inbound_events e SET processed_at = $3, conversation_id = u.conv \
         FROM UNNEST($1::bigint[], $2::uuid[]) AS u(seq, conv) WHERE e.seq = u.seq",
    )
    .bind(&seqs)
    .bind(&convs)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    todo.iter()
        .zip(&plan.threaded)
        .map(|(se, t)| {
            let case = cases.get(&t.conv).copied().ok_or(StoreError::NotFound("conversation"))?;
            Ok(ThreadOutcome {
                event_id: se.id,
                message_id: se.message_id,
                conversation_id: t.conv,
                case_number: CaseNumber(case),
                created: t.created,
                reopened: t.reopened,
                edited: false,
            })
        })
        .collect()
}

/// Inserts the new conversations, numbered from the case sequence in event order.
async fn insert_conversations(tx: &mut Tx<'_>, plan: &Plan, now: DateTime<Utc>) -> Result<()> {
    let n = plan.new_convs.len();
    if n == 0 {
        return Ok(());
    }
    let mut cases: Vec<i64> = sqlx::query_scalar("SELECT nextval('case_number_seq') FROM generate_series(1, $1)")
        .bind(n as i64)
        .fetch_all(&mut **tx)
        .await?;
    cases.sort_unstable();
    if cases.len() != n {
        return Err(StoreError::Backend("case number sequence returned too few numbers".into()));
    }
    let convs = &plan.new_convs;
    let ids: Vec<Uuid> = convs.iter().map(|c| c.id.0).collect();
    let channels: Vec<&str> = convs.iter().map(|c| c.channel.as_str()).collect();
    let threads: Vec<&str> = convs.iter().map(|c| c.thread_key.as_str()).collect();
    let contacts: Vec<Uuid> = convs.iter().map(|c| c.contact.0).collect();
    let repeats: Vec<Option<Uuid>> = convs.iter().map(|c| c.repeat_of.map(|r| r.0)).collect();
    sqlx::query(
        "INSERT INTO conversations (id, case_number, channel, thread_key, contact_id, status, priority, tags, created_at, \
         updated_at, last_message_at, repeat_of) \
         SELECT id, case_number, channel, thread_key, contact_id, 'open', 'normal', '[]', $7, $7, $7, repeat_of \
         FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::uuid[], $6::uuid[]) \
         AS t(id, case_number, channel, thread_key, contact_id, repeat_of)",
    )
    .bind(&ids)
    .bind(&cases)
    .bind(&channels)
    .bind(&threads)
    .bind(&contacts)
    .bind(&repeats)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves every conversation that got a message: status changes, last message time; returns the
/// case numbers.
async fn touch_conversations(tx: &mut Tx<'_>, plan: &Plan, now: DateTime<Utc>) -> Result<HashMap<ConversationId, i64>> {
    // In id order, so that two nodes touching the same conversations lock them in the same order.
    let mut touched: Vec<(ConversationId, Change)> = plan.touched.iter().map(|(id, c)| (*id, *c)).collect();
    touched.sort_unstable();
    let ids: Vec<Uuid> = touched.iter().map(|(id, _)| id.0).collect();
    let changes: Vec<i16> = touched.iter().map(|(_, c)| *c as i16).collect();
    let rows = sqlx::query(
        "UPDATE conversations c SET last_message_at = $3, updated_at = $3, \
         status = CASE WHEN u.change > 0 THEN 'open' ELSE c.status END, \
         snoozed_until = CASE WHEN u.change = 1 THEN NULL ELSE c.snoozed_until END, \
         resolved_at = CASE WHEN u.change = 2 THEN NULL ELSE c.resolved_at END, \
         reopen_count = c.reopen_count + CASE WHEN u.change = 2 THEN 1 ELSE 0 END \
         FROM UNNEST($1::uuid[], $2::int2[]) AS u(id, change) WHERE c.id = u.id RETURNING c.id, c.case_number",
    )
    .bind(&ids)
    .bind(&changes)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok((ConversationId(r.try_get("id")?), r.try_get("case_number")?))).collect()
}

async fn insert_facts(tx: &mut Tx<'_>, plan: &Plan, now: DateTime<Utc>) -> Result<()> {
    if plan.facts.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = plan.facts.iter().map(|f| f.0).collect();
    let convs: Vec<Uuid> = plan.facts.iter().map(|f| f.1.0).collect();
    let kinds: Vec<&str> = plan.facts.iter().map(|f| f.2.as_str()).collect();
    let data: Vec<&str> = plan.facts.iter().map(|f| f.3.as_str()).collect();
    sqlx::query(
        "INSERT INTO conversation_facts (id, conversation_id, kind, actor_id, data, at) \
         SELECT id, conv, kind, NULL, data, $5 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[]) \
         AS t(id, conv, kind, data)",
    )
    .bind(&ids)
    .bind(&convs)
    .bind(&kinds)
    .bind(&data)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_messages(tx: &mut Tx<'_>, todo: &[&StoredEvent], plan: &Plan, now: DateTime<Utc>) -> Result<()> {
    let events = || todo.iter().map(|se| &se.event);
    let ids: Vec<Uuid> = todo.iter().map(|se| se.message_id.0).collect();
    let convs: Vec<Uuid> = plan.threaded.iter().map(|t| t.conv.0).collect();
    let visibility: Vec<&str> = events().map(|ev| ev.visibility.as_str()).collect();
    let texts: Vec<&str> = events().map(|ev| ev.text.as_str()).collect();
    let attachments =
        events().map(|ev| serde_json::to_string(&ev.attachments)).collect::<serde_json::Result<Vec<_>>>()?;
    let pids: Vec<&str> = events().map(|ev| ev.provider_event_id.as_str()).collect();
    let sent: Vec<DateTime<Utc>> = events().map(|ev| ev.sent_at).collect();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, direction, visibility, text, attachments, provider_message_id, \
         sent_at, created_at) \
         SELECT id, conv, 'inbound', visibility, text, attachments, pid, sent_at, $8 \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) \
         AS t(id, conv, visibility, text, attachments, pid, sent_at) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&convs)
    .bind(&visibility)
    .bind(&texts)
    .bind(&attachments)
    .bind(&pids)
    .bind(&sent)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
