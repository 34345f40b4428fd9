#!/usr/bin/env bash
# Creates or refreshes the project's Python venv (.venv) with the pinned dev tools:
# the moto server (AWS emulator), cfn-lint, the SAM translator, the reference Standard
# Webhooks signer and cargo-lambda; `scripts/venv.sh sam` does the same for the SAM CLI
# (.venv-sam) and `scripts/venv.sh checkov` for checkov (.venv-checkov). Idempotent:
# reinstalls only when the pins change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BRIDGE_VENV:-$root/.venv}"
req="$root/scripts/requirements-dev.txt"
# `scripts/venv.sh sam`: the SAM CLI in .venv-sam.
if [ "${1:-}" = "sam" ]; then
  venv="$root/.venv-sam"
  req="$root/scripts/requirements-sam.txt"
fi
# `scripts/venv.sh checkov`: checkov in .venv-checkov.
if [ "${1:-}" = "checkov" ]; then
  venv="$root/.venv-checkov"
  req="$root/scripts/requirements-checkov.txt"
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "venv: installing pinned tools into $venv" >&2
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
