//! What a shop request can end in, classified by status and the shop's error codes (never
//! by message text), and how that becomes the port's `PortError`.

use crate::model::{ErrorObject, ErrorResponse};
use bridge_domain::PortError;
use std::fmt;
use std::time::Duration;

/// The `PortError::operation` of a failure of the API client's credentials or scopes
/// (retryable): the shop sync reads the client secret again when it sees it.
pub const CREDENTIALS_OPERATION: &str = "shop.credentials";

/// A failed shop request. `request` is `METHOD /path?query`, so an operator can tell which
/// action of which resource the shop refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShopError {
    /// 409: the resource changed since it was read (ConcurrentModification). The caller
    /// re-reads and recomputes; it never reaches the port unless the retries ran out.
    #[error("{request}: 409 {}", ErrorList(.errors))]
    Conflict {
        request: String,
        errors: Vec<ErrorObject>,
    },
    /// Another 4xx: the shop will refuse this request however often it is sent.
    #[error("{request}: {status} {}", ErrorList(.errors))]
    Refused {
        request: String,
        status: u16,
        errors: Vec<ErrorObject>,
    },
    /// The API client's credentials or scopes do not work: the token endpoint refused them
    /// (400/401), a fresh token was refused too (401), or a scope is missing (403). Nothing
    /// is wrong with the record: it waits (retryable) while an operator mends the client.
    #[error("{request}: {status} {} (the API client's credentials or scopes, not the record)", ErrorList(.errors))]
    Credentials {
        request: String,
        status: u16,
        errors: Vec<ErrorObject>,
    },
    /// 429, 5xx, a timeout or no connection: the shop may take it later.
    #[error("{request}: {reason}{}", RetryAfter(*.retry_after))]
    Unavailable {
        request: String,
        reason: String,
        retry_after: Option<Duration>,
    },
    /// A 2xx whose body is not what the API reference promises, or a state of the shop the
    /// bridge will not write over (named in `reason`).
    #[error("{request}: {reason}")]
    Unexpected { request: String, reason: String },
    /// The bridge's own store failed while the publish read what to write (the price
    /// table): classified by the store.
    #[error("reading what to publish: {0}")]
    Source(PortError),
}

impl ShopError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ShopError::Refused { status: 404, .. })
    }

    /// The shop already holds a resource with this unique value (key, email, sku+channel):
    /// someone else created it between our read and our create.
    pub fn is_duplicate_field(&self) -> bool {
        matches!(self, ShopError::Refused { status: 400, errors, .. }
            if errors.iter().any(|e| e.code == "DuplicateField"))
    }

    /// The token endpoint's refusal as a credentials failure (another status stays as is).
    pub fn into_token_refusal(self) -> Self {
        match self {
            ShopError::Refused {
                request,
                status: status @ (400 | 401),
                errors,
            } => ShopError::Credentials {
                request,
                status,
                errors,
            },
            other => other,
        }
    }

    pub fn into_port_error(self, operation: &'static str) -> PortError {
        let message = self.to_string();
        match self {
            ShopError::Source(err) => err,
            // Named apart, so that the caller can read the secret again.
            ShopError::Credentials { .. } => PortError::retryable(CREDENTIALS_OPERATION, message),
            ShopError::Conflict { .. } | ShopError::Unavailable { .. } => {
                PortError::retryable(operation, message)
            }
            ShopError::Refused { .. } | ShopError::Unexpected { .. } => {
                PortError::permanent(operation, message)
            }
        }
    }
}

/// The error of a non-2xx answer (a 401 here is the answer to a fresh token: the token is
/// renewed once before).
pub(crate) fn classify_status(
    request: String,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ShopError {
    let response: ErrorResponse = serde_json::from_slice(body).unwrap_or_default();
    let mut errors = response.errors;
    if errors.is_empty() {
        // Gateways and the emulator's uncaught errors (`{"error": "..."}`) carry no list.
        errors.push(ErrorObject {
            code: format!("HTTP{status}"),
            message: response
                .message
                .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect()),
            field: None,
        });
    }
    match status {
        409 => ShopError::Conflict { request, errors },
        401 | 403 => ShopError::Credentials {
            request,
            status,
            errors,
        },
        429 | 500..=599 => ShopError::Unavailable {
            request,
            reason: format!("{status} {}", ErrorList(&errors)),
            retry_after,
        },
        _ => ShopError::Refused {
            request,
            status,
            errors,
        },
    }
}

/// `code: message` of each error, `; `-separated, with the field of a DuplicateField.
struct ErrorList<'a>(&'a [ErrorObject]);

impl fmt::Display for ErrorList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}", error.code)?;
            if let Some(field) = &error.field {
                write!(f, " (field {field})")?;
            }
            if !error.message.is_empty() {
                write!(f, ": {}", error.message)?;
            }
        }
        Ok(())
    }
}

struct RetryAfter(Option<Duration>);

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(wait) => write!(f, " (Retry-After {}s)", wait.as_secs()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge_domain::ErrorClass;

    fn classify(status: u16, body: &str) -> ShopError {
        classify_status("POST /p/inventory/1".into(), status, body.as_bytes(), None)
    }

    #[test]
    fn a_409_is_a_conflict_and_retryable_if_it_escapes() {
        let err = classify(
            409,
            r#"{"statusCode":409,"message":"m","errors":[{"code":"ConcurrentModification","message":"Object 1 has a different version","currentVersion":3}]}"#,
        );
        assert!(matches!(err, ShopError::Conflict { .. }));
        assert_eq!(err.into_port_error("op").class, ErrorClass::Retryable);
    }

    #[test]
    fn refused_credentials_or_scopes_hold_the_record_and_are_named_apart() {
        for status in [401, 403] {
            let err = classify(
                status,
                r#"{"statusCode":403,"message":"m","errors":[{"code":"insufficient_scope","message":"Insufficient scope"}]}"#,
            );
            assert!(matches!(err, ShopError::Credentials { .. }), "{err:?}");
            let port = err.into_port_error("shop.publish_stock");
            assert_eq!(port.class, ErrorClass::Retryable);
            assert_eq!(port.operation, CREDENTIALS_OPERATION);
            assert!(port.message.contains("credentials"), "{}", port.message);
        }
        // The token endpoint's 400 (invalid_client, invalid_scope) is the client's too; a
        // 400 of an API call is the record's.
        let token = classify(400, r#"{"error":"invalid_client"}"#).into_token_refusal();
        assert_eq!(token.into_port_error("op").operation, CREDENTIALS_OPERATION);
        let api = classify(400, r#"{"errors":[{"code":"InvalidInput","message":"m"}]}"#);
        assert_eq!(api.into_port_error("op").class, ErrorClass::Permanent);
    }

    #[test]
    fn throttling_and_server_errors_are_retryable_with_their_wait() {
        let err = classify_status("GET /p/x".into(), 429, b"{}", Some(Duration::from_secs(7)));
        let port = err.into_port_error("shop.publish_stock");
        assert_eq!(port.class, ErrorClass::Retryable);
        assert!(port.message.contains("429"), "{}", port.message);
        assert!(port.message.contains("Retry-After 7s"), "{}", port.message);
        let err = classify(500, r#"{"error":"Invalid time value"}"#);
        let port = err.into_port_error("op");
        assert_eq!(port.class, ErrorClass::Retryable);
        assert!(
            port.message.contains("Invalid time value"),
            "{}",
            port.message
        );
    }

    #[test]
    fn another_4xx_is_permanent_naming_the_request_and_the_shops_codes() {
        let err = classify(
            400,
            r#"{"statusCode":400,"message":"dup","errors":[{"code":"DuplicateField","message":"Customer with email 'a@b' already exists.","field":"email","duplicateValue":"a@b"}]}"#,
        );
        assert!(err.is_duplicate_field());
        let port = err.into_port_error("shop.publish_customer");
        assert_eq!(port.class, ErrorClass::Permanent);
        assert_eq!(
            port.message,
            "POST /p/inventory/1: 400 DuplicateField (field email): Customer with email 'a@b' already exists."
        );
        assert!(classify(404, "not json").is_not_found());
    }
}
