#!/usr/bin/env bash
# posplugin installer for Linux tills: silent, offline (wheels from this bundle only), upgrade-safe.
#
#   sudo ./install.sh [--config FILE] [--api-key-file FILE] [--port N]
#                     [--prefix /opt/posplugin] [--root DIR] [--no-systemd] [--python python3]
#                     [--drain-timeout 120] [--health-timeout 60] [--force]
#
# Fresh install: a `posplugin` system user (groups dialout, lp), a virtualenv in PREFIX/<version> with a `current`
# symlink, /etc/posplugin/config.toml (from --config, else from the example), /var/lib/posplugin (0700),
# /var/log/posplugin, the systemd unit, the udev rule, the API key into the secret store, then `posplugin doctor`.
# Upgrade (another version is `current`): installs beside it, waits until no operation is on the wire (SENDING),
# stops the agent, backs up and migrates the database, switches `current`, starts, and rolls everything back if
# the new version does not report healthy. The config file is never overwritten.
#
# --root DIR lays everything out under DIR and never calls useradd, systemctl or udevadm (packaging and tests);
# --no-systemd runs the agent with posplugin-control.sh (a pidfile) instead of systemd.
# Exit codes: 0 installed, 1 failed (nothing changed or left for inspection), 2 usage, 3 upgrade rolled back.
set -euo pipefail

BUNDLE=$(cd "$(dirname "$0")" && pwd)
ROOT="" PREFIX=/opt/posplugin PYTHON=python3 CONFIG_SRC="" API_KEY_FILE="" PORT=""
SYSTEMD=1 FORCE=0 DRAIN_TIMEOUT=120 HEALTH_TIMEOUT=60 SVC_USER=posplugin

die() { echo "posplugin install: $*" >&2; exit "${2:-1}"; }
say() { echo "posplugin install: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config) CONFIG_SRC=$2; shift 2 ;;
    --api-key-file) API_KEY_FILE=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --root) ROOT=$(realpath -m "$2"); shift 2 ;;
    --no-systemd) SYSTEMD=0; shift ;;
    --python) PYTHON=$2; shift 2 ;;
    --drain-timeout) DRAIN_TIMEOUT=$2; shift 2 ;;
    --health-timeout) HEALTH_TIMEOUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" 2 ;;
  esac
done

OPT="$ROOT$PREFIX" ETC="$ROOT/etc/posplugin" DATA="$ROOT/var/lib/posplugin" LOGS="$ROOT/var/log/posplugin"
UNIT_DIR="$ROOT/etc/systemd/system" UDEV_DIR="$ROOT/etc/udev/rules.d"
CONFIG="$ETC/config.toml"
[ -z "$ROOT" ] && [ "$(id -u)" != 0 ] && die "run as root (or use --root DIR for a test root)" 2
[ -n "$CONFIG_SRC" ] && [ ! -r "$CONFIG_SRC" ] && die "--config $CONFIG_SRC is not readable" 2
[ -n "$API_KEY_FILE" ] && [ ! -r "$API_KEY_FILE" ] && die "--api-key-file $API_KEY_FILE is not readable" 2
[ -n "$PORT" ] && ! [[ "$PORT" =~ ^[0-9]+$ ]] && die "--port must be a number" 2

# ---- the bundle ---------------------------------------------------------------------------------------------
(cd "$BUNDLE" && sha256sum --quiet -c SHA256SUMS) || die "the bundle is damaged: checksums do not match SHA256SUMS"
WHEEL=$(ls "$BUNDLE"/wheels/posplugin-*.whl 2>/dev/null | head -n1)
[ -n "$WHEEL" ] || die "no posplugin wheel in $BUNDLE/wheels"
VERSION=$(basename "$WHEEL" | cut -d- -f2)
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "$PYTHON is not Python 3.11 or newer (use --python)"
WANT_PY=$(sed -n 's/^python //p' "$BUNDLE/VERSION")
HAVE_PY=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$WANT_PY" = "$HAVE_PY" ] || die "this bundle holds wheels for Python $WANT_PY; $PYTHON is $HAVE_PY"

OLD=""
if [ -L "$OPT/current" ]; then OLD=$(basename "$(readlink "$OPT/current")"); fi
say "installing posplugin $VERSION${OLD:+ (current: $OLD)} under ${ROOT:-/}"

as_service() {  # run a command as the service user (directly in a test root)
  if [ -n "$ROOT" ]; then env POSPLUGIN_SECRET_BACKEND=file "$@"; else
    runuser -u "$SVC_USER" -- env POSPLUGIN_SECRET_BACKEND=file "$@"; fi
}

agent() {  # start|stop the agent however it is run here
  if [ "$SYSTEMD" = 1 ] && [ -z "$ROOT" ]; then
    systemctl "$1" posplugin.service
  elif [ "$SYSTEMD" = 0 ]; then
    "$OPT/current/bin/posplugin-control.sh" "$1" "$OPT" "$ETC" "$DATA" "$LOGS" >/dev/null
  fi
}

healthy() {  # is version $1 up and answering /api/v1/health on the configured port?
  # Any status counts: "warning" (Engage offline) or "critical" (ops for a person) are the till's state, which an
  # upgrade neither causes nor cures; rolling back is for a version that cannot run.
  [ "$SYSTEMD" = 1 ] && [ -n "$ROOT" ] && return 0  # laid out only; nothing runs
  local port
  port=$("$OPT/current/bin/posplugin" config show --config "$CONFIG" | "$OPT/current/bin/python" -c \
    'import json, sys; print(json.load(sys.stdin)["agent"]["port"])')
  "$OPT/current/bin/python" - "$port" "$1" "$HEALTH_TIMEOUT" <<'EOF'
import json, sys, time, urllib.request
port, version, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
            health = json.load(answer)
        if health.get("status") in ("ok", "warning", "critical") and health.get("version") == version:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit(1)
EOF
}

# ---- user and folders ---------------------------------------------------------------------------------------
if [ -z "$ROOT" ]; then
  for group in dialout lp; do getent group "$group" >/dev/null || groupadd --system "$group"; done
  if ! id "$SVC_USER" >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/posplugin --no-create-home --shell /usr/sbin/nologin \
      --groups dialout,lp "$SVC_USER"
    say "created system user $SVC_USER"
  fi
fi
install -d -m 0755 "$OPT"
install -d -m 0700 "$DATA"
install -d -m 0750 "$LOGS" "$ETC"

wait_for_drain() {  # until no operation of the running version is on the wire (SENDING), or give up
  local waited=0 sending
  while :; do
    sending=$("$OPT/$OLD/bin/posplugin" queue list --json --config "$CONFIG" 2>/dev/null | "$OPT/$OLD/bin/python" -c \
      'import json, sys; print(json.load(sys.stdin).get("sending", 0))' 2>/dev/null || echo 0)
    [ "$sending" = 0 ] && return 0
    if [ "$FORCE" = 1 ]; then say "$sending operation(s) on the wire; going on (--force)"; return 0; fi
    [ "$waited" -ge "$DRAIN_TIMEOUT" ] && die "$sending operation(s) still on the wire after ${DRAIN_TIMEOUT}s; nothing changed (retry later or --force)"
    sleep 1; waited=$((waited + 1))
  done
}

# An upgrade that would have to wait for a busy till says so before building anything.
[ -n "$OLD" ] && [ "$OLD" != "$VERSION" ] && wait_for_drain

# ---- the new version, beside any old one --------------------------------------------------------------------
NEW="$OPT/$VERSION"
if [ "$OLD" = "$VERSION" ]; then
  say "$VERSION is already the current version; checking the installation only"
else
  rm -rf "$NEW"
  "$PYTHON" -m venv "$NEW"
  # Only this bundle's wheels: no index, and no pip.conf (whose find-links or constraints could reach elsewhere).
  PIP_CONFIG_FILE=/dev/null "$NEW/bin/python" -m pip install -q --no-index --find-links "$BUNDLE/wheels" \
    --disable-pip-version-check "posplugin==$VERSION" || { rm -rf "$NEW"; die "pip could not install from the bundle"; }
  install -m 0755 "$BUNDLE/posplugin-control.sh" "$NEW/bin/posplugin-control.sh"
  cp "$BUNDLE/config.example.toml" "$NEW/config.example.toml"
fi

# ---- config (never overwritten) -----------------------------------------------------------------------------
if [ ! -f "$CONFIG" ]; then
  if [ -n "$CONFIG_SRC" ]; then
    install -m 0640 "$CONFIG_SRC" "$CONFIG"
  else
    sed -e "s|^data_dir = \"\"|data_dir = \"$DATA\"|" -e "s|^log_dir = \"\"|log_dir = \"$LOGS\"|" \
      "$BUNDLE/config.example.toml" >"$CONFIG"
    chmod 0640 "$CONFIG"
  fi
  [ -n "$PORT" ] && sed -i "s|^port = [0-9]*|port = $PORT|" "$CONFIG"
  say "wrote $CONFIG"
else
  say "keeping $CONFIG"
fi
"$NEW/bin/posplugin" config check --config "$CONFIG" >/dev/null || die "$CONFIG is not valid (see above)"

# ---- system integration -------------------------------------------------------------------------------------
install -d -m 0755 "$UNIT_DIR" "$UDEV_DIR"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@ETC@|/etc/posplugin|g" -e "s|@DATA@|/var/lib/posplugin|g" \
  -e "s|@LOGS@|/var/log/posplugin|g" -e "s|@USER@|$SVC_USER|g" "$BUNDLE/posplugin.service" \
  >"$UNIT_DIR/posplugin.service"
install -m 0644 "$BUNDLE/60-posplugin-printers.rules" "$UDEV_DIR/60-posplugin-printers.rules"
if [ -z "$ROOT" ]; then
  chown -R "$SVC_USER:$SVC_USER" "$DATA" "$LOGS" "$ETC"
  command -v udevadm >/dev/null && { udevadm control --reload || true; udevadm trigger --subsystem-match=usb || true; }
  [ "$SYSTEMD" = 1 ] && systemctl daemon-reload
fi

# ---- the API key --------------------------------------------------------------------------------------------
if [ -n "$API_KEY_FILE" ]; then
  install -d -m 0700 "$DATA/secrets-import"
  install -m 0600 "$API_KEY_FILE" "$DATA/secrets-import/engage-api-key"
  [ -z "$ROOT" ] && chown -R "$SVC_USER:$SVC_USER" "$DATA/secrets-import"
  as_service "$NEW/bin/posplugin" secrets import --config "$CONFIG" >/dev/null
  say "stored the Engage API key in the service's secret store"
fi

# ---- switch over ---------------------------------------------------------------------------------------------
switch_to() { ln -sfn "$1" "$OPT/.current.new" && mv -Tf "$OPT/.current.new" "$OPT/current"; }

if [ -n "$OLD" ] && [ "$OLD" != "$VERSION" ]; then
  OLD_BIN="$OPT/$OLD/bin/posplugin"
  wait_for_drain
  agent stop
  # From here on, any failure puts the old version back before the script ends.
  trap 'echo "posplugin install: failed during the upgrade; restarting $OLD" >&2; switch_to "$OLD"; agent start' ERR
  BACKUP="$DATA/backups/posplugin-$OLD-$(date -u +%Y%m%dT%H%M%SZ).sqlite3"
  "$OLD_BIN" db backup "$BACKUP" --config "$CONFIG" >/dev/null
  if ! "$NEW/bin/posplugin" db migrate --config "$CONFIG" >/dev/null; then
    trap - ERR
    [ -f "$BACKUP" ] && "$OLD_BIN" db restore "$BACKUP" --config "$CONFIG" >/dev/null
    agent start; die "the database could not be migrated; still running $OLD"
  fi
  [ -z "$ROOT" ] && chown -R "$SVC_USER:$SVC_USER" "$DATA"
  switch_to "$VERSION"
  agent start
  if ! healthy "$VERSION"; then
    say "$VERSION did not report healthy within ${HEALTH_TIMEOUT}s; rolling back to $OLD"
    agent stop || true
    trap - ERR
    [ -f "$BACKUP" ] && "$OLD_BIN" db restore "$BACKUP" --config "$CONFIG" >/dev/null
    [ -z "$ROOT" ] && chown -R "$SVC_USER:$SVC_USER" "$DATA"
    switch_to "$OLD"
    agent start
    healthy "$OLD" || say "warning: $OLD does not answer either; see the logs in $LOGS"
    exit 3
  fi
  trap - ERR
  # Keep the previous version for a manual rollback; older ones go.
  for dir in "$OPT"/*; do
    [ -L "$dir" ] && continue  # `current`: removing through it would empty the version it points to
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    [ "$name" = "$VERSION" ] || [ "$name" = "$OLD" ] || rm -rf "$dir"
  done
  say "upgraded $OLD → $VERSION (database backup: $BACKUP)"
else
  switch_to "$VERSION"
  if [ "$SYSTEMD" = 1 ] && [ -z "$ROOT" ]; then systemctl enable --now posplugin.service >/dev/null 2>&1; else agent start; fi
  healthy "$VERSION" || die "posplugin $VERSION was installed but does not report healthy; see $LOGS and 'journalctl -u posplugin'"
  say "posplugin $VERSION installed"
fi

as_service "$OPT/current/bin/posplugin" doctor --config "$CONFIG" || say "doctor found problems (above); the agent runs and keeps retrying"
exit 0
