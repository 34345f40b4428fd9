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

echo "== release build: the six functions, hello-world, sdk-floor, the bench"
cargo build --release --bins \
  -p webhook-intake -p price-stock-sync -p pim-import -p order-writeback -p reconcile \
  -p delta-pull -p bridge-bench

echo "== moto server"
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p target
setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >target/moto-bench.log 2>&1 &
moto_pid=$!
trap 'kill -- -"$moto_pid" 2>/dev/null || kill "$moto_pid" 2>/dev/null || true' EXIT
"$venv/bin/python" - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/moto-api/"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("moto did not start; see target/moto-bench.log")
PY
export BRIDGE_TEST_ENDPOINT="http://127.0.0.1:$port"
if [ -z "${BRIDGE_SAMPLES_DIR:-}" ] && [ -d "$root/../shared/samples/bmecat" ]; then
  export BRIDGE_SAMPLES_DIR="$root/../shared/samples"
fi
export BENCH_PYTHON="${BENCH_PYTHON:-$venv/bin/python}"

echo "== bench"
target/release/bench
