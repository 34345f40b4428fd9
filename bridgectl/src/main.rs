//! `bridgectl`: read prices, stock and customers as the bridge stored them, and run the
//! local stack.

use anyhow::Context;
use bridgectl::dev::{DevOptions, LocalStack};
use bridgectl::read::{self, Tables};
use bridgectl::stackfile::{StackFile, find_root};
use clap::{Args, Parser, Subcommand};
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
}

async fn tables(target: &Target) -> anyhow::Result<Tables> {
    if let (Some(stock), Some(price), Some(customer)) = (
        &target.stock_table,
        &target.price_table,
        &target.customer_table,
    ) {
        // A deployed stack: credentials, region and endpoint from the usual AWS settings.
        let aws = bridge_aws::load_config().await;
        return Ok(Tables::new(
            aws_sdk_dynamodb::Client::new(&aws),
            stock,
            price,
            customer,
        ));
    }
    let path = match &target.stack_file {
        Some(path) => path.clone(),
        None => StackFile::default_path(&find_root()?),
    };
    let file = StackFile::read(&path)?;
    let aws = bridge_infra::local_sdk_config(&file.endpoint, &file.region).await;
    let table = |id: &str| {
        file.table(id)
            .map(str::to_string)
            .with_context(|| format!("{} has no {id}", path.display()))
    };
    Ok(Tables::new(
        aws_sdk_dynamodb::Client::new(&aws),
        &table("StockTable")?,
        &table("PriceTable")?,
        &table("CustomerTable")?,
    ))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
                Some(text) => read::parse_at(&text)?,
                None => chrono::Utc::now(),
            };
            let answer = read::price(&tables(&target).await?, &customer, &sku, &qty, at).await?;
            if target.json {
                print_json(&answer)?;
            } else {
                print!("{}", answer.text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stock { sku, target } => {
            let levels = read::stock(&tables(&target).await?, &sku).await?;
            if target.json {
                print_json(&levels)?;
            } else {
                print!("{}", read::stock_text(&sku, &levels));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Customer { id, target } => {
            let customer = read::customer(&tables(&target).await?, &id).await?;
            if target.json {
                print_json(&customer)?;
            } else {
                print!("{}", read::customer_text(&customer));
            }
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
