#!/usr/bin/env bash
# Fuzzes the webhook intake, the contract's parsers, the PIM format readers and the openTRANS reader with
# cargo-fuzz (libFuzzer, AddressSanitizer) on the stable toolchain; docs/fuzzing.md.
#
#   scripts/fuzz.sh                          # every target for FUZZ_SECONDS (20) each: CI
#   FUZZ_SECONDS=3600 scripts/fuzz.sh        # the long run
#   scripts/fuzz.sh pim_csv pim_bmecat       # some targets only
#   FUZZ_BUILD_ONLY=1 scripts/fuzz.sh        # install and build, run nothing
#
# Installs cargo-fuzz (pinned) into .tools/ when missing. Each target starts from its seeds
# (fuzz/seeds/<target>, in git) and its working corpus (fuzz/corpus/<target>, not in git,
# kept between runs). A crash, an allocation over FUZZ_MALLOC_LIMIT_MB, RSS over
# FUZZ_RSS_LIMIT_MB or an input taking over FUZZ_TIMEOUT seconds fails the target; its
# input is saved under fuzz/artifacts/<target>/. Each target's output goes to
# fuzz/logs/<target>.log (only its end is printed). Exits non-zero if any target failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

CARGO_FUZZ_VERSION=0.13.2
seconds="${FUZZ_SECONDS:-20}"
sanitizer="${FUZZ_SANITIZER:-address}"
rss_limit="${FUZZ_RSS_LIMIT_MB:-512}"
malloc_limit="${FUZZ_MALLOC_LIMIT_MB:-256}"
timeout="${FUZZ_TIMEOUT:-10}"
all_targets=(webhook_intake contract_parse_event contract_values pim_csv pim_ndjson pim_bmecat opentrans_documents)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

tools="$root/.tools"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/"
  cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked --root "$tools"
fi
export PATH="$tools/bin:$PATH"

# cargo-fuzz passes flags that only a nightly compiler takes (-Zsanitizer, sancov passes);
# RUSTC_BOOTSTRAP lets the stable one take them. Only for this script's cargo calls.
export RUSTC_BOOTSTRAP=1
# ASan keeps up to 256 MB of freed memory in quarantine, which counts against the RSS
# limit; 64 MB is enough to catch a use after free in these targets.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64}"
# The sanitizer prints the crash's stack, symbolized; Rust's own backtrace of a panic
# reads the debug info of the whole binary (the AWS SDK) and can itself exceed the RSS
# limit, losing the crash. Reproduce with RUST_BACKTRACE=1 (docs/fuzzing.md).
export RUST_BACKTRACE="${FUZZ_RUST_BACKTRACE:-0}"

# The same flags for build and run, or `cargo fuzz run` rebuilds: release with debug
# assertions and overflow checks, so that an arithmetic overflow is a crash too.
build_flags=(--fuzz-dir fuzz --release --debug-assertions --sanitizer "$sanitizer")

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
start=$SECONDS
for target in "${targets[@]}"; do
  cargo fuzz build "${build_flags[@]}" "$target"
done
echo "== built in $((SECONDS - start)) s"
[ -z "${FUZZ_BUILD_ONLY:-}" ] || exit 0

failed=()
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" fuzz/logs
  log="fuzz/logs/$target.log"
  options=(
    -max_total_time="$seconds"
    -rss_limit_mb="$rss_limit"
    -malloc_limit_mb="$malloc_limit"
    -timeout="$timeout"
    -print_final_stats=1
    -artifact_prefix="fuzz/artifacts/$target/"
  )
  [ ! -f "fuzz/dicts/$target.dict" ] || options+=(-dict="fuzz/dicts/$target.dict")
  echo "== $target for ${seconds} s (log: $log)"
  if cargo fuzz run "${build_flags[@]}" "$target" \
    "fuzz/corpus/$target" "fuzz/seeds/$target" -- "${options[@]}" >"$log" 2>&1; then
    grep -E '^(#[0-9]+ +DONE|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))' "$log" || true
  else
    failed+=("$target")
    # The failure: what went wrong, the stack, the input's path and its base64.
    tail -n 150 "$log"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]}; inputs under fuzz/artifacts/ (docs/fuzzing.md: reproducing)"
  exit 1
fi
echo "== every target ran ${seconds} s without a crash: ${targets[*]}"
