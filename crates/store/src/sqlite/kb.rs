//! [`KbStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::{ConversationId, MessageId, UserId};
use uuid::Uuid;

use super::{SqliteStore, from_ts, json_col, ts};
use crate::kb::{
    Article, ArticleId, ArticleInput, ArticleStatus, ArticleVersion, BotOutcome, BotOutcomeCounts, BotOutcomeKind,
    KbStore, Translation, VoteTally,
};
use crate::{Result, StoreError, now_micros};

/// The inbound event of a message, for its pressed button (index `inbound_events_message`).
const BUTTON_DATA: &str = "SELECT payload FROM inbound_events WHERE message_id = ?1";

const ARTICLE_COLS: &str = "id, slug, category, tags, intents, created_at, updated_at";

fn status_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<ArticleStatus> {
    let s: String = r.get(idx)?;
    ArticleStatus::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, format!("status {s}").into())
    })
}

fn article_from_row(r: &Row<'_>) -> rusqlite::Result<Article> {
    Ok(Article {
        id: ArticleId(r.get(0)?),
        slug: r.get(1)?,
        category: r.get(2)?,
        tags: json_col(r, 3)?,
        intents: json_col(r, 4)?,
        translations: Vec::new(),
        created_at: from_ts(r.get(5)?),
        updated_at: from_ts(r.get(6)?),
    })
}

fn translation_from_row(r: &Row<'_>) -> rusqlite::Result<(Uuid, Translation)> {
    Ok((
        r.get(0)?,
        Translation {
            locale: r.get(1)?,
            title: r.get(2)?,
            body: r.get(3)?,
            status: status_col(r, 4)?,
            version: r.get(5)?,
            updated_at: from_ts(r.get(6)?),
        },
    ))
}

fn outcome_from_row(r: &Row<'_>) -> rusqlite::Result<BotOutcome> {
    let kind: String = r.get(4)?;
    Ok(BotOutcome {
        id: r.get(0)?,
        conversation_id: ConversationId(r.get(1)?),
        message_id: MessageId(r.get(2)?),
        channel_slug: r.get(3)?,
        outcome: BotOutcomeKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, format!("outcome {kind}").into())
        })?,
        reason: r.get(5)?,
        article_id: r.get::<_, Option<Uuid>>(6)?.map(ArticleId),
        created_at: from_ts(r.get(7)?),
    })
}

/// Loads articles matching `filter` (a WHERE clause on `a`) with their variants.
pub(super) fn load_articles(c: &Connection, filter: &str, arg: Option<&dyn rusqlite::ToSql>) -> Result<Vec<Article>> {
    let cols = crate::qualified(ARTICLE_COLS, "a");
    let mut st = c.prepare_cached(&format!("SELECT {cols} FROM kb_articles a {filter} ORDER BY a.slug"))?;
    let mut articles = match arg {
        Some(a) => st.query_map([a], article_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
        None => st.query_map([], article_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
    };
    let mut st = c.prepare_cached(&format!(
        "SELECT t.article_id, t.locale, t.title, t.body, t.status, t.version, t.updated_at \
         FROM kb_translations t JOIN kb_articles a ON a.id = t.article_id {filter} ORDER BY t.locale"
    ))?;
    let rows = match arg {
        Some(a) => st.query_map([a], translation_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
        None => st.query_map([], translation_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
    };
    let index: std::collections::HashMap<Uuid, usize> = articles.iter().enumerate().map(|(i, a)| (a.id.0, i)).collect();
    for (id, t) in rows {
        if let Some(&i) = index.get(&id) {
            articles[i].translations.push(t);
        }
    }
    Ok(articles)
}

#[async_trait]
impl KbStore for SqliteStore {
    async fn save_article(&self, input: &ArticleInput, by: Option<UserId>) -> Result<Article> {
        input.validate()?;
        let input = input.clone();
        self.conns
            .write(move |c| {
                let now = now_micros();
                let existing = load_articles(c, "WHERE a.slug = ?1", Some(&input.slug))?.into_iter().next();
                let id = match &existing {
                    Some(a) => {
                        c.execute(
                            "UPDATE kb_articles SET category = ?2, tags = ?3, intents = ?4, updated_at = ?5 WHERE id = ?1",
                            params![
                                a.id.0,
                                input.category,
                                serde_json::to_string(&input.tags)?,
                                serde_json::to_string(&input.intents)?,
                                ts(now)
                            ],
                        )?;
                        a.id
                    }
                    None => {
                        let id = ArticleId(Uuid::now_v7());
                        c.execute(
                            &format!("INSERT INTO kb_articles ({ARTICLE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"),
                            params![
                                id.0,
                                input.slug,
                                input.category,
                                serde_json::to_string(&input.tags)?,
                                serde_json::to_string(&input.intents)?,
                                ts(now)
                            ],
                        )?;
                        id
                    }
                };
                for t in &input.translations {
                    let old = existing.as_ref().and_then(|a| a.translation(&t.locale));
                    if old.is_some_and(|o| o.title == t.title && o.body == t.body && o.status == t.status) {
                        continue;
                    }
                    let version = old.map_or(1, |o| o.version + 1);
                    let locale = old.map_or(t.locale.as_str(), |o| o.locale.as_str());
                    c.execute(
                        "INSERT INTO kb_translations (article_id, locale, title, body, status, version, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (article_id, locale) DO UPDATE SET \
                         title = excluded.title, body = excluded.body, status = excluded.status, \
                         version = excluded.version, updated_at = excluded.updated_at",
                        params![id.0, locale, t.title, t.body, t.status.as_str(), version, ts(now)],
                    )?;
                    c.execute(
                        "INSERT INTO kb_versions (article_id, locale, version, title, body, status, edited_by, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![id.0, locale, version, t.title, t.body, t.status.as_str(), by.map(|u| u.0), ts(now)],
                    )?;
                }
                load_articles(c, "WHERE a.id = ?1", Some(&id.0))?.into_iter().next().ok_or(StoreError::NotFound("article"))
            })
            .await
    }

    async fn get_article(&self, id: ArticleId) -> Result<Option<Article>> {
        self.conns.read(move |c| Ok(load_articles(c, "WHERE a.id = ?1", Some(&id.0))?.into_iter().next())).await
    }

    async fn article_by_slug(&self, slug: &str) -> Result<Option<Article>> {
        let slug = slug.to_owned();
        self.conns.read(move |c| Ok(load_articles(c, "WHERE a.slug = ?1", Some(&slug))?.into_iter().next())).await
    }

    async fn list_articles(&self) -> Result<Vec<Article>> {
        self.conns.read(move |c| load_articles(c, "", None)).await
    }

    async fn article_history(&self, id: ArticleId) -> Result<Vec<ArticleVersion>> {
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT article_id, locale, version, title, body, status, edited_by, created_at FROM kb_versions \
                     WHERE article_id = ?1 ORDER BY created_at DESC, locale, version DESC",
                )?;
                let rows = st
                    .query_map([id.0], |r| {
                        Ok(ArticleVersion {
                            article_id: ArticleId(r.get(0)?),
                            locale: r.get(1)?,
                            version: r.get(2)?,
                            title: r.get(3)?,
                            body: r.get(4)?,
                            status: status_col(r, 5)?,
                            edited_by: r.get::<_, Option<Uuid>>(6)?.map(UserId),
                            created_at: from_ts(r.get(7)?),
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    async fn delete_article(&self, id: ArticleId) -> Result<()> {
        self.conns
            .write(move |c| {
                c.execute("DELETE FROM kb_votes WHERE article_id = ?1", [id.0])?;
                c.execute("DELETE FROM kb_versions WHERE article_id = ?1", [id.0])?;
                c.execute("DELETE FROM kb_translations WHERE article_id = ?1", [id.0])?;
                match c.execute("DELETE FROM kb_articles WHERE id = ?1", [id.0])? {
                    0 => Err(StoreError::NotFound("article")),
                    _ => Ok(()),
                }
            })
            .await
    }

    async fn record_kb_vote(&self, id: ArticleId, locale: &str, voter: &str, helpful: bool) -> Result<bool> {
        let (locale, voter) = (locale.to_owned(), voter.to_owned());
        self.conns
            .write(move |c| {
                let exists: bool =
                    c.query_row("SELECT EXISTS(SELECT 1 FROM kb_articles WHERE id = ?1)", [id.0], |r| r.get(0))?;
                if !exists {
                    return Err(StoreError::NotFound("article"));
                }
                let n = c.execute(
                    "INSERT INTO kb_votes (article_id, locale, voter, helpful, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT DO NOTHING",
                    params![id.0, locale, voter, helpful, ts(now_micros())],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn kb_votes(&self, id: ArticleId, locale: &str) -> Result<VoteTally> {
        let locale = locale.to_owned();
        self.conns
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) FROM kb_votes \
                     WHERE article_id = ?1 AND locale = ?2",
                    params![id.0, locale],
                    |r| Ok(VoteTally { helpful: r.get(0)?, not_helpful: r.get(1)? }),
                )?)
            })
            .await
    }

    async fn bot_settings(&self, channel: &str) -> Result<Option<serde_json::Value>> {
        let channel = channel.to_owned();
        self.conns
            .read(move |c| {
                let s: Option<String> = c
                    .query_row("SELECT settings FROM bot_settings WHERE channel_slug = ?1", [channel], |r| r.get(0))
                    .optional()?;
                Ok(s.map(|s| serde_json::from_str(&s)).transpose()?)
            })
            .await
    }

    async fn save_bot_settings(&self, channel: &str, settings: &serde_json::Value) -> Result<()> {
        let (channel, settings) = (channel.to_owned(), serde_json::to_string(settings)?);
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO bot_settings (channel_slug, settings, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (channel_slug) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
                    params![channel, settings, ts(now_micros())],
                )?;
                Ok(())
            })
            .await
    }

    async fn record_bot_outcome(&self, o: &BotOutcome) -> Result<bool> {
        let o = o.clone();
        self.conns
            .write(move |c| {
                let n = c.execute(
                    "INSERT INTO bot_outcomes (id, conversation_id, message_id, channel_slug, outcome, reason, article_id, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                    params![
                        o.id,
                        o.conversation_id.0,
                        o.message_id.0,
                        o.channel_slug,
                        o.outcome.as_str(),
                        o.reason,
                        o.article_id.map(|a| a.0),
                        ts(o.created_at)
                    ],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn bot_outcomes(&self, conversation: ConversationId) -> Result<Vec<BotOutcome>> {
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT id, conversation_id, message_id, channel_slug, outcome, reason, article_id, created_at \
                     FROM bot_outcomes WHERE conversation_id = ?1 ORDER BY created_at, id",
                )?;
                Ok(st.query_map([conversation.0], outcome_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }

    async fn bot_outcome_counts(&self, since: DateTime<Utc>) -> Result<BotOutcomeCounts> {
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT outcome, COUNT(*) FROM bot_outcomes WHERE created_at >= ?1 GROUP BY outcome",
                )?;
                let mut counts = BotOutcomeCounts::default();
                let rows = st
                    .query_map([ts(since)], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for (k, n) in rows {
                    match BotOutcomeKind::parse(&k) {
                        Some(BotOutcomeKind::Answered) => counts.answered = n,
                        Some(BotOutcomeKind::Helped) => counts.helped = n,
                        Some(BotOutcomeKind::NotHelped) => counts.not_helped = n,
                        Some(BotOutcomeKind::HandedOff) => counts.handed_off = n,
                        None => {}
                    }
                }
                Ok(counts)
            })
            .await
    }

    async fn bot_cursor(&self) -> Result<Option<MessageId>> {
        self.conns
            .read(move |c| {
                Ok(c.query_row("SELECT message_id FROM bot_cursor WHERE name = 'bot'", [], |r| r.get::<_, Uuid>(0))
                    .optional()?
                    .map(MessageId))
            })
            .await
    }

    async fn set_bot_cursor(&self, id: MessageId) -> Result<()> {
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO bot_cursor (name, message_id) VALUES ('bot', ?1) ON CONFLICT (name) DO UPDATE \
                     SET message_id = excluded.message_id WHERE excluded.message_id > bot_cursor.message_id",
                    [id.0],
                )?;
                Ok(())
            })
            .await
    }

    async fn message_button_data(&self, message: MessageId) -> Result<Option<String>> {
        self.conns
            .read(move |c| {
                let payload: Option<String> = c.query_row(BUTTON_DATA, [message.0], |r| r.get(0)).optional()?;
                Ok(payload.and_then(|p| button_data(&p)))
            })
            .await
    }

    async fn inbound_messages_after(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>> {
        let limit = limit.min(10_000) as i64;
        self.conns
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT id FROM messages WHERE id > ?1 AND direction = 'inbound' ORDER BY id LIMIT ?2",
                )?;
                Ok(st
                    .query_map(params![after.0, limit], |r| Ok(MessageId(r.get(0)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }
}

/// `extra.button_data` of a stored event payload (or, for a Telegram callback query stored before
/// channels normalised it, `extra.telegram.data`).
pub(crate) fn button_data(payload: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let extra = v.get("extra")?;
    extra
        .get("button_data")
        .or_else(|| extra.get("telegram").filter(|t| t.get("callback_query_id").is_some())?.get("data"))?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::BUTTON_DATA;

    /// The bot asks once per customer message: a scan of the whole event log would grow with it.
    #[test]
    fn the_button_data_lookup_searches_the_message_index() {
        let mut c = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        super::super::conn::migrate(&mut c).unwrap_or_else(|e| panic!("{e}"));
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {BUTTON_DATA}"))
            .and_then(|mut st| st.query_map([[0u8; 16]], |r| r.get::<_, String>(3))?.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(plan.iter().any(|p| p.contains("USING INDEX inbound_events_message")), "{plan:?}");
    }
}
