//! `bridgectl`: read prices, stock and customers as the bridge stored them, and run the
//! local stack.

use anyhow::Context;
use bridgectl::catalog::Catalog;
use bridgectl::dev::{DevOptions, LocalStack};
use bridgectl::read::{self, Tables};
use bridgectl::stackfile::{StackFile, find_root};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "bridgectl",
    version,
    about = "Support tool and local stack of the B2B bridge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Target {
    /// The local stack's file (default: .local/stack.json in the project).
    #[arg(long, global = true)]
    stack_file: Option<PathBuf>,
    /// Stock table of a deployed stack (instead of the local stack's).
    #[arg(long, env = "BRIDGE_STOCK_TABLE", global = true)]
    stock_table: Option<String>,
    /// Price table of a deployed stack.
    #[arg(long, env = "BRIDGE_PRICE_TABLE", global = true)]
    price_table: Option<String>,
    /// Customer table of a deployed stack.
    #[arg(long, env = "BRIDGE_CUSTOMER_TABLE", global = true)]
    customer_table: Option<String>,
    /// Product table of a deployed stack.
    #[arg(long, env = "BRIDGE_PRODUCT_TABLE", global = true)]
    product_table: Option<String>,
    /// Import table of a deployed stack.
    #[arg(long, env = "BRIDGE_IMPORT_TABLE", global = true)]
    import_table: Option<String>,
    /// Catalog bucket of a deployed stack.
    #[arg(long, env = "BRIDGE_CATALOG_BUCKET", global = true)]
    catalog_bucket: Option<String>,
    /// Name prefix of a deployed stack's queues (usually the stack name).
    #[arg(long, env = "BRIDGE_QUEUE_PREFIX", global = true)]
    queue_prefix: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local stack: moto, the template's resources, the functions, the webhook URL.
    Dev {
        /// Play the demo scenario, print what landed where, and exit.
        #[arg(long)]
        demo: bool,
        /// Use this AWS endpoint instead of starting a moto server.
        #[arg(long)]
        endpoint: Option<String>,
        /// Port of the webhook server (default: a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// The price a customer pays: which list and tier produced it, or "price on request".
    Price {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        sku: String,
        #[arg(long, default_value = "1")]
        qty: String,
        /// Date (YYYY-MM-DD) or RFC 3339 timestamp; default now.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Stock of a sku in every warehouse.
    Stock {
        #[arg(long)]
        sku: String,
        #[command(flatten)]
        target: Target,
    },
    /// A customer's master data as synced from the ERP.
    Customer {
        id: String,
        #[command(flatten)]
        target: Target,
    },
    /// A product as the PIM import stored it.
    Product {
        sku: String,
        #[command(flatten)]
        target: Target,
    },
    /// Sends an accepted webhook's event again (it must still be within the receipt retention).
    Replay {
        webhook_id: String,
        /// The source that sent it (default: erp, then shop; any other source must be named).
        #[arg(long)]
        source: Option<String>,
        /// The queue to send to (a deployed stack; the local stack knows its queues).
        #[arg(long)]
        queue_url: Option<String>,
        /// Receipt table of a deployed stack.
        #[arg(long, env = "BRIDGE_RECEIPT_TABLE")]
        receipt_table: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// An order: its state (and why it is held), its history, its ERP order number.
    Order {
        id: String,
        /// Order table of a deployed stack.
        #[arg(long, env = "BRIDGE_ORDER_TABLE")]
        order_table: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Each data category's last success against its SLA (exit 4 when one is stale).
    Freshness {
        /// Override an SLA: category=duration (prices=2h, stock=30m).
        #[arg(long)]
        sla: Vec<String>,
        /// Freshness table of a deployed stack.
        #[arg(long, env = "BRIDGE_FRESHNESS_TABLE")]
        freshness_table: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// The scheduled delta pull from the ERP: `pull`, `status`.
    Sync {
        #[command(subcommand)]
        action: SyncAction,
    },
    /// Snapshot reconciliation: `report FILE`.
    Reconcile {
        #[command(subcommand)]
        action: ReconcileAction,
    },
    /// Dead-letter queues: `list`, `show QUEUE`, `redrive QUEUE`.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// PIM imports: `import FILE` uploads and waits for the report; `list`; `report FILE`.
    #[command(args_conflicts_with_subcommands = true)]
    Import {
        #[command(subcommand)]
        action: Option<ImportAction>,
        /// A local file to upload into the inbox.
        file: Option<PathBuf>,
        /// Upload as a complete catalog (pim/inbox/full/): absent products become inactive.
        #[arg(long)]
        full: bool,
        /// Seconds to wait for the report.
        #[arg(long, default_value_t = 600)]
        wait: u64,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum SyncAction {
    /// Run one delta pull now against the local stack's ERP, printing each page.
    Pull {
        #[command(flatten)]
        target: Target,
    },
    /// The pull's cursor, last run and lag.
    Status {
        /// Pull state table of a deployed stack.
        #[arg(long, env = "BRIDGE_PULL_STATE_TABLE")]
        pull_state_table: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum ReconcileAction {
    /// The drift report of a snapshot (its name or key under erp/snapshots/).
    Report {
        file: String,
        /// Drifted records to print (--json prints all).
        #[arg(long, default_value_t = 50)]
        max: usize,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum DlqAction {
    /// Every dead-letter queue with its depth and source queue.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// The messages of a dead-letter queue with their failure reason, without consuming them.
    Show {
        /// Logical id (local stack), queue name or URL.
        queue: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Moves messages back to the queue that failed them, once the cause is fixed.
    Redrive {
        queue: String,
        /// Only messages whose attribute has this value: name=value (e.g. failure_code=store_unavailable).
        #[arg(long)]
        filter: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum ImportAction {
    /// Every import, newest first, with its status.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// The report of a file (inbox key or name below pim/inbox/).
    Report {
        file: String,
        /// Rejections to print (--json prints all).
        #[arg(long, default_value_t = 50)]
        max: usize,
        #[command(flatten)]
        target: Target,
    },
}

/// Where the commands read: a deployed stack (names given, usual AWS settings) or the
/// local stack's file.
struct Resolved {
    aws: aws_config::SdkConfig,
    file: Option<(PathBuf, StackFile)>,
}

impl Resolved {
    async fn new(target: &Target, deployed: bool) -> anyhow::Result<Self> {
        if deployed {
            return Ok(Self {
                aws: bridge_aws::load_config().await,
                file: None,
            });
        }
        let path = match &target.stack_file {
            Some(path) => path.clone(),
            None => StackFile::default_path(&find_root()?),
        };
        let file = StackFile::read(&path)?;
        let aws = bridge_infra::local_sdk_config(&file.endpoint, &file.region).await;
        Ok(Self {
            aws,
            file: Some((path, file)),
        })
    }

    /// The name given on the command line, else the local stack's resource.
    fn name(&self, given: &Option<String>, logical_id: &str) -> anyhow::Result<String> {
        if let Some(name) = given {
            return Ok(name.clone());
        }
        let (path, file) = self.file.as_ref().with_context(|| {
            format!("no name for {logical_id}: pass it, or run the local stack")
        })?;
        file.stack
            .tables
            .get(logical_id)
            .or_else(|| file.stack.buckets.get(logical_id))
            .cloned()
            .with_context(|| format!("{} has no {logical_id}", path.display()))
    }
}

async fn tables(target: &Target) -> anyhow::Result<Tables> {
    let deployed = target.stock_table.is_some()
        && target.price_table.is_some()
        && target.customer_table.is_some();
    let r = Resolved::new(target, deployed).await?;
    Ok(Tables::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        &r.name(&target.stock_table, "StockTable")?,
        &r.name(&target.price_table, "PriceTable")?,
        &r.name(&target.customer_table, "CustomerTable")?,
    ))
}

/// The order table of a deployed stack, when named.
fn target_order_table() -> Option<String> {
    std::env::var("BRIDGE_ORDER_TABLE").ok()
}

/// The queues by name: the local stack's by logical id, or a deployed stack's by prefix.
async fn queues(
    target: &Target,
) -> anyhow::Result<(aws_sdk_sqs::Client, BTreeMap<String, String>)> {
    let r = Resolved::new(target, target.queue_prefix.is_some()).await?;
    let client = aws_sdk_sqs::Client::new(&r.aws);
    let queues = match (&target.queue_prefix, &r.file) {
        (Some(prefix), _) => client
            .list_queues()
            .queue_name_prefix(prefix)
            .send()
            .await?
            .queue_urls
            .unwrap_or_default()
            .into_iter()
            .map(|url| (url.rsplit('/').next().unwrap_or_default().to_string(), url))
            .collect(),
        (None, Some((_, file))) => file
            .stack
            .queues
            .iter()
            .map(|(id, q)| (id.clone(), q.url.clone()))
            .collect(),
        (None, None) => BTreeMap::new(),
    };
    Ok((client, queues))
}

/// A queue the user named: a URL, a known name, or one SQS can look up.
async fn queue_url(
    client: &aws_sdk_sqs::Client,
    queues: &BTreeMap<String, String>,
    name: &str,
) -> anyhow::Result<String> {
    if name.starts_with("http://") || name.starts_with("https://") {
        return Ok(name.to_string());
    }
    if let Some(url) = queues.get(name) {
        return Ok(url.clone());
    }
    let output = client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .with_context(|| format!("no queue {name}; `bridgectl dlq list` shows them"))?;
    output.queue_url.with_context(|| format!("no queue {name}"))
}

async fn catalog(target: &Target) -> anyhow::Result<Catalog> {
    let deployed = target.product_table.is_some()
        && target.import_table.is_some()
        && target.catalog_bucket.is_some();
    let r = Resolved::new(target, deployed).await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&r.aws);
    Ok(Catalog {
        products: Arc::new(bridge_aws::DynamoCatalogStore::new(
            dynamo.clone(),
            r.name(&target.product_table, "ProductTable")?,
        )),
        ledger: Arc::new(bridge_aws::DynamoImportLedger::new(
            dynamo,
            r.name(&target.import_table, "ImportTable")?,
        )),
        files: Arc::new(bridge_aws::S3FileStore::new(
            bridge_aws::s3_client(&r.aws),
            r.name(&target.catalog_bucket, "CatalogBucket")?,
        )),
    })
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Every command's answer: `value` as JSON with `--json`, else the text for people.
fn output(
    json: bool,
    value: &impl serde::Serialize,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        print_json(value)
    } else {
        print!("{}", text());
        Ok(())
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev {
            demo,
            endpoint,
            port,
        } => {
            let root = find_root()?;
            let local = root.join(".local");
            std::fs::create_dir_all(&local)?;
            let log = std::fs::File::create(local.join("functions.log"))?;
            bridge_lambda::logging::init_with_writer(std::sync::Mutex::new(log));
            bridge_lambda::metrics::redirect(Box::new(std::fs::File::create(
                local.join("metrics.log"),
            )?));
            let mut options = DevOptions::new(root);
            options.endpoint = endpoint;
            options.port = port;
            if demo {
                // The demo pulls when its story says so; a timed pull could run in between.
                options.schedule(delta_pull::FUNCTION_NAME, None);
            }
            eprintln!("starting the local stack (moto, template resources, functions)...");
            let stack = LocalStack::start(options).await?;
            println!("local stack {} is up", stack.info.stack.name);
            println!("  AWS endpoint  {}", stack.info.endpoint);
            println!("  webhook URL   {}", stack.info.webhook_url);
            println!("  stack file    .local/stack.json (secrets, queues, tables, buckets)");
            if demo {
                let ok = bridgectl::demo::run(&stack).await;
                stack.stop().await;
                return Ok(if ok? {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            println!("press Ctrl-C to stop");
            tokio::signal::ctrl_c().await?;
            stack.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Price {
            customer,
            sku,
            qty,
            at,
            target,
        } => {
            let at = match at {
                Some(text) => {
                    bridge_lambda::Config::from_env().apply_business_time_zone()?;
                    read::parse_at(&text)?
                }
                None => chrono::Utc::now(),
            };
            let answer = read::price(&tables(&target).await?, &customer, &sku, &qty, at).await?;
            output(target.json, &answer, || answer.text())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Stock { sku, target } => {
            let levels = read::stock(&tables(&target).await?, &sku).await?;
            output(target.json, &levels, || read::stock_text(&sku, &levels))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq {
            action: DlqAction::List { target },
        } => {
            let (client, queues) = queues(&target).await?;
            let list = bridgectl::dlq::list(&client, &queues).await?;
            output(target.json, &list, || bridgectl::dlq::list_text(&list))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq {
            action:
                DlqAction::Show {
                    queue,
                    limit,
                    target,
                },
        } => {
            let (client, queues) = queues(&target).await?;
            let url = queue_url(&client, &queues, &queue).await?;
            let messages = bridgectl::dlq::show(&client, &url, limit).await?;
            output(target.json, &messages, || {
                bridgectl::dlq::show_text(&messages)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq {
            action:
                DlqAction::Redrive {
                    queue,
                    filter,
                    target,
                },
        } => {
            let (client, queues) = queues(&target).await?;
            let url = queue_url(&client, &queues, &queue).await?;
            let filter = bridgectl::dlq::Filter::parse(filter.as_deref())?;
            let result = bridgectl::dlq::redrive(
                &client,
                &url,
                &filter,
                bridgectl::dlq::HIDE_SKIPPED,
                |line| eprintln!("{line}"),
            )
            .await?;
            output(target.json, &result, || {
                format!(
                    "moved {} message(s) back ({}), kept {}\n",
                    result.moved, result.method, result.kept
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Order {
            id,
            order_table,
            target,
        } => {
            let r = Resolved::new(&target, order_table.is_some()).await?;
            let store = bridge_aws::DynamoOrderStore::new(
                aws_sdk_dynamodb::Client::new(&r.aws),
                r.name(&order_table, "OrderTable")?,
            );
            let stored = bridgectl::orders::order(&store, &id).await?;
            output(target.json, &stored, || bridgectl::orders::text(&stored))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Freshness {
            sla,
            freshness_table,
            target,
        } => {
            let r = Resolved::new(&target, freshness_table.is_some()).await?;
            let store = bridge_aws::DynamoFreshnessStore::new(
                aws_sdk_dynamodb::Client::new(&r.aws),
                r.name(&freshness_table, "FreshnessTable")?,
            );
            let template = find_root()
                .ok()
                .and_then(|root| bridge_infra::Template::load(&root.join("template.yaml")).ok());
            let slas = bridgectl::freshness::slas(template.as_ref(), &sla)?;
            let now = chrono::Utc::now();
            // Order status is judged per order: the order table says how long they wait.
            let oldest_waiting = match r.name(&target_order_table(), "OrderTable") {
                Ok(table) => {
                    let orders = bridge_aws::DynamoOrderStore::new(
                        aws_sdk_dynamodb::Client::new(&r.aws),
                        table,
                    );
                    bridgectl::freshness::oldest_waiting_order(&orders).await?
                }
                Err(_) => None,
            };
            let rows = bridgectl::freshness::report(&store, &slas, oldest_waiting, now).await?;
            output(target.json, &rows, || {
                bridgectl::freshness::text(&rows, now)
            })?;
            let stale = rows
                .iter()
                .any(|r| r.state == bridge_domain::freshness::FreshnessState::Stale);
            Ok(if stale {
                ExitCode::from(4)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Replay {
            webhook_id,
            source,
            queue_url,
            receipt_table,
            target,
        } => {
            let source = source
                .map(|s| {
                    bridge_domain::Source::parse(&s)
                        .context("--source is a source name such as erp or shop")
                })
                .transpose()?;
            let r = Resolved::new(&target, receipt_table.is_some()).await?;
            let receipts = bridge_aws::DynamoReceiptStore::new(
                aws_sdk_dynamodb::Client::new(&r.aws),
                r.name(&receipt_table, "WebhookReceiptTable")?,
                0,
            );
            // The local stack: the intake's environment in the template names each route's queue.
            let template = find_root()
                .ok()
                .and_then(|root| bridge_infra::Template::load(&root.join("template.yaml")).ok());
            let local = r.file.as_ref().map(|(_, f)| f.stack.clone());
            let queue_for = |route: bridge_domain::Route| -> Option<String> {
                if let Some(url) = &queue_url {
                    return Some(url.clone());
                }
                let (template, stack) = (template.as_ref()?, local.as_ref()?);
                let intake = template
                    .functions()
                    .ok()?
                    .into_iter()
                    .find(|f| f.binary == "webhook-intake")?;
                let value = intake
                    .environment
                    .get(webhook_intake::config::queue_variable(route))?;
                stack.resolve(value).ok()
            };
            let sqs = aws_sdk_sqs::Client::new(&r.aws);
            let replayed =
                bridgectl::replay::replay(&receipts, &sqs, &webhook_id, source, queue_for).await?;
            output(target.json, &replayed, || {
                format!(
                    "replayed {} ({} from {}, {}) to {} as message {}\n",
                    replayed.webhook_id,
                    replayed.event_type,
                    replayed.source,
                    replayed.record,
                    replayed.queue,
                    replayed.message_id
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Product { sku, target } => {
            let product = bridgectl::catalog::product(&catalog(&target).await?, &sku).await?;
            output(target.json, &product, || {
                bridgectl::catalog::product_text(&product)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            action: Some(ImportAction::List { target }),
            ..
        } => {
            let records = bridgectl::catalog::list(&catalog(&target).await?).await?;
            output(target.json, &records, || {
                bridgectl::catalog::list_text(&records)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            action: Some(ImportAction::Report { file, max, target }),
            ..
        } => {
            let report = bridgectl::catalog::report(&catalog(&target).await?, &file).await?;
            output(target.json, &report, || {
                bridgectl::catalog::report_text(&report, max)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            action: None,
            file,
            full,
            wait,
            target,
        } => {
            let file =
                file.context("name a file to import, or use `import list` / `import report FILE`")?;
            let catalog = catalog(&target).await?;
            let report = bridgectl::catalog::upload_and_wait(
                &catalog,
                &file,
                full,
                std::time::Duration::from_secs(wait),
                |line| eprintln!("{line}"),
            )
            .await?;
            output(target.json, &report, || {
                bridgectl::catalog::report_text(&report, 50)
            })?;
            // Scripts can tell a quarantined file from an applied one.
            Ok(
                if report.status == bridge_domain::ports::ImportStatus::Applied {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(3)
                },
            )
        }
        Command::Sync {
            action:
                SyncAction::Status {
                    pull_state_table,
                    target,
                },
        } => {
            let r = Resolved::new(&target, pull_state_table.is_some()).await?;
            let store = bridge_aws::DynamoPullStateStore::new(
                aws_sdk_dynamodb::Client::new(&r.aws),
                r.name(&pull_state_table, "PullStateTable")?,
            );
            let state = bridge_domain::pull::PullStateStore::load(&store, "erp").await?;
            output(target.json, &state, || {
                bridgectl::sync::status_text(state.as_ref(), chrono::Utc::now())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync {
            action: SyncAction::Pull { target },
        } => {
            let r = Resolved::new(&target, false).await?;
            let (_, file) = r.file.as_ref().context("a pull runs against the local stack; for a deployed stack invoke its DeltaPullFunction (aws lambda invoke)")?;
            let pull = bridgectl::sync::local_pull(file, &r.aws).await?;
            let json = target.json;
            let mut progress = move |summary: &delta_pull::RunSummary| {
                if !json {
                    println!(
                        "page {}: {} changes so far (accepted {}, duplicates {}, rejected {}), cursor {}",
                        summary.pages,
                        summary.changes,
                        summary.accepted,
                        summary.duplicates,
                        summary.rejected,
                        summary.cursor.as_deref().unwrap_or("-")
                    );
                }
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
            let summary = pull.run(deadline, &mut progress).await?;
            if json {
                print_json(&serde_json::json!({
                    "pages": summary.pages, "changes": summary.changes, "accepted": summary.accepted,
                    "duplicates": summary.duplicates, "rejected": summary.rejected,
                    "throttled": summary.throttled, "cursor": summary.cursor,
                }))?;
            } else {
                println!(
                    "pulled {} changes in {} pages: {} queued, {} already known, {} refused (in the dead-letter queues)",
                    summary.changes,
                    summary.pages,
                    summary.accepted,
                    summary.duplicates,
                    summary.rejected
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile {
            action: ReconcileAction::Report { file, max, target },
        } => {
            let r = Resolved::new(&target, target.catalog_bucket.is_some()).await?;
            let files = bridge_aws::S3FileStore::new(
                bridge_aws::s3_client(&r.aws),
                r.name(&target.catalog_bucket, "CatalogBucket")?,
            );
            let key = bridgectl::sync::report_key(&file);
            let body = bridge_domain::ports::FileStore::read(&files, &key)
                .await?
                .with_context(|| {
                    format!("no report {key}: the snapshot was not reconciled (yet)")
                })?;
            let report: serde_json::Value = serde_json::from_slice(&body)?;
            output(target.json, &report, || {
                bridgectl::sync::report_text(&report, max)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Customer { id, target } => {
            let customer = read::customer(&tables(&target).await?, &id).await?;
            output(target.json, &customer, || read::customer_text(&customer))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bridgectl: {err:#}");
            ExitCode::FAILURE
        }
    }
}
