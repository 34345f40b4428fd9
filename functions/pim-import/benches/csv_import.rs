//! `cargo bench -p pim-import --bench csv_import`: rows per second of the import's CSV
//! pipeline (read + quality rules + content hash) against the csv crate's raw parse of the
//! same file, and peak heap memory at 100k and 1M rows. A bench binary, not a timed test:
//! it prints figures, it does not pass or fail on them.
//!
//! `BENCH_ROWS=100000,1000000` (default) chooses the sizes.

use bridge_domain::product::validate_product;
use pim_import::formats::{self, Format};
use pim_import::import::content_hash;
use pim_import::index::SkuIndex;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufWriter, Write};
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
fn generate(path: &std::path::Path, rows: u64) {
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

/// Stages of the pipeline, to see what dominates: 1 = read only, 2 = + rules, 3 = + hash.
fn stages(path: &std::path::Path, upto: u8) -> u64 {
    let input = Box::new(std::fs::File::open(path).unwrap());
    let mut source = formats::open(Format::Csv, false, input).unwrap();
    let mut rows = 0;
    while let Some(record) = source.next_record() {
        let record = record.unwrap();
        if upto >= 2 {
            let product = validate_product(record.raw, record.line).expect("valid");
            if upto >= 3 {
                std::hint::black_box(content_hash(&product));
            }
        }
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

fn pipeline(path: &std::path::Path) -> u64 {
    let input = Box::new(std::fs::File::open(path).unwrap());
    let mut source = formats::open(Format::Csv, false, input).unwrap();
    let mut rows = 0;
    let mut checksum = 0u8;
    while let Some(record) = source.next_record() {
        let record = record.unwrap();
        let product = validate_product(record.raw, record.line).expect("generated rows are valid");
        checksum ^= content_hash(&product).as_bytes()[0];
        rows += 1;
    }
    std::hint::black_box(checksum);
    rows
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
    let dir = std::env::temp_dir().join(format!("pim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "| rows | file MB | raw csv parse rows/s | csv into owned strings rows/s | import pipeline rows/s | ratio to raw | ratio to owned | pipeline peak heap | sku index heap |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for rows in sizes {
        let path = dir.join(format!("catalog-{rows}.csv"));
        generate(&path, rows);
        let megabytes = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
        // Warm the page cache so that both measurements read from memory.
        raw_parse(&path);
        let (raw_rows, raw_seconds, _) = measure(|| raw_parse(&path));
        let (owned_rows, owned_seconds, _) = measure(|| owned_parse(&path));
        assert_eq!(owned_rows, rows);
        let (pipe_rows, pipe_seconds, pipe_peak) = measure(|| pipeline(&path));
        assert_eq!(raw_rows, rows);
        assert_eq!(pipe_rows, rows);
        // The import also keeps one index entry per sku (conflict detection, full-catalog
        // deactivation): measured on its own.
        let (index, _, index_peak) = measure(|| {
            let mut index = SkuIndex::default();
            for n in 0..rows {
                index.valid(&format!("SKU-{n:08}"), n, n + 1, n + 2);
            }
            index
        });
        std::hint::black_box(index.len());
        let raw_rate = raw_rows as f64 / raw_seconds;
        let owned_rate = owned_rows as f64 / owned_seconds;
        let pipe_rate = pipe_rows as f64 / pipe_seconds;
        println!(
            "| {rows} | {megabytes:.0} | {raw_rate:.0} | {owned_rate:.0} | {pipe_rate:.0} | {:.2} | {:.2} | {:.1} MB | {:.1} MB |",
            pipe_rate / raw_rate,
            pipe_rate / owned_rate,
            pipe_peak as f64 / 1e6,
            index_peak as f64 / 1e6
        );
        if std::env::var_os("BENCH_STAGES").is_some() {
            for (stage, name) in [(1, "read"), (2, "read + rules"), (3, "read + rules + hash")] {
                let (n, seconds, _) = measure(|| stages(&path, stage));
                println!("  stage {name}: {:.0} rows/s", n as f64 / seconds);
            }
        }
        std::fs::remove_file(&path).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}
