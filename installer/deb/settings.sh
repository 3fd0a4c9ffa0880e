# The .deb's maintainer scripts: their settings, inlined after posplugin-lib.sh. Set by the build: PKG_VERSION (the
# PEP 440 version, the folder under /opt/posplugin) and PKG_PYTHON (the Python the wheels are for).
#
# IT may set, e.g. `sudo env POSPLUGIN_DRAIN_TIMEOUT=300 apt install ./posplugin_X_amd64.deb`:
#   POSPLUGIN_DRAIN_TIMEOUT (120 s)  how long an upgrade waits for operations on the wire; POSPLUGIN_FORCE=1 goes on
#   POSPLUGIN_HEALTH_TIMEOUT (60 s)  how long the new version has to report healthy before it is rolled back
#   POSPLUGIN_PORT                   the local port, in a config made from the example (first install only)
#   POSPLUGIN_PYTHON                 another interpreter of the same version (default pythonX.Y from the Depends)
#   POSPLUGIN_NO_SYSTEMD=1           run the agent with posplugin-control.sh (a pidfile) instead of systemd
# dpkg sets DPKG_ROOT when it runs the scripts without a chroot (dpkg --root DIR --force-script-chrootless): then
# everything is laid out under DIR, and no user, unit, udev rule or service of the real system is touched.
PP_NAME="posplugin ${DPKG_MAINTSCRIPT_NAME:-package}"
ROOT=${DPKG_ROOT:-}
PREFIX=/opt/posplugin
SVC_USER=posplugin
PYTHON=${POSPLUGIN_PYTHON:-python$PKG_PYTHON}
FORCE=${POSPLUGIN_FORCE:-0}
DRAIN_TIMEOUT=${POSPLUGIN_DRAIN_TIMEOUT:-120}
HEALTH_TIMEOUT=${POSPLUGIN_HEALTH_TIMEOUT:-60}
FORCE_HINT="POSPLUGIN_FORCE=1"
SERVICE_CTL=deb-systemd-invoke
SHARE="$ROOT/usr/share/posplugin" LIB="$ROOT/usr/lib/posplugin" LIBEXEC="$ROOT/usr/libexec/posplugin"
if [ "${POSPLUGIN_NO_SYSTEMD:-0}" = 1 ]; then
  RUN_MODE=control
elif [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  RUN_MODE=systemd
else
  RUN_MODE=none  # no systemd running (an image build, a chroot) or a test root: laid out only
fi
if [ "$RUN_MODE" = systemd ] && command -v policy-rc.d >/dev/null; then
  # 101: services may not be started now. deb-systemd-invoke would quietly not start it, and the health check
  # would then roll a good upgrade back.
  policy=0
  policy-rc.d posplugin.service start >/dev/null 2>&1 || policy=$?
  if [ "$policy" = 101 ]; then RUN_MODE=none; fi
fi
pp_layout

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }
