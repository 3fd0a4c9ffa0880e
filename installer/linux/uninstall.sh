#!/usr/bin/env bash
# Remove posplugin. Config (/etc/posplugin) and data (/var/lib/posplugin: the queue, secrets, cache) stay unless
# --purge: an uninstall must never lose a queued redemption or sale by accident.
#
#   sudo ./uninstall.sh [--purge] [--prefix /opt/posplugin] [--root DIR] [--no-systemd]
set -euo pipefail

# shellcheck source=posplugin-lib.sh
. "$(cd "$(dirname "$0")" && pwd)/posplugin-lib.sh"
PP_NAME="posplugin uninstall"
ROOT="" PREFIX=/opt/posplugin PURGE=0 SYSTEMD=1 SVC_USER=posplugin
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1; shift ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --root) ROOT=$(realpath -m "$2"); shift 2 ;;
    --no-systemd) SYSTEMD=0; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) die "unknown option $1" 2 ;;
  esac
done
[ -z "$ROOT" ] && [ "$(id -u)" != 0 ] && die "run as root (or use --root DIR)" 2
pp_layout
CURRENT=$(pp_current_version)

if [ -z "$ROOT" ] && [ "$SYSTEMD" = 1 ] && command -v systemctl >/dev/null; then
  systemctl disable --now posplugin.service 2>/dev/null || true
elif [ -x "$OPT/current/bin/posplugin-control.sh" ]; then
  "$OPT/current/bin/posplugin-control.sh" stop "$OPT" "$ETC" "$DATA" "$LOGS" || true
fi
if [ -d "$DATA" ] && [ -n "$CURRENT" ] && [ -x "$OPT/$CURRENT/bin/posplugin" ] && [ "$PURGE" = 0 ]; then
  left=$(pp_queue_count "$CURRENT" pending parked)
  [ "$left" != 0 ] && echo "$PP_NAME: $left operation(s) are still queued; they stay in $DATA"
fi
rm -f "$ROOT/etc/systemd/system/posplugin.service" "$ROOT/etc/udev/rules.d/60-posplugin-printers.rules"
[ -z "$ROOT" ] && command -v systemctl >/dev/null && systemctl daemon-reload || true
rm -rf "$OPT"
if [ "$PURGE" = 1 ]; then
  rm -rf "$ETC" "$DATA" "$LOGS"
  [ -z "$ROOT" ] && id "$SVC_USER" >/dev/null 2>&1 && userdel "$SVC_USER"
  echo "posplugin removed with its config, data and logs"
else
  echo "posplugin removed; kept $ETC, $DATA and $LOGS (use --purge to delete them)"
fi
