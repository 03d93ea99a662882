//! Operations endpoints: liveness, readiness, Prometheus metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// The database answers.
async fn readyz(State(st): State<AppState>) -> impl IntoResponse {
    match st.engine.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": e.to_string()})),
        ),
    }
}

/// Prometheus text exposition.
async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    let store = st.engine.store();
    if let Ok(n) = store.outbox_backlog().await {
        st.engine.metrics().outbox_backlog.set(n);
    }
    if let Ok(n) = store.pipeline_backlog().await {
        st.engine.metrics().pipeline_backlog.set(n);
    }
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        st.engine.metrics().encode(),
    )
}
