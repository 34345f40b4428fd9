//! The whole reconciliation against in-memory ports: partition splitting, writes that
//! turn stale, re-delivery, temporary files.

use super::*;
use async_trait::async_trait;
use bridge_domain::ports::FileMetadata;
use bridge_domain::{
    ApplyOutcome, PriceChanged, PriceListId, Quantity, Revision, Sku, StockChanged, WarehouseId,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
struct Files {
    objects: Mutex<HashMap<String, (Vec<u8>, String)>>,
    /// The size `metadata` claims (to make the partition plan wrong on purpose).
    claimed_size: Option<u64>,
}

impl Files {
    fn put(&self, key: &str, body: Vec<u8>, version: &str) {
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_string(), (body, version.to_string()));
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(key).map(|o| o.0.clone())
    }
}

#[async_trait]
impl FileStore for Files {
    fn open(
        &self,
        key: &str,
        _version: Option<&str>,
    ) -> Result<Box<dyn std::io::Read + Send>, PortError> {
        let body = self
            .get(key)
            .ok_or_else(|| PortError::permanent("files.open", "no such key"))?;
        Ok(Box::new(std::io::Cursor::new(body)))
    }

    async fn current_version(&self, key: &str) -> Result<Option<Option<String>>, PortError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .map(|o| Some(o.1.clone())))
    }

    async fn metadata(&self, key: &str) -> Result<Option<FileMetadata>, PortError> {
        Ok(self.objects.lock().unwrap().get(key).map(|o| FileMetadata {
            version: Some(o.1.clone()),
            size: Some(self.claimed_size.unwrap_or(o.0.len() as u64)),
        }))
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(self.get(key))
    }

    async fn write(&self, key: &str, body: Vec<u8>, _type: &str) -> Result<(), PortError> {
        self.put(key, body, "w");
        Ok(())
    }

    async fn rename(&self, _: &str, _: Option<&str>, _: &str) -> Result<(), PortError> {
        unreachable!()
    }

    async fn delete(&self, _: &str) -> Result<(), PortError> {
        unreachable!()
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>, PortError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .map(|k| (k.clone(), DateTime::<Utc>::MIN_UTC))
            .collect())
    }
}

/// A stock table with the revision guard; writes of `stale` skus find a newer revision
/// (a webhook between the scan and the write).
#[derive(Default)]
struct Table {
    rows: Mutex<BTreeMap<(String, String), StockChanged>>,
    stale: HashSet<String>,
    writes: Mutex<Vec<String>>,
}

#[async_trait]
impl StockStore for Table {
    async fn apply_stock(&self, stock: &StockChanged) -> Result<ApplyOutcome, PortError> {
        self.writes.lock().unwrap().push(stock.sku.to_string());
        if self.stale.contains(stock.sku.as_str()) {
            return Ok(ApplyOutcome::Stale {
                stored: Revision::new(stock.revision.value() + 1),
            });
        }
        let mut rows = self.rows.lock().unwrap();
        let key = (stock.sku.to_string(), stock.warehouse.to_string());
        let stored = rows.get(&key).map(|s| s.revision);
        if !stock.revision.supersedes(stored) {
            return Ok(ApplyOutcome::Stale {
                stored: stored.unwrap(),
            });
        }
        rows.insert(key, stock.clone());
        Ok(ApplyOutcome::Applied)
    }

    async fn stock_of(&self, _sku: &Sku) -> Result<Vec<StockChanged>, PortError> {
        unreachable!()
    }

    async fn scan_stock(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), PortError> {
        let start: usize = cursor.map_or(0, |c| c.parse().unwrap());
        let rows = self.rows.lock().unwrap();
        let page: Vec<_> = rows.values().skip(start).take(7).cloned().collect();
        let end = start + page.len();
        Ok((page, (end < rows.len()).then(|| end.to_string())))
    }
}

#[async_trait]
impl PriceStore for Table {
    async fn apply_price(&self, _price: &PriceChanged) -> Result<ApplyOutcome, PortError> {
        unreachable!()
    }

    async fn prices_of(
        &self,
        _lists: &[PriceListId],
        _sku: &Sku,
    ) -> Result<Vec<PriceChanged>, PortError> {
        unreachable!()
    }

    async fn scan_prices(
        &self,
        _cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), PortError> {
        unreachable!("these tests reconcile stock snapshots")
    }
}

fn level(sku: &str, available: u64, revision: u64) -> StockChanged {
    StockChanged {
        sku: Sku::parse(sku).unwrap(),
        warehouse: WarehouseId::parse("W1").unwrap(),
        available: Quantity::new(available.into()).unwrap(),
        revision: Revision::new(revision),
        as_of: None,
        next_delivery: None,
    }
}

fn reconciler(files: Arc<Files>, table: Arc<Table>, temp: &std::path::Path) -> Reconciler {
    Reconciler::new(
        ReconcileSettings {
            temp_dir: temp.to_path_buf(),
            partition_bytes: 1024,
            apply_concurrency: 3,
            sweep_min_age_seconds: 0,
        },
        ReconcilePorts {
            files,
            stock: table.clone(),
            prices: table,
        },
    )
}

#[tokio::test]
async fn oversized_partitions_are_split_and_every_record_is_joined_once() {
    const ROWS: u64 = 3000;
    let mut table = Table::default();
    table.stale.insert("S-00002".into());
    table.stale.insert("S-00013".into());
    {
        let mut rows = table.rows.lock().unwrap();
        for i in 0..ROWS + 40 {
            let sku = format!("S-{i:05}");
            let stored = match i % 10 {
                // Missing in the store.
                0 => continue,
                // Older: applied (the two `stale` skus, i = 2 and 13, turn stale).
                1..=3 => level(&sku, 1, 1),
                // Newer in the store.
                4 => level(&sku, 1, 9),
                // Same revision, other content.
                5 => level(&sku, 99, 5),
                _ => level(&sku, i, 5),
            };
            rows.insert((sku, "W1".into()), stored);
        }
    }
    let table = Arc::new(table);
    // The object claims 10 bytes: 8 partitions where 90 KB need about 90; the join must
    // split them before loading.
    let files = Arc::new(Files {
        claimed_size: Some(10),
        ..Files::default()
    });
    let mut csv = String::from("sku;warehouse;available;revision\n");
    for i in 0..ROWS {
        csv.push_str(&format!("S-{i:05};W1;{i};5\n"));
    }
    let key = "erp/snapshots/stock-big.csv";
    files.put(key, csv.into_bytes(), "v1");
    let temp = std::env::temp_dir().join(format!("reconcile-unit-{}", std::process::id()));
    let reconciler = reconciler(files.clone(), table.clone(), &temp);

    let report = reconciler.reconcile(key).await.unwrap();
    let c = &report.counts;
    let tenth = ROWS / 10;
    assert_eq!((c.rows, c.records, c.invalid), (ROWS, ROWS, 0));
    assert_eq!(c.unchanged, 4 * tenth);
    // Older ones and missing ones are written, except the two that turn stale.
    assert_eq!(c.applied, 4 * tenth - 2);
    assert_eq!(c.stale_on_apply, 2);
    assert_eq!(
        (
            c.drift.missing_in_store,
            c.drift.store_newer,
            c.drift.content_mismatch,
            c.drift.missing_in_snapshot
        ),
        (tenth, tenth, tenth, 36)
    );
    let writes = table.writes.lock().unwrap().clone();
    assert_eq!(writes.len() as u64, 4 * tenth, "each record written once");
    assert_eq!(writes.iter().collect::<HashSet<_>>().len(), writes.len());
    assert!(
        temp.read_dir().unwrap().next().is_none(),
        "temporary files are gone"
    );

    // The report lists every drifted record once.
    let json: serde_json::Value =
        serde_json::from_slice(&files.get(&report.report_key).unwrap()).unwrap();
    let drift = json["drift"].as_array().unwrap();
    assert_eq!(drift.len() as u64, c.drift_total);
    let stale_missing = drift
        .iter()
        .filter(|d| d["kind"] == "missing_in_store" && d["applied"] == false)
        .count();
    assert_eq!(stale_missing, 0, "the stale skus were not missing ones");

    // A re-delivered notification of the same version reads nothing again.
    table.writes.lock().unwrap().clear();
    let again = reconciler.reconcile(key).await.unwrap();
    assert_eq!(
        (again.started_at, again.counts.clone()),
        (report.started_at, report.counts.clone())
    );
    assert!(table.writes.lock().unwrap().is_empty());
    // A new version is reconciled anew: what was written is now unchanged.
    files.put(key, files.get(key).unwrap(), "v2");
    let next = reconciler.reconcile(key).await.unwrap();
    assert_eq!(next.counts.unchanged, 4 * tenth + 4 * tenth - 2);
    assert_eq!(next.counts.stale_on_apply, 2);
    assert_eq!(next.counts.applied, 0);
    std::fs::remove_dir_all(&temp).ok();
}

#[tokio::test]
async fn an_unknown_file_and_a_broken_header_get_a_failed_report_and_apply_nothing() {
    let table = Arc::new(Table::default());
    let files = Arc::new(Files::default());
    let temp = std::env::temp_dir().join(format!("reconcile-unit-f-{}", std::process::id()));
    let reconciler = reconciler(files.clone(), table.clone(), &temp);
    files.put("erp/snapshots/orders-1.csv", b"a,b\n".to_vec(), "v1");
    files.put(
        "erp/snapshots/stock-1.csv",
        b"sku,available\nA,1\n".to_vec(),
        "v1",
    );
    let unknown = reconciler
        .reconcile("erp/snapshots/orders-1.csv")
        .await
        .unwrap();
    assert_eq!((unknown.status, unknown.kind), (Status::Failed, None));
    let broken = reconciler
        .reconcile("erp/snapshots/stock-1.csv")
        .await
        .unwrap();
    assert_eq!(broken.status, Status::Failed);
    assert!(
        broken
            .message
            .as_deref()
            .unwrap()
            .contains("warehouse, revision")
    );
    let json: serde_json::Value =
        serde_json::from_slice(&files.get(&broken.report_key).unwrap()).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["kind"], "stock");
    assert!(table.writes.lock().unwrap().is_empty());
    assert!(matches!(
        reconciler.reconcile("erp/snapshots/stock-gone.csv").await,
        Err(ReconcileError::NotFound(_))
    ));
    assert!(matches!(
        reconciler.reconcile("pim/inbox/stock-1.csv").await,
        Err(ReconcileError::NotASnapshot(_))
    ));
    std::fs::remove_dir_all(&temp).ok();
}
