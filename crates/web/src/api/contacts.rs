//! Contacts and their channel identities.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::{Contact, ContactId, Role};
use switchboard_store::{ConversationFilter, ConversationSummary};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::{Json, Query};

/// Query parameters of the contact list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ListParams {
    /// Text in name, email, handle or display name.
    q: Option<String>,
    /// Cursor from the previous page.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// A page of contacts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ContactPage {
    items: Vec<Contact>,
    next_cursor: Option<String>,
}

/// Lists contacts, newest first.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ListParams), responses((status = 200, body = ContactPage)))]
pub(crate) async fn list(
    State(st): State<AppState>,
    _caller: Caller,
    Query(p): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    let q = p.q.as_deref().filter(|q| !q.trim().is_empty());
    let page = st
        .engine
        .store()
        .list_contacts(q, p.cursor.as_deref().filter(|c| !c.is_empty()), p.limit.unwrap_or(50))
        .await?;
    Ok(axum::Json(ContactPage { items: page.items, next_cursor: page.next_cursor }))
}

fn parse_id(id: &str) -> ApiResult<ContactId> {
    id.parse::<ContactId>().map_err(|_| AppError::bad_request("invalid_id", "not a contact id"))
}

/// A contact with their conversations on every channel.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ContactDetail {
    contact: Contact,
    conversations: Vec<ConversationSummary>,
}

/// One contact with identities and recent conversations across channels (a merged-away id
/// resolves to the surviving contact).
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = ContactDetail), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let store = st.engine.store();
    let contact = store.get_contact(parse_id(&id)?).await?.ok_or_else(|| AppError::not_found("contact"))?;
    let conversations = store
        .list_conversations(&ConversationFilter { contact: Some(contact.id), limit: 100, ..Default::default() })
        .await?
        .items;
    Ok(axum::Json(ContactDetail { contact, conversations }))
}

/// Name and email of a contact.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ContactPatch {
    name: Option<String>,
    email: Option<String>,
}

/// Updates a contact's name or email.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)), request_body = ContactPatch,
    responses((status = 200, body = Contact), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn patch(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
    Json(p): Json<ContactPatch>,
) -> ApiResult<impl IntoResponse> {
    if let Some(email) = &p.email {
        let e = email.trim();
        if e.len() > 254 || !e.contains('@') || e.starts_with('@') || e.ends_with('@') {
            return Err(AppError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_payload",
                format!("{email:?} is not an email address"),
            ));
        }
    }
    let ct = st
        .engine
        .store()
        .update_contact(parse_id(&id)?, p.name.as_deref().map(str::trim), p.email.as_deref().map(str::trim))
        .await?;
    Ok(axum::Json(ct))
}

/// Which contact to merge into this one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct MergeBody {
    /// The contact that disappears into the one in the path.
    other_id: String,
}

/// Merges another contact into this one: identities and conversations move; the other id keeps
/// resolving to this contact. Supervisors and admins only.
#[utoipa::path(post, path = "/api/v1/contacts/{id}/merge", tag = "contacts", params(("id" = String, Path)), request_body = MergeBody,
    responses((status = 200, body = Contact), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn merge(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<MergeBody>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Supervisor)?;
    let (keep, other) = (parse_id(&id)?, parse_id(&b.other_id)?);
    let ct = st.engine.store().merge_contacts(keep, other).await?;
    tracing::info!(contact = %ct.id, user = %caller.user_id, "contacts merged");
    crate::ui::audit(
        &st,
        switchboard_store::NewAuditEntry {
            actor_id: Some(caller.user_id),
            action: "contact.merge".into(),
            target: ct.id.to_string(),
            before: Some(serde_json::json!({ "merged_contact": other })),
            after: serde_json::to_value(&ct).ok(),
            at: chrono::Utc::now(),
        },
    )
    .await;
    Ok(axum::Json(ct))
}
