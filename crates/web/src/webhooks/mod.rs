//! Provider webhooks: `GET /webhooks/{channel_slug}` answers the provider's subscription
//! handshake, `POST /webhooks/{channel_slug}` receives deliveries. Each provider kind has its own
//! module; this one only finds the channel and dispatches on its kind.

mod meta;
mod telegram;
mod x;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::ChannelRecord;

use crate::AppState;
use crate::error::{ApiResult, AppError};
use crate::extract::RawBody;

/// The webhook routes, merged into the application router.
pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/{slug}", get(handshake).post(receive))
}

async fn channel(st: &AppState, slug: &str) -> ApiResult<ChannelRecord> {
    let slug = ChannelSlug::parse(slug).map_err(|_| AppError::not_found("channel"))?;
    st.channels.get(st.engine.store(), &slug).await?.ok_or_else(|| AppError::not_found("channel"))
}

fn no_webhooks(ch: &ChannelRecord) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "no_webhook",
        format!("channel {} is a {} channel, which receives no webhooks in this build", ch.slug, ch.kind),
    )
}

async fn handshake(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let ch = channel(&st, &slug).await?;
    match ch.kind {
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => meta::handshake(&ch, &q),
        ChannelKind::X => x::handshake(&ch, &q),
        _ => Err(no_webhooks(&ch)),
    }
}

async fn receive(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Result<RawBody, AppError>,
) -> ApiResult<Response> {
    let ch = match channel(&st, &slug).await {
        Ok(ch) => ch,
        Err(e) => {
            st.engine.metrics().count_ingest("rejected");
            return Err(e);
        }
    };
    let RawBody(body) = body?;
    match ch.kind {
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => {
            meta::receive(&st, &ch, &headers, &body).await
        }
        ChannelKind::Telegram => telegram::receive(&st, &ch, &headers, &body).await,
        ChannelKind::X => x::receive(&st, &ch, &headers, &body).await,
        _ => Err(no_webhooks(&ch)),
    }
}
