//! [`KbTranslationStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, ts};
use crate::kb::{Article, ArticleId};
use crate::kb_translations::{KbTranslationStore, only_variant};
use crate::{Result, StoreError, now_micros};

#[async_trait]
impl KbTranslationStore for SqliteStore {
    async fn delete_translation(&self, id: ArticleId, locale: &str) -> Result<Article> {
        let locale = locale.to_owned();
        self.conns
            .write(move |c| {
                let stored: Option<String> = c
                    .query_row(
                        "SELECT locale FROM kb_translations WHERE article_id = ?1 AND lower(locale) = lower(?2)",
                        params![id.0, locale],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(stored) = stored else { return Err(StoreError::NotFound("translation")) };
                let n: i64 =
                    c.query_row("SELECT COUNT(*) FROM kb_translations WHERE article_id = ?1", [id.0], |r| r.get(0))?;
                if n <= 1 {
                    return Err(only_variant(&stored));
                }
                for table in ["kb_votes", "kb_versions", "kb_translations"] {
                    c.execute(
                        &format!("DELETE FROM {table} WHERE article_id = ?1 AND locale = ?2"),
                        params![id.0, stored],
                    )?;
                }
                c.execute("UPDATE kb_articles SET updated_at = ?2 WHERE id = ?1", params![id.0, ts(now_micros())])?;
                super::kb::load_articles(c, "WHERE a.id = ?1", Some(&id.0))?
                    .into_iter()
                    .next()
                    .ok_or(StoreError::NotFound("article"))
            })
            .await
    }
}
