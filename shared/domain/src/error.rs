//! One error taxonomy for the whole product: every failure is either worth retrying or not.

use std::fmt;

/// Whether repeating the same operation later can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Throttling, timeouts, unavailable dependencies: retry with backoff.
    Retryable,
    /// Invalid data, unknown references, denied access: retrying changes nothing.
    Permanent,
}

impl ErrorClass {
    /// `Retryable` when `retryable`, else `Permanent`.
    pub fn retryable_if(retryable: bool) -> Self {
        if retryable {
            ErrorClass::Retryable
        } else {
            ErrorClass::Permanent
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Permanent => "permanent",
        })
    }
}

/// A value that violates a domain rule. `code` is stable and machine-readable; the
/// field path is attached by whoever knows where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    pub code: &'static str,
    pub message: String,
}

impl InvalidValue {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A failure behind a port (store, queue, object store, secret source), classified by
/// the adapter from the error's kind, never from its text.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed ({class}): {message}")]
pub struct PortError {
    pub class: ErrorClass,
    pub operation: &'static str,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PortError {
    pub fn retryable(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Retryable,
            operation,
            message: message.into(),
            source: None,
        }
    }

    pub fn permanent(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Permanent,
            operation,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.class == ErrorClass::Retryable
    }
}

/// Renders an error with its whole `source()` chain, for logs.
pub fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}
