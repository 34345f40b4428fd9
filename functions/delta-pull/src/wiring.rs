//! Builds the pull from its configuration and one AWS configuration: the Lambda binary,
//! the local stack and `bridgectl sync pull` wire it the same way. The intake is built
//! without signing secrets: pulled changes are authenticated by the pull's own token.

use crate::http::HttpChanges;
use crate::{DeltaPull, PullPorts, PullSettings};
use bridge_aws::{DynamoFreshnessStore, DynamoPullStateStore, SqsQueue, load_secret_string};
use bridge_domain::Route;
use bridge_lambda::{Config, Failure, Function, Handler, InitError};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use webhook_intake::IntakeSettings;

pub const PULL_STATE_TABLE: &str = "PULL_STATE_TABLE";

/// The dead-letter queue variable for changes of each route the ERP may list.
pub const DEAD_LETTER_QUEUES: [(Route, &str); 3] = [
    (Route::StockPrice, "STOCK_PRICE_DLQ_URL"),
    (Route::Customers, "CUSTOMER_DLQ_URL"),
    (Route::OrderStatus, "ORDER_STATUS_DLQ_URL"),
];

pub fn settings(config: &Config) -> anyhow::Result<PullSettings> {
    let types: Vec<String> = config
        .optional("PULL_TYPES")
        .unwrap_or_else(|| "stock,price,customer".to_string())
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if types.is_empty() {
        anyhow::bail!("PULL_TYPES names no type");
    }
    Ok(PullSettings {
        name: config
            .optional("PULL_NAME")
            .unwrap_or_else(|| "erp".to_string()),
        types,
        page_limit: config.parsed("PULL_PAGE_LIMIT", 500)?,
        max_pages: config.parsed("PULL_MAX_PAGES", 50)?,
        max_throttle_waits: config.parsed("PULL_MAX_THROTTLE_WAITS", 5)?,
        max_retry_after: Duration::from_secs(config.parsed("PULL_MAX_RETRY_AFTER_SECONDS", 60)?),
        transient_retries: config.parsed("PULL_TRANSIENT_RETRIES", 2)?,
        safety_margin: Duration::from_secs(config.parsed("SAFETY_MARGIN_SECONDS", 20)?),
        dead_letter_queues: DEAD_LETTER_QUEUES
            .iter()
            .map(|(route, variable)| Ok((*route, config.required(variable)?)))
            .collect::<Result<HashMap<_, _>, bridge_lambda::ConfigError>>()?,
    })
}

/// What needs no network, checked at init: a misconfigured function fails there.
pub fn check(config: &Config) -> anyhow::Result<()> {
    settings(config)?;
    for variable in [
        "ERP_TOKEN_SECRET_ID",
        "ERP_BASE_URL",
        PULL_STATE_TABLE,
        "FRESHNESS_TABLE",
    ] {
        config.required(variable)?;
    }
    let intake = IntakeSettings::for_handover(config)?;
    intake.require_queues(&[Route::StockPrice, Route::Customers])?;
    if intake.sources.sender(crate::PULL_SOURCE).is_none() {
        anyhow::bail!(
            "the delta pull hands changes to the intake as source {}, which WEBHOOK_SOURCES does not configure",
            crate::PULL_SOURCE
        );
    }
    Ok(())
}

pub async fn build(config: &Config, aws: &aws_config::SdkConfig) -> anyhow::Result<DeltaPull> {
    let settings = settings(config)?;
    let token = load_secret_string(
        &bridge_aws::secrets_client(aws),
        &config.required("ERP_TOKEN_SECRET_ID")?,
    )
    .await?;
    let erp = HttpChanges::new(
        &config.required("ERP_BASE_URL")?,
        token.trim(),
        Duration::from_secs(config.parsed("ERP_TIMEOUT_SECONDS", 10)?),
    )?;
    let dynamo = bridge_aws::dynamodb_client(aws);
    let queue = Arc::new(SqsQueue::new(bridge_aws::sqs_client(aws)));
    let intake = webhook_intake::wiring::build_for_handover(config, aws)?;
    let ports = PullPorts {
        erp: Arc::new(erp),
        state: Arc::new(DynamoPullStateStore::new(
            dynamo.clone(),
            config.required(PULL_STATE_TABLE)?,
        )),
        intake: Arc::new(intake),
        queue,
        freshness: Arc::new(DynamoFreshnessStore::new(
            dynamo,
            config.required("FRESHNESS_TABLE")?,
        )),
    };
    Ok(DeltaPull::new(settings, ports))
}

#[async_trait::async_trait]
impl Handler for DeltaPull {
    /// Each scheduled invocation is one run, up to the invocation's deadline.
    async fn on_schedule(&self, deadline: Instant) -> Result<Value, Failure> {
        let summary = self.run(deadline, &mut |_| {}).await?;
        Ok(json!({
            "pages": summary.pages,
            "changes": summary.changes,
            "accepted": summary.accepted,
            "duplicates": summary.duplicates,
            "rejected": summary.rejected,
            "cursor": summary.cursor,
        }))
    }
}

#[async_trait::async_trait]
impl Function for DeltaPull {
    const NAME: &'static str = crate::FUNCTION_NAME;

    fn check(config: &Config) -> Result<(), InitError> {
        Ok(check(config)?)
    }

    /// The ERP token is read here, in the background from init on.
    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError> {
        Ok(build(config, aws).await?)
    }
}
