//! Inbound files through the Bot API: `getFile` names a `file_path` (valid for an hour), the bytes
//! are then downloaded from `/file/bot<token>/<file_path>`. Bots may download files up to 20 MB.

use bytes::BytesMut;
use serde_json::{Value, json};

use super::TelegramConfig;
use crate::meta::media::{FetchError, Media, allowed_type};

/// Largest file a bot may download through the Bot API.
pub const MAX_BYTES: u64 = 20 * 1024 * 1024;

fn retry(reason: String) -> FetchError {
    FetchError { retryable: true, reason }
}

fn give_up(reason: String) -> FetchError {
    FetchError { retryable: false, reason }
}

/// The MIME type of a Telegram file path (Telegram names files by type: `photos/file_3.jpg`,
/// `voice/file_7.oga`, `documents/file_9.pdf`).
pub fn mime_of(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "oga" | "ogg" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// The attachments of an inbound event that are Telegram files to download: (index, file id).
pub fn downloads(ev: &switchboard_domain::InboundEvent) -> Vec<(i32, String)> {
    ev.attachments.iter().enumerate().filter_map(|(i, a)| a.provider_id.clone().map(|id| (i as i32, id))).collect()
}

/// Downloads file `file_id`.
pub async fn fetch(client: &reqwest::Client, cfg: &TelegramConfig, file_id: &str) -> Result<Media, FetchError> {
    let token = cfg
        .bot_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| give_up("config.bot_token is not set".into()))?;
    if file_id.is_empty()
        || file_id.len() > 256
        || !file_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(give_up(format!("{file_id:?} is not a Telegram file id")));
    }
    let resp = client
        .post(format!("{}/bot{token}/getFile", cfg.api_base()))
        .json(&json!({"file_id": file_id}))
        .send()
        .await
        .map_err(|e| retry(format!("getFile request failed: {e}")))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| retry(format!("getFile answer unreadable: {e}")))?;
    if !status.is_success() || body.get("ok").and_then(Value::as_bool) != Some(true) {
        let desc = body.get("description").and_then(Value::as_str).unwrap_or("no description");
        let reason = format!("getFile answered {status}: {desc}");
        return Err(if status.is_server_error() || status.as_u16() == 429 { retry(reason) } else { give_up(reason) });
    }
    let result = &body["result"];
    let path = result
        .get("file_path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty() && !p.contains(".."))
        .ok_or_else(|| give_up("getFile gave no file_path (file too big for bots?)".into()))?;
    if let Some(size) = result.get("file_size").and_then(Value::as_u64)
        && size > MAX_BYTES
    {
        return Err(give_up(format!("file is {size} bytes, over the {MAX_BYTES}-byte Bot API limit")));
    }
    let mime = mime_of(path);
    if !allowed_type(mime) {
        return Err(give_up(format!("file type {mime} ({path}) is not kept")));
    }
    let mut resp = client
        .get(format!("{}/file/bot{token}/{path}", cfg.api_base()))
        .send()
        .await
        .map_err(|e| retry(format!("file download failed: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        let reason = format!("file download answered {status}");
        return Err(if status.is_server_error() || status.as_u16() == 429 { retry(reason) } else { give_up(reason) });
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| retry(format!("file download interrupted: {e}")))? {
        if (buf.len() + chunk.len()) as u64 > MAX_BYTES {
            return Err(give_up(format!("file is over the {MAX_BYTES}-byte limit")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Media { bytes: buf.freeze(), mime_type: mime.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_name_their_type() {
        assert_eq!(mime_of("photos/file_3.jpg"), "image/jpeg");
        assert_eq!(mime_of("voice/file_7.oga"), "audio/ogg");
        assert_eq!(mime_of("documents/file_9.PDF"), "application/pdf");
        assert_eq!(mime_of("documents/file"), "application/octet-stream");
    }
}
