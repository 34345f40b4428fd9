//! A minimal Lambda runtime API (2018-06-01): hands out the given events one by one and
//! records what the function posts back, so a function binary can be run as Lambda runs it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error(Value),
    InitError(Value),
}

#[derive(Default)]
struct Shared {
    pending: Mutex<VecDeque<(String, Value)>>,
    outcomes: Mutex<Vec<(String, Outcome)>>,
    /// When the function first asked for an invocation (its init ended) and when each
    /// outcome arrived: what a cold-start measurement reads.
    first_next_at: Mutex<Option<Instant>>,
    outcome_times: Mutex<Vec<Instant>>,
    changed: Notify,
}

pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    pub async fn start(events: Vec<Value>) -> Self {
        let shared = Arc::new(Shared::default());
        shared.pending.lock().unwrap().extend(
            events
                .into_iter()
                .enumerate()
                .map(|(i, e)| (format!("request-{i}"), e)),
        );
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { address, shared }
    }

    /// When the function first asked for its next invocation: the end of its init.
    pub fn first_next_at(&self) -> Option<Instant> {
        *self.shared.first_next_at.lock().unwrap()
    }

    /// When each outcome was posted, in arrival order.
    pub fn outcome_times(&self) -> Vec<Instant> {
        self.shared.outcome_times.lock().unwrap().clone()
    }

    /// Waits until `count` invocations have an outcome (or the init failed).
    pub async fn outcomes(&self, count: usize, timeout: std::time::Duration) -> Vec<Outcome> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            {
                let outcomes = self.shared.outcomes.lock().unwrap();
                let init_failed = outcomes
                    .iter()
                    .any(|(_, o)| matches!(o, Outcome::InitError(_)));
                if outcomes.len() >= count || init_failed {
                    return outcomes.iter().map(|(_, o)| o.clone()).collect();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("the function did not answer {count} invocations in time");
            }
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> (StatusCode, HeaderMap, String) {
    shared
        .first_next_at
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    loop {
        let notified = shared.changed.notified();
        if let Some((id, event)) = shared.pending.lock().unwrap().pop_front() {
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:test"
                    .parse()
                    .unwrap(),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".parse().unwrap(),
            );
            return (StatusCode::OK, headers, event.to_string());
        }
        // No more events: hold the request as Lambda does between invocations.
        notified.await;
    }
}

fn record(shared: &Shared, id: String, outcome: Outcome) -> StatusCode {
    shared.outcome_times.lock().unwrap().push(Instant::now());
    shared.outcomes.lock().unwrap().push((id, outcome));
    shared.changed.notify_waiters();
    StatusCode::ACCEPTED
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::String(body.to_string()))
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    record(&shared, id, Outcome::Response(parse(&body)))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    record(&shared, id, Outcome::Error(parse(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: String) -> StatusCode {
    record(&shared, "init".into(), Outcome::InitError(parse(&body)))
}

/// The environment `lambda_runtime` expects beside `AWS_LAMBDA_RUNTIME_API`.
pub fn lambda_environment(api: &RuntimeApi, function: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.address.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_string()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "test".to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Starts a function binary as Lambda would: the runtime API address, the function's
/// environment, and AWS settings pointing at the emulator.
pub fn spawn_function(
    binary: &str,
    api: &RuntimeApi,
    function: &str,
    environment: std::collections::HashMap<String, String>,
) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .envs(environment)
        .envs(lambda_environment(api, function))
        .env("AWS_ENDPOINT_URL", crate::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", crate::REGION)
        .kill_on_drop(true)
        .spawn()
        .expect("the function binary starts")
}
