//! `GET /api/v1/events`: live conversation and message changes as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::AppState;
use crate::auth::Caller;

/// Streams `conversation.created`, `conversation.updated`, `message.created` and
/// `message.updated` events; `lagged` means events were missed and the client should reload.
/// `EventSource` clients may pass the token as `?access_token=`.
#[utoipa::path(get, path = "/api/v1/events", tag = "realtime",
    responses((status = 200, description = "text/event-stream of realtime events", content_type = "text/event-stream")))]
pub(crate) async fn stream(
    State(st): State<AppState>,
    _caller: Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let metrics = st.engine.metrics().clone();
    metrics.realtime_subscribers.inc();
    let guard = Guard(metrics);
    let rx = st.engine.bus().subscribe();
    let stream = futures_util::StreamExt::take_until(BroadcastStream::new(rx), st.shutdown.clone().cancelled_owned())
        // Presence is chatter between agent UIs, not part of the API's event stream.
        .filter(|item| !matches!(item, Ok(ev) if ev.kind == "presence"))
        .map(move |item| {
            let _keep = &guard;
            Ok(match item {
                Ok(ev) => Event::default()
                    .event(ev.kind.clone())
                    .json_data(&ev)
                    .unwrap_or_else(|_| Event::default().event("error")),
                Err(BroadcastStreamRecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
            })
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

struct Guard(std::sync::Arc<switchboard_engine::Metrics>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.realtime_subscribers.dec();
    }
}
