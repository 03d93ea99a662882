//! [`KbTranslationStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::kb::{Article, ArticleId};
use crate::kb_translations::{KbTranslationStore, only_variant};
use crate::{Result, StoreError};

#[async_trait]
impl KbTranslationStore for PgStore {
    async fn delete_translation(&self, id: ArticleId, locale: &str) -> Result<Article> {
        let mut tx = self.pool.begin().await?;
        // Lock the article so two deletions cannot both see two variants.
        sqlx::query("SELECT id FROM kb_articles WHERE id = $1 FOR UPDATE").bind(id.0).fetch_optional(&mut *tx).await?;
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT locale FROM kb_translations WHERE article_id = $1 AND lower(locale) = lower($2)",
        )
        .bind(id.0)
        .bind(locale)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(stored) = stored else { return Err(StoreError::NotFound("translation")) };
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kb_translations WHERE article_id = $1")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
        if n <= 1 {
            return Err(only_variant(&stored));
        }
        for table in ["kb_votes", "kb_versions", "kb_translations"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE article_id = $1 AND locale = $2"))
                .bind(id.0)
                .bind(&stored)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE kb_articles SET updated_at = now() WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        let article = super::kb::load_articles(&mut tx, Some(&[id.0])).await?.into_iter().next();
        tx.commit().await?;
        article.ok_or(StoreError::NotFound("article"))
    }
}
