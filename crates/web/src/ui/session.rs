//! Signing in and out: argon2 passwords, server-side sessions in HttpOnly cookies, CSRF tokens,
//! login throttling, roles.

use std::net::SocketAddr;

use argon2::PasswordVerifier;
use askama::Template;
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use chrono::{Duration, Utc};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use switchboard_domain::Role;
use switchboard_store::{NewAuditEntry, UiSession, User, UserPrefs};

use super::i18n::{Locale, Tr, time_zone};
use super::{Chrome, page_error, render};
use crate::AppState;
use crate::auth::hash_token;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "sb_session";
/// The pre-login CSRF cookie (double-submit) of the sign-in form.
const LOGIN_COOKIE: &str = "sb_login";
/// A session ends after this long without a request.
const IDLE: i64 = 12 * 60 * 60;
/// Activity is written back at most this often.
const TOUCH_EVERY: i64 = 5 * 60;
/// Failed sign-ins counted over this window...
const FAILURE_WINDOW_MIN: i64 = 15;
/// ...block the account after this many...
const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// ...and the client address after this many.
const MAX_FAILURES_PER_IP: i64 = 30;

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Whether the browser reached us over HTTPS (directly or through a proxy that says so).
fn is_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age: i64, same_site: &str) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("sb_invalid=1"))
}

/// The client's address: the peer, or behind a trusted proxy the forwarded address.
fn client_ip(st: &AppState, parts_ext: &axum::http::Extensions, headers: &HeaderMap) -> String {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| st.ui.trusted_proxies.client_ip(c.0.ip(), headers).to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The signed-in user of a UI request, with their translator.
#[derive(Clone)]
pub struct UiUser {
    /// Who.
    pub user: User,
    /// Their session.
    pub session: UiSession,
    /// Their settings.
    pub prefs: UserPrefs,
    /// Their language and time zone.
    pub tr: Tr,
}

impl UiUser {
    /// The page frame for this user.
    pub(crate) fn chrome(&self, active: &'static str) -> Chrome {
        Chrome {
            tr: self.tr.clone(),
            user_name: self.user.name.clone(),
            user_id: self.user.id.to_string(),
            role: self.user.role.as_str(),
            is_admin: self.user.role == Role::Admin,
            csrf: self.session.csrf_token.clone(),
            active,
        }
    }

    /// A 403 page unless the user has at least `role`.
    pub(crate) fn require(&self, role: Role) -> Result<(), Response> {
        if self.user.role.at_least(role) {
            Ok(())
        } else {
            Err(page_error(&self.tr, StatusCode::FORBIDDEN, "error-forbidden"))
        }
    }

    /// Checks the CSRF token of a state-changing request: the form field or the
    /// `X-CSRF-Token` header must equal the session's token, and a cross-site `Origin` is refused.
    pub(crate) fn check_csrf(&self, headers: &HeaderMap, form_token: Option<&str>) -> Result<(), Response> {
        let sent = form_token.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok())).unwrap_or("");
        let ok = bool::from(sent.as_bytes().ct_eq(self.session.csrf_token.as_bytes())) && same_origin(headers);
        if ok { Ok(()) } else { Err(page_error(&self.tr, StatusCode::FORBIDDEN, "error-csrf")) }
    }
}

/// False when the browser says the request comes from another site.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else { return false };
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    origin_host.eq_ignore_ascii_case(host)
}

/// A translator for a request without a session: `Accept-Language`, UTC.
pub(crate) fn anonymous_tr(st: &AppState, headers: &HeaderMap) -> Tr {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Tr::new(st.ui.catalogue.clone(), Locale::negotiate(None, accept), chrono_tz::UTC)
}

fn wants_html(parts: &Parts) -> bool {
    parts.method == Method::GET
        && parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|a| a.contains("text/html") || a.contains("*/*"))
        && !parts.headers.contains_key("x-requested-with")
}

impl FromRequestParts<AppState> for UiUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        // A handler and its form extractor both ask; the session is looked up once.
        if let Some(me) = parts.extensions.get::<UiUser>() {
            return Ok(me.clone());
        }
        let unauthenticated = |parts: &Parts| {
            if wants_html(parts) {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let target = format!("/login?next={}", urlencode(next));
                Redirect::to(&target).into_response()
            } else {
                let tr = anonymous_tr(st, &parts.headers);
                page_error(&tr, StatusCode::UNAUTHORIZED, "error-signed-out")
            }
        };
        let Some(raw) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(unauthenticated(parts)) };
        let hash = hash_token(raw);
        let now = Utc::now();
        let found = st.engine.store().find_session(&hash, now).await.map_err(|e| {
            let tr = anonymous_tr(st, &parts.headers);
            tracing::error!(error = %e, "session lookup failed");
            page_error(&tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable")
        })?;
        let Some((session, user)) = found else { return Err(unauthenticated(parts)) };
        if (now - session.last_seen_at).num_seconds() > TOUCH_EVERY {
            // Losing a touch only shortens the session; never fail the request for it.
            if let Err(e) = st.engine.store().touch_session(&hash, now, now + Duration::seconds(IDLE)).await {
                tracing::warn!(error = %e, "cannot extend session");
            }
        }
        let prefs = st.engine.store().get_prefs(user.id).await.unwrap_or_default();
        let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let locale = Locale::negotiate(prefs.locale.as_deref(), accept);
        let tr = Tr::new(st.ui.catalogue.clone(), locale, time_zone(prefs.time_zone.as_deref()));
        let me = UiUser { user, session, prefs, tr };
        parts.extensions.insert(me.clone());
        Ok(me)
    }
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/inbox".to_owned(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tr: Tr,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`.
pub(crate) async fn login_form(
    State(st): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    let tr = anonymous_tr(&st, &headers);
    let csrf = random_token();
    let page =
        LoginPage { tr, csrf: csrf.clone(), next: safe_next(q.next.as_deref()), email: String::new(), error: None };
    let mut resp = render(&page);
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(&headers, LOGIN_COOKIE, &csrf, 3600, "Strict"));
    resp
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// `POST /login`.
pub(crate) async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let tr = anonymous_tr(&st, &headers);
    let Ok(Form(f)) = form else { return page_error(&tr, StatusCode::BAD_REQUEST, "error-bad-form") };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(f.csrf.as_bytes())) || !same_origin(&headers) {
        return page_error(&tr, StatusCode::FORBIDDEN, "error-csrf");
    }
    let email = f.email.trim().to_lowercase();
    let ip = client_ip(&st, &ext, &headers);
    let store = st.engine.store();
    let again = |key: &str, status: StatusCode| {
        let csrf = random_token();
        let page = LoginPage {
            tr: tr.clone(),
            csrf: csrf.clone(),
            next: safe_next(f.next.as_deref()),
            email: email.clone(),
            error: Some(tr.t(key)),
        };
        let mut resp = render(&page);
        *resp.status_mut() = status;
        resp.headers_mut().append(header::SET_COOKIE, set_cookie(&headers, LOGIN_COOKIE, &csrf, 3600, "Strict"));
        resp
    };
    let now = Utc::now();
    match store.login_failures_since(&email, &ip, now - Duration::minutes(FAILURE_WINDOW_MIN)).await {
        Ok((by_email, by_ip)) if by_email >= MAX_FAILURES_PER_EMAIL || by_ip >= MAX_FAILURES_PER_IP => {
            tracing::warn!(%ip, "sign-in throttled");
            return again("login-throttled", StatusCode::TOO_MANY_REQUESTS);
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot read sign-in failures");
            return page_error(&tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable");
        }
    }
    let user = match store.find_user_by_email(&email).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            return page_error(&tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable");
        }
    };
    let password = f.password;
    let usable = user.as_ref().filter(|u| !u.disabled).and_then(|u| u.password_hash.clone());
    let has_account = usable.is_some();
    let dummy = st.ui.dummy_hash.clone();
    let verified = tokio::task::spawn_blocking(move || {
        // Unknown accounts are checked against a throwaway hash: same work, same time.
        let hash = usable.unwrap_or_else(|| {
            dummy
                .get_or_init(|| {
                    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
                    let salt = SaltString::generate(&mut OsRng);
                    argon2::Argon2::default()
                        .hash_password(random_token().as_bytes(), &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        argon2::PasswordHash::new(&hash)
            .map(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
        && has_account;
    let Some(user) = user.filter(|_| verified) else {
        if let Err(e) = store.record_login_failure(&email, &ip, now).await {
            tracing::error!(error = %e, "cannot record sign-in failure");
        }
        tracing::info!(%ip, "sign-in failed");
        return again("login-failed", StatusCode::UNAUTHORIZED);
    };
    let _ = store.clear_login_failures(&email).await;
    let raw = random_token();
    let session = UiSession {
        id_hash: hash_token(&raw),
        user_id: user.id,
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::seconds(IDLE),
    };
    if let Err(e) = store.create_session(&session).await {
        tracing::error!(error = %e, "cannot create session");
        return page_error(&tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable");
    }
    tracing::info!(user = %user.id, "signed in");
    let mut resp = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(&headers, SESSION_COOKIE, &raw, IDLE, "Lax"));
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(&headers, LOGIN_COOKIE, "", 0, "Strict"));
    resp
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub(crate) csrf: String,
}

fn signed_out(headers: &HeaderMap) -> Response {
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(headers, SESSION_COOKIE, "", 0, "Lax"));
    resp
}

/// `POST /logout`: ends this session.
pub(crate) async fn logout(
    State(st): State<AppState>,
    me: UiUser,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&headers, Some(&f.csrf)) {
        return r;
    }
    if let Err(e) = st.engine.store().delete_session(&me.session.id_hash).await {
        tracing::error!(error = %e, "cannot end session");
        return page_error(&me.tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable");
    }
    signed_out(&headers)
}

/// `POST /logout-everywhere`: ends every session of the user, on every device.
pub(crate) async fn logout_everywhere(
    State(st): State<AppState>,
    me: UiUser,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&headers, Some(&f.csrf)) {
        return r;
    }
    let store = st.engine.store();
    match store.delete_user_sessions(me.user.id).await {
        Ok(n) => {
            super::audit(
                &st,
                NewAuditEntry {
                    actor_id: Some(me.user.id),
                    action: "session.logout_everywhere".into(),
                    target: me.user.email.clone(),
                    before: Some(serde_json::json!({ "sessions": n })),
                    after: Some(serde_json::json!({ "sessions": 0 })),
                    at: Utc::now(),
                },
            )
            .await;
            signed_out(&headers)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot end sessions");
            page_error(&me.tr, StatusCode::SERVICE_UNAVAILABLE, "error-unavailable")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/c/SB-000001")), "/c/SB-000001");
        assert_eq!(safe_next(Some("//evil.example/")), "/inbox");
        assert_eq!(safe_next(Some("https://evil.example/")), "/inbox");
        assert_eq!(safe_next(Some("/\\evil")), "/inbox");
        assert_eq!(safe_next(None), "/inbox");
    }

    #[test]
    fn cross_site_origins_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("desk.example:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://desk.example:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; sb_session=xyz; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
        let v = set_cookie(&h, "n", "v", 10, "Lax");
        assert_eq!(v.to_str().unwrap_or(""), "n=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=10");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(set_cookie(&h, "n", "v", 10, "Lax").to_str().unwrap_or("").ends_with("; Secure"));
    }
}
