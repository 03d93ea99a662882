//! X reply rules, enforced before a reply is queued: a public post must fit X's weighted length,
//! and must not carry private data (email, phone, card number) unless the agent overrides the PII
//! guard — the override is recorded on the conversation's timeline.

use axum::http::StatusCode;
use switchboard_channels::x::guard;
use switchboard_channels::x::outbound::check_length;
use switchboard_domain::{ChannelKind, Conversation, UserId, Visibility};

use crate::AppState;
use crate::error::{ApiResult, AppError};

/// What was overridden, to record once the reply is stored.
pub(crate) struct Override(Vec<guard::PiiFinding>);

/// Checks a reply to an X conversation; other channels pass. `Ok(Some(_))` when the agent
/// overrode the PII guard.
pub(crate) async fn check_reply(
    st: &AppState,
    conv: &Conversation,
    visibility: Visibility,
    text: &str,
    pii_override: bool,
) -> ApiResult<Option<Override>> {
    if visibility != Visibility::Public {
        return Ok(None);
    }
    let ch = st.channels.get(st.engine.store(), &conv.channel).await?.ok_or_else(|| AppError::not_found("channel"))?;
    if ch.kind != ChannelKind::X {
        return Ok(None);
    }
    check_length(text).map_err(|m| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "too_long_for_x", m))?;
    let found = guard::scan(text);
    if found.is_empty() {
        return Ok(None);
    }
    if !pii_override {
        return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "pii_in_public_reply", guard::describe(&found)));
    }
    Ok(Some(Override(found)))
}

/// Records an override on the conversation's timeline.
pub(crate) async fn record_override(
    st: &AppState,
    conv: &Conversation,
    actor: Option<UserId>,
    message_id: switchboard_domain::MessageId,
    o: Override,
) -> ApiResult<()> {
    let found: Vec<serde_json::Value> =
        o.0.iter().map(|f| serde_json::json!({"kind": f.kind, "masked": f.masked})).collect();
    st.engine
        .store()
        .record_pii_override(conv.id, actor, serde_json::json!({"message_id": message_id, "findings": found}))
        .await?;
    Ok(())
}
