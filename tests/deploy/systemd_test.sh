#!/usr/bin/env bash
# The systemd side of deploy/ (docs/deployment.md), without a running
# systemd:
#  - deploy/install.sh --dry-run prints every step and creates nothing;
#    --destdir stages binaries, units, the baton user (DESTDIR/etc/passwd),
#    sysusers.d and example configs; a second run changes nothing it should
#    not; --prefix points the units' ExecStart= at PREFIX/bin;
#  - every unit has what the issue asks for (Type=notify, WatchdogSec=,
#    Restart=on-failure, User=baton, the hardening list) and the gateway's
#    data dir is its ReadWritePaths=;
#  - `systemd-analyze verify --root=DESTDIR` passes on every installed unit
#    with no message at all (verify exits 0 on unknown keys and bad values,
#    so any output fails; a broken unit proves the check can fail);
#  - `systemd-analyze security --offline=yes` rates every unit <= 3.0, and
#    the score of each is printed.
# Needs BATON_BUILD_DIR (set by ctest) with the binaries built. Exit 77
# (skip) only if systemd-analyze is missing or too old for --offline.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BATON_BUILD_DIR:-$ROOT/build}"
MAX_EXPOSURE=3.0
UNITS=(baton-gateway@.service baton-agent@.service baton-arbiter@.service)
INSTANCES=(baton-gateway@g1.service baton-agent@g1.service baton-arbiter@a1.service)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed (Debian package systemd)"; exit 77; }
systemd-analyze --help | grep -q -- '--offline' ||
  { echo "SKIP: $(systemd-analyze --version | head -1) has no 'security --offline' (systemd >= 250 has)"; exit 77; }
systemd-analyze --version | head -1

TMP="$(mktemp -d "${TMPDIR:-/tmp}/baton-systemd-test-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
STAGE="$TMP/root"

# --- install.sh -------------------------------------------------------------
out="$("$ROOT/deploy/install.sh" --build-dir "$BUILD_DIR" --destdir "$TMP/dry" --dry-run)" ||
  fail "install.sh --dry-run exited $?: $out"
[ ! -e "$TMP/dry" ] || fail "install.sh --dry-run created files: $(find "$TMP/dry" | head)"
for expected in "install -D -m 0755 $BUILD_DIR/gateway/baton-gateway $TMP/dry/usr/local/bin/baton-gateway" \
  "systemd-sysusers --root=$TMP/dry" "$TMP/dry/etc/systemd/system/baton-agent@.service" \
  "$TMP/dry/etc/baton/arbiter.yaml.example"; do
  grep -qF -- "$expected" <<<"$out" || fail "install.sh --dry-run does not say it would run '$expected':
$out"
done
echo "ok: install.sh --dry-run prints each step and creates nothing"

"$ROOT/deploy/install.sh" --build-dir "$BUILD_DIR" --destdir "$STAGE" >"$TMP/install.log" 2>&1 ||
  fail "install.sh --destdir exited $?: $(cat "$TMP/install.log")"
for binary in baton-gateway baton-agent baton-arbiter batonctl; do
  [ -x "$STAGE/usr/local/bin/$binary" ] || fail "install.sh did not install $binary to $STAGE/usr/local/bin"
done
for binary in baton-gateway baton-agent baton-arbiter; do
  "$STAGE/usr/local/bin/$binary" --help >/dev/null || fail "installed $binary --help exited $?"
done
for unit in "${UNITS[@]}"; do
  f="$STAGE/etc/systemd/system/$unit"
  [ -f "$f" ] || fail "install.sh did not install $unit"
  [ "$(stat -c %a "$f")" = 644 ] || fail "$unit installed with mode $(stat -c %a "$f"), expected 644"
  grep -q '^ExecStart=/usr/local/bin/baton-' "$f" || fail "$unit: ExecStart= does not run /usr/local/bin/baton-*"
done
for config in gateway agent arbiter; do
  [ -f "$STAGE/etc/baton/$config.yaml.example" ] || fail "install.sh did not install /etc/baton/$config.yaml.example"
done
[ -f "$STAGE/etc/sysusers.d/baton.conf" ] || fail "install.sh did not install /etc/sysusers.d/baton.conf"
grep -q '^baton:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$STAGE/etc/passwd" ||
  fail "no system user baton in the staged /etc/passwd: $(cat "$STAGE/etc/passwd" 2>&1)"
grep -q '^baton:' "$STAGE/etc/group" || fail "no group baton in the staged /etc/group"
"$ROOT/deploy/install.sh" --build-dir "$BUILD_DIR" --destdir "$STAGE" >"$TMP/install2.log" 2>&1 ||
  fail "install.sh run a second time exited $?: $(cat "$TMP/install2.log")"
[ "$(grep -c '^baton:' "$STAGE/etc/passwd")" = 1 ] || fail "a second install.sh run added the user again"
echo "ok: install.sh --destdir stages binaries, units, user, sysusers.d and configs; a second run is harmless"

"$ROOT/deploy/install.sh" --build-dir "$BUILD_DIR" --prefix /opt/baton --destdir "$TMP/opt" >/dev/null 2>&1 ||
  fail "install.sh --prefix /opt/baton exited $?"
[ -x "$TMP/opt/opt/baton/bin/baton-gateway" ] || fail "install.sh --prefix /opt/baton: no /opt/baton/bin/baton-gateway"
grep -qx 'ExecStart=/opt/baton/bin/baton-gateway --config /etc/baton/gateway-%i.yaml' \
  "$TMP/opt/etc/systemd/system/baton-gateway@.service" ||
  fail "install.sh --prefix /opt/baton: the gateway unit does not run /opt/baton/bin/baton-gateway"
echo "ok: install.sh --prefix points ExecStart= at PREFIX/bin"

# --- what every unit must say ----------------------------------------------
for unit in "${UNITS[@]}"; do
  f="$ROOT/deploy/systemd/$unit"
  for line in Type=notify 'WatchdogSec=[0-9]+s' Restart=on-failure User=baton Group=baton NoNewPrivileges=yes \
    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= AmbientCapabilities= \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service; do
    grep -Eqx -- "$line" "$f" || fail "$unit has no line '$line'"
  done
done
gw="$ROOT/deploy/systemd/baton-gateway@.service"
data_dir="$(sed -n 's/^Environment=BATON_DATA_DIR=//p' "$gw")"
[ -n "$data_dir" ] || fail "baton-gateway@.service sets no BATON_DATA_DIR"
grep -qx "ReadWritePaths=$data_dir" "$gw" || fail "baton-gateway@.service: data dir $data_dir is not its ReadWritePaths="
grep -qx "StateDirectory=${data_dir#/var/lib/}" "$gw" || fail "baton-gateway@.service: StateDirectory= is not $data_dir"
pid_file="$(sed -n 's/^Environment=BATON_PID_FILE=//p' "$gw")"
grep -qx "Environment=BATON_AGENT_GATEWAY_PID_FILE=$pid_file" "$ROOT/deploy/systemd/baton-agent@.service" ||
  fail "baton-agent@.service does not read the gateway's pid file $pid_file"
grep -qx "RuntimeDirectory=$(dirname "${pid_file#/run/}")" "$gw" ||
  fail "baton-gateway@.service: RuntimeDirectory= does not hold its pid file $pid_file"
echo "ok: every unit is Type=notify with a watchdog, restarts on failure, runs as baton and is hardened"

# --- systemd-analyze verify ------------------------------------------------
# verify --root resolves ExecStart= and dependencies inside the staged root,
# which needs the distribution's units (sysinit.target, network-online.target).
SYSTEM_UNITS=""
for dir in /usr/lib/systemd/system /lib/systemd/system; do
  [ -f "$dir/sysinit.target" ] && { SYSTEM_UNITS="$dir"; break; }
done
[ -n "$SYSTEM_UNITS" ] || fail "no sysinit.target under /usr/lib/systemd/system: systemd's units are not installed"
mkdir -p "$STAGE/usr/lib/systemd"
cp -a "$SYSTEM_UNITS" "$STAGE/usr/lib/systemd/system"

verify() {  # prints verify's messages; fails on a non-zero exit
  systemd-analyze verify --root="$STAGE" --man=no "$1" 2>&1
}
for instance in "${INSTANCES[@]}"; do
  if ! messages="$(verify "$instance")"; then fail "systemd-analyze verify $instance failed:
$messages"; fi
  [ -z "$messages" ] || fail "systemd-analyze verify $instance complains:
$messages"
  echo "ok: systemd-analyze verify $instance"
done
# The check can fail: a typo that verify only warns about is caught.
sed 's/^ProtectSystem=strict$/ProtectSystem=strickt/' "$STAGE/etc/systemd/system/baton-gateway@.service" \
  >"$STAGE/etc/systemd/system/baton-broken@.service"
messages="$(verify baton-broken@x.service || true)"
[ -n "$messages" ] || fail "systemd-analyze verify did not notice ProtectSystem=strickt: the verify check is blind"
rm "$STAGE/etc/systemd/system/baton-broken@.service"

# --- systemd-analyze security ----------------------------------------------
for unit in "${UNITS[@]}"; do
  report="$(systemd-analyze security --offline=yes --root="$STAGE" "$STAGE/etc/systemd/system/$unit" 2>&1)" ||
    fail "systemd-analyze security $unit exited $?:
$report"
  score="$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$report")"
  [ -n "$score" ] || fail "no exposure level in systemd-analyze security's report on $unit:
$report"
  echo "exposure $unit: $score (at most $MAX_EXPOSURE)"
  awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }' || fail "$unit exposure $score > $MAX_EXPOSURE:
$(grep '✗' <<<"$report")"
done
echo "PASS"
