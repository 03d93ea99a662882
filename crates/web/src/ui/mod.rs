//! The agent and admin web UI: server-rendered pages (askama), a small script for live updates
//! and the composer, every string from the message catalogue.

// Helpers return the finished error page as `Err(Response)`; it is moved once, straight out.
#![allow(clippy::result_large_err)]

mod admin;
mod admin_docs;
mod admin_kb;
mod admin_surveys;
mod admin_teams;
mod admin_telegram;
mod assets;
mod canned;
mod contact_notes;
mod conversation;
mod form;
mod help;
pub mod i18n;
mod inbox;
mod kb_agent;
pub mod live;
pub mod proxy;
mod reports;
pub mod session;
mod settings;
mod survey;
mod triage;
mod wa_templates;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use switchboard_store::NewAuditEntry;

use crate::AppState;
use i18n::{Catalogue, Tr};

/// State of the UI shared by every request.
pub struct UiState {
    /// The message catalogue.
    pub catalogue: Arc<Catalogue>,
    /// A password hash to verify against when the email is unknown, so that a sign-in takes as
    /// long whether or not the account exists (made on first use).
    pub(crate) dummy_hash: Arc<std::sync::OnceLock<String>>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (sign-in throttling).
    pub trusted_proxies: Arc<proxy::TrustedProxies>,
}

impl UiState {
    /// Loads the embedded catalogues.
    pub fn new() -> Result<UiState, String> {
        Ok(UiState {
            catalogue: Arc::new(Catalogue::load()?),
            dummy_hash: Arc::default(),
            trusted_proxies: Arc::default(),
        })
    }
}

impl AppState {
    /// Believes `X-Forwarded-For` on connections from these proxies (docs/configuration.md).
    pub fn with_trusted_proxies(mut self, proxies: proxy::TrustedProxies) -> Self {
        self.ui = Arc::new(UiState {
            catalogue: self.ui.catalogue.clone(),
            dummy_hash: self.ui.dummy_hash.clone(),
            trusted_proxies: Arc::new(proxies),
        });
        self
    }
}

/// What every page's frame needs.
#[derive(Clone)]
pub(crate) struct Chrome {
    pub tr: Tr,
    pub user_name: String,
    pub user_id: String,
    pub role: &'static str,
    pub is_admin: bool,
    pub csrf: String,
    /// Which navigation entry is current.
    pub active: &'static str,
}

impl Chrome {
    /// The user's role in their language.
    pub fn role_label(&self) -> String {
        self.tr.t(&format!("role-{}", self.role))
    }
}

/// The content security policy of every UI page.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
    connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Renders a template, or a plain 500 if rendering fails.
pub(crate) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => {
            let mut resp = Html(html).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            // Only our own script and styles run; no framing (clickjacking); forms post only here.
            h.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(CSP));
            h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
            h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    tr: Tr,
    status: u16,
    message: String,
}

/// An error page with the catalogue message `key`.
pub(crate) fn page_error(tr: &Tr, status: StatusCode, key: &str) -> Response {
    let page = ErrorPage { tr: tr.clone(), status: status.as_u16(), message: tr.t(key) };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// An error page with a reason that is not in the catalogue (a store's validation message).
pub(crate) fn page_error_text(tr: &Tr, status: StatusCode, message: String) -> Response {
    let page = ErrorPage { tr: tr.clone(), status: status.as_u16(), message };
    let mut resp = render(&page);
    *resp.status_mut() = status;
    resp
}

/// Maps a store error to an error page.
pub(crate) fn store_error(tr: &Tr, e: switchboard_store::StoreError) -> Response {
    use switchboard_store::StoreError as E;
    match e {
        E::NotFound(_) => page_error(tr, StatusCode::NOT_FOUND, "error-not-found"),
        E::Conflict(m) => page_error_text(tr, StatusCode::CONFLICT, m),
        E::Invalid(m) => page_error_text(tr, StatusCode::UNPROCESSABLE_ENTITY, m),
        E::Backend(m) => {
            tracing::error!(error = %m, "store failed");
            page_error(tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable")
        }
        E::Closed => page_error(tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable"),
    }
}

/// Writes an audit entry; a failure is logged (the change itself already happened).
pub(crate) async fn audit(st: &AppState, entry: NewAuditEntry) {
    if let Err(e) = st.engine.store().record_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "cannot write audit entry");
    }
}

/// The UI routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/logout-everywhere", post(session::logout_everywhere))
        .route("/inbox", get(inbox::page))
        .route("/inbox/rows", get(inbox::rows))
        .route("/c/{case}", get(conversation::page))
        .route("/c/{case}/thread", get(conversation::thread))
        .route("/c/{case}/reply", post(conversation::reply))
        .route("/c/{case}/update", post(conversation::update))
        .route("/c/{case}/template", post(conversation::template))
        .route("/c/{case}/intent", post(triage::set_intent))
        .route("/c/{case}/notes", post(contact_notes::add))
        .merge(crate::widget::agent_files::ui_router())
        .route("/c/{case}/notes/{id}", post(contact_notes::edit))
        .route("/settings", get(settings::page).post(settings::save))
        .route("/settings/availability", post(settings::save_availability))
        .route("/admin", get(|| async { Redirect::to("/admin/channels") }))
        .route("/admin/channels", get(admin::channels))
        .route("/admin/channels/new", get(admin::channel_new))
        .route("/admin/channels/save", post(admin::channel_save))
        .route("/admin/channels/{slug}", get(admin::channel_edit))
        .route("/admin/channels/{slug}/test", post(admin::channel_test))
        .route("/admin/channels/{slug}/telegram-webhook", post(admin_telegram::webhook))
        .route("/admin/users", get(admin::users).post(admin::user_create))
        .route("/admin/users/{id}", post(admin::user_update))
        .route("/admin/audit", get(admin::audit_log))
        .route("/ui/attachments/{id}/{index}", get(conversation::attachment))
        .route("/ui/canned", get(canned::suggest))
        .route("/ui/canned/{id}/use", post(canned::used))
        .route("/ui/events", get(live::events))
        .route("/ui/presence", post(live::presence))
        .route("/assets/{file}", get(assets::asset))
        .merge(admin_teams::router())
        .merge(admin_docs::router())
        .merge(admin_kb::router())
        .merge(admin_surveys::router())
        .merge(reports::routes())
        .route("/survey/{id}", get(survey::show).post(survey::answer))
        .merge(help::router())
        .merge(kb_agent::router())
}
