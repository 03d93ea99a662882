//! The admin channel page's Telegram buttons: point the bot's webhook at this server
//! (`setWebhook` with the channel secret and our update types) or remove it so long polling
//! can read updates (`deleteWebhook`). The outcome shows on the channel page; both are audited.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use switchboard_domain::{ChannelKind, ChannelSlug};
use switchboard_store::NewAuditEntry;

use super::form::{AdminForm, has_csrf};
use super::session::UiUser;
use super::{page_error, store_error};
use crate::AppState;

#[derive(Deserialize)]
pub(crate) struct WebhookForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    /// `set` or `delete`.
    action: String,
}

has_csrf!(WebhookForm);

/// `POST /admin/channels/{slug}/telegram-webhook`.
pub(crate) async fn webhook(
    State(st): State<AppState>,
    me: UiUser,
    headers: HeaderMap,
    Path(slug): Path<String>,
    AdminForm(f): AdminForm<WebhookForm>,
) -> Response {
    let ch = match ChannelSlug::parse(&slug) {
        Ok(s) => match st.engine.store().get_channel(&s).await {
            Ok(Some(ch)) if ch.kind == ChannelKind::Telegram => ch,
            Ok(_) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
            Err(e) => return store_error(&me.tr, e),
        },
        Err(_) => return page_error(&me.tr, StatusCode::NOT_FOUND, "error-not-found"),
    };
    let url = format!("{}/webhooks/{}", super::admin::base_url(&headers), ch.slug.as_str());
    let (outcome, action) = match f.action.as_str() {
        "set" => {
            let body = crate::api::telegram::SetWebhookBody {
                url: url.clone(),
                drop_pending_updates: false,
                max_connections: None,
            };
            let done = crate::api::telegram::set_webhook_for(&st, ch.slug.as_str(), &body).await;
            (done.map(|_| me.tr.t1("tg-webhook-set-ok", "url", &url)), "telegram.webhook_set")
        }
        "delete" => {
            let done = crate::api::telegram::delete_webhook_for(&st, ch.slug.as_str()).await;
            (done.map(|_| me.tr.t("tg-webhook-deleted")), "telegram.webhook_deleted")
        }
        _ => return page_error(&me.tr, StatusCode::BAD_REQUEST, "error-bad-form"),
    };
    tracing::info!(channel = %ch.slug, action, ok = outcome.is_ok(), "telegram webhook changed from the admin page");
    if outcome.is_ok() {
        super::audit(
            &st,
            NewAuditEntry {
                actor_id: Some(me.user.id),
                action: action.into(),
                target: format!("channel:{}", ch.slug.as_str()),
                before: None,
                after: Some(serde_json::json!({"url": (action == "telegram.webhook_set").then_some(&url)})),
                at: chrono::Utc::now(),
            },
        )
        .await;
    }
    let shown = match outcome {
        Ok(text) => (true, text),
        Err(e) => (false, me.tr.t1("tg-webhook-failed", "reason", &e.message)),
    };
    super::admin::edit_page(&me, &headers, Some(&ch), Some(shown))
}
