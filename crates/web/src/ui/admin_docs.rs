//! Admin pages for the settings kept as documents: SLA policies (targets per priority, warning,
//! escalation levels), business-hours calendars (weekly hours, holidays) and automation rules
//! (conditions and actions). Each is edited as the JSON document the REST API takes, checked by
//! the same domain validation (`SlaPolicy::validate`, `BusinessCalendar::new`, `RuleSet::compile`)
//! and the same store; a refused document is shown again with the reason and nothing changes.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::Role;
use switchboard_domain::automation::{Rule, RuleSet};
use switchboard_domain::calendar::{BusinessCalendar, CalendarSpec};
use switchboard_domain::sla::SlaPolicy;
use switchboard_store::{NewAuditEntry, StoreError};
use uuid::Uuid;

use super::admin::{Section, sections};
use super::form::{AdminForm, has_csrf};
use super::session::UiUser;
use super::{Chrome, audit, render, store_error};
use crate::AppState;

/// Which document list a page edits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sla,
    Calendars,
    Rules,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Sla => "sla",
            Kind::Calendars => "calendars",
            Kind::Rules => "rules",
        }
    }

    /// Audit action prefix.
    fn action(self) -> &'static str {
        match self {
            Kind::Sla => "sla_policy",
            Kind::Calendars => "calendar",
            Kind::Rules => "automation_rule",
        }
    }

    /// A starting document for the "new" form.
    fn example(self) -> &'static str {
        match self {
            Kind::Sla => {
                r#"{
  "name": "Urgent",
  "conditions": {"priorities": ["urgent"], "channels": [], "teams": [], "tiers": []},
  "first_response": {"minutes": 15, "basis": "calendar"},
  "next_response": {"minutes": 30, "basis": "calendar"},
  "resolution": {"minutes": 480, "basis": "business"},
  "warn_at_percent": 75,
  "escalations": [{"at_percent": 100, "action": {"type": "notify_supervisor"}}]
}"#
            }
            Kind::Calendars => {
                r#"{
  "time_zone": "Europe/Berlin",
  "always_open": false,
  "weekly": [{"day": "mon", "intervals": [{"start": "09:00", "end": "17:00"}]}],
  "special_dates": [{"date": "2026-12-25", "name": "Christmas Day", "intervals": []}]
}"#
            }
            Kind::Rules => {
                r#"{
  "name": "Refunds to billing",
  "enabled": true,
  "events": ["conversation_created"],
  "conditions": [{"field": "keywords", "any_of": ["refund"]}],
  "actions": [{"type": "assign_team", "team": "billing"}],
  "stop_processing": false
}"#
            }
        }
    }
}

/// One stored document on the page.
pub(crate) struct DocItem {
    id: String,
    title: String,
    position: i32,
    text: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_docs.html")]
struct DocsPage {
    c: Chrome,
    sections: Vec<Section>,
    kind: &'static str,
    title: String,
    hint: String,
    /// Calendars are named by the admin and have no order.
    named: bool,
    items: Vec<DocItem>,
    new_name: String,
    new_position: i32,
    new_text: String,
    new_error: Option<String>,
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn load(st: &AppState, kind: Kind) -> Result<Vec<DocItem>, StoreError> {
    let store = st.engine.store();
    let item =
        |id: String, title: String, position: i32, text: String| DocItem { id, title, position, text, error: None };
    Ok(match kind {
        Kind::Sla => store
            .list_sla_policies()
            .await?
            .into_iter()
            .map(|r| item(r.id.to_string(), r.policy.name.clone(), r.position, pretty(&r.policy)))
            .collect(),
        Kind::Calendars => store
            .list_calendars()
            .await?
            .into_iter()
            .map(|r| item(r.name.clone(), r.name, 0, pretty(&r.spec)))
            .collect(),
        Kind::Rules => store
            .list_rules()
            .await?
            .into_iter()
            .map(|r| item(r.id.to_string(), r.rule.name.clone(), r.position, pretty(&r.rule)))
            .collect(),
    })
}

/// Where a refused submission is shown again.
enum Target {
    New { name: String, position: i32, text: String },
    Item { id: String, position: i32, text: String },
}

async fn page(st: &AppState, me: &UiUser, kind: Kind, refused: Option<(Target, String)>) -> Response {
    let mut items = match load(st, kind).await {
        Ok(i) => i,
        Err(e) => return store_error(&me.tr, e),
    };
    let mut new_name = String::new();
    let mut new_position = items.iter().map(|i| i.position + 10).max().unwrap_or(0);
    let mut new_text = kind.example().to_owned();
    let mut new_error = None;
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    match refused {
        Some((Target::New { name, position, text }, e)) => {
            (new_name, new_position, new_text, new_error) = (name, position, text, Some(e));
        }
        Some((Target::Item { id, position, text }, e)) => {
            if let Some(i) = items.iter_mut().find(|i| i.id == id) {
                (i.position, i.text, i.error) = (position, text, Some(e));
            }
        }
        None => {}
    }
    let mut resp = render(&DocsPage {
        c: me.chrome("admin"),
        sections: sections(me, kind.id()),
        kind: kind.id(),
        title: match kind {
            Kind::Sla => me.tr.t("uiadmin-section-sla"),
            Kind::Calendars => me.tr.t("uiadmin-section-calendars"),
            Kind::Rules => me.tr.t("uiadmin-section-rules"),
        },
        hint: match kind {
            Kind::Sla => me.tr.t("uiadmin-sla-hint"),
            Kind::Calendars => me.tr.t("uiadmin-calendars-hint"),
            Kind::Rules => me.tr.t("uiadmin-rules-hint"),
        },
        named: kind == Kind::Calendars,
        items,
        new_name,
        new_position,
        new_text,
        new_error,
    });
    *resp.status_mut() = status;
    resp
}

#[derive(Deserialize)]
pub(crate) struct DocForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    doc: String,
}

has_csrf!(DocForm);

/// Why a document is refused: shown next to it (a backend failure is an error page instead).
enum Refusal {
    Reason(String),
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) | StoreError::Conflict(m) => Refusal::Reason(m),
            StoreError::NotFound(m) => Refusal::Reason(format!("not found: {m}")),
            e => Refusal::Store(e),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Refusal> {
    serde_json::from_str(text).map_err(|e| Refusal::Reason(format!("not a valid document: {e}")))
}

/// The before/after of a saved document.
type Change = (Option<serde_json::Value>, serde_json::Value, String);

/// Validates and stores one document; `id` none creates.
async fn save(
    st: &AppState,
    kind: Kind,
    id: Option<&str>,
    name: &str,
    position: i32,
    text: &str,
) -> Result<Change, Refusal> {
    let store = st.engine.store();
    let change = match kind {
        Kind::Sla => {
            let policy: SlaPolicy = parse(text)?;
            policy.validate().map_err(|e| Refusal::Reason(e.to_string()))?;
            match id {
                None => {
                    let rec = store.create_sla_policy(position, &policy).await?;
                    (None, json(&rec), rec.id.to_string())
                }
                Some(id) => {
                    let id = parse_id(id)?;
                    let before = store.list_sla_policies().await?.into_iter().find(|r| r.id == id);
                    let rec = store.update_sla_policy(id, position, &policy).await?;
                    (before.map(|b| json(&b)), json(&rec), rec.id.to_string())
                }
            }
        }
        Kind::Rules => {
            let rule: Rule = parse(text)?;
            RuleSet::compile(std::slice::from_ref(&rule)).map_err(|e| Refusal::Reason(e.to_string()))?;
            match id {
                None => {
                    let rec = store.create_rule(position, &rule).await?;
                    (None, json(&rec), rec.id.to_string())
                }
                Some(id) => {
                    let id = parse_id(id)?;
                    let before = store.list_rules().await?.into_iter().find(|r| r.id == id);
                    let rec = store.update_rule(id, position, &rule).await?;
                    (before.map(|b| json(&b)), json(&rec), rec.id.to_string())
                }
            }
        }
        Kind::Calendars => {
            let spec: CalendarSpec = parse(text)?;
            BusinessCalendar::new(&spec).map_err(|e| Refusal::Reason(e.to_string()))?;
            let name = id.unwrap_or(name).trim();
            let before = store.get_calendar(name).await?;
            // "New" never silently replaces a calendar of the same name.
            if id.is_none() && before.is_some() {
                return Err(Refusal::Reason(format!("a calendar named {name:?} already exists")));
            }
            if id.is_some() && before.is_none() {
                return Err(Refusal::Reason(format!("not found: calendar {name:?}")));
            }
            let rec = store.put_calendar(name, &spec).await?;
            (before.map(|b| json(&b)), json(&rec), rec.name)
        }
    };
    st.engine.routing().reload();
    Ok(change)
}

fn parse_id(id: &str) -> Result<Uuid, Refusal> {
    id.parse().map_err(|_| Refusal::Reason(format!("{id:?} is not an id")))
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

async fn submit(st: AppState, me: UiUser, kind: Kind, id: Option<String>, f: DocForm) -> Response {
    let target = |text: String, position: i32| match &id {
        None => Target::New { name: f.name.clone(), position, text },
        Some(id) => Target::Item { id: id.clone(), position, text },
    };
    let position = match f.position.trim() {
        "" => 0,
        p => match p.parse::<i32>() {
            Ok(p) => p,
            Err(_) => {
                let reason = format!("position {p:?} is not a whole number");
                return page(&st, &me, kind, Some((target(f.doc.clone(), 0), reason))).await;
            }
        },
    };
    match save(&st, kind, id.as_deref(), &f.name, position, &f.doc).await {
        Ok((before, after, target_id)) => {
            let verb = if id.is_some() { "update" } else { "create" };
            audit(
                &st,
                NewAuditEntry {
                    actor_id: Some(me.user.id),
                    action: format!("{}.{verb}", kind.action()),
                    target: target_id,
                    before,
                    after: Some(after),
                    at: Utc::now(),
                },
            )
            .await;
            Redirect::to(&format!("/admin/{}", kind.id())).into_response()
        }
        Err(Refusal::Reason(reason)) => page(&st, &me, kind, Some((target(f.doc.clone(), position), reason))).await,
        Err(Refusal::Store(e)) => store_error(&me.tr, e),
    }
}

async fn remove(st: AppState, me: UiUser, kind: Kind, id: String) -> Response {
    let store = st.engine.store();
    let result: Result<Option<serde_json::Value>, StoreError> = async {
        Ok(match kind {
            Kind::Sla => {
                let Ok(uid) = id.parse::<Uuid>() else { return Err(StoreError::NotFound("SLA policy")) };
                let before = store.list_sla_policies().await?.into_iter().find(|r| r.id == uid);
                store.delete_sla_policy(uid).await?;
                before.map(|b| json(&b))
            }
            Kind::Rules => {
                let Ok(uid) = id.parse::<Uuid>() else { return Err(StoreError::NotFound("rule")) };
                let before = store.list_rules().await?.into_iter().find(|r| r.id == uid);
                store.delete_rule(uid).await?;
                before.map(|b| json(&b))
            }
            Kind::Calendars => {
                let before = store.get_calendar(&id).await?;
                store.delete_calendar(&id).await?;
                before.map(|b| json(&b))
            }
        })
    }
    .await;
    match result {
        Ok(before) => {
            st.engine.routing().reload();
            audit(
                &st,
                NewAuditEntry {
                    actor_id: Some(me.user.id),
                    action: format!("{}.delete", kind.action()),
                    target: id,
                    before,
                    after: None,
                    at: Utc::now(),
                },
            )
            .await;
            Redirect::to(&format!("/admin/{}", kind.id())).into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

type Posted = AdminForm<DocForm>;

async fn show(st: AppState, me: UiUser, kind: Kind) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    page(&st, &me, kind, None).await
}

/// The routes of the three document pages.
pub(crate) fn router() -> Router<AppState> {
    let mut r = Router::new();
    for kind in [Kind::Sla, Kind::Calendars, Kind::Rules] {
        let base = format!("/admin/{}", kind.id());
        r = r
            .route(
                &base,
                get(move |State(st): State<AppState>, me: UiUser| show(st, me, kind)).post(
                    move |State(st): State<AppState>, me: UiUser, AdminForm(f): Posted| submit(st, me, kind, None, f),
                ),
            )
            .route(
                &format!("{base}/{{id}}"),
                post(move |State(st): State<AppState>, me: UiUser, Path(id): Path<String>, AdminForm(f): Posted| {
                    submit(st, me, kind, Some(id), f)
                }),
            )
            .route(
                &format!("{base}/{{id}}/delete"),
                post(move |State(st): State<AppState>, me: UiUser, Path(id): Path<String>, _: Posted| {
                    remove(st, me, kind, id)
                }),
            );
    }
    r
}
