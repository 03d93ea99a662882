//! Live updates for the UI: conversation and message events over server-sent events, and
//! presence (who is viewing or typing in a conversation) for collision detection.
//!
//! Presence keeps no state on the server: a page reports `viewing` every few seconds and
//! `typing` while its user writes; each report is published on the realtime bus (so it reaches
//! browsers connected to any node, through PostgreSQL NOTIFY when there are several) and the
//! pages keep the list, forgetting people whose reports stop.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use switchboard_domain::UserId;
use switchboard_engine::RealtimeEvent;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::session::UiUser;
use crate::AppState;
use crate::extract::Json;

/// The bus event kind of presence reports.
pub const PRESENCE: &str = "presence";

/// What a page reports about its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// The conversation is open.
    Viewing,
    /// The user is writing.
    Typing,
    /// The page was closed.
    Left,
}

/// The details of a presence event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceReport {
    /// Who.
    pub user_id: UserId,
    /// Their display name.
    pub name: String,
    /// Doing what.
    pub state: PresenceState,
}

/// `POST /ui/presence` body.
#[derive(Debug, Deserialize)]
pub(crate) struct PresenceBody {
    /// Case number of the conversation.
    case: String,
    state: PresenceState,
}

/// `POST /ui/presence`: the page says its user is viewing, typing or gone (CSRF header required).
pub(crate) async fn presence(
    State(st): State<AppState>,
    me: UiUser,
    headers: HeaderMap,
    Json(body): Json<PresenceBody>,
) -> Response {
    if let Err(r) = me.check_csrf(&headers, None) {
        return r;
    }
    let Some(conv) = super::conversation::id_of(&st, &body.case).await else {
        return crate::AppError::not_found("conversation").into_response();
    };
    let report = PresenceReport { user_id: me.user.id, name: me.user.name.clone(), state: body.state };
    let data = match serde_json::to_value(&report) {
        Ok(v) => v,
        Err(e) => {
            return crate::AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()).into_response();
        }
    };
    st.engine.bus().publish(RealtimeEvent::new(PRESENCE, conv, None, None).with_data(data)).await;
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /ui/events`: the realtime bus (changes and presence) for a signed-in browser.
pub(crate) async fn events(
    State(st): State<AppState>,
    _me: UiUser,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let bus = BroadcastStream::new(st.engine.bus().subscribe()).map(|item| {
        Ok(match item {
            Ok(ev) => Event::default()
                .event(ev.kind.clone())
                .json_data(&ev)
                .unwrap_or_else(|_| Event::default().event("error")),
            Err(_) => Event::default().event("lagged").data("reload"),
        })
    });
    let stream = futures_util::StreamExt::take_until(bus, st.shutdown.clone().cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_reports_round_trip_through_a_bus_event() {
        let r =
            PresenceReport { user_id: UserId(uuid::Uuid::now_v7()), name: "林".into(), state: PresenceState::Typing };
        let ev = RealtimeEvent::new(PRESENCE, switchboard_domain::ConversationId(uuid::Uuid::now_v7()), None, None)
            .with_data(serde_json::to_value(&r).unwrap_or_default());
        let wire = serde_json::to_string(&ev).unwrap_or_default();
        assert!(wire.contains("\"type\":\"presence\"") && wire.contains("\"state\":\"typing\""), "{wire}");
        let back: RealtimeEvent = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{e}"));
        let data: PresenceReport =
            serde_json::from_value(back.data.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data, r);
    }
}
