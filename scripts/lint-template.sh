#!/usr/bin/env bash
# Lints template.yaml twice: as SAM source and translated to CloudFormation (which is
# where broken function, event-source and IAM properties show up).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BRIDGE_VENV:-$root/.venv}"
"$root/scripts/venv.sh"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "cfn-lint: template.yaml (SAM)"
"$venv/bin/cfn-lint" "$root/template.yaml"
echo "cfn-lint: template.yaml translated to CloudFormation"
"$venv/bin/python" "$root/scripts/sam_translate.py" "$root/template.yaml" "$out/translated.json"
# W3037: SAM's generated poller policies name actions cfn-lint does not know.
"$venv/bin/cfn-lint" --ignore-checks W3037 -- "$out/translated.json"
echo "template checks passed"
