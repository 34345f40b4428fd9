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
    /// The shop read API on the same port, with a key that may call every endpoint.
    #[serde(default)]
    pub shop_api: Option<StackShopApi>,
    /// The ERP the order writeback talks to (the bundled simulator unless ERP_BASE_URL).
    #[serde(default)]
    pub erp_base_url: String,
    /// Queues (URL, ARN), tables, buckets and secrets by template logical id.
    pub stack: Stack,
    /// The shop (commercetools project) the shop sync publishes to.
    #[serde(default)]
    pub shop: Option<StackShop>,
}

/// The local stack's shop read API (contract section 7).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackShopApi {
    /// `http://127.0.0.1:<port>`: the paths are `/v1/...`.
    pub url: String,
    pub client: String,
    /// A bearer key of `client`, valid for every endpoint.
    pub key: String,
}

impl StackShopApi {
    /// A `curl` line that works against the running stack.
    pub fn curl_example(&self) -> String {
        format!(
            "curl -s -X POST {}/v1/prices/resolve -H 'authorization: Bearer {}' -H 'content-type: application/json' -d '{{\"customer_id\": \"C-100\", \"lines\": [{{\"sku\": \"SKU-100\", \"quantity\": 12}}]}}'",
            self.url, self.key
        )
    }
}

/// The local stack's shop: the emulator's project (any client credentials work there) or
/// the `CTP_*` project it was started with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackShop {
    pub api_url: String,
    pub auth_url: String,
    pub project_key: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: String,
}

impl StackShop {
    pub fn of(config: &bridge_commercetools::CommercetoolsConfig) -> Self {
        Self {
            api_url: config.api_url.clone(),
            auth_url: config.auth_url.clone(),
            project_key: config.project_key.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.expose().to_string(),
            scopes: config.scopes.clone(),
        }
    }

    pub fn config(&self) -> bridge_commercetools::CommercetoolsConfig {
        bridge_commercetools::CommercetoolsConfig {
            api_url: self.api_url.clone(),
            auth_url: self.auth_url.clone(),
            project_key: self.project_key.clone(),
            client_id: self.client_id.clone(),
            client_secret: bridge_commercetools::ClientSecret::new(self.client_secret.clone()),
            scopes: self.scopes.clone(),
        }
    }
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
