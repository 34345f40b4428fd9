//! The intake's settings, read once per cold start.

use bridge_contract::SigningSecret;
use bridge_domain::{Route, Source};
use bridge_lambda::{Config, ConfigError};
use std::collections::HashMap;

/// Environment variable of each route's queue URL.
pub fn queue_variable(route: Route) -> &'static str {
    match route {
        Route::StockPrice => "STOCK_PRICE_QUEUE_URL",
        Route::Customers => "CUSTOMER_QUEUE_URL",
        Route::OrderStatus => "ORDER_STATUS_QUEUE_URL",
        Route::OrdersPlaced => "ORDER_PLACED_QUEUE_URL",
    }
}

pub const RECEIPT_TABLE: &str = "RECEIPT_TABLE";
pub const PAYLOAD_BUCKET: &str = "PAYLOAD_BUCKET";
pub const WEBHOOK_SECRET_ID: &str = "WEBHOOK_SECRET_ID";
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
pub const MAX_QUEUE_MESSAGE_BYTES: &str = "MAX_QUEUE_MESSAGE_BYTES";
pub const RECEIPT_RETENTION_DAYS: &str = "RECEIPT_RETENTION_DAYS";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "the webhook secret is not JSON of the form {{\"erp\": [\"whsec_...\"], \"shop\": [\"whsec_...\"]}}: {0}"
    )]
    Shape(String),
    #[error("the webhook secret for {origin} is invalid: {reason}")]
    Invalid { origin: Source, reason: String },
}

/// Per-source signing secrets, one or two each (two while rotating).
#[derive(Debug, Clone, Default)]
pub struct SigningSecrets(HashMap<Source, Vec<SigningSecret>>);

impl SigningSecrets {
    /// Parses the secret's JSON: `{"erp": ["whsec_a", "whsec_b"], "shop": "whsec_c"}`.
    pub fn from_json(text: &str) -> Result<Self, SecretsError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SecretsError::Shape(e.to_string()))?;
        let mut secrets = HashMap::new();
        for source in Source::ALL {
            let entries: Vec<&str> = match value.get(source.as_str()) {
                None => Vec::new(),
                Some(serde_json::Value::String(s)) => vec![s.as_str()],
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .ok_or_else(|| SecretsError::Shape("entries must be strings".into()))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(SecretsError::Shape("entries must be strings".into())),
            };
            if entries.len() > 2 {
                return Err(SecretsError::Invalid {
                    origin: source,
                    reason: "at most two secrets may be active".into(),
                });
            }
            let parsed = entries
                .into_iter()
                .map(|e| {
                    SigningSecret::parse(e).map_err(|err| SecretsError::Invalid {
                        origin: source,
                        reason: err.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            secrets.insert(source, parsed);
        }
        Ok(Self(secrets))
    }

    pub fn for_source(&self, source: Source) -> &[SigningSecret] {
        self.0.get(&source).map(Vec::as_slice).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct IntakeSettings {
    pub secrets: SigningSecrets,
    pub queues: HashMap<Route, String>,
    pub receipt_table: String,
    pub payload_bucket: String,
    /// Largest body accepted (413 above).
    pub max_body_bytes: usize,
    /// The queues' MaximumMessageSize: larger events travel as claim checks.
    pub max_message_bytes: usize,
    pub receipt_retention_seconds: i64,
}

impl IntakeSettings {
    /// Everything but the secrets, which the caller loads from Secrets Manager.
    pub fn from_config(config: &Config, secrets: SigningSecrets) -> Result<Self, ConfigError> {
        config.apply_business_time_zone()?;
        let queues = Route::ALL
            .into_iter()
            .map(|route| Ok((route, config.required(queue_variable(route))?)))
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            secrets,
            queues,
            receipt_table: config.required(RECEIPT_TABLE)?,
            payload_bucket: config.required(PAYLOAD_BUCKET)?,
            max_body_bytes: config.parsed(MAX_BODY_BYTES, 5 * 1024 * 1024)?,
            max_message_bytes: config.parsed(MAX_QUEUE_MESSAGE_BYTES, 262_144)?,
            receipt_retention_seconds: config.parsed::<i64>(RECEIPT_RETENTION_DAYS, 7)? * 86_400,
        })
    }

    pub fn secrets_for(&self, source: Source) -> &[SigningSecret] {
        self.secrets.for_source(source)
    }

    pub fn queue_for(&self, route: Route) -> &str {
        &self.queues[&route]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_parse_per_source_with_rotation() {
        let a = SigningSecret::from_bytes([1; 32]).to_whsec();
        let b = SigningSecret::from_bytes([2; 32]).to_whsec();
        let secrets =
            SigningSecrets::from_json(&format!(r#"{{"erp": ["{a}", "{b}"], "shop": "{a}"}}"#))
                .unwrap();
        assert_eq!(secrets.for_source(Source::Erp).len(), 2);
        assert_eq!(secrets.for_source(Source::Shop).len(), 1);
    }

    #[test]
    fn a_malformed_secret_is_refused_with_its_source() {
        let err = SigningSecrets::from_json(r#"{"erp": ["whsec_short"]}"#).unwrap_err();
        assert!(err.to_string().contains("erp"), "{err}");
        assert!(SigningSecrets::from_json("not json").is_err());
    }
}
