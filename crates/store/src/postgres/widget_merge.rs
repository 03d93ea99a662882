//! [`WidgetMergeStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchboard_domain::ContactId;
use uuid::Uuid;

use super::{PgStore, Tx, merge_contacts_tx};
use crate::widget_merge::{ContactPlan, WidgetMerge, WidgetMergeStore, check, contact_plan};
use crate::{Result, WidgetVisitor};

async fn identity(tx: &mut Tx<'_>, channel: &str, subject: &str) -> Result<Option<Uuid>> {
    Ok(sqlx::query_scalar("SELECT contact_id FROM contact_identities WHERE channel = $1 AND provider_user_id = $2")
        .bind(channel)
        .bind(subject)
        .fetch_optional(&mut **tx)
        .await?)
}

const UPSERT_FIRST: &str = "INSERT INTO contact_identities AS i (channel, provider_user_id, contact_id, handle, \
    display_name, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel, provider_user_id) DO UPDATE SET \
    contact_id = excluded.contact_id, created_at = LEAST(i.created_at, excluded.created_at)";
const UPSERT_LAST: &str = "INSERT INTO contact_identities AS i (channel, provider_user_id, contact_id, handle, \
    display_name, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel, provider_user_id) DO UPDATE SET \
    contact_id = excluded.contact_id, created_at = GREATEST(i.created_at, excluded.created_at)";

async fn merge_tx(tx: &mut Tx<'_>, v: &WidgetVisitor, into: &str, at: DateTime<Utc>) -> Result<WidgetMerge> {
    let ch = v.channel.as_str();
    // Threading of either subject waits (the same per-sender locks threading takes), so no
    // message lands on a contact that is being merged away.
    sqlx::query("SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(k) AS h FROM UNNEST($1::text[]) AS t(k)) s ORDER BY h")
        .bind(vec![format!("{ch}\u{1f}{}", v.subject), format!("{ch}\u{1f}{into}")])
        .execute(&mut **tx)
        .await?;
    let (anon, known) = (identity(tx, ch, &v.subject).await?, identity(tx, ch, into).await?);
    let anon_items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM widget_items WHERE channel = $1 AND subject = $2")
        .bind(ch)
        .bind(&v.subject)
        .fetch_one(&mut **tx)
        .await?;
    let mut merged_contact = None;
    let contact = match contact_plan(known, anon, anon_items > 0) {
        ContactPlan::Merge { keep, other } => {
            merged_contact = Some(ContactId(other));
            Some(merge_contacts_tx(tx, ContactId(keep), ContactId(other)).await?.id.0)
        }
        ContactPlan::Keep(id) => Some(id),
        ContactPlan::Create => {
            let id = Uuid::now_v7();
            sqlx::query("INSERT INTO contacts (id, name, email, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(&v.name)
                .bind(&v.email)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            Some(id)
        }
        ContactPlan::Nothing => None,
    };
    if let Some(ct) = contact {
        // The signed identity goes first on the channel: replies (sent to the first identity)
        // reach the signed-in stream.
        let first: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT MIN(created_at) FROM contact_identities WHERE contact_id = $1 AND channel = $2")
                .bind(ct)
                .bind(ch)
                .fetch_one(&mut **tx)
                .await?;
        let first = first.map_or(at, |f| f - chrono::Duration::microseconds(1));
        // The signed identity keeps the earliest time, the anonymous one the latest.
        for (subject, when, sql) in [(into, first, UPSERT_FIRST), (v.subject.as_str(), at, UPSERT_LAST)] {
            sqlx::query(sql)
                .bind(ch)
                .bind(subject)
                .bind(ct)
                .bind(&v.email)
                .bind(&v.name)
                .bind(when)
                .execute(&mut **tx)
                .await?;
        }
    }
    // The anonymous stream continues at the end of the signed-in one, each item once.
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO widget_streams AS s (channel, subject, last_seq) VALUES ($1, $2, 0) \
         ON CONFLICT (channel, subject) DO UPDATE SET last_seq = s.last_seq RETURNING last_seq",
    )
    .bind(ch)
    .bind(into)
    .fetch_one(&mut **tx)
    .await?;
    let copied = sqlx::query(
        "INSERT INTO widget_items (channel, subject, seq, dedupe_key, direction, body, created_at) \
         SELECT channel, $3, $4 + ROW_NUMBER() OVER (ORDER BY seq), dedupe_key, direction, body, created_at \
         FROM widget_items a WHERE a.channel = $1 AND a.subject = $2 AND NOT EXISTS \
         (SELECT 1 FROM widget_items b WHERE b.channel = $1 AND b.subject = $3 AND b.dedupe_key = a.dedupe_key)",
    )
    .bind(ch)
    .bind(&v.subject)
    .bind(into)
    .bind(last)
    .execute(&mut **tx)
    .await?
    .rows_affected() as i64;
    sqlx::query("UPDATE widget_streams SET last_seq = last_seq + $3 WHERE channel = $1 AND subject = $2")
        .bind(ch)
        .bind(into)
        .bind(copied)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE widget_uploads SET subject = $3 WHERE channel = $1 AND subject = $2")
        .bind(ch)
        .bind(&v.subject)
        .bind(into)
        .execute(&mut **tx)
        .await?;
    // The anonymous token stops working: that browser now speaks as the signed-in customer.
    sqlx::query("UPDATE widget_visitors SET token_hash = 'merged:' || id::text, last_seen_at = $2 WHERE id = $1")
        .bind(v.id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(WidgetMerge { contact: contact.map(ContactId), merged_contact, items_copied: copied })
}

#[async_trait]
impl WidgetMergeStore for PgStore {
    async fn merge_widget_visitor(
        &self,
        visitor: &WidgetVisitor,
        into_subject: &str,
        at: DateTime<Utc>,
    ) -> Result<WidgetMerge> {
        check(visitor, into_subject)?;
        let mut tx = self.pool.begin().await?;
        let out = merge_tx(&mut tx, visitor, into_subject, at).await?;
        tx.commit().await?;
        Ok(out)
    }
}
