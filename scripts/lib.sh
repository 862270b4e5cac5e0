# shellcheck shell=bash
# Shared helpers for scripts/up and scripts/down. Sourced, not run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${BATON_RUN_DIR:-$ROOT/run}"
BUILD_DIR="${BATON_BUILD_DIR:-$ROOT/build}"
TOPOLOGY="$RUN_DIR/topology.json"
PIDS_FILE="$RUN_DIR/pids"
BATONCTL_BIN="$BUILD_DIR/tools/batonctl"
LOG_PREFIX="${LOG_PREFIX:-up}"

log() { printf '%s: %s\n' "$LOG_PREFIX" "$*"; }
warn() { printf '%s: note: %s\n' "$LOG_PREFIX" "$*"; }
die() { printf '%s: error: %s\n' "$LOG_PREFIX" "$*" >&2; exit 1; }

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# wait_until DESCRIPTION TIMEOUT_S COMMAND...: polls COMMAND every 100 ms.
wait_until() {
  local what="$1" timeout="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep 0.1
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() { curl -fsS --max-time 1 "http://$1$2"; }

zk_ok() { [ "$(exec 3<>"/dev/tcp/${1%:*}/${1##*:}"; printf ruok >&3; head -c 4 <&3)" = "imok" ]; }

# True while a process with this pid exists and is not a zombie (a child of a
# script that already exited may linger as one until init reaps it).
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)"
  [ -n "$state" ] && [ "$state" != "Z" ]
}

# True while any live (non-zombie) process is in process group $1. Every
# process scripts/up starts leads its own group (setsid), so this covers the
# children it forked as well.
group_alive() {
  ps -eo pgid=,stat= 2>/dev/null | awk -v g="$1" '$1 == g && substr($2, 1, 1) != "Z" { found = 1 } END { exit !found }'
}

# json_field FIELD: prints FIELD of the JSON object on stdin ("" when absent
# or null; objects and lists as JSON). Exit 1 when stdin is not JSON.
json_field() {
  /usr/bin/python3 -c '
import json, sys
try:
    value = json.load(sys.stdin).get(sys.argv[1])
except Exception:
    sys.exit(1)
if value is None:
    value = ""
print(value if isinstance(value, str) else json.dumps(value))
' "$1"
}
