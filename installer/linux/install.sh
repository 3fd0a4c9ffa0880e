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
# shellcheck source=posplugin-lib.sh
. "$BUNDLE/posplugin-lib.sh"
PP_NAME="posplugin install"
ROOT="" PREFIX=/opt/posplugin PYTHON=python3 CONFIG_SRC="" API_KEY_FILE="" PORT=""
SYSTEMD=1 FORCE=0 DRAIN_TIMEOUT=120 HEALTH_TIMEOUT=60 SVC_USER=posplugin SERVICE_CTL=systemctl
FORCE_HINT=--force

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

if [ "$SYSTEMD" = 0 ]; then RUN_MODE=control; elif [ -n "$ROOT" ]; then RUN_MODE=none; else RUN_MODE=systemd; fi
pp_layout
UNIT_DIR="$ROOT/etc/systemd/system" UDEV_DIR="$ROOT/etc/udev/rules.d"
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

OLD=$(pp_current_version)
say "installing posplugin $VERSION${OLD:+ (current: $OLD)} under ${ROOT:-/}"

pp_ensure_user
pp_make_dirs
# An upgrade that would have to wait for a busy till says so before building anything.
[ -n "$OLD" ] && [ "$OLD" != "$VERSION" ] && pp_wait_for_drain "$OLD"

# ---- the new version, beside any old one --------------------------------------------------------------------
if [ "$OLD" = "$VERSION" ]; then
  say "$VERSION is already the current version; checking the installation only"
else
  pp_build_version "$VERSION" "$BUNDLE/wheels" "$BUNDLE/posplugin-control.sh" "$BUNDLE/config.example.toml"
fi
pp_write_config "$BUNDLE/config.example.toml" "$CONFIG_SRC" "$PORT"
pp_check_config "$VERSION"

# ---- system integration -------------------------------------------------------------------------------------
install -d -m 0755 "$UNIT_DIR" "$UDEV_DIR"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@ETC@|/etc/posplugin|g" -e "s|@DATA@|/var/lib/posplugin|g" \
  -e "s|@LOGS@|/var/log/posplugin|g" -e "s|@USER@|$SVC_USER|g" "$BUNDLE/posplugin.service" \
  >"$UNIT_DIR/posplugin.service"
install -m 0644 "$BUNDLE/60-posplugin-printers.rules" "$UDEV_DIR/60-posplugin-printers.rules"
if [ -z "$ROOT" ]; then
  command -v udevadm >/dev/null && { udevadm control --reload || true; udevadm trigger --subsystem-match=usb || true; }
  [ "$RUN_MODE" = systemd ] && systemctl daemon-reload
fi

# ---- the API key --------------------------------------------------------------------------------------------
if [ -n "$API_KEY_FILE" ]; then
  pp_refuse_link "$DATA/secrets-import"
  install -d -m 0700 "$DATA/secrets-import"
  pp_refuse_link "$DATA/secrets-import/engage-api-key"
  install -m 0600 "$API_KEY_FILE" "$DATA/secrets-import/engage-api-key"
  pp_own "$DATA/secrets-import" "$DATA/secrets-import/engage-api-key"
fi
pp_import_secrets "$VERSION"

# ---- switch over ---------------------------------------------------------------------------------------------
if [ -n "$OLD" ] && [ "$OLD" != "$VERSION" ]; then
  status=0
  pp_upgrade "$OLD" "$VERSION" || status=$?
  [ "$status" = 1 ] && die "the upgrade to $VERSION stopped before the switch; still running $OLD"
  [ "$status" = 3 ] && exit 3
  pp_prune "$VERSION" "$OLD"
  say "upgraded $OLD → $VERSION (database backup: $PP_BACKUP)"
else
  [ "$RUN_MODE" = systemd ] && systemctl enable posplugin.service >/dev/null 2>&1
  pp_start_fresh "$VERSION"
  say "posplugin $VERSION installed"
fi

pp_doctor
exit 0
