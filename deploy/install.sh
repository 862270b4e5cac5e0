#!/usr/bin/env bash
# Installs Baton on a machine run by systemd: the binaries, the baton user,
# example configs and the units (docs/deployment.md).
#
#   deploy/install.sh [--build-dir DIR] [--prefix DIR] [--destdir DIR] [--dry-run]
#
#   --build-dir DIR  where the binaries were built (default: build/ of this checkout)
#   --prefix DIR     binaries go to DIR/bin, and the units run them from there
#                    (default /usr/local; also PREFIX=)
#   --destdir DIR    stage everything under DIR, as DESTDIR= does for `make
#                    install`: paths inside the files stay as without it,
#                    nothing outside DIR is touched, the user is added to
#                    DIR/etc/passwd and systemd is not reloaded (also DESTDIR=)
#   --dry-run        print what would be done and change nothing
#
# What goes where (under DESTDIR):
#   PREFIX/bin/{baton-gateway,baton-agent,baton-arbiter,batonctl}
#   /etc/systemd/system/baton-{gateway,agent,arbiter}@.service
#   /etc/sysusers.d/baton.conf and the user and group baton
#   /etc/baton/{gateway,agent,arbiter}.yaml.example
# Existing config files are never touched; running it again upgrades the
# binaries and the units (restart the units afterwards).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$ROOT/build"
PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
DRY_RUN=0

usage() { sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR="${2:?--build-dir needs a directory}"; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --destdir) DESTDIR="${2:?--destdir needs a directory}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path, not '$PREFIX'" ;; esac
if [ -n "$DESTDIR" ]; then
  case "$DESTDIR" in /*) ;; *) DESTDIR="$PWD/$DESTDIR" ;; esac
  DESTDIR="${DESTDIR%/}"
fi

# Prints each step; runs it unless --dry-run.
run() {
  echo "+ $*"
  [ "$DRY_RUN" -eq 1 ] || "$@"
}

BINARIES=(gateway/baton-gateway instance-agent/baton-agent arbiter/baton-arbiter tools/batonctl)
UNITS=(baton-gateway@.service baton-agent@.service baton-arbiter@.service)
CONFIGS=(gateway agent arbiter)

for binary in "${BINARIES[@]}"; do
  [ -x "$BUILD_DIR/$binary" ] || die "$BUILD_DIR/$binary is missing: build first (cmake --build $BUILD_DIR) or pass --build-dir"
done
command -v systemd-sysusers >/dev/null || die "systemd-sysusers not found: this script is for machines run by systemd"

BIN_DIR="$PREFIX/bin"
UNIT_DIR=/etc/systemd/system
CONFIG_DIR=/etc/baton
SYSUSERS_FILE=/etc/sysusers.d/baton.conf
echo "install.sh: binaries to ${DESTDIR}${BIN_DIR}, units to ${DESTDIR}${UNIT_DIR}, configs to ${DESTDIR}${CONFIG_DIR}$([ "$DRY_RUN" -eq 1 ] && echo ' (dry run)')"

# 1. Binaries.
for binary in "${BINARIES[@]}"; do
  run install -D -m 0755 "$BUILD_DIR/$binary" "${DESTDIR}${BIN_DIR}/$(basename "$binary")"
done

# 2. The user: sysusers.d, so that systemd-sysusers recreates it at boot
#    if it goes missing; applied now (into DESTDIR/etc when staging).
run install -D -m 0644 "$ROOT/deploy/systemd/baton.sysusers" "${DESTDIR}${SYSUSERS_FILE}"
if [ -n "$DESTDIR" ]; then
  run install -d -m 0755 "$DESTDIR/etc"
  echo "+ systemd-sysusers --root=$DESTDIR - < $ROOT/deploy/systemd/baton.sysusers"
  [ "$DRY_RUN" -eq 1 ] || systemd-sysusers --root="$DESTDIR" - <"$ROOT/deploy/systemd/baton.sysusers"
else
  run systemd-sysusers "$SYSUSERS_FILE"
fi

# 3. Units, pointed at PREFIX/bin.
for unit in "${UNITS[@]}"; do
  echo "+ sed 's|/usr/local/bin/|$BIN_DIR/|' $ROOT/deploy/systemd/$unit > ${DESTDIR}${UNIT_DIR}/$unit"
  if [ "$DRY_RUN" -eq 0 ]; then
    install -d -m 0755 "${DESTDIR}${UNIT_DIR}"
    sed "s|/usr/local/bin/|$BIN_DIR/|g" "$ROOT/deploy/systemd/$unit" >"${DESTDIR}${UNIT_DIR}/$unit.tmp"
    chmod 0644 "${DESTDIR}${UNIT_DIR}/$unit.tmp"
    mv "${DESTDIR}${UNIT_DIR}/$unit.tmp" "${DESTDIR}${UNIT_DIR}/$unit"
  fi
done

# 4. Example configs (world-readable like most of /etc: secrets such as the
#    arbiter's api.token belong in /etc/baton/arbiter-<replica>.env, 0600,
#    which systemd reads as root).
run install -d -m 0755 "${DESTDIR}${CONFIG_DIR}"
for config in "${CONFIGS[@]}"; do
  run install -m 0644 "$ROOT/deploy/config/$config.yaml" "${DESTDIR}${CONFIG_DIR}/$config.yaml.example"
done

# 5. Tell a running systemd.
if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  run systemctl daemon-reload
fi

cat <<EOF
install.sh: done. Next, for each instance (docs/deployment.md):
  cp ${CONFIG_DIR}/gateway.yaml.example ${CONFIG_DIR}/gateway-g1.yaml   # then edit it
  cp ${CONFIG_DIR}/agent.yaml.example ${CONFIG_DIR}/agent-g1.yaml
  systemctl enable --now baton-gateway@g1 baton-agent@g1
  cp ${CONFIG_DIR}/arbiter.yaml.example ${CONFIG_DIR}/arbiter-a1.yaml
  systemctl enable --now baton-arbiter@a1
EOF
