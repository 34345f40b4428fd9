//! PIM import throughput per format against the raw parser of that format, the peak heap
//! of a whole scan at 100k and 1M rows, and the same CSV rules in plain Python.
//!
//! "parse + validate + hash" is the reader with the quality rules and the content key
//! (`next_checked`, what the import does per row before its sku index); the whole scan adds
//! the index that finds repeats and conflicts (`scan_record` + `finish_scan`), exactly as
//! `Importer` runs it. All rates are CPU time of this thread, the best of five runs, a figure's
//! runs taken in turns with its baseline's (`best_of_interleaved`).

use crate::cpu::best_of_interleaved;
use crate::report::{Report, Target};
use bridge_testkit::memory::peak_of;
use pim_import::formats::{self, Format, Outcome};
use pim_import::import::{Tally, finish_scan, scan_record};
use pim_import::index::{IndexBuilder, IndexSettings};
use std::hint::black_box;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

const RUNS: usize = 5;

fn gtin(n: u64) -> String {
    bridge_domain::product::Gtin::gtin13(400_000_000_000 + n).to_string()
}

/// A realistic PIM export: two languages, GTIN, unit, weight, category, images, attributes.
pub fn generate_csv(path: &Path, rows: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "sku;gtin;name.de-DE;name.en-GB;description.de-DE;brand;category;unit;weight_kg;images;status;attr.color;attr.material").unwrap();
    for n in 0..rows {
        writeln!(
            out,
            "SKU-{n:08};{};Sechskantschraube M{} x {};Hex bolt M{} x {};\"Verzinkt, DIN 933; Festigkeit 8.8\";Muster;Befestigung > Schrauben > Sechskant;C62;0,{:03};https://img.example/{n}.jpg|https://img.example/{n}-2.jpg;active;silber;Stahl",
            gtin(n),
            n % 24 + 3,
            n % 200 + 10,
            n % 24 + 3,
            n % 200 + 10,
            n % 1000
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// The same products as NDJSON (contract: `name`/`description` maps, `attributes` map).
fn generate_ndjson(path: &Path, rows: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    for n in 0..rows {
        let line = serde_json::json!({
            "sku": format!("SKU-{n:08}"), "gtin": gtin(n),
            "name": {"de-DE": format!("Sechskantschraube M{} x {}", n % 24 + 3, n % 200 + 10),
                     "en-GB": format!("Hex bolt M{} x {}", n % 24 + 3, n % 200 + 10)},
            "description": {"de-DE": "Verzinkt, DIN 933; Festigkeit 8.8"},
            "brand": "Muster", "category": "Befestigung > Schrauben > Sechskant", "unit": "C62",
            "weight_kg": format!("0.{:03}", n % 1000),
            "images": [format!("https://img.example/{n}.jpg"), format!("https://img.example/{n}-2.jpg")],
            "status": "active", "attributes": {"color": "silber", "material": "Stahl"}});
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
}

/// The same products as a BMEcat 2005 new catalog.
fn generate_bmecat(path: &Path, rows: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    write!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BMECAT version=\"2005\" xmlns=\"http://www.bmecat.org/bmecat/2005\">\n<HEADER><CATALOG><LANGUAGE>deu</LANGUAGE><CATALOG_ID>bench</CATALOG_ID><CATALOG_VERSION>1.0</CATALOG_VERSION></CATALOG></HEADER>\n<T_NEW_CATALOG>\n").unwrap();
    for n in 0..rows {
        writeln!(
            out,
            "<PRODUCT><SUPPLIER_PID>SKU-{n:08}</SUPPLIER_PID><PRODUCT_DETAILS>\
<DESCRIPTION_SHORT lang=\"deu\">Sechskantschraube M{m} x {l}</DESCRIPTION_SHORT>\
<DESCRIPTION_SHORT lang=\"eng\">Hex bolt M{m} x {l}</DESCRIPTION_SHORT>\
<DESCRIPTION_LONG lang=\"deu\">Verzinkt, DIN 933; Festigkeit 8.8</DESCRIPTION_LONG>\
<INTERNATIONAL_PID type=\"gtin\">{gtin}</INTERNATIONAL_PID><MANUFACTURER_NAME>Muster</MANUFACTURER_NAME></PRODUCT_DETAILS>\
<PRODUCT_FEATURES><FEATURE><FNAME>Farbe</FNAME><FVALUE>silber</FVALUE></FEATURE><FEATURE><FNAME>Material</FNAME><FVALUE>Stahl</FVALUE></FEATURE></PRODUCT_FEATURES>\
<PRODUCT_ORDER_DETAILS><ORDER_UNIT>C62</ORDER_UNIT></PRODUCT_ORDER_DETAILS>\
<MIME_INFO><MIME><MIME_TYPE>image/jpeg</MIME_TYPE><MIME_SOURCE>https://img.example/{n}.jpg</MIME_SOURCE></MIME></MIME_INFO></PRODUCT>",
            m = n % 24 + 3,
            l = n % 200 + 10,
            gtin = gtin(n),
        )
        .unwrap();
    }
    write!(out, "</T_NEW_CATALOG>\n</BMECAT>\n").unwrap();
    out.flush().unwrap();
}

fn open(path: &Path) -> Box<dyn std::io::Read + Send> {
    Box::new(std::fs::File::open(path).unwrap())
}

fn raw_csv(path: &Path) -> u64 {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(std::io::BufReader::with_capacity(64 * 1024, open(path)));
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while reader.read_byte_record(&mut record).unwrap() {
        rows += 1;
    }
    rows
}

/// serde_json over each line, keeping nothing (`IgnoredAny`): the parse alone.
fn raw_ndjson(path: &Path) -> u64 {
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, open(path));
    let mut line = Vec::new();
    let mut rows = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).unwrap() == 0 {
            return rows;
        }
        black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&line).unwrap());
        rows += 1;
    }
}

/// quick-xml's events over the whole file, counting product elements.
fn raw_xml(path: &Path) -> u64 {
    let mut reader =
        quick_xml::Reader::from_reader(std::io::BufReader::with_capacity(64 * 1024, open(path)));
    let mut buffer = Vec::new();
    let mut products = 0;
    loop {
        match reader.read_event_into(&mut buffer).unwrap() {
            quick_xml::events::Event::Start(e)
                if matches!(e.local_name().as_ref(), b"PRODUCT" | b"ARTICLE") =>
            {
                products += 1
            }
            quick_xml::events::Event::Eof => return products,
            other => {
                black_box(other);
            }
        }
        buffer.clear();
    }
}

/// parse + validate + hash: the reader, the quality rules and the content key per record.
fn checked(format: Format, path: &Path) -> (u64, u64) {
    let mut source = formats::open(format, false, open(path)).unwrap();
    let (mut records, mut valid, mut checksum) = (0, 0, 0u64);
    while let Some(next) = source.next_checked() {
        records += 1;
        if let Ok(checked) = next
            && let Outcome::Valid(product) = checked.outcome
        {
            valid += 1;
            checksum ^= product.key;
        }
    }
    black_box(checksum);
    (records, valid)
}

fn temp_dir() -> PathBuf {
    std::env::var_os("TEMP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// The whole scan as the import runs it: reader, rules, hash, the sku index and its merge.
fn whole_scan(path: &Path) -> u64 {
    let mut source = formats::open(Format::Csv, false, open(path)).unwrap();
    let mut index = IndexBuilder::new(IndexSettings::new(temp_dir())).unwrap();
    let mut tally = Tally::default();
    let mut ordinal = 0;
    while let Some(next) = source.next_checked() {
        ordinal += 1;
        scan_record(&mut index, Some(&mut tally), ordinal, next).unwrap();
    }
    let finished = finish_scan(index, Some(&mut tally)).unwrap();
    assert_eq!(finished.len(), ordinal);
    assert_eq!(tally.rejected_lines, 0, "generated rows are valid");
    ordinal
}

fn rate(rows: u64, seconds: f64) -> f64 {
    rows as f64 / seconds
}

/// Parse+validate+hash against the raw parser for one generated file.
fn format_row(
    report: &mut Report,
    name: &str,
    format: Format,
    path: &Path,
    target: Option<Target>,
) {
    let raw: fn(&Path) -> u64 = match format {
        Format::Csv => raw_csv,
        Format::Ndjson => raw_ndjson,
        Format::Bmecat => raw_xml,
    };
    raw(path); // page cache
    let ((raw_rows, raw_time), ((rows, valid), time)) =
        best_of_interleaved(RUNS, || raw(path), || checked(format, path));
    assert_eq!(
        raw_rows, rows,
        "{name}: the raw parse and the import disagree"
    );
    assert_eq!(valid, rows, "{name}: generated records are valid");
    report.add(
        "PIM import",
        format!("{name}: parse + validate + hash, {rows} records"),
        rate(rows, time.as_secs_f64()),
        raw_baseline(format),
        rate(raw_rows, raw_time.as_secs_f64()),
        "rows/s",
        target,
    );
}

fn raw_baseline(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv crate ByteRecord parse alone",
        Format::Ndjson => "serde_json per line (IgnoredAny) alone",
        Format::Bmecat => "quick-xml events alone",
    }
}

pub struct Settings {
    pub csv_rows: Vec<u64>,
    pub other_rows: u64,
    pub samples: Option<PathBuf>,
    pub python: Option<PathBuf>,
    pub python_script: PathBuf,
}

pub fn run(report: &mut Report, settings: &Settings) {
    let dir = temp_dir().join(format!("bridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut peaks = Vec::new();
    let largest = *settings.csv_rows.iter().max().expect("a CSV size");
    for &rows in &settings.csv_rows {
        let path = dir.join(format!("catalog-{rows}.csv"));
        generate_csv(&path, rows);
        let target = (rows == largest).then_some(Target::AtLeast(0.5));
        format_row(report, "CSV", Format::Csv, &path, target);
        let ((raw_rows, raw_time), (scanned, time)) =
            best_of_interleaved(RUNS, || raw_csv(&path), || whole_scan(&path));
        let (_, peak) = peak_of(|| whole_scan(&path));
        peaks.push((rows, peak));
        report.add(
            "PIM import",
            format!("CSV: whole scan (with the sku index), {rows} rows"),
            rate(scanned, time.as_secs_f64()),
            raw_baseline(Format::Csv),
            rate(raw_rows, raw_time.as_secs_f64()),
            "rows/s",
            None,
        );
        if rows == largest
            && let Some(python) = &settings.python
        {
            python_row(
                report,
                python,
                &settings.python_script,
                &path,
                scanned,
                time,
            );
        }
        std::fs::remove_file(&path).ok();
    }
    if let (Some(&(small_rows, small)), Some(&(large_rows, large))) = (peaks.first(), peaks.last())
        && small_rows != large_rows
    {
        report.add(
            "PIM import",
            format!("CSV: peak heap of the whole scan, {large_rows} rows"),
            large as f64 / 1e6,
            format!("the same at {small_rows} rows"),
            small as f64 / 1e6,
            "MB",
            Some(Target::AtMost(1.1)),
        );
    }
    let others = if settings.other_rows == 0 {
        Vec::new()
    } else {
        vec![
            ("NDJSON", Format::Ndjson, generate_ndjson as fn(&Path, u64)),
            ("BMEcat 2005", Format::Bmecat, generate_bmecat),
        ]
    };
    for (name, format, generate) in others {
        let path = dir.join(format!("catalog.{name}"));
        generate(&path, settings.other_rows);
        format_row(report, name, format, &path, None);
        std::fs::remove_file(&path).ok();
    }
    if let Some(samples) = &settings.samples {
        samples_row(report, samples);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The real BMEcat files, all of them in one pass, in MB per second against quick-xml (a
/// real product carries hundreds of features: products per second would say little).
fn samples_row(report: &mut Report, folder: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder.join("bmecat"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")));
    files.sort();
    if files.is_empty() {
        println!(
            "(no BMEcat samples under {}; row skipped)",
            folder.display()
        );
        return;
    }
    let bytes: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let all = |f: fn(&Path) -> u64| files.iter().map(|p| f(p)).sum::<u64>();
    all(raw_xml);
    let ((raw_products, raw_time), ((products, _), time)) = best_of_interleaved(
        RUNS,
        || all(raw_xml),
        || {
            files
                .iter()
                .map(|p| checked(Format::Bmecat, p))
                .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
        },
    );
    assert_eq!(products, raw_products, "every sample product is read");
    let megabytes = bytes as f64 / 1e6;
    report.add(
        "PIM import",
        format!(
            "BMEcat real samples ({} files, {megabytes:.1} MB, {products} products): parse + validate + hash",
            files.len()
        ),
        megabytes / time.as_secs_f64(),
        raw_baseline(Format::Bmecat),
        megabytes / raw_time.as_secs_f64(),
        "MB/s",
        None,
    );
}

/// The same CSV rules in plain Python (bench/python/csv_rules.py) on the same file; our
/// whole scan as a multiple of it.
fn python_row(
    report: &mut Report,
    python: &Path,
    script: &Path,
    csv: &Path,
    rows: u64,
    our_time: std::time::Duration,
) {
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(csv)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "the Python baseline failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the Python baseline prints JSON");
    assert_eq!(
        result["rows"], rows,
        "Python read a different number of rows"
    );
    assert_eq!(
        result["valid"], rows,
        "Python judged the generated rows differently"
    );
    let seconds = result["seconds"].as_f64().expect("seconds");
    report.add(
        "PIM import",
        format!("CSV: whole scan, {rows} rows (our rows/s)"),
        rate(rows, our_time.as_secs_f64()),
        "the same rules in plain Python (csv module), same file",
        rate(rows, seconds),
        "rows/s",
        Some(Target::AtLeast(10.0)),
    );
}
