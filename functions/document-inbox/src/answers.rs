//! The ERP's answers to our ORDER documents (contract section 9): an `ORDERRESPONSE` under
//! `erp/inbox/` is recorded once per order (`erp/answers/orders/<order_id>.json`, the
//! connector's lookup reads it) and, when it accepts, handed to the intake as the ERP's
//! `order.status_changed` (`confirmed`, with the ERP's order number, under the documents'
//! revision 0: it fills in until the ERP sends a status itself, whatever its numbering), so
//! that the order leaves `submitted` at once. A decline is
//! recorded only: the writeback's schedule finds it, rejects the order with the ERP's
//! remarks and dead-letters it (alarmed), as a REST ERP's 422.
//!
//! The first answer decides: the same answer again (a redelivery, a copy of the file)
//! changes nothing; another answer for the same order is reported as a conflict and changes
//! nothing either (later news of the order come as statuses, shipments and invoices).

use crate::report::{DocumentReport, Entry, EntryOutcome};
use crate::{DocumentInbox, InboxError};
use bridge_contract::opentrans::response::{OrderResponse, RecordedAnswer, answer_key};
use bridge_domain::EventType;
use bridge_domain::orders::DOCUMENT_REVISION;
use bridge_lambda::Metrics;
use chrono::Utc;
use serde_json::json;
use tracing::{info, warn};

/// The intake's receipt for an answer: the order and the answer's revision.
fn receipt(response: &OrderResponse) -> String {
    let revision = response.revision().to_string();
    crate::document_receipt("response", &[&response.order_id, &revision])
}

impl DocumentInbox {
    /// One ORDERRESPONSE: recorded, and handed over when it accepts.
    pub(crate) async fn answer(
        &self,
        response: &OrderResponse,
        report: &mut DocumentReport,
        metrics: &mut Metrics,
    ) -> Result<(), InboxError> {
        report.document_id = Some(response.order_id.clone());
        report.revision = Some(response.revision());
        report.counts.items = response.items.len();
        report.counts.orders = 1;
        let (outcome, message) = self.answer_order(response, report, metrics).await?;
        report.add_entry(
            Entry {
                order_id: Some(response.order_id.clone()),
                outcome,
                items: (1..=response.items.len()).collect(),
                message,
            },
            metrics,
        );
        report.conclude();
        Ok(())
    }

    async fn answer_order(
        &self,
        response: &OrderResponse,
        report: &DocumentReport,
        metrics: &mut Metrics,
    ) -> Result<(EntryOutcome, Option<String>), InboxError> {
        let order_ref = response.order_id.as_str();
        if let Err(outcome) = self.known_order(order_ref).await? {
            return Ok(outcome);
        }
        let document = format!(
            "{}@{}",
            report.file,
            report.version.as_deref().unwrap_or("current")
        );
        let answer = RecordedAnswer::of(response, document, Utc::now());
        let key = answer_key(order_ref);
        let body = serde_json::to_vec_pretty(&answer).unwrap_or_default();
        let first = if self
            .files
            .create_new(&key, body, "application/json")
            .await?
        {
            info!(order_id = order_ref, accepted = answer.accepted, erp_order_number = answer.erp_order_number.as_deref(), answer = %key, "the ERP's answer recorded");
            true
        } else {
            let Some(bytes) = self.files.read(&key).await? else {
                return Err(InboxError::Read(format!(
                    "{key} was there and is gone; reading the answer again records it"
                )));
            };
            match serde_json::from_slice::<RecordedAnswer>(&bytes) {
                Ok(recorded) if recorded.same_answer(&answer) => false,
                Ok(recorded) => {
                    return Ok((
                        EntryOutcome::Conflict,
                        Some(format!(
                            "the ERP answered order {order_ref} before ({}, {}); this answer differs and changes nothing: the first answer stands",
                            recorded.document,
                            if recorded.accepted {
                                "accepted"
                            } else {
                                "declined"
                            }
                        )),
                    ));
                }
                Err(e) => {
                    return Ok((
                        EntryOutcome::Invalid,
                        Some(format!("the recorded answer {key} is unreadable: {e}")),
                    ));
                }
            }
        };
        if !answer.accepted {
            if first {
                warn!(order_id = order_ref, remarks = ?answer.remarks, "the ERP declined the order; the writeback rejects it");
                metrics.add("OrdersDeclinedByErp", 1);
                return Ok((
                    EntryOutcome::Declined,
                    Some(if answer.remarks.is_empty() {
                        "declined (every item confirmed with 0)".to_string()
                    } else {
                        answer.remarks.join("; ")
                    }),
                ));
            }
            return Ok((EntryOutcome::Duplicate, None));
        }
        // Handed over again when the answer was recorded before: a delivery that died
        // between recording and handing over is completed; the receipt keeps it once.
        // Under the documents' revision: it fills in until the ERP sends a status itself,
        // whatever its numbering (`OrderState::with_status`).
        let mut data = json!({
            "order_id": order_ref,
            "status": "confirmed",
            "revision": DOCUMENT_REVISION.value(),
        });
        if let Some(number) = &answer.erp_order_number {
            data["erp_order_number"] = json!(number);
        }
        let body = json!({
            "type": EventType::OrderStatusChanged.as_str(),
            "timestamp": Utc::now().to_rfc3339(),
            "data": data,
        });
        self.hand_to_intake(
            &self.erp_sender,
            &receipt(response),
            order_ref,
            body,
            || {
                format!(
                    "an answer to order {order_ref} with revision {} was handed over before with other content",
                    response.revision()
                )
            },
            metrics,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_is_the_order_and_the_answers_revision() {
        let answer = |order: &str, generated: &str| OrderResponse {
            order_id: order.into(),
            erp_order_number: Some("AB-1".into()),
            date: bridge_contract::opentrans::datetime("2026-12-07T09:00:00Z").unwrap(),
            generated_at: bridge_contract::opentrans::datetime(generated),
            items: Vec::new(),
            remarks: Vec::new(),
        };
        let first = answer("SO-1", "2026-12-07T09:00:00Z");
        assert_eq!(receipt(&first), receipt(&first.clone()));
        assert_ne!(
            receipt(&first),
            receipt(&answer("SO-2", "2026-12-07T09:00:00Z"))
        );
        assert_ne!(
            receipt(&first),
            receipt(&answer("SO-1", "2026-12-07T09:05:00Z"))
        );
    }
}
