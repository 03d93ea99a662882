//! Admin pages for teams (routing policy, calendar), their members (role, skills, capacity per
//! channel) and canned replies (shortcut, title, team scope, text per language with variables).
//! Changes need the admin role, like the REST API's; the store validates (the same checks the API
//! gets); every change is audited with before and after.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use switchboard_domain::routing::{AssignmentPolicy, MemberRole, Skills};
use switchboard_domain::{Role, UserId};
use switchboard_store::NewAuditEntry;
use switchboard_store::routing::{CannedInput, MemberInput, TeamInput};
use uuid::Uuid;

use super::admin::{Section, sections};
use super::form::AdminForm;
use super::inbox::Choice;
use super::session::{UiUser, urlencode};
use super::{Chrome, audit, page_error, page_error_text, render, store_error};
use crate::AppState;

pub(crate) type Fields = HashMap<String, String>;

fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map(|s| s.trim()).unwrap_or("")
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

async fn record(
    st: &AppState,
    me: &UiUser,
    action: &str,
    target: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) {
    let entry =
        NewAuditEntry { actor_id: Some(me.user.id), action: action.into(), target, before, after, at: Utc::now() };
    audit(st, entry).await;
}

fn invalid(me: &UiUser, reason: impl Into<String>) -> Response {
    page_error_text(&me.tr, StatusCode::UNPROCESSABLE_ENTITY, reason.into())
}

fn choices<T: Copy + PartialEq>(
    all: &[T],
    current: T,
    value: impl Fn(T) -> String,
    label: impl Fn(T) -> String,
) -> Vec<Choice> {
    all.iter().map(|v| Choice { value: value(*v), label: label(*v), selected: *v == current }).collect()
}

// ---- teams ----

pub(crate) struct TeamRow {
    name: String,
    description: String,
    policies: Vec<Choice>,
    calendars: Vec<Choice>,
    members: usize,
}

#[derive(Template)]
#[template(path = "admin_teams.html")]
struct TeamsPage {
    c: Chrome,
    sections: Vec<Section>,
    teams: Vec<TeamRow>,
    policies: Vec<Choice>,
    calendars: Vec<Choice>,
}

fn policy_choices(me: &UiUser, current: AssignmentPolicy) -> Vec<Choice> {
    let label = |p| match p {
        AssignmentPolicy::Manual => me.tr.t("uiadmin-policy-manual"),
        AssignmentPolicy::RoundRobin => me.tr.t("uiadmin-policy-round-robin"),
        AssignmentPolicy::LeastBusy => me.tr.t("uiadmin-policy-least-busy"),
        AssignmentPolicy::SkillMatch => me.tr.t("uiadmin-policy-skill-match"),
    };
    choices(AssignmentPolicy::ALL, current, |p| p.as_str().to_owned(), label)
}

fn calendar_choices(me: &UiUser, names: &[String], current: Option<&str>) -> Vec<Choice> {
    let mut out =
        vec![Choice { value: String::new(), label: me.tr.t("uiadmin-calendar-none"), selected: current.is_none() }];
    out.extend(names.iter().map(|n| Choice {
        value: n.clone(),
        label: n.clone(),
        selected: Some(n.as_str()) == current,
    }));
    out
}

/// `GET /admin/teams`.
async fn teams(State(st): State<AppState>, me: UiUser) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let store = st.engine.store();
    let (list, calendars) = match tokio::try_join!(store.list_teams(), store.list_calendars()) {
        Ok(v) => v,
        Err(e) => return store_error(&me.tr, e),
    };
    let cal_names: Vec<String> = calendars.into_iter().map(|c| c.name).collect();
    let mut teams = Vec::with_capacity(list.len());
    for t in list {
        let members = match store.list_team_members(&t.name).await {
            Ok(m) => m.len(),
            Err(e) => return store_error(&me.tr, e),
        };
        teams.push(TeamRow {
            policies: policy_choices(&me, t.assignment_policy),
            calendars: calendar_choices(&me, &cal_names, t.calendar.as_deref()),
            name: t.name,
            description: t.description,
            members,
        });
    }
    render(&TeamsPage {
        c: me.chrome("admin"),
        sections: sections(&me, "teams"),
        teams,
        policies: policy_choices(&me, AssignmentPolicy::Manual),
        calendars: calendar_choices(&me, &cal_names, None),
    })
}

fn team_input(me: &UiUser, name: &str, f: &Fields) -> Result<TeamInput, Response> {
    let assignment_policy =
        field(f, "assignment_policy").parse::<AssignmentPolicy>().map_err(|e| invalid(me, e.to_string()))?;
    let calendar = Some(field(f, "calendar").to_owned()).filter(|c| !c.is_empty());
    Ok(TeamInput {
        name: name.to_owned(),
        description: field(f, "description").to_owned(),
        assignment_policy,
        calendar,
    })
}

/// `POST /admin/teams`: creates a team.
async fn team_create(State(st): State<AppState>, me: UiUser, AdminForm(f): AdminForm<Fields>) -> Response {
    let input = match team_input(&me, field(&f, "name"), &f) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match st.engine.store().create_team(&input).await {
        Ok(team) => {
            st.engine.routing().reload();
            record(&st, &me, "team.create", team.name.clone(), None, Some(json(&team))).await;
            Redirect::to(&format!("/admin/teams/{}", urlencode(&team.name))).into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

/// `POST /admin/teams/{name}`: description, routing policy, calendar.
async fn team_update(
    State(st): State<AppState>,
    me: UiUser,
    Path(name): Path<String>,
    AdminForm(f): AdminForm<Fields>,
) -> Response {
    let store = st.engine.store();
    let before = match store.get_team(&name).await {
        Ok(Some(t)) => t,
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    };
    let input = match team_input(&me, &name, &f) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match store.update_team(&name, &input).await {
        Ok(team) => {
            st.engine.routing().reload();
            record(&st, &me, "team.update", team.name.clone(), Some(json(&before)), Some(json(&team))).await;
            Redirect::to("/admin/teams").into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

/// `POST /admin/teams/{name}/delete`.
async fn team_delete(
    State(st): State<AppState>,
    me: UiUser,
    Path(name): Path<String>,
    AdminForm(_): AdminForm<Fields>,
) -> Response {
    let store = st.engine.store();
    let before = match store.get_team(&name).await {
        Ok(Some(t)) => t,
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    };
    match store.delete_team(&name).await {
        Ok(()) => {
            st.engine.routing().reload();
            record(&st, &me, "team.delete", name, Some(json(&before)), None).await;
            Redirect::to("/admin/teams").into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

// ---- members ----

pub(crate) struct MemberRow {
    user_id: String,
    name: String,
    roles: Vec<Choice>,
    languages: String,
    channels: String,
    intents: String,
    capacity: String,
    availability: String,
}

#[derive(Template)]
#[template(path = "admin_team.html")]
struct TeamPage {
    c: Chrome,
    sections: Vec<Section>,
    team: String,
    description: String,
    members: Vec<MemberRow>,
    candidates: Vec<Choice>,
    roles: Vec<Choice>,
}

fn member_roles(me: &UiUser, current: MemberRole) -> Vec<Choice> {
    let label = |r| match r {
        MemberRole::Agent => me.tr.t("uiadmin-member-agent"),
        MemberRole::Supervisor => me.tr.t("uiadmin-member-supervisor"),
        MemberRole::Manager => me.tr.t("uiadmin-member-manager"),
    };
    choices(MemberRole::ALL, current, |r| r.as_str().to_owned(), label)
}

/// `whatsapp=3, *=5` from a capacity map.
fn capacity_text(c: &BTreeMap<String, u32>) -> String {
    c.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// Parses `whatsapp=3, *=5`.
fn parse_capacity(s: &str) -> Result<BTreeMap<String, u32>, String> {
    let mut out = BTreeMap::new();
    for part in s.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part.split_once('=').and_then(|(k, v)| {
            let k = k.trim();
            let v = v.trim().parse::<u32>().ok()?;
            (!k.is_empty()).then(|| (k.to_owned(), v))
        });
        let Some((k, v)) = parsed else {
            return Err(format!("capacity {part:?} must look like whatsapp=3 (a channel slug or *, then a number)"));
        };
        out.insert(k, v);
    }
    Ok(out)
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// `GET /admin/teams/{name}`: the team's members.
async fn team_page(State(st): State<AppState>, me: UiUser, Path(name): Path<String>) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let store = st.engine.store();
    let team = match store.get_team(&name).await {
        Ok(Some(t)) => t,
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    };
    let (members, users) = match tokio::try_join!(store.list_team_members(&name), store.list_users()) {
        Ok(v) => v,
        Err(e) => return store_error(&me.tr, e),
    };
    let candidates = users
        .iter()
        .filter(|u| !u.disabled && !members.iter().any(|m| m.user_id == u.id))
        .map(|u| Choice { value: u.id.to_string(), label: format!("{} <{}>", u.name, u.email), selected: false })
        .collect();
    let members = members
        .iter()
        .map(|m| MemberRow {
            user_id: m.user_id.to_string(),
            name: m.name.clone(),
            roles: member_roles(&me, m.role),
            languages: m.skills.languages.join(", "),
            channels: m.skills.channels.join(", "),
            intents: m.skills.intents.join(", "),
            capacity: capacity_text(&m.capacity),
            availability: me.tr.t(&format!("availability-{}", m.availability.as_str())),
        })
        .collect();
    render(&TeamPage {
        c: me.chrome("admin"),
        sections: sections(&me, "teams"),
        team: team.name,
        description: team.description,
        members,
        candidates,
        roles: member_roles(&me, MemberRole::Agent),
    })
}

/// `POST /admin/teams/{name}/members`: adds a member or changes one (role, skills, capacity).
async fn member_put(
    State(st): State<AppState>,
    me: UiUser,
    Path(name): Path<String>,
    AdminForm(f): AdminForm<Fields>,
) -> Response {
    let Ok(user) = field(&f, "user_id").parse::<Uuid>().map(UserId) else {
        return invalid(&me, format!("{:?} is not a user id", field(&f, "user_id")));
    };
    let role = match field(&f, "role").parse::<MemberRole>() {
        Ok(r) => r,
        Err(e) => return invalid(&me, e.to_string()),
    };
    let capacity = match parse_capacity(field(&f, "capacity")) {
        Ok(c) => c,
        Err(e) => return invalid(&me, e),
    };
    let skills = Skills {
        languages: list(field(&f, "languages")),
        channels: list(field(&f, "channels")),
        intents: list(field(&f, "intents")),
    };
    let store = st.engine.store();
    let before = match store.list_team_members(&name).await {
        Ok(m) => m.into_iter().find(|m| m.user_id == user),
        Err(e) => return store_error(&me.tr, e),
    };
    match store.put_team_member(&name, user, &MemberInput { role, skills, capacity }).await {
        Ok(m) => {
            st.engine.routing().reload();
            let target = format!("{name}/{user}");
            record(&st, &me, "team.member.put", target, before.map(|b| json(&b)), Some(json(&m))).await;
            Redirect::to(&format!("/admin/teams/{}", urlencode(&name))).into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

/// `POST /admin/teams/{name}/members/{user}/remove`.
async fn member_remove(
    State(st): State<AppState>,
    me: UiUser,
    Path((name, user)): Path<(String, String)>,
    AdminForm(_): AdminForm<Fields>,
) -> Response {
    let Ok(user) = user.parse::<Uuid>().map(UserId) else {
        return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found");
    };
    let store = st.engine.store();
    let before = match store.list_team_members(&name).await {
        Ok(m) => m.into_iter().find(|m| m.user_id == user),
        Err(e) => return store_error(&me.tr, e),
    };
    match store.remove_team_member(&name, user).await {
        Ok(()) => {
            st.engine.routing().reload();
            record(&st, &me, "team.member.remove", format!("{name}/{user}"), before.map(|b| json(&b)), None).await;
            Redirect::to(&format!("/admin/teams/{}", urlencode(&name))).into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

// ---- canned replies ----

pub(crate) struct Variant {
    index: usize,
    lang: String,
    text: String,
}

pub(crate) struct CannedRow {
    id: String,
    shortcut: String,
    title: String,
    teams: Vec<Choice>,
    variants: Vec<Variant>,
    usage: i64,
}

#[derive(Template)]
#[template(path = "admin_canned.html")]
struct CannedPage {
    c: Chrome,
    sections: Vec<Section>,
    replies: Vec<CannedRow>,
    teams: Vec<Choice>,
    blank: Vec<Variant>,
    variables: String,
}

fn team_choices(me: &UiUser, names: &[String], current: Option<&str>) -> Vec<Choice> {
    let mut out =
        vec![Choice { value: String::new(), label: me.tr.t("uiadmin-canned-global"), selected: current.is_none() }];
    out.extend(names.iter().map(|n| Choice {
        value: n.clone(),
        label: n.clone(),
        selected: Some(n.as_str()) == current,
    }));
    out
}

/// The variant fields of a form: stored ones plus one empty pair to add a language.
fn variant_fields(v: &BTreeMap<String, String>) -> Vec<Variant> {
    let mut out: Vec<Variant> =
        v.iter().enumerate().map(|(index, (l, t))| Variant { index, lang: l.clone(), text: t.clone() }).collect();
    out.push(Variant { index: out.len(), lang: String::new(), text: String::new() });
    out
}

/// `GET /admin/canned`.
async fn canned(State(st): State<AppState>, me: UiUser) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let store = st.engine.store();
    let (teams, mut replies) = match tokio::try_join!(store.list_teams(), store.list_canned(None)) {
        Ok(v) => v,
        Err(e) => return store_error(&me.tr, e),
    };
    let names: Vec<String> = teams.into_iter().map(|t| t.name).collect();
    // `list_canned(None)` lists the global replies; each team adds its own.
    for n in &names {
        match store.list_canned(Some(n)).await {
            Ok(more) => replies.extend(more.into_iter().filter(|c| c.team.as_deref() == Some(n.as_str()))),
            Err(e) => return store_error(&me.tr, e),
        }
    }
    replies.sort_by(|a, b| a.shortcut.cmp(&b.shortcut).then(a.team.cmp(&b.team)));
    replies.dedup_by_key(|c| c.id);
    let rows = replies
        .iter()
        .map(|c| CannedRow {
            id: c.id.to_string(),
            shortcut: c.shortcut.clone(),
            title: c.title.clone(),
            teams: team_choices(&me, &names, c.team.as_deref()),
            variants: variant_fields(&c.variants),
            usage: c.usage_count,
        })
        .collect();
    render(&CannedPage {
        c: me.chrome("admin"),
        sections: sections(&me, "canned"),
        replies: rows,
        teams: team_choices(&me, &names, None),
        blank: variant_fields(&BTreeMap::from([("en".to_owned(), String::new())])),
        variables: switchboard_domain::canned::VARIABLES
            .iter()
            .map(|v| format!("{{{{{v}}}}}"))
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// A canned reply from the form: `lang_N` / `text_N` pairs; a pair with both empty is ignored.
fn canned_input(me: &UiUser, f: &Fields) -> Result<CannedInput, Response> {
    let mut variants = BTreeMap::new();
    let mut indexes: Vec<usize> =
        f.keys().filter_map(|k| k.strip_prefix("lang_").and_then(|i| i.parse().ok())).collect();
    indexes.sort_unstable();
    for i in indexes {
        let lang = field(f, &format!("lang_{i}"));
        let text = f.get(&format!("text_{i}")).map(String::as_str).unwrap_or("");
        if lang.is_empty() && text.trim().is_empty() {
            continue;
        }
        if lang.is_empty() {
            return Err(invalid(me, "a text needs its language tag (en, zh, …)"));
        }
        if variants.insert(lang.to_owned(), text.to_owned()).is_some() {
            return Err(invalid(me, format!("language {lang} is listed twice")));
        }
    }
    Ok(CannedInput {
        shortcut: field(f, "shortcut").to_owned(),
        title: field(f, "title").to_owned(),
        team: Some(field(f, "team").to_owned()).filter(|t| !t.is_empty()),
        variants,
    })
}

/// `POST /admin/canned`: creates a canned reply.
async fn canned_create(State(st): State<AppState>, me: UiUser, AdminForm(f): AdminForm<Fields>) -> Response {
    let input = match canned_input(&me, &f) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match st.engine.store().create_canned(&input).await {
        Ok(c) => {
            record(&st, &me, "canned.create", c.id.to_string(), None, Some(json(&c))).await;
            Redirect::to("/admin/canned").into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

/// `POST /admin/canned/{id}`: replaces a canned reply.
async fn canned_update(
    State(st): State<AppState>,
    me: UiUser,
    Path(id): Path<String>,
    AdminForm(f): AdminForm<Fields>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else { return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found") };
    let input = match canned_input(&me, &f) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let store = st.engine.store();
    let before = match store.get_canned(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    };
    match store.update_canned(id, &input).await {
        Ok(c) => {
            record(&st, &me, "canned.update", c.id.to_string(), Some(json(&before)), Some(json(&c))).await;
            Redirect::to("/admin/canned").into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

/// `POST /admin/canned/{id}/delete`.
async fn canned_delete(
    State(st): State<AppState>,
    me: UiUser,
    Path(id): Path<String>,
    AdminForm(_): AdminForm<Fields>,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else { return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found") };
    let store = st.engine.store();
    let before = match store.get_canned(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    };
    match store.delete_canned(id).await {
        Ok(()) => {
            record(&st, &me, "canned.delete", id.to_string(), Some(json(&before)), None).await;
            Redirect::to("/admin/canned").into_response()
        }
        Err(e) => store_error(&me.tr, e),
    }
}

/// The routes of the team, member and canned-reply pages.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/teams", get(teams).post(team_create))
        .route("/admin/teams/{name}", get(team_page).post(team_update))
        .route("/admin/teams/{name}/delete", post(team_delete))
        .route("/admin/teams/{name}/members", post(member_put))
        .route("/admin/teams/{name}/members/{user}/remove", post(member_remove))
        .route("/admin/canned", get(canned).post(canned_create))
        .route("/admin/canned/{id}", post(canned_update))
        .route("/admin/canned/{id}/delete", post(canned_delete))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_round_trips_and_refuses_nonsense() {
        let c = parse_capacity("whatsapp=3, *=5").unwrap_or_default();
        assert_eq!(c.get("whatsapp"), Some(&3));
        assert_eq!(c.get("*"), Some(&5));
        assert_eq!(parse_capacity(&capacity_text(&c)), Ok(c));
        assert!(parse_capacity("whatsapp").is_err());
        assert!(parse_capacity("x=-1").is_err());
        assert!(parse_capacity("=4").is_err());
        assert_eq!(parse_capacity(" "), Ok(BTreeMap::new()));
    }
}
