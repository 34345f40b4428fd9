//! `bridgectl`: read prices, stock and customers as the bridge stored them, and run the
//! local stack. This file is the command line and which module runs each command; the
//! commands live in the library's topic modules (`read`, `dlq`, `catalog`, ...).

use bridgectl::cli::Target;
use bridgectl::dev::{DevOptions, LocalStack};
use bridgectl::stackfile::find_root;
use bridgectl::{catalog, dlq, freshness, orders, postings, read, replay, sync};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// A customer: its master data from the ERP, its contacts from the CRM, its payments.
    Customer {
        id: String,
        /// Contact table of a deployed stack.
        #[arg(long, env = "BRIDGE_CONTACT_TABLE")]
        contact_table: Option<String>,
        /// Posting table (returns, payments, leads) of a deployed stack.
        #[arg(long, env = "BRIDGE_POSTING_TABLE")]
        posting_table: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// A return: where it stands with the ERP (or why it is held), its history.
    Return {
        id: String,
        /// Posting table (returns, payments, leads) of a deployed stack.
        #[arg(long, env = "BRIDGE_POSTING_TABLE")]
        posting_table: Option<String>,
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
    /// The price index the read API reads carts from: `reindex`.
    Prices {
        #[command(subcommand)]
        action: PricesAction,
    },
    /// The shop (commercetools): `status`, `resync` (republish from the tables).
    Shop {
        #[command(subcommand)]
        action: ShopAction,
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
enum ShopAction {
    /// When the shop last caught up with each category and that change's lag, and what
    /// waits in the shop's dead-letter queues (exit 4 when something does).
    Status {
        /// Freshness table of a deployed stack.
        #[arg(long, env = "BRIDGE_FRESHNESS_TABLE")]
        freshness_table: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Publish the tables' records to the shop again (after the shop was restored from a
    /// backup, or to repair records given up on): through the shop sync's connector and
    /// revision guard, so what the shop holds costs reads only and nothing newer there is
    /// overwritten. Progress on stderr; exit 1 when a record failed.
    Resync {
        /// Only these categories (repeatable; default all).
        #[arg(long, value_enum)]
        category: Vec<bridgectl::shop::ResyncCategory>,
        /// Only this sku (products, prices and stock).
        #[arg(long)]
        sku: Option<String>,
        /// Order table of a deployed stack.
        #[arg(long, env = "BRIDGE_ORDER_TABLE")]
        order_table: Option<String>,
        /// Freshness table of a deployed stack (it holds the price groups).
        #[arg(long, env = "BRIDGE_FRESHNESS_TABLE")]
        freshness_table: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum PricesAction {
    /// Copy every price window into the price index and mark it complete, so that the read
    /// API reads carts in batches. Run once after the first deploy that adds
    /// PriceIndexTable, and after restoring the price table; safe beside running writers
    /// and to repeat.
    Reindex {
        /// Price index table of a deployed stack (with --price-table).
        #[arg(long, env = "BRIDGE_PRICE_INDEX_TABLE")]
        price_index_table: Option<String>,
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

/// `bridgectl dev`: the local stack in this process, its functions logging to
/// `.local/functions.log` and `.local/metrics.log`, until Ctrl-C (or the demo's end).
async fn dev(demo: bool, endpoint: Option<String>, port: u16) -> anyhow::Result<ExitCode> {
    let root = find_root()?;
    let local = root.join(".local");
    std::fs::create_dir_all(&local)?;
    let log = std::fs::File::create(local.join("functions.log"))?;
    bridge_lambda::logging::init_with_writer(std::sync::Mutex::new(log));
    bridge_lambda::metrics::redirect(Box::new(std::fs::File::create(local.join("metrics.log"))?));
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
    if let Some(api) = &stack.info.shop_api {
        println!(
            "  shop read API {}/v1 (key of client {} in .local/stack.json)",
            api.url, api.client
        );
        println!("    {}", api.curl_example());
    }
    println!(
        "  shop          {}/{} (commercetools{})",
        stack.shop_settings.api_url,
        stack.shop_settings.project_key,
        if stack.shop.is_some() {
            " emulator"
        } else {
            ""
        }
    );
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

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev {
            demo,
            endpoint,
            port,
        } => dev(demo, endpoint, port).await,
        Command::Price {
            customer,
            sku,
            qty,
            at,
            target,
        } => read::run_price(&target, &customer, &sku, &qty, at.as_deref()).await,
        Command::Stock { sku, target } => read::run_stock(&target, &sku).await,
        Command::Customer {
            id,
            contact_table,
            posting_table,
            target,
        } => read::run_customer(&target, &id, &contact_table, &posting_table).await,
        Command::Return {
            id,
            posting_table,
            target,
        } => postings::run_return(&target, &id, &posting_table).await,
        Command::Product { sku, target } => catalog::run_product(&target, &sku).await,
        Command::Replay {
            webhook_id,
            source,
            queue_url,
            receipt_table,
            target,
        } => {
            replay::run_replay(
                &target,
                &webhook_id,
                source.as_deref(),
                &queue_url,
                &receipt_table,
            )
            .await
        }
        Command::Order {
            id,
            order_table,
            target,
        } => orders::run_order(&target, &id, &order_table).await,
        Command::Freshness {
            sla,
            freshness_table,
            target,
        } => freshness::run_freshness(&target, &sla, &freshness_table).await,
        Command::Sync { action } => match action {
            SyncAction::Pull { target } => sync::run_pull(&target).await,
            SyncAction::Status {
                pull_state_table,
                target,
            } => sync::run_status(&target, &pull_state_table).await,
        },
        Command::Reconcile {
            action: ReconcileAction::Report { file, max, target },
        } => sync::run_reconcile_report(&target, &file, max).await,
        Command::Prices {
            action:
                PricesAction::Reindex {
                    price_index_table,
                    target,
                },
        } => read::run_reindex(&target, &price_index_table).await,
        Command::Shop { action } => match action {
            ShopAction::Status {
                freshness_table,
                target,
            } => bridgectl::shop::run_status(&target, &freshness_table).await,
            ShopAction::Resync {
                category,
                sku,
                order_table,
                freshness_table,
                target,
            } => {
                bridgectl::shop::run_resync(
                    &target,
                    &order_table,
                    &freshness_table,
                    &category,
                    sku.as_deref(),
                )
                .await
            }
        },
        Command::Dlq { action } => match action {
            DlqAction::List { target } => dlq::run_list(&target).await,
            DlqAction::Show {
                queue,
                limit,
                target,
            } => dlq::run_show(&target, &queue, limit).await,
            DlqAction::Redrive {
                queue,
                filter,
                target,
            } => dlq::run_redrive(&target, &queue, filter.as_deref()).await,
        },
        Command::Import {
            action,
            file,
            full,
            wait,
            target,
        } => match action {
            Some(ImportAction::List { target }) => catalog::run_import_list(&target).await,
            Some(ImportAction::Report { file, max, target }) => {
                catalog::run_import_report(&target, &file, max).await
            }
            None => catalog::run_import(&target, file.as_deref(), full, wait).await,
        },
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
