//! Stock snapshots: their rows, how a row is validated, how rows of one key make a
//! record, and the stock store they reconcile with.

use super::fields::{Problem, RowError, at, decimal, join_key, required, revision};
use super::reader::Row;
use super::{Snapshot, SnapshotKind};
use bridge_domain::reconcile::{Reconciled, RecordViolation};
use bridge_domain::{InvalidValue, Quantity, Sku, StockChanged, WarehouseId};
use serde::{Deserialize, Serialize};

/// Stock snapshots: `sku, warehouse, available, revision`.
pub struct Stock;

/// A stock row and its line; in a partition file `[line, sku, warehouse, available,
/// revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow(pub u64, pub StockChanged);

impl Serialize for StockRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let StockRow(line, s) = self;
        (line, &s.sku, &s.warehouse, &s.available, s.revision).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StockRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (line, sku, warehouse, available, revision) = Deserialize::deserialize(deserializer)?;
        Ok(StockRow(
            line,
            StockChanged {
                sku,
                warehouse,
                available,
                revision,
                as_of: None,
                next_delivery: None,
            },
        ))
    }
}

/// A stored stock level in a partition file: `[sku, warehouse, available, revision,
/// as_of, next_delivery]`.
pub struct StoredStock(pub StockChanged);

impl Serialize for StoredStock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = &self.0;
        (
            &s.sku,
            &s.warehouse,
            &s.available,
            s.revision,
            &s.as_of,
            &s.next_delivery,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredStock {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (sku, warehouse, available, revision, as_of, next_delivery) =
            Deserialize::deserialize(deserializer)?;
        Ok(StoredStock(StockChanged {
            sku,
            warehouse,
            available,
            revision,
            as_of,
            next_delivery,
        }))
    }
}

#[async_trait::async_trait]
impl Snapshot for Stock {
    const KIND: SnapshotKind = SnapshotKind::Stock;
    const REQUIRED: &'static [&'static str] = &["sku", "warehouse", "available", "revision"];
    const OPTIONAL: &'static [&'static str] = &[];
    const KEY: &'static [&'static str] = &["sku", "warehouse"];
    const NOT_IN_SNAPSHOT: &'static [&'static str] = &["as_of", "next_delivery"];
    type Row = StockRow;
    type Record = StockChanged;
    type Stored = StoredStock;

    fn to_stored(record: StockChanged) -> StoredStock {
        StoredStock(record)
    }

    fn from_stored(stored: StoredStock) -> StockChanged {
        stored.0
    }

    fn parse_row(row: &Row<'_>) -> Result<StockRow, Box<RowError>> {
        let error = |problem, key| {
            Box::new(RowError {
                problem,
                raw_key: vec![row.lossy("sku"), row.lossy("warehouse")],
                key,
            })
        };
        let sku = required(row, "sku")
            .and_then(|t| Sku::parse(t).map_err(at("sku")))
            .map_err(|p| error(p, None))?;
        let warehouse = required(row, "warehouse")
            .and_then(|t| WarehouseId::parse(t).map_err(at("warehouse")))
            .map_err(|p| error(p, None))?;
        let fields = (|| {
            let available = Quantity::new(decimal(row, "available")?).map_err(at("available"))?;
            Ok::<_, Problem>((available, revision(row)?))
        })();
        match fields {
            Ok((available, revision)) => Ok(StockRow(
                row.line,
                StockChanged {
                    sku,
                    warehouse,
                    available,
                    revision,
                    as_of: None,
                    next_delivery: None,
                },
            )),
            Err(p) => Err(error(
                p,
                Some(join_key(&[sku.as_str(), warehouse.as_str()])),
            )),
        }
    }

    fn row_key(row: &StockRow) -> String {
        Self::record_key(&row.1)
    }

    fn record_key(record: &StockChanged) -> String {
        join_key(&[record.sku.as_str(), record.warehouse.as_str()])
    }

    /// A key on several rows is fine when they are identical; otherwise the rows conflict
    /// and none applies.
    fn assemble(mut rows: Vec<StockRow>) -> Result<StockChanged, RecordViolation> {
        rows.sort_by_key(|r| r.0);
        let mut rows = rows.into_iter();
        let StockRow(first_line, first) = rows.next().ok_or_else(|| RecordViolation {
            line: 0,
            field: "sku",
            error: InvalidValue::new("empty", "no row"),
        })?;
        for StockRow(line, other) in rows {
            let field = if other.revision != first.revision {
                "revision"
            } else if !other.same_content(&first) {
                "available"
            } else {
                continue;
            };
            return Err(RecordViolation {
                line,
                field,
                error: InvalidValue::new(
                    "conflicting_rows",
                    format!(
                        "sku {} in warehouse {} is also on line {first_line} with another {field}",
                        first.sku, first.warehouse
                    ),
                ),
            });
        }
        Ok(first)
    }

    fn prepare(snapshot: StockChanged, _stored: Option<&StockChanged>) -> StockChanged {
        snapshot
    }

    async fn scan(
        ports: &crate::ReconcilePorts,
        cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), bridge_domain::PortError> {
        ports.stock.scan_stock(cursor).await
    }

    async fn apply(
        ports: &crate::ReconcilePorts,
        record: &StockChanged,
    ) -> Result<bridge_domain::ApplyOutcome, bridge_domain::PortError> {
        ports.stock.apply_stock(record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::rows;

    #[test]
    fn stock_partition_lines_are_compact_and_round_trip() {
        let text = "sku,warehouse,available,revision\nA-1,W1,10.5,7\n";
        let row = rows::<Stock>(text.as_bytes(), false)
            .unwrap()
            .remove(0)
            .unwrap();
        let line = serde_json::to_string(&row).unwrap();
        assert_eq!(line, r#"[2,"A-1","W1","10.5",7]"#);
        assert_eq!(serde_json::from_str::<StockRow>(&line).unwrap(), row);
        let mut level = row.1;
        level.as_of = Some(chrono::Utc::now());
        let stored = serde_json::to_string(&StoredStock(level.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<StoredStock>(&stored).unwrap().0,
            level
        );
    }

    #[test]
    fn invalid_rows_name_their_field_and_keep_a_valid_key() {
        let text =
            "sku,warehouse,available,revision\nA-1,W1,-1,1\nbad sku,W1,1,1\nA-2,W1,\"1,5\",x\n";
        let rows = rows::<Stock>(text.as_bytes(), false).unwrap();
        let negative = rows[0].clone().unwrap_err();
        assert_eq!(
            (negative.problem.field, negative.problem.error.code),
            ("available", "negative")
        );
        assert_eq!(negative.key.as_deref(), Some("A-1\tW1"));
        let bad_key = rows[1].clone().unwrap_err();
        assert_eq!((bad_key.problem.field, bad_key.key), ("sku", None));
        assert_eq!(bad_key.raw_key[0], "bad sku");
        let comma = rows[2].clone().unwrap_err();
        assert_eq!(comma.problem.field, "available");
        assert!(comma.problem.error.message.contains("decimal point"));
    }

    #[test]
    fn identical_repeats_are_one_record_and_differing_ones_conflict() {
        let stock = |line, available: &str| {
            let text = format!("sku,warehouse,available,revision\nA-1,W1,{available},4\n");
            let mut row = rows::<Stock>(text.as_bytes(), false)
                .unwrap()
                .remove(0)
                .unwrap();
            row.0 = line;
            row
        };
        assert!(Stock::assemble(vec![stock(2, "5"), stock(9, "5.0")]).is_ok());
        let err = Stock::assemble(vec![stock(9, "6"), stock(2, "5")]).unwrap_err();
        assert_eq!(
            (err.line, err.field, err.error.code),
            (9, "available", "conflicting_rows")
        );
    }
}
