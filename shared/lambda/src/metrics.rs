//! Business metrics as CloudWatch Embedded Metric Format: one JSON log line per flush,
//! which CloudWatch turns into metrics without an API call.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// Where EMF documents go: stdout (Lambda ships it to CloudWatch) unless redirected.
static SINK: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();

/// Sends every EMF document to `sink` instead of stdout (the local stack writes them to
/// a file). Only the first call takes effect.
pub fn redirect(sink: Box<dyn Write + Send>) {
    let _ = SINK.set(Mutex::new(sink));
}

/// The namespace of every metric the product emits.
pub const NAMESPACE: &str = "B2BBridge";

/// Counters of one invocation, emitted as one EMF document with the `Function` dimension.
#[derive(Debug)]
pub struct Metrics {
    function: String,
    counters: BTreeMap<String, u64>,
}

impl Metrics {
    pub fn new(function: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            counters: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, name: &str, count: u64) {
        *self.counters.entry(name.to_string()).or_default() += count;
    }

    pub fn count(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or_default()
    }

    /// Adds `other`'s counts (of work done apart, e.g. one message's) to these.
    pub fn absorb(&mut self, other: Metrics) {
        for (name, count) in other.counters {
            *self.counters.entry(name).or_default() += count;
        }
    }

    /// The EMF document, or `None` when nothing was counted.
    pub fn render(&self, timestamp_ms: i64) -> Option<String> {
        if self.counters.is_empty() {
            return None;
        }
        let metrics: Vec<_> = self
            .counters
            .keys()
            .map(|name| serde_json::json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut document = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": metrics,
                }],
            },
            "Function": self.function,
        });
        for (name, value) in &self.counters {
            document[name.as_str()] = serde_json::json!(value);
        }
        Some(document.to_string())
    }

    /// Writes the document to stdout as one line and resets the counters.
    pub fn flush(&mut self) {
        if let Some(line) = self.render(chrono::Utc::now().timestamp_millis()) {
            write_line(&line);
        }
        self.counters.clear();
    }
}

fn write_line(line: &str) {
    match SINK.get() {
        Some(sink) => {
            let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(sink, "{line}");
            let _ = sink.flush();
        }
        None => {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }
}

/// The `Heartbeat` metric of a data category (dimension `Category`): one per successful
/// batch. Freshness alarms fire when a category's heartbeats stop for longer than its SLA.
pub fn heartbeat_document(category: &str, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Category"]],
                "Metrics": [{"Name": "Heartbeat", "Unit": "Count"}],
            }],
        },
        "Category": category,
        "Heartbeat": 1,
    })
    .to_string()
}

/// A gauge of a data category (dimension `Category`), e.g. the shop's lag per category.
pub fn category_gauge_document(
    name: &str,
    unit: &str,
    category: &str,
    value: u64,
    timestamp_ms: i64,
) -> String {
    let mut doc = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Category"]],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        "Category": category,
    });
    doc[name] = serde_json::json!(value);
    doc.to_string()
}

/// Emits one gauge document per (category, value).
pub fn category_gauges<'a>(
    name: &str,
    unit: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) {
    let now = chrono::Utc::now().timestamp_millis();
    for (category, value) in values {
        write_line(&category_gauge_document(name, unit, category, value, now));
    }
}

/// Emits one heartbeat per category.
pub fn heartbeats<'a>(categories: impl IntoIterator<Item = &'a str>) {
    let now = chrono::Utc::now().timestamp_millis();
    for category in categories {
        write_line(&heartbeat_document(category, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_one_emf_document() {
        let mut metrics = Metrics::new("price-stock-sync");
        metrics.add("Applied", 2);
        metrics.add("Stale", 1);
        metrics.add("Applied", 1);
        let doc: serde_json::Value = serde_json::from_str(&metrics.render(1).unwrap()).unwrap();
        assert_eq!(doc["Applied"], 3);
        assert_eq!(doc["Stale"], 1);
        assert_eq!(doc["Function"], "price-stock-sync");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_heartbeat_carries_its_category_dimension() {
        let doc: serde_json::Value =
            serde_json::from_str(&heartbeat_document("prices", 1)).unwrap();
        assert_eq!(doc["Category"], "prices");
        assert_eq!(doc["Heartbeat"], 1);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Category"
        );
    }

    #[test]
    fn nothing_counted_renders_nothing() {
        assert!(Metrics::new("f").render(1).is_none());
    }
}
