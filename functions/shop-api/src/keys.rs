//! Who may call the read API: bearer keys per client, kept in Secrets Manager.
//!
//! The secret is `{"clients": {"<client>": {"keys": ["..."], "endpoints": ["prices",
//! "availability", "credit"]}}}`. A client has one key, or two while it rotates (the new one
//! added, the shop backend switched, the old one removed). Keys are compared as SHA-256
//! digests in constant time, every stored key each time, so that neither a key's bytes nor
//! its position leak through timing.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// The shortest key accepted: 128 bits of base64 or hex and then some.
pub const MIN_KEY_LEN: usize = 32;
/// Keys one client may have at once.
pub const MAX_KEYS_PER_CLIENT: usize = 2;

/// An endpoint of the read API, as a key's permissions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Prices,
    Availability,
    Credit,
}

impl Endpoint {
    pub const ALL: [Endpoint; 3] = [Endpoint::Prices, Endpoint::Availability, Endpoint::Credit];

    pub fn as_str(&self) -> &'static str {
        match self {
            Endpoint::Prices => "prices",
            Endpoint::Availability => "availability",
            Endpoint::Credit => "credit",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeysError {
    #[error(
        "the API key secret is not JSON of the form {{\"clients\": {{\"shop\": {{\"keys\": [\"...\"], \"endpoints\": [\"prices\"]}}}}}}: {0}"
    )]
    Shape(String),
    #[error("client {client}: {reason}")]
    Invalid { client: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretShape {
    clients: BTreeMap<String, ClientShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientShape {
    keys: Vec<String>,
    endpoints: Vec<Endpoint>,
    /// This client's own throttle (else the stack's `ShopApiClientRatePerSecond`).
    #[serde(default)]
    requests_per_second: Option<u32>,
}

struct Client {
    name: String,
    digests: Vec<[u8; 32]>,
    endpoints: Vec<Endpoint>,
    requests_per_second: Option<u32>,
}

/// A request's client, let through authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    pub client: String,
    /// Its own throttle, if the secret gives it one.
    pub requests_per_second: Option<u32>,
}

/// The clients and their keys, as last read.
#[derive(Default)]
pub struct ApiKeys {
    clients: Vec<Client>,
}

/// Why a request is not let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization: Bearer` header, or a key no client has: 401.
    Unauthenticated(&'static str),
    /// A client's key, but not for this endpoint: 403.
    Forbidden { client: String },
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    pub fn from_json(text: &str) -> Result<Self, KeysError> {
        // Secrets Manager's generator adds its own key beside `clients` at creation.
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| KeysError::Shape(e.to_string()))?;
        if let Some(object) = value.as_object_mut() {
            object.remove("unused");
        }
        let shape: SecretShape =
            serde_json::from_value(value).map_err(|e| KeysError::Shape(e.to_string()))?;
        let mut clients = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, client) in shape.clients {
            let invalid = |reason: String| KeysError::Invalid {
                client: name.clone(),
                reason,
            };
            if client.keys.len() > MAX_KEYS_PER_CLIENT {
                return Err(invalid(format!(
                    "at most {MAX_KEYS_PER_CLIENT} keys may be active (one, two while rotating)"
                )));
            }
            for key in &client.keys {
                if key.len() < MIN_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(invalid(format!(
                        "a key must be at least {MIN_KEY_LEN} printable ASCII characters"
                    )));
                }
                if !seen.insert(digest(key)) {
                    return Err(invalid("a key is used twice".into()));
                }
            }
            clients.push(Client {
                digests: client.keys.iter().map(|k| digest(k)).collect(),
                endpoints: client.endpoints,
                requests_per_second: client.requests_per_second,
                name,
            });
        }
        Ok(Self { clients })
    }

    /// The number of keys configured (0: every request is refused).
    pub fn key_count(&self) -> usize {
        self.clients.iter().map(|c| c.digests.len()).sum()
    }

    /// The client a request's `Authorization` header names, if it may call `endpoint`.
    pub fn authorize(
        &self,
        authorization: Option<&str>,
        endpoint: Endpoint,
    ) -> Result<Authorized, Denied> {
        let Some(key) = authorization.and_then(bearer) else {
            return Err(Denied::Unauthenticated("no bearer key"));
        };
        let presented = digest(key);
        let mut found = None;
        for client in &self.clients {
            for stored in &client.digests {
                if bool::from(stored.ct_eq(&presented)) {
                    found = Some(client);
                }
            }
        }
        let client = found.ok_or(Denied::Unauthenticated("unknown key"))?;
        if client.endpoints.contains(&endpoint) {
            Ok(Authorized {
                client: client.name.clone(),
                requests_per_second: client.requests_per_second,
            })
        } else {
            Err(Denied::Forbidden {
                client: client.name.clone(),
            })
        }
    }
}

/// The key of `Bearer <key>` (the scheme's case does not matter, RFC 7235).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, key) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "key-a-0123456789abcdef0123456789abcdef";
    const A2: &str = "key-a2-0123456789abcdef0123456789abcdef";
    const B: &str = "key-b-0123456789abcdef0123456789abcdef";

    fn keys() -> ApiKeys {
        ApiKeys::from_json(&format!(
            r#"{{"clients": {{"shop": {{"keys": ["{A}", "{A2}"], "endpoints": ["prices", "availability", "credit"]}},
                "stock-widget": {{"keys": ["{B}"], "endpoints": ["availability"], "requests_per_second": 5}}}}, "unused": "x"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn both_keys_of_a_rotating_client_work_and_a_key_is_held_to_its_endpoints() {
        let keys = keys();
        assert_eq!(keys.key_count(), 3);
        assert_eq!(
            keys.authorize(Some(&format!("Bearer {A}")), Endpoint::Credit),
            Ok(Authorized {
                client: "shop".into(),
                requests_per_second: None
            })
        );
        assert_eq!(
            keys.authorize(Some(&format!("bearer {A2}")), Endpoint::Prices),
            Ok(Authorized {
                client: "shop".into(),
                requests_per_second: None
            })
        );
        assert_eq!(
            keys.authorize(Some(&format!("Bearer {B}")), Endpoint::Availability),
            Ok(Authorized {
                client: "stock-widget".into(),
                requests_per_second: Some(5)
            })
        );
        assert_eq!(
            keys.authorize(Some(&format!("Bearer {B}")), Endpoint::Prices),
            Err(Denied::Forbidden {
                client: "stock-widget".into()
            })
        );
    }

    #[test]
    fn no_key_or_another_key_is_unauthenticated() {
        let keys = keys();
        for header in [
            None,
            Some("Basic abc"),
            Some("Bearer "),
            Some("Bearer wrong"),
        ] {
            assert!(matches!(
                keys.authorize(header, Endpoint::Prices),
                Err(Denied::Unauthenticated(_))
            ));
        }
        assert!(matches!(
            ApiKeys::default().authorize(Some(&format!("Bearer {A}")), Endpoint::Prices),
            Err(Denied::Unauthenticated(_))
        ));
    }

    #[test]
    fn a_secret_that_would_weaken_the_keys_is_refused() {
        let short = r#"{"clients": {"shop": {"keys": ["short"], "endpoints": ["prices"]}}}"#;
        assert!(matches!(
            ApiKeys::from_json(short),
            Err(KeysError::Invalid { .. })
        ));
        let three = format!(
            r#"{{"clients": {{"shop": {{"keys": ["{A}", "{A2}", "{B}"], "endpoints": ["prices"]}}}}}}"#
        );
        assert!(matches!(
            ApiKeys::from_json(&three),
            Err(KeysError::Invalid { .. })
        ));
        let shared = format!(
            r#"{{"clients": {{"a": {{"keys": ["{A}"], "endpoints": ["prices"]}}, "b": {{"keys": ["{A}"], "endpoints": ["credit"]}}}}}}"#
        );
        assert!(ApiKeys::from_json(&shared).is_err());
        assert!(matches!(
            ApiKeys::from_json(r#"{"clients": {"a": {"keys": [], "endpoints": ["everything"]}}}"#),
            Err(KeysError::Shape(_))
        ));
    }
}
