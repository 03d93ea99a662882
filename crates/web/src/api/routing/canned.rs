//! Canned replies: global and per team, one text per language, `{{variables}}`, usage counts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::canned::{pick_variant, render as render_template, script_language};
use switchboard_domain::{ConversationId, Direction, Role};
use switchboard_store::routing::{CannedInput, CannedReply};

use super::{invalid, uuid_param};
use crate::AppState;
use crate::api::audit::{json, record};
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::{Json, Query};

/// Query of the canned-reply list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ListParams {
    /// Also the replies of this team (global ones are always listed).
    team: Option<String>,
}

/// Canned replies: global ones, plus a team's own with `?team=`.
#[utoipa::path(get, path = "/api/v1/canned-replies", tag = "routing", params(ListParams),
    responses((status = 200, body = Vec<CannedReply>)))]
pub(crate) async fn list(
    State(st): State<AppState>,
    _caller: Caller,
    Query(p): Query<ListParams>,
) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(st.engine.store().list_canned(p.team.as_deref().filter(|t| !t.is_empty())).await?))
}

/// Creates a canned reply. Admins only.
#[utoipa::path(post, path = "/api/v1/canned-replies", tag = "routing", request_body = CannedInput,
    responses((status = 201, body = CannedReply), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(c): Json<CannedInput>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let rec = st.engine.store().create_canned(&c).await?;
    record(&st, &caller, "canned.create", rec.id.to_string(), None, json(&rec)).await;
    Ok((StatusCode::CREATED, axum::Json(rec)))
}

/// Replaces a canned reply. Admins only.
#[utoipa::path(put, path = "/api/v1/canned-replies/{id}", tag = "routing", params(("id" = String, Path)),
    request_body = CannedInput,
    responses((status = 200, body = CannedReply), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(c): Json<CannedInput>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let id = uuid_param(&id, "canned reply")?;
    let before = st.engine.store().get_canned(id).await?;
    let rec = st.engine.store().update_canned(id, &c).await?;
    record(&st, &caller, "canned.update", id.to_string(), before.as_ref().and_then(json), json(&rec)).await;
    Ok(axum::Json(rec))
}

/// Deletes a canned reply. Admins only.
#[utoipa::path(delete, path = "/api/v1/canned-replies/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let id = uuid_param(&id, "canned reply")?;
    let before = st.engine.store().get_canned(id).await?;
    st.engine.store().delete_canned(id).await?;
    record(&st, &caller, "canned.delete", id.to_string(), before.as_ref().and_then(json), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Which conversation to render a canned reply for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RenderBody {
    /// The conversation (its contact, case number, agent and SLA fill the variables).
    #[schema(value_type = String, format = Uuid)]
    conversation_id: ConversationId,
    /// Language variant to use; default: the conversation's language.
    #[serde(default)]
    language: Option<String>,
}

/// A rendered canned reply, ready to send.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Rendered {
    /// The variant used.
    language: String,
    /// The text with variables filled in.
    text: String,
}

/// Renders a canned reply for a conversation in its language and counts one use.
#[utoipa::path(post, path = "/api/v1/canned-replies/{id}/render", tag = "routing", params(("id" = String, Path)),
    request_body = RenderBody,
    responses((status = 200, body = Rendered), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn render(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<RenderBody>,
) -> ApiResult<impl IntoResponse> {
    let store = st.engine.store();
    let canned =
        store.get_canned(uuid_param(&id, "canned reply")?).await?.ok_or_else(|| AppError::not_found("canned reply"))?;
    let conv = store.get_conversation(b.conversation_id).await?.ok_or_else(|| AppError::not_found("conversation"))?;
    let language = match b.language {
        Some(l) => l,
        None => {
            let messages = store.list_messages(conv.id).await?;
            let last = messages.iter().rev().find(|m| m.direction == Direction::Inbound);
            last.map(|m| script_language(&m.text)).unwrap_or("en").to_owned()
        }
    };
    let (lang, template) =
        pick_variant(&canned.variants, Some(&language)).ok_or_else(|| invalid("the canned reply has no text"))?;
    let routing = st.engine.routing();
    let cal = routing.calendar_of(conv.team.as_deref()).await?;
    let vars = routing.template_vars(&conv, &cal, routing.now(), Some(lang)).await?;
    let text = render_template(template, &vars).map_err(|e| invalid(e.to_string()))?;
    store.count_canned_use(canned.id).await?;
    Ok(axum::Json(Rendered { language: lang.to_owned(), text }))
}
