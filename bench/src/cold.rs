//! Cold start of every function binary under a minimal Lambda runtime API, against two
//! baselines built with the same profile: `hello-world` (lambda_runtime alone) and
//! `sdk-floor` (the AWS configuration loaded and the function's SDK clients built, nothing
//! else), the floor both as the SDK's defaults make it and as the project builds it.
//!
//! (a) init: process start to the first `GET /runtime/invocation/next`.
//! (b) init + first invocation: process start to the posted response of a representative
//!     event whose AWS calls go to the moto server (baselines echo the same event).
//! Every round starts every variant once, interleaved, so a busy moment of the machine
//! hits all of them; the figure is the median over rounds.

use crate::events;
use crate::report::{Report, Target};
use bridge_domain::ports::FileStore;
use bridge_testkit::TestStack;
use bridge_testkit::runtime_api::{Outcome, RuntimeApi, lambda_environment};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The clients `sdk-floor` can build.
const FLOOR_CLIENTS: [&str; 4] = ["dynamodb", "s3", "secretsmanager", "sqs"];

/// Every registered function with the AWS clients it builds at init (the services its
/// template policies allow), as `sdk-floor` takes them.
fn functions(template: &bridge_infra::Template) -> Vec<(&'static str, String)> {
    let defs = template.functions().expect("functions parse");
    bridge_registry::names()
        .map(|name| {
            let def = defs
                .iter()
                .find(|f| f.binary == name)
                .unwrap_or_else(|| panic!("the template runs no {name}"));
            let clients: Vec<&str> = FLOOR_CLIENTS
                .into_iter()
                .filter(|c| def.services.contains(*c))
                .collect();
            (name, clients.join(","))
        })
        .collect()
}

struct Timing {
    init: Duration,
    first: Duration,
}

/// Starts `binary` under a fresh runtime API with `event` and waits for its response.
async fn cold_start(
    binary: &Path,
    function: &str,
    environment: &HashMap<String, String>,
    event: Value,
) -> Timing {
    let api = RuntimeApi::start(vec![event]).await;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(environment)
        .envs(lambda_environment(&api, function))
        .env("AWS_ENDPOINT_URL", bridge_testkit::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", bridge_testkit::REGION)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
    let outcomes = api.outcomes(1, Duration::from_secs(60)).await;
    child.kill().await.ok();
    match &outcomes[0] {
        Outcome::Response(response) => {
            if let Some(failures) = response.get("batchItemFailures") {
                assert_eq!(failures, &json!([]), "{function}: {response}");
            }
            if let Some(status) = response.get("statusCode").and_then(Value::as_u64) {
                assert!((200..300).contains(&status), "{function}: {response}");
            }
        }
        other => panic!("{function} ({}) failed: {other:?}", binary.display()),
    }
    let init = api.first_next_at().expect("asked for an invocation") - started;
    let first = api.outcome_times()[0] - started;
    Timing { init, first }
}

/// What each function needs around it, and a fresh representative event per round.
struct Scenario {
    stack: TestStack,
    simulator: erp_simulator::Simulator,
    erp_secret: String,
    files: bridge_aws::S3FileStore,
}

fn sqs_event(stack: &TestStack, queue: &str, body: String) -> Value {
    json!({"Records": [events::sqs_record("m-1", "r-1", &body, [], stack.queue_arn(queue))]})
}

use events::envelope;

impl Scenario {
    async fn new() -> Self {
        let stack = TestStack::with_secrets(BTreeMap::from([
            ("erp".to_string(), vec![events::secret().to_whsec()]),
            ("shop".to_string(), vec![]),
        ]))
        .await;
        let simulator = erp_simulator::Simulator::start(0, "bench-token")
            .await
            .expect("the ERP simulator starts");
        let erp_secret = bridge_testkit::unique("erp-token");
        aws_sdk_secretsmanager::Client::new(&stack.sdk)
            .create_secret()
            .name(&erp_secret)
            .secret_string("bench-token")
            .send()
            .await
            .expect("secret created");
        let files = bridge_aws::S3FileStore::new(
            bridge_aws::s3_client(&stack.sdk),
            stack.bucket("CatalogBucket"),
        );
        let scenario = Self {
            stack,
            simulator,
            erp_secret,
            files,
        };
        // An order needs a known customer and a price to pass the B2B checks.
        let sync = scenario.environment("price-stock-sync");
        let sync = price_stock_sync::wiring::build(
            &bridge_lambda::Config::from_map(sync),
            &scenario.stack.sdk,
        )
        .expect("sync wires");
        let seed = [
            json!({"type": "customer.changed", "timestamp": "2026-11-26T10:00:00Z",
                "data": {"customer_id": "C-BENCH", "name": "Kunde", "revision": 1, "price_lists": ["BASE"]}}),
            json!({"type": "price.changed", "timestamp": "2026-11-26T10:00:00Z",
                "data": {"price_list": "BASE", "sku": "A", "currency": "EUR", "revision": 1,
                         "tiers": [{"min_qty": 1, "unit_price": "5.00"}]}}),
        ];
        for (i, body) in seed.into_iter().enumerate() {
            let queue = if i == 0 {
                "CustomerQueue"
            } else {
                "StockPriceQueue"
            };
            let event = sqs_event(
                &scenario.stack,
                queue,
                envelope(&format!("seed-{i}"), "erp", body),
            );
            let response = sync
                .handle_batch(serde_json::from_value(event).unwrap())
                .await
                .unwrap();
            assert!(response.batch_item_failures.is_empty());
        }
        scenario
    }

    fn environment(&self, function: &str) -> HashMap<String, String> {
        let mut env = self.stack.environment(function);
        if matches!(function, "order-writeback" | "delta-pull") {
            env.insert("ERP_BASE_URL".into(), self.simulator.base_url.clone());
            env.insert("ERP_TOKEN_SECRET_ID".into(), self.erp_secret.clone());
        }
        if env.contains_key("CTP_PROJECT_KEY") {
            // A project the bench never calls (its event needs no shop request), with a
            // client secret read from Secrets Manager at init, as deployed.
            for (name, value) in [
                ("CTP_API_URL", "http://127.0.0.1:9"),
                ("CTP_AUTH_URL", "http://127.0.0.1:9"),
                ("CTP_PROJECT_KEY", "bench"),
                ("CTP_CLIENT_ID", "bench"),
                ("CTP_SCOPES", "manage_project:bench"),
            ] {
                env.insert(name.into(), value.into());
            }
            env.insert("CTP_CLIENT_SECRET_ID".into(), self.erp_secret.clone());
        }
        env
    }

    /// Uploads a CSV of `header` and 20 rows (`row` of 0 to 19) under `key`.
    async fn upload_rows(&self, key: &str, header: &str, row: impl Fn(u64) -> String) {
        let mut csv = format!("{header}\n");
        for n in 0..20 {
            csv.push_str(&row(n));
            csv.push('\n');
        }
        self.files
            .write(key, csv.into_bytes(), "text/csv")
            .await
            .expect("upload");
    }

    /// A fresh event for `function` in round `round` (and what it needs in place).
    async fn event(&self, function: &str, round: usize) -> Value {
        match function {
            "webhook-intake" => {
                let id = format!("msg_cold_{round}_{}", bridge_testkit::unique("x"));
                let body = events::body(0, round as u64, 1).to_string();
                let timestamp = chrono::Utc::now().timestamp();
                let signature = events::signature(&id, timestamp, body.as_bytes());
                json!({
                    "version": "2.0", "routeKey": "POST /webhooks/{source}", "rawPath": "/webhooks/erp",
                    "rawQueryString": "", "isBase64Encoded": false, "body": body,
                    "pathParameters": {"source": "erp"},
                    "headers": {"content-type": "application/json", "webhook-id": id,
                                "webhook-timestamp": timestamp.to_string(), "webhook-signature": signature},
                    "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "x", "domainPrefix": "x",
                        "http": {"method": "POST", "path": "/webhooks/erp", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                        "requestId": "r1", "routeKey": "POST /webhooks/{source}", "stage": "$default",
                        "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 0}
                })
            }
            "shop-api" => {
                // A client's key in the key secret (read at init), then what a cart page
                // asks: a sku's availability (one query).
                let key = "sak_bench_cold_00000000000000000000000000000000";
                aws_sdk_secretsmanager::Client::new(&self.stack.sdk)
                    .put_secret_value()
                    .secret_id(&self.stack.stack.secrets["ShopApiKeysSecret"])
                    .secret_string(
                        json!({"clients": {"bench": {"keys": [key], "endpoints": ["availability"]}}})
                            .to_string(),
                    )
                    .send()
                    .await
                    .expect("the key secret is written");
                json!({
                    "version": "2.0", "routeKey": "GET /v1/availability", "rawPath": "/v1/availability",
                    "rawQueryString": format!("sku=SKU-{round}"), "isBase64Encoded": false,
                    "headers": {"authorization": format!("Bearer {key}")},
                    "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "x", "domainPrefix": "x",
                        "http": {"method": "GET", "path": "/v1/availability", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                        "requestId": "r1", "routeKey": "GET /v1/availability", "stage": "$default",
                        "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 0}
                })
            }
            "price-stock-sync" => {
                let body = events::body(0, 1_000 + round as u64, 1);
                sqs_event(
                    &self.stack,
                    "StockPriceQueue",
                    envelope(&format!("w-sync-{round}"), "erp", body),
                )
            }
            "pim-import" => {
                let key = format!("pim/inbox/bench-{round}.csv");
                self.upload_rows(&key, "sku;gtin;name.de-DE;unit;category", |n| {
                    format!(
                        "COLD-{round}-{n};{};Schraube {n};C62;Befestigung > Schrauben",
                        bridge_domain::product::Gtin::gtin13(400_000_000_000 + n)
                    )
                })
                .await;
                sqs_event(
                    &self.stack,
                    "PimImportQueue",
                    json!({"import": key}).to_string(),
                )
            }
            "order-writeback" => {
                let body = json!({"type": "order.placed", "timestamp": "2026-11-26T10:00:00Z",
                    "data": {"order_id": format!("SO-COLD-{round}"), "customer_id": "C-BENCH", "currency": "EUR",
                             "placed_at": "2026-11-26T10:00:00Z",
                             "lines": [{"line": 1, "sku": "A", "quantity": 2, "unit_price": "5.00"}]}});
                sqs_event(
                    &self.stack,
                    "OrderPlacedQueue",
                    envelope(&format!("w-order-{round}"), "shop", body),
                )
            }
            "reconcile" => {
                let key = format!("erp/snapshots/stock-bench-{round}.csv");
                self.upload_rows(&key, "sku,warehouse,available,revision", |n| {
                    format!("REC-{round}-{n},W1,{n},1")
                })
                .await;
                let notification = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                    "s3": {"object": {"key": key.replace('/', "%2F")}}}]});
                sqs_event(&self.stack, "ReconcileQueue", notification.to_string())
            }
            "delta-pull" => {
                let changes: Vec<Value> = (0..5)
                    .map(|n| {
                        json!({"type": "stock.changed", "data": {"sku": format!("PULL-{round}-{n}"),
                        "warehouse": "W1", "available": "3", "revision": 1}})
                    })
                    .collect();
                reqwest::Client::new()
                    .post(format!("{}/_admin/changes", self.simulator.base_url))
                    .json(&json!({"changes": changes}))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .expect("changes queued at the simulator");
                json!({})
            }
            other => self.event_from_template(other),
        }
    }

    /// A function without a scenario of its own gets an event of the first kind its
    /// template wires to it: an empty JSON message on its queue, a GET of its route, or a
    /// schedule's event.
    fn event_from_template(&self, function: &str) -> Value {
        let def = self
            .stack
            .template
            .functions()
            .expect("functions parse")
            .into_iter()
            .find(|f| f.binary == function)
            .unwrap_or_else(|| panic!("the template runs no {function}"));
        if let Some((queue, _)) = def.sqs_events.first() {
            return sqs_event(&self.stack, queue, "{}".to_string());
        }
        if let Some(stream) = def.stream_events.first() {
            // A removed item: read and settled without a call beyond the function.
            let table = self.stack.table(&stream.table);
            return json!({"Records": [{"eventID": "e1", "eventName": "REMOVE", "eventSource": "aws:dynamodb",
                "awsRegion": bridge_testkit::REGION,
                "eventSourceARN": format!("arn:aws:dynamodb:{}:123456789012:table/{table}/stream/bench", bridge_testkit::REGION),
                "dynamodb": {"Keys": {"sku": {"S": "A"}}, "SequenceNumber": "1", "SizeBytes": 10,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"}}]});
        }
        if let Some(path) = def.http_paths.first() {
            return json!({
                "version": "2.0", "routeKey": format!("GET {path}"), "rawPath": path,
                "rawQueryString": "", "isBase64Encoded": false, "headers": {},
                "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "x", "domainPrefix": "x",
                    "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                    "requestId": "r1", "routeKey": format!("GET {path}"), "stage": "$default",
                    "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 0}
            });
        }
        json!({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
    }
}

fn median(mut values: Vec<Duration>) -> f64 {
    values.sort();
    values[values.len() / 2].as_secs_f64() * 1e3
}

pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn size_mb(&self, name: &str) -> f64 {
        std::fs::metadata(self.path(name))
            .unwrap_or_else(|e| panic!("{}: {e}", self.path(name).display()))
            .len() as f64
            / 1e6
    }
}

#[derive(Default)]
struct Samples {
    init: Vec<Duration>,
    first: Vec<Duration>,
}

impl Samples {
    fn push(&mut self, timing: Timing) {
        self.init.push(timing.init);
        self.first.push(timing.first);
    }
}

pub async fn run(report: &mut Report, binaries: &Binaries, rounds: usize) {
    let scenario = Scenario::new().await;
    let hello = binaries.path("hello-world");
    let floor = binaries.path("sdk-floor");
    let mut hello_samples = Samples::default();
    // Per function: (function, floor as the project builds it, floor with the SDK defaults).
    let functions = functions(&scenario.stack.template);
    let mut samples: Vec<[Samples; 3]> = functions.iter().map(|_| Default::default()).collect();
    for round in 0..rounds {
        let echo = json!({"round": round});
        hello_samples.push(cold_start(&hello, "hello-world", &HashMap::new(), echo.clone()).await);
        for (index, (function, clients)) in functions.iter().enumerate() {
            let event = scenario.event(function, round).await;
            let environment = scenario.environment(function);
            for (slot, mode) in [(1, "project"), (2, "sdk-defaults")] {
                let floor_env = HashMap::from([
                    ("FLOOR_CLIENTS".to_string(), clients.to_string()),
                    ("FLOOR_CONFIG".to_string(), mode.to_string()),
                ]);
                samples[index][slot]
                    .push(cold_start(&floor, "sdk-floor", &floor_env, event.clone()).await);
            }
            samples[index][0]
                .push(cold_start(&binaries.path(function), function, &environment, event).await);
        }
    }
    let hello_init = median(hello_samples.init);
    let hello_first = median(hello_samples.first);
    for ((function, clients), [own, project, defaults]) in functions.iter().zip(samples) {
        let clients = if clients.is_empty() {
            "no clients"
        } else {
            clients
        };
        let (init, first) = (median(own.init), median(own.first));
        let (floor_init, floor_first) = (median(project.init), median(project.first));
        let defaults_init = median(defaults.init);
        let section = "cold start";
        report.add(
            section,
            format!("{function}: (a) init"),
            init,
            format!("SDK floor ({clients})"),
            floor_init,
            "ms",
            Some(Target::AtMost(1.2)),
        );
        report.add(
            section,
            format!("{function}: (a) init"),
            init,
            "hello world",
            hello_init,
            "ms",
            None,
        );
        report.add(
            section,
            format!("{function}: (b) init + first invocation"),
            first,
            "SDK floor, same event echoed",
            floor_first,
            "ms",
            None,
        );
        report.add(
            section,
            format!("{function}: (b) init + first invocation"),
            first,
            "hello world, same event echoed",
            hello_first,
            "ms",
            None,
        );
        report.add(
            section,
            format!("SDK floor ({clients}): init as the project builds it"),
            floor_init,
            "the SDK's defaults (before)",
            defaults_init,
            "ms",
            Some(Target::AtMost(1.0)),
        );
    }
    for (function, _) in &functions {
        report.add(
            "binary size",
            format!("{function} (stripped, release profile)"),
            binaries.size_mb(function),
            "hello world",
            binaries.size_mb("hello-world"),
            "MB",
            None,
        );
    }
    report.add(
        "binary size",
        "sdk-floor (all four clients)",
        binaries.size_mb("sdk-floor"),
        "hello world",
        binaries.size_mb("hello-world"),
        "MB",
        None,
    );
}
