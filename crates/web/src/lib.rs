//! Switchboard's HTTP surface: the REST API v1 with its OpenAPI document, server-sent events,
//! health and metrics endpoints.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
mod ops;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use switchboard_domain::ChannelSlug;
use switchboard_engine::Engine;
use switchboard_store::ChannelRecord;

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
    /// Cancelled when the server shuts down; ends long-lived responses (event streams).
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl AppState {
    /// State for `engine`.
    pub fn new(engine: Engine, config: WebConfig) -> Self {
        Self {
            engine,
            tokens: Arc::default(),
            channels: Arc::default(),
            config: Arc::new(config),
            shutdown: tokio_util::sync::CancellationToken::new(),
        }
    }
}

/// Channel records by slug, refreshed every few seconds so admin changes on any node apply.
#[derive(Default)]
pub struct ChannelCache {
    map: RwLock<HashMap<ChannelSlug, (ChannelRecord, Instant)>>,
}

const CHANNEL_TTL: Duration = Duration::from_secs(5);

impl ChannelCache {
    /// The channel, from the cache or the store.
    pub async fn get(
        &self,
        store: &switchboard_store::DynStore,
        slug: &ChannelSlug,
    ) -> Result<Option<ChannelRecord>, AppError> {
        if let Ok(map) = self.map.read()
            && let Some((ch, at)) = map.get(slug)
            && at.elapsed() < CHANNEL_TTL
        {
            return Ok(Some(ch.clone()));
        }
        let found = store.get_channel(slug).await?;
        if let Ok(mut map) = self.map.write() {
            match &found {
                Some(ch) => {
                    map.insert(slug.clone(), (ch.clone(), Instant::now()));
                }
                None => {
                    map.remove(slug);
                }
            }
        }
        Ok(found)
    }

    /// Forgets a channel after a change on this node.
    pub fn invalidate(&self, slug: &ChannelSlug) {
        if let Ok(mut map) = self.map.write() {
            map.remove(slug);
        }
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(ops::router())
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
