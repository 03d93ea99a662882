//! Administration: channels (credentials, webhook URL, verify token), users and roles, the
//! audit log. Every page needs the admin role; every change is audited.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::{ChannelKind, ChannelSlug, Role, UserId};
use switchboard_store::{AuditFilter, ChannelRecord, NewAuditEntry, NewUser, User, UserUpdate};

use super::form::{AdminForm, has_csrf};
use super::inbox::Choice;
use super::session::UiUser;
use super::{Chrome, audit, page_error, page_error_text, render, store_error};
use crate::AppState;
use crate::api::channels::{keep_secrets, redacted};

/// The admin sections, for the sub-navigation. Later settings pages add themselves here.
pub(crate) const SECTIONS: &[(&str, &str)] = &[
    ("channels", "admin-channels"),
    ("users", "admin-users"),
    ("teams", "uiadmin-section-teams"),
    ("sla", "uiadmin-section-sla"),
    ("calendars", "uiadmin-section-calendars"),
    ("rules", "uiadmin-section-rules"),
    ("canned", "uiadmin-section-canned"),
    ("kb", "kbedit-nav"),
    ("bot", "kb-admin-nav"),
    ("surveys", "surveys-admin-nav"),
    ("audit", "admin-audit"),
];

pub(crate) struct Section {
    pub(crate) href: String,
    pub(crate) label: String,
    pub(crate) current: bool,
}

pub(crate) fn sections(me: &UiUser, current: &str) -> Vec<Section> {
    SECTIONS
        .iter()
        .map(|(id, key)| Section { href: format!("/admin/{id}"), label: me.tr.t(key), current: *id == current })
        .collect()
}

pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

pub(crate) struct ChannelRow {
    slug: String,
    name: String,
    kind: &'static str,
    webhook_url: String,
    verify_token: String,
    callback_url: String,
    has_secret: bool,
    widget: Option<crate::widget::AdminInfo>,
}

#[derive(Template)]
#[template(path = "admin_channels.html")]
struct ChannelsPage {
    c: Chrome,
    sections: Vec<Section>,
    channels: Vec<ChannelRow>,
}

/// `GET /admin/channels`.
pub(crate) async fn channels(State(st): State<AppState>, me: UiUser, headers: HeaderMap) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let list = match st.engine.store().list_channels().await {
        Ok(l) => l,
        Err(e) => return store_error(&me.tr, e),
    };
    let base = base_url(&headers);
    let channels = list
        .iter()
        .map(|ch| ChannelRow {
            slug: ch.slug.as_str().to_owned(),
            name: ch.name.clone(),
            kind: ch.kind.as_str(),
            webhook_url: format!("{base}/webhooks/{}", ch.slug.as_str()),
            verify_token: ch.config.get("verify_token").and_then(|v| v.as_str()).unwrap_or("").to_owned(),
            callback_url: ch.callback_url.clone().unwrap_or_default(),
            has_secret: ch.secret.as_deref().is_some_and(|s| !s.is_empty()),
            widget: crate::widget::admin_info(ch, &base),
        })
        .collect();
    render(&ChannelsPage { c: me.chrome("admin"), sections: sections(&me, "channels"), channels })
}

#[derive(Template)]
#[template(path = "admin_channel_edit.html")]
struct ChannelEditPage {
    c: Chrome,
    sections: Vec<Section>,
    is_new: bool,
    slug: String,
    name: String,
    kinds: Vec<Choice>,
    callback_url: String,
    has_secret: bool,
    config: String,
    webhook_url: String,
    widget: Option<crate::widget::AdminInfo>,
    /// Whether "test connection" applies (a provider API exists for the kind).
    testable: bool,
    /// The outcome of "test connection": success and what it says.
    test: Option<(bool, String)>,
}

pub(crate) fn edit_page(
    me: &UiUser,
    headers: &HeaderMap,
    ch: Option<&ChannelRecord>,
    test: Option<(bool, String)>,
) -> Response {
    let kind = ch.map(|c| c.kind).unwrap_or(ChannelKind::Api);
    render(&ChannelEditPage {
        c: me.chrome("admin"),
        sections: sections(me, "channels"),
        is_new: ch.is_none(),
        slug: ch.map(|c| c.slug.as_str().to_owned()).unwrap_or_default(),
        name: ch.map(|c| c.name.clone()).unwrap_or_default(),
        kinds: ChannelKind::ALL
            .iter()
            .map(|k| Choice { value: k.as_str().to_owned(), label: k.as_str().to_owned(), selected: *k == kind })
            .collect(),
        callback_url: ch.and_then(|c| c.callback_url.clone()).unwrap_or_default(),
        has_secret: ch.and_then(|c| c.secret.as_deref()).is_some_and(|s| !s.is_empty()),
        // Tokens and secrets are masked; sending the mask back keeps the stored value.
        config: ch
            .map(|c| serde_json::to_string_pretty(&redacted(c.clone()).config).unwrap_or_else(|_| "{}".into()))
            .unwrap_or_else(|| "{}".into()),
        webhook_url: ch.map(|c| format!("{}/webhooks/{}", base_url(headers), c.slug.as_str())).unwrap_or_default(),
        widget: ch.and_then(|c| crate::widget::admin_info(c, &base_url(headers))),
        testable: ch.is_some_and(|c| {
            matches!(
                c.kind,
                ChannelKind::Whatsapp
                    | ChannelKind::Messenger
                    | ChannelKind::Instagram
                    | ChannelKind::X
                    | ChannelKind::Telegram
            )
        }),
        test,
    })
}

/// `POST /admin/channels/{slug}/test`: one read against the provider's API with the stored
/// credentials; the page says whose they are or shows the provider's error. Changes nothing.
pub(crate) async fn channel_test(
    State(st): State<AppState>,
    me: UiUser,
    headers: HeaderMap,
    Path(slug): Path<String>,
    AdminForm(_): AdminForm<super::session::CsrfForm>,
) -> Response {
    let Ok(slug) = ChannelSlug::parse(&slug) else {
        return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found");
    };
    let ch = match st.engine.store().get_channel(&slug).await {
        Ok(Some(ch)) => ch,
        Ok(None) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(&me.tr, e),
    };
    let settings = switchboard_channels::ChannelSettings {
        slug: ch.slug.clone(),
        kind: ch.kind,
        secret: ch.secret.clone(),
        config: ch.config.clone(),
    };
    let outcome = match reqwest::Client::builder().build() {
        Ok(client) => switchboard_channels::probe::test_connection(&client, &settings).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    tracing::info!(channel = %slug.as_str(), ok = outcome.is_ok(), "channel connection tested");
    let test = match outcome {
        Ok(who) => (true, me.tr.t1("uiadmin-test-ok", "who", &who)),
        Err(why) => (false, me.tr.t1("uiadmin-test-failed", "reason", &why)),
    };
    edit_page(&me, &headers, Some(&ch), Some(test))
}

/// `GET /admin/channels/new`.
pub(crate) async fn channel_new(me: UiUser, headers: HeaderMap) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    edit_page(&me, &headers, None, None)
}

/// `GET /admin/channels/{slug}`.
pub(crate) async fn channel_edit(
    State(st): State<AppState>,
    me: UiUser,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let Ok(slug) = ChannelSlug::parse(&slug) else {
        return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found");
    };
    match st.engine.store().get_channel(&slug).await {
        Ok(Some(ch)) => edit_page(&me, &headers, Some(&ch), None),
        Ok(None) => page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => store_error(&me.tr, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct ChannelForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    slug: String,
    name: String,
    kind: String,
    #[serde(default)]
    callback_url: String,
    /// Empty keeps the stored secret.
    #[serde(default)]
    secret: String,
    #[serde(default)]
    config: String,
    /// Set on the "new channel" form: refuse to overwrite an existing slug.
    #[serde(default)]
    is_new: Option<String>,
}

has_csrf!(ChannelForm);

/// `POST /admin/channels/save`: creates or updates a channel.
pub(crate) async fn channel_save(
    State(st): State<AppState>,
    me: UiUser,
    AdminForm(f): AdminForm<ChannelForm>,
) -> Response {
    let tr = &me.tr;
    let slug = match ChannelSlug::parse(f.slug.trim()) {
        Ok(s) => s,
        Err(e) => return page_error_text(tr, StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let kind = match f.kind.parse::<ChannelKind>() {
        Ok(k) => k,
        Err(e) => return page_error_text(tr, StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let name = f.name.trim();
    if name.is_empty() {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-name-required");
    }
    let config: serde_json::Value = match f.config.trim() {
        "" => serde_json::json!({}),
        text => match serde_json::from_str(text) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-config"),
        },
    };
    let callback_url = match f.callback_url.trim() {
        "" => None,
        u if u.starts_with("http://") || u.starts_with("https://") => Some(u.to_owned()),
        _ => return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-url"),
    };
    if kind == ChannelKind::Api && callback_url.is_none() {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-url");
    }
    let store = st.engine.store();
    let before = match store.get_channel(&slug).await {
        Ok(b) => b,
        Err(e) => return store_error(tr, e),
    };
    let config = keep_secrets(config, before.as_ref().map(|b| &b.config));
    if matches!(kind, ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram | ChannelKind::Web)
        && let Err(reason) = switchboard_channels::validate_config(kind, &config)
    {
        return page_error_text(tr, StatusCode::UNPROCESSABLE_ENTITY, reason);
    }
    if f.is_new.is_some() && before.is_some() {
        return page_error(tr, StatusCode::CONFLICT, "error-channel-exists");
    }
    let secret_changed = !f.secret.is_empty();
    let record = ChannelRecord {
        slug: slug.clone(),
        kind,
        name: name.to_owned(),
        callback_url,
        secret: if secret_changed { Some(f.secret.clone()) } else { before.as_ref().and_then(|b| b.secret.clone()) },
        config,
        created_at: before.as_ref().map(|b| b.created_at).unwrap_or_else(Utc::now),
    };
    if let Err(e) = store.upsert_channel(&record).await {
        return store_error(tr, e);
    }
    st.channels.invalidate(&slug);
    // `ChannelRecord` never serialises its secret and `redacted` masks tokens in the config; the
    // entry says only whether the secret changed.
    let mut after = serde_json::to_value(redacted(record)).unwrap_or_default();
    if let Some(obj) = after.as_object_mut() {
        obj.insert("secret_changed".into(), serde_json::Value::Bool(secret_changed));
    }
    audit(
        &st,
        NewAuditEntry {
            actor_id: Some(me.user.id),
            action: if before.is_some() { "channel.update".into() } else { "channel.create".into() },
            target: slug.as_str().to_owned(),
            before: before.and_then(|b| serde_json::to_value(redacted(b)).ok()),
            after: Some(after),
            at: Utc::now(),
        },
    )
    .await;
    tracing::info!(channel = %slug.as_str(), user = %me.user.id, "channel saved in the admin UI");
    Redirect::to("/admin/channels").into_response()
}

pub(crate) struct UserRow {
    id: String,
    email: String,
    name: String,
    roles: Vec<Choice>,
    disabled: bool,
    is_me: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    c: Chrome,
    sections: Vec<Section>,
    users: Vec<UserRow>,
    roles: Vec<Choice>,
}

fn role_choices(me: &UiUser, current: Role) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|r| Choice {
            value: r.as_str().to_owned(),
            label: me.tr.t(&format!("role-{}", r.as_str())),
            selected: *r == current,
        })
        .collect()
}

/// `GET /admin/users`.
pub(crate) async fn users(State(st): State<AppState>, me: UiUser) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let list = match st.engine.store().list_users().await {
        Ok(l) => l,
        Err(e) => return store_error(&me.tr, e),
    };
    let users = list
        .iter()
        .map(|u| UserRow {
            id: u.id.to_string(),
            email: u.email.clone(),
            name: u.name.clone(),
            roles: role_choices(&me, u.role),
            disabled: u.disabled,
            is_me: u.id == me.user.id,
        })
        .collect();
    render(&UsersPage {
        c: me.chrome("admin"),
        sections: sections(&me, "users"),
        users,
        roles: role_choices(&me, Role::Agent),
    })
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({ "email": u.email, "name": u.name, "role": u.role, "disabled": u.disabled })
}

async fn hash_password(password: String) -> Option<String> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).ok()
    })
    .await
    .ok()
    .flatten()
}

/// Shortest password an admin may set.
const MIN_PASSWORD: usize = 10;

#[derive(Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    email: String,
    name: String,
    role: String,
    password: String,
}

has_csrf!(NewUserForm);

/// `POST /admin/users`: creates a user.
pub(crate) async fn user_create(
    State(st): State<AppState>,
    me: UiUser,
    AdminForm(f): AdminForm<NewUserForm>,
) -> Response {
    let tr = &me.tr;
    let email = f.email.trim();
    if !email.contains('@') || email.len() > 254 {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-bad-email");
    }
    if f.name.trim().is_empty() {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-name-required");
    }
    let Ok(role) = f.role.parse::<Role>() else { return page_error(tr, StatusCode::BAD_REQUEST, "error-bad-form") };
    if f.password.chars().count() < MIN_PASSWORD {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-short-password");
    }
    let Some(hash) = hash_password(f.password).await else {
        return page_error(tr, StatusCode::INTERNAL_SERVER_ERROR, "error-unavailable");
    };
    let created = st
        .engine
        .store()
        .create_user(&NewUser {
            email: email.to_owned(),
            name: f.name.trim().to_owned(),
            role,
            password_hash: Some(hash),
        })
        .await;
    match created {
        Ok(u) => {
            audit(
                &st,
                NewAuditEntry {
                    actor_id: Some(me.user.id),
                    action: "user.create".into(),
                    target: u.email.clone(),
                    before: None,
                    after: Some(user_json(&u)),
                    at: Utc::now(),
                },
            )
            .await;
            Redirect::to("/admin/users").into_response()
        }
        Err(e) => store_error(tr, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct UserForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    name: String,
    role: String,
    /// Checkbox: present when disabled.
    #[serde(default)]
    disabled: Option<String>,
    /// Empty keeps the password.
    #[serde(default)]
    password: String,
}

has_csrf!(UserForm);

/// `POST /admin/users/{id}`: role, name, disabled, new password.
pub(crate) async fn user_update(
    State(st): State<AppState>,
    me: UiUser,
    Path(id): Path<String>,
    AdminForm(f): AdminForm<UserForm>,
) -> Response {
    let tr = &me.tr;
    let Ok(id) = id.parse::<UserId>() else { return page_error(tr, StatusCode::NOT_FOUND, "error-not-found") };
    let Ok(role) = f.role.parse::<Role>() else { return page_error(tr, StatusCode::BAD_REQUEST, "error-bad-form") };
    let disabled = f.disabled.is_some();
    // An admin cannot lock themselves out.
    if id == me.user.id && (disabled || role != Role::Admin) {
        return page_error(tr, StatusCode::CONFLICT, "error-self-demote");
    }
    let store = st.engine.store();
    let before = match store.get_user(id).await {
        Ok(Some(u)) => u,
        Ok(None) => return page_error(tr, StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return store_error(tr, e),
    };
    let password_hash = if f.password.is_empty() {
        None
    } else if f.password.chars().count() < MIN_PASSWORD {
        return page_error(tr, StatusCode::UNPROCESSABLE_ENTITY, "error-short-password");
    } else {
        match hash_password(f.password).await {
            Some(h) => Some(h),
            None => return page_error(tr, StatusCode::INTERNAL_SERVER_ERROR, "error-unavailable"),
        }
    };
    let password_changed = password_hash.is_some();
    let update = UserUpdate {
        name: Some(f.name.trim().to_owned()).filter(|n| !n.is_empty()),
        role: Some(role),
        disabled: Some(disabled),
        password_hash,
    };
    let after = match store.update_user(id, &update).await {
        Ok(u) => u,
        Err(e) => return store_error(tr, e),
    };
    // A disabled user or a new password ends the user's sessions everywhere.
    if disabled || password_changed {
        let _ = store.delete_user_sessions(id).await;
    }
    let mut after_json = user_json(&after);
    if let Some(obj) = after_json.as_object_mut() {
        obj.insert("password_changed".into(), serde_json::Value::Bool(password_changed));
    }
    audit(
        &st,
        NewAuditEntry {
            actor_id: Some(me.user.id),
            action: "user.update".into(),
            target: after.email.clone(),
            before: Some(user_json(&before)),
            after: Some(after_json),
            at: Utc::now(),
        },
    )
    .await;
    Redirect::to("/admin/users").into_response()
}

pub(crate) struct AuditRow {
    time: String,
    actor: String,
    action: String,
    target: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    c: Chrome,
    sections: Vec<Section>,
    rows: Vec<AuditRow>,
    next: Option<String>,
    action: String,
}

#[derive(Deserialize)]
pub(crate) struct AuditParams {
    cursor: Option<String>,
    action: Option<String>,
}

/// `GET /admin/audit`.
pub(crate) async fn audit_log(State(st): State<AppState>, me: UiUser, Query(p): Query<AuditParams>) -> Response {
    if let Err(r) = me.require(Role::Admin) {
        return r;
    }
    let action = p.action.unwrap_or_default().trim().to_owned();
    let filter = AuditFilter {
        actor_id: None,
        action_prefix: Some(action.clone()).filter(|a| !a.is_empty()),
        cursor: p.cursor.filter(|c| !c.is_empty()),
        limit: 50,
    };
    let page = match st.engine.store().list_audit(&filter).await {
        Ok(p) => p,
        Err(e) => return store_error(&me.tr, e),
    };
    let pretty = |v: &Option<serde_json::Value>| {
        v.as_ref().map(|v| serde_json::to_string_pretty(v).unwrap_or_default()).unwrap_or_default()
    };
    let rows = page
        .items
        .iter()
        .map(|e| AuditRow {
            time: me.tr.datetime(&e.at),
            actor: e.actor_email.clone().unwrap_or_else(|| me.tr.t("author-system")),
            action: e.action.clone(),
            target: e.target.clone(),
            before: pretty(&e.before),
            after: pretty(&e.after),
        })
        .collect();
    let next =
        page.next_cursor.map(|c| format!("/admin/audit?action={}&cursor={c}", super::session::urlencode(&action)));
    render(&AuditPage { c: me.chrome("admin"), sections: sections(&me, "audit"), rows, next, action })
}
