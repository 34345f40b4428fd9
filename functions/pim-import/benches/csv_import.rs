//! `cargo bench -p pim-import --bench csv_import`: rows per second of the import's CSV
//! scan (read + quality rules + content hash + sku index, exactly the code the import runs
//! per row, and the index's merge at the end) against the csv crate's raw parse of the same
//! file, and the peak heap of the whole scan, at 100k and 1M rows. A bench binary, not a
//! timed test: it prints figures, it does not pass or fail on them.
//!
//! `BENCH_ROWS=100000,1000000` (default) chooses the sizes; `TEMP_DIR` where the index's
//! temporary files go (default: the system's); `BENCH_STAGES=1` adds a breakdown. Each
//! figure is the best of three runs (the peak heap the largest of them).

use pim_import::formats::{self, Format, Outcome};
use pim_import::import::{Tally, finish_scan, scan_record};
use pim_import::index::{IndexBuilder, IndexSettings};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap bytes above the level when `f` started.
fn measure<T>(f: impl FnOnce() -> T) -> (T, f64, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f();
    let seconds = start.elapsed().as_secs_f64();
    (
        out,
        seconds,
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    )
}

/// A realistic PIM export: two languages, GTIN, unit, weight, category, images, attributes.
fn generate(path: &Path, rows: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "sku;gtin;name.de-DE;name.en-GB;description.de-DE;brand;category;unit;weight_kg;images;status;attr.color;attr.material").unwrap();
    for n in 0..rows {
        writeln!(
            out,
            "SKU-{n:08};{};Sechskantschraube M{} x {};Hex bolt M{} x {};\"Verzinkt, DIN 933; Festigkeit 8.8\";Muster;Befestigung > Schrauben > Sechskant;C62;0,{:03};https://img.example/{n}.jpg|https://img.example/{n}-2.jpg;active;silber;Stahl",
            bridge_domain::product::Gtin::gtin13(400_000_000_000 + n),
            n % 24 + 3,
            n % 200 + 10,
            n % 24 + 3,
            n % 200 + 10,
            n % 1000
        )
        .unwrap();
    }
}

fn raw_parse(path: &std::path::Path) -> u64 {
    let mut reader =
        csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(std::io::BufReader::with_capacity(
                64 * 1024,
                std::fs::File::open(path).unwrap(),
            ));
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while reader.read_byte_record(&mut record).unwrap() {
        rows += 1;
    }
    rows
}

/// The csv crate reading each row into owned strings (`StringRecord` through serde into a
/// struct of `String`s): what a plain reader that keeps its fields costs.
fn owned_parse(path: &std::path::Path) -> u64 {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Row {
        sku: String,
        gtin: String,
        #[serde(rename = "name.de-DE")]
        name_de: String,
        #[serde(rename = "name.en-GB")]
        name_en: String,
        #[serde(rename = "description.de-DE")]
        description_de: String,
        brand: String,
        category: String,
        unit: String,
        weight_kg: String,
        images: String,
        status: String,
        #[serde(rename = "attr.color")]
        color: String,
        #[serde(rename = "attr.material")]
        material: String,
    }
    let mut reader =
        csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(std::io::BufReader::with_capacity(
                64 * 1024,
                std::fs::File::open(path).unwrap(),
            ));
    let mut rows = 0;
    for row in reader.deserialize::<Row>() {
        std::hint::black_box(row.unwrap());
        rows += 1;
    }
    rows
}

fn temp_dir() -> PathBuf {
    std::env::var_os("TEMP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// What a scan leaves: rows, the tally, and the bytes of temporary files at its end.
struct Scanned {
    rows: u64,
    tally: Tally,
    temp_bytes: u64,
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The import's scan pass over the file, as `Importer::scan_blocking` runs it: the reader
/// the import opens, `scan_record` for every record, `finish_scan` at the end (the index's
/// merge, which also finds repeats and conflicts). `upto`: 1 stops after the quality rules
/// and the hash, 2 after the index's rows, 3 is the whole scan.
fn scan(path: &Path, upto: u8) -> Scanned {
    let input = Box::new(std::fs::File::open(path).unwrap());
    let mut source = formats::open(Format::Csv, false, input).unwrap();
    let mut index = IndexBuilder::new(IndexSettings::new(temp_dir())).unwrap();
    let mut tally = Tally::default();
    let mut ordinal = 0;
    let mut checksum = 0u64;
    while let Some(next) = source.next_checked() {
        ordinal += 1;
        if upto == 1 {
            if let Ok(checked) = next
                && let Outcome::Valid(valid) = checked.outcome
            {
                checksum ^= valid.key;
            }
            continue;
        }
        scan_record(&mut index, Some(&mut tally), ordinal, next).unwrap();
    }
    std::hint::black_box(checksum);
    let temp_bytes = dir_bytes(index.dir());
    if upto == 3 {
        let finished = finish_scan(index, Some(&mut tally)).unwrap();
        assert_eq!(finished.len(), ordinal);
    }
    Scanned {
        rows: ordinal,
        tally,
        temp_bytes,
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
    let dir = temp_dir().join(format!("pim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "| rows | file MB | raw ByteRecord parse rows/s | csv into owned strings rows/s | import scan rows/s | ratio to raw | ratio to owned | scan peak heap (with index) | index temp files |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut peaks = Vec::new();
    for rows in sizes {
        let path = dir.join(format!("catalog-{rows}.csv"));
        generate(&path, rows);
        let megabytes = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
        // Warm the page cache so that every measurement reads from memory.
        raw_parse(&path);
        // Best of three runs each, alternating, so that a busy moment of the machine (others
        // build on it) does not decide a ratio.
        let (mut raw_seconds, mut owned_seconds, mut scan_seconds) = (f64::MAX, f64::MAX, f64::MAX);
        let (mut raw_rows, mut owned_rows, mut scan_peak) = (0, 0, 0);
        let mut scanned = None;
        for _ in 0..3 {
            let (rows, seconds, _) = measure(|| raw_parse(&path));
            (raw_rows, raw_seconds) = (rows, raw_seconds.min(seconds));
            let (rows, seconds, _) = measure(|| owned_parse(&path));
            (owned_rows, owned_seconds) = (rows, owned_seconds.min(seconds));
            let (run, seconds, peak) = measure(|| scan(&path, 3));
            scan_seconds = scan_seconds.min(seconds);
            scan_peak = scan_peak.max(peak);
            scanned = Some(run);
        }
        let scanned = scanned.expect("three runs");
        assert_eq!(raw_rows, rows);
        assert_eq!(owned_rows, rows);
        assert_eq!(scanned.rows, rows);
        assert_eq!(scanned.tally.counts.valid, rows, "generated rows are valid");
        assert_eq!(scanned.tally.rejected_lines, 0);
        let raw_rate = raw_rows as f64 / raw_seconds;
        let owned_rate = owned_rows as f64 / owned_seconds;
        let scan_rate = scanned.rows as f64 / scan_seconds;
        println!(
            "| {rows} | {megabytes:.0} | {raw_rate:.0} | {owned_rate:.0} | {scan_rate:.0} | {:.2} | {:.2} | {:.2} MB | {:.0} MB |",
            scan_rate / raw_rate,
            scan_rate / owned_rate,
            scan_peak as f64 / 1e6,
            scanned.temp_bytes as f64 / 1e6,
        );
        peaks.push((rows, scan_peak));
        if std::env::var_os("BENCH_STAGES").is_some() {
            for (stage, name) in [
                (1, "read + rules + hash"),
                (2, "+ index rows (runs written)"),
                (3, "+ index merge (whole scan)"),
            ] {
                let (scanned, seconds, peak) = (0..3)
                    .map(|_| measure(|| scan(&path, stage)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .expect("three runs");
                println!(
                    "  stage {name}: {:.0} rows/s, peak heap {:.2} MB",
                    scanned.rows as f64 / seconds,
                    peak as f64 / 1e6
                );
            }
        }
        std::fs::remove_file(&path).ok();
    }
    if let (Some((small_rows, small)), Some((large_rows, large))) = (peaks.first(), peaks.last())
        && small_rows != large_rows
    {
        println!(
            "\npeak heap at {large_rows} rows / at {small_rows} rows: {:.3}",
            *large as f64 / *small as f64
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
