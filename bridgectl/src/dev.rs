//! The local stack: the moto server, the template's resources created on it, every
//! function running in-process and wired to its queues as the template's event sources
//! say, and the webhook intake served over HTTP.

use crate::stackfile::StackFile;
use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use bridge_contract::SigningSecret;
use bridge_domain::Source;
use bridge_infra::provision::QueueInfo;
use bridge_infra::{MotoServer, Stack, Template};
use bridge_lambda::Config;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use webhook_intake::{Intake, IntakeRequest};

pub struct DevOptions {
    /// Repository root (holds template.yaml and scripts/).
    pub root: PathBuf,
    /// An AWS endpoint to use instead of starting a moto server.
    pub endpoint: Option<String>,
    /// Port of the webhook server; 0 picks a free one.
    pub port: u16,
    pub region: String,
    /// Prefix of every resource name.
    pub stack_name: String,
    /// Where the stack file goes.
    pub stack_file: PathBuf,
    /// How often the delta pull runs (its schedule is hourly when deployed); `None`: only
    /// when asked (`bridgectl sync pull`, the demo).
    pub pull_every: Option<Duration>,
    /// Environment set on every function on top of the template's (tests shorten timeouts).
    pub overrides: BTreeMap<String, String>,
    /// Invocations killed at random (the chaos test).
    pub chaos: Option<Chaos>,
    /// How often the order schedule runs (release, resume, reconcile; every five minutes
    /// when deployed).
    pub order_schedule_every: Duration,
    /// The queues' visibility timeout instead of the template's (tests: a killed or failed
    /// invocation's messages come back in seconds). It is set on the queue itself, so a
    /// handler's own backoff still decides, as on Lambda.
    pub queue_visibility_seconds: Option<i32>,
}

/// Kills a share of the SQS invocations part-way: the handler's future is dropped at a
/// random point, as a crashed or timed-out Lambda stops, and its batch comes back after the
/// visibility delay with nothing deleted.
#[derive(Clone, Debug)]
pub struct Chaos {
    pub kill_share: f64,
    /// The longest an invocation runs before it is killed.
    pub max_run_before_kill: Duration,
    pub kills: Arc<std::sync::atomic::AtomicU64>,
}

impl Chaos {
    pub fn new(kill_share: f64, max_run_before_kill: Duration) -> Self {
        Self {
            kill_share,
            max_run_before_kill,
            kills: Arc::default(),
        }
    }

    pub fn kills(&self) -> u64 {
        self.kills.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl DevOptions {
    pub fn new(root: PathBuf) -> Self {
        let suffix: u32 = rand::random::<u32>() % 0x10000;
        Self {
            stack_file: StackFile::default_path(&root),
            root,
            endpoint: None,
            port: 0,
            region: "us-east-1".to_string(),
            stack_name: format!("bridge-{suffix:04x}"),
            pull_every: Some(Duration::from_secs(
                std::env::var("BRIDGE_PULL_INTERVAL_SECONDS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(60),
            )),
            overrides: BTreeMap::new(),
            chaos: None,
            order_schedule_every: Duration::from_secs(10),
            queue_visibility_seconds: None,
        }
    }
}

/// Handles one SQS batch the way the function's Lambda handler does.
type BatchHandler = Arc<
    dyn Fn(SqsEvent) -> Pin<Box<dyn Future<Output = Result<SqsBatchResponse, String>> + Send>>
        + Send
        + Sync,
>;

pub struct LocalStack {
    pub info: StackFile,
    pub sdk: aws_config::SdkConfig,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _moto: Option<MotoServer>,
    /// The bundled ERP simulator, unless `ERP_BASE_URL` names another ERP.
    pub erp: Option<erp_simulator::Simulator>,
}

impl LocalStack {
    pub async fn start(options: DevOptions) -> anyhow::Result<Self> {
        let local = options.root.join(".local");
        std::fs::create_dir_all(&local)?;
        let moto = match &options.endpoint {
            Some(_) => None,
            None => {
                let venv = bridge_infra::moto::ensure_venv(&options.root)?;
                Some(MotoServer::start(&venv, None, &local.join("moto.log"))?)
            }
        };
        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| moto.as_ref().map(|m| m.endpoint.clone()))
            .expect("an endpoint either way");
        let sdk = bridge_infra::local_sdk_config(&endpoint, &options.region).await;
        let template = Template::load(&options.root.join("template.yaml"))?;
        let functions = template.functions()?;

        // Fresh signing secrets for every configured source (the intake's WEBHOOK_SOURCES as
        // overridden, else the template's default), stored where the deployed intake reads
        // them: Secrets Manager.
        let variable = webhook_intake::config::WEBHOOK_SOURCES;
        let spec = options
            .overrides
            .get(variable)
            .or_else(|| template.parameters.get("WebhookSources"))
            .map(|spec| (variable.to_string(), spec.clone()));
        let sources =
            webhook_intake::IntakeSettings::sources(&Config::from_map(spec.into_iter().collect()))?;
        let signing: BTreeMap<String, Vec<String>> = sources
            .names()
            .map(|s| {
                (
                    s.as_str().to_string(),
                    vec![SigningSecret::from_bytes(rand::random()).to_whsec()],
                )
            })
            .collect();
        // The ERP: `ERP_BASE_URL` and `ERP_TOKEN` name one that speaks contract section 4;
        // otherwise the bundled simulator runs with a fresh token.
        let (erp, erp_base_url, erp_token) = match std::env::var("ERP_BASE_URL") {
            Ok(url) => (None, url, std::env::var("ERP_TOKEN").unwrap_or_default()),
            Err(_) => {
                let token = uuid::Uuid::new_v4().simple().to_string();
                let simulator = erp_simulator::Simulator::start(0, &token).await?;
                let url = simulator.base_url.clone();
                (Some(simulator), url, token)
            }
        };
        let secret_ref = |function: &bridge_infra::FunctionDef, variable: &str| {
            function
                .environment
                .get(variable)
                .and_then(|v| v.get("Ref"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let mut secret_values = BTreeMap::new();
        for function in &functions {
            if let Some(id) = secret_ref(function, webhook_intake::config::WEBHOOK_SECRET_ID) {
                secret_values.insert(id, serde_json::to_string(&signing)?);
            }
            if let Some(id) = secret_ref(function, "ERP_TOKEN_SECRET_ID") {
                secret_values.insert(id, erp_token.clone());
            }
        }
        let stack = Stack::provision(&template, &sdk, &options.stack_name, &secret_values)
            .await
            .context("creating the template's resources on the emulator")?;
        if let Some(seconds) = options.queue_visibility_seconds {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            for queue in stack.queues.values() {
                sqs.set_queue_attributes()
                    .queue_url(&queue.url)
                    .attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string())
                    .send()
                    .await
                    .with_context(|| format!("setting the visibility timeout of {}", queue.name))?;
            }
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut webhook_url = None;
        for function in &functions {
            let mut environment = stack.function_environment(function)?;
            environment.extend(options.overrides.clone());
            if environment.contains_key("ERP_BASE_URL") {
                environment.insert("ERP_BASE_URL".into(), erp_base_url.clone());
            }
            let config = Config::from_map(environment);
            match function.binary.as_str() {
                "webhook-intake" => {
                    let intake = Arc::new(webhook_intake::wiring::build(&config, &sdk).await?);
                    for path in &function.http_paths {
                        let (url, task) =
                            serve_intake(intake.clone(), path, options.port, shutdown_rx.clone())
                                .await?;
                        webhook_url = Some(url);
                        tasks.push(task);
                    }
                }
                "price-stock-sync" => {
                    let sync = Arc::new(price_stock_sync::wiring::build(&config, &sdk)?);
                    let handler: BatchHandler = Arc::new(move |event| {
                        let sync = sync.clone();
                        Box::pin(async move {
                            sync.handle_batch(event).await.map_err(|e| e.to_string())
                        })
                    });
                    tasks.extend(wire_queues(
                        &stack,
                        function,
                        &sdk,
                        &options.region,
                        handler,
                        &shutdown_rx,
                        options.chaos.clone(),
                    )?);
                }
                "pim-import" => {
                    let import = Arc::new(pim_import::wiring::build(&config, &sdk)?);
                    let timeout = Duration::from_secs(function.timeout_seconds);
                    let for_queue = import.clone();
                    let handler: BatchHandler = Arc::new(move |event| {
                        let import = for_queue.clone();
                        Box::pin(async move {
                            let deadline = std::time::Instant::now() + timeout;
                            import
                                .handle_sqs(event, deadline)
                                .await
                                .map_err(|e| e.to_string())
                        })
                    });
                    tasks.extend(wire_queues(
                        &stack,
                        function,
                        &sdk,
                        &options.region,
                        handler,
                        &shutdown_rx,
                        options.chaos.clone(),
                    )?);
                    if !function.schedules.is_empty() {
                        // The sweep, once a minute locally.
                        tasks.push(every(
                            Duration::from_secs(60),
                            shutdown_rx.clone(),
                            move || {
                                let import = import.clone();
                                async move {
                                    if let Err(err) = import.sweep().await {
                                        tracing::warn!(error = %err, "sweep failed");
                                    }
                                }
                            },
                        ));
                    }
                }
                "order-writeback" => {
                    let writeback = Arc::new(order_writeback::wiring::build(&config, &sdk).await?);
                    let for_queue = writeback.clone();
                    let handler: BatchHandler = Arc::new(move |event| {
                        let writeback = for_queue.clone();
                        Box::pin(async move {
                            writeback
                                .handle_batch(event)
                                .await
                                .map_err(|e| e.to_string())
                        })
                    });
                    tasks.extend(wire_queues(
                        &stack,
                        function,
                        &sdk,
                        &options.region,
                        handler,
                        &shutdown_rx,
                        options.chaos.clone(),
                    )?);
                    if !function.schedules.is_empty() {
                        // Every five minutes when deployed, every `order_schedule_every` here.
                        tasks.push(every(
                            options.order_schedule_every,
                            shutdown_rx.clone(),
                            move || {
                                let writeback = writeback.clone();
                                async move {
                                    if let Err(err) = writeback.scheduled(chrono::Utc::now()).await {
                                        tracing::warn!(error = %err, "the order schedule's run failed");
                                    }
                                }
                            },
                        ));
                    }
                }
                "reconcile" => {
                    let reconcile = Arc::new(reconcile::wiring::build(&config, &sdk)?);
                    let for_queue = reconcile.clone();
                    let handler: BatchHandler = Arc::new(move |event| {
                        let reconcile = for_queue.clone();
                        Box::pin(async move {
                            reconcile.handle_sqs(event).await.map_err(|e| e.to_string())
                        })
                    });
                    tasks.extend(wire_queues(
                        &stack,
                        function,
                        &sdk,
                        &options.region,
                        handler,
                        &shutdown_rx,
                        options.chaos.clone(),
                    )?);
                    if !function.schedules.is_empty() {
                        // The nightly sweep, once a minute locally.
                        tasks.push(every(
                            Duration::from_secs(60),
                            shutdown_rx.clone(),
                            move || {
                                let reconcile = reconcile.clone();
                                async move {
                                    if let Err(err) = reconcile.sweep().await {
                                        tracing::warn!(error = %err, "reconciliation sweep failed");
                                    }
                                }
                            },
                        ));
                    }
                }
                "delta-pull" => {
                    let pull = Arc::new(delta_pull::wiring::build(&config, &sdk).await?);
                    if let Some(interval) = options.pull_every {
                        let timeout = Duration::from_secs(function.timeout_seconds);
                        // The hourly schedule, every `interval` locally.
                        tasks.push(every(interval, shutdown_rx.clone(), move || {
                            let pull = pull.clone();
                            async move {
                                let deadline = std::time::Instant::now() + timeout;
                                if let Err(err) = pull.run(deadline, &mut |_| {}).await {
                                    tracing::warn!(error = %err, "delta pull failed");
                                }
                            }
                        }));
                    }
                }
                other => {
                    tracing::warn!(function = %function.logical_id, binary = other, "no in-process runner for this function; it is not running locally");
                }
            }
        }
        let info = StackFile {
            endpoint,
            region: options.region.clone(),
            webhook_url: webhook_url.context("the template declares no webhook route")?,
            signing_secrets: signing,
            erp_base_url: erp_base_url.clone(),
            stack,
        };
        info.write(&options.stack_file)?;
        Ok(Self {
            info,
            sdk,
            shutdown,
            tasks,
            _moto: moto,
            erp,
        })
    }

    /// The webhook URL of one source.
    pub fn webhook_url(&self, source: &Source) -> String {
        self.info.webhook_url.replace("{source}", source.as_str())
    }

    pub fn queue(&self, logical_id: &str) -> &QueueInfo {
        &self.info.stack.queues[logical_id]
    }

    /// Waits until every consumed queue is empty (nothing visible or in flight).
    pub async fn drain(&self, queues: &[&str], timeout: Duration) -> anyhow::Result<()> {
        let client = aws_sdk_sqs::Client::new(&self.sdk);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut pending = 0;
            for queue in queues {
                pending += queue_depth(&client, &self.queue(queue).url).await?;
            }
            if pending == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("{pending} messages still pending after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// A poller per SQS event source of `function`.
fn wire_queues(
    stack: &Stack,
    function: &bridge_infra::FunctionDef,
    sdk: &aws_config::SdkConfig,
    region: &str,
    handler: BatchHandler,
    shutdown: &watch::Receiver<bool>,
    chaos: Option<Chaos>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    function
        .sqs_events
        .iter()
        .map(|(queue, batch)| {
            let info = stack
                .queues
                .get(queue)
                .with_context(|| format!("{} consumes unknown queue {queue}", function.logical_id))?
                .clone();
            Ok(tokio::spawn(poll_queue(
                aws_sdk_sqs::Client::new(sdk),
                info,
                *batch,
                region.to_string(),
                handler.clone(),
                shutdown.clone(),
                chaos.clone(),
            )))
        })
        .collect()
}

/// The local stand-in for a schedule: `job` every `interval` until shutdown.
fn every<F, Fut>(
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut job: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => job().await,
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// Messages visible plus in flight.
pub async fn queue_depth(client: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<u64> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?
        .attributes
        .unwrap_or_default();
    Ok(attributes
        .values()
        .filter_map(|v| v.parse::<u64>().ok())
        .sum())
}

async fn serve_intake(
    intake: Arc<Intake>,
    path: &str,
    port: u16,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(String, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let router = axum::Router::new()
        .route(path, axum::routing::any(intake_route))
        .with_state(intake);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await;
    });
    Ok((format!("http://{address}{path}"), task))
}

async fn intake_route(
    State(intake): State<Arc<Intake>>,
    UrlPath(source): UrlPath<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let request = IntakeRequest {
        method: method.to_string(),
        source,
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
            })
            .collect(),
        body: body.to_vec(),
    };
    let response = intake.handle(request, chrono::Utc::now()).await;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().expect("valid"));
    for (name, value) in response.headers {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    (
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        response.body.to_string(),
    )
}

/// Emulates Lambda's SQS event source mapping with ReportBatchItemFailures: receive a
/// batch, invoke, delete what succeeded. Like Lambda, it never touches the visibility of
/// what failed: a failed message, a failed invocation's batch or a killed invocation's
/// batch comes back when its visibility timeout ends, the queue's or the one the handler
/// set as its backoff (`DevOptions::queue_visibility_seconds` shortens the queue's for
/// tests), and is dead-lettered by the queue's redrive policy or the handler itself.
async fn poll_queue(
    client: aws_sdk_sqs::Client,
    queue: QueueInfo,
    batch_size: u32,
    region: String,
    handler: BatchHandler,
    mut shutdown: watch::Receiver<bool>,
    chaos: Option<Chaos>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let receive = client
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(batch_size.clamp(1, 10) as i32)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All");
        let received = tokio::select! {
            r = receive.send() => r,
            _ = shutdown.changed() => return,
        };
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                tracing::warn!(queue = %queue.name, error = %err, "receive failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        let mut handles = HashMap::new();
        for message in messages {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id.clone();
            record.receipt_handle = message.receipt_handle.clone();
            record.body = message.body.clone();
            record.attributes = message
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_string(), v))
                .collect();
            record.message_attributes = message
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let mut attribute = SqsMessageAttribute::default();
                    attribute.string_value = v.string_value;
                    attribute.data_type = Some(v.data_type);
                    (k, attribute)
                })
                .collect();
            record.event_source_arn = Some(queue.arn.clone());
            record.event_source = Some("aws:sqs".to_string());
            record.aws_region = Some(region.clone());
            handles.insert(
                message.message_id.unwrap_or_default(),
                message.receipt_handle.unwrap_or_default(),
            );
            event.records.push(record);
        }
        let kill_after = chaos.as_ref().and_then(|c| {
            (rand::random::<f64>() < c.kill_share)
                .then(|| c.max_run_before_kill.mul_f64(rand::random::<f64>()))
        });
        let outcome = match kill_after {
            Some(after) => match tokio::time::timeout(after, handler(event)).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    if let Some(chaos) = &chaos {
                        chaos
                            .kills
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    tracing::warn!(queue = %queue.name, after_ms = after.as_millis() as u64, "chaos: invocation killed mid-batch");
                    // Nothing is deleted; the batch returns when its visibility runs out.
                    continue;
                }
            },
            None => handler(event).await,
        };
        let failed: Vec<String> = match outcome {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(err) => {
                tracing::error!(queue = %queue.name, error = %err, "invocation failed; the whole batch will be retried");
                handles.keys().cloned().collect()
            }
        };
        for (id, receipt) in handles {
            if failed.contains(&id) {
                continue;
            }
            if let Err(err) = client
                .delete_message()
                .queue_url(&queue.url)
                .receipt_handle(receipt)
                .send()
                .await
            {
                tracing::warn!(queue = %queue.name, message_id = %id, error = %err, "could not delete a handled message");
            }
        }
    }
}
