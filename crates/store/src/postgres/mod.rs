//! The PostgreSQL backend (sqlx).

mod agent_files;
mod audit;
mod channel_state;
mod contact_notes;
mod edits;
mod history_import;
mod kb;
mod kb_translations;
mod quality;
mod rollup;
mod routing;
mod search;
mod telegram;
mod threading;
mod triage;
mod ui;
mod widget;
mod widget_merge;
mod x;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Executor, Postgres, Row, Transaction};
use switchboard_domain::{
    CaseNumber, ChannelIdentity, ChannelSlug, Contact, ContactId, Conversation, ConversationFact, ConversationId,
    DeliveryStatus, EventId, FactKind, InboundEvent, Message, MessageId, OutboxId, UserId,
};
use uuid::Uuid;

use crate::records::{decode_cursor, encode_cursor, page_limit};
use crate::{
    ApiToken, Backend, ChannelRecord, ConversationFilter, ConversationPatch, ConversationSummary, IngestAck,
    MessageKind, NewMessage, NewUser, OutboxItem, Page, Result, Store, StoreError, StoreOptions, StoredEvent,
    ThreadOutcome, ThreadingRules, User, like_pattern, migrations,
};

/// PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    search: crate::InboxSearchTuning,
}

type Tx<'a> = Transaction<'a, Postgres>;

fn parse<T: std::str::FromStr>(r: &PgRow, col: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = r.try_get(col)?;
    s.parse::<T>().map_err(|e| StoreError::Backend(format!("column {col}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(r: &PgRow, col: &str) -> Result<T> {
    let s: String = r.try_get(col)?;
    Ok(serde_json::from_str(&s)?)
}

fn slug(r: &PgRow, col: &str) -> Result<ChannelSlug> {
    let s: String = r.try_get(col)?;
    ChannelSlug::parse(&s).map_err(|e| StoreError::Backend(e.to_string()))
}

const CONV_COLS: &str = "c.id, c.case_number, c.channel, c.thread_key, c.contact_id, c.status, c.priority, c.team, \
    c.assignee_id, c.tags, c.created_at, c.updated_at, c.last_message_at, c.first_response_at, c.resolved_at, \
    c.reopen_count, c.repeat_of, c.snoozed_until";

fn conv_from_row(r: &PgRow) -> Result<Conversation> {
    Ok(Conversation {
        id: ConversationId(r.try_get("id")?),
        case_number: CaseNumber(r.try_get("case_number")?),
        channel: slug(r, "channel")?,
        thread_key: r.try_get("thread_key")?,
        contact_id: ContactId(r.try_get("contact_id")?),
        status: parse(r, "status")?,
        priority: parse(r, "priority")?,
        team: r.try_get("team")?,
        assignee_id: r.try_get::<Option<Uuid>, _>("assignee_id")?.map(UserId),
        tags: json(r, "tags")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_message_at: r.try_get("last_message_at")?,
        first_response_at: r.try_get("first_response_at")?,
        resolved_at: r.try_get("resolved_at")?,
        reopen_count: r.try_get("reopen_count")?,
        repeat_of: r.try_get::<Option<Uuid>, _>("repeat_of")?.map(ConversationId),
        snoozed_until: r.try_get("snoozed_until")?,
    })
}

const MSG_COLS: &str = "id, conversation_id, direction, visibility, author_id, text, attachments, provider_message_id, \
    delivery_status, failure_reason, sent_at, created_at";

fn msg_from_row(r: &PgRow) -> Result<Message> {
    Ok(Message {
        id: MessageId(r.try_get("id")?),
        conversation_id: ConversationId(r.try_get("conversation_id")?),
        direction: parse(r, "direction")?,
        visibility: parse(r, "visibility")?,
        author_id: r.try_get::<Option<Uuid>, _>("author_id")?.map(UserId),
        text: r.try_get("text")?,
        attachments: json(r, "attachments")?,
        provider_message_id: r.try_get("provider_message_id")?,
        delivery_status: match r.try_get::<Option<String>, _>("delivery_status")? {
            Some(s) => Some(s.parse().map_err(|e: switchboard_domain::ParseError| StoreError::Backend(e.to_string()))?),
            None => None,
        },
        failure_reason: r.try_get("failure_reason")?,
        sent_at: r.try_get("sent_at")?,
        created_at: r.try_get("created_at")?,
    })
}

const CHANNEL_COLS: &str = "slug, kind, name, callback_url, secret, config, created_at";

fn channel_from_row(r: &PgRow) -> Result<ChannelRecord> {
    Ok(ChannelRecord {
        slug: slug(r, "slug")?,
        kind: parse(r, "kind")?,
        name: r.try_get("name")?,
        callback_url: r.try_get("callback_url")?,
        secret: r.try_get("secret")?,
        config: json(r, "config")?,
        created_at: r.try_get("created_at")?,
    })
}

const USER_COLS: &str = "id, email, name, role, password_hash, disabled, created_at";

fn user_from_row(r: &PgRow) -> Result<User> {
    Ok(User {
        id: UserId(r.try_get("id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: parse(r, "role")?,
        password_hash: r.try_get("password_hash")?,
        disabled: r.try_get("disabled")?,
        created_at: r.try_get("created_at")?,
    })
}

const EVENT_COLS: &str = "id, seq, message_id, payload, received_at, processed_at, conversation_id";

fn event_from_row(r: &PgRow) -> Result<StoredEvent> {
    Ok(StoredEvent {
        id: EventId(r.try_get("id")?),
        seq: r.try_get("seq")?,
        message_id: MessageId(r.try_get("message_id")?),
        event: json(r, "payload")?,
        received_at: r.try_get("received_at")?,
        processed_at: r.try_get("processed_at")?,
        conversation_id: r.try_get::<Option<Uuid>, _>("conversation_id")?.map(ConversationId),
    })
}

async fn get_conversation<'e, E: Executor<'e, Database = Postgres>>(
    e: E,
    id: ConversationId,
) -> Result<Option<Conversation>> {
    sqlx::query(&format!("SELECT {CONV_COLS} FROM conversations c WHERE c.id = $1"))
        .bind(id.0)
        .fetch_optional(e)
        .await?
        .as_ref()
        .map(conv_from_row)
        .transpose()
}

async fn add_fact(
    tx: &mut Tx<'_>,
    conv: ConversationId,
    kind: FactKind,
    actor: Option<UserId>,
    data: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO conversation_facts (id, conversation_id, kind, actor_id, data, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Uuid::now_v7())
        .bind(conv.0)
        .bind(kind.as_str())
        .bind(actor.map(|a| a.0))
        .bind(data.to_string())
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn load_contact(conn: &mut sqlx::PgConnection, id: ContactId) -> Result<Option<Contact>> {
    let mut id = id;
    for _ in 0..16 {
        let Some(row) = sqlx::query("SELECT name, email, merged_into, created_at FROM contacts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        if let Some(m) = row.try_get::<Option<Uuid>, _>("merged_into")? {
            id = ContactId(m);
            continue;
        }
        let identities = sqlx::query(
            "SELECT channel, provider_user_id, handle, display_name FROM contact_identities WHERE contact_id = $1 ORDER BY created_at, channel",
        )
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ChannelIdentity {
                channel: slug(r, "channel")?,
                provider_user_id: r.try_get("provider_user_id")?,
                handle: r.try_get("handle")?,
                display_name: r.try_get("display_name")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        return Ok(Some(Contact {
            id,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            created_at: row.try_get("created_at")?,
            identities,
        }));
    }
    Err(StoreError::Backend("contact merge chain too long".into()))
}

/// The message of an outbox row still leased for `attempt` (the row stays locked until commit).
async fn leased_message(tx: &mut Tx<'_>, id: OutboxId, attempt: i32) -> Result<Uuid> {
    let row = sqlx::query("SELECT message_id, state, attempts FROM outbox WHERE id = $1 FOR UPDATE")
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("outbox row"))?;
    let (state, attempts): (String, i32) = (row.try_get("state")?, row.try_get("attempts")?);
    if state == "sending" && attempts == attempt { Ok(row.try_get("message_id")?) } else { Err(crate::lease_lost(id)) }
}

async fn fail_outbox_tx(tx: &mut Tx<'_>, id: OutboxId, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<()> {
    match retry_at {
        Some(at) => {
            sqlx::query("UPDATE outbox SET state = 'pending', lease_until = NULL, next_attempt_at = $2, last_error = $3 WHERE id = $1")
                .bind(id.0)
                .bind(at)
                .bind(error)
                .execute(&mut **tx)
                .await?;
        }
        None => {
            sqlx::query("UPDATE outbox SET state = 'failed', lease_until = NULL, last_error = $2 WHERE id = $1")
                .bind(id.0)
                .bind(error)
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE messages SET delivery_status = 'failed', failure_reason = $2 WHERE id = (SELECT message_id FROM outbox WHERE id = $1)")
                .bind(id.0)
                .bind(error)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

impl PgStore {
    /// Connects and runs pending migrations (serialised across nodes by an advisory lock).
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(2))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await?;
        let store = Self { pool, search: opts.inbox_search };
        store.migrate().await?;
        Ok(store)
    }

    /// The connection pool, for LISTEN/NOTIFY and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(7263001)").execute(&mut *conn).await?;
        let result = async {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
            )
            .await?;
            for m in migrations::POSTGRES {
                let done: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = $1)")
                    .bind(m.version)
                    .fetch_one(&mut *conn)
                    .await?;
                if done {
                    continue;
                }
                tracing::info!(version = m.version, name = m.name, "applying PostgreSQL migration");
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                tx.execute(m.sql).await?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())")
                    .bind(m.version)
                    .bind(m.name)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Ok::<(), StoreError>(())
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock(7263001)").execute(&mut *conn).await?;
        result
    }
}

/// Moves `other`'s identities and conversations to `keep` and marks `other` merged, inside the
/// caller's transaction.
pub(crate) async fn merge_contacts_tx(tx: &mut Tx<'_>, keep: ContactId, other: ContactId) -> Result<Contact> {
    // Merges are rare: run them one at a time across nodes. Concurrent merge(A<-B) and
    // merge(B<-A) would otherwise make a cycle.
    sqlx::query("SELECT pg_advisory_xact_lock(7263002)").execute(&mut **tx).await?;
    let k = load_contact(tx, keep).await?.ok_or(StoreError::NotFound("contact"))?;
    let o = load_contact(tx, other).await?.ok_or(StoreError::NotFound("contact"))?;
    if k.id == o.id {
        return Err(StoreError::Invalid("cannot merge a contact into itself".into()));
    }
    sqlx::query("UPDATE contact_identities SET contact_id = $1 WHERE contact_id = $2")
        .bind(k.id.0)
        .bind(o.id.0)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE conversations SET contact_id = $1 WHERE contact_id = $2")
        .bind(k.id.0)
        .bind(o.id.0)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE contacts SET name = COALESCE(name, $2), email = COALESCE(email, $3) WHERE id = $1")
        .bind(k.id.0)
        .bind(&o.name)
        .bind(&o.email)
        .execute(&mut **tx)
        .await?;
    // Contacts merged into `o` earlier now point at the survivor directly: chains stay one hop.
    sqlx::query("UPDATE contacts SET merged_into = $1 WHERE id = $2 OR merged_into = $2")
        .bind(k.id.0)
        .bind(o.id.0)
        .execute(&mut **tx)
        .await?;
    load_contact(tx, k.id).await?.ok_or(StoreError::NotFound("contact"))
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn postgres_pool(&self) -> Option<PgPool> {
        Some(self.pool.clone())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn upsert_channel(&self, ch: &ChannelRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO channels (slug, kind, name, callback_url, secret, config, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (slug) DO UPDATE SET kind = excluded.kind, name = excluded.name, callback_url = excluded.callback_url, \
             secret = excluded.secret, config = excluded.config",
        )
        .bind(ch.slug.as_str())
        .bind(ch.kind.as_str())
        .bind(&ch.name)
        .bind(&ch.callback_url)
        .bind(&ch.secret)
        .bind(ch.config.to_string())
        .bind(ch.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_channel(&self, slug: &ChannelSlug) -> Result<Option<ChannelRecord>> {
        sqlx::query(&format!("SELECT {CHANNEL_COLS} FROM channels WHERE slug = $1"))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(channel_from_row)
            .transpose()
    }

    async fn list_channels(&self) -> Result<Vec<ChannelRecord>> {
        sqlx::query(&format!("SELECT {CHANNEL_COLS} FROM channels ORDER BY slug"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(channel_from_row)
            .collect()
    }

    async fn create_user(&self, u: &NewUser) -> Result<User> {
        let email = u.email.trim().to_lowercase();
        let row = sqlx::query(&format!(
            "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, now()) \
             ON CONFLICT (email) DO NOTHING RETURNING {USER_COLS}"
        ))
        .bind(Uuid::now_v7())
        .bind(&email)
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(&u.password_hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => user_from_row(&r),
            None => Err(StoreError::Conflict(format!("a user with email {email} exists"))),
        }
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE email = $1"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        sqlx::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        sqlx::query(&format!("SELECT {USER_COLS} FROM users ORDER BY email"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn create_api_token(&self, user_id: UserId, name: &str, token_hash: &str) -> Result<ApiToken> {
        if self.get_user(user_id).await?.is_none() {
            return Err(StoreError::NotFound("user"));
        }
        let t = ApiToken { id: Uuid::now_v7(), user_id, name: name.to_owned(), created_at: Utc::now() };
        sqlx::query("INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(t.id)
            .bind(user_id.0)
            .bind(&t.name)
            .bind(token_hash)
            .bind(t.created_at)
            .execute(&self.pool)
            .await?;
        Ok(t)
    }

    async fn find_api_token(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>> {
        let Some(r) = sqlx::query(
            "SELECT t.id AS token_id, t.name AS token_name, t.created_at AS token_created_at, u.id, u.email, u.name, u.role, u.password_hash, u.disabled, u.created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let user = user_from_row(&r)?;
        let token = ApiToken {
            id: r.try_get("token_id")?,
            user_id: user.id,
            name: r.try_get("token_name")?,
            created_at: r.try_get("token_created_at")?,
        };
        Ok(Some((token, user)))
    }

    async fn append_inbound(&self, events: Vec<InboundEvent>) -> Result<Vec<IngestAck>> {
        let n = events.len();
        let mut ids = Vec::with_capacity(n);
        let mut channels = Vec::with_capacity(n);
        let mut pids = Vec::with_capacity(n);
        let mut mids = Vec::with_capacity(n);
        let mut payloads = Vec::with_capacity(n);
        for e in &events {
            ids.push(Uuid::now_v7());
            mids.push(Uuid::now_v7());
            channels.push(e.channel.as_str().to_owned());
            pids.push(e.provider_event_id.clone());
            payloads.push(serde_json::to_string(e)?);
        }
        // One statement: atomic and durable when it returns (synchronous_commit). A delete may
        // overtake its post (X): when the post's tombstone is already stored, its content is not
        // (`crate::x::DELETED_TEXT` instead, no attachments, no raw JSON).
        let inserted: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO inbound_events (id, channel, provider_event_id, message_id, payload, received_at) \
             SELECT t.id, t.channel, t.pid, t.mid, CASE WHEN d.tweet_id IS NULL THEN t.payload \
             ELSE ((t.payload::jsonb || jsonb_build_object('text', $6::text, 'attachments', '[]'::jsonb)) #- '{extra,raw}')::text END, \
             now() FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[]) \
             WITH ORDINALITY AS t(id, channel, pid, mid, payload, ord) \
             LEFT JOIN x_deleted_posts d ON d.channel = t.channel AND d.tweet_id = t.pid ORDER BY t.ord \
             ON CONFLICT (channel, provider_event_id) DO NOTHING RETURNING id",
        )
        .bind(&ids)
        .bind(&channels)
        .bind(&pids)
        .bind(&mids)
        .bind(&payloads)
        .bind(crate::x::DELETED_TEXT)
        .fetch_all(&self.pool)
        .await?;
        let inserted: std::collections::HashSet<Uuid> = inserted.into_iter().collect();
        let mut existing = std::collections::HashMap::new();
        if inserted.len() < n {
            let (mut ch, mut pi) = (Vec::new(), Vec::new());
            for i in 0..n {
                if !inserted.contains(&ids[i]) {
                    ch.push(channels[i].clone());
                    pi.push(pids[i].clone());
                }
            }
            let rows = sqlx::query(
                "SELECT e.channel, e.provider_event_id, e.id, e.message_id FROM inbound_events e \
                 JOIN UNNEST($1::text[], $2::text[]) AS k(channel, pid) ON e.channel = k.channel AND e.provider_event_id = k.pid",
            )
            .bind(&ch)
            .bind(&pi)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let key: (String, String) = (r.try_get("channel")?, r.try_get("provider_event_id")?);
                existing.insert(key, (EventId(r.try_get("id")?), MessageId(r.try_get("message_id")?)));
            }
        }
        (0..n)
            .map(|i| {
                if inserted.contains(&ids[i]) {
                    Ok(IngestAck { event_id: EventId(ids[i]), message_id: MessageId(mids[i]), duplicate: false })
                } else {
                    let (event_id, message_id) = existing
                        .get(&(channels[i].clone(), pids[i].clone()))
                        .copied()
                        .ok_or_else(|| StoreError::Backend("duplicate event vanished".into()))?;
                    Ok(IngestAck { event_id, message_id, duplicate: true })
                }
            })
            .collect()
    }

    async fn unprocessed_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLS} FROM inbound_events WHERE processed_at IS NULL ORDER BY seq LIMIT $1"
        ))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn thread_events(&self, events: Vec<StoredEvent>, rules: ThreadingRules) -> Result<Vec<ThreadOutcome>> {
        let mut tx = self.pool.begin().await?;
        let out = threading::thread_batch(&mut tx, &events, rules, Utc::now()).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn pipeline_backlog(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM inbound_events WHERE processed_at IS NULL")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn get_event(&self, id: EventId) -> Result<Option<StoredEvent>> {
        sqlx::query(&format!("SELECT {EVENT_COLS} FROM inbound_events WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(event_from_row)
            .transpose()
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> Result<Page<ConversationSummary>> {
        let mut qb = sqlx::QueryBuilder::<Postgres>::new(format!(
            "SELECT {CONV_COLS}, (SELECT name FROM contacts WHERE id = c.contact_id) AS contact_name FROM conversations c WHERE TRUE"
        ));
        if let Some(s) = f.status {
            qb.push(" AND c.status = ").push_bind(s.as_str());
        }
        if let Some(ch) = &f.channel {
            qb.push(" AND c.channel = ").push_bind(ch.as_str().to_owned());
        }
        match f.assignee {
            Some(Some(u)) => {
                qb.push(" AND c.assignee_id = ").push_bind(u.0);
            }
            Some(None) => {
                qb.push(" AND c.assignee_id IS NULL");
            }
            None => {}
        }
        if let Some(t) = &f.team {
            qb.push(" AND c.team = ").push_bind(t.clone());
        }
        if let Some(p) = f.priority {
            qb.push(" AND c.priority = ").push_bind(p.as_str());
        }
        if let Some(ct) = f.contact {
            qb.push(" AND c.contact_id = ").push_bind(ct.0);
        }
        if let Some(q) = f.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            if let Ok(case) = CaseNumber::parse(q) {
                qb.push(" AND c.case_number = ").push_bind(case.0);
            } else {
                // The inbox's planned search.
                let plan = search::TextPlan::count(&self.pool, q, self.search).await?;
                if plan.is_empty() {
                    return Ok(Page { items: Vec::new(), next_cursor: None });
                }
                plan.push(&mut qb, q);
            }
        }
        if let Some(cur) = &f.cursor {
            let (t, id) = decode_cursor(cur)?;
            qb.push(" AND (c.last_message_at, c.id) < (").push_bind(t).push(", ").push_bind(id).push(")");
        }
        let limit = page_limit(f.limit);
        qb.push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ").push_bind(limit as i64 + 1);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok(ConversationSummary { conversation: conv_from_row(r)?, contact_name: r.try_get("contact_name")? })
            })
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|s| encode_cursor(s.conversation.last_message_at, s.conversation.id.0))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn get_conversation(&self, id: ConversationId) -> Result<Option<Conversation>> {
        get_conversation(&self.pool, id).await
    }

    async fn get_conversation_by_case(&self, case: CaseNumber) -> Result<Option<Conversation>> {
        sqlx::query(&format!("SELECT {CONV_COLS} FROM conversations c WHERE c.case_number = $1"))
            .bind(case.0)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(conv_from_row)
            .transpose()
    }

    async fn list_messages(&self, id: ConversationId) -> Result<Vec<Message>> {
        sqlx::query(&format!("SELECT {MSG_COLS} FROM messages WHERE conversation_id = $1 ORDER BY created_at, id"))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(msg_from_row)
            .collect()
    }

    async fn get_message(&self, id: MessageId) -> Result<Option<Message>> {
        sqlx::query(&format!("SELECT {MSG_COLS} FROM messages WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(msg_from_row)
            .transpose()
    }

    async fn list_facts(&self, id: ConversationId) -> Result<Vec<ConversationFact>> {
        sqlx::query(
            "SELECT kind, actor_id, data, at FROM conversation_facts WHERE conversation_id = $1 ORDER BY at, id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ConversationFact {
                kind: parse(r, "kind")?,
                actor_id: r.try_get::<Option<Uuid>, _>("actor_id")?.map(UserId),
                data: json(r, "data")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        p: &ConversationPatch,
        actor: Option<UserId>,
    ) -> Result<Conversation> {
        let now = crate::now_micros();
        let mut tx = self.pool.begin().await?;
        let cur = sqlx::query(&format!("SELECT {CONV_COLS} FROM conversations c WHERE c.id = $1 FOR UPDATE"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(conv_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound("conversation"))?;
        let plan = p.plan(&cur, actor, now)?;
        if let Some(uid) = plan.assign_to {
            let active: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM users WHERE id = $1 AND NOT disabled)")
                .bind(uid.0)
                .fetch_one(&mut *tx)
                .await?;
            if !active {
                return Err(StoreError::Invalid(format!("no active user {uid}")));
            }
        }
        let n = &plan.conversation;
        sqlx::query(
            "UPDATE conversations SET status = $2, resolved_at = $3, snoozed_until = $4, assignee_id = $5, priority = $6, \
             team = $7, tags = $8, updated_at = $9 WHERE id = $1",
        )
        .bind(id.0)
        .bind(n.status.as_str())
        .bind(n.resolved_at)
        .bind(n.snoozed_until)
        .bind(n.assignee_id.map(|u| u.0))
        .bind(n.priority.as_str())
        .bind(&n.team)
        .bind(serde_json::to_string(&n.tags)?)
        .bind(n.updated_at)
        .execute(&mut *tx)
        .await?;
        for (kind, data) in plan.facts {
            add_fact(&mut tx, id, kind, actor, data, now).await?;
        }
        tx.commit().await?;
        Ok(plan.conversation)
    }

    async fn post_message(&self, m: &NewMessage) -> Result<(Message, bool)> {
        let key = m.stored_key();
        let find_existing = |key: String| async move {
            let msg = sqlx::query(&format!("SELECT {MSG_COLS} FROM messages WHERE idempotency_key = $1"))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(msg_from_row)
                .transpose()?;
            Ok::<_, StoreError>(msg)
        };
        if let Some(key) = &key
            && let Some(msg) = find_existing(key.clone()).await?
        {
            return m.replay(msg);
        }
        let mut tx = self.pool.begin().await?;
        let conv = sqlx::query(&format!("SELECT {CONV_COLS} FROM conversations c WHERE c.id = $1 FOR UPDATE"))
            .bind(m.conversation_id.0)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(conv_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound("conversation"))?;
        let (direction, visibility, delivery) = m.shape(&conv)?;
        let id = MessageId::new();
        let row = sqlx::query(&format!(
            "INSERT INTO messages (id, conversation_id, direction, visibility, author_id, text, attachments, delivery_status, idempotency_key, sent_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, '[]', $7, $8, $9, $9) ON CONFLICT (idempotency_key) DO NOTHING RETURNING {MSG_COLS}"
        ))
        .bind(id.0)
        .bind(m.conversation_id.0)
        .bind(direction.as_str())
        .bind(visibility.as_str())
        .bind(m.author_id.0)
        .bind(&m.text)
        .bind(delivery.map(|d| d.as_str()))
        .bind(&key)
        .bind(m.at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // A concurrent request with the same key won the race.
            tx.rollback().await?;
            let key = key.ok_or_else(|| StoreError::Backend("message insert ignored without a key".into()))?;
            let msg =
                find_existing(key).await?.ok_or_else(|| StoreError::Backend("idempotent message vanished".into()))?;
            return m.replay(msg);
        };
        let msg = msg_from_row(&row)?;
        if m.kind == MessageKind::Reply {
            sqlx::query("INSERT INTO outbox (id, message_id, channel, state, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)")
                .bind(OutboxId::new().0)
                .bind(id.0)
                .bind(conv.channel.as_str())
                .bind(m.at)
                .execute(&mut *tx)
                .await?;
            if conv.first_response_at.is_none() {
                sqlx::query("UPDATE conversations SET first_response_at = $2 WHERE id = $1")
                    .bind(conv.id.0)
                    .bind(m.at)
                    .execute(&mut *tx)
                    .await?;
                add_fact(
                    &mut tx,
                    conv.id,
                    FactKind::FirstResponse,
                    Some(m.author_id),
                    serde_json::json!({"message_id": id}),
                    m.at,
                )
                .await?;
            }
            sqlx::query("UPDATE conversations SET last_message_at = $2, updated_at = $2 WHERE id = $1")
                .bind(conv.id.0)
                .bind(m.at)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
                .bind(conv.id.0)
                .bind(m.at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((msg, true))
    }

    async fn list_contacts(&self, query: Option<&str>, cursor: Option<&str>, limit: u32) -> Result<Page<Contact>> {
        let query = query.map(|q| like_pattern(q.trim()));
        let cursor = cursor.map(decode_cursor).transpose()?;
        let limit = page_limit(limit);
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT k.id FROM contacts k WHERE k.merged_into IS NULL \
             AND ($1::text IS NULL OR k.name ILIKE $1 OR k.email ILIKE $1 \
                  OR EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = k.id AND (i.handle ILIKE $1 OR i.display_name ILIKE $1))) \
             AND ($2::timestamptz IS NULL OR (k.created_at, k.id) < ($2, $3)) \
             ORDER BY k.created_at DESC, k.id DESC LIMIT $4",
        )
        .bind(query)
        .bind(cursor.map(|(t, _)| t))
        .bind(cursor.map(|(_, id)| id))
        .bind(limit as i64 + 1)
        .fetch_all(&mut *conn)
        .await?;
        let more = ids.len() > limit as usize;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids.iter().take(limit as usize) {
            if let Some(ct) = load_contact(&mut conn, ContactId(*id)).await? {
                items.push(ct);
            }
        }
        let next_cursor = if more { items.last().map(|ct| encode_cursor(ct.created_at, ct.id.0)) } else { None };
        Ok(Page { items, next_cursor })
    }

    async fn get_contact(&self, id: ContactId) -> Result<Option<Contact>> {
        let mut conn = self.pool.acquire().await?;
        load_contact(&mut conn, id).await
    }

    async fn update_contact(&self, id: ContactId, name: Option<&str>, email: Option<&str>) -> Result<Contact> {
        let mut tx = self.pool.begin().await?;
        let ct = load_contact(&mut tx, id).await?.ok_or(StoreError::NotFound("contact"))?;
        sqlx::query("UPDATE contacts SET name = COALESCE($2, name), email = COALESCE($3, email) WHERE id = $1")
            .bind(ct.id.0)
            .bind(name)
            .bind(email)
            .execute(&mut *tx)
            .await?;
        let ct = load_contact(&mut tx, ct.id).await?.ok_or(StoreError::NotFound("contact"))?;
        tx.commit().await?;
        Ok(ct)
    }

    async fn merge_contacts(&self, keep: ContactId, other: ContactId) -> Result<Contact> {
        let mut tx = self.pool.begin().await?;
        let ct = merge_contacts_tx(&mut tx, keep, other).await?;
        tx.commit().await?;
        Ok(ct)
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "WITH due AS (SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= $1 \
                AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox o SET state = 'sending', lease_until = $2, attempts = o.attempts + 1 FROM due WHERE o.id = due.id RETURNING o.id",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let rows = sqlx::query(
            "SELECT o.id AS outbox_id, o.attempts, m.id AS message_id, c.id AS conversation_id, c.case_number, c.thread_key, \
             m.visibility, m.text, m.created_at AS message_created_at, \
             (SELECT i.provider_user_id FROM contact_identities i WHERE i.contact_id = c.contact_id AND i.channel = c.channel ORDER BY i.created_at LIMIT 1) AS recipient, \
             ch.slug, ch.kind, ch.name, ch.callback_url, ch.secret, ch.config, ch.created_at \
             FROM outbox o JOIN messages m ON m.id = o.message_id JOIN conversations c ON c.id = m.conversation_id \
             JOIN channels ch ON ch.slug = o.channel WHERE o.id = ANY($1) ORDER BY o.next_attempt_at",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            items.push(OutboxItem {
                id: OutboxId(r.try_get("outbox_id")?),
                attempts: r.try_get("attempts")?,
                message_id: MessageId(r.try_get("message_id")?),
                conversation_id: ConversationId(r.try_get("conversation_id")?),
                case_number: CaseNumber(r.try_get("case_number")?),
                thread_key: r.try_get("thread_key")?,
                visibility: parse(r, "visibility")?,
                text: r.try_get("text")?,
                created_at: r.try_get("message_created_at")?,
                recipient: r.try_get::<Option<String>, _>("recipient")?.unwrap_or_default(),
                channel: channel_from_row(r)?,
            });
        }
        for id in &ids {
            if !items.iter().any(|i| i.id.0 == *id) {
                fail_outbox_tx(&mut tx, OutboxId(*id), "channel no longer exists", None).await?;
            }
        }
        tx.commit().await?;
        Ok(items)
    }

    async fn complete_outbox(
        &self,
        id: OutboxId,
        attempt: i32,
        provider_message_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let mid = leased_message(&mut tx, id, attempt).await?;
        sqlx::query(
            "UPDATE outbox SET state = 'sent', lease_until = NULL, sent_at = $2, last_error = NULL WHERE id = $1",
        )
        .bind(id.0)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE messages SET provider_message_id = $2, delivery_status = CASE WHEN delivery_status IN ('queued', 'failed') THEN 'sent' ELSE delivery_status END, \
             failure_reason = NULL WHERE id = $1",
        )
        .bind(mid)
        .bind(provider_message_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fail_outbox(
        &self,
        id: OutboxId,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        leased_message(&mut tx, id, attempt).await?;
        fail_outbox_tx(&mut tx, id, error, retry_at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_backlog(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn wake_snoozed(&self, now: DateTime<Utc>) -> Result<Vec<(ConversationId, CaseNumber)>> {
        let mut tx = self.pool.begin().await?;
        // Row locks make the UPDATE claim each conversation once, even with several nodes.
        let rows = sqlx::query(
            "UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = $1 \
             WHERE status = 'snoozed' AND snoozed_until <= $1 RETURNING id, case_number",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut woken = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = ConversationId(r.try_get("id")?);
            add_fact(
                &mut tx,
                id,
                FactKind::StatusChanged,
                None,
                serde_json::json!({"from": "snoozed", "to": "open", "by": "snooze"}),
                now,
            )
            .await?;
            woken.push((id, CaseNumber(r.try_get("case_number")?)));
        }
        tx.commit().await?;
        Ok(woken)
    }

    async fn record_delivery(
        &self,
        channel: &ChannelSlug,
        provider_message_id: &str,
        status: DeliveryStatus,
        reason: Option<&str>,
    ) -> Result<Option<Message>> {
        let mut tx = self.pool.begin().await?;
        let cols = crate::qualified(MSG_COLS, "m");
        let found = sqlx::query(&format!(
            "SELECT {cols} FROM messages m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.provider_message_id = $1 AND c.channel = $2 AND m.direction = 'outbound' FOR UPDATE OF m"
        ))
        .bind(provider_message_id)
        .bind(channel.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(msg_from_row)
        .transpose()?;
        let Some(msg) = found else { return Ok(None) };
        let current = msg.delivery_status.unwrap_or(DeliveryStatus::Queued);
        if !current.should_advance_to(status) {
            return Ok(Some(msg));
        }
        let reason = if status == DeliveryStatus::Failed { reason } else { None };
        let row = sqlx::query(&format!(
            "UPDATE messages SET delivery_status = $2, failure_reason = $3 WHERE id = $1 RETURNING {MSG_COLS}"
        ))
        .bind(msg.id.0)
        .bind(status.as_str())
        .bind(reason)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(msg_from_row(&row)?))
    }
}

/// Sends each of `payloads`, in order, to every session listening on `channel`: one statement.
pub async fn notify_all(pool: &PgPool, channel: &str, payloads: &[String]) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, p) FROM UNNEST($2::text[]) WITH ORDINALITY AS t(p, ord) ORDER BY ord")
        .bind(channel)
        .bind(payloads)
        .execute(pool)
        .await?;
    Ok(())
}

/// A dedicated LISTEN connection.
pub struct Listener(sqlx::postgres::PgListener);

impl Listener {
    /// Waits for the next notification's payload.
    pub async fn recv(&mut self) -> Result<String> {
        Ok(self.0.recv().await?.payload().to_owned())
    }
}

/// Opens a LISTEN connection on `channel`.
pub async fn listen(pool: &PgPool, channel: &str) -> Result<Listener> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen(channel).await?;
    Ok(Listener(l))
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part_end = base[scheme_end..].find('/').map(|i| scheme_end + i).unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..host_part_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Creates a scratch database `prefix_<random>` on the server of `admin_url` and returns its URL.
pub async fn create_scratch_database(admin_url: &str, prefix: &str) -> Result<(String, String)> {
    let name = format!("{prefix}_{}", Uuid::now_v7().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    Ok((with_database(admin_url, &name), name))
}

/// Drops a scratch database made by [`create_scratch_database`].
pub async fn drop_scratch_database(admin_url: &str, name: &str) -> Result<()> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::Invalid(format!("refusing to drop {name:?}")));
    }
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await?;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h/test?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
