//! PostgreSQL implementation of [`UiStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row};
use switchboard_domain::{CaseNumber, ConversationId, UserId};

use super::{CONV_COLS, PgStore, USER_COLS, conv_from_row, user_from_row};
use crate::records::page_limit;
use crate::ui::{PRIORITY_RANK, priority_rank};
use crate::{
    ConversationSummary, INBOX_COUNT_CAP, InboxCounts, InboxPage, InboxQuery, InboxRow, InboxSort, InboxView, Result,
    StoreError, UiSession, UiStore, User, UserPrefs, UserUpdate, qualified,
};

#[async_trait]
impl UiStore for PgStore {
    async fn create_session(&self, s: &UiSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO ui_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id_hash)
        .bind(s.user_id.0)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<(UiSession, User)>> {
        let cols = qualified(USER_COLS, "u");
        let row = sqlx::query(&format!(
            "SELECT {cols}, s.id_hash, s.csrf_token, s.created_at AS s_created, s.last_seen_at, s.expires_at \
             FROM ui_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled"
        ))
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let user = user_from_row(&r)?;
        let s = UiSession {
            id_hash: r.try_get("id_hash")?,
            user_id: user.id,
            csrf_token: r.try_get("csrf_token")?,
            created_at: r.try_get("s_created")?,
            last_seen_at: r.try_get("last_seen_at")?,
            expires_at: r.try_get("expires_at")?,
        };
        Ok(Some((s, user)))
    }

    async fn touch_session(&self, id_hash: &str, seen: DateTime<Utc>, expires_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE ui_sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(seen)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<u64> {
        let r = sqlx::query("DELETE FROM ui_sessions WHERE user_id = $1").bind(user.0).execute(&self.pool).await?;
        Ok(r.rows_affected())
    }

    async fn record_login_failure(&self, email: &str, ip: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (email, ip, at) VALUES ($1, $2, $3)")
            .bind(email.trim().to_lowercase())
            .bind(ip)
            .bind(at)
            .execute(&self.pool)
            .await?;
        // Old failures say nothing any more; keep the table small.
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(at - chrono::Duration::days(1))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn login_failures_since(&self, email: &str, ip: &str, since: DateTime<Utc>) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM login_failures WHERE email = $1 AND at >= $3) AS by_email, \
                    (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at >= $3) AS by_ip",
        )
        .bind(email.trim().to_lowercase())
        .bind(ip)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("by_email")?, r.try_get("by_ip")?))
    }

    async fn clear_login_failures(&self, email: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE email = $1")
            .bind(email.trim().to_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get_prefs(&self, user: UserId) -> Result<UserPrefs> {
        let row = sqlx::query("SELECT locale, time_zone FROM user_prefs WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(UserPrefs { locale: r.try_get("locale")?, time_zone: r.try_get("time_zone")? }),
            None => Ok(UserPrefs::default()),
        }
    }

    async fn set_prefs(&self, user: UserId, p: &UserPrefs) -> Result<()> {
        sqlx::query(
            "INSERT INTO user_prefs (user_id, locale, time_zone) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale, time_zone = excluded.time_zone",
        )
        .bind(user.0)
        .bind(&p.locale)
        .bind(&p.time_zone)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update_user(&self, user: UserId, u: &UserUpdate) -> Result<User> {
        let row = sqlx::query(&format!(
            "UPDATE users SET name = COALESCE($2, name), role = COALESCE($3, role), \
             disabled = COALESCE($4, disabled), password_hash = COALESCE($5, password_hash) \
             WHERE id = $1 RETURNING {USER_COLS}"
        ))
        .bind(user.0)
        .bind(&u.name)
        .bind(u.role.map(|r| r.as_str()))
        .bind(u.disabled)
        .bind(&u.password_hash)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => user_from_row(&r),
            None => Err(StoreError::NotFound("user")),
        }
    }

    async fn mark_read(&self, user: UserId, conversation: ConversationId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO conversation_reads (user_id, conversation_id, last_read_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, conversation_id) DO UPDATE \
             SET last_read_at = GREATEST(conversation_reads.last_read_at, excluded.last_read_at)",
        )
        .bind(user.0)
        .bind(conversation.0)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<InboxPage> {
        let mut qb = sqlx::QueryBuilder::<Postgres>::new(format!(
            "SELECT {CONV_COLS}, (SELECT name FROM contacts WHERE id = c.contact_id) AS contact_name, \
             (SELECT m.text FROM messages m WHERE m.conversation_id = c.id ORDER BY m.created_at DESC LIMIT 1) AS last_text, \
             c.last_message_at > COALESCE((SELECT r.last_read_at FROM conversation_reads r \
                WHERE r.conversation_id = c.id AND r.user_id = "
        ));
        qb.push_bind(q.user.0).push("), 'epoch'::timestamptz) AS unread FROM conversations c WHERE TRUE");
        match &q.view {
            InboxView::Mine => {
                qb.push(" AND c.assignee_id = ").push_bind(q.user.0);
            }
            InboxView::Unassigned => {
                qb.push(" AND c.assignee_id IS NULL");
            }
            InboxView::All => {}
            InboxView::Teams(teams) => {
                qb.push(" AND c.team = ANY(").push_bind(teams.clone()).push(")");
            }
        }
        if let Some(s) = q.status {
            qb.push(" AND c.status = ").push_bind(s.as_str());
        }
        if let Some(ch) = &q.channel {
            qb.push(" AND c.channel = ").push_bind(ch.as_str().to_owned());
        }
        let rank = PRIORITY_RANK.replace("priority", "c.priority");
        if let Some(p) = q.priority {
            qb.push(" AND c.priority = ").push_bind(p.as_str());
            qb.push(format!(" AND {rank} = ")).push_bind(priority_rank(p) as i32);
        }
        if let Some(t) = q.tag.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()) {
            qb.push(" AND c.tags::jsonb ? ").push_bind(t);
        }
        if let Some(text) = q.query.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            if let Ok(case) = CaseNumber::parse(text) {
                qb.push(" AND c.case_number = ").push_bind(case.0);
            } else {
                let plan = super::search::TextPlan::count(&self.pool, text, self.search).await?;
                if plan.is_empty() {
                    return Ok(InboxPage { rows: Vec::new(), has_more: false });
                }
                plan.push(&mut qb, text);
            }
        }
        for (value, column) in [(&q.language, "language"), (&q.sentiment, "sentiment")] {
            if let Some(v) = value.as_deref().map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty()) {
                super::search::push_latest_triage(&mut qb, column, v);
            }
        }
        match q.sort {
            InboxSort::Urgency => qb.push(format!(" ORDER BY {rank}, c.last_message_at, c.id")),
            InboxSort::Recent => qb.push(" ORDER BY c.last_message_at DESC, c.id DESC"),
            InboxSort::SlaDue => {
                qb.push(format!(" ORDER BY {} NULLS LAST, {rank}, c.last_message_at, c.id", crate::ui::SLA_DUE))
            }
        };
        let limit = page_limit(q.limit);
        qb.push(" LIMIT ").push_bind(limit as i64 + 1).push(" OFFSET ").push_bind(q.offset as i64);
        let rows = qb.build().fetch_all(&self.pool).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(InboxRow {
                    summary: ConversationSummary {
                        conversation: conv_from_row(r)?,
                        contact_name: r.try_get("contact_name")?,
                    },
                    last_text: r.try_get("last_text")?,
                    unread: r.try_get("unread")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let has_more = out.len() > limit as usize;
        out.truncate(limit as usize);
        Ok(InboxPage { rows: out, has_more })
    }

    async fn inbox_counts(&self, user: UserId) -> Result<InboxCounts> {
        // Each count stops at the cap: bounded work per page however large the backlog.
        let capped = |filter: &str| {
            format!(
                "(SELECT COUNT(*) FROM (SELECT 1 FROM conversations c WHERE c.status = 'open' AND {filter} \
                 LIMIT {INBOX_COUNT_CAP}) AS x)"
            )
        };
        let sql = format!(
            "SELECT {} AS mine, {} AS mine_unread, {} AS unassigned, {} AS all_open",
            capped("c.assignee_id = $1"),
            capped(
                "c.assignee_id = $1 AND c.last_message_at > COALESCE((SELECT r.last_read_at FROM conversation_reads r \
                 WHERE r.user_id = $1 AND r.conversation_id = c.id), 'epoch'::timestamptz)"
            ),
            capped("c.assignee_id IS NULL"),
            capped("TRUE"),
        );
        let r = sqlx::query(&sql).bind(user.0).fetch_one(&self.pool).await?;
        Ok(InboxCounts {
            mine: r.try_get("mine")?,
            mine_unread: r.try_get("mine_unread")?,
            unassigned: r.try_get("unassigned")?,
            all: r.try_get("all_open")?,
        })
    }
}
