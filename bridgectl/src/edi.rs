//! The ERP's EDI converter as the local stack runs it for a stack whose ERP takes documents
//! (`ERP_CONNECTOR=opentrans`, contract section 9): it picks up each ORDER document from the
//! catalog bucket's `erp/outbox/orders/`, hands it to the ERP (the simulator's
//! `POST /documents/orders`), drops the ERP's ORDERRESPONSE into `erp/inbox/` and deletes the
//! document it picked up, as converters do. An ERP that is down or failing leaves the
//! document where it is, for the next round.

use anyhow::Context;
use bridge_contract::opentrans::response::ORDER_OUTBOX;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the converter drops the ERP's answers.
pub const ERP_INBOX: &str = "erp/inbox/";

pub struct Converter {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub erp_base_url: String,
    pub erp_token: String,
    pub http: reqwest::Client,
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub answered: Vec<String>,
    /// Documents left for the next round (the ERP failed).
    pub left: usize,
}

impl Converter {
    /// Hands every document in the outbox to the ERP once.
    pub async fn round(&self) -> anyhow::Result<Round> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(ORDER_OUTBOX)
            .send()
            .await
            .context("listing the ERP outbox")?;
        let mut round = Round::default();
        for object in listed.contents() {
            let Some(key) = object.key() else { continue };
            let document = self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .with_context(|| format!("reading {key}"))?
                .body
                .collect()
                .await
                .with_context(|| format!("reading {key}"))?
                .into_bytes();
            let response = self
                .http
                .post(format!("{}/documents/orders", self.erp_base_url))
                .bearer_auth(&self.erp_token)
                .header("content-type", "application/xml")
                .body(document.to_vec())
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            let answer = match response {
                Ok(response) if response.status().is_success() => response.bytes().await?,
                Ok(response) => {
                    tracing::warn!(document = key, status = %response.status(), "the ERP did not take the document; it stays for the next round");
                    round.left += 1;
                    continue;
                }
                Err(err) => {
                    tracing::warn!(document = key, error = %err, "the ERP cannot be reached; the document stays for the next round");
                    round.left += 1;
                    continue;
                }
            };
            let name = key
                .trim_start_matches(ORDER_OUTBOX)
                .trim_end_matches(".xml");
            let millis = chrono::Utc::now().timestamp_millis();
            let answer_key = format!("{ERP_INBOX}ORDERRESPONSE-{name}-{millis}.xml");
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&answer_key)
                .content_type("application/xml")
                .body(answer.to_vec().into())
                .send()
                .await
                .with_context(|| format!("writing {answer_key}"))?;
            self.s3
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
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
