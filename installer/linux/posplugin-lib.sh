# Shared by install.sh, uninstall.sh and the .deb's maintainer scripts (inlined into those at build time, since a
# preinst runs before the package's files exist and a postrm after they are gone). Defines functions only.
#
# The caller sets, then calls pp_layout:
#   PP_NAME         prefix of every message ("posplugin install")
#   ROOT            "" on a real system; a folder to lay everything out under (packaging, tests)
#   PREFIX          where versions go (/opt/posplugin)
#   RUN_MODE        systemd | control (posplugin-control.sh, a pidfile) | none (laid out only; nothing runs)
#   SERVICE_CTL     what starts and stops the unit in systemd mode: systemctl, or deb-systemd-invoke (which
#                   honours policy-rc.d: no service starts inside an image build)
#   SVC_USER PYTHON FORCE DRAIN_TIMEOUT HEALTH_TIMEOUT
#   FORCE_HINT      how the caller is told to force an upgrade past busy operations ("--force")

say() { echo "$PP_NAME: $*"; }
die() { echo "$PP_NAME: $*" >&2; exit "${2:-1}"; }

pp_layout() {
  OPT="$ROOT$PREFIX" ETC="$ROOT/etc/posplugin" DATA="$ROOT/var/lib/posplugin" LOGS="$ROOT/var/log/posplugin"
  CONFIG="$ETC/config.toml"
}

pp_current_version() {  # the version `current` points to, or nothing
  if [ -L "$OPT/current" ]; then basename "$(readlink "$OPT/current")"; fi
}

pp_is_version() {  # does a folder name under PREFIX look like a version (and not `current` or anything else)?
  [[ "$1" =~ ^[0-9]+(\.[0-9]+)+([a-z]+[0-9]*|\.post[0-9]+|\.dev[0-9]+)*$ ]]
}

pp_as_service() {  # run a command as the service user (directly in a test root); the database stays theirs
  if [ -n "$ROOT" ]; then env POSPLUGIN_SECRET_BACKEND=file "$@"; else
    (cd / && runuser -u "$SVC_USER" -- env POSPLUGIN_SECRET_BACKEND=file "$@"); fi
}

pp_own() {  # give the paths named to the service user (not in a test root)
  # Never recursive, and never through a symbolic link (-h): the service user can put links in its own folders,
  # and root following one would hand it any file on the system.
  if [ -z "$ROOT" ]; then chown -h "$SVC_USER:" "$@"; fi  # "user:" is the user and its own group
}

pp_refuse_link() {  # root must not write through a link the service user may have planted
  if [ -L "$1" ]; then die "$1 is a symbolic link; refusing to follow it (remove it and retry)"; fi
}

pp_agent() {  # start|stop the agent however it runs here
  case "$RUN_MODE" in
    systemd) "$SERVICE_CTL" "$1" posplugin.service ;;
    control) "$OPT/current/bin/posplugin-control.sh" "$1" "$OPT" "$ETC" "$DATA" "$LOGS" >/dev/null ;;
    none) return 0 ;;
  esac
}

pp_healthy() {  # is version $1 up and answering /api/v1/health on the configured port?
  # Any status counts: "warning" (Engage offline) or "critical" (ops for a person) are the till's state, which an
  # upgrade neither causes nor cures; rolling back is for a version that cannot run.
  [ "$RUN_MODE" = none ] && return 0
  local port
  port=$("$OPT/current/bin/posplugin" config show --config "$CONFIG" | "$OPT/current/bin/python" -c \
    'import json, sys; print(json.load(sys.stdin)["agent"]["port"])') || return 1
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

pp_queue_count() {  # pp_queue_count VERSION FIELD...: the sum of those fields of `queue list` (0 without a database)
  local version=$1
  shift
  pp_as_service "$OPT/$version/bin/posplugin" queue list --json --config "$CONFIG" 2>/dev/null \
    | "$OPT/$version/bin/python" -c \
      'import json, sys; d = json.load(sys.stdin); print(sum(d.get(f, 0) for f in sys.argv[1:]))' "$@" \
      2>/dev/null || echo 0
}

pp_wait_for_drain() {  # until no operation of version $1 is on the wire (SENDING), or give up having changed nothing
  local waited=0 sending
  while :; do
    sending=$(pp_queue_count "$1" sending)
    [ "$sending" = 0 ] && return 0
    if [ "$FORCE" = 1 ]; then say "$sending operation(s) on the wire; going on ($FORCE_HINT)"; return 0; fi
    [ "$waited" -ge "$DRAIN_TIMEOUT" ] && die "$sending operation(s) still on the wire after ${DRAIN_TIMEOUT}s; nothing changed (retry later or $FORCE_HINT)"
    sleep 1
    waited=$((waited + 1))
  done
}

pp_ensure_user() {  # the system user and the groups of the printer and serial devices
  [ -n "$ROOT" ] && return 0
  local group
  for group in dialout lp; do getent group "$group" >/dev/null || groupadd --system "$group"; done
  if ! id "$SVC_USER" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/posplugin --no-create-home --shell /usr/sbin/nologin \
      --groups dialout,lp "$SVC_USER"
    say "created system user $SVC_USER"
  fi
}

pp_make_dirs() {
  install -d -m 0755 "$OPT"
  install -d -m 0700 "$DATA"
  install -d -m 0750 "$LOGS" "$ETC"
  pp_own "$DATA" "$LOGS" "$ETC"
}

pp_build_version() {  # pp_build_version VERSION WHEELS CONTROL_SCRIPT EXAMPLE: a virtualenv from those wheels only
  # One that a run before finished from the same wheels is kept (a retry after fixing the config is quick).
  local new="$OPT/$1" stamp
  stamp=$(cd "$2" && sha256sum ./*.whl | sha256sum | cut -d' ' -f1)
  if [ -f "$new/.posplugin-built" ] && [ "$(cat "$new/.posplugin-built")" = "$stamp" ]; then
    say "keeping $new, built from these wheels before"
    return 0
  fi
  rm -rf "$new"
  "$PYTHON" -m venv "$new" || { rm -rf "$new"; die "$PYTHON could not create a virtualenv in $new"; }
  # Only these wheels: no index, no pip.conf and no PIP_* variable (whose find-links or constraints could reach
  # elsewhere or refuse a pinned version).
  (
    while read -r var; do unset "$var"; done < <(compgen -e | grep '^PIP_' || true)
    PIP_CONFIG_FILE=/dev/null "$new/bin/python" -m pip install -q --no-index --find-links "$2" \
      --disable-pip-version-check "posplugin==$1"
  ) || { rm -rf "$new"; die "pip could not install from $2"; }
  install -m 0755 "$3" "$new/bin/posplugin-control.sh"
  cp "$4" "$new/config.example.toml"
  echo "$stamp" >"$new/.posplugin-built"
}

pp_write_config() {  # pp_write_config EXAMPLE [SOURCE] [PORT]: the config, once; never overwritten
  local new
  pp_refuse_link "$CONFIG"
  if [ -f "$CONFIG" ]; then
    # Its content stays; it may have been laid down by IT before the install, so it becomes the service's.
    pp_own "$CONFIG"
    say "keeping $CONFIG"
    return 0
  fi
  # Made beside it and renamed into place: the folder is the service user's (the settings page saves the file).
  new=$(mktemp "$ETC/.config.toml.XXXXXX")
  if [ -n "${2:-}" ]; then
    cat "$2" >"$new"
  else
    sed -e "s|^data_dir = \"\"|data_dir = \"$DATA\"|" -e "s|^log_dir = \"\"|log_dir = \"$LOGS\"|" "$1" >"$new"
  fi
  if [ -n "${3:-}" ]; then sed -i "s|^port = [0-9]*|port = $3|" "$new"; fi
  chmod 0640 "$new"
  pp_own "$new"
  mv -Tf "$new" "$CONFIG"
  say "wrote $CONFIG"
}

pp_check_config() {  # with version $1
  "$OPT/$1/bin/posplugin" config check --config "$CONFIG" >/dev/null || die "$CONFIG is not valid (see above)"
}

pp_import_secrets() {  # secrets an installer left in DATA/secrets-import, into the service's store (with version $1)
  pp_refuse_link "$DATA/secrets-import"
  [ -n "$(ls -A "$DATA/secrets-import" 2>/dev/null)" ] || return 0
  chmod 0700 "$DATA/secrets-import"
  pp_own "$DATA/secrets-import" "$DATA/secrets-import"/*  # the service reads them; IT may have left them as root
  pp_as_service "$OPT/$1/bin/posplugin" secrets import --config "$CONFIG" >/dev/null \
    || die "could not store the secrets left in $DATA/secrets-import"
  say "stored the secrets left in $DATA/secrets-import in the service's secret store"
}

pp_switch_to() { ln -sfn "$1" "$OPT/.current.new" && mv -Tf "$OPT/.current.new" "$OPT/current"; }

pp_restore() {  # pp_restore VERSION BACKUP: put the database backup back with that version's program
  [ -f "$2" ] || return 0
  pp_as_service "$OPT/$1/bin/posplugin" db restore "$2" --config "$CONFIG" >/dev/null \
    || say "warning: could not restore $2; restore it by hand with 'posplugin db restore'"
}

pp_upgrade() {  # pp_upgrade OLD NEW: drain, stop, back up, migrate, switch, start, check; roll back on failure
  # Returns 0 upgraded, 1 failed before the switch (OLD runs as before), 3 rolled back to OLD.
  local old=$1 new=$2 backup
  pp_wait_for_drain "$old"
  pp_agent stop || { say "could not stop $old"; return 1; }
  backup="$DATA/backups/posplugin-$old-$(date -u +%Y%m%dT%H%M%SZ).sqlite3"
  PP_BACKUP=$backup
  if ! pp_as_service "$OPT/$old/bin/posplugin" db backup "$backup" --config "$CONFIG" >/dev/null; then
    say "could not back up the database; still running $old"
    pp_agent start || true
    return 1
  fi
  if ! pp_as_service "$OPT/$new/bin/posplugin" db migrate --config "$CONFIG" >/dev/null; then
    say "the database could not be migrated; still running $old"
    pp_restore "$old" "$backup"
    pp_agent start || true
    return 1
  fi
  if pp_switch_to "$new" && pp_agent start && pp_healthy "$new"; then
    return 0
  fi
  say "$new did not report healthy within ${HEALTH_TIMEOUT}s; rolling back to $old"
  pp_agent stop || true
  pp_restore "$old" "$backup"
  pp_switch_to "$old"
  pp_agent start || true
  pp_healthy "$old" || say "warning: $old does not answer either; see the logs in $LOGS"
  return 3
}

pp_prune() {  # keep versions $1 and $2 (the previous one, for a manual rollback); older ones go
  local dir name
  for dir in "$OPT"/*; do
    [ -L "$dir" ] && continue  # `current`: removing through it would empty the version it points to
    [ -d "$dir" ] || continue
    name=$(basename "$dir")
    pp_is_version "$name" || continue
    [ "$name" = "$1" ] || [ "$name" = "$2" ] || rm -rf "$dir"
  done
}

pp_start_fresh() {  # switch to version $1 and start it; fail if it does not report healthy
  pp_switch_to "$1"
  pp_agent start || die "posplugin $1 was installed but could not be started; see $LOGS and 'journalctl -u posplugin'"
  pp_healthy "$1" || die "posplugin $1 was installed but does not report healthy; see $LOGS and 'journalctl -u posplugin'"
}

pp_doctor() {  # the final report of the installed version (problems are reported, not fatal: the agent retries)
  pp_as_service "$OPT/current/bin/posplugin" doctor --config "$CONFIG" \
    || say "doctor found problems (above); the agent runs and keeps retrying"
}
