//! Survey settings per channel (issue 10, docs/reports.md): `GET /api/v1/surveys/settings`
//! (supervisors), `PUT /api/v1/channels/{slug}/survey` (admins).

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use switchboard_domain::{ChannelSlug, Role};
use switchboard_store::quality::SurveySettings;
use utoipa::OpenApi;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};

/// The routes, under `/api/v1`.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/surveys/settings", get(list)).route("/channels/{slug}/survey", put(set))
}

/// Body of `PUT /channels/{slug}/survey`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SurveyBody {
    /// Ask CSAT (1–5) after resolution.
    pub csat: bool,
    /// Ask NPS (0–10) after resolution.
    pub nps: bool,
    /// Minutes after resolution (0–10080).
    pub delay_minutes: i32,
    /// Ask one contact at most once per this many days, per kind (0–365).
    pub min_days_between: i32,
}

/// Survey settings of every channel that has some.
#[utoipa::path(get, path = "/api/v1/surveys/settings", tag = "quality",
    responses((status = 200, body = [SurveySettings]), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn list(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<SurveySettings>>> {
    caller.require(Role::Supervisor)?;
    Ok(Json(st.engine.store().survey_settings().await?))
}

/// Sets a channel's surveys; applies to conversations resolved from now on.
#[utoipa::path(put, path = "/api/v1/channels/{slug}/survey", tag = "quality", request_body = SurveyBody,
    params(("slug" = String, Path, description = "Channel")),
    responses((status = 200, body = SurveySettings), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn set(
    State(st): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(b): Json<SurveyBody>,
) -> ApiResult<Json<SurveySettings>> {
    caller.require(Role::Admin)?;
    let slug = ChannelSlug::parse(&slug).map_err(|_| AppError::not_found("channel"))?;
    let store = st.engine.store();
    store.get_channel(&slug).await?.ok_or_else(|| AppError::not_found("channel"))?;
    let s = SurveySettings {
        channel: slug.as_str().to_owned(),
        csat: b.csat,
        nps: b.nps,
        delay_minutes: b.delay_minutes,
        min_days_between: b.min_days_between,
    };
    let before = store.survey_settings().await?.into_iter().find(|x| x.channel == s.channel);
    store.put_survey_settings(&s).await?;
    super::audit::record(
        &st,
        &caller,
        "survey.settings",
        &s.channel,
        before.as_ref().and_then(super::audit::json),
        super::audit::json(&s),
    )
    .await;
    Ok(Json(s))
}

/// The OpenAPI part of this module.
#[derive(OpenApi)]
#[openapi(paths(list, set), components(schemas(SurveyBody, SurveySettings)))]
pub struct QualityApi;
