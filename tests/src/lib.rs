//! Test harness: one moto server per test process (or the one `BRIDGE_TEST_ENDPOINT`
//! names), a fresh copy of the template's resources per test, the reference Python signer,
//! and a minimal Lambda runtime API for running the function binaries.

pub mod memory;
pub mod runtime_api;

use bridge_infra::{MotoServer, Stack, Template};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const REGION: &str = "us-east-1";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

static VENV: OnceLock<PathBuf> = OnceLock::new();
static MOTO: OnceLock<(String, Option<MotoServer>)> = OnceLock::new();

/// The project's venv, created on first use by the project's own script.
pub fn venv() -> &'static Path {
    VENV.get_or_init(|| {
        bridge_infra::moto::ensure_venv(&repo_root()).expect("the Python venv installs")
    })
}

/// The emulator endpoint: `BRIDGE_TEST_ENDPOINT` if set (the test script starts one
/// moto for all test binaries), else a moto server of this process.
pub fn endpoint() -> &'static str {
    &MOTO
        .get_or_init(|| {
            if let Ok(endpoint) = std::env::var("BRIDGE_TEST_ENDPOINT") {
                return (endpoint, None);
            }
            let log = repo_root().join(format!("target/moto-{}.log", std::process::id()));
            let server = MotoServer::start(venv(), None, &log).expect("moto starts");
            (server.endpoint.clone(), Some(server))
        })
        .0
}

static SHOP: OnceLock<(String, Option<bridge_infra::ctmock::CommercetoolsMock>)> = OnceLock::new();

/// The commercetools emulator: `BRIDGE_CTMOCK_URL` if set (the test script starts one for
/// all test binaries), else one of this process. Any project key works there: a test takes
/// its own ([`unique`]) so that tests never see each other's resources.
pub fn shop_emulator() -> &'static str {
    &SHOP
        .get_or_init(|| {
            if let Ok(url) = std::env::var("BRIDGE_CTMOCK_URL") {
                return (url, None);
            }
            let log = repo_root().join(format!("target/ctmock-{}.log", std::process::id()));
            let mock = bridge_infra::ctmock::CommercetoolsMock::start(&repo_root(), &log)
                .expect("the commercetools emulator starts");
            (mock.url.clone(), Some(mock))
        })
        .0
}

pub async fn sdk() -> aws_config::SdkConfig {
    bridge_infra::local_sdk_config(endpoint(), REGION).await
}

/// A unique short name, so that tests running in parallel never share a resource.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// The template's resources, freshly created under a unique name.
pub struct TestStack {
    pub stack: Stack,
    pub sdk: aws_config::SdkConfig,
    pub template: Template,
    /// Signing secrets per source, as stored in the stack's secret.
    pub signing: BTreeMap<String, Vec<String>>,
}

impl TestStack {
    /// `signing`: the secret JSON per source (e.g. two erp secrets to test rotation).
    pub async fn with_secrets(signing: BTreeMap<String, Vec<String>>) -> Self {
        let sdk = sdk().await;
        let template = Template::load(&repo_root().join("template.yaml")).expect("template loads");
        let secret = serde_json::to_string(&signing).expect("serializes");
        // The read API's keys have a shape of their own: that secret keeps its template
        // value (no client yet); the others hold the signing secrets (the ERP token and the
        // shop client secret are opaque strings to their functions).
        let secret_values = template
            .resources_of("AWS::SecretsManager::Secret")
            .filter(|r| r.logical_id != "ShopApiKeysSecret")
            .map(|r| (r.logical_id.clone(), secret.clone()))
            .collect();
        let stack = Stack::provision(&template, &sdk, &unique("t"), &secret_values)
            .await
            .expect("the template's resources are created");
        // New tables: an empty price table is fully indexed (as after `bridgectl prices
        // reindex` on a deployed stack).
        bridge_aws::DynamoPriceStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            stack.tables["PriceTable"].clone(),
            stack.tables["PriceIndexTable"].clone(),
        )
        .rebuild_index()
        .await
        .expect("the new price index is marked complete");
        Self {
            stack,
            sdk,
            template,
            signing,
        }
    }

    /// The environment the template gives the function running `binary`.
    /// The environment of `binary` with the shop's `CTP_*` settings aimed at a project of
    /// its own on the commercetools emulator, the client secret in Secrets Manager (moto),
    /// as deployed; and that project's key.
    pub async fn environment_with_shop(&self, binary: &str) -> (HashMap<String, String>, String) {
        let shop = shop_emulator();
        let project = unique("bin");
        let secret = unique("ctp-secret");
        aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(&secret)
            .secret_string("local")
            .send()
            .await
            .expect("the secret is created");
        let mut environment = self.environment(binary);
        for (name, value) in [
            ("CTP_API_URL", shop.to_string()),
            ("CTP_AUTH_URL", shop.to_string()),
            ("CTP_PROJECT_KEY", project.clone()),
            ("CTP_CLIENT_ID", "local".to_string()),
            ("CTP_SCOPES", format!("manage_project:{project}")),
            ("CTP_CLIENT_SECRET_ID", secret),
        ] {
            environment.insert(name.to_string(), value);
        }
        (environment, project)
    }

    pub fn environment(&self, binary: &str) -> HashMap<String, String> {
        let function = self
            .template
            .functions()
            .expect("functions parse")
            .into_iter()
            .find(|f| f.binary == binary)
            .unwrap_or_else(|| panic!("no function runs {binary}"));
        self.stack
            .function_environment(&function)
            .expect("environment resolves")
    }

    pub fn queue_url(&self, logical_id: &str) -> &str {
        &self.stack.queues[logical_id].url
    }

    pub fn queue_arn(&self, logical_id: &str) -> &str {
        &self.stack.queues[logical_id].arn
    }

    pub fn table(&self, logical_id: &str) -> &str {
        &self.stack.tables[logical_id]
    }

    pub fn bucket(&self, logical_id: &str) -> &str {
        &self.stack.buckets[logical_id]
    }

    /// Receives (and deletes) every message currently on a queue.
    pub async fn drain_queue(&self, logical_id: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let client = aws_sdk_sqs::Client::new(&self.sdk);
        let mut all = Vec::new();
        loop {
            let messages = client
                .receive_message()
                .queue_url(self.queue_url(logical_id))
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .message_attribute_names("All")
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive works")
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                return all;
            }
            for message in &messages {
                client
                    .delete_message()
                    .queue_url(self.queue_url(logical_id))
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete works");
            }
            all.extend(messages);
        }
    }
}

/// Signs with the reference Python implementation (`standardwebhooks`), returning the
/// `webhook-signature` header value.
pub fn python_sign(secret: &str, webhook_id: &str, timestamp: i64, body: &str) -> String {
    let script = r#"
import sys
from datetime import datetime, timezone
from standardwebhooks.webhooks import Webhook
secret, msg_id, ts = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = sys.stdin.read()
print(Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=timezone.utc), body))
"#;
    let mut child = std::process::Command::new(venv().join("bin/python"))
        .args(["-c", script, secret, webhook_id, &timestamp.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write body");
    let output = child.wait_with_output().expect("python finishes");
    assert!(output.status.success(), "the reference signer failed");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}
