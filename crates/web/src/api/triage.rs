//! Triage over the API: a message's or conversation's triage (language, sentiment, intent,
//! priority suggestion with reasons, PII kinds), agents' intent labels, intent model versions.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use switchboard_domain::{ConversationId, MessageId, Role, UserId};
use switchboard_store::{DynStore, IntentLabel, IntentModelRecord, MessageTriage, StoreError};
use utoipa::OpenApi;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::Json;

/// The triage of one inbound message.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TriageBody {
    message_id: String,
    conversation_id: String,
    /// ISO 639-1 code or `unknown`.
    language: String,
    language_confidence: f32,
    /// `negative`, `neutral` or `positive`.
    sentiment: String,
    /// P(positive) − P(negative), −1..1.
    sentiment_score: f32,
    intent: String,
    intent_confidence: f32,
    /// True when an agent set the intent.
    intent_by_agent: bool,
    /// Suggested priority `P1` (most urgent) … `P4`.
    priority: String,
    /// Why, for agents.
    priority_reasons: Vec<String>,
    /// Kinds of personal data found: `email`, `phone`, `card`, `iban`, `id_document`.
    pii: Vec<String>,
    /// The text with personal data replaced, for logs and analytics.
    redacted_text: String,
    /// Intent model version that classified it (null: the built-in cold-start model).
    intent_model_version: Option<i64>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<MessageTriage> for TriageBody {
    fn from(t: MessageTriage) -> Self {
        TriageBody {
            message_id: t.message_id.to_string(),
            conversation_id: t.conversation_id.to_string(),
            language: t.language,
            language_confidence: t.language_confidence,
            sentiment: t.sentiment,
            sentiment_score: t.sentiment_score,
            intent: t.intent,
            intent_confidence: t.intent_confidence,
            intent_by_agent: t.intent_by_agent,
            priority: t.priority,
            priority_reasons: t.priority_reasons,
            pii: t.pii,
            redacted_text: t.redacted_text,
            intent_model_version: t.intent_model_version,
            created_at: t.created_at,
        }
    }
}

/// An agent's intent for a message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntentBody {
    /// One of `order_status`, `delivery`, `refund_return`, `billing`, `account_access`,
    /// `cancellation`, `technical_problem`, `complaint`, `praise`, `question`, `other`.
    intent: String,
}

/// A stored intent model version (the first one listed is active).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IntentModelBody {
    version: i64,
    created_at: chrono::DateTime<chrono::Utc>,
    examples: i64,
    note: String,
    active: bool,
}

/// Intent model versions, newest (active) first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IntentModels {
    items: Vec<IntentModelBody>,
    /// The version in use; null while the built-in cold-start model is.
    active_version: Option<i64>,
}

/// Why an intent label was refused.
pub(crate) enum LabelError {
    /// Not one of `switchboard_nlp::intent::INTENTS`.
    UnknownIntent,
    /// Not a customer's message.
    NotInbound,
    /// The message does not exist (`NotFound`), or the store failed.
    Store(StoreError),
}

/// Records an agent's intent for a customer message (a training example for the retraining
/// job) and applies it to the message's triage. With `in_conversation`, a message of another
/// conversation is `NotFound`. Shared by the API and the conversation view.
pub(crate) async fn label_intent(
    store: &DynStore,
    id: MessageId,
    intent: String,
    user: UserId,
    in_conversation: Option<ConversationId>,
) -> Result<(), LabelError> {
    if !switchboard_nlp::intent::INTENTS.contains(&intent.as_str()) {
        return Err(LabelError::UnknownIntent);
    }
    let msg = store
        .get_message(id)
        .await
        .map_err(LabelError::Store)?
        .filter(|m| in_conversation.is_none_or(|c| c == m.conversation_id))
        .ok_or(LabelError::Store(StoreError::NotFound("message")))?;
    if msg.direction != switchboard_domain::Direction::Inbound {
        return Err(LabelError::NotInbound);
    }
    store
        .label_intent(IntentLabel {
            message_id: id,
            intent,
            text: msg.text,
            labelled_by: Some(user),
            labelled_at: chrono::Utc::now(),
        })
        .await
        .map_err(LabelError::Store)
}

fn message_id(id: &str) -> ApiResult<MessageId> {
    id.parse::<MessageId>().map_err(|_| AppError::bad_request("invalid_id", "not a message id"))
}

/// The triage of one message (404 until the triage step has run, or when it is off).
#[utoipa::path(get, path = "/api/v1/messages/{id}/triage", tag = "triage", params(("id" = String, Path)),
    responses((status = 200, body = TriageBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn message_triage(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let t = st.engine.store().message_triage(message_id(&id)?).await?.ok_or_else(|| AppError::not_found("triage"))?;
    Ok(axum::Json(TriageBody::from(t)))
}

/// The triage of the conversation's latest triaged message.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/triage", tag = "triage", params(("id" = String, Path)),
    responses((status = 200, body = TriageBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn conversation_triage(
    State(st): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = id.parse::<ConversationId>().map_err(|_| AppError::bad_request("invalid_id", "not a conversation id"))?;
    let t = st.engine.store().conversation_triage(id).await?.ok_or_else(|| AppError::not_found("triage"))?;
    Ok(axum::Json(TriageBody::from(t)))
}

/// Sets or corrects a message's intent. The label is stored as a training example; the
/// retraining job turns new labels into a new intent model version.
#[utoipa::path(put, path = "/api/v1/messages/{id}/intent", tag = "triage", params(("id" = String, Path)),
    request_body = IntentBody,
    responses((status = 200, body = TriageBody, description = "the message's triage with the agent's intent"),
        (status = 204, description = "label stored; the message has not been triaged"),
        (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn put_intent(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<IntentBody>,
) -> ApiResult<axum::response::Response> {
    caller.require(Role::Agent)?;
    let id = message_id(&id)?;
    label_intent(st.engine.store(), id, body.intent, caller.user_id, None).await.map_err(|e| match e {
        LabelError::UnknownIntent => AppError::bad_request(
            "invalid_intent",
            format!("intent must be one of {}", switchboard_nlp::intent::INTENTS.join(", ")),
        ),
        LabelError::NotInbound => AppError::bad_request("not_inbound", "only customers' messages carry an intent"),
        LabelError::Store(e) => e.into(),
    })?;
    let store = st.engine.store();
    Ok(match store.message_triage(id).await? {
        Some(t) => axum::Json(TriageBody::from(t)).into_response(),
        None => axum::http::StatusCode::NO_CONTENT.into_response(),
    })
}

fn model_body(m: IntentModelRecord, active: bool) -> IntentModelBody {
    IntentModelBody { version: m.version, created_at: m.created_at, examples: m.examples, note: m.note, active }
}

/// Intent model versions, newest (active) first.
#[utoipa::path(get, path = "/api/v1/nlp/intent-models", tag = "triage", responses((status = 200, body = IntentModels)))]
pub(crate) async fn intent_models(State(st): State<AppState>, _caller: Caller) -> ApiResult<impl IntoResponse> {
    let models = st.engine.store().intent_models().await?;
    let active_version = models.first().map(|m| m.version);
    let items = models.into_iter().enumerate().map(|(i, m)| model_body(m, i == 0)).collect();
    Ok(axum::Json(IntentModels { items, active_version }))
}

/// The triage part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(message_triage, conversation_triage, put_intent, intent_models),
    components(schemas(TriageBody, IntentBody, IntentModelBody, IntentModels))
)]
pub(crate) struct TriageDoc;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/messages/{id}/triage", get(message_triage))
        .route("/messages/{id}/intent", put(put_intent))
        .route("/conversations/{id}/triage", get(conversation_triage))
        .route("/nlp/intent-models", get(intent_models))
}
