# Shared helpers for scripts/up and scripts/down. Sourced, not run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${BATON_RUN_DIR:-$ROOT/run}"
BUILD_DIR="${BATON_BUILD_DIR:-$ROOT/build}"
TOPOLOGY="$RUN_DIR/topology.json"
PIDS_FILE="$RUN_DIR/pids"

log() { printf 'up: %s\n' "$*"; }
die() { printf 'up: error: %s\n' "$*" >&2; exit 1; }

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
