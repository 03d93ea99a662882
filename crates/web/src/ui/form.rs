//! The checks every state-changing UI form shares, as extractors: the user's role, the form
//! parsed, its CSRF token compared. A handler that takes [`AdminForm`] or [`CheckedForm`] runs
//! only when all of them passed; otherwise the user gets the error page of the first that failed.

use std::collections::HashMap;

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use switchboard_domain::Role;

use super::page_error;
use super::session::{CsrfForm, UiUser};
use crate::AppState;

/// A form that carries the session's CSRF token.
pub(crate) trait HasCsrf {
    /// The `_csrf` field; `None` lets the `X-CSRF-Token` header speak instead.
    fn csrf(&self) -> Option<&str>;
}

/// Forms whose `_csrf` field is a `String` (empty when the browser sent none).
macro_rules! has_csrf {
    ($($form:ty),+ $(,)?) => {$(
        impl $crate::ui::form::HasCsrf for $form {
            fn csrf(&self) -> Option<&str> {
                Some(&self.csrf)
            }
        }
    )+};
}
pub(crate) use has_csrf;

has_csrf!(CsrfForm);

/// A form read field by field: its `_csrf` entry, if any.
impl HasCsrf for HashMap<String, String> {
    fn csrf(&self) -> Option<&str> {
        self.get("_csrf").map(String::as_str)
    }
}

/// A form posted by a signed-in user with the session's CSRF token: a 400 page when it does not
/// parse, a 403 page when the token (or the `Origin`) is wrong.
pub(crate) struct CheckedForm<F>(pub F);

/// A [`CheckedForm`] that only an admin may post: other roles get the 403 page first.
pub(crate) struct AdminForm<F>(pub F);

impl<F: DeserializeOwned + HasCsrf + Send> FromRequest<AppState> for CheckedForm<F> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Response> {
        checked(req, st, None).await.map(CheckedForm)
    }
}

impl<F: DeserializeOwned + HasCsrf + Send> FromRequest<AppState> for AdminForm<F> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Response> {
        checked(req, st, Some(Role::Admin)).await.map(AdminForm)
    }
}

/// Role, then form, then token: the order the error pages have always come in.
async fn checked<F: DeserializeOwned + HasCsrf + Send>(
    req: Request,
    st: &AppState,
    role: Option<Role>,
) -> Result<F, Response> {
    let (mut parts, body) = req.into_parts();
    // The handler extracted the user already; this finds it in the request's extensions.
    let me = UiUser::from_request_parts(&mut parts, st).await?;
    if let Some(role) = role {
        me.require(role)?;
    }
    let headers = parts.headers.clone();
    let Ok(Form(f)) = Form::<F>::from_request(Request::from_parts(parts, body), st).await else {
        return Err(page_error(&me.tr, StatusCode::BAD_REQUEST, "error-bad-form"));
    };
    me.check_csrf(&headers, f.csrf())?;
    Ok(f)
}
