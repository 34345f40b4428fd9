//! The intake's settings, read once per cold start.

use bridge_contract::SigningSecret;
use bridge_domain::{Route, Source, Sources};
use bridge_lambda::{Config, ConfigError};
use std::collections::HashMap;

/// Environment variable of each route's queue URL.
pub fn queue_variable(route: Route) -> &'static str {
    match route {
        Route::StockPrice => "STOCK_PRICE_QUEUE_URL",
        Route::Customers => "CUSTOMER_QUEUE_URL",
        Route::OrderStatus => "ORDER_STATUS_QUEUE_URL",
        Route::OrdersPlaced => "ORDER_PLACED_QUEUE_URL",
        Route::Returns => "RETURN_QUEUE_URL",
        Route::Payments => "PAYMENT_QUEUE_URL",
        Route::Leads => "LEAD_QUEUE_URL",
    }
}

pub const RECEIPT_TABLE: &str = "RECEIPT_TABLE";
pub const PAYLOAD_BUCKET: &str = "PAYLOAD_BUCKET";
pub const WEBHOOK_SECRET_ID: &str = "WEBHOOK_SECRET_ID";
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
pub const MAX_QUEUE_MESSAGE_BYTES: &str = "MAX_QUEUE_MESSAGE_BYTES";
pub const RECEIPT_RETENTION_DAYS: &str = "RECEIPT_RETENTION_DAYS";
/// Which sources exist and what each may send: `erp=stock.changed,...;shop=order.placed`
/// (default: the contract's two).
pub const WEBHOOK_SOURCES: &str = "WEBHOOK_SOURCES";

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
    /// Parses the secret's JSON: `{"erp": ["whsec_a", "whsec_b"], "shop": "whsec_c"}`, the
    /// entries of the configured `sources` (a new source brings its entry). Other keys are
    /// left alone: the deployed secret carries the generator's `unused` key, and an entry
    /// may be added before its source is configured.
    pub fn from_json(text: &str, sources: &Sources) -> Result<Self, SecretsError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SecretsError::Shape(e.to_string()))?;
        let object = value
            .as_object()
            .ok_or_else(|| SecretsError::Shape("the secret must be a JSON object".into()))?;
        let mut secrets = HashMap::new();
        for source in sources.names() {
            let entries: Vec<&str> = match object.get(source.as_str()) {
                None => Vec::new(),
                Some(serde_json::Value::String(s)) => vec![s.as_str()],
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .ok_or_else(|| SecretsError::Shape("entries must be strings".into()))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(SecretsError::Shape("entries must be strings".into())),
            };
            if entries.len() > 2 {
                return Err(SecretsError::Invalid {
                    origin: source.clone(),
                    reason: "at most two secrets may be active".into(),
                });
            }
            let parsed = entries
                .into_iter()
                .map(|e| {
                    SigningSecret::parse(e).map_err(|err| SecretsError::Invalid {
                        origin: source.clone(),
                        reason: err.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            secrets.insert(source.clone(), parsed);
        }
        Ok(Self(secrets))
    }

    pub fn for_source(&self, source: &Source) -> &[SigningSecret] {
        self.0.get(source).map(Vec::as_slice).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct IntakeSettings {
    pub secrets: SigningSecrets,
    pub sources: Sources,
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
    /// Every route the configured sources can send to needs its queue.
    pub fn from_config(config: &Config, secrets: SigningSecrets) -> Result<Self, ConfigError> {
        let sources = Self::sources(config)?;
        let mut routes: Vec<Route> = sources
            .names()
            .filter_map(|name| sources.sender(name.as_str()))
            .flat_map(|sender| {
                sender
                    .may_send
                    .iter()
                    .map(|t| t.route())
                    .collect::<Vec<_>>()
            })
            .collect();
        routes.sort_by_key(|r| r.as_str());
        routes.dedup();
        let queues = routes
            .into_iter()
            .map(|route| Ok((route, config.required(queue_variable(route))?)))
            .collect::<Result<_, ConfigError>>()?;
        Self::with_queues(config, secrets, sources, queues)
    }

    /// A function that hands its own events to the intake (the delta pull, the shop's
    /// orders, the document inbox): the queues its environment names, which are those of
    /// what it hands over; an event for another route is refused by name.
    pub fn for_handover(config: &Config) -> Result<Self, ConfigError> {
        let queues = Route::ALL
            .into_iter()
            .filter_map(|route| Some((route, config.optional(queue_variable(route))?)))
            .collect();
        Self::with_queues(
            config,
            SigningSecrets::default(),
            Self::sources(config)?,
            queues,
        )
    }

    fn with_queues(
        config: &Config,
        secrets: SigningSecrets,
        sources: Sources,
        queues: HashMap<Route, String>,
    ) -> Result<Self, ConfigError> {
        config.apply_business_time_zone()?;
        Ok(Self {
            secrets,
            sources,
            queues,
            receipt_table: config.required(RECEIPT_TABLE)?,
            payload_bucket: config.required(PAYLOAD_BUCKET)?,
            max_body_bytes: config.parsed(MAX_BODY_BYTES, 5 * 1024 * 1024)?,
            max_message_bytes: config.parsed(MAX_QUEUE_MESSAGE_BYTES, 262_144)?,
            receipt_retention_seconds: config.parsed::<i64>(RECEIPT_RETENTION_DAYS, 7)? * 86_400,
        })
    }

    /// The configured sources (`WEBHOOK_SOURCES`), the contract's two when unset.
    pub fn sources(config: &Config) -> Result<Sources, ConfigError> {
        match config.optional(WEBHOOK_SOURCES) {
            None => Ok(Sources::contract()),
            Some(spec) => Sources::parse(&spec).map_err(|e| ConfigError::Invalid {
                name: WEBHOOK_SOURCES.to_string(),
                message: e.message,
            }),
        }
    }

    pub fn secrets_for(&self, source: &Source) -> &[SigningSecret] {
        self.secrets.for_source(source)
    }

    /// Configured sources the secrets have no entry for: every request from them is refused.
    pub fn sources_without_secrets(&self) -> Vec<Source> {
        self.sources
            .names()
            .filter(|source| self.secrets.for_source(source).is_empty())
            .cloned()
            .collect()
    }

    /// A handover's check at init: the queues of what it hands over are configured.
    pub fn require_queues(&self, routes: &[Route]) -> Result<(), ConfigError> {
        for route in routes {
            if !self.queues.contains_key(route) {
                return Err(ConfigError::Missing(queue_variable(*route).to_string()));
            }
        }
        Ok(())
    }

    pub fn queue_for(&self, route: Route) -> Option<&str> {
        self.queues.get(&route).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_parse_per_source_with_rotation() {
        let a = SigningSecret::from_bytes([1; 32]).to_whsec();
        let b = SigningSecret::from_bytes([2; 32]).to_whsec();
        let secrets = SigningSecrets::from_json(
            &format!(r#"{{"erp": ["{a}", "{b}"], "shop": "{a}"}}"#),
            &Sources::contract(),
        )
        .unwrap();
        assert_eq!(secrets.for_source(&Source::erp()).len(), 2);
        assert_eq!(secrets.for_source(&Source::shop()).len(), 1);
    }

    #[test]
    fn a_configured_source_has_its_own_secret_entry() {
        let a = SigningSecret::from_bytes([1; 32]).to_whsec();
        let sources = Sources::parse("erp=stock.changed;logistics=order.status_changed").unwrap();
        // The deployed secret as CloudFormation generates it carries a key of its own.
        let text =
            format!(r#"{{"erp": "{a}", "logistics": ["{a}"], "unused": "Xy12", "crm": "x"}}"#);
        let secrets = SigningSecrets::from_json(&text, &sources).unwrap();
        let logistics = Source::parse("logistics").unwrap();
        assert_eq!(secrets.for_source(&logistics).len(), 1);
        assert_eq!(secrets.for_source(&Source::shop()).len(), 0);
        let err = SigningSecrets::from_json(r#"{"logistics": "short"}"#, &sources).unwrap_err();
        assert!(err.to_string().contains("logistics"), "{err}");
    }

    #[test]
    fn sources_come_from_configuration_and_bad_ones_stop_the_start() {
        let mut env: HashMap<String, String> = Route::ALL
            .into_iter()
            .map(|r| (queue_variable(r).to_string(), format!("q-{}", r.as_str())))
            .collect();
        env.insert(RECEIPT_TABLE.into(), "receipts".into());
        env.insert(PAYLOAD_BUCKET.into(), "payloads".into());
        let settings =
            IntakeSettings::from_config(&Config::from_map(env.clone()), SigningSecrets::default())
                .unwrap();
        assert_eq!(settings.sources, Sources::contract());
        assert_eq!(settings.sources_without_secrets().len(), 5);

        env.insert(
            WEBHOOK_SOURCES.into(),
            "erp=stock.changed;psp=price.changed".into(),
        );
        let settings =
            IntakeSettings::from_config(&Config::from_map(env.clone()), SigningSecrets::default())
                .unwrap();
        assert!(settings.sources.sender("psp").is_some());
        assert!(settings.sources.sender("shop").is_none());

        env.insert(WEBHOOK_SOURCES.into(), "erp=stock.chnged".into());
        let err = IntakeSettings::from_config(&Config::from_map(env), SigningSecrets::default())
            .unwrap_err();
        assert!(err.to_string().contains(WEBHOOK_SOURCES), "{err}");
    }

    #[test]
    fn a_malformed_secret_is_refused_with_its_source() {
        let contract = Sources::contract();
        let err = SigningSecrets::from_json(r#"{"erp": ["whsec_short"]}"#, &contract).unwrap_err();
        assert!(err.to_string().contains("erp"), "{err}");
        assert!(SigningSecrets::from_json("not json", &contract).is_err());
    }
}
