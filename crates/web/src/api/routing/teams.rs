//! Teams, members and agent availability.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::routing::Availability;
use switchboard_domain::{Role, UserId};
use switchboard_engine::RealtimeEvent;
use switchboard_store::routing::{MemberInput, Team, TeamInput, TeamMember};

use super::uuid_param;
use crate::AppState;
use crate::api::audit::{json, record};
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::Json;

/// Lists teams.
#[utoipa::path(get, path = "/api/v1/teams", tag = "routing", responses((status = 200, body = Vec<Team>)))]
pub(crate) async fn list(State(st): State<AppState>, _caller: Caller) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(st.engine.store().list_teams().await?))
}

/// Creates a team. Admins only.
#[utoipa::path(post, path = "/api/v1/teams", tag = "routing", request_body = TeamInput,
    responses((status = 201, body = Team), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Json(t): Json<TeamInput>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let team = st.engine.store().create_team(&t).await?;
    tracing::info!(team = %team.name, user = %caller.user_id, "team created");
    record(&st, &caller, "team.create", &team.name, None, json(&team)).await;
    Ok((StatusCode::CREATED, axum::Json(team)))
}

/// One team.
#[utoipa::path(get, path = "/api/v1/teams/{name}", tag = "routing", params(("name" = String, Path)),
    responses((status = 200, body = Team), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let team = st.engine.store().get_team(&name).await?.ok_or_else(|| AppError::not_found("team"))?;
    Ok(axum::Json(team))
}

/// Replaces a team's settings; renaming moves its conversations along. Admins only.
#[utoipa::path(put, path = "/api/v1/teams/{name}", tag = "routing", params(("name" = String, Path)), request_body = TeamInput,
    responses((status = 200, body = Team), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn update(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(t): Json<TeamInput>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let before = st.engine.store().get_team(&name).await?;
    let team = st.engine.store().update_team(&name, &t).await?;
    st.engine.routing().reload();
    record(&st, &caller, "team.update", &team.name, before.as_ref().and_then(json), json(&team)).await;
    Ok(axum::Json(team))
}

/// Deletes a team with its memberships and canned replies. Admins only.
#[utoipa::path(delete, path = "/api/v1/teams/{name}", tag = "routing", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let before = st.engine.store().get_team(&name).await?;
    st.engine.store().delete_team(&name).await?;
    record(&st, &caller, "team.delete", name, before.as_ref().and_then(json), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A team's members with skills, capacity and availability.
#[utoipa::path(get, path = "/api/v1/teams/{name}/members", tag = "routing", params(("name" = String, Path)),
    responses((status = 200, body = Vec<TeamMember>), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn members(
    State(st): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(st.engine.store().list_team_members(&name).await?))
}

/// Adds a user to a team or changes their role, skills and capacity. Admins only.
#[utoipa::path(put, path = "/api/v1/teams/{name}/members/{user_id}", tag = "routing",
    params(("name" = String, Path), ("user_id" = String, Path)), request_body = MemberInput,
    responses((status = 200, body = TeamMember), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn put_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((name, user)): Path<(String, String)>,
    Json(m): Json<MemberInput>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let user = UserId(uuid_param(&user, "user")?);
    let store = st.engine.store();
    let before = store.list_team_members(&name).await?.into_iter().find(|x| x.user_id == user);
    let member = store.put_team_member(&name, user, &m).await?;
    record(&st, &caller, "team.member.put", format!("{name}/{user}"), before.as_ref().and_then(json), json(&member))
        .await;
    Ok(axum::Json(member))
}

/// Removes a user from a team. Admins only.
#[utoipa::path(delete, path = "/api/v1/teams/{name}/members/{user_id}", tag = "routing",
    params(("name" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn remove_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((name, user)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let user = UserId(uuid_param(&user, "user")?);
    let store = st.engine.store();
    let before = store.list_team_members(&name).await?.into_iter().find(|x| x.user_id == user);
    store.remove_team_member(&name, user).await?;
    record(&st, &caller, "team.member.remove", format!("{name}/{user}"), before.as_ref().and_then(json), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// An agent's availability.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct AvailabilityBody {
    /// online, away or offline.
    availability: Availability,
}

/// The caller's availability.
#[utoipa::path(get, path = "/api/v1/me/availability", tag = "routing", responses((status = 200, body = AvailabilityBody)))]
pub(crate) async fn my_availability(State(st): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let availability = st.engine.store().get_availability(caller.user_id).await?;
    Ok(axum::Json(AvailabilityBody { availability }))
}

/// Sets the caller's availability. Going offline unassigns their open conversations, which are
/// routed again.
#[utoipa::path(put, path = "/api/v1/me/availability", tag = "routing", request_body = AvailabilityBody,
    responses((status = 200, body = AvailabilityBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn set_my_availability(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<AvailabilityBody>,
) -> ApiResult<impl IntoResponse> {
    apply(&st, caller.user_id, b.availability).await?;
    Ok(axum::Json(b))
}

/// Sets another agent's availability. Supervisors and admins.
#[utoipa::path(put, path = "/api/v1/users/{user_id}/availability", tag = "routing", params(("user_id" = String, Path)),
    request_body = AvailabilityBody,
    responses((status = 200, body = AvailabilityBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn set_availability(
    State(st): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
    Json(b): Json<AvailabilityBody>,
) -> ApiResult<impl IntoResponse> {
    let user = UserId(uuid_param(&user, "user")?);
    if user != caller.user_id {
        caller.require(Role::Supervisor)?;
    }
    apply(&st, user, b.availability).await?;
    Ok(axum::Json(b))
}

/// Records `user`'s availability; going offline hands their open work back to routing.
pub(crate) async fn apply(st: &AppState, user: UserId, a: Availability) -> ApiResult<()> {
    let now = st.engine.routing().now();
    let freed = st.engine.store().set_availability(user, a, now).await?;
    tracing::info!(user = %user, availability = %a, unassigned = freed.len(), "availability changed");
    for (id, case) in &freed {
        st.engine.bus().publish(RealtimeEvent::new("conversation.updated", *id, Some(*case), None)).await;
    }
    // Unassigned conversations changed: the routing job routes them again.
    st.engine.routing().after_threading();
    Ok(())
}
