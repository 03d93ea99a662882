//! Business-hours calendars and the import of public-holiday feeds (iCalendar).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use switchboard_domain::Role;
use switchboard_domain::calendar::{BusinessCalendar, CalendarSpec};
use switchboard_store::routing::CalendarRecord;

use super::invalid;
use crate::AppState;
use crate::api::audit::{json, record};
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::{Json, RawBody};

/// Lists calendars.
#[utoipa::path(get, path = "/api/v1/calendars", tag = "routing", responses((status = 200, body = Vec<CalendarRecord>)))]
pub(crate) async fn list(State(st): State<AppState>, _caller: Caller) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(st.engine.store().list_calendars().await?))
}

/// One calendar.
#[utoipa::path(get, path = "/api/v1/calendars/{name}", tag = "routing", params(("name" = String, Path)),
    responses((status = 200, body = CalendarRecord), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_one(
    State(st): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(axum::Json(st.engine.store().get_calendar(&name).await?.ok_or_else(|| AppError::not_found("calendar"))?))
}

/// Creates or replaces a calendar: IANA time zone, weekly hours (several intervals a day, or
/// `always_open`), holidays and special dates. Admins only.
#[utoipa::path(put, path = "/api/v1/calendars/{name}", tag = "routing", params(("name" = String, Path)),
    request_body = CalendarSpec,
    responses((status = 200, body = CalendarRecord), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn put(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(spec): Json<CalendarSpec>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    BusinessCalendar::new(&spec).map_err(|e| invalid(e.to_string()))?;
    let before = st.engine.store().get_calendar(&name).await?;
    let rec = st.engine.store().put_calendar(&name, &spec).await?;
    let action = if before.is_some() { "calendar.update" } else { "calendar.create" };
    record(&st, &caller, action, &name, before.as_ref().and_then(json), json(&rec)).await;
    st.engine.routing().reload();
    Ok(axum::Json(rec))
}

/// Deletes a calendar that no team uses. Admins only.
#[utoipa::path(delete, path = "/api/v1/calendars/{name}", tag = "routing", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn delete(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let before = st.engine.store().get_calendar(&name).await?;
    st.engine.store().delete_calendar(&name).await?;
    record(&st, &caller, "calendar.delete", &name, before.as_ref().and_then(json), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The outcome of a holiday import.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct IcsImport {
    /// Dates added as closed (already listed dates are kept as they were).
    added: usize,
    /// The calendar afterwards.
    calendar: CalendarRecord,
}

/// Imports a public-holiday feed (`text/calendar`, RFC 5545): every all-day event becomes a
/// closed special date. Admins only.
#[utoipa::path(post, path = "/api/v1/calendars/{name}/holidays", tag = "routing", params(("name" = String, Path)),
    request_body(content = String, content_type = "text/calendar"),
    responses((status = 200, body = IcsImport), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn import_ics(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let store = st.engine.store();
    let mut rec = store.get_calendar(&name).await?.ok_or_else(|| AppError::not_found("calendar"))?;
    let text = std::str::from_utf8(&body).map_err(|_| invalid("the feed is not UTF-8 text"))?;
    let holidays = crate::ics::holidays(text).map_err(|e| invalid(e.to_string()))?;
    let mut added = 0;
    for h in holidays {
        if !rec.spec.special_dates.iter().any(|d| d.date == h.date) {
            rec.spec.special_dates.push(h);
            added += 1;
        }
    }
    rec.spec.special_dates.sort_by_key(|d| d.date);
    BusinessCalendar::new(&rec.spec).map_err(|e| invalid(e.to_string()))?;
    let before = store.get_calendar(&name).await?;
    let calendar = store.put_calendar(&name, &rec.spec).await?;
    record(&st, &caller, "calendar.update", &name, before.as_ref().and_then(json), json(&calendar)).await;
    st.engine.routing().reload();
    tracing::info!(calendar = %name, added, "holidays imported");
    Ok(axum::Json(IcsImport { added, calendar }))
}
