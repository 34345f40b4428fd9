//! The openTRANS ERP connector (contract section 9), for ERPs that take documents: each
//! order is written once as an openTRANS 2.1 `ORDER` to `erp/outbox/orders/<order_id>.xml`,
//! where the ERP's EDI converter picks it up; its `ORDERRESPONSE` comes back through the
//! document inbox, which records it (`erp/answers/orders/<order_id>.json`) and hands the
//! acceptance over as the ERP's `order.status_changed`.
//!
//! At most one document per order, whatever crashes: the write is conditional (an object
//! there already is never replaced), and the lookup before any resend counts an outbox key
//! that was ever written, even one the converter deleted when it picked the file up. So a
//! crash between writing the document and recording it leaves that one document; and if it
//! could be written again with other content (the customer's terms changed meanwhile), the
//! first one stands and the difference is reported, not sent.

use async_trait::async_trait;
use bridge_contract::opentrans::order::{Agreement, OrderDocument, write};
use bridge_contract::opentrans::response::{RecordedAnswer, answer_key, order_document_key};
use bridge_domain::PortError;
use bridge_domain::error::cause_chain;
use bridge_domain::events::OrderPlaced;
use bridge_domain::ids::OrderId;
use bridge_domain::ports::{CustomerStore, ErpError, ErpLookup, ErpOrders, ErpReceipt, FileStore};
use std::sync::Arc;
use tracing::{error, info};

pub struct DocumentErp {
    files: Arc<dyn FileStore>,
    customers: Arc<dyn CustomerStore>,
    /// Our company's id as the ERP knows it (`ERP_SUPPLIER_ID`).
    supplier_id: String,
}

impl DocumentErp {
    pub fn new(
        files: Arc<dyn FileStore>,
        customers: Arc<dyn CustomerStore>,
        supplier_id: impl Into<String>,
    ) -> Self {
        Self {
            files,
            customers,
            supplier_id: supplier_id.into(),
        }
    }

    /// The ORDER document of `order` as it would be written now.
    pub async fn document(&self, order: &OrderPlaced) -> Result<Vec<u8>, ErpError> {
        let customer = self
            .customers
            .customer(&order.customer_id)
            .await
            .map_err(unavailable)?;
        let Some(customer) = customer else {
            // The checks passed with the customer: it was removed since. Refused for good,
            // like a rejection by the ERP (dead-lettered with the reason, paged).
            return Err(ErpError::Rejected {
                errors: vec![format!(
                    "customer {} is not stored; an ORDER document needs its name and terms",
                    order.customer_id
                )],
            });
        };
        let agreement = customer.framework_agreement.as_ref().map(|a| Agreement {
            id: a.id.clone(),
            // openTRANS wants an end: an open-ended agreement gets the far end of xsd:date.
            ends: a
                .valid_until
                .or(chrono::NaiveDate::from_ymd_opt(9999, 12, 31))
                .unwrap_or_default(),
        });
        let document = OrderDocument {
            order,
            buyer_name: &customer.name,
            supplier_id: &self.supplier_id,
            payment_terms: customer.payment_terms.as_deref(),
            delivery_terms: customer.delivery_terms.as_ref(),
            agreement: agreement.as_ref(),
        };
        write(&document).map(String::into_bytes).map_err(|e| {
            // The order (or the customer's data) cannot make a valid document: like a
            // rejection by the ERP, for good and with the field that is wrong.
            ErpError::Rejected {
                errors: vec![format!("not writable as an openTRANS ORDER: {e}")],
            }
        })
    }
}

fn unavailable(err: PortError) -> ErpError {
    ErpError::Transient(cause_chain(&err))
}

#[async_trait]
impl ErpOrders for DocumentErp {
    async fn create(&self, order: &OrderPlaced) -> Result<ErpReceipt, ErpError> {
        let bytes = self.document(order).await?;
        let key = order_document_key(order.order_id.as_str());
        if self
            .files
            .create_new(&key, bytes.clone(), "application/xml")
            .await
            .map_err(unavailable)?
        {
            info!(order_id = %order.order_id, document = %key, "ORDER document written for the ERP");
            return Ok(ErpReceipt::Sent);
        }
        // Written before (a retry after a crash, another delivery): that one stands.
        match self.files.read(&key).await.map_err(unavailable)? {
            Some(existing) if existing != bytes => {
                error!(order_id = %order.order_id, document = %key, "the outbox holds another ORDER document for this order; it stands and is not replaced");
                Err(ErpError::Conflict(format!(
                    "{key} was written before with other content (the customer's data changed since?); that document stands and the ERP answers to it"
                )))
            }
            // The same document, or picked up by the converter meanwhile.
            _ => Ok(ErpReceipt::Sent),
        }
    }

    async fn find(&self, order_id: &OrderId) -> Result<ErpLookup, ErpError> {
        let answer_key = answer_key(order_id.as_str());
        if let Some(bytes) = self.files.read(&answer_key).await.map_err(unavailable)? {
            let answer: RecordedAnswer = serde_json::from_slice(&bytes).map_err(|e| {
                ErpError::Transient(format!(
                    "the recorded answer {answer_key} is unreadable: {e}"
                ))
            })?;
            return Ok(match (answer.accepted, answer.erp_order_number) {
                (true, Some(number)) => ErpLookup::Accepted(number),
                // Accepted without a number: the ERP has it, its number comes with a status.
                (true, None) => ErpLookup::Pending,
                (false, _) => ErpLookup::Declined(if answer.remarks.is_empty() {
                    vec![format!(
                        "the ERP declined the order (ORDERRESPONSE {})",
                        answer.document
                    )]
                } else {
                    answer.remarks
                }),
            });
        }
        let written = self
            .files
            .ever_written(&order_document_key(order_id.as_str()))
            .await
            .map_err(unavailable)?;
        Ok(if written {
            ErpLookup::Pending
        } else {
            ErpLookup::Unknown
        })
    }
}
