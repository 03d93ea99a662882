//! Inbound media through the Graph media endpoint: `GET /{media-id}` names a short-lived URL, its
//! MIME type and size; the bytes are then downloaded with the same access token. Size and type are
//! checked before and while downloading.

use bytes::{Bytes, BytesMut};

use super::MetaConfig;

/// Default largest file fetched (WhatsApp's own limit for documents is 100 MB; agents rarely need
/// more than a photo or a voice note).
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Why a fetch failed; `retryable` says whether trying later can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FetchError {
    /// Worth retrying (network, 5xx, rate limit).
    pub retryable: bool,
    /// What happened.
    pub reason: String,
}

fn retry(reason: String) -> FetchError {
    FetchError { retryable: true, reason }
}

fn give_up(reason: String) -> FetchError {
    FetchError { retryable: false, reason }
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// The bytes.
    pub bytes: Bytes,
    /// The MIME type Meta declared (and the download confirmed).
    pub mime_type: String,
}

/// Whether Switchboard keeps files of this type (what customers send: pictures, voice, video,
/// documents).
pub fn allowed_type(mime: &str) -> bool {
    let m = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    ["image/", "audio/", "video/"].iter().any(|p| m.starts_with(p))
        || matches!(m.as_str(), "application/pdf" | "text/plain" | "application/msword")
        || m.starts_with("application/vnd.openxmlformats-officedocument.")
        || m.starts_with("application/vnd.ms-")
}

/// A file extension for a MIME type.
pub fn extension(mime: &str) -> &'static str {
    match mime.split(';').next().unwrap_or("").trim() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/aac" => "aac",
        "audio/mp4" => "m4a",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => "bin",
    }
}

fn classify(status: reqwest::StatusCode, what: &str) -> FetchError {
    let reason = format!("{what} answered {status}");
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        retry(reason)
    } else {
        give_up(reason)
    }
}

/// Fetches media `id` through the Graph media endpoint.
pub async fn fetch(client: &reqwest::Client, cfg: &MetaConfig, id: &str) -> Result<Media, FetchError> {
    let token = cfg
        .access_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| give_up("config.access_token is not set".into()))?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
        return Err(give_up(format!("media id {id:?} is not a Graph id")));
    }
    let max = cfg.max_media_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    let info = client
        .get(format!("{}/{id}", cfg.graph_base()))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| retry(format!("media info request failed: {e}")))?;
    if !info.status().is_success() {
        return Err(classify(info.status(), "media info"));
    }
    let info: serde_json::Value = info.json().await.map_err(|e| retry(format!("media info unreadable: {e}")))?;
    let url = info.get("url").and_then(|u| u.as_str()).ok_or_else(|| give_up("media info has no url".into()))?;
    let mime = info.get("mime_type").and_then(|m| m.as_str()).unwrap_or("application/octet-stream").to_owned();
    if !allowed_type(&mime) {
        return Err(give_up(format!("media type {mime} is not kept")));
    }
    if let Some(size) = info.get("file_size").and_then(|s| s.as_u64())
        && size > max
    {
        return Err(give_up(format!("media is {size} bytes, over the {max}-byte limit")));
    }
    let resp =
        client.get(url).bearer_auth(token).send().await.map_err(|e| retry(format!("media download failed: {e}")))?;
    if !resp.status().is_success() {
        return Err(classify(resp.status(), "media download"));
    }
    if let Some(ct) = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        let base = |m: &str| m.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if base(ct) != base(&mime) {
            return Err(give_up(format!("media download is {ct}, not the declared {mime}")));
        }
    }
    read_body(resp, mime, max).await
}

/// Whether a media job's provider id is a CDN URL (Messenger / Instagram attachments) rather
/// than a Graph media id (WhatsApp).
pub fn is_url(provider_id: &str) -> bool {
    provider_id.starts_with("https://") || provider_id.starts_with("http://")
}

/// Downloads a Messenger / Instagram attachment from the CDN URL the webhook named (these URLs
/// are signed and expire, so they are fetched at once). No token is sent: the URL carries its
/// own signature. The answer's type must be one that is kept; the size limit applies.
pub async fn fetch_url(client: &reqwest::Client, cfg: &MetaConfig, url: &str) -> Result<Media, FetchError> {
    if !is_url(url) {
        return Err(give_up(format!("{:?} is not an http(s) URL", url.chars().take(80).collect::<String>())));
    }
    let max = cfg.max_media_bytes.unwrap_or(DEFAULT_MAX_BYTES);
    let resp = client.get(url).send().await.map_err(|e| retry(format!("attachment download failed: {e}")))?;
    let status = resp.status();
    if status.as_u16() == 403 || status.as_u16() == 410 {
        return Err(give_up(format!("attachment URL answered {status} (expired or withdrawn)")));
    }
    if !status.is_success() {
        return Err(classify(status, "attachment download"));
    }
    let mime = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|m| m.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/octet-stream".into());
    if !allowed_type(&mime) {
        return Err(give_up(format!("attachment type {mime} is not kept")));
    }
    if let Some(len) = resp.content_length()
        && len > max
    {
        return Err(give_up(format!("attachment is {len} bytes, over the {max}-byte limit")));
    }
    read_body(resp, mime, max).await
}

async fn read_body(mut resp: reqwest::Response, mime: String, max: u64) -> Result<Media, FetchError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| retry(format!("media download interrupted: {e}")))? {
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(give_up(format!("media is over the {max}-byte limit")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Media { bytes: buf.freeze(), mime_type: mime })
}
