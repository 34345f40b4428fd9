#!/usr/bin/env bash
# The one bench command (docs/performance.md): builds the function binaries and the
# baselines with the release profile, starts a moto server on a free loopback port, and
# runs every benchmark, printing one table (also written to target/bench/results.md).
# BENCH_SECTIONS and the other settings of bench/src/main.rs narrow or scale it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== python tools (moto) in .venv"
scripts/venv.sh
venv="${BRIDGE_VENV:-$root/.venv}"

echo "== release build: every function (each folder of functions/ is its package), hello-world, sdk-floor, the bench"
packages=(-p bridge-bench)
for function in functions/*/; do
  packages+=(-p "$(basename "$function")")
done
cargo build --release --bins "${packages[@]}"

echo "== moto server"
. "$root/scripts/moto.sh" moto-bench.log
echo "== commercetools emulator"
. "$root/scripts/ctmock.sh" ctmock-bench.log
if [ -z "${BRIDGE_SAMPLES_DIR:-}" ] && [ -d "$root/../shared/samples/bmecat" ]; then
  export BRIDGE_SAMPLES_DIR="$root/../shared/samples"
fi
export BENCH_PYTHON="${BENCH_PYTHON:-$venv/bin/python}"

echo "== bench"
target/release/bench
