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

/// X actions: like the customer's post, and move a public conversation to DM.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/conversations/{id}/x/like", axum::routing::post(like))
        .route("/conversations/{id}/x/move-to-dm", axum::routing::post(move_to_dm))
        .route("/messages/{id}/schedule", axum::routing::get(schedule))
}

/// When a queued reply goes out next and why the last try failed (e.g. an X rate limit: the
/// next attempt is at the limit's reset).
#[utoipa::path(get, path = "/api/v1/messages/{id}/schedule", tag = "conversations",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, body = switchboard_store::SendSchedule), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn schedule(
    axum::extract::State(st): axum::extract::State<AppState>,
    _caller: crate::auth::Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ApiResult<axum::Json<switchboard_store::SendSchedule>> {
    let id = id
        .parse::<switchboard_domain::MessageId>()
        .map_err(|_| AppError::bad_request("invalid_id", "not a message id"))?;
    let s = st.engine.store().send_schedule(id).await?.ok_or_else(|| AppError::not_found("queued reply"))?;
    Ok(axum::Json(s))
}

async fn x_conversation(st: &AppState, id: &str) -> ApiResult<Conversation> {
    let conv = super::conversations::resolve(st, id).await?;
    let ch = st.channels.get(st.engine.store(), &conv.channel).await?.ok_or_else(|| AppError::not_found("channel"))?;
    if ch.kind != ChannelKind::X {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_x",
            format!("this is an X action; {} is a {} channel", ch.slug, ch.kind),
        ));
    }
    Ok(conv)
}

/// X: likes the customer's latest post in a public conversation (through the outbox).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/x/like", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number")),
    responses((status = 201, body = switchboard_domain::Message), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn like(
    axum::extract::State(st): axum::extract::State<AppState>,
    caller: crate::auth::Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let conv = x_conversation(&st, &id).await?;
    let Some(post) = st.engine.store().reply_context(conv.id).await?.last_inbound_id else {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_like",
            "the customer wrote nothing here yet",
        ));
    };
    if !conv.thread_key.starts_with(switchboard_channels::x::POST_THREAD) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_like",
            "DMs cannot be liked; only public posts",
        ));
    }
    let key = super::messaging::idempotency_key(&headers)?;
    let payload = serde_json::json!({"x_action": "like", "tweet_id": post});
    Ok(super::messaging::post_structured(&st, &caller, &conv, key, format!("[liked post {post}]"), payload)
        .await?
        .into_response())
}

/// Texts of a move to DM (defaults in the customer's language, English or Chinese).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveToDm {
    /// The public reply inviting the customer to DM.
    #[serde(default)]
    public_text: Option<String>,
    /// The first DM.
    #[serde(default)]
    dm_text: Option<String>,
}

const INVITE_EN: &str = "We're sorry about this — we've sent you a DM so we can look into it privately 📩";
const INVITE_ZH: &str = "很抱歉给您带来不便，我们已私信您，请在私信中提供详情 📩";
const DM_EN: &str = "Hi! Following up on your post: could you share your order number here so we can help?";
const DM_ZH: &str = "您好！关于您的帖子，请在这里告诉我们您的订单号，我们马上处理。";

/// X "move to DM": a public reply inviting the customer to DM, then a first DM to them. Both go
/// through the outbox; the public text passes the length check and the PII guard first.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/x/move-to-dm", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id or case number")),
    request_body = MoveToDm,
    responses((status = 201, description = "`{public_reply, dm}`: the two queued messages"), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn move_to_dm(
    axum::extract::State(st): axum::extract::State<AppState>,
    caller: crate::auth::Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    crate::extract::Json(b): crate::extract::Json<MoveToDm>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    use switchboard_store::{MessageKind, NewMessage};
    let conv = x_conversation(&st, &id).await?;
    if !conv.thread_key.starts_with(switchboard_channels::x::POST_THREAD) {
        return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_public", "this conversation is already a DM"));
    }
    let store = st.engine.store();
    let chinese = store
        .list_messages(conv.id)
        .await?
        .iter()
        .any(|m| m.text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
    let public_text = b
        .public_text
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| (if chinese { INVITE_ZH } else { INVITE_EN }).into());
    let dm_text =
        b.dm_text.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| (if chinese { DM_ZH } else { DM_EN }).into());
    if dm_text.len() > 10_000 {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            "dm_text is longer than 10000 bytes",
        ));
    }
    check_reply(&st, &conv, Visibility::Public, &public_text, false).await?;
    let key = super::messaging::idempotency_key(&headers)?;
    let mut out = Vec::new();
    for (suffix, visibility, text) in
        [("public", Visibility::Public, public_text), ("dm", Visibility::Private, dm_text)]
    {
        let (msg, created) = store
            .post_message(&NewMessage {
                conversation_id: conv.id,
                author_id: caller.user_id,
                kind: MessageKind::Reply,
                visibility,
                text,
                idempotency_key: Some(format!("move-to-dm:{key}:{suffix}")),
                at: chrono::Utc::now(),
            })
            .await?;
        if created {
            st.engine
                .bus()
                .publish(switchboard_engine::RealtimeEvent::new(
                    "message.created",
                    conv.id,
                    Some(conv.case_number),
                    Some(msg.id),
                ))
                .await;
        }
        out.push(msg);
    }
    st.engine.wake_outbox();
    Ok((StatusCode::CREATED, axum::Json(serde_json::json!({"public_reply": out[0], "dm": out[1]}))).into_response())
}
