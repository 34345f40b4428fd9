//! Configuration lookup. Functions read their settings through a lookup, not straight
//! from the process environment, so that the local stack can run several functions in
//! one process, each with the environment the template gives it.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(String),
    #[error("environment variable {name} is invalid: {message}")]
    Invalid { name: String, message: String },
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A function's environment.
#[derive(Clone)]
pub struct Config {
    lookup: Lookup,
}

impl Config {
    /// The process environment (a deployed function).
    pub fn from_env() -> Self {
        Self {
            lookup: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// A given map (the local stack, tests).
    pub fn from_map(map: HashMap<String, String>) -> Self {
        Self {
            lookup: Arc::new(move |name| map.get(name).cloned()),
        }
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError::Missing(name.to_string()))
    }

    /// A parsed value, or `default` when unset.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name: name.to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Sets the process's business time zone (`BUSINESS_TIME_ZONE`, default Europe/Berlin):
    /// the midnight a date-only validity bound means (contract v2). Every function that
    /// reads events or snapshots calls it at init.
    pub fn apply_business_time_zone(&self) -> Result<(), ConfigError> {
        let name = self
            .optional(BUSINESS_TIME_ZONE)
            .unwrap_or_else(|| bridge_contract::json::DEFAULT_BUSINESS_TIME_ZONE.to_string());
        bridge_contract::json::set_business_time_zone(&name).map_err(|e| ConfigError::Invalid {
            name: BUSINESS_TIME_ZONE.to_string(),
            message: e.message,
        })
    }
}

pub const BUSINESS_TIME_ZONE: &str = "BUSINESS_TIME_ZONE";
