//! `POST /api/v1/inbound`: the generic API channel on the durable ingest path.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use switchboard_domain::ChannelKind;
use switchboard_domain::inbound::{ApiInbound, InboundPayloadError};
use switchboard_store::IngestAck;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::{RawBody, require_json};

/// Accepts one customer message. Answers only after it is durably stored; a redelivery of the
/// same `external_id` on the same channel answers 200 with the original ids and stores nothing.
#[utoipa::path(post, path = "/api/v1/inbound", tag = "ingest",
    request_body = ApiInbound,
    responses(
        (status = 201, description = "Stored", body = IngestAck),
        (status = 200, description = "Duplicate of an event already stored", body = IngestAck),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or bad token", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown channel", body = crate::error::ErrorBody),
        (status = 413, description = "Body too large", body = crate::error::ErrorBody),
        (status = 415, description = "Not JSON", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid field", body = crate::error::ErrorBody),
        (status = 503, description = "Not stored; retry later", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn ingest(
    State(st): State<AppState>,
    caller: Result<Caller, AppError>,
    headers: HeaderMap,
    body: Result<RawBody, AppError>,
) -> ApiResult<impl IntoResponse> {
    let metrics = st.engine.metrics();
    let reject = |e: AppError| {
        metrics.count_ingest("rejected");
        e
    };
    caller.map_err(reject)?;
    let RawBody(body) = body.map_err(reject)?;
    require_json(&headers).map_err(reject)?;
    let (slug, event) = ApiInbound::parse(&body).map_err(|e| {
        reject(match e {
            InboundPayloadError::Malformed(m) => AppError::bad_request("malformed_json", m),
            e => AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", e.to_string()),
        })
    })?;
    let channel = st.channels.get(st.engine.store(), &slug).await?;
    match channel {
        None => {
            return Err(reject(AppError::new(
                StatusCode::NOT_FOUND,
                "unknown_channel",
                format!("no channel named {slug}"),
            )));
        }
        Some(ch) if ch.kind != ChannelKind::Api => {
            return Err(reject(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_channel_kind",
                format!("channel {slug} is a {} channel; it receives events at /webhooks/{slug}", ch.kind),
            )));
        }
        Some(_) => {}
    }
    let ack = st.engine.ingestor().submit(event).await?;
    let status = if ack.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, axum::Json(ack)))
}
