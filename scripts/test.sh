#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what it needs into the project's own
# venv, checks formatting, lints and the template, plays the local-stack demo, then runs
# every Rust test against one moto server on a free loopback port.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Incremental artifacts only slow a clean build down.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "python tools (moto, cfn-lint, SAM translator, standardwebhooks) in .venv"
scripts/venv.sh
venv="${BRIDGE_VENV:-$root/.venv}"

step "template: cfn-lint on SAM and on the translated CloudFormation, checkov, sam validate"
scripts/lint-template.sh

step "packaging: every function built with cargo-lambda, template pointed at the binaries"
# The deploy profile's thin LTO and single codegen unit (Cargo.toml) make smaller, faster
# binaries at twice the build time; here the point is that every function builds and links
# for Lambda and the template finds it, so CI packages with the release profile's defaults.
CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-false}" \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-16}" \
  PACKAGE_ARCH=x86_64 scripts/package.sh
"$venv/bin/cfn-lint" build/template.yaml

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "local stack demo (bridgectl dev --demo)"
cargo run --quiet -p bridgectl -- dev --demo

step "the demo with an ERP that takes openTRANS documents (ERP_CONNECTOR=opentrans)"
ERP_CONNECTOR=opentrans cargo run --quiet -p bridgectl -- dev --demo

step "moto server for the tests"
. "$root/scripts/moto.sh" moto-tests.log

step "commercetools emulator for the tests"
. "$root/scripts/ctmock.sh" ctmock-tests.log
# The shop tests fail instead of skipping when the emulator is missing.
export BRIDGE_REQUIRE_CTMOCK=1

# The real sample catalogs beside the checkout, when present (the tests skip otherwise).
if [ -z "${BRIDGE_SAMPLES_DIR:-}" ] && [ -d "$root/../shared/samples/bmecat" ]; then
  export BRIDGE_SAMPLES_DIR="$root/../shared/samples"
fi

step "cargo test --workspace"
cargo test --workspace 2>&1 | tee target/test-output.log
# One closing line over all test binaries (cargo prints one result per binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "total: %d passed, %d failed\n", passed, failed }' target/test-output.log

step "fuzzing: every target for FUZZ_SECONDS (default 20) from its seeds (docs/fuzzing.md)"
"$root/scripts/fuzz.sh"
