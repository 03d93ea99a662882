//! Contact attributes (`tier`, `plan`, …): what SLA policies (`tier`) and automation rules
//! (`contact_attribute`) look at.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use switchboard_domain::{ContactId, Role};

use super::uuid_param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::Json;

/// A contact's attributes.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/attributes", tag = "routing", params(("id" = String, Path)),
    responses((status = 200, body = BTreeMap<String, String>), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_all(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = ContactId(uuid_param(&id, "contact")?);
    let store = st.engine.store();
    store.get_contact(id).await?.ok_or_else(|| AppError::not_found("contact"))?;
    Ok(axum::Json(store.get_contact_attributes(id).await?))
}

/// Replaces a contact's attributes, e.g. `{"tier": "gold"}`. Supervisors and admins.
#[utoipa::path(put, path = "/api/v1/contacts/{id}/attributes", tag = "routing", params(("id" = String, Path)),
    request_body = BTreeMap<String, String>,
    responses((status = 200, body = BTreeMap<String, String>), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn put_all(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(attrs): Json<BTreeMap<String, String>>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Supervisor)?;
    let id = ContactId(uuid_param(&id, "contact")?);
    let store = st.engine.store();
    store.set_contact_attributes(id, &attrs).await?;
    tracing::info!(contact = %id, user = %caller.user_id, "contact attributes changed");
    Ok(axum::Json(store.get_contact_attributes(id).await?))
}
