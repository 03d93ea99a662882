//! Telegram channel administration: `PUT /api/v1/channels/{slug}/telegram/webhook` calls the Bot
//! API's `setWebhook` with the channel's secret token and the update types Switchboard handles;
//! `DELETE` calls `deleteWebhook`; `GET` answers `getWebhookInfo`. Admins only.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::put;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_channels::telegram::outbound::call_api;
use switchboard_channels::telegram::{ALLOWED_UPDATES, TelegramConfig};
use switchboard_channels::{ChannelSettings, SendError};
use switchboard_domain::{ChannelKind, ChannelSlug, Role};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiResult, AppError};

/// The routes, under `/api/v1`.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/channels/{slug}/telegram/webhook", put(set_webhook).get(webhook_info).delete(delete_webhook))
}

/// Body of `PUT …/telegram/webhook`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetWebhookBody {
    /// The public HTTPS URL Telegram posts to: Switchboard's `/webhooks/{slug}`.
    pub url: String,
    /// Drop updates Telegram holds for the bot.
    #[serde(default)]
    pub drop_pending_updates: bool,
    /// Most simultaneous connections Telegram opens (1–100, Telegram's default 40).
    #[serde(default)]
    pub max_connections: Option<u32>,
}

fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT.get_or_init(|| reqwest::Client::builder().timeout(Duration::from_secs(15)).build().ok()).as_ref()
}

async fn telegram_channel(st: &AppState, slug: &str) -> ApiResult<(ChannelSettings, TelegramConfig)> {
    let slug = ChannelSlug::parse(slug).map_err(|_| AppError::not_found("channel"))?;
    let ch = st.engine.store().get_channel(&slug).await?.ok_or_else(|| AppError::not_found("channel"))?;
    let invalid = |m: String| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_channel", m);
    if ch.kind != ChannelKind::Telegram {
        return Err(invalid(format!("channel {} is a {} channel, not a telegram one", ch.slug, ch.kind)));
    }
    let settings = switchboard_engine::channel_delivery::settings(&ch);
    let cfg = TelegramConfig::from_settings(&settings).map_err(invalid)?;
    if cfg.bot_token.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(format!("channel {} has no config.bot_token", ch.slug)));
    }
    Ok((settings, cfg))
}

async fn call(cfg: &TelegramConfig, method: &str, body: &Value) -> ApiResult<Value> {
    let client =
        client().ok_or_else(|| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no HTTP client"))?;
    call_api(client, cfg, method, body).await.map_err(|e| {
        let m = match e {
            SendError::Retryable { reason, .. } | SendError::Permanent(reason) => reason,
        };
        AppError::new(StatusCode::BAD_GATEWAY, "telegram_error", m)
    })
}

/// Points the bot's webhook at Switchboard (`setWebhook` with `secret_token` and `allowed_updates`).
#[utoipa::path(put, path = "/api/v1/channels/{slug}/telegram/webhook", tag = "channels", request_body = SetWebhookBody,
    params(("slug" = String, Path, description = "Telegram channel")),
    responses((status = 200, description = "Telegram's getWebhookInfo after the change"),
        (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 502, description = "Telegram refused, with its description", body = crate::error::ErrorBody)))]
pub(crate) async fn set_webhook(
    State(st): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    axum::Json(b): axum::Json<SetWebhookBody>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let info = set_webhook_for(&st, &slug, &b).await?;
    tracing::info!(channel = %slug, user = %caller.user_id, url = %b.url, "telegram webhook set");
    Ok(axum::Json(info))
}

/// What Telegram reports about the bot's webhook (`getWebhookInfo`).
#[utoipa::path(get, path = "/api/v1/channels/{slug}/telegram/webhook", tag = "channels",
    params(("slug" = String, Path, description = "Telegram channel")),
    responses((status = 200, description = "Telegram's getWebhookInfo"), (status = 502, body = crate::error::ErrorBody)))]
pub(crate) async fn webhook_info(
    State(st): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    let (_, cfg) = telegram_channel(&st, &slug).await?;
    let info = call(&cfg, "getWebhookInfo", &json!({})).await?;
    Ok(axum::Json(info.get("result").cloned().unwrap_or(Value::Null)))
}

/// Removes the bot's webhook (`deleteWebhook`).
#[utoipa::path(delete, path = "/api/v1/channels/{slug}/telegram/webhook", tag = "channels",
    params(("slug" = String, Path, description = "Telegram channel")),
    responses((status = 204, description = "Removed"), (status = 502, body = crate::error::ErrorBody)))]
pub(crate) async fn delete_webhook(
    State(st): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<impl IntoResponse> {
    caller.require(Role::Admin)?;
    delete_webhook_for(&st, &slug).await?;
    tracing::info!(channel = %slug, user = %caller.user_id, "telegram webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI part of these routes.
/// Calls `setWebhook` (the channel secret as `secret_token`, our `allowed_updates`); answers
/// Telegram's `getWebhookInfo` afterwards. Shared by the API and the admin page.
pub(crate) async fn set_webhook_for(st: &AppState, slug: &str, b: &SetWebhookBody) -> ApiResult<Value> {
    let (ch, cfg) = telegram_channel(st, slug).await?;
    let invalid = |m: String| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", m);
    if !(b.url.starts_with("https://") || b.url.starts_with("http://")) || b.url.len() > 2048 {
        return Err(invalid("url must be an http(s) URL (Telegram requires https in production)".into()));
    }
    if b.max_connections.is_some_and(|m| !(1..=100).contains(&m)) {
        return Err(invalid("max_connections must be 1 to 100".into()));
    }
    // Telegram accepts 1–256 characters of A-Z, a-z, 0-9, _ and - as secret_token.
    let secret = ch.secret.as_deref().unwrap_or("");
    if secret.is_empty()
        || secret.len() > 256
        || !secret.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_channel",
            "the channel's secret must be 1–256 characters of A-Z, a-z, 0-9, _ and - to be Telegram's secret_token",
        ));
    }
    let mut body = json!({"url": b.url, "secret_token": secret, "allowed_updates": ALLOWED_UPDATES,
                          "drop_pending_updates": b.drop_pending_updates});
    if let Some(m) = b.max_connections {
        body["max_connections"] = json!(m);
    }
    call(&cfg, "setWebhook", &body).await?;
    let info = call(&cfg, "getWebhookInfo", &json!({})).await?;
    Ok(info.get("result").cloned().unwrap_or(Value::Null))
}

/// Calls `deleteWebhook` (long polling can then read updates). Shared by the API and the admin page.
pub(crate) async fn delete_webhook_for(st: &AppState, slug: &str) -> ApiResult<()> {
    let (_, cfg) = telegram_channel(st, slug).await?;
    call(&cfg, "deleteWebhook", &json!({})).await?;
    Ok(())
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(set_webhook, webhook_info, delete_webhook), components(schemas(SetWebhookBody)))]
pub struct TelegramApi;
