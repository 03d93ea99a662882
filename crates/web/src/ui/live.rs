//! Live updates for the UI: conversation and message events over server-sent events, and
//! presence (who is viewing or typing in a conversation) for collision detection.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use switchboard_domain::{ConversationId, UserId};
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::session::UiUser;
use crate::AppState;
use crate::extract::Json;

/// A viewer who has not pinged for this long is gone.
const PRESENCE_TTL: Duration = Duration::from_secs(30);
/// "Typing" lasts this long after the last keystroke report.
const TYPING_TTL: Duration = Duration::from_secs(6);

struct Viewer {
    name: String,
    seen: Instant,
    typing_until: Option<Instant>,
}

/// Who is in which conversation on this node, and a channel announcing changes.
pub struct Presence {
    rooms: Mutex<HashMap<ConversationId, HashMap<UserId, Viewer>>>,
    tx: broadcast::Sender<PresenceUpdate>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence { rooms: Mutex::default(), tx: broadcast::channel(1024).0 }
    }
}

/// Everyone in one conversation now.
#[derive(Debug, Clone, Serialize)]
pub struct PresenceUpdate {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Who is there.
    pub viewers: Vec<ViewerState>,
}

/// One person in a conversation.
#[derive(Debug, Clone, Serialize)]
pub struct ViewerState {
    /// Their id (the page hides its own user).
    pub user_id: UserId,
    /// Display name.
    pub name: String,
    /// Whether they are typing a reply or note.
    pub typing: bool,
}

/// What a page reports about its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// The conversation is open.
    Viewing,
    /// The user is writing.
    Typing,
    /// The page was closed.
    Left,
}

impl Presence {
    /// Records `user`'s state in `conv` and announces the room.
    pub fn report(&self, conv: ConversationId, user: UserId, name: &str, state: PresenceState) {
        let now = Instant::now();
        let viewers = {
            let Ok(mut rooms) = self.rooms.lock() else { return };
            let room = rooms.entry(conv).or_default();
            match state {
                PresenceState::Left => {
                    room.remove(&user);
                }
                PresenceState::Viewing | PresenceState::Typing => {
                    let v = room.entry(user).or_insert_with(|| Viewer {
                        name: name.to_owned(),
                        seen: now,
                        typing_until: None,
                    });
                    v.seen = now;
                    v.typing_until = match state {
                        PresenceState::Typing => Some(now + TYPING_TTL),
                        _ => None,
                    };
                }
            }
            room.retain(|_, v| now.duration_since(v.seen) < PRESENCE_TTL);
            let viewers: Vec<ViewerState> = room
                .iter()
                .map(|(id, v)| ViewerState {
                    user_id: *id,
                    name: v.name.clone(),
                    typing: v.typing_until.is_some_and(|t| t > now),
                })
                .collect();
            if room.is_empty() {
                rooms.remove(&conv);
            }
            viewers
        };
        let _ = self.tx.send(PresenceUpdate { conversation_id: conv, viewers });
    }

    /// A subscription to room announcements.
    pub fn subscribe(&self) -> broadcast::Receiver<PresenceUpdate> {
        self.tx.subscribe()
    }
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
    st.ui.presence.report(conv, me.user.id, &me.user.name, body.state);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /ui/events`: the realtime bus and presence announcements for a signed-in browser.
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
    let presence = BroadcastStream::new(st.ui.presence.subscribe()).filter_map(|item| {
        item.ok().map(|p| {
            Ok(Event::default().event("presence").json_data(&p).unwrap_or_else(|_| Event::default().event("error")))
        })
    });
    let merged = futures_util::StreamExt::take_until(bus.merge(presence), st.shutdown.clone().cancelled_owned());
    Sse::new(merged).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_tracks_viewers_and_typing() {
        let p = Presence::default();
        let mut rx = p.subscribe();
        let conv = ConversationId(uuid::Uuid::now_v7());
        let (lin, sam) = (UserId(uuid::Uuid::now_v7()), UserId(uuid::Uuid::now_v7()));
        p.report(conv, lin, "Lin", PresenceState::Viewing);
        p.report(conv, sam, "Sam", PresenceState::Typing);
        let _ = rx.try_recv();
        let u = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.viewers.len(), 2);
        assert!(u.viewers.iter().any(|v| v.name == "Sam" && v.typing));
        assert!(u.viewers.iter().any(|v| v.name == "Lin" && !v.typing));
        p.report(conv, sam, "Sam", PresenceState::Left);
        let u = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.viewers.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["Lin"]);
    }
}
