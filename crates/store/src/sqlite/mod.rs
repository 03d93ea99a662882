//! The SQLite backend.

mod agent_files;
mod audit;
mod channel_state;
mod kb;
mod kb_translations;
pub(crate) use kb::button_data as kb_button_data;
mod conn;
mod contact_notes;
mod edits;
mod quality;
mod rollup;
mod routing;
mod search;
mod short_index;
mod telegram;
mod triage;
mod ui;
mod widget;
mod widget_merge;
mod x;

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::{
    CaseNumber, ChannelIdentity, ChannelKind, ChannelSlug, Contact, ContactId, Conversation, ConversationFact,
    ConversationId, DeliveryStatus, EventId, FactKind, InboundEvent, Message, MessageId, OutboxId, Role,
    ThreadCandidate, ThreadDecision, UserId, decide_thread,
};
use uuid::Uuid;

use crate::records::{decode_cursor, encode_cursor, page_limit};
use crate::{
    ApiToken, Backend, ChannelRecord, ConversationFilter, ConversationPatch, ConversationSummary, IngestAck,
    MessageKind, NewMessage, NewUser, OutboxItem, Page, Result, Store, StoreError, StoreOptions, StoredEvent,
    ThreadOutcome, ThreadingRules, User, like_pattern,
};

/// SQLite store: single writer thread, pooled readers.
pub struct SqliteStore {
    conns: conn::Connections,
    search: crate::InboxSearchTuning,
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_ts(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

fn parse_col<T: std::str::FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = row.get(idx)?;
    s.parse::<T>()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.to_string().into()))
}

fn json_col<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    serde_json::from_str(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into()))
}

const CONV_COLS: &str = "c.id, c.case_number, c.channel, c.thread_key, c.contact_id, c.status, c.priority, c.team, \
    c.assignee_id, c.tags, c.created_at, c.updated_at, c.last_message_at, c.first_response_at, c.resolved_at, \
    c.reopen_count, c.repeat_of, c.snoozed_until";

fn conv_from_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: ConversationId(r.get(0)?),
        case_number: CaseNumber(r.get(1)?),
        channel: parse_slug(r, 2)?,
        thread_key: r.get(3)?,
        contact_id: ContactId(r.get(4)?),
        status: parse_col(r, 5)?,
        priority: parse_col(r, 6)?,
        team: r.get(7)?,
        assignee_id: r.get::<_, Option<Uuid>>(8)?.map(UserId),
        tags: json_col(r, 9)?,
        created_at: from_ts(r.get(10)?),
        updated_at: from_ts(r.get(11)?),
        last_message_at: from_ts(r.get(12)?),
        first_response_at: r.get::<_, Option<i64>>(13)?.map(from_ts),
        resolved_at: r.get::<_, Option<i64>>(14)?.map(from_ts),
        reopen_count: r.get(15)?,
        repeat_of: r.get::<_, Option<Uuid>>(16)?.map(ConversationId),
        snoozed_until: r.get::<_, Option<i64>>(17)?.map(from_ts),
    })
}

fn parse_slug(r: &Row<'_>, idx: usize) -> rusqlite::Result<ChannelSlug> {
    let s: String = r.get(idx)?;
    ChannelSlug::parse(&s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.to_string().into()))
}

const MSG_COLS: &str = "id, conversation_id, direction, visibility, author_id, text, attachments, provider_message_id, \
    delivery_status, failure_reason, sent_at, created_at";

fn msg_from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(r.get(0)?),
        conversation_id: ConversationId(r.get(1)?),
        direction: parse_col(r, 2)?,
        visibility: parse_col(r, 3)?,
        author_id: r.get::<_, Option<Uuid>>(4)?.map(UserId),
        text: r.get(5)?,
        attachments: json_col(r, 6)?,
        provider_message_id: r.get(7)?,
        delivery_status: match r.get::<_, Option<String>>(8)? {
            Some(_) => Some(parse_col(r, 8)?),
            None => None,
        },
        failure_reason: r.get(9)?,
        sent_at: from_ts(r.get(10)?),
        created_at: from_ts(r.get(11)?),
    })
}

const CHANNEL_COLS: &str = "slug, kind, name, callback_url, secret, config, created_at";

fn channel_from_row(r: &Row<'_>) -> rusqlite::Result<ChannelRecord> {
    Ok(ChannelRecord {
        slug: parse_slug(r, 0)?,
        kind: parse_col::<ChannelKind>(r, 1)?,
        name: r.get(2)?,
        callback_url: r.get(3)?,
        secret: r.get(4)?,
        config: json_col(r, 5)?,
        created_at: from_ts(r.get(6)?),
    })
}

const USER_COLS: &str = "id, email, name, role, password_hash, disabled, created_at";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        email: r.get(1)?,
        name: r.get(2)?,
        role: parse_col::<Role>(r, 3)?,
        password_hash: r.get(4)?,
        disabled: r.get(5)?,
        created_at: from_ts(r.get(6)?),
    })
}

const EVENT_COLS: &str = "id, seq, message_id, payload, received_at, processed_at, conversation_id";

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: EventId(r.get(0)?),
        seq: r.get(1)?,
        message_id: MessageId(r.get(2)?),
        event: json_col(r, 3)?,
        received_at: from_ts(r.get(4)?),
        processed_at: r.get::<_, Option<i64>>(5)?.map(from_ts),
        conversation_id: r.get::<_, Option<Uuid>>(6)?.map(ConversationId),
    })
}

fn get_conversation(c: &Connection, id: ConversationId) -> Result<Option<Conversation>> {
    Ok(c.prepare_cached(&format!("SELECT {CONV_COLS} FROM conversations c WHERE c.id = ?1"))?
        .query_row([id.0], conv_from_row)
        .optional()?)
}

fn add_fact(
    c: &Connection,
    conv: ConversationId,
    kind: FactKind,
    actor: Option<UserId>,
    data: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO conversation_facts (id, conversation_id, kind, actor_id, data, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![Uuid::now_v7(), conv.0, kind.as_str(), actor.map(|a| a.0), data.to_string(), ts(at)])?;
    Ok(())
}

/// name, email, merged_into, created_at.
type ContactRow = (Option<String>, Option<String>, Option<Uuid>, i64);

fn load_contact(c: &Connection, id: ContactId) -> Result<Option<Contact>> {
    // Follow merges to the surviving contact.
    let mut id = id;
    for _ in 0..16 {
        let row: Option<ContactRow> = c
            .prepare_cached("SELECT name, email, merged_into, created_at FROM contacts WHERE id = ?1")?
            .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((name, email, merged, created)) = row else { return Ok(None) };
        if let Some(m) = merged {
            id = ContactId(m);
            continue;
        }
        let identities = c
            .prepare_cached(
                "SELECT channel, provider_user_id, handle, display_name FROM contact_identities WHERE contact_id = ?1 ORDER BY created_at, channel",
            )?
            .query_map([id.0], |r| {
                Ok(ChannelIdentity { channel: parse_slug(r, 0)?, provider_user_id: r.get(1)?, handle: r.get(2)?, display_name: r.get(3)? })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        return Ok(Some(Contact { id, name, email, created_at: from_ts(created), identities }));
    }
    Err(StoreError::Backend("contact merge chain too long".into()))
}

/// Finds or creates the contact behind an inbound event's sender.
fn resolve_contact(c: &Connection, ev: &InboundEvent, at: DateTime<Utc>) -> Result<ContactId> {
    let found: Option<(Uuid, Option<String>)> = c
        .prepare_cached(
            "SELECT contact_id, display_name FROM contact_identities WHERE channel = ?1 AND provider_user_id = ?2",
        )?
        .query_row(params![ev.channel.as_str(), ev.contact.provider_user_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, shown)) = found {
        if ev.contact.display_name.is_some() && ev.contact.display_name != shown {
            c.prepare_cached(
                "UPDATE contact_identities SET display_name = ?3, handle = COALESCE(?4, handle) WHERE channel = ?1 AND provider_user_id = ?2",
            )?
            .execute(params![ev.channel.as_str(), ev.contact.provider_user_id, ev.contact.display_name, ev.contact.handle])?;
        }
        return Ok(ContactId(id));
    }
    let id = ContactId::new();
    c.prepare_cached("INSERT INTO contacts (id, name, created_at) VALUES (?1, ?2, ?3)")?.execute(params![
        id.0,
        ev.contact.display_name.as_ref().or(ev.contact.handle.as_ref()),
        ts(at)
    ])?;
    c.prepare_cached(
        "INSERT INTO contact_identities (channel, provider_user_id, contact_id, handle, display_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![ev.channel.as_str(), ev.contact.provider_user_id, id.0, ev.contact.handle, ev.contact.display_name, ts(at)])?;
    Ok(id)
}

fn thread_one(c: &Connection, se: &StoredEvent, rules: ThreadingRules, now: DateTime<Utc>) -> Result<ThreadOutcome> {
    let ev = &se.event;
    let contact = resolve_contact(c, ev, now)?;
    let latest: Option<(ThreadCandidate, i64)> = c
        .prepare_cached(
            "SELECT id, status, resolved_at, case_number FROM conversations WHERE contact_id = ?1 AND channel = ?2 AND thread_key = ?3 \
             ORDER BY created_at DESC LIMIT 1",
        )?
        .query_row(params![contact.0, ev.channel.as_str(), ev.thread_key], |r| {
            let cand = ThreadCandidate {
                id: ConversationId(r.get(0)?),
                status: parse_col(r, 1)?,
                resolved_at: r.get::<_, Option<i64>>(2)?.map(from_ts),
            };
            Ok((cand, r.get(3)?))
        })
        .optional()?;
    // Only a message that will not join an active conversation needs the repeat-contact lookup.
    let last_resolved: Option<(ConversationId, DateTime<Utc>)> = match latest {
        Some((cand, _)) if cand.status.is_active() => None,
        _ => c
            .prepare_cached(
                "SELECT id, resolved_at FROM conversations WHERE contact_id = ?1 AND resolved_at IS NOT NULL ORDER BY resolved_at DESC LIMIT 1",
            )?
            .query_row([contact.0], |r| Ok((ConversationId(r.get(0)?), from_ts(r.get(1)?))))
            .optional()?,
    };
    // Customers' clocks and providers' timestamps drift: thread by arrival time.
    let at = now;
    let decision = decide_thread(latest.map(|(cand, _)| cand), last_resolved, at, rules.reopen_window);
    let latest_case = latest.map(|(_, case)| case).unwrap_or_default();
    let (conv_id, case_number, created, reopened) = match decision {
        ThreadDecision::Join { id, reactivate } => {
            if reactivate {
                let from = latest.map(|(cand, _)| cand.status.as_str()).unwrap_or("pending");
                c.prepare_cached("UPDATE conversations SET status = 'open', snoozed_until = NULL WHERE id = ?1")?
                    .execute([id.0])?;
                add_fact(
                    c,
                    id,
                    FactKind::StatusChanged,
                    None,
                    serde_json::json!({"from": from, "to": "open", "by": "customer"}),
                    at,
                )?;
            }
            (id, latest_case, false, false)
        }
        ThreadDecision::Reopen { id } => {
            c.prepare_cached(
                "UPDATE conversations SET status = 'open', resolved_at = NULL, reopen_count = reopen_count + 1 WHERE id = ?1",
            )?
            .execute([id.0])?;
            add_fact(c, id, FactKind::Reopened, None, serde_json::json!({"by": "customer", "event_id": se.id}), at)?;
            (id, latest_case, false, true)
        }
        ThreadDecision::New { repeat_of } => {
            let id = ConversationId::new();
            let case: i64 =
                c.query_row("SELECT COALESCE(MAX(case_number), 0) + 1 FROM conversations", [], |r| r.get(0))?;
            c.prepare_cached(
                "INSERT INTO conversations (id, case_number, channel, thread_key, contact_id, status, priority, tags, created_at, updated_at, last_message_at, repeat_of) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', 'normal', '[]', ?6, ?6, ?6, ?7)",
            )?
            .execute(params![id.0, case, ev.channel.as_str(), ev.thread_key, contact.0, ts(at), repeat_of.map(|r| r.0)])?;
            add_fact(
                c,
                id,
                FactKind::Created,
                None,
                serde_json::json!({"channel": ev.channel, "event_id": se.id}),
                at,
            )?;
            if let Some(prev) = repeat_of {
                add_fact(c, id, FactKind::RepeatContact, None, serde_json::json!({"repeat_of": prev}), at)?;
            }
            (id, case, true, false)
        }
    };
    c.prepare_cached(
        "INSERT INTO messages (id, conversation_id, direction, visibility, text, attachments, provider_message_id, sent_at, created_at) \
         VALUES (?1, ?2, 'inbound', ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        se.message_id.0,
        conv_id.0,
        ev.visibility.as_str(),
        ev.text,
        serde_json::to_string(&ev.attachments)?,
        ev.provider_event_id,
        ts(ev.sent_at),
        ts(at)
    ])?;
    c.prepare_cached("UPDATE conversations SET last_message_at = ?2, updated_at = ?2 WHERE id = ?1")?
        .execute(params![conv_id.0, ts(at)])?;
    c.prepare_cached("UPDATE inbound_events SET processed_at = ?2, conversation_id = ?3 WHERE seq = ?1")?
        .execute(params![se.seq, ts(now), conv_id.0])?;
    Ok(ThreadOutcome {
        event_id: se.id,
        message_id: se.message_id,
        conversation_id: conv_id,
        case_number: CaseNumber(case_number),
        created,
        reopened,
        edited: false,
    })
}

/// Moves `other`'s identities and conversations to `keep` and marks `other` merged, inside the
/// caller's transaction.
pub(crate) fn merge_contacts_tx(c: &Connection, keep: ContactId, other: ContactId) -> Result<Contact> {
    let k = load_contact(c, keep)?.ok_or(StoreError::NotFound("contact"))?;
    let o = load_contact(c, other)?.ok_or(StoreError::NotFound("contact"))?;
    if k.id == o.id {
        return Err(StoreError::Invalid("cannot merge a contact into itself".into()));
    }
    c.execute("UPDATE contact_identities SET contact_id = ?1 WHERE contact_id = ?2", params![k.id.0, o.id.0])?;
    c.execute("UPDATE conversations SET contact_id = ?1 WHERE contact_id = ?2", params![k.id.0, o.id.0])?;
    c.execute(
        "UPDATE contacts SET name = COALESCE(name, ?2), email = COALESCE(email, ?3) WHERE id = ?1",
        params![k.id.0, o.name, o.email],
    )?;
    // Contacts merged into `o` earlier now point at the survivor directly: chains stay one hop.
    c.execute("UPDATE contacts SET merged_into = ?1 WHERE id = ?2 OR merged_into = ?2", params![k.id.0, o.id.0])?;
    load_contact(c, k.id)?.ok_or(StoreError::NotFound("contact"))
}

fn apply_patch(
    c: &Connection,
    id: ConversationId,
    p: &ConversationPatch,
    actor: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Conversation> {
    let cur = get_conversation(c, id)?.ok_or(StoreError::NotFound("conversation"))?;
    let plan = p.plan(&cur, actor, now)?;
    if let Some(uid) = plan.assign_to {
        let active: bool =
            c.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1 AND disabled = 0)", [uid.0], |r| r.get(0))?;
        if !active {
            return Err(StoreError::Invalid(format!("no active user {uid}")));
        }
    }
    let n = &plan.conversation;
    c.execute(
        "UPDATE conversations SET status = ?2, resolved_at = ?3, snoozed_until = ?4, assignee_id = ?5, priority = ?6, \
         team = ?7, tags = ?8, updated_at = ?9 WHERE id = ?1",
        params![
            id.0,
            n.status.as_str(),
            n.resolved_at.map(ts),
            n.snoozed_until.map(ts),
            n.assignee_id.map(|u| u.0),
            n.priority.as_str(),
            n.team,
            serde_json::to_string(&n.tags)?,
            ts(n.updated_at)
        ],
    )?;
    for (kind, data) in plan.facts {
        add_fact(c, id, kind, actor, data, now)?;
    }
    Ok(plan.conversation)
}

fn post_message_tx(c: &Connection, m: &NewMessage) -> Result<(Message, bool)> {
    let key = m.stored_key();
    if let Some(key) = &key {
        let existing = c
            .prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE idempotency_key = ?1"))?
            .query_row([key], msg_from_row)
            .optional()?;
        if let Some(msg) = existing {
            return m.replay(msg);
        }
    }
    let conv = get_conversation(c, m.conversation_id)?.ok_or(StoreError::NotFound("conversation"))?;
    let (direction, visibility, delivery) = m.shape(&conv)?;
    let id = MessageId::new();
    c.prepare_cached(
        "INSERT INTO messages (id, conversation_id, direction, visibility, author_id, text, attachments, delivery_status, idempotency_key, sent_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, '[]', ?7, ?8, ?9, ?9)",
    )?
    .execute(params![id.0, m.conversation_id.0, direction.as_str(), visibility.as_str(), m.author_id.0, m.text, delivery.map(|d| d.as_str()), key, ts(m.at)])?;
    if m.kind == MessageKind::Reply {
        c.prepare_cached(
            "INSERT INTO outbox (id, message_id, channel, state, attempts, next_attempt_at, created_at) VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4)",
        )?
        .execute(params![OutboxId::new().0, id.0, conv.channel.as_str(), ts(m.at)])?;
        if conv.first_response_at.is_none() {
            c.execute("UPDATE conversations SET first_response_at = ?2 WHERE id = ?1", params![conv.id.0, ts(m.at)])?;
            add_fact(
                c,
                conv.id,
                FactKind::FirstResponse,
                Some(m.author_id),
                serde_json::json!({"message_id": id}),
                m.at,
            )?;
        }
        c.execute(
            "UPDATE conversations SET last_message_at = ?2, updated_at = ?2 WHERE id = ?1",
            params![conv.id.0, ts(m.at)],
        )?;
    } else {
        c.execute("UPDATE conversations SET updated_at = ?2 WHERE id = ?1", params![conv.id.0, ts(m.at)])?;
    }
    let msg =
        c.prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE id = ?1"))?.query_row([id.0], msg_from_row)?;
    Ok((msg, true))
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs migrations.
    pub async fn open(path: &Path, opts: &StoreOptions) -> Result<Self> {
        let path = path.to_owned();
        let max = opts.max_connections as usize;
        let sync_full = opts.sqlite_synchronous_full;
        let search = opts.inbox_search;
        let conns = tokio::task::spawn_blocking(move || conn::Connections::open(&path, max, sync_full))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        Ok(Self { conns, search })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<()> {
        self.conns.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(|_| ())?)).await
    }

    async fn close(&self) {
        self.conns.close();
    }

    async fn upsert_channel(&self, ch: &ChannelRecord) -> Result<()> {
        let ch = ch.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO channels (slug, kind, name, callback_url, secret, config, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (slug) DO UPDATE SET kind = excluded.kind, name = excluded.name, callback_url = excluded.callback_url, \
                     secret = excluded.secret, config = excluded.config",
                    params![ch.slug.as_str(), ch.kind.as_str(), ch.name, ch.callback_url, ch.secret, ch.config.to_string(), ts(ch.created_at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn get_channel(&self, slug: &ChannelSlug) -> Result<Option<ChannelRecord>> {
        let slug = slug.clone();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!("SELECT {CHANNEL_COLS} FROM channels WHERE slug = ?1"))?
                    .query_row([slug.as_str()], channel_from_row)
                    .optional()?)
            })
            .await
    }

    async fn list_channels(&self) -> Result<Vec<ChannelRecord>> {
        self.conns
            .read(|c| {
                Ok(c.prepare(&format!("SELECT {CHANNEL_COLS} FROM channels ORDER BY slug"))?
                    .query_map([], channel_from_row)?
                    .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn create_user(&self, u: &NewUser) -> Result<User> {
        let u = u.clone();
        self.conns
            .write(move |c| {
                let email = u.email.trim().to_lowercase();
                let exists: bool = c.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE email = ?1)", [&email], |r| r.get(0))?;
                if exists {
                    return Err(StoreError::Conflict(format!("a user with email {email} exists")));
                }
                let id = UserId::new();
                c.execute(
                    "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id.0, email, u.name, u.role.as_str(), u.password_hash, ts(Utc::now())],
                )?;
                Ok(c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id.0], user_from_row)?)
            })
            .await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = email.trim().to_lowercase();
        self.conns
            .read(move |c| {
                Ok(c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE email = ?1"), [email], user_from_row)
                    .optional()?)
            })
            .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        self.conns
            .read(move |c| {
                Ok(c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [id.0], user_from_row)
                    .optional()?)
            })
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.conns
            .read(|c| {
                Ok(c.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY email"))?
                    .query_map([], user_from_row)?
                    .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn create_api_token(&self, user_id: UserId, name: &str, token_hash: &str) -> Result<ApiToken> {
        let (name, hash) = (name.to_owned(), token_hash.to_owned());
        self.conns
            .write(move |c| {
                let exists: bool =
                    c.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1)", [user_id.0], |r| r.get(0))?;
                if !exists {
                    return Err(StoreError::NotFound("user"));
                }
                let t = ApiToken { id: Uuid::now_v7(), user_id, name, created_at: Utc::now() };
                c.execute(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![t.id, user_id.0, t.name, hash, ts(t.created_at)],
                )?;
                Ok(t)
            })
            .await
    }

    async fn find_api_token(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>> {
        let hash = token_hash.to_owned();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT t.id, t.user_id, t.name, t.created_at, u.id, u.email, u.name, u.role, u.password_hash, u.disabled, u.created_at \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND u.disabled = 0",
                )?
                .query_row([hash], |r| {
                    let t = ApiToken { id: r.get(0)?, user_id: UserId(r.get(1)?), name: r.get(2)?, created_at: from_ts(r.get(3)?) };
                    let u = User {
                        id: UserId(r.get(4)?),
                        email: r.get(5)?,
                        name: r.get(6)?,
                        role: parse_col(r, 7)?,
                        password_hash: r.get(8)?,
                        disabled: r.get(9)?,
                        created_at: from_ts(r.get(10)?),
                    };
                    Ok((t, u))
                })
                .optional()?)
            })
            .await
    }

    async fn append_inbound(&self, events: Vec<InboundEvent>) -> Result<Vec<IngestAck>> {
        // Serialise outside the writer thread: it is the only serial resource.
        let now = ts(Utc::now());
        let rows: Vec<(InboundEvent, String)> =
            events.into_iter().map(|e| serde_json::to_string(&e).map(|p| (e, p))).collect::<Result<_, _>>()?;
        self.conns
            .write(move |c| {
                // A delete may overtake its post (X): when the post's tombstone is already stored,
                // its content is not (`crate::x::DELETED_TEXT` instead, no attachments, no raw
                // JSON), decided in this transaction, so no delete can slip in between. (`WHERE
                // true` lets SQLite parse the upsert after a SELECT.)
                let mut insert = c.prepare_cached(
                    "INSERT INTO inbound_events (id, channel, provider_event_id, message_id, payload, received_at) \
                     SELECT ?1, ?2, ?3, ?4, CASE WHEN EXISTS (SELECT 1 FROM x_deleted_posts WHERE channel = ?2 AND tweet_id = ?3) \
                     THEN json_remove(json_set(?5, '$.text', ?7, '$.attachments', json('[]')), '$.extra.raw') ELSE ?5 END, ?6 \
                     WHERE true ON CONFLICT (channel, provider_event_id) DO NOTHING",
                )?;
                let mut existing = c.prepare_cached("SELECT id, message_id FROM inbound_events WHERE channel = ?1 AND provider_event_id = ?2")?;
                let mut acks = Vec::with_capacity(rows.len());
                for (ev, payload) in &rows {
                    let (id, mid) = (EventId::new(), MessageId::new());
                    let n = insert.execute(params![
                        id.0,
                        ev.channel.as_str(),
                        ev.provider_event_id,
                        mid.0,
                        payload,
                        now,
                        crate::x::DELETED_TEXT
                    ])?;
                    if n == 1 {
                        acks.push(IngestAck { event_id: id, message_id: mid, duplicate: false });
                    } else {
                        let (eid, mid) = existing.query_row(params![ev.channel.as_str(), ev.provider_event_id], |r| {
                            Ok((EventId(r.get(0)?), MessageId(r.get(1)?)))
                        })?;
                        acks.push(IngestAck { event_id: eid, message_id: mid, duplicate: true });
                    }
                }
                Ok(acks)
            })
            .await
    }

    async fn unprocessed_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {EVENT_COLS} FROM inbound_events WHERE processed_at IS NULL ORDER BY seq LIMIT ?1"
                ))?
                .query_map([limit as i64], event_from_row)?
                .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn thread_events(&self, events: Vec<StoredEvent>, rules: ThreadingRules) -> Result<Vec<ThreadOutcome>> {
        self.conns
            .write(move |c| {
                let now = Utc::now();
                let mut out = Vec::with_capacity(events.len());
                for se in &events {
                    let done: bool = c
                        .prepare_cached("SELECT processed_at IS NOT NULL FROM inbound_events WHERE seq = ?1")?
                        .query_row([se.seq], |r| r.get(0))
                        .optional()?
                        .unwrap_or(true);
                    if done {
                        continue; // Another worker (or an earlier run) threaded it.
                    }
                    if let Some(o) = edits::thread_version(c, se, now)? {
                        out.push(o);
                        continue;
                    }
                    out.push(thread_one(c, se, rules, now)?);
                    edits::adopt_orphan_edit(c, se)?;
                }
                Ok(out)
            })
            .await
    }

    async fn pipeline_backlog(&self) -> Result<i64> {
        self.conns
            .read(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM inbound_events WHERE processed_at IS NULL", [], |r| r.get(0))?)
            })
            .await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<StoredEvent>> {
        self.conns
            .read(move |c| {
                Ok(c.query_row(
                    &format!("SELECT {EVENT_COLS} FROM inbound_events WHERE id = ?1"),
                    [id.0],
                    event_from_row,
                )
                .optional()?)
            })
            .await
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> Result<Page<ConversationSummary>> {
        let f = f.clone();
        let tuning = self.search;
        self.conns
            .read(move |c| {
                use rusqlite::types::Value as V;
                let select = format!(
                    "SELECT {CONV_COLS}, (SELECT name FROM contacts WHERE id = c.contact_id) FROM conversations c"
                );
                // The list's conditions on conversation `c`, after `WHERE 1 = 1`.
                let mut filters = String::new();
                let mut args: Vec<V> = Vec::new();
                let mut push = |sql: &mut String, clause: &str, v: V| {
                    args.push(v);
                    sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
                };
                if let Some(s) = f.status {
                    push(&mut filters, " AND c.status = ?", V::Text(s.as_str().into()));
                }
                if let Some(ch) = &f.channel {
                    push(&mut filters, " AND c.channel = ?", V::Text(ch.as_str().into()));
                }
                match f.assignee {
                    Some(Some(u)) => push(&mut filters, " AND c.assignee_id = ?", V::Blob(u.0.as_bytes().to_vec())),
                    Some(None) => filters.push_str(" AND c.assignee_id IS NULL"),
                    None => {}
                }
                if let Some(t) = &f.team {
                    push(&mut filters, " AND c.team = ?", V::Text(t.clone()));
                }
                if let Some(p) = f.priority {
                    push(&mut filters, " AND c.priority = ?", V::Text(p.as_str().into()));
                }
                if let Some(ct) = f.contact {
                    push(&mut filters, " AND c.contact_id = ?", V::Blob(ct.0.as_bytes().to_vec()));
                }
                if let Some(cur) = &f.cursor {
                    let (t, id) = decode_cursor(cur)?;
                    push(&mut filters, " AND (c.last_message_at < ?", V::Integer(ts(t)));
                    push(&mut filters, " OR (c.last_message_at = ?", V::Integer(ts(t)));
                    push(&mut filters, " AND c.id < ?))", V::Blob(id.as_bytes().to_vec()));
                }
                let mut text_search = None;
                if let Some(q) = f.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                    if let Ok(case) = CaseNumber::parse(q) {
                        push(&mut filters, " AND c.case_number = ?", V::Integer(case.0));
                    } else {
                        text_search = Some(q.to_owned());
                    }
                }
                let limit = page_limit(f.limit);
                let summary = |r: &Row<'_>| -> rusqlite::Result<ConversationSummary> {
                    Ok(ConversationSummary { conversation: conv_from_row(r)?, contact_name: r.get(18)? })
                };
                let mut page = None;
                if let Some(text) = text_search {
                    // The inbox's planned search, in this list's order (latest first).
                    let want = limit as usize + 1;
                    match search::plan(c, tuning, &text, crate::InboxSort::Recent, &mut filters, &mut args, (0, want))?
                    {
                        search::SearchPlan::Empty => return Ok(Page { items: Vec::new(), next_cursor: None }),
                        search::SearchPlan::Page(ids) => page = Some(ids),
                        search::SearchPlan::Walk => {}
                    }
                }
                let mut items = if let Some(ids) = page {
                    let mut one = c.prepare_cached(&format!("{select} WHERE c.rowid = ?1"))?;
                    let mut items = Vec::with_capacity(ids.len());
                    for id in ids {
                        items.push(one.query_row([id], summary)?);
                    }
                    items
                } else {
                    let sql = format!(
                        "{select} WHERE 1 = 1{filters} ORDER BY c.last_message_at DESC, c.id DESC LIMIT {}",
                        limit + 1
                    );
                    c.prepare(&sql)?
                        .query_map(rusqlite::params_from_iter(args), summary)?
                        .collect::<rusqlite::Result<Vec<_>>>()?
                };
                let next_cursor = if items.len() > limit as usize {
                    items.truncate(limit as usize);
                    items.last().map(|s| encode_cursor(s.conversation.last_message_at, s.conversation.id.0))
                } else {
                    None
                };
                Ok(Page { items, next_cursor })
            })
            .await
    }

    async fn get_conversation(&self, id: ConversationId) -> Result<Option<Conversation>> {
        self.conns.read(move |c| get_conversation(c, id)).await
    }

    async fn get_conversation_by_case(&self, case: CaseNumber) -> Result<Option<Conversation>> {
        self.conns
            .read(move |c| {
                Ok(c.query_row(
                    &format!("SELECT {CONV_COLS} FROM conversations c WHERE c.case_number = ?1"),
                    [case.0],
                    conv_from_row,
                )
                .optional()?)
            })
            .await
    }

    async fn list_messages(&self, id: ConversationId) -> Result<Vec<Message>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT {MSG_COLS} FROM messages WHERE conversation_id = ?1 ORDER BY created_at, id"
                ))?
                .query_map([id.0], msg_from_row)?
                .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn get_message(&self, id: MessageId) -> Result<Option<Message>> {
        self.conns
            .read(move |c| {
                Ok(c.query_row(&format!("SELECT {MSG_COLS} FROM messages WHERE id = ?1"), [id.0], msg_from_row)
                    .optional()?)
            })
            .await
    }

    async fn list_facts(&self, id: ConversationId) -> Result<Vec<ConversationFact>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached("SELECT kind, actor_id, data, at FROM conversation_facts WHERE conversation_id = ?1 ORDER BY at, id")?
                    .query_map([id.0], |r| {
                        Ok(ConversationFact {
                            kind: parse_col(r, 0)?,
                            actor_id: r.get::<_, Option<Uuid>>(1)?.map(UserId),
                            data: json_col(r, 2)?,
                            at: from_ts(r.get(3)?),
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        patch: &ConversationPatch,
        actor: Option<UserId>,
    ) -> Result<Conversation> {
        let patch = patch.clone();
        self.conns.write(move |c| apply_patch(c, id, &patch, actor, crate::now_micros())).await
    }

    async fn post_message(&self, msg: &NewMessage) -> Result<(Message, bool)> {
        let msg = msg.clone();
        self.conns.write(move |c| post_message_tx(c, &msg)).await
    }

    async fn list_contacts(&self, query: Option<&str>, cursor: Option<&str>, limit: u32) -> Result<Page<Contact>> {
        let query = query.map(|q| like_pattern(q.trim()));
        let cursor = cursor.map(decode_cursor).transpose()?;
        let limit = page_limit(limit);
        self.conns
            .read(move |c| {
                let ids: Vec<(Uuid, i64)> = c
                    .prepare_cached(
                        "SELECT k.id, k.created_at FROM contacts k WHERE k.merged_into IS NULL \
                         AND (?1 IS NULL OR k.name LIKE ?1 ESCAPE '\\' OR k.email LIKE ?1 ESCAPE '\\' \
                              OR EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = k.id AND (i.handle LIKE ?1 ESCAPE '\\' OR i.display_name LIKE ?1 ESCAPE '\\'))) \
                         AND (?2 IS NULL OR k.created_at < ?2 OR (k.created_at = ?2 AND k.id < ?3)) \
                         ORDER BY k.created_at DESC, k.id DESC LIMIT ?4",
                    )?
                    .query_map(
                        params![query, cursor.map(|(t, _)| ts(t)), cursor.map(|(_, id)| id), limit as i64 + 1],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                let more = ids.len() > limit as usize;
                let mut items = Vec::with_capacity(ids.len());
                for (id, _) in ids.iter().take(limit as usize) {
                    if let Some(ct) = load_contact(c, ContactId(*id))? {
                        items.push(ct);
                    }
                }
                let next_cursor = if more { items.last().map(|ct| encode_cursor(ct.created_at, ct.id.0)) } else { None };
                Ok(Page { items, next_cursor })
            })
            .await
    }

    async fn get_contact(&self, id: ContactId) -> Result<Option<Contact>> {
        self.conns.read(move |c| load_contact(c, id)).await
    }

    async fn update_contact(&self, id: ContactId, name: Option<&str>, email: Option<&str>) -> Result<Contact> {
        let (name, email) = (name.map(str::to_owned), email.map(str::to_owned));
        self.conns
            .write(move |c| {
                let ct = load_contact(c, id)?.ok_or(StoreError::NotFound("contact"))?;
                c.execute(
                    "UPDATE contacts SET name = COALESCE(?2, name), email = COALESCE(?3, email) WHERE id = ?1",
                    params![ct.id.0, name, email],
                )?;
                load_contact(c, ct.id)?.ok_or(StoreError::NotFound("contact"))
            })
            .await
    }

    async fn merge_contacts(&self, keep: ContactId, other: ContactId) -> Result<Contact> {
        self.conns.write(move |c| merge_contacts_tx(c, keep, other)).await
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>> {
        self.conns
            .write(move |c| {
                let ids: Vec<Uuid> = c
                    .prepare_cached(
                        "SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= ?1 \
                         AND (lease_until IS NULL OR lease_until < ?1) ORDER BY next_attempt_at LIMIT ?2",
                    )?
                    .query_map(params![ts(now), limit as i64], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut items = Vec::with_capacity(ids.len());
                for id in ids {
                    c.prepare_cached("UPDATE outbox SET state = 'sending', lease_until = ?2, attempts = attempts + 1 WHERE id = ?1")?
                        .execute(params![id, ts(lease_until)])?;
                    let item = c
                        .prepare_cached(&format!(
                            "SELECT o.id, o.attempts, m.id, c.id, c.case_number, c.thread_key, m.visibility, m.text, m.created_at, \
                             (SELECT i.provider_user_id FROM contact_identities i WHERE i.contact_id = c.contact_id AND i.channel = c.channel ORDER BY i.created_at LIMIT 1), \
                             {} FROM outbox o JOIN messages m ON m.id = o.message_id JOIN conversations c ON c.id = m.conversation_id \
                             JOIN channels ch ON ch.slug = o.channel WHERE o.id = ?1",
                            crate::qualified(CHANNEL_COLS, "ch")
                        ))?
                        .query_row([id], |r| {
                            Ok(OutboxItem {
                                id: OutboxId(r.get(0)?),
                                attempts: r.get(1)?,
                                message_id: MessageId(r.get(2)?),
                                conversation_id: ConversationId(r.get(3)?),
                                case_number: CaseNumber(r.get(4)?),
                                thread_key: r.get(5)?,
                                visibility: parse_col(r, 6)?,
                                text: r.get(7)?,
                                created_at: from_ts(r.get(8)?),
                                recipient: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                                channel: ChannelRecord {
                                    slug: parse_slug(r, 10)?,
                                    kind: parse_col(r, 11)?,
                                    name: r.get(12)?,
                                    callback_url: r.get(13)?,
                                    secret: r.get(14)?,
                                    config: json_col(r, 15)?,
                                    created_at: from_ts(r.get(16)?),
                                },
                            })
                        })
                        .optional()?;
                    match item {
                        Some(item) => items.push(item),
                        None => {
                            // Its channel was deleted: nothing can deliver it.
                            fail_outbox_tx(c, OutboxId(id), "channel no longer exists", None)?;
                        }
                    }
                }
                Ok(items)
            })
            .await
    }

    async fn complete_outbox(
        &self,
        id: OutboxId,
        attempt: i32,
        provider_message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let pmid = provider_message_id.to_owned();
        self.conns
            .write(move |c| {
                let mid = leased_message(c, id, attempt)?;
                c.execute("UPDATE outbox SET state = 'sent', lease_until = NULL, sent_at = ?2, last_error = NULL WHERE id = ?1", params![id.0, ts(at)])?;
                c.execute(
                    "UPDATE messages SET provider_message_id = ?2, delivery_status = CASE WHEN delivery_status IN ('queued', 'failed') THEN 'sent' ELSE delivery_status END, \
                     failure_reason = NULL WHERE id = ?1",
                    params![mid, pmid],
                )?;
                Ok(())
            })
            .await
    }

    async fn fail_outbox(
        &self,
        id: OutboxId,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let error = error.to_owned();
        self.conns
            .write(move |c| {
                leased_message(c, id, attempt)?;
                fail_outbox_tx(c, id, &error, retry_at)
            })
            .await
    }

    async fn outbox_backlog(&self) -> Result<i64> {
        self.conns
            .read(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')", [], |r| r.get(0))?)
            })
            .await
    }

    async fn wake_snoozed(&self, now: DateTime<Utc>) -> Result<Vec<(ConversationId, CaseNumber)>> {
        self.conns
            .write(move |c| {
                let woken: Vec<(ConversationId, CaseNumber)> = c
                    .prepare_cached(
                        "UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = ?1 \
                         WHERE status = 'snoozed' AND snoozed_until <= ?1 RETURNING id, case_number",
                    )?
                    .query_map([ts(now)], |r| Ok((ConversationId(r.get(0)?), CaseNumber(r.get(1)?))))?
                    .collect::<rusqlite::Result<_>>()?;
                for (id, _) in &woken {
                    add_fact(
                        c,
                        *id,
                        FactKind::StatusChanged,
                        None,
                        serde_json::json!({"from": "snoozed", "to": "open", "by": "snooze"}),
                        now,
                    )?;
                }
                Ok(woken)
            })
            .await
    }

    async fn record_delivery(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
        status: DeliveryStatus,
        reason: Option<&str>,
    ) -> Result<Option<Message>> {
        let (channel, pmid, reason) = (channel.clone(), provider_message_id.to_owned(), reason.map(str::to_owned));
        self.conns
            .write(move |c| {
                let found = c
                    .prepare_cached(&format!(
                        "SELECT {} FROM messages m JOIN conversations c ON c.id = m.conversation_id \
                         WHERE m.provider_message_id = ?1 AND c.channel = ?2 AND m.direction = 'outbound'",
                        crate::qualified(MSG_COLS, "m")
                    ))?
                    .query_row(params![pmid, channel.as_str()], msg_from_row)
                    .optional()?;
                let Some(msg) = found else { return Ok(None) };
                let current = msg.delivery_status.unwrap_or(DeliveryStatus::Queued);
                if !current.should_advance_to(status) {
                    return Ok(Some(msg));
                }
                let reason = if status == DeliveryStatus::Failed { reason } else { None };
                c.execute(
                    "UPDATE messages SET delivery_status = ?2, failure_reason = ?3 WHERE id = ?1",
                    params![msg.id.0, status.as_str(), reason],
                )?;
                Ok(c.prepare_cached(&format!("SELECT {MSG_COLS} FROM messages WHERE id = ?1"))?
                    .query_row([msg.id.0], msg_from_row)
                    .optional()?)
            })
            .await
    }
}

/// The message of an outbox row still leased for `attempt`.
fn leased_message(c: &Connection, id: OutboxId, attempt: i32) -> Result<Uuid> {
    let row: Option<(Uuid, String, i32)> = c
        .prepare_cached("SELECT message_id, state, attempts FROM outbox WHERE id = ?1")?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        None => Err(StoreError::NotFound("outbox row")),
        Some((mid, state, attempts)) if state == "sending" && attempts == attempt => Ok(mid),
        Some(_) => Err(crate::lease_lost(id)),
    }
}

fn fail_outbox_tx(c: &Connection, id: OutboxId, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<()> {
    match retry_at {
        Some(at) => {
            c.execute(
                "UPDATE outbox SET state = 'pending', lease_until = NULL, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id.0, ts(at), error],
            )?;
        }
        None => {
            c.execute(
                "UPDATE outbox SET state = 'failed', lease_until = NULL, last_error = ?2 WHERE id = ?1",
                params![id.0, error],
            )?;
            c.execute(
                "UPDATE messages SET delivery_status = 'failed', failure_reason = ?2 WHERE id = (SELECT message_id FROM outbox WHERE id = ?1)",
                params![id.0, error],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_microseconds() {
        let t = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap_or_default();
        assert_eq!(from_ts(ts(t)), t);
    }
}
