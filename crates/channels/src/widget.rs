//! The website chat widget channel (`web` kind): its settings, the signed user identity and the
//! origin allow-list. The HTTP side lives in the web crate (`/widget/...`); replies are delivered
//! by the engine into the visitor's stream.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ChannelSettings;

/// Default longest visitor message, in characters.
pub const DEFAULT_MAX_TEXT: usize = 4000;
/// Hard ceiling on the longest visitor message, in characters.
pub const MAX_TEXT_CEILING: usize = 16_000;
/// Default largest upload, in bytes.
pub const DEFAULT_MAX_UPLOAD: u64 = 5 * 1024 * 1024;
/// Hard ceiling on the largest upload, in bytes.
pub const MAX_UPLOAD_CEILING: u64 = 20 * 1024 * 1024;
/// MIME types accepted for uploads unless the channel narrows them.
pub const DEFAULT_UPLOAD_TYPES: &[&str] =
    &["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"];

/// The `config` object of a `web` channel. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WidgetConfig {
    /// The key the embed snippet carries (`data-key`); defaults to the channel slug.
    pub public_key: Option<String>,
    /// Sites allowed to embed the widget (`https://shop.example`); empty or missing: any site.
    pub allowed_origins: Vec<String>,
    /// Name of a routing calendar: outside its hours the widget offers the offline form and
    /// says when the team replies.
    pub calendar: Option<String>,
    /// Title shown in the widget's header.
    pub title: Option<String>,
    /// Longest visitor message, in characters.
    pub max_text: Option<usize>,
    /// Largest upload, in bytes (0 disables uploads).
    pub max_upload_bytes: Option<u64>,
    /// Accepted upload MIME types.
    pub upload_types: Option<Vec<String>>,
    /// Messages (and uploads) one visitor may send per minute.
    pub visitor_per_minute: Option<u32>,
    /// Requests (sessions, messages, uploads, typing) one IP address may make per minute.
    pub ip_per_minute: Option<u32>,
    /// New visitors (sessions that store a visitor) one IP address may start per minute.
    pub new_visitors_per_ip_per_minute: Option<u32>,
    /// Only visitors with a signed identity may chat.
    pub require_identity: bool,
    /// Unknown keys, kept.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl WidgetConfig {
    /// The config of a channel (defaults where keys are missing or the object is unreadable,
    /// which `validate_config` refuses at save time).
    pub fn from_settings(ch: &ChannelSettings) -> WidgetConfig {
        Self::from_value(&ch.config).unwrap_or_default()
    }

    /// Parses a config object.
    pub fn from_value(v: &serde_json::Value) -> Result<WidgetConfig, String> {
        if v.is_null() {
            return Ok(WidgetConfig::default());
        }
        serde_json::from_value(v.clone()).map_err(|e| format!("config: {e}"))
    }

    /// The public key of a channel with this config.
    pub fn key<'a>(&'a self, slug: &'a str) -> &'a str {
        self.public_key.as_deref().unwrap_or(slug)
    }

    /// Longest visitor message, in characters.
    pub fn max_text(&self) -> usize {
        self.max_text.unwrap_or(DEFAULT_MAX_TEXT).clamp(1, MAX_TEXT_CEILING)
    }

    /// Largest upload, in bytes.
    pub fn max_upload(&self) -> u64 {
        self.max_upload_bytes.unwrap_or(DEFAULT_MAX_UPLOAD).min(MAX_UPLOAD_CEILING)
    }

    /// Whether an upload of this MIME type is accepted.
    pub fn accepts_type(&self, mime: &str) -> bool {
        match &self.upload_types {
            Some(list) => list.iter().any(|t| t.eq_ignore_ascii_case(mime)),
            None => DEFAULT_UPLOAD_TYPES.iter().any(|t| t.eq_ignore_ascii_case(mime)),
        }
    }

    /// Accepted upload types, for the widget's file picker.
    pub fn upload_types(&self) -> Vec<String> {
        self.upload_types.clone().unwrap_or_else(|| DEFAULT_UPLOAD_TYPES.iter().map(|s| (*s).to_owned()).collect())
    }

    /// Messages per visitor per minute.
    pub fn visitor_per_minute(&self) -> u32 {
        self.visitor_per_minute.unwrap_or(30).max(1)
    }

    /// Requests per IP address per minute.
    pub fn ip_per_minute(&self) -> u32 {
        self.ip_per_minute.unwrap_or(300).max(1)
    }

    /// New visitors per IP address per minute (default: a fifth of the request allowance).
    pub fn new_visitors_per_ip_per_minute(&self) -> u32 {
        self.new_visitors_per_ip_per_minute.unwrap_or(self.ip_per_minute() / 5).max(1)
    }

    /// Whether a page at `origin` may use the widget. Without an `Origin` header (a same-origin
    /// GET, a server-side client) the answer is yes only when the list is empty.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        let Some(origin) = origin else { return false };
        let origin = origin.trim_end_matches('/');
        self.allowed_origins.iter().any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

fn valid_key(k: &str) -> bool {
    (4..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_origin(o: &str) -> bool {
    if o == "*" {
        return true;
    }
    let Some((scheme, rest)) = o.split_once("://") else { return false };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.trim_end_matches('/').contains('/')
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]/".contains(&b))
}

/// Validates a `web` channel's config for saving; the message names the bad key.
pub fn validate_config(config: &serde_json::Value) -> Result<(), String> {
    let cfg = WidgetConfig::from_value(config)?;
    if let Some(k) = &cfg.public_key
        && !valid_key(k)
    {
        return Err("config.public_key must be 4-64 characters of A-Z, a-z, 0-9, '-' or '_'".into());
    }
    if let Some(bad) = cfg.allowed_origins.iter().find(|o| !valid_origin(o)) {
        return Err(format!(
            "config.allowed_origins: {bad:?} is not an origin like \"https://shop.example\" (scheme and host, no path)"
        ));
    }
    if cfg.max_text.is_some_and(|n| n == 0 || n > MAX_TEXT_CEILING) {
        return Err(format!("config.max_text must be between 1 and {MAX_TEXT_CEILING}"));
    }
    if cfg.max_upload_bytes.is_some_and(|n| n > MAX_UPLOAD_CEILING) {
        return Err(format!("config.max_upload_bytes must be at most {MAX_UPLOAD_CEILING}"));
    }
    if let Some(types) = &cfg.upload_types
        && let Some(bad) = types.iter().find(|t| t.split_once('/').is_none_or(|(a, b)| a.is_empty() || b.is_empty()))
    {
        return Err(format!("config.upload_types: {bad:?} is not a MIME type"));
    }
    if cfg.visitor_per_minute == Some(0)
        || cfg.ip_per_minute == Some(0)
        || cfg.new_visitors_per_ip_per_minute == Some(0)
    {
        return Err("config.visitor_per_minute, config.ip_per_minute and config.new_visitors_per_ip_per_minute \
                    must be at least 1"
            .into());
    }
    Ok(())
}

/// `hex(HMAC-SHA256(secret, user_id))`: what a site computes on its server to vouch for the
/// signed-in user it passes to the widget.
pub fn sign_identity(secret: &str, user_id: &str) -> String {
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(user_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a signed identity in constant time. The reason never contains the secret.
pub fn verify_identity(secret: Option<&str>, user_id: &str, signature: &str) -> Result<(), String> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err("the channel has no secret, so it cannot verify signed identities".into());
    };
    if user_id.is_empty() || user_id.len() > 128 || user_id.chars().any(char::is_control) {
        return Err("user_id must be 1-128 characters without control characters".into());
    }
    let want = sign_identity(secret, user_id);
    let got = signature.trim().to_ascii_lowercase();
    if got.len() == want.len() && bool::from(want.as_bytes().ct_eq(got.as_bytes())) {
        Ok(())
    } else {
        Err("user_hash is not the HMAC-SHA256 of user_id with the channel secret".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign_identity("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sig = sign_identity("s3cret", "user-42");
        assert!(verify_identity(Some("s3cret"), "user-42", &sig).is_ok());
        assert!(verify_identity(Some("s3cret"), "user-42", &sig.to_uppercase()).is_ok());
        assert!(verify_identity(Some("s3cret"), "user-43", &sig).is_err());
        assert!(verify_identity(Some("other"), "user-42", &sig).is_err());
        assert!(verify_identity(None, "user-42", &sig).is_err());
        assert!(verify_identity(Some("s3cret"), "user-42", "").is_err());
    }

    #[test]
    fn origins_are_checked_against_the_list() {
        let cfg =
            WidgetConfig::from_value(&json!({"allowed_origins": ["https://shop.example", "http://localhost:8080"]}))
                .unwrap_or_default();
        assert!(cfg.origin_allowed(Some("https://shop.example")));
        assert!(cfg.origin_allowed(Some("https://SHOP.example/")));
        assert!(cfg.origin_allowed(Some("http://localhost:8080")));
        assert!(!cfg.origin_allowed(Some("https://evil.example")));
        assert!(!cfg.origin_allowed(Some("http://shop.example")));
        assert!(!cfg.origin_allowed(None));
        assert!(WidgetConfig::default().origin_allowed(None));
        assert!(WidgetConfig::default().origin_allowed(Some("https://any.example")));
    }

    #[test]
    fn config_is_validated_with_the_key_named() {
        assert!(validate_config(&json!({})).is_ok());
        assert!(validate_config(&serde_json::Value::Null).is_ok());
        assert!(
            validate_config(
                &json!({"public_key": "pk_live_1", "allowed_origins": ["https://a.example"], "calendar": "support"})
            )
            .is_ok()
        );
        for (bad, key) in [
            (json!({"public_key": "a b"}), "public_key"),
            (json!({"allowed_origins": ["shop.example"]}), "allowed_origins"),
            (json!({"allowed_origins": ["https://shop.example/path"]}), "allowed_origins"),
            (json!({"allowed_origins": "https://shop.example"}), "config"),
            (json!({"max_text": 0}), "max_text"),
            (json!({"max_upload_bytes": 999_999_999u64}), "max_upload_bytes"),
            (json!({"upload_types": ["png"]}), "upload_types"),
            (json!({"visitor_per_minute": 0}), "visitor_per_minute"),
        ] {
            let err = validate_config(&bad).expect_err(&bad.to_string());
            assert!(err.contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn limits_have_defaults_and_ceilings() {
        let cfg = WidgetConfig::default();
        assert_eq!(cfg.max_text(), DEFAULT_MAX_TEXT);
        assert_eq!(cfg.max_upload(), DEFAULT_MAX_UPLOAD);
        assert!(cfg.accepts_type("image/png") && !cfg.accepts_type("application/x-msdownload"));
        assert_eq!(cfg.key("site"), "site");
        let unknown = WidgetConfig::from_value(&json!({"theme": "dark"})).unwrap_or_default();
        assert_eq!(unknown.extra["theme"], "dark");
    }
}
