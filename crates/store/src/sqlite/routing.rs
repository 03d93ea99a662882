//! [`RoutingStore`] on SQLite. Its single writer serialises every write job, so assignment and
//! timer firing are race-free without row locks.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::automation::Rule;
use switchboard_domain::calendar::CalendarSpec;
use switchboard_domain::routing::{Availability, Candidate, RouteRequest, choose_agent};
use switchboard_domain::sla::{SlaMetric, SlaPolicy, SlaTimerKind};
use switchboard_domain::{CaseNumber, ContactId, ConversationId, ConversationPatch, FactKind, Message, UserId};
use uuid::Uuid;

use super::{SqliteStore, add_fact, apply_patch, from_ts, get_conversation, json_col, parse_col, post_message_tx, ts};
use crate::routing::{
    AUTOMATION_USER, CalendarRecord, CannedInput, CannedReply, FiredTimer, MemberInput, RoutingState, RoutingStore,
    RuleRecord, SlaPolicyRecord, Team, TeamInput, TeamMember, TimerSpec, capacity_for, check_attributes, check_canned,
    check_name, fact_for_timer, patch_for_timer,
};
use crate::{NewMessage, Result, StoreError};

/// Removes a conversation's first-response fact. `+kind`: through the conversation's own facts,
/// not every first response ever recorded (`conversation_facts_kind`).
pub(super) const DROP_FIRST_RESPONSE: &str = "DELETE FROM conversation_facts WHERE conversation_id = ?1 AND +kind = ?2";

fn unique(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(what())
        }
        other => other.into(),
    }
}

const TEAM_COLS: &str = "id, name, description, assignment_policy, calendar, created_at, updated_at";

fn team_from_row(r: &Row<'_>) -> rusqlite::Result<Team> {
    Ok(Team {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        assignment_policy: parse_col(r, 3)?,
        calendar: r.get(4)?,
        created_at: from_ts(r.get(5)?),
        updated_at: from_ts(r.get(6)?),
    })
}

fn team_id(c: &Connection, name: &str) -> Result<Uuid> {
    c.prepare_cached("SELECT id FROM teams WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound("team"))
}

fn check_calendar(c: &Connection, cal: Option<&str>) -> Result<()> {
    if let Some(cal) = cal {
        let ok: bool = c.query_row("SELECT EXISTS(SELECT 1 FROM calendars WHERE name = ?1)", [cal], |r| r.get(0))?;
        if !ok {
            return Err(StoreError::Invalid(format!("no calendar named {cal:?}")));
        }
    }
    Ok(())
}

const MEMBER_SQL: &str = "SELECT t.name, m.user_id, u.name, m.role, m.skills, m.capacity, \
    COALESCE(a.availability, 'offline'), m.last_assigned_at \
    FROM team_members m JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id \
    LEFT JOIN agent_availability a ON a.user_id = m.user_id";

fn member_from_row(r: &Row<'_>) -> rusqlite::Result<TeamMember> {
    Ok(TeamMember {
        team: r.get(0)?,
        user_id: UserId(r.get(1)?),
        name: r.get(2)?,
        role: parse_col(r, 3)?,
        skills: json_col(r, 4)?,
        capacity: json_col(r, 5)?,
        availability: parse_col(r, 6)?,
        last_assigned_at: r.get::<_, Option<i64>>(7)?.map(from_ts),
    })
}

fn members(c: &Connection, team: &str) -> Result<Vec<TeamMember>> {
    Ok(c.prepare_cached(&format!("{MEMBER_SQL} WHERE t.name = ?1 ORDER BY u.name, m.user_id"))?
        .query_map([team], member_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

fn calendar_from_row(r: &Row<'_>) -> rusqlite::Result<CalendarRecord> {
    Ok(CalendarRecord {
        name: r.get(0)?,
        spec: json_col(r, 1)?,
        created_at: from_ts(r.get(2)?),
        updated_at: from_ts(r.get(3)?),
    })
}

fn policy_from_row(r: &Row<'_>) -> rusqlite::Result<SlaPolicyRecord> {
    Ok(SlaPolicyRecord { id: r.get(0)?, position: r.get(1)?, policy: json_col(r, 2)?, updated_at: from_ts(r.get(3)?) })
}

fn rule_from_row(r: &Row<'_>) -> rusqlite::Result<RuleRecord> {
    Ok(RuleRecord { id: r.get(0)?, position: r.get(1)?, rule: json_col(r, 2)?, updated_at: from_ts(r.get(3)?) })
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
    from_row: fn(&Row<'_>) -> rusqlite::Result<R>,
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

impl<R: Send + 'static> OrderedDocs<R> {
    fn taken(&'static self, name: String) -> impl FnOnce() -> String {
        move || format!("{} named {name:?} exists", self.a_what)
    }

    fn get(&self, c: &Connection, id: Uuid) -> Result<R> {
        let sql = format!("SELECT id, position, {}, updated_at FROM {} WHERE id = ?1", self.column, self.table);
        Ok(c.query_row(&sql, [id], self.from_row)?)
    }

    async fn create(&'static self, st: &SqliteStore, position: i32, name: String, doc: String) -> Result<R> {
        st.conns
            .write(move |c| {
                let id = Uuid::now_v7();
                let sql = format!(
                    "INSERT INTO {} (id, position, name, {}, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    self.table, self.column
                );
                c.execute(&sql, params![id, position, name, doc, ts(crate::now_micros())])
                    .map_err(|e| unique(e, self.taken(name)))?;
                self.get(c, id)
            })
            .await
    }

    async fn update(&'static self, st: &SqliteStore, id: Uuid, position: i32, name: String, doc: String) -> Result<R> {
        st.conns
            .write(move |c| {
                let sql = format!(
                    "UPDATE {} SET position = ?2, name = ?3, {} = ?4, updated_at = ?5 WHERE id = ?1",
                    self.table, self.column
                );
                let n = c
                    .execute(&sql, params![id, position, name, doc, ts(crate::now_micros())])
                    .map_err(|e| unique(e, self.taken(name)))?;
                if n == 0 {
                    return Err(StoreError::NotFound(self.what));
                }
                self.get(c, id)
            })
            .await
    }

    async fn delete(&'static self, st: &SqliteStore, id: Uuid) -> Result<()> {
        st.conns
            .write(move |c| {
                let n = c.execute(&format!("DELETE FROM {} WHERE id = ?1", self.table), [id])?;
                if n == 0 { Err(StoreError::NotFound(self.what)) } else { Ok(()) }
            })
            .await
    }

    async fn list(&'static self, st: &SqliteStore) -> Result<Vec<R>> {
        st.conns
            .read(move |c| {
                let sql = format!(
                    "SELECT id, position, {}, updated_at FROM {} ORDER BY position, name",
                    self.column, self.table
                );
                Ok(c.prepare_cached(&sql)?.query_map([], self.from_row)?.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }
}

const CANNED_SQL: &str = "SELECT c.id, c.shortcut, c.title, t.name, c.variants, c.usage_count, c.created_at, c.updated_at \
    FROM canned_replies c LEFT JOIN teams t ON t.id = c.team_id";

fn canned_from_row(r: &Row<'_>) -> rusqlite::Result<CannedReply> {
    Ok(CannedReply {
        id: r.get(0)?,
        shortcut: r.get(1)?,
        title: r.get(2)?,
        team: r.get(3)?,
        variants: json_col(r, 4)?,
        usage_count: r.get(5)?,
        created_at: from_ts(r.get(6)?),
        updated_at: from_ts(r.get(7)?),
    })
}

fn canned_team(c: &Connection, input: &CannedInput) -> Result<Option<Uuid>> {
    input.team.as_deref().map(|t| team_id(c, t)).transpose()
}

fn get_canned(c: &Connection, id: Uuid) -> Result<Option<CannedReply>> {
    Ok(c.prepare_cached(&format!("{CANNED_SQL} WHERE c.id = ?1"))?.query_row([id], canned_from_row).optional()?)
}

#[async_trait]
impl RoutingStore for SqliteStore {
    async fn create_team(&self, t: &TeamInput) -> Result<Team> {
        check_name("team name", &t.name)?;
        let t = t.clone();
        self.conns
            .write(move |c| {
                check_calendar(c, t.calendar.as_deref())?;
                let now = ts(crate::now_micros());
                c.execute(
                    "INSERT INTO teams (id, name, description, assignment_policy, calendar, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![Uuid::now_v7(), t.name, t.description, t.assignment_policy.as_str(), t.calendar, now],
                )
                .map_err(|e| unique(e, || format!("a team named {:?} exists", t.name)))?;
                Ok(c.query_row(&format!("SELECT {TEAM_COLS} FROM teams WHERE name = ?1"), [&t.name], team_from_row)?)
            })
            .await
    }

    async fn update_team(&self, name: &str, t: &TeamInput) -> Result<Team> {
        check_name("team name", &t.name)?;
        let (name, t) = (name.to_owned(), t.clone());
        self.conns
            .write(move |c| {
                let id = team_id(c, &name)?;
                check_calendar(c, t.calendar.as_deref())?;
                let now = crate::now_micros();
                c.execute(
                    "UPDATE teams SET name = ?2, description = ?3, assignment_policy = ?4, calendar = ?5, updated_at = ?6 WHERE id = ?1",
                    params![id, t.name, t.description, t.assignment_policy.as_str(), t.calendar, ts(now)],
                )
                .map_err(|e| unique(e, || format!("a team named {:?} exists", t.name)))?;
                if t.name != name {
                    // Conversations name their team: move them along (no fact: nobody changed them).
                    c.execute("UPDATE conversations SET team = ?2 WHERE team = ?1", params![name, t.name])?;
                }
                Ok(c.query_row(&format!("SELECT {TEAM_COLS} FROM teams WHERE id = ?1"), [id], team_from_row)?)
            })
            .await
    }

    async fn delete_team(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.conns
            .write(move |c| {
                let id = team_id(c, &name)?;
                c.execute("DELETE FROM team_members WHERE team_id = ?1", [id])?;
                c.execute("DELETE FROM canned_replies WHERE team_id = ?1", [id])?;
                c.execute("DELETE FROM teams WHERE id = ?1", [id])?;
                Ok(())
            })
            .await
    }

    async fn list_teams(&self) -> Result<Vec<Team>> {
        self.conns
            .read(|c| {
                Ok(c.prepare_cached(&format!("SELECT {TEAM_COLS} FROM teams ORDER BY name"))?
                    .query_map([], team_from_row)?
                    .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn get_team(&self, name: &str) -> Result<Option<Team>> {
        let name = name.to_owned();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!("SELECT {TEAM_COLS} FROM teams WHERE name = ?1"))?
                    .query_row([name], team_from_row)
                    .optional()?)
            })
            .await
    }

    async fn put_team_member(&self, team: &str, user: UserId, m: &MemberInput) -> Result<TeamMember> {
        let (team, m) = (team.to_owned(), m.clone());
        self.conns
            .write(move |c| {
                let tid = team_id(c, &team)?;
                let exists: bool =
                    c.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1)", [user.0], |r| r.get(0))?;
                if !exists {
                    return Err(StoreError::Invalid(format!("no user {user}")));
                }
                c.execute(
                    "INSERT INTO team_members (team_id, user_id, role, skills, capacity, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role, skills = excluded.skills, capacity = excluded.capacity",
                    params![
                        tid,
                        user.0,
                        m.role.as_str(),
                        serde_json::to_string(&m.skills)?,
                        serde_json::to_string(&m.capacity)?,
                        ts(crate::now_micros())
                    ],
                )?;
                Ok(c.query_row(
                    &format!("{MEMBER_SQL} WHERE m.team_id = ?1 AND m.user_id = ?2"),
                    params![tid, user.0],
                    member_from_row,
                )?)
            })
            .await
    }

    async fn remove_team_member(&self, team: &str, user: UserId) -> Result<()> {
        let team = team.to_owned();
        self.conns
            .write(move |c| {
                let tid = team_id(c, &team)?;
                let n =
                    c.execute("DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2", params![tid, user.0])?;
                if n == 0 { Err(StoreError::NotFound("team member")) } else { Ok(()) }
            })
            .await
    }

    async fn list_team_members(&self, team: &str) -> Result<Vec<TeamMember>> {
        let team = team.to_owned();
        self.conns
            .read(move |c| {
                team_id(c, &team)?;
                members(c, &team)
            })
            .await
    }

    async fn get_availability(&self, user: UserId) -> Result<Availability> {
        self.conns
            .read(move |c| {
                let a: Option<String> = c
                    .prepare_cached("SELECT availability FROM agent_availability WHERE user_id = ?1")?
                    .query_row([user.0], |r| r.get(0))
                    .optional()?;
                Ok(a.and_then(|s| s.parse().ok()).unwrap_or(Availability::Offline))
            })
            .await
    }

    async fn set_availability(
        &self,
        user: UserId,
        a: Availability,
        at: DateTime<Utc>,
    ) -> Result<Vec<(ConversationId, CaseNumber)>> {
        self.conns
            .write(move |c| {
                let exists: bool =
                    c.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1)", [user.0], |r| r.get(0))?;
                if !exists {
                    return Err(StoreError::NotFound("user"));
                }
                c.execute(
                    "INSERT INTO agent_availability (user_id, availability, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (user_id) DO UPDATE SET availability = excluded.availability, updated_at = excluded.updated_at",
                    params![user.0, a.as_str(), ts(at)],
                )?;
                if a != Availability::Offline {
                    return Ok(Vec::new());
                }
                let open: Vec<(ConversationId, CaseNumber)> = c
                    .prepare_cached(
                        "SELECT id, case_number FROM conversations WHERE assignee_id = ?1 AND status IN ('open', 'pending', 'snoozed') ORDER BY id",
                    )?
                    .query_map([user.0], |r| Ok((ConversationId(r.get(0)?), CaseNumber(r.get(1)?))))?
                    .collect::<rusqlite::Result<_>>()?;
                let unassign = ConversationPatch { assignee_id: Some(None), ..Default::default() };
                for (id, _) in &open {
                    apply_patch(c, *id, &unassign, Some(AUTOMATION_USER), at)?;
                }
                Ok(open)
            })
            .await
    }

    async fn assign_next(
        &self,
        conversation: ConversationId,
        language: Option<&str>,
        intent: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<UserId>> {
        let (language, intent) = (language.map(str::to_owned), intent.map(str::to_owned));
        self.conns
            .write(move |c| {
                let conv = get_conversation(c, conversation)?.ok_or(StoreError::NotFound("conversation"))?;
                let Some(team) = conv.team.clone() else { return Ok(None) };
                if conv.assignee_id.is_some() || !conv.status.is_active() {
                    return Ok(None);
                }
                let policy: Option<String> = c
                    .prepare_cached("SELECT assignment_policy FROM teams WHERE name = ?1")?
                    .query_row([&team], |r| r.get(0))
                    .optional()?;
                let Some(policy) = policy.and_then(|p| p.parse().ok()) else { return Ok(None) };
                let ms = members(c, &team)?;
                let mut candidates = Vec::with_capacity(ms.len());
                for m in ms {
                    let (on_channel, total): (i64, i64) = c
                        .prepare_cached(
                            "SELECT COALESCE(SUM(channel = ?2), 0), COUNT(*) FROM conversations \
                             WHERE assignee_id = ?1 AND status IN ('open', 'pending', 'snoozed')",
                        )?
                        .query_row(params![m.user_id.0, conv.channel.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    candidates.push(Candidate {
                        user_id: m.user_id,
                        availability: m.availability,
                        capacity: capacity_for(&m.capacity, conv.channel.as_str()),
                        skills: m.skills,
                        open_on_channel: on_channel as u32,
                        open_total: total as u32,
                        last_assigned_at: m.last_assigned_at,
                    });
                }
                let req =
                    RouteRequest { channel: conv.channel.as_str(), language: language.as_deref(), intent: intent.as_deref() };
                let Some(chosen) = choose_agent(policy, &candidates, &req) else { return Ok(None) };
                let patch = ConversationPatch { assignee_id: Some(Some(chosen)), ..Default::default() };
                apply_patch(c, conversation, &patch, Some(AUTOMATION_USER), at)?;
                c.execute(
                    "UPDATE team_members SET last_assigned_at = ?3 WHERE user_id = ?1 AND team_id = (SELECT id FROM teams WHERE name = ?2)",
                    params![chosen.0, team, ts(at)],
                )?;
                Ok(Some(chosen))
            })
            .await
    }

    async fn put_calendar(&self, name: &str, spec: &CalendarSpec) -> Result<CalendarRecord> {
        check_name("calendar name", name)?;
        let (name, spec) = (name.to_owned(), serde_json::to_string(spec)?);
        self.conns
            .write(move |c| {
                let now = ts(crate::now_micros());
                c.execute(
                    "INSERT INTO calendars (name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
                     ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
                    params![name, spec, now],
                )?;
                Ok(c.query_row(
                    "SELECT name, spec, created_at, updated_at FROM calendars WHERE name = ?1",
                    [&name],
                    calendar_from_row,
                )?)
            })
            .await
    }

    async fn get_calendar(&self, name: &str) -> Result<Option<CalendarRecord>> {
        let name = name.to_owned();
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached("SELECT name, spec, created_at, updated_at FROM calendars WHERE name = ?1")?
                    .query_row([name], calendar_from_row)
                    .optional()?)
            })
            .await
    }

    async fn list_calendars(&self) -> Result<Vec<CalendarRecord>> {
        self.conns
            .read(|c| {
                Ok(c.prepare_cached("SELECT name, spec, created_at, updated_at FROM calendars ORDER BY name")?
                    .query_map([], calendar_from_row)?
                    .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn delete_calendar(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.conns
            .write(move |c| {
                let used: Option<String> = c
                    .query_row("SELECT name FROM teams WHERE calendar = ?1 ORDER BY name LIMIT 1", [&name], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(team) = used {
                    return Err(StoreError::Conflict(format!("calendar {name:?} is used by team {team:?}")));
                }
                let n = c.execute("DELETE FROM calendars WHERE name = ?1", [&name])?;
                if n == 0 { Err(StoreError::NotFound("calendar")) } else { Ok(()) }
            })
            .await
    }

    async fn create_sla_policy(&self, position: i32, p: &SlaPolicy) -> Result<SlaPolicyRecord> {
        SLA_POLICIES.create(self, position, p.name.clone(), serde_json::to_string(p)?).await
    }

    async fn update_sla_policy(&self, id: Uuid, position: i32, p: &SlaPolicy) -> Result<SlaPolicyRecord> {
        SLA_POLICIES.update(self, id, position, p.name.clone(), serde_json::to_string(p)?).await
    }

    async fn delete_sla_policy(&self, id: Uuid) -> Result<()> {
        SLA_POLICIES.delete(self, id).await
    }

    async fn list_sla_policies(&self) -> Result<Vec<SlaPolicyRecord>> {
        SLA_POLICIES.list(self).await
    }

    async fn create_rule(&self, position: i32, r: &Rule) -> Result<RuleRecord> {
        RULES.create(self, position, r.name.clone(), serde_json::to_string(r)?).await
    }

    async fn update_rule(&self, id: Uuid, position: i32, r: &Rule) -> Result<RuleRecord> {
        RULES.update(self, id, position, r.name.clone(), serde_json::to_string(r)?).await
    }

    async fn delete_rule(&self, id: Uuid) -> Result<()> {
        RULES.delete(self, id).await
    }

    async fn list_rules(&self) -> Result<Vec<RuleRecord>> {
        RULES.list(self).await
    }

    async fn create_canned(&self, input: &CannedInput) -> Result<CannedReply> {
        check_canned(input)?;
        let input = input.clone();
        self.conns
            .write(move |c| {
                let tid = canned_team(c, &input)?;
                let id = Uuid::now_v7();
                c.execute(
                    "INSERT INTO canned_replies (id, shortcut, title, team_id, variants, usage_count, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)",
                    params![id, input.shortcut, input.title, tid, serde_json::to_string(&input.variants)?, ts(crate::now_micros())],
                )
                .map_err(|e| unique(e, || format!("shortcut {:?} exists", input.shortcut)))?;
                get_canned(c, id)?.ok_or(StoreError::NotFound("canned reply"))
            })
            .await
    }

    async fn update_canned(&self, id: Uuid, input: &CannedInput) -> Result<CannedReply> {
        check_canned(input)?;
        let input = input.clone();
        self.conns
            .write(move |c| {
                let tid = canned_team(c, &input)?;
                let n = c
                    .execute(
                        "UPDATE canned_replies SET shortcut = ?2, title = ?3, team_id = ?4, variants = ?5, updated_at = ?6 WHERE id = ?1",
                        params![id, input.shortcut, input.title, tid, serde_json::to_string(&input.variants)?, ts(crate::now_micros())],
                    )
                    .map_err(|e| unique(e, || format!("shortcut {:?} exists", input.shortcut)))?;
                if n == 0 {
                    return Err(StoreError::NotFound("canned reply"));
                }
                get_canned(c, id)?.ok_or(StoreError::NotFound("canned reply"))
            })
            .await
    }

    async fn delete_canned(&self, id: Uuid) -> Result<()> {
        self.conns
            .write(move |c| {
                let n = c.execute("DELETE FROM canned_replies WHERE id = ?1", [id])?;
                if n == 0 { Err(StoreError::NotFound("canned reply")) } else { Ok(()) }
            })
            .await
    }

    async fn list_canned(&self, team: Option<&str>) -> Result<Vec<CannedReply>> {
        let team = team.map(str::to_owned);
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "{CANNED_SQL} WHERE c.team_id IS NULL OR t.name = ?1 ORDER BY c.shortcut, t.name IS NOT NULL"
                ))?
                .query_map([team], canned_from_row)?
                .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn get_canned(&self, id: Uuid) -> Result<Option<CannedReply>> {
        self.conns.read(move |c| get_canned(c, id)).await
    }

    async fn find_canned(&self, shortcut: &str, team: Option<&str>) -> Result<Option<CannedReply>> {
        let (shortcut, team) = (shortcut.to_owned(), team.map(str::to_owned));
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(&format!(
                    "{CANNED_SQL} WHERE c.shortcut = ?1 AND (c.team_id IS NULL OR t.name = ?2) \
                     ORDER BY c.team_id IS NULL LIMIT 1"
                ))?
                .query_row(params![shortcut, team], canned_from_row)
                .optional()?)
            })
            .await
    }

    async fn count_canned_use(&self, id: Uuid) -> Result<()> {
        self.conns
            .write(move |c| {
                let n = c.execute("UPDATE canned_replies SET usage_count = usage_count + 1 WHERE id = ?1", [id])?;
                if n == 0 { Err(StoreError::NotFound("canned reply")) } else { Ok(()) }
            })
            .await
    }

    async fn claim_routing_work(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ConversationId>> {
        self.conns
            .write(move |c| {
                let ids: Vec<Uuid> = c
                    .prepare_cached(
                        "SELECT c.id FROM conversations c LEFT JOIN routing_state r ON r.conversation_id = c.id \
                         WHERE (r.conversation_id IS NULL OR r.synced_at IS NULL OR c.updated_at <> r.synced_at) \
                         AND (r.lease_until IS NULL OR r.lease_until < ?1) ORDER BY c.updated_at LIMIT ?2",
                    )?
                    .query_map(params![ts(now), limit as i64], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for id in &ids {
                    c.prepare_cached(
                        "INSERT INTO routing_state (conversation_id, lease_until) VALUES (?1, ?2) \
                         ON CONFLICT (conversation_id) DO UPDATE SET lease_until = excluded.lease_until",
                    )?
                    .execute(params![id, ts(lease_until)])?;
                }
                Ok(ids.into_iter().map(ConversationId).collect())
            })
            .await
    }

    async fn defer_routing(&self, id: ConversationId, until: DateTime<Utc>) -> Result<()> {
        self.conns
            .write(move |c| {
                c.prepare_cached("UPDATE routing_state SET lease_until = ?2 WHERE conversation_id = ?1")?
                    .execute(params![id.0, ts(until)])?;
                Ok(())
            })
            .await
    }

    async fn get_routing_state(&self, id: ConversationId) -> Result<Option<RoutingState>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT synced_at, seen_message_at, policy, clocks, auto_resolve_hours FROM routing_state WHERE conversation_id = ?1",
                )?
                .query_row([id.0], |r| {
                    Ok(RoutingState {
                        conversation_id: id,
                        synced_at: r.get::<_, Option<i64>>(0)?.map(from_ts),
                        seen_message_at: r.get::<_, Option<i64>>(1)?.map(from_ts),
                        policy: r.get(2)?,
                        clocks: json_col(r, 3)?,
                        auto_resolve_hours: r.get::<_, Option<u32>>(4)?,
                    })
                })
                .optional()?)
            })
            .await
    }

    async fn save_routing_state(&self, st: &RoutingState, timers: &[TimerSpec]) -> Result<()> {
        let (st, timers) = (st.clone(), timers.to_vec());
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO routing_state (conversation_id, synced_at, seen_message_at, lease_until, policy, clocks, auto_resolve_hours) \
                     VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6) ON CONFLICT (conversation_id) DO UPDATE SET synced_at = excluded.synced_at, \
                     seen_message_at = excluded.seen_message_at, lease_until = NULL, policy = excluded.policy, clocks = excluded.clocks, \
                     auto_resolve_hours = excluded.auto_resolve_hours",
                    params![
                        st.conversation_id.0,
                        st.synced_at.map(ts),
                        st.seen_message_at.map(ts),
                        st.policy,
                        serde_json::to_string(&st.clocks)?,
                        st.auto_resolve_hours
                    ],
                )?;
                c.execute("DELETE FROM sla_timers WHERE conversation_id = ?1 AND fired_at IS NULL", [st.conversation_id.0])?;
                for t in &timers {
                    c.prepare_cached(
                        "INSERT INTO sla_timers (id, conversation_id, metric, cycle, kind, action, fire_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                         ON CONFLICT (conversation_id, metric, cycle, kind) DO NOTHING",
                    )?
                    .execute(params![
                        Uuid::now_v7(),
                        st.conversation_id.0,
                        t.metric.as_str(),
                        t.cycle,
                        t.kind.as_str(),
                        t.action.as_ref().map(serde_json::to_string).transpose()?,
                        ts(t.fire_at)
                    ])?;
                }
                Ok(())
            })
            .await
    }

    async fn fire_due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<FiredTimer>> {
        self.conns
            .write(move |c| {
                type Due = (Uuid, Uuid, String, i32, String, Option<String>, i64);
                let due: Vec<Due> = c
                    .prepare_cached(
                        "SELECT id, conversation_id, metric, cycle, kind, action, fire_at FROM sla_timers \
                         WHERE fired_at IS NULL AND fire_at <= ?1 \
                         AND EXISTS (SELECT 1 FROM routing_state r JOIN conversations c ON c.id = r.conversation_id \
                                     WHERE r.conversation_id = sla_timers.conversation_id AND r.synced_at = c.updated_at) \
                         ORDER BY fire_at LIMIT ?2",
                    )?
                    .query_map(params![ts(now), limit as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                let mut fired = Vec::with_capacity(due.len());
                for (id, conv, metric, cycle, kind, action, fire_at) in due {
                    c.execute("UPDATE sla_timers SET fired_at = ?2 WHERE id = ?1", params![id, ts(now)])?;
                    let (Ok(metric), Some(kind)) = (metric.parse::<SlaMetric>(), SlaTimerKind::parse(&kind)) else {
                        tracing::warn!(timer = %id, "unreadable SLA timer skipped");
                        continue;
                    };
                    let action = action.map(|a| serde_json::from_str(&a)).transpose()?;
                    let conv_id = ConversationId(conv);
                    let Some(cur) = get_conversation(c, conv_id)? else { continue };
                    let fire_at = from_ts(fire_at);
                    let (fact, data) = fact_for_timer(metric, cycle, kind, action.as_ref(), fire_at);
                    add_fact(c, conv_id, fact, Some(AUTOMATION_USER), data, now)?;
                    if let Some(p) = patch_for_timer(kind, action.as_ref(), &cur) {
                        apply_patch(c, conv_id, &p, Some(AUTOMATION_USER), now)?;
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
                Ok(fired)
            })
            .await
    }

    async fn post_automatic_reply(&self, msg: &NewMessage) -> Result<(Message, bool)> {
        let mut msg = msg.clone();
        msg.author_id = AUTOMATION_USER;
        self.conns
            .write(move |c| {
                let before = get_conversation(c, msg.conversation_id)?.ok_or(StoreError::NotFound("conversation"))?;
                let (m, created) = post_message_tx(c, &msg)?;
                if created && before.first_response_at.is_none() {
                    // An automatic reply is no answer from the team: the first response is still owed.
                    c.execute("UPDATE conversations SET first_response_at = NULL WHERE id = ?1", [before.id.0])?;
                    c.execute(DROP_FIRST_RESPONSE, params![before.id.0, FactKind::FirstResponse.as_str()])?;
                }
                Ok((m, created))
            })
            .await
    }

    async fn get_contact_attributes(&self, contact: ContactId) -> Result<BTreeMap<String, String>> {
        self.conns
            .read(move |c| {
                Ok(c.prepare_cached("SELECT key, value FROM contact_attributes WHERE contact_id = ?1 ORDER BY key")?
                    .query_map([contact.0], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn set_contact_attributes(&self, contact: ContactId, attrs: &BTreeMap<String, String>) -> Result<()> {
        check_attributes(attrs)?;
        let attrs = attrs.clone();
        self.conns
            .write(move |c| {
                let exists: bool =
                    c.query_row("SELECT EXISTS(SELECT 1 FROM contacts WHERE id = ?1)", [contact.0], |r| r.get(0))?;
                if !exists {
                    return Err(StoreError::NotFound("contact"));
                }
                c.execute("DELETE FROM contact_attributes WHERE contact_id = ?1", [contact.0])?;
                for (k, v) in &attrs {
                    c.prepare_cached("INSERT INTO contact_attributes (contact_id, key, value) VALUES (?1, ?2, ?3)")?
                        .execute(params![contact.0, k, v])?;
                }
                Ok(())
            })
            .await
    }

    async fn record_routing_fact(
        &self,
        id: ConversationId,
        kind: FactKind,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.conns.write(move |c| add_fact(c, id, kind, Some(AUTOMATION_USER), data, at)).await
    }
}
