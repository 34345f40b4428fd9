//! The report of one document, written beside the inbox (`logistics/reports/<file>.json`):
//! what each order named in it became, so that nothing in a file is dropped unseen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every order's shipment is on its way to the order (queued, or queued before).
    Processed,
    /// Some orders' shipments are on their way; the entries say why the others are not.
    Incomplete,
    /// The file as a whole could not be used: nothing was sent.
    Refused,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Processed => "processed",
            Status::Incomplete => "incomplete",
            Status::Refused => "refused",
        }
    }
}

/// What became of one order's part of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryOutcome {
    /// Handed to the intake: on the order status queue.
    Queued,
    /// Handed over before (the same document read again).
    Duplicate,
    /// No order of this id is known (or the id is no valid order id).
    UnknownOrder,
    /// The order is stored but cannot be read.
    UnreadableOrder,
    /// Items without `ORDER_REFERENCE/ORDER_ID`.
    NoOrderReference,
    /// An item matches no single line of the order.
    UnknownLine,
    /// An item's sku is not that of the line it names.
    SkuMismatch,
    InvalidQuantity,
    /// An item's unit is not the order's (pieces, `C62`).
    UnitMismatch,
    /// The intake refused the shipment (the contract's rules).
    Invalid,
    /// The same notification id and revision was handed over with other content before; or
    /// the ERP answered the order before, differently (the first answer stands).
    Conflict,
    /// The ERP declined the order: its answer is recorded and the writeback rejects the
    /// order (dead-lettered with the ERP's reasons, alarmed).
    Declined,
    /// An invoice counted in its customer's open items.
    OpenItemsAdjusted,
    /// An invoice naming an order of another customer: that order is left alone.
    CustomerMismatch,
    /// An invoice for a customer the bridge does not know: not counted.
    UnknownCustomer,
    /// An invoice in another currency than its customer's credit: not counted.
    CurrencyMismatch,
}

impl EntryOutcome {
    pub fn is_handed_over(&self) -> bool {
        matches!(
            self,
            EntryOutcome::Queued
                | EntryOutcome::Duplicate
                | EntryOutcome::Declined
                | EntryOutcome::OpenItemsAdjusted
        )
    }

    pub fn of_line_problem(reason: &str) -> Self {
        match reason {
            "sku_mismatch" => EntryOutcome::SkuMismatch,
            "invalid_quantity" => EntryOutcome::InvalidQuantity,
            "unit_mismatch" => EntryOutcome::UnitMismatch,
            _ => EntryOutcome::UnknownLine,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The order reference as the document gives it (`None`: items without one).
    pub order_id: Option<String>,
    pub outcome: EntryOutcome,
    /// The items' places in the document.
    pub items: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub items: usize,
    pub orders: usize,
    pub queued: usize,
    pub duplicates: usize,
    /// Orders (or item groups) not handed over.
    pub problems: usize,
}

impl DocumentReport {
    /// Adds what became of one order's part, counted and logged.
    pub fn add_entry(&mut self, entry: Entry, metrics: &mut bridge_lambda::Metrics) {
        match entry.outcome {
            EntryOutcome::Queued => self.counts.queued += 1,
            EntryOutcome::Duplicate => self.counts.duplicates += 1,
            EntryOutcome::Declined | EntryOutcome::OpenItemsAdjusted => {}
            EntryOutcome::CustomerMismatch => {
                metrics.add("UnmatchedItems", 1);
                self.counts.problems += 1;
            }
            EntryOutcome::UnknownCustomer | EntryOutcome::CurrencyMismatch => {
                metrics.add("OpenItemsNotAdjusted", 1);
                self.counts.problems += 1;
            }
            EntryOutcome::UnknownOrder
            | EntryOutcome::NoOrderReference
            | EntryOutcome::UnreadableOrder => {
                metrics.add("UnknownOrderReferences", 1);
                self.counts.problems += 1;
            }
            _ => {
                metrics.add("UnmatchedItems", 1);
                self.counts.problems += 1;
            }
        }
        if !entry.outcome.is_handed_over() {
            tracing::warn!(kind = %self.kind, order_id = entry.order_id.as_deref(), outcome = ?entry.outcome, message = entry.message.as_deref().unwrap_or_default(), "part of the document not handed over");
        }
        self.entries.push(entry);
    }

    /// Processed when every part was handed over, else incomplete.
    pub fn conclude(&mut self) {
        self.status = if self.counts.problems == 0 {
            Status::Processed
        } else {
            Status::Incomplete
        };
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentReport {
    pub file: String,
    /// The S3 version read (a redelivered notification of it is not read again).
    pub version: Option<String>,
    /// `dispatch_notification`, `order_response`, `invoice`, or `erp_document` (refused
    /// before its kind was known).
    pub kind: String,
    pub status: Status,
    /// Why the file was refused (`code: message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The notification's id (the shipment id) and the revision its shipments carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_code: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub counts: Counts,
    pub entries: Vec<Entry>,
}
