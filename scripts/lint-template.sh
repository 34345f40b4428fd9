#!/usr/bin/env bash
# Lints template.yaml: cfn-lint on the SAM source and on its translation to CloudFormation
# (where broken function, event-source and IAM properties show up), the checkov security scan
# of the translation (fails on any finding not suppressed with a reason, see .checkov.yaml),
# and `sam validate --lint`.
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
echo "checkov: template.yaml translated to CloudFormation"
"$root/scripts/venv.sh" checkov
# The translation, not the SAM source: checkov sees the generated roles, stage and mappings.
# Suppressions: .checkov.yaml (whole stack) and Metadata.checkov.skip (one resource).
CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$root/.venv-checkov/bin/checkov" \
  --config-file "$root/.checkov.yaml" --file "$out/translated.json"
echo "sam validate --lint"
"$root/scripts/venv.sh" sam
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-eu-central-1}" \
  "$root/.venv-sam/bin/sam" validate --lint --template "$root/template.yaml"
echo "template checks passed"
