//! [`KbStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::{ConversationId, MessageId, UserId};
use uuid::Uuid;

use super::PgStore;
use crate::kb::{
    Article, ArticleId, ArticleInput, ArticleStatus, ArticleVersion, BotOutcome, BotOutcomeCounts, BotOutcomeKind,
    KbStore, Translation, VoteTally,
};
use crate::{Result, StoreError, now_micros};

const ARTICLE_COLS: &str = "id, slug, category, tags, intents, created_at, updated_at";

fn status(s: &str) -> Result<ArticleStatus> {
    ArticleStatus::parse(s).ok_or_else(|| StoreError::Backend(format!("stored article status {s}")))
}

fn article_from_row(r: &PgRow) -> Result<Article> {
    Ok(Article {
        id: ArticleId(r.try_get("id")?),
        slug: r.try_get("slug")?,
        category: r.try_get("category")?,
        tags: serde_json::from_value(r.try_get("tags")?)?,
        intents: serde_json::from_value(r.try_get("intents")?)?,
        translations: Vec::new(),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn outcome_from_row(r: &PgRow) -> Result<BotOutcome> {
    let kind: String = r.try_get("outcome")?;
    Ok(BotOutcome {
        id: r.try_get("id")?,
        conversation_id: ConversationId(r.try_get("conversation_id")?),
        message_id: MessageId(r.try_get("message_id")?),
        channel_slug: r.try_get("channel_slug")?,
        outcome: BotOutcomeKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("stored outcome {kind}")))?,
        reason: r.try_get("reason")?,
        article_id: r.try_get::<Option<Uuid>, _>("article_id")?.map(ArticleId),
        created_at: r.try_get("created_at")?,
    })
}

/// Loads articles whose id is in `ids` (all when `None`) with their variants.
pub(super) async fn load_articles(ex: &mut sqlx::PgConnection, ids: Option<&[Uuid]>) -> Result<Vec<Article>> {
    let filter = if ids.is_some() { "WHERE a.id = ANY($1)" } else { "" };
    let cols = crate::qualified(ARTICLE_COLS, "a");
    let q = format!("SELECT {cols} FROM kb_articles a {filter} ORDER BY a.slug");
    let rows = match ids {
        Some(ids) => sqlx::query(&q).bind(ids).fetch_all(&mut *ex).await?,
        None => sqlx::query(&q).fetch_all(&mut *ex).await?,
    };
    let mut articles = rows.iter().map(article_from_row).collect::<Result<Vec<_>>>()?;
    let q = format!(
        "SELECT t.article_id, t.locale, t.title, t.body, t.status, t.version, t.updated_at FROM kb_translations t \
         JOIN kb_articles a ON a.id = t.article_id {filter} ORDER BY t.locale"
    );
    let rows = match ids {
        Some(ids) => sqlx::query(&q).bind(ids).fetch_all(&mut *ex).await?,
        None => sqlx::query(&q).fetch_all(&mut *ex).await?,
    };
    let index: std::collections::HashMap<Uuid, usize> = articles.iter().enumerate().map(|(i, a)| (a.id.0, i)).collect();
    for r in rows {
        let id: Uuid = r.try_get("article_id")?;
        let s: String = r.try_get("status")?;
        let t = Translation {
            locale: r.try_get("locale")?,
            title: r.try_get("title")?,
            body: r.try_get("body")?,
            status: status(&s)?,
            version: r.try_get("version")?,
            updated_at: r.try_get("updated_at")?,
        };
        if let Some(&i) = index.get(&id) {
            articles[i].translations.push(t);
        }
    }
    Ok(articles)
}

#[async_trait]
impl KbStore for PgStore {
    async fn save_article(&self, input: &ArticleInput, by: Option<UserId>) -> Result<Article> {
        input.validate()?;
        let now = now_micros();
        let mut tx = self.pool.begin().await?;
        // Serialise concurrent saves of one slug.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&input.slug).execute(&mut *tx).await?;
        let existing_id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM kb_articles WHERE slug = $1")
            .bind(&input.slug)
            .fetch_optional(&mut *tx)
            .await?;
        let existing = match existing_id {
            Some(id) => load_articles(&mut tx, Some(&[id])).await?.into_iter().next(),
            None => None,
        };
        let id = match &existing {
            Some(a) => {
                sqlx::query(
                    "UPDATE kb_articles SET category = $2, tags = $3, intents = $4, updated_at = $5 WHERE id = $1",
                )
                .bind(a.id.0)
                .bind(&input.category)
                .bind(serde_json::to_value(&input.tags)?)
                .bind(serde_json::to_value(&input.intents)?)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                a.id
            }
            None => {
                let id = ArticleId(Uuid::now_v7());
                sqlx::query(&format!("INSERT INTO kb_articles ({ARTICLE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $6)"))
                    .bind(id.0)
                    .bind(&input.slug)
                    .bind(&input.category)
                    .bind(serde_json::to_value(&input.tags)?)
                    .bind(serde_json::to_value(&input.intents)?)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
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
            sqlx::query(
                "INSERT INTO kb_translations (article_id, locale, title, body, status, version, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (article_id, locale) DO UPDATE SET \
                 title = excluded.title, body = excluded.body, status = excluded.status, \
                 version = excluded.version, updated_at = excluded.updated_at",
            )
            .bind(id.0)
            .bind(locale)
            .bind(&t.title)
            .bind(&t.body)
            .bind(t.status.as_str())
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO kb_versions (article_id, locale, version, title, body, status, edited_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id.0)
            .bind(locale)
            .bind(version)
            .bind(&t.title)
            .bind(&t.body)
            .bind(t.status.as_str())
            .bind(by.map(|u| u.0))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let article =
            load_articles(&mut tx, Some(&[id.0])).await?.into_iter().next().ok_or(StoreError::NotFound("article"))?;
        tx.commit().await?;
        Ok(article)
    }

    async fn get_article(&self, id: ArticleId) -> Result<Option<Article>> {
        let mut c = self.pool.acquire().await?;
        Ok(load_articles(&mut c, Some(&[id.0])).await?.into_iter().next())
    }

    async fn article_by_slug(&self, slug: &str) -> Result<Option<Article>> {
        let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM kb_articles WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        match id {
            Some(id) => {
                let mut c = self.pool.acquire().await?;
                Ok(load_articles(&mut c, Some(&[id])).await?.into_iter().next())
            }
            None => Ok(None),
        }
    }

    async fn list_articles(&self) -> Result<Vec<Article>> {
        let mut c = self.pool.acquire().await?;
        load_articles(&mut c, None).await
    }

    async fn article_history(&self, id: ArticleId) -> Result<Vec<ArticleVersion>> {
        let rows = sqlx::query(
            "SELECT article_id, locale, version, title, body, status, edited_by, created_at FROM kb_versions \
             WHERE article_id = $1 ORDER BY created_at DESC, locale, version DESC",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("status")?;
                Ok(ArticleVersion {
                    article_id: ArticleId(r.try_get("article_id")?),
                    locale: r.try_get("locale")?,
                    version: r.try_get("version")?,
                    title: r.try_get("title")?,
                    body: r.try_get("body")?,
                    status: status(&s)?,
                    edited_by: r.try_get::<Option<Uuid>, _>("edited_by")?.map(UserId),
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn delete_article(&self, id: ArticleId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for table in ["kb_votes", "kb_versions", "kb_translations"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE article_id = $1")).bind(id.0).execute(&mut *tx).await?;
        }
        let n =
            sqlx::query("DELETE FROM kb_articles WHERE id = $1").bind(id.0).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("article"));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_kb_vote(&self, id: ArticleId, locale: &str, voter: &str, helpful: bool) -> Result<bool> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM kb_articles WHERE id = $1)")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await?;
        if !exists {
            return Err(StoreError::NotFound("article"));
        }
        let n = sqlx::query(
            "INSERT INTO kb_votes (article_id, locale, voter, helpful, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id.0)
        .bind(locale)
        .bind(voter)
        .bind(helpful)
        .bind(now_micros())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn kb_votes(&self, id: ArticleId, locale: &str) -> Result<VoteTally> {
        let r = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE helpful) AS yes, COUNT(*) FILTER (WHERE NOT helpful) AS no \
             FROM kb_votes WHERE article_id = $1 AND locale = $2",
        )
        .bind(id.0)
        .bind(locale)
        .fetch_one(&self.pool)
        .await?;
        Ok(VoteTally { helpful: r.try_get("yes")?, not_helpful: r.try_get("no")? })
    }

    async fn bot_settings(&self, channel: &str) -> Result<Option<serde_json::Value>> {
        Ok(sqlx::query_scalar("SELECT settings FROM bot_settings WHERE channel_slug = $1")
            .bind(channel)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn save_bot_settings(&self, channel: &str, settings: &serde_json::Value) -> Result<()> {
        sqlx::query(
            "INSERT INTO bot_settings (channel_slug, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (channel_slug) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(channel)
        .bind(settings)
        .bind(now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_bot_outcome(&self, o: &BotOutcome) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO bot_outcomes (id, conversation_id, message_id, channel_slug, outcome, reason, article_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(o.id)
        .bind(o.conversation_id.0)
        .bind(o.message_id.0)
        .bind(&o.channel_slug)
        .bind(o.outcome.as_str())
        .bind(&o.reason)
        .bind(o.article_id.map(|a| a.0))
        .bind(o.created_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn bot_outcomes(&self, conversation: ConversationId) -> Result<Vec<BotOutcome>> {
        let rows = sqlx::query(
            "SELECT id, conversation_id, message_id, channel_slug, outcome, reason, article_id, created_at \
             FROM bot_outcomes WHERE conversation_id = $1 ORDER BY created_at, id",
        )
        .bind(conversation.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outcome_from_row).collect()
    }

    async fn bot_outcome_counts(&self, since: DateTime<Utc>) -> Result<BotOutcomeCounts> {
        let rows =
            sqlx::query("SELECT outcome, COUNT(*) AS n FROM bot_outcomes WHERE created_at >= $1 GROUP BY outcome")
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        let mut counts = BotOutcomeCounts::default();
        for r in rows {
            let k: String = r.try_get("outcome")?;
            let n: i64 = r.try_get("n")?;
            match BotOutcomeKind::parse(&k) {
                Some(BotOutcomeKind::Answered) => counts.answered = n,
                Some(BotOutcomeKind::Helped) => counts.helped = n,
                Some(BotOutcomeKind::NotHelped) => counts.not_helped = n,
                Some(BotOutcomeKind::HandedOff) => counts.handed_off = n,
                None => {}
            }
        }
        Ok(counts)
    }

    async fn bot_cursor(&self) -> Result<Option<MessageId>> {
        let id: Option<Uuid> = sqlx::query_scalar("SELECT message_id FROM bot_cursor WHERE name = 'bot'")
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(MessageId))
    }

    async fn set_bot_cursor(&self, id: MessageId) -> Result<()> {
        sqlx::query(
            "INSERT INTO bot_cursor (name, message_id) VALUES ('bot', $1) ON CONFLICT (name) DO UPDATE \
             SET message_id = excluded.message_id WHERE excluded.message_id > bot_cursor.message_id",
        )
        .bind(id.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn message_button_data(&self, message: MessageId) -> Result<Option<String>> {
        let payload: Option<String> = sqlx::query_scalar("SELECT payload FROM inbound_events WHERE message_id = $1")
            .bind(message.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(payload.and_then(|p| crate::sqlite::kb_button_data(&p)))
    }

    async fn inbound_messages_after(&self, after: MessageId, limit: usize) -> Result<Vec<MessageId>> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM messages WHERE id > $1 AND direction = 'inbound' ORDER BY id LIMIT $2")
                .bind(after.0)
                .bind(limit.min(10_000) as i64)
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().map(MessageId).collect())
    }
}
