//! The widget's script and styles, embedded in the binary (no CDN), served to any site.

use axum::http::header;
use axum::response::IntoResponse;

const JS: &str = include_str!("../../assets/widget.js");
const CSS: &str = include_str!("../../assets/widget.css");

fn asset(body: &'static str, mime: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=300"),
            // Any site may load them; the API checks each channel's origin list.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}

/// `GET /widget.js`.
pub(crate) async fn script() -> impl IntoResponse {
    asset(JS, "text/javascript; charset=utf-8")
}

/// `GET /widget.css`.
pub(crate) async fn styles() -> impl IntoResponse {
    asset(CSS, "text/css; charset=utf-8")
}
