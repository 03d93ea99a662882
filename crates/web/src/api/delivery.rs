//! `POST /api/v1/delivery-reports`: an API channel's system reports what happened to a reply.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use switchboard_domain::{ChannelSlug, DeliveryStatus};
use switchboard_engine::RealtimeEvent;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::Json;

/// A delivery report.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct DeliveryReport {
    /// The channel the reply was sent on.
    channel: String,
    /// The id your callback answered with (`{"id": …}`), or Switchboard's idempotency key when it
    /// answered without one.
    provider_message_id: String,
    /// `sent`, `delivered`, `read` or `failed`.
    status: DeliveryStatus,
    /// Why it failed (for `failed`).
    #[serde(default)]
    reason: Option<String>,
}

/// Records a delivery report. Reports may arrive in any order: the message's status only moves
/// forward (queued → sent → delivered → read; failed unless later delivered or read).
#[utoipa::path(post, path = "/api/v1/delivery-reports", tag = "ingest", request_body = DeliveryReport,
    responses((status = 200, body = switchboard_domain::Message), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn report(
    State(st): State<AppState>,
    _caller: Caller,
    Json(r): Json<DeliveryReport>,
) -> ApiResult<impl IntoResponse> {
    let invalid = |m: String| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", m);
    let channel = ChannelSlug::parse(&r.channel).map_err(|e| invalid(e.to_string()))?;
    if r.status == DeliveryStatus::Queued {
        return Err(invalid("status must be sent, delivered, read or failed".into()));
    }
    if r.provider_message_id.trim().is_empty() || r.provider_message_id.len() > 256 {
        return Err(invalid("provider_message_id must be 1-256 characters".into()));
    }
    let reason = r.reason.as_deref().map(|s| s.chars().take(1000).collect::<String>());
    let msg = st
        .engine
        .store()
        .record_delivery(&channel, &r.provider_message_id, r.status, reason.as_deref())
        .await?
        .ok_or_else(|| AppError::not_found("outbound message with that provider_message_id on that channel"))?;
    let conv = st.engine.store().get_conversation(msg.conversation_id).await?;
    st.engine
        .bus()
        .publish(RealtimeEvent::new("message.updated", msg.conversation_id, conv.map(|c| c.case_number), Some(msg.id)))
        .await;
    Ok(axum::Json(msg))
}
