//! Catalog commands: products as imported, import history and reports, and uploading a
//! file into the inbox with progress until its report exists; `run_product` and the
//! `run_import*` functions are the commands.

use crate::cli::{Resolved, Target, output};
use anyhow::Context;
use bridge_domain::Sku;
use bridge_domain::ports::{CatalogStore, FileStore, ImportLedger, ImportRecord, StoredProduct};
use pim_import::ImportReport;
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub struct Catalog {
    pub products: Arc<dyn CatalogStore>,
    pub ledger: Arc<dyn ImportLedger>,
    pub files: Arc<dyn FileStore>,
}

pub async fn product(catalog: &Catalog, sku: &str) -> anyhow::Result<StoredProduct> {
    let sku = Sku::parse(sku).map_err(|e| anyhow::anyhow!("sku: {e}"))?;
    catalog
        .products
        .product(&sku)
        .await?
        .ok_or_else(|| anyhow::anyhow!("product {sku} is not in the catalog"))
}

pub fn product_text(stored: &StoredProduct) -> String {
    let p = &stored.product;
    let mut out = String::new();
    let _ = writeln!(out, "sku           {}", p.sku);
    let _ = writeln!(out, "status        {:?}", p.status);
    let _ = writeln!(
        out,
        "gtin          {}",
        p.gtin
            .as_ref()
            .map(|g| g.to_string())
            .unwrap_or_else(|| "-".into())
    );
    for (locale, name) in &p.names {
        let _ = writeln!(out, "name {:<8} {name}", locale.as_str());
    }
    for (locale, text) in &p.descriptions {
        let short: String = text.chars().take(100).collect();
        let _ = writeln!(
            out,
            "descr {:<7} {short}{}",
            locale.as_str(),
            if text.chars().count() > 100 {
                "…"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(out, "brand         {}", p.brand.as_deref().unwrap_or("-"));
    let _ = writeln!(
        out,
        "category      {}",
        if p.category.is_empty() {
            "-".to_string()
        } else {
            p.category.join(" > ")
        }
    );
    let _ = writeln!(
        out,
        "unit          {}",
        p.unit
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(
        out,
        "weight        {}",
        p.weight_kg
            .map(|w| format!("{w} kg"))
            .unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(out, "images        {}", p.images.len());
    let _ = writeln!(out, "attributes    {}", p.attributes.len());
    let _ = writeln!(
        out,
        "imported by   {} at {}",
        stored.import_id,
        stored.updated_at.to_rfc3339()
    );
    out
}

pub async fn list(catalog: &Catalog) -> anyhow::Result<Vec<ImportRecord>> {
    let mut records = catalog.ledger.list().await?;
    records.sort_by_key(|r| std::cmp::Reverse(r.started_at));
    Ok(records)
}

pub fn list_text(records: &[ImportRecord]) -> String {
    if records.is_empty() {
        return "no imports yet\n".to_string();
    }
    let mut out = format!(
        "{:<20} {:<12} {:<10} {:>9}  {}\n",
        "started", "status", "phase", "records", "file"
    );
    for r in records {
        let _ = writeln!(
            out,
            "{:<20} {:<12} {:<10} {:>9}  {}{}",
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.status,
            r.phase,
            r.records_done,
            r.file,
            r.message
                .as_ref()
                .map(|m| format!("  ({m})"))
                .unwrap_or_default()
        );
    }
    out
}

/// The inbox key for what a user typed: a full key, or a name below the inbox.
fn inbox_key(file: &str) -> String {
    if file.starts_with("pim/") {
        file.to_string()
    } else {
        format!(
            "{}{}",
            pim_import::import::INBOX,
            file.trim_start_matches('/')
        )
    }
}

pub async fn report(catalog: &Catalog, file: &str) -> anyhow::Result<ImportReport> {
    let key = inbox_key(file);
    let mut report_key = pim_import::import::report_key(&key);
    if let Some(record) = catalog.ledger.get(&key).await? {
        report_key = record.report_key.unwrap_or(report_key);
    }
    let bytes =
        catalog.files.read(&report_key).await?.ok_or_else(|| {
            anyhow::anyhow!("no report for {key} ({report_key} does not exist yet)")
        })?;
    Ok(serde_json::from_slice(&bytes)?)
}

pub fn report_text(report: &ImportReport, max_rejections: usize) -> String {
    let c = &report.counts;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "file          {} ({}{}, {})",
        report.file,
        report.format,
        if report.compressed { ", gzip" } else { "" },
        report.mode
    );
    let _ = writeln!(
        out,
        "status        {}{}",
        report.status.as_str().to_uppercase(),
        report
            .reason
            .as_ref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "moved to      {}", report.moved_to);
    let _ = writeln!(
        out,
        "duration      {} ms in {} run(s)",
        report.duration_ms, report.runs
    );
    let _ = writeln!(
        out,
        "counts        total {}  created {}  updated {}  unchanged {}  rejected {}  warnings {}  deactivated {}",
        c.total, c.created, c.updated, c.unchanged, c.rejected, c.warnings, c.deactivated
    );
    for warning in &report.warnings {
        let _ = writeln!(out, "warning       {warning}");
    }
    if !report.rejections.is_empty() {
        let _ = writeln!(out, "rejections    (line, sku, field, code: message)");
    }
    for r in report.rejections.iter().take(max_rejections) {
        let _ = writeln!(
            out,
            "  {:>7}  {:<16} {:<16} {}: {}",
            r.line,
            r.sku.as_deref().unwrap_or("-"),
            r.field,
            r.code,
            r.message
        );
    }
    if report.rejections.len() > max_rejections {
        let _ = writeln!(
            out,
            "  ... {} more (--json shows all)",
            report.rejections.len() - max_rejections
        );
    }
    out
}

/// Uploads a local file into the inbox and waits for its report, reporting progress.
pub async fn upload_and_wait(
    catalog: &Catalog,
    path: &std::path::Path,
    full: bool,
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<ImportReport> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} has no file name", path.display()))?;
    let key = format!(
        "{}{}{name}",
        pim_import::import::INBOX,
        if full { "full/" } else { "" }
    );
    let body =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let uploaded_at = chrono::Utc::now();
    catalog
        .files
        .write(&key, body, "application/octet-stream")
        .await?;
    progress(&format!("uploaded to {key}"));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::new();
    loop {
        if let Some(record) = catalog.ledger.get(&key).await?
            && record.started_at >= uploaded_at - chrono::Duration::seconds(5)
        {
            let line = format!(
                "{}: {} ({} records)",
                record.status, record.phase, record.records_done
            );
            if line != last {
                progress(&line);
                last = line;
            }
            if record.status != bridge_domain::ports::ImportStatus::Running {
                return report(catalog, &key).await;
            }
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "no report for {key} after {timeout:?}; is the stack running (bridgectl dev)?"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The catalog of a deployed stack when its tables and bucket are named, else the local
/// stack's.
async fn connect(target: &Target) -> anyhow::Result<Catalog> {
    let deployed = target.product_table.is_some()
        && target.import_table.is_some()
        && target.catalog_bucket.is_some();
    let r = Resolved::new(target, deployed).await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&r.aws);
    Ok(Catalog {
        products: Arc::new(bridge_aws::DynamoCatalogStore::new(
            dynamo.clone(),
            r.name(&target.product_table, "ProductTable")?,
        )),
        ledger: Arc::new(bridge_aws::DynamoImportLedger::new(
            dynamo,
            r.name(&target.import_table, "ImportTable")?,
        )),
        files: Arc::new(bridge_aws::S3FileStore::new(
            bridge_aws::s3_client(&r.aws),
            r.name(&target.catalog_bucket, "CatalogBucket")?,
        )),
    })
}

/// `bridgectl product SKU`.
pub async fn run_product(target: &Target, sku: &str) -> anyhow::Result<ExitCode> {
    let product = product(&connect(target).await?, sku).await?;
    output(target.json, &product, || product_text(&product))?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl import list`.
pub async fn run_import_list(target: &Target) -> anyhow::Result<ExitCode> {
    let records = list(&connect(target).await?).await?;
    output(target.json, &records, || list_text(&records))?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl import report FILE`.
pub async fn run_import_report(
    target: &Target,
    file: &str,
    max: usize,
) -> anyhow::Result<ExitCode> {
    let report = report(&connect(target).await?, file).await?;
    output(target.json, &report, || report_text(&report, max))?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl import FILE`: exit 3 when the file is not applied (quarantined).
pub async fn run_import(
    target: &Target,
    file: Option<&Path>,
    full: bool,
    wait: u64,
) -> anyhow::Result<ExitCode> {
    let file =
        file.context("name a file to import, or use `import list` / `import report FILE`")?;
    let catalog = connect(target).await?;
    let report = upload_and_wait(&catalog, file, full, Duration::from_secs(wait), |line| {
        eprintln!("{line}")
    })
    .await?;
    output(target.json, &report, || report_text(&report, 50))?;
    // Scripts can tell a quarantined file from an applied one.
    Ok(
        if report.status == bridge_domain::ports::ImportStatus::Applied {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(3)
        },
    )
}
