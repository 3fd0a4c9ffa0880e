#!/usr/bin/env bash
# Start/stop the agent without systemd (containers, test roots): a pidfile in the data folder.
#   posplugin-control.sh start|stop|status PREFIX ETC DATA LOGS
set -euo pipefail

action=${1:?start|stop|status}
prefix=${2:?prefix}
etc=${3:?etc}
data=${4:?data}
logs=${5:?logs}
pidfile="$data/posplugin.pid"

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case "$action" in
  start)
    if running; then echo "posplugin already running (pid $(cat "$pidfile"))"; exit 0; fi
    mkdir -p "$logs"
    POSPLUGIN_SECRET_BACKEND=file nohup "$prefix/current/bin/posplugin" run --config "$etc/config.toml" \
      >>"$logs/console.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    echo "posplugin started (pid $!)"
    ;;
  stop)
    if ! running; then rm -f "$pidfile"; echo "posplugin not running"; exit 0; fi
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    # As systemd's TimeoutStopSec: a redemption in flight may need up to 75 s.
    for _ in $(seq 1 900); do
      kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "posplugin stopped"; exit 0; }
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "posplugin killed after 90 s"
    ;;
  status)
    if running; then echo "running (pid $(cat "$pidfile"))"; else echo "stopped"; exit 3; fi
    ;;
  *)
    echo "usage: $0 start|stop|status PREFIX ETC DATA LOGS" >&2
    exit 2
    ;;
esac
