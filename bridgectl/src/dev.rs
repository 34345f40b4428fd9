//! The local stack: the moto server, the template's resources created on it, every
//! function running in-process and wired to its queues as the template's event sources
//! say, and the webhook intake served over HTTP.

use crate::stackfile::StackFile;
use anyhow::Context;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use axum::extract::Path as UrlPath;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use bridge_commercetools::{
    CTP_API_URL, CTP_AUTH_URL, CTP_CLIENT_ID, CTP_PROJECT_KEY, CTP_SCOPES, ClientSecret,
    CommercetoolsConfig,
};
use bridge_contract::SigningSecret;
use bridge_domain::Source;
use bridge_infra::provision::QueueInfo;
use bridge_infra::{MotoServer, Stack, Template};
use bridge_lambda::{Config, Handler};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    /// How often each function's schedule runs locally, by binary name (deployed: the
    /// template's expression); `None` runs it only when asked (`bridgectl sync pull`, the
    /// demo). A function not named here runs its schedule every [`DEFAULT_SCHEDULE_EVERY`].
    pub schedules: BTreeMap<String, Option<Duration>>,
    /// Environment set on every function on top of the template's (tests shorten timeouts).
    pub overrides: BTreeMap<String, String>,
    /// Invocations killed at random (the chaos test).
    pub chaos: Option<Chaos>,
    /// A commercetools emulator that runs already (its URL; tests put a fault proxy in
    /// front of one), before `BRIDGE_CTMOCK_URL` and `CTP_*`; the stack takes a project of its
    /// own name there.
    pub shop_emulator: Option<String>,
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

/// How often a schedule runs locally unless [`DevOptions::schedules`] says otherwise.
pub const DEFAULT_SCHEDULE_EVERY: Duration = Duration::from_secs(60);

impl DevOptions {
    /// How often the schedule of `function` (a binary name) runs here, if at all.
    pub fn schedule_interval(&self, function: &str) -> Option<Duration> {
        self.schedules
            .get(function)
            .copied()
            .unwrap_or(Some(DEFAULT_SCHEDULE_EVERY))
    }

    /// Runs the schedule of `function` every `every`, or only when asked (`None`).
    pub fn schedule(&mut self, function: &str, every: Option<Duration>) {
        self.schedules.insert(function.to_string(), every);
    }

    pub fn new(root: PathBuf) -> Self {
        let suffix: u32 = rand::random::<u32>() % 0x10000;
        Self {
            stack_file: StackFile::default_path(&root),
            root,
            endpoint: None,
            port: 0,
            region: "us-east-1".to_string(),
            stack_name: format!("bridge-{suffix:04x}"),
            schedules: BTreeMap::from([
                (
                    delta_pull::FUNCTION_NAME.to_string(),
                    Some(Duration::from_secs(
                        std::env::var("BRIDGE_PULL_INTERVAL_SECONDS")
                            .ok()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(60),
                    )),
                ),
                // Release, resume, reconcile: every five minutes when deployed.
                (
                    order_writeback::FUNCTION_NAME.to_string(),
                    Some(Duration::from_secs(10)),
                ),
            ]),
            overrides: BTreeMap::new(),
            chaos: None,
            shop_emulator: None,
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
    /// The bundled commercetools emulator, unless `CTP_API_URL` names a project.
    pub shop: Option<bridge_infra::ctmock::CommercetoolsMock>,
    /// Where the shop sync publishes.
    pub shop_settings: CommercetoolsConfig,
}

/// The connector's own settings (`CTP_*`, contract section 6) for the emulator's project
/// `project` at `url`: any client credentials get a token there.
fn emulator_settings(url: &str, project: &str) -> CommercetoolsConfig {
    CommercetoolsConfig {
        api_url: url.to_string(),
        auth_url: url.to_string(),
        project_key: project.to_string(),
        client_id: "local".to_string(),
        client_secret: ClientSecret::new("local"),
        scopes: format!("manage_project:{project}"),
    }
}

/// The function's variables (the secret goes through Secrets Manager, as deployed).
fn shop_variables(shop: &CommercetoolsConfig) -> [(String, String); 5] {
    [
        (CTP_API_URL.into(), shop.api_url.clone()),
        (CTP_AUTH_URL.into(), shop.auth_url.clone()),
        (CTP_PROJECT_KEY.into(), shop.project_key.clone()),
        (CTP_CLIENT_ID.into(), shop.client_id.clone()),
        (CTP_SCOPES.into(), shop.scopes.clone()),
    ]
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
        // The CRM: `CRM_BASE_URL` and `CRM_TOKEN` name one that takes leads (section 9);
        // otherwise the ERP simulator's `/crm` stands in for it.
        let (crm_base_url, crm_token) = match std::env::var("CRM_BASE_URL") {
            Ok(url) => (url, std::env::var("CRM_TOKEN").unwrap_or_default()),
            Err(_) if erp.is_some() => (format!("{erp_base_url}/crm"), erp_token.clone()),
            Err(_) => anyhow::bail!(
                "ERP_BASE_URL names an ERP of your own: CRM_BASE_URL (and CRM_TOKEN) must name the CRM"
            ),
        };
        // The shop: `BRIDGE_CTMOCK_URL` names an emulator that runs already (the test
        // command's: each stack takes a project of its own name there, so stacks never see
        // each other's data); `CTP_API_URL` and the other `CTP_*` variables a commercetools
        // project; otherwise the bundled emulator runs.
        let emulator = options
            .shop_emulator
            .clone()
            .or_else(|| std::env::var("BRIDGE_CTMOCK_URL").ok());
        let (shop, shop_settings) = if let Some(url) = emulator {
            (None, emulator_settings(&url, &options.stack_name))
        } else if std::env::var_os("CTP_API_URL").is_some() {
            (
                None,
                CommercetoolsConfig::from_lookup(|name| std::env::var(name).ok())
                    .context("the CTP_* variables name the shop")?,
            )
        } else {
            let mock = bridge_infra::ctmock::CommercetoolsMock::start(
                &options.root,
                &local.join("commercetools-mock.log"),
            )?;
            let settings = emulator_settings(&mock.url, bridge_infra::ctmock::LOCAL_PROJECT_KEY);
            (Some(mock), settings)
        };
        let secret_ref = |function: &bridge_infra::FunctionDef, variable: &str| {
            function
                .environment
                .get(variable)
                .and_then(|v| v.get("Ref"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        // One client with every endpoint, its key fresh for each start (as the signing
        // secrets), stored where the deployed read API reads it.
        let shop_api_key = format!("sak_local_{}", uuid::Uuid::new_v4().simple());
        let mut secret_values = BTreeMap::new();
        for function in &functions {
            if let Some(id) = secret_ref(function, shop_api::wiring::API_KEYS_SECRET_ID) {
                secret_values.insert(
                    id,
                    serde_json::json!({"clients": {LOCAL_SHOP_API_CLIENT: {
                        "keys": [shop_api_key],
                        "endpoints": ["prices", "availability", "credit"],
                    }}})
                    .to_string(),
                );
            }
            if let Some(id) = secret_ref(function, webhook_intake::config::WEBHOOK_SECRET_ID) {
                secret_values.insert(id, serde_json::to_string(&signing)?);
            }
            if let Some(id) = secret_ref(function, "ERP_TOKEN_SECRET_ID") {
                secret_values.insert(id, erp_token.clone());
            }
            if let Some(id) = secret_ref(function, "CRM_TOKEN_SECRET_ID") {
                secret_values.insert(id, crm_token.clone());
            }
            if let Some(id) =
                secret_ref(function, bridge_commercetools::wiring::CTP_CLIENT_SECRET_ID)
            {
                secret_values.insert(id, shop_settings.client_secret.expose().to_string());
            }
        }
        let stack = Stack::provision(&template, &sdk, &options.stack_name, &secret_values)
            .await
            .context("creating the template's resources on the emulator")?;
        // New tables: an empty price table is fully indexed. Marked as a deployed stack's
        // is after `bridgectl prices reindex`, so the read API batches its reads.
        bridge_aws::DynamoPriceStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            stack.tables["PriceTable"].clone(),
            stack.tables["PriceIndexTable"].clone(),
        )
        .rebuild_index()
        .await
        .context("marking the new price index complete")?;
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
        // How orders reach the ERP (`ERP_CONNECTOR`: rest, or opentrans with the EDI
        // converter below standing in for the ERP's).
        let connector = options
            .overrides
            .get("ERP_CONNECTOR")
            .cloned()
            .or_else(|| std::env::var("ERP_CONNECTOR").ok())
            .filter(|c| !c.is_empty());
        let mut routes = Vec::new();
        for function in &functions {
            let registration = bridge_registry::find(&function.binary).with_context(|| {
                format!(
                    "{} runs binary {}, which the function registry (registry/src/lib.rs) does not list",
                    function.logical_id, function.binary
                )
            })?;
            let mut environment = stack.function_environment(function)?;
            environment.extend(options.overrides.clone());
            if environment.contains_key("ERP_BASE_URL") {
                environment.insert("ERP_BASE_URL".into(), erp_base_url.clone());
            }
            if environment.contains_key("CRM_BASE_URL") {
                environment.insert("CRM_BASE_URL".into(), crm_base_url.clone());
            }
            if let Some(connector) = &connector
                && environment.contains_key("ERP_CONNECTOR")
            {
                environment.insert("ERP_CONNECTOR".into(), connector.clone());
            }
            if environment.contains_key("CTP_API_URL") {
                environment.extend(shop_variables(&shop_settings));
            }
            let handler = (registration.build)(Config::from_map(environment), sdk.clone())
                .await
                .map_err(|e| anyhow::anyhow!(e))
                .with_context(|| format!("building {}", function.logical_id))?;
            // As on Lambda, each invocation may run up to the function's timeout.
            let timeout = Duration::from_secs(function.timeout_seconds);
            for path in &function.http_paths {
                routes.push(HttpRoute {
                    path: path.clone(),
                    function: registration.name,
                    handler: handler.clone(),
                });
            }
            if !function.sqs_events.is_empty() {
                let for_queue = handler.clone();
                let batch: BatchHandler = Arc::new(move |event| {
                    let handler = for_queue.clone();
                    Box::pin(async move {
                        handler
                            .on_batch(event, Instant::now() + timeout)
                            .await
                            .map_err(|e| e.to_string())
                    })
                });
                tasks.extend(wire_queues(
                    &stack,
                    function,
                    &sdk,
                    &options.region,
                    batch,
                    &shutdown_rx,
                    options.chaos.clone(),
                )?);
            }
            for stream in &function.stream_events {
                let source = crate::streams::StreamSource {
                    function: function.logical_id.clone(),
                    stream_arn: stack.streams.get(&stream.table).cloned().with_context(|| {
                        format!(
                            "{} reads the stream of {}, which has none",
                            function.logical_id, stream.table
                        )
                    })?,
                    on_failure: stream
                        .on_failure
                        .as_ref()
                        .map(|queue| {
                            stack
                                .queues
                                .get(queue)
                                .map(|q| q.url.clone())
                                .with_context(|| {
                                    format!(
                                        "{}: unknown on-failure queue {queue}",
                                        function.logical_id
                                    )
                                })
                        })
                        .transpose()?,
                    settings: stream.clone(),
                    region: options.region.clone(),
                    timeout,
                };
                tasks.push(tokio::spawn(crate::streams::poll_stream(
                    aws_sdk_dynamodbstreams::Client::new(&sdk),
                    aws_sdk_sqs::Client::new(&sdk),
                    source,
                    handler.clone(),
                    shutdown_rx.clone(),
                )));
            }
            if !function.schedules.is_empty()
                && let Some(interval) = options.schedule_interval(registration.name)
            {
                let name = function.logical_id.clone();
                tasks.push(every(interval, shutdown_rx.clone(), move || {
                    let (handler, name) = (handler.clone(), name.clone());
                    async move {
                        if let Err(err) = handler.on_schedule(Instant::now() + timeout).await {
                            tracing::warn!(function = %name, error = %err, "scheduled run failed");
                        }
                    }
                }));
            }
        }
        if connector.as_deref() == Some("opentrans") {
            let bucket = stack
                .buckets
                .get("CatalogBucket")
                .context("the template declares no CatalogBucket")?;
            let converter = crate::edi::Converter::new(
                aws_sdk_s3::Client::new(&sdk),
                bucket,
                &erp_base_url,
                &erp_token,
            );
            tasks.push(converter.spawn(Duration::from_secs(1), shutdown_rx.clone()));
        }
        let (http_base, server) =
            serve_http(routes.clone(), options.port, shutdown_rx.clone()).await?;
        tasks.push(server);
        let webhook_url = routes
            .iter()
            .find(|route| route.function == webhook_intake::FUNCTION_NAME)
            .map(|route| format!("{http_base}{}", route.path));
        let shop_api = routes
            .iter()
            .any(|route| route.function == shop_api::FUNCTION_NAME)
            .then(|| crate::stackfile::StackShopApi {
                url: http_base.clone(),
                client: LOCAL_SHOP_API_CLIENT.to_string(),
                key: shop_api_key.clone(),
            });
        let info = StackFile {
            endpoint,
            region: options.region.clone(),
            webhook_url: webhook_url.context("the template declares no webhook route")?,
            shop_api,
            signing_secrets: signing,
            erp_base_url: erp_base_url.clone(),
            stack,
            shop: Some(crate::stackfile::StackShop::of(&shop_settings)),
        };
        info.write(&options.stack_file)?;
        Ok(Self {
            info,
            sdk,
            shutdown,
            tasks,
            _moto: moto,
            erp,
            shop,
            shop_settings,
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

/// The read API's client in the local stack's key secret.
pub const LOCAL_SHOP_API_CLIENT: &str = "local-shop";

/// An HTTP API route of the template and the function behind it.
#[derive(Clone)]
struct HttpRoute {
    path: String,
    function: &'static str,
    handler: Arc<dyn Handler>,
}

/// Serves every route on one port, as the stack's HTTP API does: each request becomes the
/// API's payload-2.0 event for its function, and the function's answer the HTTP response.
/// Returns the base URL.
async fn serve_http(
    routes: Vec<HttpRoute>,
    port: u16,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(String, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    let mut router = axum::Router::new();
    for route in routes {
        let path = route.path.clone();
        router = router.route(
            &path,
            axum::routing::any(
                move |UrlPath(parameters): UrlPath<HashMap<String, String>>,
                      request: axum::extract::Request| {
                    let route = route.clone();
                    async move { http_invocation(route, parameters, request).await }
                },
            ),
        );
    }
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await;
    });
    Ok((format!("http://{address}"), task))
}

async fn http_invocation(
    route: HttpRoute,
    parameters: HashMap<String, String>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 6 * 1024 * 1024).await else {
        // The HTTP API's own limit on a payload.
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(format!("ANY {}", route.path));
    event.raw_path = Some(parts.uri.path().to_string());
    event.raw_query_string = parts.uri.query().map(str::to_string);
    event.path_parameters = parameters;
    event.headers = parts.headers;
    event.request_context.http.method = parts.method;
    event.request_context.http.path = Some(parts.uri.path().to_string());
    (event.body, event.is_base64_encoded) = match String::from_utf8(body.to_vec()) {
        Ok(text) => (Some(text), false),
        Err(_) => (
            Some(base64::engine::general_purpose::STANDARD.encode(&body)),
            true,
        ),
    };
    match route.handler.on_http(event).await {
        Ok(response) => {
            let status = StatusCode::from_u16(response.status_code as u16)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = match response.body {
                Some(Body::Text(text)) => text.into_bytes(),
                Some(Body::Binary(bytes)) => bytes,
                _ => Vec::new(),
            };
            (status, response.headers, body).into_response()
        }
        Err(failure) => {
            // What the HTTP API answers when the function fails.
            tracing::error!(function = route.function, error = %failure, "HTTP invocation failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "application/json")],
                r#"{"message":"Internal Server Error"}"#,
            )
                .into_response()
        }
    }
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
