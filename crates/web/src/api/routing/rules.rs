//! Automation rules.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use switchboard_domain::Role;
use switchboard_domain::automation::{Rule, RuleSet};
use switchboard_store::routing::RuleRecord;

use super::{invalid, uuid_param};
use crate::AppState;
use crate::api::audit::{json, record};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::Json;

/// Rules in evaluation order.
#[utoipa::path(get, path = "/api/v1/automation-rules", tag = "routing", responses((status = 200, body = Vec<RuleRecord>)))]
pub(crate) async fn list(State(st): State<AppState>, _caller: Caller) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(st.engine.store().list_rules().await?))
}

/// A rule with its place in the evaluation order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RuleBody {
    /// Lower positions are evaluated first (default 0).
    #[serde(default)]
    position: i32,
    /// The rule.
    #[serde(flatten)]
    rule: Rule,
}

fn check(rule: &Rule) -> ApiResult<()> {
    RuleSet::compile(std::slice::from_ref(rule)).map(|_| ()).map_err(|e| invalid(e.to_string()))
}

/// Creates a rule. Admins only.
#[utoipa::path(post, path = "/api/v1/automation-rules", tag = "routing", request_body = RuleBody,
    responses((status = 201, body = RuleRecord), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<RuleBody>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    check(&b.rule)?;
    let rec = st.engine.store().create_rule(b.position, &b.rule).await?;
    record(&st, &caller, "automation_rule.create", rec.id.to_string(), None, json(&rec)).await;
    st.engine.routing().reload();
    tracing::info!(rule = %rec.rule.name, user = %caller.user_id, "automation rule created");
    Ok((StatusCode::CREATED, axum::Json(rec)))
}

/// Replaces a rule. Admins only.
#[utoipa::path(put, path = "/api/v1/automation-rules/{id}", tag = "routing", params(("id" = String, Path)),
    request_body = RuleBody,
    responses((status = 200, body = RuleRecord), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<RuleBody>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let id = uuid_param(&id, "rule")?;
    check(&b.rule)?;
    let before = st.engine.store().list_rules().await?.into_iter().find(|r| r.id == id);
    let rec = st.engine.store().update_rule(id, b.position, &b.rule).await?;
    record(&st, &caller, "automation_rule.update", id.to_string(), before.as_ref().and_then(json), json(&rec)).await;
    st.engine.routing().reload();
    Ok(axum::Json(rec))
}

/// Deletes a rule. Admins only.
#[utoipa::path(delete, path = "/api/v1/automation-rules/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let id = uuid_param(&id, "rule")?;
    let before = st.engine.store().list_rules().await?.into_iter().find(|r| r.id == id);
    st.engine.store().delete_rule(id).await?;
    record(&st, &caller, "automation_rule.delete", id.to_string(), before.as_ref().and_then(json), None).await;
    st.engine.routing().reload();
    Ok(StatusCode::NO_CONTENT)
}
