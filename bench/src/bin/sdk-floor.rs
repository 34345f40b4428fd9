//! Cold-start baseline: loads the AWS configuration and builds the SDK clients a function
//! builds (`FLOOR_CLIENTS`, e.g. `sqs,dynamodb,s3`), then answers its event and does
//! nothing else. `FLOOR_CONFIG=sdk-defaults` builds them as the SDK's defaults do (the
//! "before"); `project` (default) as `bridge-aws` builds them for the functions.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let clients = std::env::var("FLOOR_CLIENTS").unwrap_or_default();
    let defaults = std::env::var("FLOOR_CONFIG").is_ok_and(|v| v == "sdk-defaults");
    let aws = if defaults {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await
    } else {
        bridge_aws::load_function_config().await
    };
    let mut built: Vec<Box<dyn std::any::Any>> = Vec::new();
    for client in clients.split(',').filter(|c| !c.is_empty()) {
        built.push(match (client, defaults) {
            ("sqs", true) => Box::new(aws_sdk_sqs::Client::new(&aws)),
            ("sqs", false) => Box::new(bridge_aws::sqs_client(&aws)),
            ("dynamodb", true) => Box::new(aws_sdk_dynamodb::Client::new(&aws)),
            ("dynamodb", false) => Box::new(bridge_aws::dynamodb_client(&aws)),
            ("secretsmanager", true) => Box::new(aws_sdk_secretsmanager::Client::new(&aws)),
            ("secretsmanager", false) => Box::new(bridge_aws::secrets_client(&aws)),
            ("s3", true) => Box::new(aws_sdk_s3::Client::new(&aws)),
            ("s3", false) => Box::new(bridge_aws::s3_client(&aws)),
            (other, _) => return Err(format!("FLOOR_CLIENTS: unknown client {other}").into()),
        });
    }
    std::hint::black_box(&built);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
