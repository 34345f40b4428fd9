//! Price snapshots: one row per tier, how a row is validated (the contract's validity
//! bounds too), how the tiers of one list, sku and window make a record, and the price
//! store they reconcile with.

use super::fields::{Problem, RowError, at, decimal, join_key, required, revision};
use super::reader::Row;
use super::{Snapshot, SnapshotKind};
use bridge_contract::json::parse_bound;
use bridge_domain::events::{PriceTier, PriceTiers, UnitPrice, ValidityWindow};
use bridge_domain::reconcile::{PriceTierRow, RecordViolation};
use bridge_domain::{Currency, PriceChanged, PriceListId, Quantity, Sku};
use serde::{Deserialize, Serialize};

/// Price snapshots: one row per tier, `price_list, sku, currency, min_qty, unit_price,
/// valid_from, valid_to, revision` (the validity columns may be absent: open).
pub struct Prices;

/// A price tier row in a partition file: `[line, price_list, sku, currency, min_qty,
/// unit_price, valid_from, valid_to, revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow(pub PriceTierRow);

impl Serialize for PriceRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = &self.0;
        (
            r.line,
            &r.price_list,
            &r.sku,
            &r.currency,
            &r.tier.min_qty,
            &r.tier.unit_price,
            r.validity.from(),
            r.validity.until(),
            r.revision,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PriceRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (line, price_list, sku, currency, min_qty, unit_price, from, until, revision) =
            Deserialize::deserialize(deserializer)?;
        Ok(PriceRow(PriceTierRow {
            line,
            price_list,
            sku,
            currency,
            tier: PriceTier {
                min_qty,
                unit_price,
            },
            validity: ValidityWindow::new(from, until)
                .map_err(|v| serde::de::Error::custom(v.to_string()))?,
            revision,
        }))
    }
}

/// A stored price record in a partition file: `[price_list, sku, currency,
/// [[min_qty, unit_price], ...], revision, price_unit, price_per, valid_from, valid_to,
/// deleted]`.
pub struct StoredPrice(pub PriceChanged);

impl Serialize for StoredPrice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = &self.0;
        let tiers: Vec<_> = p
            .tiers
            .as_slice()
            .iter()
            .map(|t| (&t.min_qty, &t.unit_price))
            .collect();
        (
            &p.price_list,
            &p.sku,
            &p.currency,
            tiers,
            p.revision,
            &p.price_unit,
            &p.price_per,
            p.validity.from(),
            p.validity.until(),
            p.deleted,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredPrice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let (
            price_list,
            sku,
            currency,
            tiers,
            revision,
            price_unit,
            price_per,
            from,
            until,
            deleted,
        ): (_, _, _, Vec<(Quantity, UnitPrice)>, _, _, _, _, _, bool) =
            Deserialize::deserialize(deserializer)?;
        let tiers = PriceTiers::new(
            tiers
                .into_iter()
                .map(|(min_qty, unit_price)| PriceTier {
                    min_qty,
                    unit_price,
                })
                .collect(),
        )
        .map_err(|v| D::Error::custom(v.to_string()))?;
        Ok(StoredPrice(PriceChanged {
            price_list,
            sku,
            currency,
            tiers,
            revision,
            price_unit,
            price_per,
            validity: ValidityWindow::new(from, until)
                .map_err(|v| D::Error::custom(v.to_string()))?,
            deleted,
        }))
    }
}

#[async_trait::async_trait]
impl Snapshot for Prices {
    const KIND: SnapshotKind = SnapshotKind::Prices;
    const REQUIRED: &'static [&'static str] = &[
        "price_list",
        "sku",
        "currency",
        "min_qty",
        "unit_price",
        "revision",
    ];
    const OPTIONAL: &'static [&'static str] = &["valid_from", "valid_to"];
    // A record is one validity window (contract v2): a snapshot may carry several windows
    // of one list and sku.
    const KEY: &'static [&'static str] = &["price_list", "sku", "valid_from"];
    const NOT_IN_SNAPSHOT: &'static [&'static str] = &["price_unit", "price_per"];
    type Row = PriceRow;
    type Record = PriceChanged;
    type Stored = StoredPrice;

    fn to_stored(record: PriceChanged) -> StoredPrice {
        StoredPrice(record)
    }

    fn from_stored(stored: StoredPrice) -> PriceChanged {
        stored.0
    }

    fn parse_row(row: &Row<'_>) -> Result<PriceRow, Box<RowError>> {
        let error = |problem, key| {
            Box::new(RowError {
                problem,
                raw_key: vec![
                    row.lossy("price_list"),
                    row.lossy("sku"),
                    row.lossy("valid_from"),
                ],
                key,
            })
        };
        let price_list = required(row, "price_list")
            .and_then(|t| PriceListId::parse(t).map_err(at("price_list")))
            .map_err(|p| error(p, None))?;
        let sku = required(row, "sku")
            .and_then(|t| Sku::parse(t).map_err(at("sku")))
            .map_err(|p| error(p, None))?;
        // The contract's bounds: a date means that whole day.
        let bound = |field: &'static str, end_of_day: bool| -> Result<_, Problem> {
            let text = row.text(field)?;
            if text.is_empty() {
                return Ok(None);
            }
            parse_bound(text, end_of_day).map(Some).map_err(at(field))
        };
        let validity = (|| {
            ValidityWindow::new(bound("valid_from", false)?, bound("valid_to", true)?).map_err(
                |v| Problem {
                    field: "valid_to",
                    error: v.error,
                },
            )
        })();
        // The window's key: its start as the store keys it, or as written when it cannot be
        // read (then every row of that window fails alike).
        let start = match &validity {
            Ok(validity) => validity.start_key(),
            Err(_) => row.lossy("valid_from"),
        };
        let key = join_key(&[price_list.as_str(), sku.as_str(), &start]);
        let fields = (|| {
            let validity = validity?;
            let currency = Currency::parse(required(row, "currency")?).map_err(at("currency"))?;
            let min_qty = Quantity::new(decimal(row, "min_qty")?).map_err(at("min_qty"))?;
            let unit_price =
                UnitPrice::new(decimal(row, "unit_price")?).map_err(at("unit_price"))?;
            Ok::<_, Problem>((
                currency,
                PriceTier {
                    min_qty,
                    unit_price,
                },
                validity,
                revision(row)?,
            ))
        })();
        match fields {
            Ok((currency, tier, validity, revision)) => Ok(PriceRow(PriceTierRow {
                line: row.line,
                price_list,
                sku,
                currency,
                tier,
                validity,
                revision,
            })),
            Err(p) => Err(error(p, Some(key))),
        }
    }

    fn row_key(row: &PriceRow) -> String {
        let row = &row.0;
        join_key(&[
            row.price_list.as_str(),
            row.sku.as_str(),
            &row.validity.start_key(),
        ])
    }

    fn record_key(record: &PriceChanged) -> String {
        join_key(&[
            record.price_list.as_str(),
            record.sku.as_str(),
            &record.validity.start_key(),
        ])
    }

    fn assemble(rows: Vec<PriceRow>) -> Result<PriceChanged, RecordViolation> {
        bridge_domain::reconcile::assemble_price(rows.into_iter().map(|r| r.0).collect())
    }

    fn prepare(snapshot: PriceChanged, stored: Option<&PriceChanged>) -> PriceChanged {
        bridge_domain::reconcile::keep_stored_units(snapshot, stored)
    }

    async fn scan(
        ports: &crate::ReconcilePorts,
        cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), bridge_domain::PortError> {
        ports.prices.scan_prices(cursor).await
    }

    async fn apply(
        ports: &crate::ReconcilePorts,
        record: &PriceChanged,
    ) -> Result<bridge_domain::ApplyOutcome, bridge_domain::PortError> {
        ports.prices.apply_price(record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::rows;

    #[test]
    fn price_partition_lines_are_compact_and_round_trip() {
        let text = "price_list,sku,currency,min_qty,unit_price,valid_from,valid_to,revision\n\
                    PL1,A-1,EUR,1,9.90,2026-01-01,,3\n";
        let row = rows::<Prices>(text.as_bytes(), false)
            .unwrap()
            .remove(0)
            .unwrap();
        let line = serde_json::to_string(&row).unwrap();
        assert_eq!(
            line,
            r#"[2,"PL1","A-1","EUR","1","9.90","2025-12-31T23:00:00Z",null,3]"#
        );
        assert_eq!(serde_json::from_str::<PriceRow>(&line).unwrap(), row);
        let mut record = Prices::assemble(vec![row]).unwrap();
        record.price_per = bridge_domain::events::PricePer::new(10.into()).unwrap();
        let stored = serde_json::to_string(&StoredPrice(record.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<StoredPrice>(&stored).unwrap().0,
            record
        );
    }

    #[test]
    fn price_bounds_follow_the_contract() {
        let text = "price_list,sku,currency,min_qty,unit_price,valid_from,valid_to,revision\n\
                    PL1,A-1,EUR,1,9.90,2026-01-01,2026-01-31,3\n\
                    PL1,A-2,EUR,1,9.90,2026-01-01T06:00:00+01:00,,3\n\
                    PL1,A-3,EUR,1,9.90,2026-02-01,2026-01-01,3\n";
        let rows = rows::<Prices>(text.as_bytes(), false).unwrap();
        let first = rows[0].clone().unwrap().0;
        // Dates are midnights in the business time zone (Europe/Berlin by default).
        assert_eq!(
            first.validity.from().unwrap().to_rfc3339(),
            "2025-12-31T23:00:00+00:00"
        );
        assert_eq!(
            first.validity.until().unwrap().to_rfc3339(),
            "2026-01-31T23:00:00+00:00"
        );
        let second = rows[1].clone().unwrap().0;
        assert_eq!(
            second.validity.from().unwrap().to_rfc3339(),
            "2026-01-01T05:00:00+00:00"
        );
        assert!(second.validity.until().is_none());
        let empty = rows[2].clone().unwrap_err();
        assert_eq!(
            (empty.problem.field, empty.problem.error.code),
            ("valid_to", "empty_window")
        );
        // A window that cannot be read is keyed by its start as written.
        assert_eq!(empty.key.as_deref(), Some("PL1\tA-3\t2026-02-01"));
    }
}
