//! Standard Webhooks (standardwebhooks.com) signatures: HMAC-SHA256 over
//! `{id}.{timestamp}.{body}`, `v1,<base64>` entries, `whsec_<base64>` secrets.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How far a webhook's timestamp may be from now, either way (replay protection).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;
const SIGNATURE_LEN: usize = 32;
const MAX_SIGNATURE_ENTRIES: usize = 16;

/// A signing secret. Its `Debug` never prints the key.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Parses `whsec_<base64>` (the prefix is optional, as in the reference libraries).
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let encoded = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        // Unpadded base64 is accepted too, as the reference libraries do.
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let key = lenient
            .decode(encoded)
            .map_err(|_| SignatureError::InvalidSecret)?;
        // Short keys make HMAC guessable; the reference generator uses 24 bytes or more.
        if key.len() < 16 {
            return Err(SignatureError::InvalidSecret);
        }
        Ok(Self(key))
    }

    /// A random secret in `whsec_` form, from the caller's random bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes.to_vec())
    }

    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", BASE64.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signing secret is not whsec_<base64> of at least 16 bytes")]
    InvalidSecret,
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not unix seconds")]
    InvalidTimestamp,
    #[error("webhook-timestamp is more than five minutes from now")]
    OutsideTolerance,
    #[error("no signature matches")]
    NoMatch,
}

/// The `webhook-signature` header value for a message.
pub fn sign(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.mac(id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", BASE64.encode(tag))
}

/// Verifies a webhook against any of the active `secrets` (two during a rotation).
///
/// Every `v1` entry is decoded and length-checked before a constant-time comparison, so
/// `v1,` with an empty or truncated signature never matches.
pub fn verify(
    secrets: &[SigningSecret],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let id = id
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::MissingHeader("webhook-id"))?;
    let timestamp = timestamp
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::MissingHeader("webhook-signature"))?;
    if timestamp.len() > 12 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::InvalidTimestamp);
    }
    let timestamp: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::InvalidTimestamp)?;
    if (now_unix - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::OutsideTolerance);
    }
    let expected: Vec<[u8; SIGNATURE_LEN]> = secrets
        .iter()
        .map(|secret| {
            secret
                .mac(id, timestamp, body)
                .finalize()
                .into_bytes()
                .into()
        })
        .collect();
    let mut matched = false;
    for entry in signature.split(' ').take(MAX_SIGNATURE_ENTRIES) {
        let Some(encoded) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(candidate) = BASE64.decode(encoded) else {
            continue;
        };
        if candidate.len() != SIGNATURE_LEN {
            continue;
        }
        for tag in &expected {
            // No early exit: every secret is compared, so timing says nothing about which.
            matched |= bool::from(tag.as_slice().ct_eq(&candidate));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn secret(byte: u8) -> SigningSecret {
        SigningSecret::from_bytes([byte; 32])
    }

    fn check(secrets: &[SigningSecret], ts: i64, sig: &str) -> Result<(), SignatureError> {
        verify(
            secrets,
            Some("msg_1"),
            Some(&ts.to_string()),
            Some(sig),
            b"{}",
            NOW,
        )
    }

    #[test]
    fn a_signature_by_either_active_secret_verifies() {
        let (old, new) = (secret(1), secret(2));
        let sig = sign(&old, "msg_1", NOW, b"{}");
        assert!(check(&[new.clone(), old.clone()], NOW, &sig).is_ok());
        assert_eq!(check(&[new], NOW, &sig), Err(SignatureError::NoMatch));
    }

    #[test]
    fn one_valid_entry_among_several_is_enough() {
        let s = secret(1);
        let sig = format!("v1,AAAA v2,xyz {}", sign(&s, "msg_1", NOW, b"{}"));
        assert!(check(&[s], NOW, &sig).is_ok());
    }

    #[test]
    fn empty_short_and_foreign_version_signatures_fail() {
        let s = secret(1);
        let good = sign(&s, "msg_1", NOW, b"{}");
        let short = &good[..good.len() - 8];
        for bad in ["v1,", "v1", short, &good.replace("v1,", "v2,"), "v1,!!!!"] {
            assert_eq!(
                check(std::slice::from_ref(&s), NOW, bad),
                Err(SignatureError::NoMatch),
                "{bad}"
            );
        }
    }

    #[test]
    fn timestamps_outside_five_minutes_fail_both_ways() {
        let s = secret(1);
        for ts in [NOW - 301, NOW + 301] {
            let sig = sign(&s, "msg_1", ts, b"{}");
            assert_eq!(
                check(std::slice::from_ref(&s), ts, &sig),
                Err(SignatureError::OutsideTolerance)
            );
        }
        let sig = sign(&s, "msg_1", NOW - 300, b"{}");
        assert!(check(&[s], NOW - 300, &sig).is_ok());
    }

    #[test]
    fn missing_headers_are_named() {
        assert_eq!(
            verify(&[secret(1)], None, Some("1"), Some("v1,x"), b"", NOW),
            Err(SignatureError::MissingHeader("webhook-id"))
        );
    }

    #[test]
    fn secrets_round_trip_through_whsec_and_short_ones_are_refused() {
        let s = secret(7);
        assert_eq!(SigningSecret::parse(&s.to_whsec()).unwrap().0, s.0);
        let unpadded = s.to_whsec().trim_end_matches('=').to_string();
        assert_eq!(SigningSecret::parse(&unpadded).unwrap().0, s.0);
        assert_eq!(
            SigningSecret::parse("whsec_AAAA").unwrap_err(),
            SignatureError::InvalidSecret
        );
        assert!(!format!("{s:?}").contains('7'));
    }
}
