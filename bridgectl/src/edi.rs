//! The ERP's EDI converter as the local stack runs it for a stack whose ERP takes documents
//! (`ERP_CONNECTOR=opentrans`, contract section 9): it picks up each ORDER document from the
//! catalog bucket's `erp/outbox/orders/`, hands it to the ERP (the simulator's
//! `POST /documents/orders`), drops the ERP's ORDERRESPONSE into `erp/inbox/` and deletes the
//! document it picked up, as converters do. An ERP that is down or failing leaves the
//! document where it is, for the next round.

use anyhow::Context;
use bridge_aws::S3FileStore;
use bridge_contract::opentrans::response::ORDER_OUTBOX;
use bridge_domain::ports::FileStore;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the converter drops the ERP's answers.
pub const ERP_INBOX: &str = "erp/inbox/";

pub struct Converter {
    /// The catalog bucket, through the bridge's own file store.
    files: S3FileStore,
    erp_base_url: String,
    erp_token: String,
    http: reqwest::Client,
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub answered: Vec<String>,
    /// Documents left for the next round (the ERP failed).
    pub left: usize,
}

impl Converter {
    pub fn new(s3: aws_sdk_s3::Client, bucket: &str, erp_base_url: &str, erp_token: &str) -> Self {
        Self {
            files: S3FileStore::new(s3, bucket),
            erp_base_url: erp_base_url.to_string(),
            erp_token: erp_token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Hands every document in the outbox to the ERP once.
    pub async fn round(&self) -> anyhow::Result<Round> {
        let listed = self
            .files
            .list(ORDER_OUTBOX)
            .await
            .context("listing the ERP outbox")?;
        let mut round = Round::default();
        for (key, _) in listed {
            let Some(document) = self
                .files
                .read(&key)
                .await
                .with_context(|| format!("reading {key}"))?
            else {
                // Picked up by another round meanwhile.
                continue;
            };
            let response = self
                .http
                .post(format!("{}/documents/orders", self.erp_base_url))
                .bearer_auth(&self.erp_token)
                .header("content-type", "application/xml")
                .body(document)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            let answer = match response {
                Ok(response) if response.status().is_success() => response.bytes().await?,
                Ok(response) => {
                    tracing::warn!(document = %key, status = %response.status(), "the ERP did not take the document; it stays for the next round");
                    round.left += 1;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(document = %key, error = %err, "the ERP cannot be reached; the document stays for the next round");
                    round.left += 1;
                    continue;
                }
            };
            let name = key
                .trim_start_matches(ORDER_OUTBOX)
                .trim_end_matches(".xml");
            let millis = chrono::Utc::now().timestamp_millis();
            let answer_key = format!("{ERP_INBOX}ORDERRESPONSE-{name}-{millis}.xml");
            self.files
                .write(&answer_key, answer.to_vec(), "application/xml")
                .await
                .with_context(|| format!("writing {answer_key}"))?;
            self.files
                .delete(&key)
                .await
                .with_context(|| format!("deleting {key}"))?;
            round.answered.push(answer_key);
        }
        Ok(round)
    }

    /// Rounds every `interval` until shutdown.
    pub fn spawn(self, interval: Duration, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {
                        if let Err(err) = self.round().await {
                            tracing::warn!(error = %format!("{err:#}"), "the EDI converter's round failed");
                        }
                    }
                    _ = shutdown.changed() => return,
                }
            }
        })
    }
}
