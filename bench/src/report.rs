//! The table every section adds its rows to: a figure, its baseline measured in the same
//! run, their ratio, and the target the ratio is held to (if any).

use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub struct Row {
    pub section: &'static str,
    pub figure: String,
    pub value: f64,
    pub baseline: String,
    pub baseline_value: f64,
    pub unit: &'static str,
    /// A note on what the ratio must be (e.g. "<= 1.2"), shown beside it.
    pub target: Option<Target>,
}

#[derive(Debug, Clone, Copy)]
pub enum Target {
    AtMost(f64),
    AtLeast(f64),
}

impl Target {
    fn holds(self, ratio: f64) -> bool {
        match self {
            Target::AtMost(limit) => ratio <= limit,
            Target::AtLeast(limit) => ratio >= limit,
        }
    }

    fn text(self) -> String {
        match self {
            Target::AtMost(limit) => format!("≤ {limit}"),
            Target::AtLeast(limit) => format!("≥ {limit}"),
        }
    }
}

impl Row {
    pub fn ratio(&self) -> f64 {
        if self.baseline_value == 0.0 {
            f64::NAN
        } else {
            self.value / self.baseline_value
        }
    }
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
}

fn number(value: f64, unit: &str) -> String {
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    if unit.is_empty() {
        format!("{value:.digits$}")
    } else {
        format!("{value:.digits$} {unit}")
    }
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        section: &'static str,
        figure: impl Into<String>,
        value: f64,
        baseline: impl Into<String>,
        baseline_value: f64,
        unit: &'static str,
        target: Option<Target>,
    ) {
        let row = Row {
            section,
            figure: figure.into(),
            value,
            baseline: baseline.into(),
            baseline_value,
            unit,
            target,
        };
        println!("{}", Self::line(&row));
        self.rows.push(row);
    }

    fn line(row: &Row) -> String {
        let ratio = row.ratio();
        let target = match row.target {
            None => String::new(),
            Some(target) => format!(
                "{} {}",
                target.text(),
                if target.holds(ratio) { "met" } else { "MISSED" }
            ),
        };
        format!(
            "| {} | {} | {} | {} | {} | {:.2} | {} |",
            row.section,
            row.figure,
            number(row.value, row.unit),
            row.baseline,
            number(row.baseline_value, row.unit),
            ratio,
            target
        )
    }

    pub const HEADER: &'static str = "| section | figure | value | baseline | baseline value | ratio | target |\n|---|---|---:|---|---:|---:|---|";

    pub fn markdown(&self) -> String {
        let mut out = String::from(Self::HEADER);
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "{}", Self::line(row));
        }
        out
    }

    /// Rows whose ratio misses its target.
    pub fn missed(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.target.is_some_and(|t| !t.holds(r.ratio())))
            .collect()
    }
}
