//! The function contract: what every Lambda function of the bridge is, so that its binary,
//! the local stack, the cold-start bench and the template tests treat all of them alike.
//!
//! A function checks its configuration at init (what needs no network: a misconfigured
//! function fails its init, not its first event), builds its clients once per cold start
//! (in the background from init on, see [`Prefetch`]) and handles the events its template
//! wires to it: SQS batches (S3 notifications reach the functions through queues),
//! DynamoDB stream batches, schedules and HTTP API requests. Every failure leaves it as one [`Failure`], which Lambda
//! records as `Retryable.<Kind>` or `Permanent.<Kind>`.

use crate::{Config, Prefetch};
use async_trait::async_trait;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bridge_domain::error::cause_chain;
use bridge_domain::{ErrorClass, PortError};
use futures::future::BoxFuture;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Why a function could not start: its configuration, its secrets, its clients.
pub type InitError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error a handler can end with: whether a retry can succeed, and a stable name.
pub trait Classified: std::error::Error + Send + Sync + 'static {
    fn class(&self) -> ErrorClass;
    /// The part of Lambda's error type after the class (`BatchFailed`, `PullFailed`...).
    fn kind(&self) -> &'static str;
}

impl Classified for PortError {
    fn class(&self) -> ErrorClass {
        self.class
    }
    fn kind(&self) -> &'static str {
        "PortFailed"
    }
}

impl Classified for crate::batch::BatchFailed {
    fn class(&self) -> ErrorClass {
        // Lambda retries the whole batch; its messages were not settled.
        ErrorClass::Retryable
    }
    fn kind(&self) -> &'static str {
        "BatchFailed"
    }
}

/// A failed invocation as Lambda records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    pub kind: &'static str,
    /// The error with its causes.
    pub message: String,
}

impl Failure {
    pub fn new(class: ErrorClass, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            class,
            kind,
            message: message.into(),
        }
    }

    /// The event is of a kind the function's template does not wire to it.
    fn unsupported(event: &str) -> Self {
        Self::new(
            ErrorClass::Permanent,
            "UnsupportedEvent",
            format!("this function handles no {event}"),
        )
    }

    /// Lambda's error type: `Retryable.BatchFailed`, `Permanent.MalformedEvent`...
    pub fn error_type(&self) -> String {
        let class = match self.class {
            ErrorClass::Retryable => "Retryable",
            ErrorClass::Permanent => "Permanent",
        };
        format!("{class}.{}", self.kind)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type(), self.message)
    }
}

impl<E: Classified> From<E> for Failure {
    fn from(err: E) -> Self {
        Self::new(err.class(), err.kind(), cause_chain(&err))
    }
}

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Self {
        Diagnostic {
            error_type: failure.error_type(),
            error_message: failure.message,
        }
    }
}

/// The events a function handles. Each default refuses the event: a function handles only
/// what its template wires to it.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// One SQS batch, answered with the messages that failed (partial batch response).
    async fn on_batch(
        &self,
        _event: SqsEvent,
        _deadline: Instant,
    ) -> Result<SqsBatchResponse, Failure> {
        Err(Failure::unsupported("SQS batch"))
    }

    /// One batch of a DynamoDB stream's records, in the shard's order, answered with the
    /// first record that failed (Lambda retries the shard from there).
    async fn on_stream(
        &self,
        _event: StreamEvent,
        _deadline: Instant,
    ) -> Result<DynamoDbEventResponse, Failure> {
        Err(Failure::unsupported("DynamoDB stream batch"))
    }

    /// One scheduled run; the summary is the invocation's result.
    async fn on_schedule(&self, _deadline: Instant) -> Result<Value, Failure> {
        Err(Failure::unsupported("schedule"))
    }

    /// One HTTP API request (payload format 2.0).
    async fn on_http(
        &self,
        _request: ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, Failure> {
        Err(Failure::unsupported("HTTP request"))
    }
}

/// A function: its handlers, and how it starts.
#[async_trait]
pub trait Function: Handler + Sized {
    /// The binary's name: its folder under `functions/`, its `BuildProperties.Binary`.
    const NAME: &'static str;

    /// What needs no network, checked at init.
    fn check(config: &Config) -> Result<(), InitError>;

    /// Secrets and clients, once per cold start.
    async fn build(config: &Config, aws: &aws_config::SdkConfig) -> Result<Self, InitError>;
}

/// A function being built, as the registry hands it out.
pub type Building = BoxFuture<'static, Result<Arc<dyn Handler>, InitError>>;

/// One function in the registry: what the local stack, the bench and the template tests
/// need to find, check and build it without naming its type.
#[derive(Clone, Copy)]
pub struct Registration {
    pub name: &'static str,
    pub check: fn(&Config) -> Result<(), InitError>,
    pub build: fn(Config, aws_config::SdkConfig) -> Building,
}

impl Registration {
    pub const fn of<F: Function>() -> Self {
        Self {
            name: F::NAME,
            check: F::check,
            build: build_shared::<F>,
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn build_shared<F: Function>(config: Config, aws: aws_config::SdkConfig) -> Building {
    Box::pin(async move { Ok(Arc::new(F::build(&config, &aws).await?) as Arc<dyn Handler>) })
}

/// An invocation's event, told apart by its shape.
#[derive(Debug)]
pub enum Invocation {
    Batch(SqsEvent),
    Stream(StreamEvent),
    Http(Box<ApiGatewayV2httpRequest>),
    /// An EventBridge schedule (or any other event: a manual invoke runs the schedule).
    Schedule,
}

impl Invocation {
    pub fn from_event(event: Value) -> Result<Self, Failure> {
        let malformed = |what: &str, err: serde_json::Error| {
            Failure::new(
                ErrorClass::Permanent,
                "MalformedEvent",
                format!("{what}: {err}"),
            )
        };
        let first_source = event
            .pointer("/Records/0/eventSource")
            .and_then(Value::as_str);
        if first_source == Some("aws:dynamodb") {
            return serde_json::from_value(event)
                .map(Invocation::Stream)
                .map_err(|e| malformed("a DynamoDB stream event", e));
        }
        if event.get("Records").is_some() {
            return serde_json::from_value(event)
                .map(Invocation::Batch)
                .map_err(|e| malformed("an SQS event", e));
        }
        if event.get("requestContext").is_some() && event.get("rawPath").is_some() {
            return serde_json::from_value(event)
                .map(|request| Invocation::Http(Box::new(request)))
                .map_err(|e| malformed("an HTTP API request", e));
        }
        Ok(Invocation::Schedule)
    }
}

/// `value` as an invocation's JSON result.
pub fn json_result(value: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|e| {
        Failure::new(
            ErrorClass::Permanent,
            "ResponseNotSerializable",
            e.to_string(),
        )
    })
}

/// Hands one invocation to `handler`; the result is the JSON Lambda returns.
pub async fn invoke(
    handler: &dyn Handler,
    event: Value,
    deadline: Instant,
) -> Result<Value, Failure> {
    match Invocation::from_event(event)? {
        Invocation::Batch(event) => json_result(handler.on_batch(event, deadline).await?),
        Invocation::Stream(event) => json_result(handler.on_stream(event, deadline).await?),
        Invocation::Http(request) => json_result(handler.on_http(*request).await?),
        Invocation::Schedule => handler.on_schedule(deadline).await,
    }
}

/// The whole `main` of a function binary: logs, the configuration checked, the AWS
/// configuration loaded, the function built in the background, and Lambda's runtime loop.
pub async fn run<F: Function>() -> Result<(), lambda_runtime::Error> {
    crate::logging::init();
    let config = Config::from_env();
    if let Err(err) = F::check(&config) {
        tracing::error!(function = F::NAME, error = %cause_chain(&*err), "the configuration check failed; the function does not start");
        return Err(err);
    }
    let aws = bridge_aws::load_function_config().await;
    let function = Prefetch::start(move || {
        let (config, aws) = (config.clone(), aws.clone());
        async move { F::build(&config, &aws).await.map_err(|e| cause_chain(&*e)) }
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let function = &function;
        async move {
            let function = function.get().await.map_err(|message| {
                // The next invocation builds again (a secret briefly unreadable).
                Failure::new(ErrorClass::Retryable, "Wiring", message.clone())
            })?;
            let remaining = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            invoke(function, event.payload, Instant::now() + remaining)
                .await
                .map_err(Diagnostic::from)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct ScheduleOnly;

    #[async_trait]
    impl Handler for ScheduleOnly {
        async fn on_schedule(&self, _deadline: Instant) -> Result<Value, Failure> {
            Err(PortError::retryable("scan", "throttled").into())
        }
    }

    #[tokio::test]
    async fn events_reach_their_handler_and_failures_keep_their_class() {
        let now = Instant::now();
        let failure = invoke(&ScheduleOnly, json!({"source": "aws.scheduler"}), now)
            .await
            .unwrap_err();
        assert_eq!(failure.error_type(), "Retryable.PortFailed");
        assert!(failure.message.contains("throttled"), "{failure}");

        let batch = json!({"Records": [{"messageId": "m1", "body": "{}"}]});
        let failure = invoke(&ScheduleOnly, batch, now).await.unwrap_err();
        assert_eq!(failure.error_type(), "Permanent.UnsupportedEvent");
        assert_eq!(failure.message, "this function handles no SQS batch");

        let request = json!({"version": "2.0", "rawPath": "/x", "requestContext": {"http": {"method": "GET"}}});
        let failure = invoke(&ScheduleOnly, request, now).await.unwrap_err();
        assert_eq!(failure.error_type(), "Permanent.UnsupportedEvent");

        let stream = json!({"Records": [{"eventID": "e1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "awsRegion": "eu-central-1", "dynamodb": {"Keys": {"sku": {"S": "A"}}, "SequenceNumber": "1",
            "StreamViewType": "NEW_AND_OLD_IMAGES", "SizeBytes": 10}}]});
        let failure = invoke(&ScheduleOnly, stream, now).await.unwrap_err();
        assert_eq!(
            failure.message,
            "this function handles no DynamoDB stream batch"
        );

        let broken = json!({"Records": "not a list"});
        let failure = invoke(&ScheduleOnly, broken, now).await.unwrap_err();
        assert_eq!(failure.error_type(), "Permanent.MalformedEvent");
        let diagnostic = Diagnostic::from(failure);
        assert_eq!(diagnostic.error_type, "Permanent.MalformedEvent");
    }
}
