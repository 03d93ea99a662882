//! Channels (admin), users and the caller's own user.

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Deserialize;
use switchboard_domain::{ChannelKind, ChannelSlug, Role};
use switchboard_store::ChannelRecord;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};
use crate::extract::Json;

/// Lists channels (secrets are never shown: the channel secret is omitted, secret config values
/// such as `access_token` are masked).
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", responses((status = 200, body = Vec<ChannelRecord>)))]
pub(crate) async fn list(State(st): State<AppState>, _caller: Caller) -> ApiResult<impl IntoResponse> {
    let channels: Vec<ChannelRecord> = st.engine.store().list_channels().await?.into_iter().map(redacted).collect();
    Ok(axum::Json(channels))
}

/// Shown instead of a secret config value; sending it back keeps the stored value.
pub(crate) const REDACTED: &str = "********";

/// Whether a provider config key holds a secret (tokens, secrets): never shown by the API.
pub(crate) fn is_secret_key(k: &str) -> bool {
    k.contains("token") || k.contains("secret") || k.contains("password")
}

/// The record as the API shows it: secret config values masked (the channel secret itself is
/// never serialised).
pub(crate) fn redacted(mut rec: ChannelRecord) -> ChannelRecord {
    if let Some(obj) = rec.config.as_object_mut() {
        for (k, v) in obj.iter_mut() {
            if is_secret_key(k) && !v.is_null() {
                *v = serde_json::Value::String(REDACTED.into());
            }
        }
    }
    rec
}

/// A new config with secret values that are missing or masked taken from the stored one.
pub(crate) fn keep_secrets(mut new: serde_json::Value, old: Option<&serde_json::Value>) -> serde_json::Value {
    let (Some(obj), Some(old)) = (new.as_object_mut(), old.and_then(|o| o.as_object())) else { return new };
    for (k, v) in old {
        if !is_secret_key(k) {
            continue;
        }
        match obj.get(k) {
            None => {
                obj.insert(k.clone(), v.clone());
            }
            Some(serde_json::Value::String(s)) if s == REDACTED => {
                obj.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    new
}

/// A channel to create or update.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ChannelBody {
    slug: String,
    kind: ChannelKind,
    name: String,
    /// API channels: where replies are POSTed.
    callback_url: Option<String>,
    /// HMAC secret: API channels sign callbacks with it; Meta channels verify webhooks with it (the app secret).
    secret: Option<String>,
    /// Provider settings. WhatsApp/Messenger/Instagram: `verify_token`, `access_token`,
    /// `phone_number_id` / `page_id` / `ig_account_id`, `graph_base_url`, `human_agent_tag`.
    /// Secret values sent as `********` (or left out) keep the stored value.
    #[schema(value_type = Object)]
    config: Option<serde_json::Value>,
}

/// Creates or updates a channel. Admins only.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", request_body = ChannelBody,
    responses((status = 200, body = ChannelRecord), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn upsert(
    State(st): State<AppState>,
    caller: Caller,
    Json(b): Json<ChannelBody>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let invalid = |m: String| AppError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", m);
    let slug = ChannelSlug::parse(&b.slug).map_err(|e| invalid(e.to_string()))?;
    if let Some(url) = &b.callback_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(invalid(format!("callback_url {url:?} must be an http(s) URL")));
    }
    if b.kind == ChannelKind::Api && b.callback_url.is_none() {
        return Err(invalid("an api channel needs a callback_url for replies".into()));
    }
    let store = st.engine.store();
    let existing = store.get_channel(&slug).await?;
    let created_at = existing.as_ref().map(|c| c.created_at).unwrap_or_else(Utc::now);
    // The API never shows the secret, so an update without one keeps the stored one.
    let secret = b.secret.or_else(|| existing.as_ref().and_then(|c| c.secret.clone()));
    let config = keep_secrets(b.config.unwrap_or_else(|| serde_json::json!({})), existing.as_ref().map(|c| &c.config));
    switchboard_channels::validate_config(b.kind, &config).map_err(invalid)?;
    let rec = ChannelRecord {
        slug: slug.clone(),
        kind: b.kind,
        name: b.name,
        callback_url: b.callback_url,
        secret,
        config,
        created_at,
    };
    store.upsert_channel(&rec).await?;
    st.channels.invalidate(&slug);
    tracing::info!(channel = %slug, user = %caller.user_id, "channel saved");
    crate::ui::audit(
        &st,
        switchboard_store::NewAuditEntry {
            actor_id: Some(caller.user_id),
            action: if existing.is_some() { "channel.update".into() } else { "channel.create".into() },
            target: slug.as_str().to_owned(),
            before: existing.and_then(|e| serde_json::to_value(redacted(e)).ok()),
            after: serde_json::to_value(redacted(rec.clone())).ok(),
            at: Utc::now(),
        },
    )
    .await;
    Ok(axum::Json(redacted(rec)))
}

/// The caller's own user.
#[utoipa::path(get, path = "/api/v1/me", tag = "users", responses((status = 200, body = switchboard_store::User)))]
pub(crate) async fn me(State(st): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let user = st.engine.store().get_user(caller.user_id).await?.ok_or_else(|| AppError::not_found("user"))?;
    Ok(axum::Json(user))
}

/// Lists users (for assignment pickers): id, email, name, role.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<switchboard_store::User>)))]
pub(crate) async fn users(State(st): State<AppState>, _caller: Caller) -> ApiResult<impl IntoResponse> {
    let users: Vec<_> = st.engine.store().list_users().await?.into_iter().filter(|u| !u.disabled).collect();
    Ok(axum::Json(users))
}
