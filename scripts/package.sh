#!/usr/bin/env bash
# Builds every function of template.yaml with cargo-lambda and writes build/template.yaml,
# whose CodeUri points at the built binaries: the alternative to `sam build` where SAM's
# rust-cargolambda builder is not available (see README, Deploy).
#
#   scripts/package.sh                 # arm64, as deployed (needs the aarch64 Rust target)
#   PACKAGE_ARCH=x86_64 scripts/package.sh
#
# Then: sam deploy --template-file build/template.yaml --guided
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
arch="${PACKAGE_ARCH:-arm64}"
scripts/venv.sh
venv="${BRIDGE_VENV:-$root/.venv}"
export PATH="$venv/bin:$PATH"

binaries=$("$venv/bin/python" - <<'PY'
from cfnlint.decode import decode
template, _ = decode("template.yaml")
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        print(resource["Metadata"]["BuildProperties"]["Binary"])
PY
)
packages=()
for binary in $binaries; do packages+=(-p "$binary"); done
case "$arch" in
  arm64) target=(--arm64) ;;
  x86_64) target=(--x86-64) ;;
  *) echo "PACKAGE_ARCH is arm64 or x86_64" >&2; exit 2 ;;
esac
echo "building ${binaries//$'\n'/, } for $arch"
cargo lambda build --release "${target[@]}" "${packages[@]}"

mkdir -p build
"$venv/bin/python" - "$arch" <<'PY'
import json, os, sys
from cfnlint.decode import decode
arch = sys.argv[1]
template, matches = decode("template.yaml")
assert not matches, matches
template.setdefault("Globals", {}).setdefault("Function", {})["Architectures"] = [arch]
for name, resource in template["Resources"].items():
    if resource["Type"] != "AWS::Serverless::Function":
        continue
    binary = resource["Metadata"]["BuildProperties"]["Binary"]
    path = os.path.join("target", "lambda", binary)
    if not os.path.isfile(os.path.join(path, "bootstrap")):
        sys.exit(f"{name}: {path}/bootstrap was not built")
    resource["Properties"]["CodeUri"] = os.path.join("..", path)
    del resource["Metadata"]
# JSON is valid YAML, and keeps the intrinsics in their long form.
with open("build/template.yaml", "w") as out:
    json.dump(template, out, indent=1, default=str)
print("wrote build/template.yaml")
PY
