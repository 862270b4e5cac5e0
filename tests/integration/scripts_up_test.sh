#!/usr/bin/env bash
# scripts/up --background brings up the whole local topology (ZooKeeper, 3
# arbiters, clusters c1 and c2 with two gateways and two agents each,
# mirroring each other), runs its demo (writes, each cluster's write read
# from the other, kill -9 of c1's active, failover, read-back, restart of
# the killed gateway) and records every process in topology.json; a write
# made into c1 afterwards appears in c2; then scripts/down stops every
# recorded pid and leaves no process behind.
#
# Runs in a private BATON_RUN_DIR on free ports picked here, so it never
# clashes with a developer's topology (run/, ports 77xx) or with other tests.
# Needs BATON_BUILD_DIR (set by ctest) with the binaries built.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${BATON_BUILD_DIR:?BATON_BUILD_DIR is not set: run the test through ctest}"
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || { echo "SKIP: zookeeper not installed"; exit 77; }

RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/baton-up-test-XXXXXX")"
export BATON_RUN_DIR="$RUN_DIR" BATON_UP_SKIP_BUILD=1
START=$(date +%s)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports: a random base below the ephemeral range (32768+) whose 23 ports are
# all free: arbiters base..base+5, gateway gRPC +10..+13, gateway HTTP
# +20..+23, agents +30..+33, ZooKeeper +40.
pick_base() {
  local base offset ok
  for _ in $(seq 50); do
    base=$(( 20000 + (RANDOM % 250) * 50 ))
    ok=1
    for offset in 0 1 2 3 4 5 10 11 12 13 20 21 22 23 30 31 32 33 40; do
      port_free $((base + offset)) || { ok=0; break; }
    done
    [ $ok -eq 1 ] && { echo "$base"; return 0; }
  done
  return 1
}
BASE="$(pick_base)" || fail "no free port range found"
export BATON_UP_ARBITER_HTTP_PORT=$BASE BATON_UP_ARBITER_GRPC_PORT=$((BASE + 1))
export BATON_UP_GATEWAY_GRPC_PORT=$((BASE + 10)) BATON_UP_GATEWAY_HTTP_PORT=$((BASE + 20))
export BATON_UP_AGENT_HTTP_PORT=$((BASE + 30)) BATON_UP_ZK_PORT=$((BASE + 40))
echo "run dir $RUN_DIR, ports from $BASE"

# Process groups of everything recorded, for the final check and for the
# safety net below (every process scripts/up starts leads its own group).
PGIDS=()
live_in_groups() {
  local g
  for g in "${PGIDS[@]}"; do
    ps -eo pid=,pgid=,stat=,args= | awk -v g="$g" '$2 == g && substr($3, 1, 1) != "Z"'
  done
}

finish() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "--- scripts/up output:"; cat "$RUN_DIR/up.out" 2>/dev/null || true
    for f in "$RUN_DIR"/*.log; do
      [ -f "$f" ] || continue
      echo "--- tail of $f"; tail -n 25 "$f"
    done
  fi
  # Safety net: whatever is still recorded or still alive in a recorded group.
  "$ROOT/scripts/down" --quiet >/dev/null 2>&1 || true
  local g
  for g in "${PGIDS[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  if [ $rc -eq 0 ] || [ "${BATON_KEEP_TEMP:-0}" != "1" ]; then rm -rf "$RUN_DIR"; else echo "kept $RUN_DIR"; fi
  echo "took $(( $(date +%s) - START )) s"
  exit $rc
}
trap finish EXIT

echo "=== scripts/up --background"
if ! timeout 240 "$ROOT/scripts/up" --background > "$RUN_DIR/up.out" 2>&1; then
  fail "scripts/up --background failed"
fi
sed 's/^/  | /' "$RUN_DIR/up.out"
[ -f "$RUN_DIR/topology.json" ] || fail "no topology.json"
[ -f "$RUN_DIR/pids" ] || fail "no pids file"

echo "=== topology.json"
PIDS_LIST="$(/usr/bin/python3 - "$RUN_DIR/topology.json" "$RUN_DIR/pids" <<'PY'
import json, os, sys
topology = json.load(open(sys.argv[1]))
procs = topology["processes"]
def fail(msg):
    print("topology.json: " + msg + "\n" + json.dumps(topology, indent=1), file=sys.stderr)
    sys.exit(1)
by_role = {}
for p in procs:
    for key in ("name", "role", "cluster", "instance", "addresses", "pid"):
        if key not in p:
            fail("%s has no %s" % (p.get("name"), key))
    by_role.setdefault(p["role"], []).append(p)
expected = {"zookeeper": 1, "arbiter": 3, "gateway": 4, "agent": 4}
for role, n in expected.items():
    if len(by_role.get(role, [])) != n:
        fail("expected %d %s, got %d" % (n, role, len(by_role.get(role, []))))
if len(procs) != sum(expected.values()):
    fail("unexpected processes")
members = sorted((p["cluster"], p["instance"]) for p in by_role["gateway"])
if members != [("c1", "g1"), ("c1", "g2"), ("c2", "g3"), ("c2", "g4")]:
    fail("gateways are %s" % members)
if sorted((p["cluster"], p["instance"]) for p in by_role["agent"]) != members:
    fail("agents do not match the gateways")
if sorted(p["instance"] for p in by_role["arbiter"]) != ["arbiter-1", "arbiter-2", "arbiter-3"]:
    fail("arbiters are %s" % [p["instance"] for p in by_role["arbiter"]])
for p in procs:
    try:
        os.kill(p["pid"], 0)
    except OSError:
        fail("%s (pid %s) is not running" % (p["name"], p["pid"]))
    state = open("/proc/%d/stat" % p["pid"]).read().rsplit(")", 1)[1].split()[0]
    if state == "Z":
        fail("%s (pid %s) is a zombie" % (p["name"], p["pid"]))
recorded = sorted(int(line.split()[0]) for line in open(sys.argv[2]) if line.strip())
if recorded != sorted(p["pid"] for p in procs):
    fail("run/pids %s does not match topology.json" % recorded)
print(" ".join(str(p["pid"]) for p in procs))
PY
)" || fail "topology.json is not what scripts/up promises"
read -r -a PGIDS <<< "$PIDS_LIST"
echo "ok: 1 zookeeper, 3 arbiters, 4 gateways, 4 agents running: pids ${PGIDS[*]}"

# The demo ran: c1 failed over and the killed gateway came back.
grep -q "failover demo: kill -9 of c1's active" "$RUN_DIR/up.out" || fail "no failover demo in the output"
grep -q "is standby again" "$RUN_DIR/up.out" || fail "the killed gateway did not rejoin"

# Each cluster has exactly one gateway ready (the active) now.
for cluster in c1 c2; do
  ready="$(/usr/bin/python3 - "$RUN_DIR/topology.json" "$cluster" <<'PY'
import json, sys, urllib.request
n = 0
for p in json.load(open(sys.argv[1]))["processes"]:
    if p["role"] == "gateway" and p["cluster"] == sys.argv[2]:
        try:
            n += urllib.request.urlopen("http://%s/readyz" % p["addresses"]["http"], timeout=2).status == 200
        except Exception:
            pass
print(n)
PY
)"
  [ "$ready" = "1" ] || fail "cluster $cluster has $ready gateways answering /readyz 200 (want 1)"
done
echo "ok: one active per cluster"

# Mirroring: c1 and c2 have a mirror target each, the demo read c1's write
# from c2 (and c2's from c1), and a write made now into c1's active (a
# promoted one, after the demo's failover) appears in c2 by itself.
grep -q "purple, written into c1, read from c2's active" "$RUN_DIR/up.out" || fail "the demo did not read c1's write from c2"
grep -q "north, written into c2, read from c1's active" "$RUN_DIR/up.out" || fail "the demo did not read c2's write from c1"
BATONCTL="$BATON_BUILD_DIR/tools/batonctl"
targets="$("$BATONCTL" mirror-targets --json --arbiter "127.0.0.1:$BASE")" || fail "batonctl mirror-targets failed"
printf '%s' "$targets" | /usr/bin/python3 -c '
import json, sys
t = {x["name"]: x["cluster"] for x in json.load(sys.stdin)["mirror_targets"]}
sys.exit(0 if t == {"mirror-c1": "c1", "mirror-c2": "c2"} else 1)' || fail "mirror targets are not mirror-c1 and mirror-c2: $targets"
# ready_gateway CLUSTER: the gRPC address of the member answering /readyz 200.
ready_gateway() {
  /usr/bin/python3 - "$RUN_DIR/topology.json" "$1" <<'PY'
import json, sys, urllib.request
for p in json.load(open(sys.argv[1]))["processes"]:
    if p["role"] == "gateway" and p["cluster"] == sys.argv[2]:
        try:
            if urllib.request.urlopen("http://%s/readyz" % p["addresses"]["http"], timeout=2).status == 200:
                print(p["addresses"]["grpc"])
                sys.exit(0)
        except Exception:
            pass
sys.exit(1)
PY
}
C1="$(ready_gateway c1)" || fail "no ready gateway in c1"
C2="$(ready_gateway c2)" || fail "no ready gateway in c2"
"$BATONCTL" --gateway "$C2" get --id purple >/dev/null || fail "purple (written into c1) is not in c2 ($C2)"
"$BATONCTL" --gateway "$C1" upsert --id mirror-check --vector 0.1,0.2,0.3,0.4 --metadata "written into c1 by the test" \
  >/dev/null || fail "cannot write into c1 ($C1)"
deadline=$(( $(date +%s) + 30 ))
until got="$("$BATONCTL" --json --gateway "$C2" --timeout-ms 1000 get --id mirror-check 2>&1)"; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "mirror-check, written into c1 ($C1), did not appear in c2 ($C2) within 30s: $got
$("$BATONCTL" cluster c1 --arbiter "127.0.0.1:$BASE" 2>&1)"
  sleep 0.1
done
printf '%s' "$got" | grep -q "written into c1 by the test" || fail "mirror-check in c2 is not what was written: $got"
echo "ok: c1 and c2 mirror each other (a write into c1 read from c2)"

echo "=== scripts/down"
"$ROOT/scripts/down" || fail "scripts/down failed"
deadline=$(( $(date +%s) + 20 ))
until [ -z "$(live_in_groups)" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "processes left behind after scripts/down:
$(live_in_groups)"
  sleep 0.2
done
[ ! -e "$RUN_DIR/pids" ] || fail "scripts/down left run/pids"
[ ! -e "$RUN_DIR/topology.json" ] || fail "scripts/down left run/topology.json"
"$ROOT/scripts/down" | grep -q "nothing is running" || fail "a second scripts/down should find nothing to stop"
echo "ok: every recorded process is gone"
echo "PASS"
