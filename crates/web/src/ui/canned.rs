//! Canned replies in the composer: typing `/shortcut` offers the matching replies, rendered for
//! this conversation (contact, case number, agent, SLA due time) in the customer's language.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_domain::canned::{pick_variant, render, script_language};
use switchboard_domain::{CaseNumber, Direction};

use super::session::UiUser;
use crate::AppState;
use crate::error::AppError;

/// Suggestions shown at most.
const MAX_SUGGESTIONS: usize = 8;

#[derive(Deserialize)]
pub(crate) struct SuggestParams {
    case: String,
    /// What follows the `/`.
    #[serde(default)]
    q: String,
}

/// One suggestion, ready to insert.
#[derive(Serialize)]
pub(crate) struct Suggestion {
    id: String,
    shortcut: String,
    title: String,
    text: String,
}

/// `GET /ui/canned?case=SB-…&q=ref`: the canned replies (global and the conversation's team)
/// whose shortcut starts with `q`, rendered for the conversation.
pub(crate) async fn suggest(State(st): State<AppState>, _me: UiUser, Query(p): Query<SuggestParams>) -> Response {
    match suggestions(&st, &p).await {
        Ok(list) => axum::Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn suggestions(st: &AppState, p: &SuggestParams) -> Result<Vec<Suggestion>, AppError> {
    let store = st.engine.store();
    let case = CaseNumber::parse(&p.case).map_err(|e| AppError::bad_request("invalid_case", e.to_string()))?;
    let conv = store.get_conversation_by_case(case).await?.ok_or_else(|| AppError::not_found("conversation"))?;
    let q = p.q.trim().to_lowercase();
    let replies: Vec<_> = store
        .list_canned(conv.team.as_deref())
        .await?
        .into_iter()
        .filter(|c| c.shortcut.starts_with(&q))
        .take(MAX_SUGGESTIONS)
        .collect();
    if replies.is_empty() {
        return Ok(Vec::new());
    }
    let messages = store.list_messages(conv.id).await?;
    let language = messages
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Inbound)
        .map(|m| script_language(&m.text))
        .unwrap_or("en");
    let routing = st.engine.routing();
    let cal = routing.calendar_of(conv.team.as_deref()).await?;
    let mut out = Vec::with_capacity(replies.len());
    for c in replies {
        let Some((lang, template)) = pick_variant(&c.variants, Some(language)) else { continue };
        let vars = routing.template_vars(&conv, &cal, routing.now(), Some(lang)).await?;
        // A reply whose text no longer renders is left out rather than offered half-filled.
        if let Ok(text) = render(template, &vars) {
            out.push(Suggestion { id: c.id.to_string(), shortcut: c.shortcut, title: c.title, text });
        }
    }
    Ok(out)
}

/// `POST /ui/canned/{id}/use`: counts one use of an inserted canned reply (CSRF header).
pub(crate) async fn used(
    State(st): State<AppState>,
    me: UiUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = me.check_csrf(&headers, None) {
        return r;
    }
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return AppError::bad_request("invalid_id", "not a canned reply id").into_response();
    };
    match st.engine.store().count_canned_use(id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}
