//! Reconciliation of an ERP snapshot with the store (contract section 5): the verdict for
//! one record seen on either side, what "the same content" means for stock and prices,
//! and how the tier rows of a price snapshot become one price record.
//!
//! The verdicts, for a record keyed alike on both sides:
//!
//! | snapshot vs store | verdict | written | drift |
//! |---|---|---|---|
//! | store lacks it | `MissingInStore` | yes (revision guard) | `missing_in_store` |
//! | snapshot revision higher | `Newer` | yes (revision guard) | no: the shop was behind |
//! | same revision, same content | `Unchanged` | no | no |
//! | same revision, other content | `ContentMismatch` | no | `content_mismatch` |
//! | store revision higher | `StoreNewer` | no | `store_newer` |
//! | snapshot lacks it | `MissingInSnapshot` | no | `missing_in_snapshot` |
//!
//! A snapshot is the ERP's own export, so a record the store holds at a higher revision,
//! or differently at the same one, means the two systems disagree about a revision: that
//! is drift, not something to overwrite.

use crate::PriceChanged;
use crate::error::InvalidValue;
use crate::events::{PricePer, PriceTier, PriceTiers, StockChanged, ValidityWindow};
use crate::ids::{PriceListId, Sku};
use crate::money::{Currency, UnitCode};
use crate::revision::Revision;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a record is drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Same revision on both sides, different content.
    ContentMismatch,
    /// The snapshot has the record, the store does not (it is applied).
    MissingInStore,
    /// The store has the record, the snapshot does not.
    MissingInSnapshot,
    /// The store holds a higher revision than the ERP's own export.
    StoreNewer,
}

impl DriftKind {
    pub const ALL: [DriftKind; 4] = [
        DriftKind::ContentMismatch,
        DriftKind::MissingInStore,
        DriftKind::MissingInSnapshot,
        DriftKind::StoreNewer,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            DriftKind::ContentMismatch => "content_mismatch",
            DriftKind::MissingInStore => "missing_in_store",
            DriftKind::MissingInSnapshot => "missing_in_snapshot",
            DriftKind::StoreNewer => "store_newer",
        }
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What reconciliation decides for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Same revision, same content: costs no write.
    Unchanged,
    /// The snapshot is newer: applied through the revision guard (not drift).
    Newer,
    /// The store lacks the record: drift, and applied through the revision guard.
    MissingInStore,
    /// Same revision, different content: drift, nothing written.
    ContentMismatch,
    /// The store is newer than the export: drift, nothing written.
    StoreNewer,
    /// Only the store has it: drift, nothing written.
    MissingInSnapshot,
}

impl Verdict {
    /// The drift this verdict reports, if any.
    pub fn drift(&self) -> Option<DriftKind> {
        match self {
            Verdict::Unchanged | Verdict::Newer => None,
            Verdict::MissingInStore => Some(DriftKind::MissingInStore),
            Verdict::ContentMismatch => Some(DriftKind::ContentMismatch),
            Verdict::StoreNewer => Some(DriftKind::StoreNewer),
            Verdict::MissingInSnapshot => Some(DriftKind::MissingInSnapshot),
        }
    }

    /// Whether the snapshot's record is to be written (through the revision guard).
    pub fn applies(&self) -> bool {
        matches!(self, Verdict::Newer | Verdict::MissingInStore)
    }
}

/// A revisioned record that a snapshot and the store can both hold.
pub trait Reconciled {
    fn revision(&self) -> Revision;
    /// Whether the fields a snapshot carries are equal (exact decimals: 10 equals 10.0).
    fn same_content(&self, other: &Self) -> bool;
    /// A record the source removed, kept by the store only to guard its revision: an
    /// export that lacks it agrees with the store.
    fn is_tombstone(&self) -> bool {
        false
    }
}

impl Reconciled for StockChanged {
    fn revision(&self) -> Revision {
        self.revision
    }

    /// A stock snapshot carries the level only (no `as_of`, no next delivery).
    fn same_content(&self, other: &Self) -> bool {
        // Decimal equality is by value: 10 == 10.0.
        self.available.value() == other.available.value()
    }
}

impl Reconciled for PriceChanged {
    fn revision(&self) -> Revision {
        self.revision
    }

    /// Currency, tiers (by value) and validity window. Not `price_unit` / `price_per`: a
    /// snapshot cannot state them (see [`keep_stored_units`]).
    fn same_content(&self, other: &Self) -> bool {
        let tiers = |p: &PriceChanged| {
            p.tiers
                .as_slice()
                .iter()
                .map(|t| (t.min_qty.value(), t.unit_price.value()))
                .collect::<Vec<_>>()
        };
        self.currency == other.currency
            && self.validity == other.validity
            && self.deleted == other.deleted
            && tiers(self) == tiers(other)
    }

    fn is_tombstone(&self) -> bool {
        self.deleted
    }
}

/// The verdict for a key present on at least one side (`None` when on neither).
pub fn classify<T: Reconciled>(snapshot: Option<&T>, stored: Option<&T>) -> Option<Verdict> {
    Some(match (snapshot, stored) {
        (None, None) => return None,
        // A window the ERP deleted is missing from its export by right.
        (None, Some(stored)) if stored.is_tombstone() => return None,
        (None, Some(_)) => Verdict::MissingInSnapshot,
        (Some(_), None) => Verdict::MissingInStore,
        (Some(snapshot), Some(stored)) => {
            let (incoming, current) = (snapshot.revision(), stored.revision());
            if incoming.supersedes(Some(current)) {
                Verdict::Newer
            } else if incoming == current {
                if snapshot.same_content(stored) {
                    Verdict::Unchanged
                } else {
                    Verdict::ContentMismatch
                }
            } else {
                Verdict::StoreNewer
            }
        }
    })
}

/// One row of a price snapshot: one tier of a (price list, sku) record, with the fields
/// every row of the record repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTierRow {
    /// The row's line in the file (1 is the header).
    pub line: u64,
    pub price_list: PriceListId,
    pub sku: Sku,
    pub currency: Currency,
    pub tier: PriceTier,
    pub validity: ValidityWindow,
    pub revision: Revision,
}

/// Why the rows of one price record do not make a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, {field}: {error}")]
pub struct RecordViolation {
    /// The first row that breaks the record.
    pub line: u64,
    /// The column at fault.
    pub field: &'static str,
    pub error: InvalidValue,
}

/// Builds one price record from its tier rows (any order): the rows must agree on
/// currency, validity window and revision, and name each `min_qty` once. The tiers are
/// ordered by `min_qty` and checked by [`PriceTiers::new`], the rule the webhooks obey.
///
/// The record gets the contract's default `price_unit` (C62) and `price_per` (1); before
/// it is written, [`keep_stored_units`] puts the stored record's back.
pub fn assemble_price(mut rows: Vec<PriceTierRow>) -> Result<PriceChanged, RecordViolation> {
    rows.sort_by_key(|r| r.line);
    let Some(first) = rows.first() else {
        return Err(RecordViolation {
            line: 0,
            field: "min_qty",
            error: InvalidValue::new("empty", "a price record needs at least one tier row"),
        });
    };
    let disagree =
        |row: &PriceTierRow, field: &'static str, theirs: String, ours: String| RecordViolation {
            line: row.line,
            field,
            error: InvalidValue::new(
                "inconsistent_record",
                format!(
                    "{field} {theirs} differs from {ours} on line {} of the same price record",
                    first.line
                ),
            ),
        };
    for row in &rows[1..] {
        if row.price_list != first.price_list || row.sku != first.sku {
            // The caller groups rows by key; rows of another key are its bug, reported.
            return Err(disagree(
                row,
                "sku",
                format!("{}/{}", row.price_list, row.sku),
                format!("{}/{}", first.price_list, first.sku),
            ));
        }
        if row.currency != first.currency {
            return Err(disagree(
                row,
                "currency",
                row.currency.to_string(),
                first.currency.to_string(),
            ));
        }
        if row.revision != first.revision {
            return Err(disagree(
                row,
                "revision",
                row.revision.to_string(),
                first.revision.to_string(),
            ));
        }
        if row.validity != first.validity {
            let field = if row.validity.from() != first.validity.from() {
                "valid_from"
            } else {
                "valid_to"
            };
            let show = |w: &ValidityWindow| {
                let bound = |b: Option<chrono::DateTime<chrono::Utc>>| {
                    b.map_or_else(|| "open".to_string(), |t| t.to_rfc3339())
                };
                format!("[{}, {})", bound(w.from()), bound(w.until()))
            };
            return Err(disagree(
                row,
                field,
                show(&row.validity),
                show(&first.validity),
            ));
        }
    }
    let mut tiers: Vec<(u64, PriceTier)> = rows.iter().map(|r| (r.line, r.tier.clone())).collect();
    tiers.sort_by(|a, b| a.1.min_qty.cmp(&b.1.min_qty).then(a.0.cmp(&b.0)));
    for pair in tiers.windows(2) {
        if pair[0].1.min_qty == pair[1].1.min_qty {
            let later = pair[0].0.max(pair[1].0);
            return Err(RecordViolation {
                line: later,
                field: "min_qty",
                error: InvalidValue::new(
                    "duplicate_tier",
                    format!(
                        "min_qty {} appears on lines {} and {} of the same price record",
                        pair[0].1.min_qty,
                        pair[0].0.min(pair[1].0),
                        later
                    ),
                ),
            });
        }
    }
    let tiers = PriceTiers::new(tiers.into_iter().map(|(_, t)| t).collect()).map_err(|v| {
        RecordViolation {
            line: first.line,
            field: "min_qty",
            error: v.error,
        }
    })?;
    Ok(PriceChanged {
        price_list: first.price_list.clone(),
        sku: first.sku.clone(),
        currency: first.currency,
        tiers,
        revision: first.revision,
        price_unit: UnitCode::piece(),
        price_per: PricePer::ONE,
        validity: first.validity,
        deleted: false,
    })
}

/// The record to write for a price snapshot: the snapshot's content with the stored
/// record's `price_unit` and `price_per` (the contract's defaults C62 and 1 for a record
/// the store lacks).
///
/// The export has no columns for them, so it cannot state them. Taking the defaults for a
/// stored record instead would silently turn a price per 100 pieces into a price per
/// piece: a hundredfold price change no one asked for.
pub fn keep_stored_units(
    mut snapshot: PriceChanged,
    stored: Option<&PriceChanged>,
) -> PriceChanged {
    if let Some(stored) = stored {
        snapshot.price_unit = stored.price_unit.clone();
        snapshot.price_per = stored.price_per;
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::UnitPrice;
    use crate::ids::WarehouseId;
    use crate::money::Quantity;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn stock(revision: u64, available: &str) -> StockChanged {
        StockChanged {
            sku: Sku::parse("A-1").unwrap(),
            warehouse: WarehouseId::parse("W1").unwrap(),
            available: Quantity::new(dec(available)).unwrap(),
            revision: Revision::new(revision),
            as_of: None,
            next_delivery: None,
        }
    }

    fn row(line: u64, min_qty: &str, price: &str) -> PriceTierRow {
        PriceTierRow {
            line,
            price_list: PriceListId::parse("PL1").unwrap(),
            sku: Sku::parse("A-1").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            tier: PriceTier {
                min_qty: Quantity::new(dec(min_qty)).unwrap(),
                unit_price: UnitPrice::new(dec(price)).unwrap(),
            },
            validity: ValidityWindow::default(),
            revision: Revision::new(5),
        }
    }

    #[test]
    fn every_verdict_of_the_table() {
        let s = stock(5, "10");
        assert_eq!(classify(Some(&s), None), Some(Verdict::MissingInStore));
        assert_eq!(classify(None, Some(&s)), Some(Verdict::MissingInSnapshot));
        assert_eq!(classify::<StockChanged>(None, None), None);
        assert_eq!(
            classify(Some(&s), Some(&stock(4, "3"))),
            Some(Verdict::Newer)
        );
        assert_eq!(
            classify(Some(&s), Some(&stock(5, "10.0"))),
            Some(Verdict::Unchanged)
        );
        assert_eq!(
            classify(Some(&s), Some(&stock(5, "9"))),
            Some(Verdict::ContentMismatch)
        );
        assert_eq!(
            classify(Some(&s), Some(&stock(6, "10"))),
            Some(Verdict::StoreNewer)
        );
    }

    #[test]
    fn only_missing_and_newer_records_are_written_and_newer_is_no_drift() {
        assert!(Verdict::Newer.applies() && Verdict::Newer.drift().is_none());
        assert!(Verdict::MissingInStore.applies());
        assert_eq!(
            Verdict::MissingInStore.drift(),
            Some(DriftKind::MissingInStore)
        );
        for verdict in [
            Verdict::Unchanged,
            Verdict::ContentMismatch,
            Verdict::StoreNewer,
            Verdict::MissingInSnapshot,
        ] {
            assert!(!verdict.applies(), "{verdict:?}");
        }
        assert!(Verdict::Unchanged.drift().is_none());
    }

    #[test]
    fn stock_content_ignores_what_a_snapshot_cannot_carry() {
        let mut stored = stock(5, "10");
        stored.as_of = Some(chrono::Utc::now());
        assert!(stock(5, "10.000").same_content(&stored));
    }

    #[test]
    fn tier_rows_in_any_order_make_one_ascending_record() {
        let record = assemble_price(vec![row(3, "10", "8.5"), row(2, "1", "9.90")]).unwrap();
        let tiers: Vec<_> = record
            .tiers
            .as_slice()
            .iter()
            .map(|t| (t.min_qty.to_string(), t.unit_price.value().to_string()))
            .collect();
        assert_eq!(
            tiers,
            [("1".into(), "9.90".into()), ("10".into(), "8.5".into())]
        );
        assert_eq!(record.price_unit, UnitCode::piece());
        assert_eq!(record.price_per, PricePer::ONE);
    }

    #[test]
    fn price_content_compares_decimals_by_value_and_not_the_units() {
        let a = assemble_price(vec![row(2, "1", "9.90"), row(3, "10", "8.5")]).unwrap();
        let mut b = assemble_price(vec![row(7, "1.0", "9.9"), row(8, "10", "8.50")]).unwrap();
        b.price_per = PricePer::new(dec("100")).unwrap();
        assert!(a.same_content(&b));
        let c = assemble_price(vec![row(2, "1", "9.91"), row(3, "10", "8.5")]).unwrap();
        assert!(!a.same_content(&c));
        let mut d = a.clone();
        d.validity = ValidityWindow::new(Some(chrono::Utc::now()), None).unwrap();
        assert!(!a.same_content(&d));
    }

    #[test]
    fn rows_that_disagree_break_the_record_at_the_later_row() {
        let mut usd = row(4, "10", "8");
        usd.currency = Currency::parse("USD").unwrap();
        let err = assemble_price(vec![row(2, "1", "9"), usd]).unwrap_err();
        assert_eq!(
            (err.line, err.field, err.error.code),
            (4, "currency", "inconsistent_record")
        );

        let mut newer = row(5, "10", "8");
        newer.revision = Revision::new(6);
        let err = assemble_price(vec![row(2, "1", "9"), newer]).unwrap_err();
        assert_eq!((err.line, err.field), (5, "revision"));

        let mut later = row(6, "10", "8");
        later.validity = ValidityWindow::new(None, Some(chrono::Utc::now())).unwrap();
        let err = assemble_price(vec![row(2, "1", "9"), later]).unwrap_err();
        assert_eq!((err.line, err.field), (6, "valid_to"));
    }

    #[test]
    fn a_repeated_min_qty_is_a_duplicate_tier() {
        let err = assemble_price(vec![row(2, "1", "9"), row(9, "1.0", "8")]).unwrap_err();
        assert_eq!(
            (err.line, err.field, err.error.code),
            (9, "min_qty", "duplicate_tier")
        );
        assert!(
            err.error.message.contains("lines 2 and 9"),
            "{}",
            err.error.message
        );
    }

    #[test]
    fn an_applied_price_keeps_the_stored_units() {
        let snapshot = assemble_price(vec![row(2, "1", "9")]).unwrap();
        let mut stored = snapshot.clone();
        stored.price_unit = UnitCode::parse("KGM").unwrap();
        stored.price_per = PricePer::new(dec("100")).unwrap();
        let applied = keep_stored_units(snapshot.clone(), Some(&stored));
        assert_eq!(applied.price_unit.as_str(), "KGM");
        assert_eq!(applied.price_per.value(), dec("100"));
        let new = keep_stored_units(snapshot, None);
        assert_eq!(
            (new.price_unit.as_str(), new.price_per),
            ("C62", PricePer::ONE)
        );
    }
}
