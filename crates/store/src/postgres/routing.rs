//! [`RoutingStore`] on PostgreSQL: assignment locks the team's member rows, routing work is
//! leased with an upsert that re-checks the lease, and timers are claimed `FOR UPDATE SKIP
//! LOCKED`, so any number of nodes share the work and each timer fires once.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::automation::Rule;
use switchboard_domain::calendar::CalendarSpec;
use switchboard_domain::routing::{Availability, Candidate, RouteRequest, choose_agent};
use switchboard_domain::sla::{SlaMetric, SlaPolicy, SlaTimerKind};
use switchboard_domain::{
    CaseNumber, ContactId, Conversation, ConversationId, ConversationPatch, FactKind, Message, UserId,
};
use uuid::Uuid;

use super::{CONV_COLS, PgStore, Tx, add_fact, conv_from_row, json, parse};
use crate::routing::{
    AUTOMATION_USER, CalendarRecord, CannedInput, CannedReply, FiredTimer, MemberInput, RoutingState, RoutingStore,
    RuleRecord, SlaPolicyRecord, Team, TeamInput, TeamMember, TimerSpec, capacity_for, check_attributes, check_canned,
    check_name, fact_for_timer, patch_for_timer,
};
use crate::{NewMessage, Result, Store, StoreError};

fn unique(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => StoreError::Conflict(what()),
        _ => e.into(),
    }
}

const TEAM_COLS: &str = "id, name, description, assignment_policy, calendar, created_at, updated_at";

fn team_from_row(r: &PgRow) -> Result<Team> {
    Ok(Team {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        assignment_policy: parse(r, "assignment_policy")?,
        calendar: r.try_get("calendar")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn team_id(tx: &mut Tx<'_>, name: &str) -> Result<Uuid> {
    sqlx::query_scalar("SELECT id FROM teams WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("team"))
}

async fn check_calendar(tx: &mut Tx<'_>, cal: Option<&str>) -> Result<()> {
    if let Some(cal) = cal {
        let ok: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM calendars WHERE name = $1)")
            .bind(cal)
            .fetch_one(&mut **tx)
            .await?;
        if !ok {
            return Err(StoreError::Invalid(format!("no calendar named {cal:?}")));
        }
    }
    Ok(())
}

const MEMBER_SQL: &str = "SELECT t.name AS team, m.user_id, u.name, m.role, m.skills, m.capacity, \
    COALESCE(a.availability, 'offline') AS availability, m.last_assigned_at \
    FROM team_members m JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id \
    LEFT JOIN agent_availability a ON a.user_id = m.user_id";

fn member_from_row(r: &PgRow) -> Result<TeamMember> {
    Ok(TeamMember {
        team: r.try_get("team")?,
        user_id: UserId(r.try_get("user_id")?),
        name: r.try_get("name")?,
        role: parse(r, "role")?,
        skills: json(r, "skills")?,
        capacity: json(r, "capacity")?,
        availability: parse(r, "availability")?,
        last_assigned_at: r.try_get("last_assigned_at")?,
    })
}

fn calendar_from_row(r: &PgRow) -> Result<CalendarRecord> {
    Ok(CalendarRecord {
        name: r.try_get("name")?,
        spec: json(r, "spec")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn policy_from_row(r: &PgRow) -> Result<SlaPolicyRecord> {
    Ok(SlaPolicyRecord {
        id: r.try_get("id")?,
        position: r.try_get("position")?,
        policy: json(r, "policy")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn rule_from_row(r: &PgRow) -> Result<RuleRecord> {
    Ok(RuleRecord {
        id: r.try_get("id")?,
        position: r.try_get("position")?,
        rule: json(r, "rule")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A table of admin-ordered, uniquely named JSON documents (SLA policies, automation rules): the
/// same create / update / delete / list on each.
struct OrderedDocs<R> {
    table: &'static str,
    /// The JSON column.
    column: &'static str,
    /// For "not found" errors.
    what: &'static str,
    /// For "already exists" errors: "an SLA policy", "a rule".
    a_what: &'static str,
    from_row: fn(&PgRow) -> Result<R>,
}

static SLA_POLICIES: OrderedDocs<SlaPolicyRecord> = OrderedDocs {
    table: "sla_policies",
    column: "policy",
    what: "SLA policy",
    a_what: "an SLA policy",
    from_row: policy_from_row,
};

static RULES: OrderedDocs<RuleRecord> =
    OrderedDocs { table: "automation_rules", column: "rule", what: "rule", a_what: "a rule", from_row: rule_from_row };

impl<R> OrderedDocs<R> {
    fn taken(&self, name: &str) -> impl FnOnce() -> String {
        let a_what = self.a_what;
        let name = name.to_owned();
        move || format!("{a_what} named {name:?} exists")
    }

    async fn create(&self, st: &PgStore, position: i32, name: &str, doc: String) -> Result<R> {
        let sql = format!(
            "INSERT INTO {} (id, position, name, {c}, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             RETURNING id, position, {c}, updated_at",
            self.table,
            c = self.column
        );
        let row = sqlx::query(&sql)
            .bind(Uuid::now_v7())
            .bind(position)
            .bind(name)
            .bind(doc)
            .bind(crate::now_micros())
            .fetch_one(&st.pool)
            .await
            .map_err(|e| unique(e, self.taken(name)))?;
        (self.from_row)(&row)
    }

    async fn update(&self, st: &PgStore, id: Uuid, position: i32, name: &str, doc: String) -> Result<R> {
        let sql = format!(
            "UPDATE {} SET position = $2, name = $3, {c} = $4, updated_at = $5 WHERE id = $1 \
             RETURNING id, position, {c}, updated_at",
            self.table,
            c = self.column
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(position)
            .bind(name)
            .bind(doc)
            .bind(crate::now_micros())
            .fetch_optional(&st.pool)
            .await
            .map_err(|e| unique(e, self.taken(name)))?
            .ok_or(StoreError::NotFound(self.what))?;
        (self.from_row)(&row)
    }

    async fn delete(&self, st: &PgStore, id: Uuid) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE id = $1", self.table);
        let n = sqlx::query(&sql).bind(id).execute(&st.pool).await?.rows_affected();
        if n == 0 { Err(StoreError::NotFound(self.what)) } else { Ok(()) }
    }

    async fn list(&self, st: &PgStore) -> Result<Vec<R>> {
        let sql =
            format!("SELECT id, position, {}, updated_at FROM {} ORDER BY position, name", self.column, self.table);
        sqlx::query(&sql).fetch_all(&st.pool).await?.iter().map(self.from_row).collect()
    }
}

const CANNED_SQL: &str = "SELECT c.id, c.shortcut, c.title, t.name AS team, c.variants, c.usage_count, c.created_at, \
    c.updated_at FROM canned_replies c LEFT JOIN teams t ON t.id = c.team_id";

fn canned_from_row(r: &PgRow) -> Result<CannedReply> {
    Ok(CannedReply {
        id: r.try_get("id")?,
        shortcut: r.try_get("shortcut")?,
        title: r.try_get("title")?,
        team: r.try_get("team")?,
        variants: json(r, "variants")?,
        usage_count: r.try_get("usage_count")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Applies a patch inside `tx` (the conversation row locked), recording its facts.
async fn apply_patch(
    tx: &mut Tx<'_>,
    id: ConversationId,
    p: &ConversationPatch,
    actor: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Conversation> {
    let cur = locked_conversation(tx, id).await?;
    let plan = p.plan(&cur, actor, now)?;
    let n = &plan.conversation;
    sqlx::query(
        "UPDATE conversations SET status = $2, resolved_at = $3, snoozed_until = $4, assignee_id = $5, priority = $6, \
         team = $7, tags = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(id.0)
    .bind(n.status.as_str())
    .bind(n.resolved_at)
    .bind(n.snoozed_until)
    .bind(n.assignee_id.map(|u| u.0))
    .bind(n.priority.as_str())
    .bind(&n.team)
    .bind(serde_json::to_string(&n.tags)?)
    .bind(n.updated_at)
    .execute(&mut **tx)
    .await?;
    for (kind, data) in plan.facts {
        add_fact(tx, id, kind, actor, data, now).await?;
    }
    Ok(plan.conversation)
}

async fn locked_conversation(tx: &mut Tx<'_>, id: ConversationId) -> Result<Conversation> {
    sqlx::query(&format!("SELECT {CONV_COLS} FROM conversations c WHERE c.id = $1 FOR UPDATE"))
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(conv_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("conversation"))
}

impl PgStore {
    async fn canned_by_id(&self, id: Uuid) -> Result<Option<CannedReply>> {
        sqlx::query(&format!("{CANNED_SQL} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(canned_from_row)
            .transpose()
    }

    async fn team_by_id(&self, id: Uuid) -> Result<Team> {
        team_from_row(
            &sqlx::query(&format!("SELECT {TEAM_COLS} FROM teams WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

#[async_trait]
impl RoutingStore for PgStore {
    async fn create_team(&self, t: &TeamInput) -> Result<Team> {
        check_name("team name", &t.name)?;
        let mut tx = self.pool.begin().await?;
        check_calendar(&mut tx, t.calendar.as_deref()).await?;
        let now = crate::now_micros();
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO teams (id, name, description, assignment_policy, calendar, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id)
        .bind(&t.name)
        .bind(&t.description)
        .bind(t.assignment_policy.as_str())
        .bind(&t.calendar)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique(e, || format!("a team named {:?} exists", t.name)))?;
        tx.commit().await?;
        self.team_by_id(id).await
    }

    async fn update_team(&self, name: &str, t: &TeamInput) -> Result<Team> {
        check_name("team name", &t.name)?;
        let mut tx = self.pool.begin().await?;
        let id = team_id(&mut tx, name).await?;
        check_calendar(&mut tx, t.calendar.as_deref()).await?;
        sqlx::query(
            "UPDATE teams SET name = $2, description = $3, assignment_policy = $4, calendar = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(&t.name)
        .bind(&t.description)
        .bind(t.assignment_policy.as_str())
        .bind(&t.calendar)
        .bind(crate::now_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique(e, || format!("a team named {:?} exists", t.name)))?;
        if t.name != name {
            sqlx::query("UPDATE conversations SET team = $2 WHERE team = $1")
                .bind(name)
                .bind(&t.name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.team_by_id(id).await
    }

    async fn delete_team(&self, name: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let id = team_id(&mut tx, name).await?;
        for sql in [
            "DELETE FROM team_members WHERE team_id = $1",
            "DELETE FROM canned_replies WHERE team_id = $1",
            "DELETE FROM teams WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_teams(&self) -> Result<Vec<Team>> {
        sqlx::query(&format!("SELECT {TEAM_COLS} FROM teams ORDER BY name"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(team_from_row)
            .collect()
    }

    async fn get_team(&self, name: &str) -> Result<Option<Team>> {
        sqlx::query(&format!("SELECT {TEAM_COLS} FROM teams WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(team_from_row)
            .transpose()
    }

    async fn put_team_member(&self, team: &str, user: UserId, m: &MemberInput) -> Result<TeamMember> {
        let mut tx = self.pool.begin().await?;
        let tid = team_id(&mut tx, team).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM users WHERE id = $1)")
            .bind(user.0)
            .fetch_one(&mut *tx)
            .await?;
        if !exists {
            return Err(StoreError::Invalid(format!("no user {user}")));
        }
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, skills, capacity, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role, skills = EXCLUDED.skills, capacity = EXCLUDED.capacity",
        )
        .bind(tid)
        .bind(user.0)
        .bind(m.role.as_str())
        .bind(serde_json::to_string(&m.skills)?)
        .bind(serde_json::to_string(&m.capacity)?)
        .bind(crate::now_micros())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("{MEMBER_SQL} WHERE m.team_id = $1 AND m.user_id = $2"))
            .bind(tid)
            .bind(user.0)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        member_from_row(&row)
    }

    async fn remove_team_member(&self, team: &str, user: UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let tid = team_id(&mut tx, team).await?;
        let n = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(tid)
            .bind(user.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if n == 0 { Err(StoreError::NotFound("team member")) } else { Ok(()) }
    }

    async fn list_team_members(&self, team: &str) -> Result<Vec<TeamMember>> {
        if self.get_team(team).await?.is_none() {
            return Err(StoreError::NotFound("team"));
        }
        sqlx::query(&format!("{MEMBER_SQL} WHERE t.name = $1 ORDER BY u.name, m.user_id"))
            .bind(team)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(member_from_row)
            .collect()
    }

    async fn get_availability(&self, user: UserId) -> Result<Availability> {
        let a: Option<String> = sqlx::query_scalar("SELECT availability FROM agent_availability WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(a.and_then(|s| s.parse().ok()).unwrap_or(Availability::Offline))
    }

    async fn set_availability(
        &self,
        user: UserId,
        a: Availability,
        at: DateTime<Utc>,
    ) -> Result<Vec<(ConversationId, CaseNumber)>> {
        let mut tx = self.pool.begin().await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM users WHERE id = $1)")
            .bind(user.0)
            .fetch_one(&mut *tx)
            .await?;
        if !exists {
            return Err(StoreError::NotFound("user"));
        }
        sqlx::query(
            "INSERT INTO agent_availability (user_id, availability, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET availability = EXCLUDED.availability, updated_at = EXCLUDED.updated_at",
        )
        .bind(user.0)
        .bind(a.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let mut open = Vec::new();
        if a == Availability::Offline {
            let rows = sqlx::query(
                "SELECT id, case_number FROM conversations WHERE assignee_id = $1 AND status IN ('open', 'pending', 'snoozed') \
                 ORDER BY id FOR UPDATE",
            )
            .bind(user.0)
            .fetch_all(&mut *tx)
            .await?;
            let unassign = ConversationPatch { assignee_id: Some(None), ..Default::default() };
            for r in rows {
                let id = ConversationId(r.try_get("id")?);
                apply_patch(&mut tx, id, &unassign, Some(AUTOMATION_USER), at).await?;
                open.push((id, CaseNumber(r.try_get("case_number")?)));
            }
        }
        tx.commit().await?;
        Ok(open)
    }

    async fn assign_next(
        &self,
        conversation: ConversationId,
        language: Option<&str>,
        intent: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<UserId>> {
        let mut tx = self.pool.begin().await?;
        let conv = locked_conversation(&mut tx, conversation).await?;
        let Some(team) = conv.team.clone() else { return Ok(None) };
        if conv.assignee_id.is_some() || !conv.status.is_active() {
            return Ok(None);
        }
        let team_row = sqlx::query("SELECT id, assignment_policy FROM teams WHERE name = $1")
            .bind(&team)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(team_row) = team_row else { return Ok(None) };
        let tid: Uuid = team_row.try_get("id")?;
        let policy = parse(&team_row, "assignment_policy")?;
        // Lock the team's members: concurrent assignments in this team wait, so loads are exact.
        sqlx::query("SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id FOR UPDATE")
            .bind(tid)
            .fetch_all(&mut *tx)
            .await?;
        let ms: Vec<TeamMember> = sqlx::query(&format!("{MEMBER_SQL} WHERE m.team_id = $1 ORDER BY m.user_id"))
            .bind(tid)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(member_from_row)
            .collect::<Result<_>>()?;
        let loads = sqlx::query(
            "SELECT assignee_id, COUNT(*) FILTER (WHERE channel = $2) AS on_channel, COUNT(*) AS total FROM conversations \
             WHERE assignee_id = ANY($1) AND status IN ('open', 'pending', 'snoozed') GROUP BY assignee_id",
        )
        .bind(ms.iter().map(|m| m.user_id.0).collect::<Vec<_>>())
        .bind(conv.channel.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let load_of = |u: UserId| -> Result<(u32, u32)> {
            for r in &loads {
                if r.try_get::<Uuid, _>("assignee_id")? == u.0 {
                    return Ok((r.try_get::<i64, _>("on_channel")? as u32, r.try_get::<i64, _>("total")? as u32));
                }
            }
            Ok((0, 0))
        };
        let mut candidates = Vec::with_capacity(ms.len());
        for m in ms {
            let (on_channel, total) = load_of(m.user_id)?;
            candidates.push(Candidate {
                user_id: m.user_id,
                availability: m.availability,
                capacity: capacity_for(&m.capacity, conv.channel.as_str()),
                skills: m.skills,
                open_on_channel: on_channel,
                open_total: total,
                last_assigned_at: m.last_assigned_at,
            });
        }
        let req = RouteRequest { channel: conv.channel.as_str(), language, intent };
        let Some(chosen) = choose_agent(policy, &candidates, &req) else { return Ok(None) };
        let patch = ConversationPatch { assignee_id: Some(Some(chosen)), ..Default::default() };
        apply_patch(&mut tx, conversation, &patch, Some(AUTOMATION_USER), at).await?;
        sqlx::query("UPDATE team_members SET last_assigned_at = $3 WHERE team_id = $1 AND user_id = $2")
            .bind(tid)
            .bind(chosen.0)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(chosen))
    }

    async fn put_calendar(&self, name: &str, spec: &CalendarSpec) -> Result<CalendarRecord> {
        check_name("calendar name", name)?;
        let row = sqlx::query(
            "INSERT INTO calendars (name, spec, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, updated_at = EXCLUDED.updated_at \
             RETURNING name, spec, created_at, updated_at",
        )
        .bind(name)
        .bind(serde_json::to_string(spec)?)
        .bind(crate::now_micros())
        .fetch_one(&self.pool)
        .await?;
        calendar_from_row(&row)
    }

    async fn get_calendar(&self, name: &str) -> Result<Option<CalendarRecord>> {
        sqlx::query("SELECT name, spec, created_at, updated_at FROM calendars WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(calendar_from_row)
            .transpose()
    }

    async fn list_calendars(&self) -> Result<Vec<CalendarRecord>> {
        sqlx::query("SELECT name, spec, created_at, updated_at FROM calendars ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(calendar_from_row)
            .collect()
    }

    async fn delete_calendar(&self, name: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let used: Option<String> =
            sqlx::query_scalar("SELECT name FROM teams WHERE calendar = $1 ORDER BY name LIMIT 1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(team) = used {
            return Err(StoreError::Conflict(format!("calendar {name:?} is used by team {team:?}")));
        }
        let n =
            sqlx::query("DELETE FROM calendars WHERE name = $1").bind(name).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        if n == 0 { Err(StoreError::NotFound("calendar")) } else { Ok(()) }
    }

    async fn create_sla_policy(&self, position: i32, p: &SlaPolicy) -> Result<SlaPolicyRecord> {
        SLA_POLICIES.create(self, position, &p.name, serde_json::to_string(p)?).await
    }

    async fn update_sla_policy(&self, id: Uuid, position: i32, p: &SlaPolicy) -> Result<SlaPolicyRecord> {
        SLA_POLICIES.update(self, id, position, &p.name, serde_json::to_string(p)?).await
    }

    async fn delete_sla_policy(&self, id: Uuid) -> Result<()> {
        SLA_POLICIES.delete(self, id).await
    }

    async fn list_sla_policies(&self) -> Result<Vec<SlaPolicyRecord>> {
        SLA_POLICIES.list(self).await
    }

    async fn create_rule(&self, position: i32, r: &Rule) -> Result<RuleRecord> {
        RULES.create(self, position, &r.name, serde_json::to_string(r)?).await
    }

    async fn update_rule(&self, id: Uuid, position: i32, r: &Rule) -> Result<RuleRecord> {
        RULES.update(self, id, position, &r.name, serde_json::to_string(r)?).await
    }

    async fn delete_rule(&self, id: Uuid) -> Result<()> {
        RULES.delete(self, id).await
    }

    async fn list_rules(&self) -> Result<Vec<RuleRecord>> {
        RULES.list(self).await
    }

    async fn create_canned(&self, c: &CannedInput) -> Result<CannedReply> {
        check_canned(c)?;
        let mut tx = self.pool.begin().await?;
        let tid = match c.team.as_deref() {
            Some(t) => Some(team_id(&mut tx, t).await?),
            None => None,
        };
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO canned_replies (id, shortcut, title, team_id, variants, usage_count, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
        )
        .bind(id)
        .bind(&c.shortcut)
        .bind(&c.title)
        .bind(tid)
        .bind(serde_json::to_string(&c.variants)?)
        .bind(crate::now_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique(e, || format!("shortcut {:?} exists", c.shortcut)))?;
        tx.commit().await?;
        self.canned_by_id(id).await?.ok_or(StoreError::NotFound("canned reply"))
    }

    async fn update_canned(&self, id: Uuid, c: &CannedInput) -> Result<CannedReply> {
        check_canned(c)?;
        let mut tx = self.pool.begin().await?;
        let tid = match c.team.as_deref() {
            Some(t) => Some(team_id(&mut tx, t).await?),
            None => None,
        };
        let n = sqlx::query(
            "UPDATE canned_replies SET shortcut = $2, title = $3, team_id = $4, variants = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(&c.shortcut)
        .bind(&c.title)
        .bind(tid)
        .bind(serde_json::to_string(&c.variants)?)
        .bind(crate::now_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique(e, || format!("shortcut {:?} exists", c.shortcut)))?
        .rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Err(StoreError::NotFound("canned reply"));
        }
        self.canned_by_id(id).await?.ok_or(StoreError::NotFound("canned reply"))
    }

    async fn delete_canned(&self, id: Uuid) -> Result<()> {
        let n =
            sqlx::query("DELETE FROM canned_replies WHERE id = $1").bind(id).execute(&self.pool).await?.rows_affected();
        if n == 0 { Err(StoreError::NotFound("canned reply")) } else { Ok(()) }
    }

    async fn list_canned(&self, team: Option<&str>) -> Result<Vec<CannedReply>> {
        sqlx::query(&format!(
            "{CANNED_SQL} WHERE c.team_id IS NULL OR t.name = $1 ORDER BY c.shortcut, t.name IS NOT NULL"
        ))
        .bind(team)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(canned_from_row)
        .collect()
    }

    async fn get_canned(&self, id: Uuid) -> Result<Option<CannedReply>> {
        self.canned_by_id(id).await
    }

    async fn find_canned(&self, shortcut: &str, team: Option<&str>) -> Result<Option<CannedReply>> {
        sqlx::query(&format!(
            "{CANNED_SQL} WHERE c.shortcut = $1 AND (c.team_id IS NULL OR t.name = $2) ORDER BY c.team_id IS NULL LIMIT 1"
        ))
        .bind(shortcut)
        .bind(team)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(canned_from_row)
        .transpose()
    }

    async fn count_canned_use(&self, id: Uuid) -> Result<()> {
        let n = sqlx::query("UPDATE canned_replies SET usage_count = usage_count + 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 { Err(StoreError::NotFound("canned reply")) } else { Ok(()) }
    }

    async fn claim_routing_work(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ConversationId>> {
        // The upsert re-checks the lease on the row it conflicts with (after waiting for a
        // concurrent claimer to commit), so two nodes never both get a conversation.
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "WITH cand AS ( \
               SELECT c.id FROM conversations c LEFT JOIN routing_state r ON r.conversation_id = c.id \
               WHERE (r.conversation_id IS NULL OR r.synced_at IS NULL OR c.updated_at <> r.synced_at) \
               AND (r.lease_until IS NULL OR r.lease_until < $1) ORDER BY c.updated_at LIMIT $3) \
             INSERT INTO routing_state (conversation_id, lease_until) SELECT id, $2 FROM cand \
             ON CONFLICT (conversation_id) DO UPDATE SET lease_until = EXCLUDED.lease_until \
             WHERE routing_state.lease_until IS NULL OR routing_state.lease_until < $1 \
             RETURNING conversation_id",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(ConversationId).collect())
    }

    async fn defer_routing(&self, id: ConversationId, until: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE routing_state SET lease_until = $2 WHERE conversation_id = $1")
            .bind(id.0)
            .bind(until)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get_routing_state(&self, id: ConversationId) -> Result<Option<RoutingState>> {
        let row = sqlx::query(
            "SELECT synced_at, seen_message_at, policy, clocks, auto_resolve_hours FROM routing_state WHERE conversation_id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(RoutingState {
                conversation_id: id,
                synced_at: r.try_get("synced_at")?,
                seen_message_at: r.try_get("seen_message_at")?,
                policy: r.try_get("policy")?,
                clocks: json(&r, "clocks")?,
                auto_resolve_hours: r.try_get::<Option<i32>, _>("auto_resolve_hours")?.map(|h| h.max(0) as u32),
            })
        })
        .transpose()
    }

    async fn save_routing_state(&self, st: &RoutingState, timers: &[TimerSpec]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO routing_state (conversation_id, synced_at, seen_message_at, lease_until, policy, clocks, auto_resolve_hours) \
             VALUES ($1, $2, $3, NULL, $4, $5, $6) ON CONFLICT (conversation_id) DO UPDATE SET synced_at = EXCLUDED.synced_at, \
             seen_message_at = EXCLUDED.seen_message_at, lease_until = NULL, policy = EXCLUDED.policy, clocks = EXCLUDED.clocks, \
             auto_resolve_hours = EXCLUDED.auto_resolve_hours",
        )
        .bind(st.conversation_id.0)
        .bind(st.synced_at)
        .bind(st.seen_message_at)
        .bind(&st.policy)
        .bind(serde_json::to_string(&st.clocks)?)
        .bind(st.auto_resolve_hours.map(|h| h.min(i32::MAX as u32) as i32))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sla_timers WHERE conversation_id = $1 AND fired_at IS NULL")
            .bind(st.conversation_id.0)
            .execute(&mut *tx)
            .await?;
        for t in timers {
            sqlx::query(
                "INSERT INTO sla_timers (id, conversation_id, metric, cycle, kind, action, fire_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (conversation_id, metric, cycle, kind) DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(st.conversation_id.0)
            .bind(t.metric.as_str())
            .bind(t.cycle)
            .bind(t.kind.as_str())
            .bind(t.action.as_ref().map(serde_json::to_string).transpose()?)
            .bind(t.fire_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fire_due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<FiredTimer>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE sla_timers SET fired_at = $1 WHERE id IN ( \
               SELECT t.id FROM sla_timers t WHERE t.fired_at IS NULL AND t.fire_at <= $1 \
               AND EXISTS (SELECT 1 FROM routing_state r JOIN conversations c ON c.id = r.conversation_id \
                           WHERE r.conversation_id = t.conversation_id AND r.synced_at = c.updated_at) \
               ORDER BY t.fire_at LIMIT $2 FOR UPDATE OF t SKIP LOCKED) \
             RETURNING id, conversation_id, metric, cycle, kind, action, fire_at",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: Uuid = r.try_get("id")?;
            let (Ok(metric), Some(kind)) =
                (parse::<SlaMetric>(r, "metric"), SlaTimerKind::parse(&r.try_get::<String, _>("kind")?))
            else {
                tracing::warn!(timer = %id, "unreadable SLA timer skipped");
                continue;
            };
            let action: Option<String> = r.try_get("action")?;
            let action = action.map(|a| serde_json::from_str(&a)).transpose()?;
            let fire_at: DateTime<Utc> = r.try_get("fire_at")?;
            due.push((
                ConversationId(r.try_get("conversation_id")?),
                metric,
                r.try_get::<i32, _>("cycle")?,
                kind,
                action,
                fire_at,
            ));
        }
        due.sort_by_key(|d| (d.5, d.0));
        let mut fired = Vec::with_capacity(due.len());
        for (conv_id, metric, cycle, kind, action, fire_at) in due {
            let cur = locked_conversation(&mut tx, conv_id).await?;
            let (fact, data) = fact_for_timer(metric, cycle, kind, action.as_ref(), fire_at);
            add_fact(&mut tx, conv_id, fact, Some(AUTOMATION_USER), data, now).await?;
            if let Some(p) = patch_for_timer(kind, action.as_ref(), &cur) {
                apply_patch(&mut tx, conv_id, &p, Some(AUTOMATION_USER), now).await?;
            }
            fired.push(FiredTimer {
                conversation_id: conv_id,
                case_number: cur.case_number,
                metric,
                cycle,
                kind,
                action,
                fire_at,
            });
        }
        tx.commit().await?;
        Ok(fired)
    }

    async fn post_automatic_reply(&self, msg: &NewMessage) -> Result<(Message, bool)> {
        let mut msg = msg.clone();
        msg.author_id = AUTOMATION_USER;
        let (m, created) = Store::post_message(self, &msg).await?;
        // An automatic reply is no answer from the team: undo its first-response mark. Keyed by
        // the message, so a retry after a crash between the two transactions repairs it.
        let mut tx = self.pool.begin().await?;
        let undone = sqlx::query(
            "DELETE FROM conversation_facts WHERE conversation_id = $1 AND kind = $2 AND (data::jsonb ->> 'message_id') = $3",
        )
        .bind(m.conversation_id.0)
        .bind(FactKind::FirstResponse.as_str())
        .bind(m.id.0.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if undone > 0 {
            sqlx::query("UPDATE conversations SET first_response_at = NULL WHERE id = $1")
                .bind(m.conversation_id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((m, created))
    }

    async fn get_contact_attributes(&self, contact: ContactId) -> Result<BTreeMap<String, String>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM contact_attributes WHERE contact_id = $1 ORDER BY key")
                .bind(contact.0)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    async fn set_contact_attributes(&self, contact: ContactId, attrs: &BTreeMap<String, String>) -> Result<()> {
        check_attributes(attrs)?;
        let mut tx = self.pool.begin().await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM contacts WHERE id = $1)")
            .bind(contact.0)
            .fetch_one(&mut *tx)
            .await?;
        if !exists {
            return Err(StoreError::NotFound("contact"));
        }
        sqlx::query("DELETE FROM contact_attributes WHERE contact_id = $1").bind(contact.0).execute(&mut *tx).await?;
        for (k, v) in attrs {
            sqlx::query("INSERT INTO contact_attributes (contact_id, key, value) VALUES ($1, $2, $3)")
                .bind(contact.0)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_routing_fact(
        &self,
        id: ConversationId,
        kind: FactKind,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        add_fact(&mut tx, id, kind, Some(AUTOMATION_USER), data, at).await?;
        tx.commit().await?;
        Ok(())
    }
}
