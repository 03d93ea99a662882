//! Switchboard's HTTP surface: the REST API v1 with its OpenAPI document, server-sent events,
//! health and metrics endpoints.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
mod cache;
pub mod error;
pub mod extract;
pub mod ics;
mod ops;
pub mod ui;
pub mod webhooks;
pub mod widget;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use switchboard_domain::ChannelSlug;
use switchboard_engine::Engine;
use switchboard_store::ChannelRecord;

use crate::cache::TtlCache;

pub use error::AppError;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { max_body_bytes: 1024 * 1024 }
    }
}

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The engine (store, ingest, bus, metrics).
    pub engine: Engine,
    /// Verified API tokens.
    pub tokens: Arc<auth::TokenCache>,
    /// Known channels.
    pub channels: Arc<ChannelCache>,
    /// Settings.
    pub config: Arc<WebConfig>,
    /// The web UI's catalogue and presence.
    pub ui: Arc<ui::UiState>,
    /// Cancelled when the server shuts down; ends long-lived responses (event streams).
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The website chat widget's open streams and rate limits.
    pub widget: Arc<widget::WidgetState>,
}

impl AppState {
    /// State for `engine`.
    pub fn new(engine: Engine, config: WebConfig) -> Self {
        Self {
            engine,
            tokens: Arc::default(),
            channels: Arc::default(),
            config: Arc::new(config),
            // The catalogues are embedded and checked by a unit test; failing here is a build defect.
            ui: Arc::new(ui::UiState::new().expect("embedded UI message catalogues must parse")),
            shutdown: tokio_util::sync::CancellationToken::new(),
            widget: Arc::default(),
        }
    }
}

/// Channel records by slug, refreshed every few seconds so admin changes on any node apply.
pub struct ChannelCache(TtlCache<ChannelSlug, ChannelRecord>);

const CHANNEL_TTL: Duration = Duration::from_secs(5);
const CHANNEL_CACHE_MAX: usize = 10_000;

impl Default for ChannelCache {
    fn default() -> Self {
        Self(TtlCache::new(CHANNEL_TTL, CHANNEL_CACHE_MAX))
    }
}

impl ChannelCache {
    /// The channel, from the cache or the store.
    pub async fn get(
        &self,
        store: &switchboard_store::DynStore,
        slug: &ChannelSlug,
    ) -> Result<Option<ChannelRecord>, AppError> {
        if let Some(ch) = self.0.get(slug) {
            return Ok(Some(ch));
        }
        let found = store.get_channel(slug).await?;
        match &found {
            Some(ch) => self.0.insert(slug.clone(), ch.clone()),
            None => self.0.remove(slug),
        }
        Ok(found)
    }

    /// Forgets a channel after a change on this node.
    pub fn invalidate(&self, slug: &ChannelSlug) {
        self.0.remove(slug);
    }
}

/// The listener to serve [`router`] on: every accepted connection gets `TCP_NODELAY`. Without it
/// a small write — a server-sent event, a short response — waits behind the previous one until
/// the client's delayed ACK comes back (Nagle's algorithm): up to 40 ms on Linux, which was most
/// of the acknowledgement → `/ui/events` latency (`switchboard bench ui`).
pub fn nodelay(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt as _;
    let tap: fn(&mut tokio::net::TcpStream) = |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
        }
    };
    listener.tap_io(tap)
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(ops::router())
        .merge(ui::router())
        .merge(webhooks::router())
        .merge(widget::router())
        .nest("/api/v1", api::router())
        .fallback(|| async { AppError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            AppError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::serve::Listener as _;

    #[tokio::test]
    async fn every_accepted_connection_has_tcp_nodelay() {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = super::nodelay(tcp);
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap(), "server side of the connection");
        // The socket default, which the server used to keep (Nagle on).
        assert!(!client.nodelay().unwrap());
    }
}
