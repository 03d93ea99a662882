//! SQLite implementation of [`AuditStore`].

use async_trait::async_trait;
use rusqlite::types::Value as V;
use switchboard_domain::UserId;
use uuid::Uuid;

use super::{SqliteStore, from_ts, ts};
use crate::records::{decode_cursor, encode_cursor, page_limit};
use crate::{AuditEntry, AuditFilter, AuditStore, NewAuditEntry, Page, Result};

fn json_opt(v: &Option<serde_json::Value>) -> Result<Option<String>> {
    Ok(v.as_ref().map(serde_json::to_string).transpose()?)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, e: &NewAuditEntry) -> Result<AuditEntry> {
        let e = e.clone();
        let id = Uuid::now_v7();
        let (before, after) = (json_opt(&e.before)?, json_opt(&e.after)?);
        let entry = AuditEntry {
            id,
            actor_id: e.actor_id,
            actor_email: None,
            action: e.action.clone(),
            target: e.target.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            at: e.at,
        };
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO audit_log (id, actor_id, action, target, before, after, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![id, e.actor_id.map(|a| a.0), e.action, e.target, before, after, ts(e.at)],
                )?;
                Ok(())
            })
            .await?;
        Ok(entry)
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditEntry>> {
        let f = f.clone();
        self.conns
            .read(move |c| {
                let mut sql = String::from(
                    "SELECT a.id, a.actor_id, u.email, a.action, a.target, a.before, a.after, a.at \
                     FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id WHERE 1 = 1",
                );
                let mut args: Vec<V> = Vec::new();
                let mut push = |sql: &mut String, clause: &str, v: V| {
                    args.push(v);
                    sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
                };
                if let Some(a) = f.actor_id {
                    push(&mut sql, " AND a.actor_id = ?", V::Blob(a.0.as_bytes().to_vec()));
                }
                if let Some(p) = f.action_prefix.as_deref().filter(|p| !p.is_empty()) {
                    push(&mut sql, " AND substr(a.action, 1, length(?)) = ", V::Text(p.to_owned()));
                    push(&mut sql, "?", V::Text(p.to_owned()));
                }
                if let Some(cur) = &f.cursor {
                    let (t, id) = decode_cursor(cur)?;
                    push(&mut sql, " AND (a.at < ?", V::Integer(ts(t)));
                    push(&mut sql, " OR (a.at = ?", V::Integer(ts(t)));
                    push(&mut sql, " AND a.id < ?))", V::Blob(id.as_bytes().to_vec()));
                }
                let limit = page_limit(f.limit);
                sql.push_str(&format!(" ORDER BY a.at DESC, a.id DESC LIMIT {}", limit + 1));
                let parse = |s: Option<String>, idx: usize| -> rusqlite::Result<Option<serde_json::Value>> {
                    s.map(|s| serde_json::from_str(&s)).transpose().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into())
                    })
                };
                let mut items = c
                    .prepare(&sql)?
                    .query_map(rusqlite::params_from_iter(args), |r| {
                        Ok(AuditEntry {
                            id: r.get(0)?,
                            actor_id: r.get::<_, Option<Uuid>>(1)?.map(UserId),
                            actor_email: r.get(2)?,
                            action: r.get(3)?,
                            target: r.get(4)?,
                            before: parse(r.get(5)?, 5)?,
                            after: parse(r.get(6)?, 6)?,
                            at: from_ts(r.get(7)?),
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let next_cursor = if items.len() > limit as usize {
                    items.truncate(limit as usize);
                    items.last().map(|e| encode_cursor(e.at, e.id))
                } else {
                    None
                };
                Ok(Page { items, next_cursor })
            })
            .await
    }
}
