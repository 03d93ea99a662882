//! SLA policies and a conversation's SLA state.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::automation::FiredRule;
use switchboard_domain::sla::{SlaPolicy, SlaStatus};
use switchboard_domain::{ConversationId, FactKind, Role};
use switchboard_store::routing::SlaPolicyRecord;

use super::{invalid, uuid_param};
use crate::AppState;
use crate::api::audit::{json, record};
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::Json;

/// Policies in evaluation order (the built-in defaults apply after them).
#[utoipa::path(get, path = "/api/v1/sla-policies", tag = "routing", responses((status = 200, body = Vec<SlaPolicyRecord>)))]
pub(crate) async fn list(State(st): State<AppState>, _caller: Caller) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(st.engine.store().list_sla_policies().await?))
}

/// An SLA policy with its place in the evaluation order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SlaPolicyBody {
    /// Lower positions are tried first (default 0).
    #[serde(default)]
    position: i32,
    /// The policy.
    #[serde(flatten)]
    policy: SlaPolicy,
}

/// Creates a policy. Admins only.
#[utoipa::path(post, path = "/api/v1/sla-policies", tag = "routing", request_body = SlaPolicyBody,
    responses((status = 201, body = SlaPolicyRecord), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<SlaPolicyBody>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    b.policy.validate().map_err(|e| invalid(e.to_string()))?;
    let rec = st.engine.store().create_sla_policy(b.position, &b.policy).await?;
    st.engine.routing().reload();
    record(&st, &caller, "sla_policy.create", rec.id.to_string(), None, json(&rec)).await;
    Ok((StatusCode::CREATED, axum::Json(rec)))
}

/// Replaces a policy. Admins only.
#[utoipa::path(put, path = "/api/v1/sla-policies/{id}", tag = "routing", params(("id" = String, Path)),
    request_body = SlaPolicyBody,
    responses((status = 200, body = SlaPolicyRecord), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<SlaPolicyBody>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let id = uuid_param(&id, "SLA policy")?;
    b.policy.validate().map_err(|e| invalid(e.to_string()))?;
    let before = st.engine.store().list_sla_policies().await?.into_iter().find(|p| p.id == id);
    let rec = st.engine.store().update_sla_policy(id, b.position, &b.policy).await?;
    st.engine.routing().reload();
    record(&st, &caller, "sla_policy.update", id.to_string(), before.as_ref().and_then(json), json(&rec)).await;
    Ok(axum::Json(rec))
}

/// Deletes a policy. Admins only.
#[utoipa::path(delete, path = "/api/v1/sla-policies/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let id = uuid_param(&id, "SLA policy")?;
    let before = st.engine.store().list_sla_policies().await?.into_iter().find(|p| p.id == id);
    st.engine.store().delete_sla_policy(id).await?;
    st.engine.routing().reload();
    record(&st, &caller, "sla_policy.delete", id.to_string(), before.as_ref().and_then(json), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A conversation's SLA clocks and the automation rules that fired on it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ConversationSla {
    /// The clocks with their due times.
    sla: Vec<SlaStatus>,
    /// Rules that fired, oldest first, with why.
    fired_rules: Vec<FiredRule>,
}

/// SLA due times and fired rules of one conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/sla", tag = "routing", params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ConversationSla), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn conversation_sla(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = ConversationId(uuid_param(&id, "conversation")?);
    let store = st.engine.store();
    let conv = store.get_conversation(id).await?.ok_or_else(|| AppError::not_found("conversation"))?;
    let sla = st.engine.routing().sla_status(&conv).await?;
    let fired_rules = store
        .list_facts(id)
        .await?
        .into_iter()
        .filter(|f| f.kind == FactKind::RuleFired)
        .map(|f| FiredRule {
            rule: f.data.get("rule").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
            reasons: f
                .data
                .get("reasons")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        })
        .collect();
    Ok(axum::Json(ConversationSla { sla, fired_rules }))
}
