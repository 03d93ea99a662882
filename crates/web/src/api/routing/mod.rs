//! Routing API: teams and members, availability, business-hours calendars, SLA policies,
//! automation rules and canned replies. Reading is open to every user; changes need the admin
//! role (availability: agents set their own, supervisors anyone's).

mod attributes;
mod calendars;
mod canned;
mod rules;
mod sla;
mod teams;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use utoipa::OpenApi;

use crate::AppState;
use crate::error::AppError;

/// The routing part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        teams::list, teams::create, teams::get_one, teams::update, teams::delete,
        teams::members, teams::put_member, teams::remove_member,
        teams::my_availability, teams::set_my_availability, teams::set_availability,
        calendars::list, calendars::get_one, calendars::put, calendars::delete, calendars::import_ics,
        sla::list, sla::create, sla::update, sla::delete, sla::conversation_sla,
        rules::list, rules::create, rules::update, rules::delete,
        canned::list, canned::create, canned::update, canned::delete, canned::render,
        attributes::get_all, attributes::put_all,
    ),
    components(schemas(
        switchboard_store::routing::Team, switchboard_store::routing::TeamInput,
        switchboard_store::routing::TeamMember, switchboard_store::routing::MemberInput,
        switchboard_store::routing::CalendarRecord, switchboard_store::routing::SlaPolicyRecord,
        switchboard_store::routing::RuleRecord, switchboard_store::routing::CannedReply,
        switchboard_store::routing::CannedInput,
        switchboard_domain::routing::Skills, switchboard_domain::routing::Availability,
        switchboard_domain::routing::AssignmentPolicy, switchboard_domain::routing::MemberRole,
        switchboard_domain::calendar::CalendarSpec, switchboard_domain::calendar::DayHours,
        switchboard_domain::calendar::OpenInterval, switchboard_domain::calendar::SpecialDate,
        switchboard_domain::sla::SlaPolicy, switchboard_domain::sla::SlaConditions, switchboard_domain::sla::SlaTarget,
        switchboard_domain::sla::TimeBasis, switchboard_domain::sla::SlaMetric, switchboard_domain::sla::EscalationLevel,
        switchboard_domain::sla::EscalationAction, switchboard_domain::sla::SlaStatus,
        switchboard_domain::automation::Rule, switchboard_domain::automation::Condition,
        switchboard_domain::automation::Action, switchboard_domain::automation::TriggerEvent,
        switchboard_domain::automation::FiredRule,
        teams::AvailabilityBody, sla::SlaPolicyBody, sla::ConversationSla, rules::RuleBody, canned::RenderBody,
        canned::Rendered, calendars::IcsImport,
    )),
    tags((name = "routing", description = "Teams, availability, calendars, SLA policies, automation rules, canned replies")),
)]
pub struct RoutingApi;

/// The routing routes, under `/api/v1`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{name}", get(teams::get_one).put(teams::update).delete(teams::delete))
        .route("/teams/{name}/members", get(teams::members))
        .route("/teams/{name}/members/{user_id}", put(teams::put_member).delete(teams::remove_member))
        .route("/me/availability", get(teams::my_availability).put(teams::set_my_availability))
        .route("/users/{user_id}/availability", put(teams::set_availability))
        .route("/calendars", get(calendars::list))
        .route("/calendars/{name}", get(calendars::get_one).put(calendars::put).delete(calendars::delete))
        .route("/calendars/{name}/holidays", post(calendars::import_ics))
        .route("/sla-policies", get(sla::list).post(sla::create))
        .route("/sla-policies/{id}", put(sla::update).delete(sla::delete))
        .route("/conversations/{id}/sla", get(sla::conversation_sla))
        .route("/automation-rules", get(rules::list).post(rules::create))
        .route("/automation-rules/{id}", put(rules::update).delete(rules::delete))
        .route("/canned-replies", get(canned::list).post(canned::create))
        .route("/canned-replies/{id}", put(canned::update).delete(canned::delete))
        .route("/canned-replies/{id}/render", post(canned::render))
        .route("/contacts/{id}/attributes", get(attributes::get_all).put(attributes::put_all))
}

/// 422 with a reason.
fn invalid(message: impl Into<String>) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", message)
}

/// Parses an id path segment.
fn uuid_param(s: &str, what: &str) -> Result<uuid::Uuid, AppError> {
    s.parse().map_err(|_| AppError::bad_request("invalid_id", format!("{s:?} is not a {what} id")))
}
