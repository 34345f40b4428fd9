//! `bridgectl sync` and `bridgectl reconcile`: the delta pull's state, a pull run now, and
//! the drift reports of snapshot reconciliation; `run_status`, `run_pull` and
//! `run_reconcile_report` are the commands.

use crate::cli::{Resolved, Target, output};
use anyhow::Context;
use bridge_domain::pull::PullState;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt::Write;
use std::process::ExitCode;

fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match at {
        Some(at) => {
            let seconds = (now - at).num_seconds().max(0);
            let span = match seconds {
                0..=119 => format!("{seconds}s"),
                120..=7199 => format!("{}m", seconds / 60),
                _ => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
            };
            format!("{} ({span} ago)", at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        None => "never".to_string(),
    }
}

/// The pull's state for people.
pub fn status_text(state: Option<&PullState>, now: DateTime<Utc>) -> String {
    let Some(state) = state else {
        return "no pull has run yet: the first run starts from the beginning of the ERP's changes\n"
            .to_string();
    };
    let mut out = String::new();
    let _ = writeln!(out, "pull            {}", state.name);
    let _ = writeln!(
        out,
        "cursor          {}",
        state
            .cursor
            .as_deref()
            .unwrap_or("(none: from the beginning)")
    );
    let _ = writeln!(out, "cursor moved    {}", ago(state.cursor_moved_at, now));
    let _ = writeln!(
        out,
        "last run        {} — {}",
        ago(state.last_run_at, now),
        state.last_run_status.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "  pages {}, changes {}",
        state.last_run_pages, state.last_run_changes
    );
    if let Some(error) = &state.last_error {
        let _ = writeln!(out, "  error: {error}");
    }
    let _ = writeln!(out, "caught up       {}", ago(state.caught_up_at, now));
    let _ = writeln!(
        out,
        "lag             {}",
        state
            .lag(now)
            .map(|l| format!("{}s", l.num_seconds().max(0)))
            .unwrap_or_else(|| "unknown (never caught up)".to_string())
    );
    let _ = writeln!(out, "changes pulled  {} in all", state.total_changes);
    out
}

/// The delta pull wired as the local stack's function is (same environment, its ERP).
pub async fn local_pull(
    file: &crate::stackfile::StackFile,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<delta_pull::DeltaPull> {
    let root = crate::stackfile::find_root()?;
    let template = bridge_infra::Template::load(&root.join("template.yaml"))?;
    let function = template
        .functions()?
        .into_iter()
        .find(|f| f.binary == "delta-pull")
        .ok_or_else(|| anyhow::anyhow!("template.yaml declares no delta-pull function"))?;
    let mut environment = file.stack.function_environment(&function)?;
    environment.insert("ERP_BASE_URL".into(), file.erp_base_url.clone());
    delta_pull::wiring::build(&bridge_lambda::Config::from_map(environment), aws).await
}

/// The report key of a snapshot given as a name or key.
pub fn report_key(file: &str) -> String {
    let name = file.rsplit('/').next().unwrap_or(file);
    let name = name.strip_suffix(".json").unwrap_or(name);
    format!("erp/reports/{name}.json")
}

/// A drift report for people: counts, then every drifted record (up to `max`).
pub fn report_text(report: &Value, max: usize) -> String {
    let mut out = String::new();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let _ = writeln!(
        out,
        "{} ({}): {}",
        text(&report["file"]),
        text(&report["kind"]),
        text(&report["status"])
    );
    if let Some(message) = report["message"].as_str() {
        let _ = writeln!(out, "  {message}");
    }
    let counts = &report["counts"];
    let _ = writeln!(
        out,
        "rows {}, records {}: unchanged {}, applied {}, stale on apply {}, invalid {}",
        text(&counts["rows"]),
        text(&counts["records"]),
        text(&counts["unchanged"]),
        text(&counts["applied"]),
        text(&counts["stale_on_apply"]),
        text(&counts["invalid"]),
    );
    let _ = write!(out, "drift {}", text(&counts["drift_total"]));
    if let Some(kinds) = counts["drift"].as_object() {
        let parts: Vec<String> = kinds
            .iter()
            .map(|(kind, n)| format!("{kind} {}", text(n)))
            .collect();
        let _ = write!(out, ": {}", parts.join(", "));
    }
    out.push('\n');
    let drift = report["drift"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for record in drift.iter().take(max) {
        let key = record["key"]
            .as_object()
            .map(|k| k.values().map(text).collect::<Vec<_>>().join("/"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<20} {:<30} erp: {}  shop: {}{}",
            text(&record["kind"]),
            key,
            compact(&record["snapshot"]),
            compact(&record["store"]),
            if record["applied"] == Value::Bool(true) {
                "  (applied)"
            } else {
                ""
            }
        );
    }
    if drift.len() > max {
        let _ = writeln!(out, "  ... {} more (--json prints all)", drift.len() - max);
    }
    let invalid = report["invalid"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for row in invalid.iter().take(max) {
        let key = match &row["key"] {
            Value::Object(k) => k.values().map(text).collect::<Vec<_>>().join("/"),
            other => text(other),
        };
        let _ = writeln!(
            out,
            "  invalid line {} {} {}: {}",
            text(&row["line"]),
            key,
            text(&row["field"]),
            text(&row["message"])
        );
    }
    out
}

/// A record's values on one line, without its key fields' noise.
fn compact(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::Object(fields) => fields
            .iter()
            .filter(|(k, v)| {
                !v.is_null() && !matches!(k.as_str(), "sku" | "warehouse" | "price_list")
            })
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// `bridgectl sync status`.
pub async fn run_status(
    target: &Target,
    pull_state_table: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let r = Resolved::new(target, pull_state_table.is_some()).await?;
    let store = bridge_aws::DynamoPullStateStore::new(
        aws_sdk_dynamodb::Client::new(&r.aws),
        r.name(pull_state_table, "PullStateTable")?,
    );
    let state = bridge_domain::pull::PullStateStore::load(&store, "erp").await?;
    output(target.json, &state, || {
        status_text(state.as_ref(), Utc::now())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl sync pull`: one pull against the local stack's ERP, a line per page.
pub async fn run_pull(target: &Target) -> anyhow::Result<ExitCode> {
    let r = Resolved::new(target, false).await?;
    let (_, file) = r.file.as_ref().context("a pull runs against the local stack; for a deployed stack invoke its DeltaPullFunction (aws lambda invoke)")?;
    let pull = local_pull(file, &r.aws).await?;
    let json = target.json;
    let mut progress = move |summary: &delta_pull::RunSummary| {
        if !json {
            println!(
                "page {}: {} changes so far (accepted {}, duplicates {}, rejected {}), cursor {}",
                summary.pages,
                summary.changes,
                summary.accepted,
                summary.duplicates,
                summary.rejected,
                summary.cursor.as_deref().unwrap_or("-")
            );
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let summary = pull.run(deadline, &mut progress).await?;
    let counts = serde_json::json!({
        "pages": summary.pages, "changes": summary.changes, "accepted": summary.accepted,
        "duplicates": summary.duplicates, "rejected": summary.rejected,
        "throttled": summary.throttled, "cursor": summary.cursor,
    });
    output(json, &counts, || {
        format!(
            "pulled {} changes in {} pages: {} queued, {} already known, {} refused (in the dead-letter queues)\n",
            summary.changes, summary.pages, summary.accepted, summary.duplicates, summary.rejected
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `bridgectl reconcile report FILE`.
pub async fn run_reconcile_report(
    target: &Target,
    file: &str,
    max: usize,
) -> anyhow::Result<ExitCode> {
    let r = Resolved::new(target, target.catalog_bucket.is_some()).await?;
    let files = bridge_aws::S3FileStore::new(
        bridge_aws::s3_client(&r.aws),
        r.name(&target.catalog_bucket, "CatalogBucket")?,
    );
    let key = report_key(file);
    let body = bridge_domain::ports::FileStore::read(&files, &key)
        .await?
        .with_context(|| format!("no report {key}: the snapshot was not reconciled (yet)"))?;
    let report: Value = serde_json::from_slice(&body)?;
    output(target.json, &report, || report_text(&report, max))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_says_where_the_cursor_stands() {
        let now = Utc::now();
        assert!(status_text(None, now).contains("no pull has run"));
        let state = PullState {
            name: "erp".into(),
            cursor: Some("c-42".into()),
            caught_up_at: Some(now - chrono::Duration::minutes(5)),
            last_run_at: Some(now - chrono::Duration::minutes(5)),
            last_run_status: Some("caught_up".into()),
            last_run_changes: 7,
            last_run_pages: 2,
            ..PullState::default()
        };
        let text = status_text(Some(&state), now);
        assert!(
            text.contains("c-42")
                && text.contains("caught_up")
                && text.contains("lag             300s"),
            "{text}"
        );
    }

    #[test]
    fn report_keys_come_from_names_or_keys() {
        assert_eq!(
            report_key("stock-2026-11-26.csv"),
            "erp/reports/stock-2026-11-26.csv.json"
        );
        assert_eq!(
            report_key("erp/snapshots/prices-1.csv.gz"),
            "erp/reports/prices-1.csv.gz.json"
        );
    }

    #[test]
    fn a_report_lists_each_drifted_record() {
        let report = json!({"file": "erp/snapshots/stock-1.csv", "kind": "stock", "status": "reconciled",
            "counts": {"rows": 3, "records": 3, "unchanged": 1, "applied": 1, "stale_on_apply": 0, "invalid": 0, "drift_total": 1, "drift": {"content_mismatch": 1}},
            "drift": [{"kind": "content_mismatch", "key": {"sku": "A", "warehouse": "W1"}, "snapshot": {"available": "5", "revision": 3}, "store": {"available": "4", "revision": 3}, "applied": false}],
            "invalid": []});
        let text = report_text(&report, 10);
        assert!(
            text.contains("content_mismatch")
                && text.contains("A/W1")
                && text.contains("available=5")
                && text.contains("available=4"),
            "{text}"
        );
    }
}
