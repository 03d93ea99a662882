//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw request body with the app secret, as
//! `sha256=<lowercase hex>`. Verified over the bytes as received, in constant time, before any
//! parsing.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::WebhookError;

/// The header Meta signs webhooks with.
pub const HEADER: &str = "x-hub-signature-256";

/// `sha256=<lowercase hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, body)))
}

fn mac(secret: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; this never fails.
    let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return [0; 32];
    };
    m.update(body);
    m.finalize().into_bytes().into()
}

/// Byte equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Checks the header value against the body. The reason is safe to log (it never contains the
/// secret or the expected value).
pub fn verify(secret: Option<&str>, header: Option<&[u8]>, body: &[u8]) -> Result<(), WebhookError> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(WebhookError::Signature("the channel has no app secret configured".into()));
    };
    let Some(header) = header else {
        return Err(WebhookError::Signature("missing X-Hub-Signature-256 header".into()));
    };
    let Some(hex_part) = header.strip_prefix(b"sha256=") else {
        return Err(WebhookError::Signature("X-Hub-Signature-256 must start with sha256=".into()));
    };
    let mut given = [0u8; 32];
    // Meta sends lowercase hex; accept uppercase too, it is the same digest.
    if hex_part.len() != 64 || hex::decode_to_slice(hex_part, &mut given).is_err() {
        return Err(WebhookError::Signature("X-Hub-Signature-256 is not 64 hex digits".into()));
    }
    let expected = mac(secret.as_bytes(), body);
    if bool::from(expected.ct_eq(&given)) {
        Ok(())
    } else {
        Err(WebhookError::Signature("X-Hub-Signature-256 does not match the body".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_vector_verifies_and_tampering_does_not() {
        // RFC 4231 test case 2.
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(verify(Some("Jefe"), Some(sig.as_bytes()), b"what do ya want for nothing?").is_ok());
        assert!(
            verify(
                Some("Jefe"),
                Some(sig.to_uppercase().replace("SHA256", "sha256").as_bytes()),
                b"what do ya want for nothing?"
            )
            .is_ok()
        );
        assert!(verify(Some("Jefe"), Some(sig.as_bytes()), b"what do ya want for nothing!").is_err());
        assert!(verify(Some("other"), Some(sig.as_bytes()), b"what do ya want for nothing?").is_err());
        assert!(verify(Some("Jefe"), None, b"x").is_err());
        assert!(verify(None, Some(sig.as_bytes()), b"x").is_err());
        assert!(verify(Some("Jefe"), Some(b"sha1=abc"), b"x").is_err());
        assert!(verify(Some("Jefe"), Some(b"sha256=zz"), b"x").is_err());
    }
}
