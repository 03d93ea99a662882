//! The one error type of the HTTP layer: every failure becomes `{"error":{"code","message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_engine::IngestError;
use switchboard_store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable reason.
    pub message: String,
    /// Seconds to wait before retrying (429): sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable code, e.g. `invalid_payload`.
    code: &'static str,
    /// What went wrong.
    message: String,
}

impl AppError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    /// Adds a `Retry-After` (seconds) to the response.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400 with a reason.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code, message = %self.message, "request rejected");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message } };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        resp
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::not_found(what),
            StoreError::Conflict(m) => AppError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Invalid(m) => AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            StoreError::Closed => {
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "server is shutting down")
            }
            StoreError::Backend(m) => AppError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", m),
        }
    }
}

impl From<IngestError> for AppError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Closed => AppError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", e.to_string()),
            IngestError::Store(_) => {
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", e.to_string())
            }
        }
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, AppError>;
