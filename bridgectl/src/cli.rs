//! What every command shares: which stack it reads (`Target`, resolved to a deployed
//! stack's names or the local stack's file) and how it prints its answer (`output`).

use crate::stackfile::{StackFile, find_root};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Clone)]
pub struct Target {
    /// The local stack's file (default: .local/stack.json in the project).
    #[arg(long, global = true)]
    pub stack_file: Option<PathBuf>,
    /// Stock table of a deployed stack (instead of the local stack's).
    #[arg(long, env = "BRIDGE_STOCK_TABLE", global = true)]
    pub stock_table: Option<String>,
    /// Price table of a deployed stack.
    #[arg(long, env = "BRIDGE_PRICE_TABLE", global = true)]
    pub price_table: Option<String>,
    /// Customer table of a deployed stack.
    #[arg(long, env = "BRIDGE_CUSTOMER_TABLE", global = true)]
    pub customer_table: Option<String>,
    /// Product table of a deployed stack.
    #[arg(long, env = "BRIDGE_PRODUCT_TABLE", global = true)]
    pub product_table: Option<String>,
    /// Import table of a deployed stack.
    #[arg(long, env = "BRIDGE_IMPORT_TABLE", global = true)]
    pub import_table: Option<String>,
    /// Catalog bucket of a deployed stack.
    #[arg(long, env = "BRIDGE_CATALOG_BUCKET", global = true)]
    pub catalog_bucket: Option<String>,
    /// Name prefix of a deployed stack's queues (usually the stack name).
    #[arg(long, env = "BRIDGE_QUEUE_PREFIX", global = true)]
    pub queue_prefix: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Where the commands read: a deployed stack (names given, usual AWS settings) or the
/// local stack's file.
pub struct Resolved {
    pub aws: aws_config::SdkConfig,
    pub file: Option<(PathBuf, StackFile)>,
}

impl Resolved {
    pub async fn new(target: &Target, deployed: bool) -> anyhow::Result<Self> {
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
    pub fn name(&self, given: &Option<String>, logical_id: &str) -> anyhow::Result<String> {
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

/// Every command's answer: `value` as JSON with `--json`, else the text for people.
pub fn output(
    json: bool,
    value: &impl serde::Serialize,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", text());
    }
    Ok(())
}
