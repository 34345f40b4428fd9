//! `cargo bench -p reconcile --bench snapshot`: rows per second of a stock snapshot's
//! reconciliation, and its peak heap memory at 100k and 1M rows. The stores hold no
//! memory (the store side is generated page by page as it is scanned; writes are only
//! counted), so what is measured is the reconciliation's own memory. A bench binary, not
//! a timed test: it prints figures, it does not pass or fail on them (it does check the
//! counts).
//!
//! `BENCH_ROWS=100000,1000000` (default) chooses the sizes.

use async_trait::async_trait;
use bridge_domain::ports::{FileMetadata, FileStore, PriceStore, StockStore};
use bridge_domain::{
    ApplyOutcome, PortError, PriceChanged, PriceListId, Quantity, Revision, Sku, StockChanged,
    WarehouseId,
};
use chrono::{DateTime, Utc};
use reconcile::{ReconcilePorts, ReconcileSettings, Reconciler};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: bridge_testkit::memory::Counting = bridge_testkit::memory::Counting;

/// The snapshot's record `i`: two warehouses per sku.
fn key(i: u64) -> (String, &'static str) {
    (
        format!("SKU-{:08}", i / 2),
        if i.is_multiple_of(2) { "WH-A" } else { "WH-B" },
    )
}

fn snapshot_revision(i: u64) -> u64 {
    1_000 + i % 97
}

fn snapshot_available(i: u64) -> u64 {
    i % 1_000
}

/// What the store holds for snapshot record `i` (by `i % 20`): mostly the same record,
/// some older (applied), newer (drift), differing at the same revision (drift), missing
/// (drift, applied).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    Same,
    Older,
    Newer,
    Differs,
    Missing,
}

fn case(i: u64) -> Case {
    match i % 20 {
        0..=14 => Case::Same,
        15 | 16 => Case::Older,
        17 => Case::Newer,
        18 => Case::Differs,
        _ => Case::Missing,
    }
}

fn generate(path: &Path, rows: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "sku,warehouse,available,revision").unwrap();
    for i in 0..rows {
        let (sku, warehouse) = key(i);
        writeln!(
            out,
            "{sku},{warehouse},{}.5,{}",
            snapshot_available(i),
            snapshot_revision(i)
        )
        .unwrap();
    }
}

/// The store: records generated as the scan asks for them.
struct GeneratedStore {
    rows: u64,
    /// Records only the store has (keys after the snapshot's).
    store_only: u64,
    applied: AtomicU64,
}

const PAGE: u64 = 1_000;

fn stock(i: u64, available: String, revision: u64) -> StockChanged {
    let (sku, warehouse) = key(i);
    StockChanged {
        sku: Sku::parse(&sku).unwrap(),
        warehouse: WarehouseId::parse(warehouse).unwrap(),
        available: Quantity::new(available.parse().unwrap()).unwrap(),
        revision: Revision::new(revision),
        as_of: None,
        next_delivery: None,
    }
}

#[async_trait]
impl StockStore for GeneratedStore {
    async fn apply_stock(&self, _stock: &StockChanged) -> Result<ApplyOutcome, PortError> {
        self.applied.fetch_add(1, Ordering::Relaxed);
        Ok(ApplyOutcome::Applied)
    }

    async fn stock_of(&self, _sku: &Sku) -> Result<Vec<StockChanged>, PortError> {
        Ok(Vec::new())
    }

    async fn scan_stock(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<StockChanged>, Option<String>), PortError> {
        let start: u64 = cursor.map_or(0, |c| c.parse().unwrap());
        let end = (start + PAGE).min(self.rows + self.store_only);
        let page = (start..end)
            .filter_map(|i| {
                if i >= self.rows {
                    return Some(stock(i, "7".into(), 1));
                }
                let (available, revision) = (snapshot_available(i), snapshot_revision(i));
                match case(i) {
                    // `.50` against the snapshot's `.5`: equal as decimals.
                    Case::Same => Some(stock(i, format!("{available}.50"), revision)),
                    Case::Older => Some(stock(i, "1".into(), revision - 1)),
                    Case::Newer => Some(stock(i, "2".into(), revision + 1)),
                    Case::Differs => Some(stock(i, format!("{}", available + 1), revision)),
                    Case::Missing => None,
                }
            })
            .collect();
        let next = (end < self.rows + self.store_only).then(|| end.to_string());
        Ok((page, next))
    }
}

#[async_trait]
impl PriceStore for GeneratedStore {
    async fn apply_price(&self, _price: &PriceChanged) -> Result<ApplyOutcome, PortError> {
        unreachable!("a stock snapshot")
    }

    async fn prices_of(
        &self,
        _lists: &[PriceListId],
        _sku: &Sku,
    ) -> Result<Vec<PriceChanged>, PortError> {
        Ok(Vec::new())
    }

    async fn scan_prices(
        &self,
        _cursor: Option<String>,
    ) -> Result<(Vec<PriceChanged>, Option<String>), PortError> {
        // The bench reconciles a stock snapshot: the price table is never read.
        Ok((Vec::new(), None))
    }
}

/// The snapshot is a local file; the report is only measured.
struct LocalFiles {
    snapshot: PathBuf,
    report_bytes: AtomicU64,
}

#[async_trait]
impl FileStore for LocalFiles {
    fn open(
        &self,
        _key: &str,
        _version: Option<&str>,
    ) -> Result<Box<dyn std::io::Read + Send>, PortError> {
        Ok(Box::new(std::fs::File::open(&self.snapshot).unwrap()))
    }

    async fn current_version(&self, _key: &str) -> Result<Option<Option<String>>, PortError> {
        Ok(Some(None))
    }

    async fn metadata(&self, key: &str) -> Result<Option<FileMetadata>, PortError> {
        if key.starts_with("erp/reports/") {
            return Ok(None);
        }
        Ok(Some(FileMetadata {
            version: None,
            size: Some(std::fs::metadata(&self.snapshot).unwrap().len()),
        }))
    }

    async fn read(&self, _key: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(None)
    }

    async fn write(&self, _key: &str, body: Vec<u8>, _type: &str) -> Result<(), PortError> {
        self.report_bytes
            .store(body.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    async fn upload(&self, _key: &str, path: &Path, _type: &str) -> Result<(), PortError> {
        self.report_bytes
            .store(std::fs::metadata(path).unwrap().len(), Ordering::Relaxed);
        Ok(())
    }

    async fn rename(
        &self,
        _from: &str,
        _version: Option<&str>,
        _to: &str,
    ) -> Result<(), PortError> {
        Ok(())
    }

    async fn delete(&self, _key: &str) -> Result<(), PortError> {
        Ok(())
    }

    async fn list(&self, _prefix: &str) -> Result<Vec<(String, DateTime<Utc>)>, PortError> {
        Ok(Vec::new())
    }
}

/// Bytes under `dir`, recursively.
fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

struct Run {
    seconds: f64,
    peak_heap: usize,
    peak_disk: u64,
    report_bytes: u64,
}

fn run(runtime: &tokio::runtime::Runtime, dir: &Path, snapshot: &Path, rows: u64) -> Run {
    let temp = dir.join("work");
    std::fs::create_dir_all(&temp).unwrap();
    let store = Arc::new(GeneratedStore {
        rows,
        store_only: rows / 100,
        applied: AtomicU64::new(0),
    });
    let files = Arc::new(LocalFiles {
        snapshot: snapshot.to_path_buf(),
        report_bytes: AtomicU64::new(0),
    });
    let reconciler = Reconciler::new(
        ReconcileSettings {
            temp_dir: temp.clone(),
            ..ReconcileSettings::default()
        },
        ReconcilePorts {
            files: files.clone(),
            stock: store.clone(),
            prices: store.clone(),
        },
    );
    // The temporary files' peak, sampled (the sampler's own allocations are tiny).
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, temp) = (stop.clone(), temp.clone());
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(disk_usage(&temp));
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            peak
        })
    };
    let start = Instant::now();
    let (report, peak_heap) = bridge_testkit::memory::peak_of(|| {
        runtime
            .block_on(reconciler.reconcile("erp/snapshots/stock-bench.csv"))
            .expect("the reconciliation runs")
    });
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak_disk = sampler.join().unwrap();

    // The figures only count if the work was right.
    let c = &report.counts;
    let expect = |which: Case| (0..rows).filter(|&i| case(i) == which).count() as u64;
    assert_eq!(c.rows, rows);
    assert_eq!(c.records, rows);
    assert_eq!(c.unchanged, expect(Case::Same));
    assert_eq!(c.applied, expect(Case::Older) + expect(Case::Missing));
    assert_eq!(c.drift.store_newer, expect(Case::Newer));
    assert_eq!(c.drift.content_mismatch, expect(Case::Differs));
    assert_eq!(c.drift.missing_in_store, expect(Case::Missing));
    assert_eq!(c.drift.missing_in_snapshot, rows / 100);
    assert_eq!(store.applied.load(Ordering::Relaxed), c.applied);
    assert!(
        std::fs::read_dir(&temp).unwrap().next().is_none(),
        "temporary files are removed"
    );
    Run {
        seconds,
        peak_heap,
        peak_disk,
        report_bytes: files.report_bytes.load(Ordering::Relaxed),
    }
}

fn main() {
    let sizes: Vec<u64> = std::env::var("BENCH_ROWS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("BENCH_ROWS: comma-separated row counts")
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("reconcile-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| rows | snapshot MB | seconds | rows/s | peak heap | peak temp files | report MB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut peaks = Vec::new();
    for rows in &sizes {
        let snapshot = dir.join(format!("stock-{rows}.csv"));
        generate(&snapshot, *rows);
        let megabytes = std::fs::metadata(&snapshot).unwrap().len() as f64 / 1e6;
        let run = run(&runtime, &dir, &snapshot, *rows);
        println!(
            "| {rows} | {megabytes:.1} | {:.2} | {:.0} | {:.1} MB | {:.1} MB | {:.1} |",
            run.seconds,
            *rows as f64 / run.seconds,
            run.peak_heap as f64 / 1e6,
            run.peak_disk as f64 / 1e6,
            run.report_bytes as f64 / 1e6,
        );
        peaks.push((*rows, run.peak_heap));
        std::fs::remove_file(&snapshot).ok();
    }
    if let (Some(small), Some(large)) = (peaks.first(), peaks.last())
        && large.0 > small.0
    {
        println!(
            "peak heap {}/{} rows: {:.2} (for {:.0}x the rows)",
            large.0,
            small.0,
            large.1 as f64 / small.1 as f64,
            large.0 as f64 / small.0 as f64
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
