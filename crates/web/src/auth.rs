//! Bearer API tokens: generation, hashing and a short-lived verification cache.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use switchboard_domain::{Role, UserId};
use switchboard_store::DynStore;

use crate::AppState;
use crate::cache::TtlCache;
use crate::error::AppError;

/// How long a verified token is trusted without asking the database again (bounds how long a
/// revoked token keeps working on a node).
const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 10_000;

/// Prefix of every API token, so leaked tokens are easy to spot.
pub const TOKEN_PREFIX: &str = "sb_";

/// A new random token (shown once) and the hash to store.
pub fn generate_token() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of the token, hex. Tokens are 256-bit random, so a fast hash is enough.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Their user id.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
}

impl Caller {
    /// Fails with 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role.at_least(role) { Ok(()) } else { Err(AppError::forbidden(format!("this needs the {role} role"))) }
    }
}

/// Verified tokens by hash.
pub struct TokenCache(TtlCache<String, Caller>);

impl Default for TokenCache {
    fn default() -> Self {
        Self(TtlCache::new(CACHE_TTL, CACHE_MAX))
    }
}

impl TokenCache {
    /// Verifies a bearer token against the cache, then the store.
    pub async fn verify(&self, store: &DynStore, token: &str) -> Result<Caller, AppError> {
        let hash = hash_token(token);
        if let Some(caller) = self.0.get(&hash) {
            return Ok(caller);
        }
        let found = store.find_api_token(&hash).await?;
        let Some((_, user)) = found else {
            return Err(AppError::unauthorized("invalid or revoked API token"));
        };
        let caller = Caller { user_id: user.id, role: user.role };
        self.0.insert(hash, caller.clone());
        Ok(caller)
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// `access_token` from the query string, for `EventSource`, which cannot set headers.
fn query_token(parts: &Parts) -> Option<String> {
    let q = parts.uri.query()?;
    url_param(q, "access_token")
}

fn url_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The request path before any `nest` stripped a prefix.
fn original_path(parts: &Parts) -> &str {
    parts.extensions.get::<axum::extract::OriginalUri>().map(|u| u.0.path()).unwrap_or(parts.uri.path())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = match bearer(parts) {
            Some(t) => t.to_owned(),
            None => match query_token(parts) {
                Some(t) if original_path(parts) == "/api/v1/events" => t,
                _ => return Err(AppError::unauthorized("missing bearer token (Authorization: Bearer sb_…)")),
            },
        };
        state.tokens.verify(state.engine.store(), &token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let (a, ha) = generate_token();
        let (b, _) = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        assert_eq!(hash_token(&a), ha);
        assert_eq!(ha.len(), 64);
    }

    #[test]
    fn query_parameters_are_found() {
        assert_eq!(url_param("a=1&access_token=sb_x", "access_token").as_deref(), Some("sb_x"));
        assert_eq!(url_param("a=1", "access_token"), None);
    }
}
