//! `.local/stack.json`: what the running local stack is, for people and for the other
//! bridgectl commands.

use bridge_infra::Stack;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackFile {
    /// The AWS endpoint (the moto server).
    pub endpoint: String,
    pub region: String,
    /// `http://127.0.0.1:<port>/webhooks/{source}`.
    pub webhook_url: String,
    /// Per-source `whsec_` signing secrets.
    pub signing_secrets: BTreeMap<String, Vec<String>>,
    /// The ERP the order writeback talks to (the bundled simulator unless ERP_BASE_URL).
    #[serde(default)]
    pub erp_base_url: String,
    /// Queues (URL, ARN), tables, buckets and secrets by template logical id.
    pub stack: Stack,
}

impl StackFile {
    pub fn default_path(root: &Path) -> PathBuf {
        root.join(".local/stack.json")
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(
            path,
            serde_json::to_string_pretty(self).expect("serializes"),
        )
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {} ({e}); start the local stack with `bridgectl dev`, or name the tables with --stock-table/--price-table/--customer-table for a deployed stack",
                path.display()
            )
        })?;
        Ok(serde_json::from_str(&text)?)
    }

    pub fn table(&self, logical_id: &str) -> Option<&str> {
        self.stack.tables.get(logical_id).map(String::as_str)
    }
}

/// The repository root: the nearest directory upwards holding `template.yaml`.
pub fn find_root() -> anyhow::Result<PathBuf> {
    let start = std::env::current_dir()?;
    start
        .ancestors()
        .find(|dir| dir.join("template.yaml").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no template.yaml in {} or above; run bridgectl inside the project",
                start.display()
            )
        })
}
