//! `QualityStore::import_history` on PostgreSQL: one `INSERT … SELECT FROM UNNEST(…)` per table
//! for the whole batch instead of a statement per row, so the bench's generator can write
//! millions of messages in minutes (a round trip per row would take the better part of an hour).

use chrono::{DateTime, Utc};
use switchboard_domain::{Direction, FactKind, MessageId};
use uuid::Uuid;

use crate::Result;
use crate::quality::{HistoryConversation, is_person};

type Ts = DateTime<Utc>;

#[derive(Default)]
struct Conversations {
    id: Vec<Uuid>,
    case_number: Vec<i64>,
    channel: Vec<String>,
    thread_key: Vec<String>,
    contact: Vec<Uuid>,
    status: Vec<String>,
    priority: Vec<String>,
    team: Vec<Option<String>>,
    assignee: Vec<Option<Uuid>>,
    created: Vec<Ts>,
    last: Vec<Ts>,
    first_response: Vec<Option<Ts>>,
    resolved: Vec<Option<Ts>>,
    reopens: Vec<i32>,
    repeat_of: Vec<Option<Uuid>>,
}

#[derive(Default)]
struct Facts {
    id: Vec<Uuid>,
    conversation: Vec<Uuid>,
    kind: Vec<String>,
    data: Vec<String>,
    at: Vec<Ts>,
}

#[derive(Default)]
struct Messages {
    id: Vec<Uuid>,
    conversation: Vec<Uuid>,
    direction: Vec<String>,
    visibility: Vec<String>,
    author: Vec<Option<Uuid>>,
    text: Vec<String>,
    at: Vec<Ts>,
}

#[derive(Default)]
struct Triage {
    message: Vec<Uuid>,
    conversation: Vec<Uuid>,
    language: Vec<String>,
    sentiment: Vec<String>,
    intent: Vec<String>,
    at: Vec<Ts>,
}

#[derive(Default)]
struct Clocks {
    conversation: Vec<Uuid>,
    at: Vec<Ts>,
    clocks: Vec<String>,
}

#[derive(Default)]
struct BotOutcomes {
    id: Vec<Uuid>,
    conversation: Vec<Uuid>,
    message: Vec<Uuid>,
    channel: Vec<String>,
    outcome: Vec<String>,
    at: Vec<Ts>,
}

#[derive(Default)]
struct Answers {
    id: Vec<Uuid>,
    conversation: Vec<Uuid>,
    contact: Vec<Uuid>,
    channel: Vec<String>,
    kind: Vec<String>,
    agent: Vec<Option<Uuid>>,
    team: Vec<Option<String>>,
    score: Vec<i32>,
    at: Vec<Ts>,
}

/// Writes `convs` as given, in one transaction (the same rows the per-row SQLite import writes).
pub(super) async fn import_history(pool: &sqlx::PgPool, convs: &[HistoryConversation]) -> Result<()> {
    let (mut contacts, mut contact_at) = (Vec::new(), Vec::new());
    let mut c = Conversations::default();
    let mut f = Facts::default();
    let mut m = Messages::default();
    let mut t = Triage::default();
    let mut k = Clocks::default();
    let mut b = BotOutcomes::default();
    let mut a = Answers::default();
    for h in convs {
        contacts.push(h.contact_id.0);
        contact_at.push(h.created_at);
        let last = h.messages.last().map_or(h.created_at, |m| m.at);
        let first_response = h
            .messages
            .iter()
            .find(|m| m.direction == Direction::Outbound && m.author_id.is_some_and(|a| is_person(a.0)))
            .map(|m| m.at);
        c.id.push(h.id.0);
        c.case_number.push(h.case_number);
        c.channel.push(h.channel.clone());
        c.thread_key.push(format!("import:{}", h.id.0));
        c.contact.push(h.contact_id.0);
        c.status.push(h.status.as_str().to_owned());
        c.priority.push(h.priority.as_str().to_owned());
        c.team.push(h.team.clone());
        c.assignee.push(h.assignee_id.map(|u| u.0));
        c.created.push(h.created_at);
        c.last.push(last);
        c.first_response.push(first_response);
        c.resolved.push(h.resolved_at);
        c.reopens.push(h.reopen_count);
        c.repeat_of.push(h.repeat_of.map(|r| r.0));
        let created = serde_json::json!({"channel": h.channel, "imported": true}).to_string();
        for (kind, data, at) in std::iter::once((FactKind::Created, created, h.created_at))
            .chain(h.escalations.iter().map(|&at| (FactKind::SlaEscalated, r#"{"imported":true}"#.to_owned(), at)))
        {
            f.id.push(Uuid::now_v7());
            f.conversation.push(h.id.0);
            f.kind.push(kind.as_str().to_owned());
            f.data.push(data);
            f.at.push(at);
        }
        for msg in &h.messages {
            let id = MessageId::new().0;
            m.id.push(id);
            m.conversation.push(h.id.0);
            m.direction.push(msg.direction.as_str().to_owned());
            m.visibility.push(if msg.direction == Direction::Note { "private" } else { "public" }.to_owned());
            m.author.push(msg.author_id.map(|u| u.0));
            m.text.push(msg.text.clone());
            m.at.push(msg.at);
            if let Some((lang, intent, sentiment)) = &msg.triage {
                t.message.push(id);
                t.conversation.push(h.id.0);
                t.language.push(lang.clone());
                t.sentiment.push(sentiment.clone());
                t.intent.push(intent.clone());
                t.at.push(msg.at);
            }
        }
        if !h.clocks.is_empty() {
            k.conversation.push(h.id.0);
            k.at.push(last);
            k.clocks.push(serde_json::to_string(&h.clocks)?);
        }
        for (kind, at) in &h.bot_outcomes {
            b.id.push(Uuid::now_v7());
            b.conversation.push(h.id.0);
            b.message.push(Uuid::now_v7());
            b.channel.push(h.channel.clone());
            b.outcome.push(kind.as_str().to_owned());
            b.at.push(*at);
        }
        for (kind, score, at) in &h.answers {
            a.id.push(Uuid::now_v7());
            a.conversation.push(h.id.0);
            a.contact.push(h.contact_id.0);
            a.channel.push(h.channel.clone());
            a.kind.push(kind.as_str().to_owned());
            a.agent.push(h.assignee_id.map(|u| u.0));
            a.team.push(h.team.clone());
            a.score.push(*score);
            a.at.push(*at);
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO contacts (id, created_at) SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[]) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&contacts)
    .bind(&contact_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO conversations (id, case_number, channel, thread_key, contact_id, status, priority, team, \
         assignee_id, tags, created_at, updated_at, last_message_at, first_response_at, resolved_at, reopen_count, \
         repeat_of) \
         SELECT u.id, u.n, u.ch, u.tk, u.ct, u.st, u.pr, u.tm, u.asg, '[]', u.cr, u.la, u.la, u.fr, u.rs, u.ro, u.rp \
         FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], \
           $8::text[], $9::uuid[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], \
           $14::int[], $15::uuid[]) AS u(id, n, ch, tk, ct, st, pr, tm, asg, cr, la, fr, rs, ro, rp)",
    )
    .bind(&c.id)
    .bind(&c.case_number)
    .bind(&c.channel)
    .bind(&c.thread_key)
    .bind(&c.contact)
    .bind(&c.status)
    .bind(&c.priority)
    .bind(&c.team)
    .bind(&c.assignee)
    .bind(&c.created)
    .bind(&c.last)
    .bind(&c.first_response)
    .bind(&c.resolved)
    .bind(&c.reopens)
    .bind(&c.repeat_of)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO conversation_facts (id, conversation_id, kind, data, at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])",
    )
    .bind(&f.id)
    .bind(&f.conversation)
    .bind(&f.kind)
    .bind(&f.data)
    .bind(&f.at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, direction, visibility, author_id, text, attachments, sent_at, \
         created_at) SELECT u.id, u.c, u.d, u.v, u.a, u.t, '[]', u.at, u.at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::timestamptz[]) \
         AS u(id, c, d, v, a, t, at)",
    )
    .bind(&m.id)
    .bind(&m.conversation)
    .bind(&m.direction)
    .bind(&m.visibility)
    .bind(&m.author)
    .bind(&m.text)
    .bind(&m.at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO message_triage (message_id, conversation_id, language, language_confidence, sentiment, \
         sentiment_score, intent, intent_confidence, priority, priority_reasons, pii, redacted_text, created_at) \
         SELECT u.m, u.c, u.l, 1.0, u.s, 0.0, u.i, 1.0, 'P3', '[]', '[]', '', u.at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) \
         AS u(m, c, l, s, i, at)",
    )
    .bind(&t.message)
    .bind(&t.conversation)
    .bind(&t.language)
    .bind(&t.sentiment)
    .bind(&t.intent)
    .bind(&t.at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO routing_state (conversation_id, synced_at, seen_message_at, clocks) \
         SELECT u.c, u.at, u.at, u.k FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[]) AS u(c, at, k)",
    )
    .bind(&k.conversation)
    .bind(&k.at)
    .bind(&k.clocks)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO bot_outcomes (id, conversation_id, message_id, channel_slug, outcome, reason, created_at) \
         SELECT u.id, u.c, u.m, u.ch, u.o, 'import', u.at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[]) \
         AS u(id, c, m, ch, o, at)",
    )
    .bind(&b.id)
    .bind(&b.conversation)
    .bind(&b.message)
    .bind(&b.channel)
    .bind(&b.outcome)
    .bind(&b.at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO surveys (id, conversation_id, contact_id, channel, kind, state, agent_id, team, score, \
         answered_via, created_at, sent_at, answered_at) \
         SELECT u.id, u.c, u.ct, u.ch, u.k, 'answered', u.ag, u.tm, u.sc, 'import', u.at, u.at, u.at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $7::text[], \
           $8::int[], $9::timestamptz[]) AS u(id, c, ct, ch, k, ag, tm, sc, at)",
    )
    .bind(&a.id)
    .bind(&a.conversation)
    .bind(&a.contact)
    .bind(&a.channel)
    .bind(&a.kind)
    .bind(&a.agent)
    .bind(&a.team)
    .bind(&a.score)
    .bind(&a.at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
