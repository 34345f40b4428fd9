//! `scripts/bench.sh` (or `cargo run --release -p bridge-bench --bin bench` after building
//! the function binaries): every benchmark of docs/performance.md, each figure beside its
//! baseline measured in the same run, printed as one table and written to
//! `target/bench/results.md`. A bench binary, not a test: it prints figures; only a
//! broken measurement (a function that fails its event) stops it.
//!
//! Settings (environment): `BENCH_SECTIONS` (default `cold,intake,sync,import,requests,shop,api`),
//! `BENCH_BIN_DIR` (the release binaries; default `target/release`), `BENCH_ROUNDS` (cold
//! start rounds, default 15), `BENCH_CSV_ROWS` (default `100000,1000000`),
//! `BENCH_OTHER_ROWS` (NDJSON and BMEcat records, default 200000), `BENCH_EVENTS` (request
//! cost scenario, default 10000; the figures are per 1,000 events),
//! `BRIDGE_SAMPLES_DIR` (real BMEcat files), `BENCH_PYTHON` (the Python for the baseline;
//! default the project's venv, else `python3`), `BENCH_SHOP_LEVELS` (stock levels of the
//! shop figures, default 1000), `BENCH_SHOP_ROUNDS` (rounds of changes, default 10),
//! `BENCH_RESYNC_PRODUCTS` (default `10000,100000`), `BENCH_API_REQUESTS` (resolves per
//! latency figure of the read API, default 200).

mod api;
mod cold;
mod cpu;
mod events;
mod fakes;
mod import;
mod inprocess;
mod report;
mod requests;
mod shop;

use report::Report;
use std::path::PathBuf;

#[global_allocator]
static ALLOCATOR: bridge_testkit::memory::Counting = bridge_testkit::memory::Counting;

fn list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: a number")))
        .unwrap_or(default)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores, {}", std::env::consts::ARCH)
}

/// Says on stderr how long a section took (the bench has a time budget: docs/performance.md).
fn timed<T>(section: &str, run: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let result = run();
    eprintln!("  [{section}: {:.0} s]", started.elapsed().as_secs_f64());
    result
}

fn main() -> anyhow::Result<()> {
    let root = bridge_testkit::repo_root();
    let sections = list(
        "BENCH_SECTIONS",
        "cold,intake,sync,import,requests,shop,api",
    );
    let bin_dir = std::env::var_os("BENCH_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release"));
    // The functions' logs and metrics are produced (their cost is part of each figure)
    // but not printed.
    bridge_lambda::logging::init_with_writer(std::io::sink);
    bridge_lambda::metrics::redirect(Box::new(std::io::sink()));
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let machine = machine();
    println!("machine: {machine}\n");
    println!("{}", Report::HEADER);
    let mut report = Report::default();
    let has = |name: &str| sections.iter().any(|s| s == name);
    if has("cold") {
        let rounds = number("BENCH_ROUNDS", 15) as usize;
        // The runtime API server and the moto calls of the scenario run beside the
        // children: a multi-threaded runtime keeps them answering promptly.
        let runtime = tokio::runtime::Runtime::new()?;
        timed("cold start", || {
            runtime.block_on(cold::run(
                &mut report,
                &cold::Binaries { dir: bin_dir },
                rounds,
            ))
        });
    }
    let mut queued = Vec::new();
    if has("intake") || has("sync") {
        queued = timed("intake", || inprocess::run(&current, &mut report));
    }
    if has("sync") {
        timed("sync", || {
            inprocess::run_sync(&current, &mut report, &queued)
        });
    }
    if has("import") {
        let python = std::env::var_os("BENCH_PYTHON")
            .map(PathBuf::from)
            .or_else(|| {
                let venv = root.join(".venv/bin/python");
                venv.exists().then_some(venv)
            })
            .unwrap_or_else(|| PathBuf::from("python3"));
        let settings = import::Settings {
            csv_rows: list("BENCH_CSV_ROWS", "100000,1000000")
                .iter()
                .map(|s| s.parse().expect("BENCH_CSV_ROWS: numbers"))
                .collect(),
            other_rows: number("BENCH_OTHER_ROWS", 200_000),
            samples: std::env::var_os("BRIDGE_SAMPLES_DIR").map(PathBuf::from),
            // `BENCH_PYTHON=none` leaves the Python baseline out.
            python: (python.as_os_str() != "none").then_some(python),
            python_script: root.join("bench/python/csv_rules.py"),
        };
        timed("import", || import::run(&mut report, &settings));
    }
    if has("requests") {
        let runtime = tokio::runtime::Runtime::new()?;
        let events = number("BENCH_EVENTS", 10_000);
        timed("requests", || {
            runtime.block_on(requests::run(&mut report, events))
        });
    }
    if has("shop") {
        let settings = shop::Settings {
            levels: number("BENCH_SHOP_LEVELS", 1000) as usize,
            rounds: number("BENCH_SHOP_ROUNDS", 10),
            resync_products: list("BENCH_RESYNC_PRODUCTS", "10000,100000")
                .iter()
                .map(|s| s.parse().expect("BENCH_RESYNC_PRODUCTS: numbers"))
                .collect(),
        };
        // One thread: the resync's peak heap is its own.
        timed("shop", || {
            current.block_on(shop::run(&mut report, &settings))
        });
    }
    if has("api") {
        let runtime = tokio::runtime::Runtime::new()?;
        let requests = number("BENCH_API_REQUESTS", 200) as usize;
        timed("api", || {
            api::cpu_per_line(&mut report);
            runtime.block_on(api::latency_against_the_local_stack(&mut report, requests))
        });
    }
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    let table = format!("machine: {machine}\n\n{}", report.markdown());
    std::fs::write(out.join("results.md"), &table)?;
    println!("\n{table}");
    let missed = report.missed();
    if missed.is_empty() {
        println!("every target met");
    } else {
        println!("targets missed:");
        for row in missed {
            println!("  {}: {} ({:.2})", row.section, row.figure, row.ratio());
        }
    }
    println!("written to {}", out.join("results.md").display());
    Ok(())
}
