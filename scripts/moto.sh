# Sourced by scripts/test.sh and scripts/bench.sh: starts moto from the project's venv on a
# free loopback port (ended with this shell), waits until it answers, and exports
# BRIDGE_TEST_ENDPOINT. Expects $root and $venv; $1 names its log under target/.
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$root/target"
moto_log="$root/target/$1"
# tools/moto/serve.py: moto with DynamoDB's isolation (see its docstring).
setsid "$venv/bin/python" "$root/tools/moto/serve.py" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto_pid=$!
. "$root/scripts/on-exit.sh"
on_exit "kill -- -$moto_pid 2>/dev/null || kill $moto_pid 2>/dev/null || true"
"$venv/bin/python" - "$port" "$moto_log" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/moto-api/"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(f"moto did not start; see {sys.argv[2]}")
PY
export BRIDGE_TEST_ENDPOINT="http://127.0.0.1:$port"
