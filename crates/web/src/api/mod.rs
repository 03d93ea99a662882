//! REST API v1. Bearer tokens; JSON errors `{"error":{"code","message"}}`; OpenAPI at
//! `/api/v1/openapi.json`.

mod audit;
pub(crate) mod channels;
mod contacts;
pub(crate) mod conversations;
mod delivery;
mod events;
mod inbound;
pub(crate) mod kb;
pub(crate) mod messaging;
mod quality;
pub(crate) mod routing;
pub(crate) mod telegram;
pub(crate) mod triage;
mod x_rules;

use axum::Router;
use axum::routing::{get, post};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;

/// The OpenAPI document, generated from the handlers and types.
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Self-hosted social customer-service desk: conversations, messages, contacts, channels, live events."),
    paths(
        inbound::ingest, delivery::report,
        conversations::list, conversations::get_one, conversations::patch, conversations::post_message, conversations::get_message,
        contacts::list, contacts::get_one, contacts::patch, contacts::merge,
        channels::list, channels::upsert, channels::me, channels::users,
        events::stream,
        messaging::get_window, messaging::post_template, messaging::post_media, messaging::get_attachment,
        x_rules::like, x_rules::move_to_dm, x_rules::schedule,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::error::ErrorDetail,
        switchboard_domain::inbound::ApiInbound, switchboard_domain::inbound::ApiContact,
        switchboard_store::IngestAck, switchboard_store::ConversationSummary, switchboard_store::ConversationPatch,
        switchboard_store::ChannelRecord, switchboard_store::User, switchboard_store::MessageKind,
        switchboard_domain::Conversation, switchboard_domain::Message, switchboard_domain::Contact,
        switchboard_domain::ChannelIdentity, switchboard_domain::ConversationFact, switchboard_domain::Attachment,
        conversations::ConversationDetail, conversations::ConversationPage, conversations::NewMessageBody,
        conversations::MessageView,
        contacts::ContactPage, contacts::ContactPatch, contacts::MergeBody, contacts::ContactDetail,
        channels::ChannelBody, delivery::DeliveryReport,
        messaging::WindowBody, messaging::TemplateBody, messaging::MediaBody,
        x_rules::MoveToDm, switchboard_store::SendSchedule,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(|| async { axum::Json(openapi()) }))
        .route("/inbound", post(inbound::ingest))
        .route("/delivery-reports", post(delivery::report))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::get_one).patch(conversations::patch))
        .route("/conversations/{id}/messages", post(conversations::post_message))
        .route("/conversations/{id}/window", get(messaging::get_window))
        .route("/conversations/{id}/template", post(messaging::post_template))
        .route("/conversations/{id}/media", post(messaging::post_media))
        .merge(x_rules::routes())
        .route("/messages/{id}", get(conversations::get_message))
        .route("/messages/{id}/attachments/{index}", get(messaging::get_attachment))
        .route("/contacts", get(contacts::list))
        .route("/contacts/{id}", get(contacts::get_one).patch(contacts::patch))
        .route("/contacts/{id}/merge", post(contacts::merge))
        .route("/channels", get(channels::list).post(channels::upsert))
        .route("/me", get(channels::me))
        .route("/users", get(channels::users))
        .route("/events", get(events::stream))
        .merge(routing::router())
        .merge(triage::router())
        .merge(telegram::router())
        .merge(quality::router())
        .merge(kb::router())
        .merge(crate::widget::agent_files::api_router())
}

/// The whole OpenAPI document: the core API and each area's part.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(routing::RoutingApi::openapi());
    doc.merge(<triage::TriageDoc as OpenApi>::openapi());
    doc.merge(telegram::TelegramApi::openapi());
    doc.merge(quality::QualityApi::openapi());
    doc.merge(kb::KbApi::openapi());
    doc.merge(crate::widget::agent_files::AgentFilesApi::openapi());
    doc
}
