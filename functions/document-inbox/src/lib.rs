//! Documents partners drop into the catalog bucket (contract section 8): each openTRANS
//! `DISPATCHNOTIFICATION` under `logistics/inbox/` becomes the `shipment.updated` of every
//! order it names, handed to the intake as the `logistics` source's event. So a document
//! takes the path of a carrier's webhook: the same validation, receipts and queue, then
//! the order writeback's revision guard per shipment and its refusal of over-shipments.
//!
//! Nothing in a file is dropped unseen: a report per version of a file
//! (`logistics/reports/<file>@<version>.json`; the version S3 notified, so a file name a
//! partner uses again loses no upload) says what each order's part became; unknown order references, items that match no
//! line of their order, and refused files are listed there, logged, counted
//! (`DocumentProblems`) and alarmed. A file is read as a stream (`bridge_contract::xml`: no
//! DTD, no entities, a budget per token, at most `MAX_ITEMS` items held).
//!
//! A notification read again (a redelivery, a re-upload) hands over the same events under
//! the same receipts: duplicates, nothing twice. The receipt is the notification's id, the
//! order and the revision, so a correction sent with a later `GENERATION_DATE` is new.

pub mod answers;
pub mod invoices;
pub mod report;
pub mod wiring;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use bridge_contract::opentrans::dispatch::{self, DispatchNotification};
use bridge_contract::opentrans::invoice::{self, Invoice};
use bridge_contract::opentrans::response::{self, OrderResponse};
use bridge_contract::opentrans::{DocumentError, ROOT_LOOKAHEAD, root_element};
use bridge_domain::error::cause_chain;
use bridge_domain::ports::{CustomerStore, FileStore, MessageQueue, OrderStore, StoredOrder};
use bridge_domain::{EventType, OrderId, PortError, Sender};
use bridge_lambda::batch::BatchFailed;
use bridge_lambda::{BatchSettings, MessageError, MessageOutcome, Metrics};
use chrono::Utc;
use report::{Counts, DocumentReport, Entry, EntryOutcome, Status};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use tracing::{Instrument, info, warn};
use webhook_intake::{Accepted, EventIntake};

pub const FUNCTION_NAME: &str = "document-inbox";
/// Where logistics partners drop DISPATCHNOTIFICATION files.
pub const LOGISTICS_INBOX: &str = "logistics/inbox/";
pub const LOGISTICS_REPORTS: &str = "logistics/reports/";
/// Where the ERP's EDI converter drops its answers to our ORDER documents (section 9).
pub const ERP_INBOX: &str = "erp/inbox/";
pub const ERP_INBOX_REPORTS: &str = "erp/reports/inbox/";
/// Each inbox with its reports.
const INBOXES: [(&str, &str); 2] = [
    (LOGISTICS_INBOX, LOGISTICS_REPORTS),
    (ERP_INBOX, ERP_INBOX_REPORTS),
];

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error(transparent)]
    Port(#[from] PortError),
    /// The file's stream broke (the file may be fine).
    #[error("reading the document failed: {0}")]
    Read(String),
    #[error("{0} is not under {LOGISTICS_INBOX} or {ERP_INBOX}")]
    NotInInbox(String),
    /// The intake could not make a shipment durable, or another delivery holds it.
    #[error("the intake could not take the shipment of order {order_id}: {reason}")]
    Intake { order_id: String, reason: String },
    #[error("the reading task failed: {message}")]
    Task { panicked: bool, message: String },
}

impl InboxError {
    pub fn is_retryable(&self) -> bool {
        match self {
            InboxError::Port(e) => e.is_retryable(),
            InboxError::Read(_) | InboxError::Intake { .. } => true,
            InboxError::Task { panicked, .. } => !panicked,
            InboxError::NotInInbox(_) => false,
        }
    }
}

/// The report key of one version of a document: its path below the inbox, under the
/// reports, with the version (one report per version: a file name a partner uses again
/// keeps every upload's report).
pub fn report_key(key: &str, version: Option<&str>) -> Option<String> {
    let (relative, reports) = INBOXES
        .iter()
        .find_map(|(inbox, reports)| Some((key.strip_prefix(inbox)?, reports)))?;
    (!relative.is_empty() && !relative.ends_with('/')).then(|| match version {
        Some(version) => format!("{reports}{relative}@{version}.json"),
        None => format!("{reports}{relative}.json"),
    })
}

/// A document as read.
enum Document {
    Dispatch(DispatchNotification),
    Response(OrderResponse),
    Invoice(Invoice),
}

/// Reads a document with the reader its inbox and root element call for: a logistics
/// partner's file is a DISPATCHNOTIFICATION; the ERP's inbox takes ORDERRESPONSE and
/// INVOICE.
fn read_any(
    mut input: Box<dyn std::io::Read + Send>,
    from_erp: bool,
) -> Result<Document, DocumentError> {
    use std::io::Read;
    if !from_erp {
        return dispatch::read(Box::new(std::io::BufReader::new(input))).map(Document::Dispatch);
    }
    let mut head = Vec::new();
    (&mut input)
        .take(ROOT_LOOKAHEAD)
        .read_to_end(&mut head)
        .map_err(|e| DocumentError::new("read_failed", e.to_string()))?;
    let root = root_element(&head);
    let stream = Box::new(std::io::BufReader::new(
        std::io::Cursor::new(head).chain(input),
    ));
    match root.as_deref() {
        Some("ORDERRESPONSE") => response::read(stream).map(Document::Response),
        Some("INVOICE") => invoice::read(stream).map(Document::Invoice),
        other => Err(DocumentError::new(
            "unexpected_document",
            format!(
                "{ERP_INBOX} takes openTRANS ORDERRESPONSE and INVOICE documents; this one's root element is {}",
                other.unwrap_or("not found (no XML?)")
            ),
        )),
    }
}

/// The intake's receipt of what a document says: `opentrans-<kind>-` and a hash of the
/// facts that make it one event (the same facts again are a duplicate).
pub(crate) fn document_receipt(kind: &str, facts: &[&str]) -> String {
    let digest = Sha256::digest(facts.join("\n"));
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("opentrans-{kind}-{hex}")
}

/// The intake's receipt for one order's shipment out of one notification revision.
fn receipt(document: &DispatchNotification, order_id: &str) -> String {
    let revision = document.revision().to_string();
    document_receipt("dispatch", &[&document.id, order_id, &revision])
}

pub struct DocumentInbox {
    files: Arc<dyn FileStore>,
    orders: Arc<dyn OrderStore>,
    customers: Arc<dyn CustomerStore>,
    intake: Arc<dyn EventIntake>,
    /// The source the shipments come in as (`logistics`): allowed `shipment.updated`.
    sender: Sender,
    /// The source the ERP's answers come in as (`erp`): allowed `order.status_changed`.
    erp_sender: Sender,
    queue: Arc<dyn MessageQueue>,
    dead_letter_queue: String,
    max_receive_count: u32,
}

pub use webhook_intake::handover::SourceError;

/// The sender documents come in as, checked: it exists and may send `shipment.updated`.
pub fn shipment_sender(found: Option<Sender>, source: &str) -> Result<Sender, SourceError> {
    webhook_intake::handover::checked_sender(
        found,
        wiring::DOCUMENT_SOURCE,
        source,
        EventType::ShipmentUpdated,
    )
}

/// The sender the ERP's answers come in as, checked: it exists and may send
/// `order.status_changed`.
pub fn answer_sender(found: Option<Sender>, source: &str) -> Result<Sender, SourceError> {
    webhook_intake::handover::checked_sender(
        found,
        wiring::ERP_DOCUMENT_SOURCE,
        source,
        EventType::OrderStatusChanged,
    )
}

/// The sources documents come in as.
#[derive(Debug, Clone, Copy)]
pub struct DocumentSources<'a> {
    /// Dispatch notifications' shipments (`logistics`).
    pub logistics: &'a str,
    /// The ERP's answers (`erp`).
    pub erp: &'a str,
}

pub struct InboxPorts {
    pub files: Arc<dyn FileStore>,
    pub orders: Arc<dyn OrderStore>,
    /// The customers whose open items invoices change.
    pub customers: Arc<dyn CustomerStore>,
    pub intake: Arc<dyn EventIntake>,
    pub queue: Arc<dyn MessageQueue>,
}

impl DocumentInbox {
    pub fn new(
        ports: InboxPorts,
        sources: DocumentSources<'_>,
        dead_letter_queue: String,
        max_receive_count: u32,
    ) -> Result<Self, SourceError> {
        let sender = shipment_sender(ports.intake.sender(sources.logistics), sources.logistics)?;
        let erp_sender = answer_sender(ports.intake.sender(sources.erp), sources.erp)?;
        Ok(Self {
            files: ports.files,
            orders: ports.orders,
            customers: ports.customers,
            intake: ports.intake,
            sender,
            erp_sender,
            queue: ports.queue,
            dead_letter_queue,
            max_receive_count,
        })
    }

    /// Handles one SQS batch (S3 notifications, or `{"document": key}` to read one again)
    /// and emits its metrics.
    pub async fn handle_batch(&self, event: SqsEvent) -> Result<SqsBatchResponse, BatchFailed> {
        let (result, mut metrics) = self.process(event).await;
        metrics.flush();
        result
    }

    pub async fn process(
        &self,
        event: SqsEvent,
    ) -> (Result<SqsBatchResponse, BatchFailed>, Metrics) {
        let mut metrics = Metrics::new(FUNCTION_NAME);
        let settings = BatchSettings {
            function: FUNCTION_NAME,
            dead_letter_queue: &self.dead_letter_queue,
            max_receive_count: self.max_receive_count,
            queue: self.queue.as_ref(),
            backoff: None,
        };
        let counts = Mutex::new(Vec::new());
        let result = bridge_lambda::process_batch(event, &settings, &mut metrics, |message| {
            self.handle_message(message, &counts)
        })
        .await;
        for one in counts.into_inner().unwrap_or_else(|p| p.into_inner()) {
            metrics.absorb(one);
        }
        (result, metrics)
    }

    async fn handle_message(
        &self,
        message: SqsMessage,
        counts: &Mutex<Vec<Metrics>>,
    ) -> Result<MessageOutcome, MessageError> {
        let objects = bridge_lambda::s3_events::objects_of_message(
            message.body.as_deref().unwrap_or_default(),
            "document",
        )?;
        let mut last: MessageOutcome = "Ignored";
        for object in objects {
            let key = object.key;
            let span = tracing::info_span!("document", function = FUNCTION_NAME, file = %key, version = object.version.as_deref().unwrap_or_default(), correlation_id = %key);
            let mut metrics = Metrics::new(FUNCTION_NAME);
            let read = self
                .read_document(&key, object.version.as_deref(), &mut metrics)
                .instrument(span)
                .await;
            counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(metrics);
            last = match read {
                Ok(Some(_)) => "DocumentRead",
                Ok(None) => "DocumentGone",
                Err(err) => {
                    let message = match &err {
                        InboxError::Port(e) => cause_chain(e),
                        other => other.to_string(),
                    };
                    return Err(if err.is_retryable() {
                        MessageError::retryable("document_unavailable", message)
                    } else {
                        MessageError::permanent("document_failed", message)
                    });
                }
            };
        }
        Ok(last)
    }

    /// Reads `version` of the document at `key` (the one its notification names; `None`:
    /// the current one), hands its shipments over and writes its report. A version whose
    /// report exists is not read again. `None`: the file is gone (an operator's request for
    /// a deleted file; logged and counted). A notified version that is gone fails
    /// permanently (dead-lettered with the reason).
    pub async fn read_document(
        &self,
        key: &str,
        version: Option<&str>,
        metrics: &mut Metrics,
    ) -> Result<Option<DocumentReport>, InboxError> {
        if report_key(key, None).is_none() {
            return Err(InboxError::NotInInbox(key.to_string()));
        }
        let version = match version {
            Some(version) => Some(version.to_string()),
            None => match self.files.metadata(key).await? {
                Some(metadata) => metadata.version,
                None => {
                    warn!(file = key, "the document is gone: nothing to read");
                    metrics.add("DocumentsGone", 1);
                    return Ok(None);
                }
            },
        };
        let report_key = report_key(key, version.as_deref())
            .ok_or_else(|| InboxError::NotInInbox(key.to_string()))?;
        if version.is_some()
            && let Some(existing) = self.existing_report(&report_key).await?
        {
            info!(file = key, version = ?version, status = existing.status.as_str(), "already read: this version has its report");
            metrics.add("DocumentsAlreadyRead", 1);
            return Ok(Some(existing));
        }
        let started_at = Utc::now();
        let files = self.files.clone();
        let (at, read_version) = (key.to_string(), version.clone());
        let from_erp = key.starts_with(ERP_INBOX);
        let read = tokio::task::spawn_blocking(move || {
            let input = files.open(&at, read_version.as_deref())?;
            // The readers refuse a file above `MAX_DOCUMENT_BYTES` as they stream.
            Ok::<_, PortError>(read_any(input, from_erp))
        })
        .await
        .map_err(|e| InboxError::Task {
            panicked: e.is_panic(),
            message: e.to_string(),
        })??;
        let mut report = DocumentReport {
            file: key.to_string(),
            version,
            kind: if from_erp {
                "erp_document"
            } else {
                "dispatch_notification"
            }
            .into(),
            status: Status::Refused,
            message: None,
            document_id: None,
            revision: None,
            tracking_code: None,
            started_at,
            finished_at: started_at,
            counts: Counts::default(),
            entries: Vec::new(),
        };
        match read {
            Err(err) if err.is_retryable() => return Err(InboxError::Read(err.message)),
            // `code: message`, as the error shows itself.
            Err(err) => report.message = Some(err.to_string()),
            Ok(Document::Dispatch(document)) => {
                self.hand_over(&document, &mut report, metrics).await?
            }
            Ok(Document::Response(response)) => {
                report.kind = "order_response".into();
                self.answer(&response, &mut report, metrics).await?
            }
            Ok(Document::Invoice(invoice)) => {
                report.kind = "invoice".into();
                self.invoice(&invoice, &mut report, metrics).await?
            }
        }
        report.finished_at = Utc::now();
        self.files
            .write(
                &report_key,
                serde_json::to_vec_pretty(&report).unwrap_or_default(),
                "application/json",
            )
            .await?;
        let problems = report.counts.problems;
        match report.status {
            Status::Processed => {
                metrics.add("DocumentsProcessed", 1);
                info!(kind = %report.kind, document_id = report.document_id.as_deref(), queued = report.counts.queued, duplicates = report.counts.duplicates, report = %report_key, "document read")
            }
            Status::Incomplete => {
                metrics.add("DocumentsIncomplete", 1);
                metrics.add("DocumentProblems", 1);
                warn!(kind = %report.kind, document_id = report.document_id.as_deref(), queued = report.counts.queued, problems, report = %report_key, "document read in part: its report names what was not handed over")
            }
            Status::Refused => {
                metrics.add("DocumentsRefused", 1);
                metrics.add("DocumentProblems", 1);
                warn!(kind = %report.kind, message = report.message.as_deref().unwrap_or_default(), report = %report_key, "document refused: nothing handed over")
            }
        }
        Ok(Some(report))
    }

    /// Each order's shipment to the intake; what became of each into the report.
    async fn hand_over(
        &self,
        document: &DispatchNotification,
        report: &mut DocumentReport,
        metrics: &mut Metrics,
    ) -> Result<(), InboxError> {
        report.document_id = Some(document.id.clone());
        report.revision = Some(document.revision());
        report.tracking_code = document.tracking_code.clone();
        report.counts.items = document.items.len();
        let by_order = document.items_by_order();
        report.counts.orders = by_order.keys().filter(|k| k.is_some()).count();
        for (order_ref, items) in by_order {
            let positions: Vec<usize> = items.iter().map(|i| i.position).collect();
            let mut entry = Entry {
                order_id: order_ref.map(str::to_string),
                outcome: EntryOutcome::NoOrderReference,
                items: positions,
                message: None,
            };
            if let Some(order_ref) = order_ref {
                (entry.outcome, entry.message) = self
                    .shipment_of_order(document, order_ref, &items, metrics)
                    .await?;
            } else {
                entry.message = Some("items without ORDER_REFERENCE/ORDER_ID".into());
            }
            report.add_entry(entry, metrics);
        }
        report.conclude();
        Ok(())
    }

    /// The stored order a document names, or the entry outcome saying why there is none.
    async fn known_order(
        &self,
        order_ref: &str,
    ) -> Result<Result<StoredOrder, (EntryOutcome, Option<String>)>, InboxError> {
        let order = match OrderId::parse(order_ref) {
            Ok(id) => match self.orders.get(&id).await {
                Ok(order) => order,
                // This order cannot be read (a record that does not decode): its part is
                // reported, the rest of the file goes on.
                Err(err) if !err.is_retryable() => {
                    return Ok(Err((
                        EntryOutcome::UnreadableOrder,
                        Some(format!(
                            "order {order_ref:?} cannot be read: {}",
                            cause_chain(&err)
                        )),
                    )));
                }
                Err(err) => return Err(err.into()),
            },
            Err(_) => None,
        };
        Ok(order.ok_or_else(|| {
            (
                EntryOutcome::UnknownOrder,
                Some(format!("no order {order_ref:?} is known to the bridge")),
            )
        }))
    }

    /// Hands one event to the intake; what became of it, as an entry outcome. `conflict`
    /// says what to do when the receipt was used with other content.
    async fn hand_to_intake(
        &self,
        sender: &Sender,
        receipt: &str,
        order_ref: &str,
        body: serde_json::Value,
        conflict: impl FnOnce() -> String,
        metrics: &mut Metrics,
    ) -> Result<(EntryOutcome, Option<String>), InboxError> {
        let body = body.to_string();
        let accepted = webhook_intake::handover::accept_waiting(
            self.intake.as_ref(),
            sender,
            receipt,
            order_ref,
            body.as_bytes(),
            metrics,
        )
        .await;
        Ok(match accepted {
            Accepted::Queued => (EntryOutcome::Queued, None),
            Accepted::Duplicate => (EntryOutcome::Duplicate, None),
            Accepted::Invalid(err) => (
                EntryOutcome::Invalid,
                Some(format!(
                    "{} at {}: {}",
                    err.code,
                    err.field.as_deref().unwrap_or("/"),
                    err.message
                )),
            ),
            Accepted::Conflict => (EntryOutcome::Conflict, Some(conflict())),
            Accepted::InFlight => {
                return Err(InboxError::Intake {
                    order_id: order_ref.to_string(),
                    reason: "another delivery of the same document is being handled".into(),
                });
            }
            Accepted::Unavailable => {
                return Err(InboxError::Intake {
                    order_id: order_ref.to_string(),
                    reason: "the queue, receipts or bucket are unavailable".into(),
                });
            }
        })
    }

    async fn shipment_of_order(
        &self,
        document: &DispatchNotification,
        order_ref: &str,
        items: &[&dispatch::DispatchItem],
        metrics: &mut Metrics,
    ) -> Result<(EntryOutcome, Option<String>), InboxError> {
        let order = match self.known_order(order_ref).await? {
            Ok(order) => order,
            Err(outcome) => return Ok(outcome),
        };
        let lines = match dispatch::order_lines(items, &order.order) {
            Ok(lines) => lines,
            Err(problem) => {
                return Ok((
                    EntryOutcome::of_line_problem(problem.reason),
                    Some(problem.message),
                ));
            }
        };
        let body = json!({
            "type": EventType::ShipmentUpdated.as_str(),
            "timestamp": Utc::now().to_rfc3339(),
            "data": document.shipment_data(order_ref, &lines),
        });
        self.hand_to_intake(
            &self.sender,
            &receipt(document, order_ref),
            order_ref,
            body,
            || format!(
                "notification {} revision {} was handed over for this order before with other content; send a correction with a later GENERATION_DATE",
                document.id,
                document.revision()
            ),
            metrics,
        )
        .await
    }

    /// The report written for `report_key`, if one is there and readable.
    async fn existing_report(
        &self,
        report_key: &str,
    ) -> Result<Option<DocumentReport>, InboxError> {
        let Some(bytes) = self.files.read(report_key).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(report) => Ok(Some(report)),
            Err(e) => {
                // Another shape or cut short: reading the document again replaces it.
                warn!(report = report_key, error = %e, "the existing report is unreadable");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;
