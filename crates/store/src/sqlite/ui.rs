//! SQLite implementation of [`UiStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value as V;
use rusqlite::{OptionalExtension, params};
use switchboard_domain::{CaseNumber, ConversationId, UserId};

use super::search::SearchPlan;
use super::{CONV_COLS, SqliteStore, USER_COLS, conv_from_row, from_ts, ts, user_from_row};
use crate::records::page_limit;
use crate::ui::{PRIORITY_RANK, priority_rank};
use crate::{
    ConversationSummary, INBOX_COUNT_CAP, InboxCounts, InboxPage, InboxQuery, InboxRow, InboxSort, InboxView, Result,
    StoreError, UiSession, UiStore, User, UserPrefs, UserUpdate, qualified,
};

fn uid(u: UserId) -> V {
    V::Blob(u.0.as_bytes().to_vec())
}

#[async_trait]
impl UiStore for SqliteStore {
    async fn create_session(&self, s: &UiSession) -> Result<()> {
        let s = s.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO ui_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        s.id_hash,
                        s.user_id.0,
                        s.csrf_token,
                        ts(s.created_at),
                        ts(s.last_seen_at),
                        ts(s.expires_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn find_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<(UiSession, User)>> {
        let id_hash = id_hash.to_owned();
        let cols = qualified(USER_COLS, "u");
        self.conns
            .read(move |c| {
                Ok(c.query_row(
                    &format!(
                        "SELECT {cols}, s.id_hash, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at \
                         FROM ui_sessions s JOIN users u ON u.id = s.user_id \
                         WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0"
                    ),
                    params![id_hash, ts(now)],
                    |r| {
                        let user = user_from_row(r)?;
                        let s = UiSession {
                            id_hash: r.get(7)?,
                            user_id: user.id,
                            csrf_token: r.get(8)?,
                            created_at: from_ts(r.get(9)?),
                            last_seen_at: from_ts(r.get(10)?),
                            expires_at: from_ts(r.get(11)?),
                        };
                        Ok((s, user))
                    },
                )
                .optional()?)
            })
            .await
    }

    async fn touch_session(&self, id_hash: &str, seen: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<()> {
        let id_hash = id_hash.to_owned();
        self.conns
            .write(move |c| {
                c.execute(
                    "UPDATE ui_sessions SET last_seen_at = ?2, expires_at = ?3 WHERE id_hash = ?1",
                    params![id_hash, ts(seen), ts(expires_at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        let id_hash = id_hash.to_owned();
        self.conns
            .write(move |c| {
                c.execute("DELETE FROM ui_sessions WHERE id_hash = ?1", [id_hash])?;
                Ok(())
            })
            .await
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<u64> {
        self.conns.write(move |c| Ok(c.execute("DELETE FROM ui_sessions WHERE user_id = ?1", [user.0])? as u64)).await
    }

    async fn record_login_failure(&self, email: &str, ip: &str, at: DateTime<Utc>) -> Result<()> {
        let (email, ip) = (email.trim().to_lowercase(), ip.to_owned());
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO login_failures (email, ip, at) VALUES (?1, ?2, ?3)",
                    params![email, ip, ts(at)],
                )?;
                // Old failures say nothing any more; keep the table small.
                c.execute("DELETE FROM login_failures WHERE at < ?1", [ts(at - chrono::Duration::days(1))])?;
                Ok(())
            })
            .await
    }

    async fn login_failures_since(&self, email: &str, ip: &str, since: DateTime<Utc>) -> Result<(i64, i64)> {
        let (email, ip) = (email.trim().to_lowercase(), ip.to_owned());
        self.conns
            .read(move |c| {
                let by_email = c.query_row(
                    "SELECT COUNT(*) FROM login_failures WHERE email = ?1 AND at >= ?2",
                    params![email, ts(since)],
                    |r| r.get(0),
                )?;
                let by_ip = c.query_row(
                    "SELECT COUNT(*) FROM login_failures WHERE ip = ?1 AND at >= ?2",
                    params![ip, ts(since)],
                    |r| r.get(0),
                )?;
                Ok((by_email, by_ip))
            })
            .await
    }

    async fn clear_login_failures(&self, email: &str) -> Result<()> {
        let email = email.trim().to_lowercase();
        self.conns
            .write(move |c| {
                c.execute("DELETE FROM login_failures WHERE email = ?1", [email])?;
                Ok(())
            })
            .await
    }

    async fn get_prefs(&self, user: UserId) -> Result<UserPrefs> {
        self.conns
            .read(move |c| {
                Ok(c.query_row("SELECT locale, time_zone FROM user_prefs WHERE user_id = ?1", [user.0], |r| {
                    Ok(UserPrefs { locale: r.get(0)?, time_zone: r.get(1)? })
                })
                .optional()?
                .unwrap_or_default())
            })
            .await
    }

    async fn set_prefs(&self, user: UserId, prefs: &UserPrefs) -> Result<()> {
        let p = prefs.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO user_prefs (user_id, locale, time_zone) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale, time_zone = excluded.time_zone",
                    params![user.0, p.locale, p.time_zone],
                )?;
                Ok(())
            })
            .await
    }

    async fn update_user(&self, user: UserId, u: &UserUpdate) -> Result<User> {
        let u = u.clone();
        self.conns
            .write(move |c| {
                let n = c.execute(
                    "UPDATE users SET name = COALESCE(?2, name), role = COALESCE(?3, role), \
                     disabled = COALESCE(?4, disabled), password_hash = COALESCE(?5, password_hash) WHERE id = ?1",
                    params![user.0, u.name, u.role.map(|r| r.as_str()), u.disabled, u.password_hash],
                )?;
                if n == 0 {
                    return Err(StoreError::NotFound("user"));
                }
                Ok(c.query_row(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"), [user.0], user_from_row)?)
            })
            .await
    }

    async fn mark_read(&self, user: UserId, conversation: ConversationId, at: DateTime<Utc>) -> Result<()> {
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO conversation_reads (user_id, conversation_id, last_read_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (user_id, conversation_id) DO UPDATE \
                     SET last_read_at = MAX(last_read_at, excluded.last_read_at)",
                    params![user.0, conversation.0, ts(at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<InboxPage> {
        let q = q.clone();
        let tuning = self.search;
        self.conns
            .read(move |c| {
                let mut args: Vec<V> = vec![uid(q.user)];
                let select = format!(
                    "SELECT {CONV_COLS}, (SELECT name FROM contacts WHERE id = c.contact_id), \
                     (SELECT m.text FROM messages m WHERE m.conversation_id = c.id ORDER BY m.created_at DESC LIMIT 1), \
                     c.last_message_at > COALESCE((SELECT r.last_read_at FROM conversation_reads r \
                        WHERE r.user_id = ?1 AND r.conversation_id = c.id), 0)"
                );
                // The view's conditions on conversation `c`, after `WHERE 1 = 1`.
                let mut filters = String::new();
                let mut push = |sql: &mut String, clause: &str, v: V| {
                    args.push(v);
                    sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
                };
                match &q.view {
                    InboxView::Mine => push(&mut filters, " AND c.assignee_id = ?", uid(q.user)),
                    InboxView::Unassigned => filters.push_str(" AND c.assignee_id IS NULL"),
                    InboxView::All => {}
                    InboxView::Teams(teams) if teams.is_empty() => filters.push_str(" AND 0 = 1"),
                    InboxView::Teams(teams) => {
                        filters.push_str(" AND c.team IN (");
                        for (i, t) in teams.iter().enumerate() {
                            push(&mut filters, if i == 0 { "?" } else { ", ?" }, V::Text(t.clone()));
                        }
                        filters.push(')');
                    }
                }
                if let Some(s) = q.status {
                    push(&mut filters, " AND c.status = ?", V::Text(s.as_str().into()));
                }
                if let Some(ch) = &q.channel {
                    push(&mut filters, " AND c.channel = ?", V::Text(ch.as_str().into()));
                }
                let rank = PRIORITY_RANK.replace("priority", "c.priority");
                if let Some(p) = q.priority {
                    push(&mut filters, " AND c.priority = ?", V::Text(p.as_str().into()));
                    push(&mut filters, &format!(" AND {rank} = ?"), V::Integer(priority_rank(p)));
                }
                if let Some(t) = q.tag.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()) {
                    push(&mut filters, " AND EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value = ?)", V::Text(t));
                }
                for (value, column) in [(&q.language, "language"), (&q.sentiment, "sentiment")] {
                    if let Some(v) = value.as_deref().map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty()) {
                        push(&mut filters, &super::search::latest_triage_clause(column), V::Text(v));
                    }
                }
                let mut text_search = None;
                if let Some(text) = q.query.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    if let Ok(case) = CaseNumber::parse(text) {
                        push(&mut filters, " AND c.case_number = ?", V::Integer(case.0));
                    } else {
                        text_search = Some(text.to_owned());
                    }
                }
                let limit = page_limit(q.limit);
                let offset = q.offset as usize;
                let want = offset + limit as usize + 1;
                let read_with = |stmt: &mut rusqlite::Statement<'_>, args: &[V]| -> rusqlite::Result<Vec<InboxRow>> {
                    super::search::bind(stmt, args)?;
                    let mut rows = stmt.raw_query();
                    let mut out = Vec::new();
                    while let Some(r) = rows.next()? {
                        out.push(InboxRow {
                            summary: ConversationSummary { conversation: conv_from_row(r)?, contact_name: r.get(18)? },
                            last_text: r.get(19)?,
                            unread: r.get(20)?,
                        });
                    }
                    Ok(out)
                };
                let read = |sql: &str, args: &[V]| read_with(&mut c.prepare(sql)?, args);
                let mut page = None;
                if let Some(text) = text_search {
                    match super::search::plan(c, tuning, &text, q.sort, &mut filters, &mut args, (offset, want))? {
                        SearchPlan::Empty => return Ok(InboxPage { rows: Vec::new(), has_more: false }),
                        SearchPlan::Page(ids) => page = Some(ids),
                        SearchPlan::Walk => {}
                    }
                }
                let mut rows = if let Some(ids) = page {
                    // The page's conversations first, then their row columns, 50 at most.
                    let mut one = c.prepare_cached(&format!("{select} FROM conversations c WHERE c.rowid = ?2"))?;
                    let mut rows = Vec::with_capacity(ids.len());
                    for id in ids {
                        rows.extend(read_with(&mut one, &[uid(q.user), V::Integer(id)])?);
                    }
                    rows
                } else {
                    match q.sort {
                        InboxSort::Urgency | InboxSort::Recent => {
                            let order = super::search::order_by(q.sort, &rank);
                            let sql = format!(
                                "{select} FROM conversations c WHERE 1 = 1{filters} ORDER BY {order} LIMIT {} OFFSET {offset}",
                                limit + 1
                            );
                            read(&sql, &args)?
                        }
                        InboxSort::SlaDue => {
                            // Earliest pending breach first, then the conversations without one
                            // in urgency order: two index walks that stop at the page.
                            let [timed, untimed] = super::search::sla_walks(&select, &filters, &rank);
                            let mut rows = read(&format!("{timed} LIMIT {want}"), &args)?;
                            if rows.len() < want {
                                rows.extend(read(&format!("{untimed} LIMIT {}", want - rows.len()), &args)?);
                            }
                            rows.drain(..offset.min(rows.len()));
                            rows
                        }
                    }
                };
                let has_more = rows.len() > limit as usize;
                rows.truncate(limit as usize);
                Ok(InboxPage { rows, has_more })
            })
            .await
    }

    async fn inbox_counts(&self, user: UserId) -> Result<InboxCounts> {
        self.conns
            .read(move |c| {
                // Each count stops at the cap: bounded work per page however large the backlog.
                let count = |filter: &str, with_user: bool| -> rusqlite::Result<i64> {
                    let sql = format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM conversations c WHERE c.status = 'open' AND {filter} LIMIT {INBOX_COUNT_CAP})"
                    );
                    if with_user { c.query_row(&sql, [user.0], |r| r.get(0)) } else { c.query_row(&sql, [], |r| r.get(0)) }
                };
                Ok(InboxCounts {
                    mine: count("c.assignee_id = ?1", true)?,
                    mine_unread: count(
                        "c.assignee_id = ?1 AND c.last_message_at > COALESCE((SELECT r.last_read_at \
                         FROM conversation_reads r WHERE r.user_id = ?1 AND r.conversation_id = c.id), 0)",
                        true,
                    )?,
                    unassigned: count("c.assignee_id IS NULL", false)?,
                    all: count("1 = 1", false)?,
                })
            })
            .await
    }
}
