# shellcheck shell=bash
# shellcheck disable=SC2034  # GW_* and STARTED_PIDS are read by the callers
# Shared helpers of the bench/ scripts. Sourced, not run.
# Callers set BUILD_DIR and TMP; every process started here is recorded in
# STARTED_PIDS and stopped (by pid) by bench_cleanup, which also removes TMP.
STARTED_PIDS=()

bench_log() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
bench_die() { printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

bench_cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ -n "${TMP:-}" ] && [ -d "$TMP" ] && [ "${KEEP_TMP:-0}" != 1 ]; then rm -rf "$TMP"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: prints a loopback port nobody listens on (bounded search).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

# wait_until TIMEOUT_S COMMAND...: polls COMMAND every 100 ms.
wait_until() {
  local timeout="$1"; shift
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# start_gateway DATA_DIR EXTRA_ARGS...: starts baton-gateway on free loopback
# ports, sets GW_PID, GW_GRPC, GW_HTTP and waits for /readyz.
start_gateway() {
  local dir="$1"; shift
  local gp hp
  gp=$(free_port) || bench_die "no free port"
  hp=$(free_port) || bench_die "no free port"
  [ "$gp" = "$hp" ] && hp=$(( hp + 1 ))
  mkdir -p "$dir"
  "$BUILD_DIR/gateway/baton-gateway" --data_dir "$dir/data" --index.dimension "${DIMENSION:-128}" \
    --grpc.listen "127.0.0.1:$gp" --http.listen "127.0.0.1:$hp" --log.level warn "$@" \
    >"$dir/gateway.log" 2>&1 &
  GW_PID=$!
  STARTED_PIDS+=("$GW_PID")
  GW_GRPC="127.0.0.1:$gp"
  GW_HTTP="127.0.0.1:$hp"
  if ! wait_until 60 curl -fsS --max-time 1 "http://$GW_HTTP/readyz"; then
    tail -20 "$dir/gateway.log" >&2
    bench_die "gateway not ready on $GW_HTTP"
  fi
}

# json_get JSON KEY: the number KEY of a flat JSON object.
json_get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# proc_cpu_s PID: CPU seconds (user + system) PID has used so far.
proc_cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz}' "/proc/$1/stat"
}

# cpu_delta BEFORE PID: CPU seconds PID used since proc_cpu_s gave BEFORE.
cpu_delta() { python3 -c "print(round($(proc_cpu_s "$2") - $1, 3))"; }

# cpu_of_run CPU_FILE COMMAND...: runs COMMAND (its stdout passes through) and
# writes the CPU seconds it and its children used to CPU_FILE.
cpu_of_run() {
  local file="$1"; shift
  /usr/bin/python3 -c '
import resource, subprocess, sys
rc = subprocess.run(sys.argv[2:]).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%.3f\n" % (r.ru_utime + r.ru_stime))
sys.exit(rc)' "$file" "$@"
}
