//! PostgreSQL implementation of [`AuditStore`].

use async_trait::async_trait;
use sqlx::{Postgres, Row};
use switchboard_domain::UserId;
use uuid::Uuid;

use super::PgStore;
use crate::records::{decode_cursor, encode_cursor, page_limit};
use crate::{AuditEntry, AuditFilter, AuditStore, NewAuditEntry, Page, Result};

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, e: &NewAuditEntry) -> Result<AuditEntry> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO audit_log (id, actor_id, action, target, before, after, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(e.actor_id.map(|a| a.0))
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.before)
        .bind(&e.after)
        .bind(e.at)
        .execute(&self.pool)
        .await?;
        Ok(AuditEntry {
            id,
            actor_id: e.actor_id,
            actor_email: None,
            action: e.action.clone(),
            target: e.target.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            at: e.at,
        })
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditEntry>> {
        let mut qb = sqlx::QueryBuilder::<Postgres>::new(
            "SELECT a.id, a.actor_id, u.email, a.action, a.target, a.before, a.after, a.at \
             FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id WHERE TRUE",
        );
        if let Some(a) = f.actor_id {
            qb.push(" AND a.actor_id = ").push_bind(a.0);
        }
        if let Some(p) = f.action_prefix.as_deref().filter(|p| !p.is_empty()) {
            qb.push(" AND left(a.action, length(").push_bind(p.to_owned()).push(")) = ").push_bind(p.to_owned());
        }
        if let Some(cur) = &f.cursor {
            let (t, id) = decode_cursor(cur)?;
            qb.push(" AND (a.at, a.id) < (").push_bind(t).push(", ").push_bind(id).push(")");
        }
        let limit = page_limit(f.limit);
        qb.push(" ORDER BY a.at DESC, a.id DESC LIMIT ").push_bind(limit as i64 + 1);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    actor_id: r.try_get::<Option<Uuid>, _>("actor_id")?.map(UserId),
                    actor_email: r.try_get("email")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    before: r.try_get("before")?,
                    after: r.try_get("after")?,
                    at: r.try_get("at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|e| encode_cursor(e.at, e.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}
