"""The .deb end to end: built with dpkg-deb from the Linux bundles, checked with dpkg-deb and lintian, then
installed, upgraded past a busy till, rolled back from a version that cannot start, removed and purged by the real
dpkg into a throwaway root (``dpkg --root DIR --force-script-chrootless``: the maintainer scripts see DPKG_ROOT and
touch nothing of this machine), with every pip index pointed at a closed port."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from posplugin import __version__
from posplugin.vendors.engage.simulator import EngageSimulator
from tests.conftest import API_KEY, free_port, wait_for
from tests.installer.bundle_builds import REPO, Bundles, builder, bumped, python_version
from tests.installer.required_tools import root_user, tool
from tests.sale_factory import example_sale

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Debian packages need Linux")

# What lintian says of the package that is true and stays (info level; errors and warnings fail the test):
# the agent needs systemd to run as a service; a till without it runs posplugin-control.sh (docs/packages.md).
KNOWN_LINTIAN_TAGS = {"package-supports-alternative-init-but-no-init.d-script"}
STATE_DIRS = ("opt/posplugin", "etc/posplugin", "var/lib/posplugin", "var/log/posplugin")


@dataclass
class Debs:
    old: Path
    new: Path
    broken: Path


@pytest.fixture(scope="module")
def debs(linux_bundles: Bundles, tmp_path_factory: pytest.TempPathFactory) -> Debs:
    tool("dpkg-deb", "dpkg")
    deb = builder().sibling("deb_package")
    out = tmp_path_factory.mktemp("debs")
    return Debs(*(deb.build_deb(b, out) for b in (linux_bundles.old, linux_bundles.new, linux_bundles.broken)))


def deb_version(version: str) -> str:
    spelled: str = builder().sibling("deb_package").debian_version(version)
    return spelled


def dpkg_deb(*args: str) -> str:
    return subprocess.run([tool("dpkg-deb", "dpkg"), *args], capture_output=True, text=True, check=True).stdout


# ---- the package as built ---------------------------------------------------------------------------------------


def test_control_fields_and_maintainer_scripts(debs: Debs, tmp_path: Path) -> None:
    fields = dpkg_deb("--field", str(debs.old))
    assert re.search(r"^Package: posplugin$", fields, re.M)
    assert re.search(rf"^Version: {re.escape(deb_version(__version__))}$", fields, re.M)
    assert re.search(r"^Architecture: amd64$", fields, re.M)
    python = f"python{python_version()}"
    assert re.search(rf"^Depends: {python}, {python}-venv, passwd$", fields, re.M)
    assert re.search(r"^Maintainer: .+ <[^>]+@[^>]+>$", fields, re.M)
    info = dpkg_deb("--info", str(debs.old))
    for script in ("preinst", "postinst", "prerm", "postrm"):
        assert re.search(rf"^\s+\d+ bytes,\s+\d+ lines\s+\*\s+{script}\s+#!/bin/bash$", info, re.M), script
    assert "conffiles" not in info  # the config is made once by the postinst, never a conffile to prompt about

    control = tmp_path / "control"
    subprocess.run([tool("dpkg-deb", "dpkg"), "--control", str(debs.old), str(control)], check=True)
    for script in ("preinst", "postinst", "prerm", "postrm"):
        text = (control / script).read_text()
        assert "#POSPLUGIN_LIB#" not in text and f"PKG_VERSION={__version__}\n" in text
        assert "pp_upgrade()" in text  # the shared library, inlined
        checked = subprocess.run(["bash", "-n", str(control / script)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
    md5sums = (control / "md5sums").read_text()
    assert "  lib/systemd/system/posplugin.service\n" in md5sums


def test_files_owners_and_modes(debs: Debs, linux_bundles: Bundles) -> None:
    listing = {}
    for line in dpkg_deb("--contents", str(debs.old)).splitlines():
        mode, owner, _size, _date, _time, path = line.split(None, 5)
        listing[path.removeprefix(".")] = (mode, owner)
    assert all(owner == "root/root" for _mode, owner in listing.values())
    wheels = sorted(p.name for p in (linux_bundles.old / "wheels").glob("*.whl"))
    assert sorted(
        p.rsplit("/", 1)[1] for p in listing if p.startswith("/usr/lib/posplugin/wheels/") and p[-1] != "/"
    ) == (wheels)
    expected = {
        "/lib/systemd/system/posplugin.service": "-rw-r--r--",
        "/lib/udev/rules.d/60-posplugin-printers.rules": "-rw-r--r--",
        "/usr/libexec/posplugin/posplugin-control.sh": "-rwxr-xr-x",
        "/usr/share/posplugin/config.example.toml": "-rw-r--r--",
        "/usr/share/doc/posplugin/copyright": "-rw-r--r--",
        "/usr/share/doc/posplugin/changelog.gz": "-rw-r--r--",
    }
    for path, mode in expected.items():
        assert listing[path][0] == mode, path
    # What the postinst makes is not the package's: dpkg would delete a config or a virtualenv on upgrade.
    assert not [p for p in listing if p.startswith(("/etc/", "/opt/", "/var/"))]


def test_the_unit_and_the_udev_rule_are_the_installers(debs: Debs, tmp_path: Path) -> None:
    subprocess.run([tool("dpkg-deb", "dpkg"), "--extract", str(debs.old), str(tmp_path)], check=True)
    unit = (tmp_path / "lib/systemd/system/posplugin.service").read_text()
    assert "@" not in unit
    assert "ExecStart=/opt/posplugin/current/bin/posplugin run --config /etc/posplugin/config.toml" in unit
    assert "User=posplugin" in unit and "ReadWritePaths=/var/lib/posplugin /var/log/posplugin /etc/posplugin" in unit
    rule = (tmp_path / "lib/udev/rules.d/60-posplugin-printers.rules").read_bytes()
    assert rule == (REPO / "drivers/assets/60-posplugin-printers.rules").read_bytes()


def test_lintian_finds_nothing_to_fix(debs: Debs) -> None:
    lintian = tool("lintian", "lintian")
    done = subprocess.run(
        [lintian, "--fail-on", "error,warning", "--display-info", "--pedantic", "--show-overrides", str(debs.old)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = [line for line in done.stdout.splitlines() if re.match(r"^[EWIPXO]: ", line)]
    assert done.returncode == 0, done.stdout + done.stderr
    tags = {line.split()[2] for line in report}
    assert tags <= KNOWN_LINTIAN_TAGS, "\n".join(report)
    assert not [line for line in report if line.startswith("O: ")]  # no override in use: none is needed


# ---- dpkg into a throwaway root ---------------------------------------------------------------------------------


@pytest.fixture
def throwaway_root(tmp_path: Path) -> Iterator[Path]:
    root_user("installing a .deb with dpkg")
    tool("dpkg", "dpkg")
    root = tmp_path / "root"
    for folder in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        (root / folder).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    yield root
    control = root / "opt/posplugin/current/bin/posplugin-control.sh"
    if control.exists():
        subprocess.run([str(control), "stop", *(str(root / p) for p in STATE_DIRS)], check=False, capture_output=True)


def dpkg(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POSPLUGIN_", "PIP_", "VIRTUAL_ENV", "DPKG_"))}
    # pip must not reach any index: every index setting points at a closed port.
    clean.update(PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_EXTRA_INDEX_URL="http://127.0.0.1:9/simple")
    clean.update(POSPLUGIN_PYTHON=sys.executable, **env)
    # The throwaway root has none of the Depends installed: --force-depends; the scripts run outside a chroot.
    cmd = [tool("dpkg", "dpkg"), f"--root={root}", "--force-script-chrootless", "--force-depends", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=clean, timeout=600)


def package_state(root: Path) -> tuple[str, str]:
    """(Status, Version) of posplugin in the throwaway root's dpkg database."""
    done = subprocess.run(
        [tool("dpkg-query", "dpkg"), f"--admindir={root}/var/lib/dpkg", "-W", "-f=${Status}|${Version}", "posplugin"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return ("not-installed", "")
    status, version = done.stdout.split("|")
    return status, version


def test_install_upgrade_past_a_busy_till_rollback_remove_and_purge(
    debs: Debs, throwaway_root: Path, sim: EngageSimulator
) -> None:
    root = throwaway_root
    port = free_port()
    opt, etc, data = root / "opt/posplugin", root / "etc/posplugin", root / "var/lib/posplugin"
    run_control = {"POSPLUGIN_NO_SYSTEMD": "1"}
    # IT's way to give a till its settings and key: lay them down before the package goes in.
    etc.mkdir(parents=True)
    till_config = (
        f'[agent]\nport = {port}\ndata_dir = "{data}"\nlog_dir = "{root}/var/log/posplugin"\n'
        f'store_id = "s42"\ntill_id = "t3"\n[engage]\nbase_url = "{sim.url}"\nprobe_interval = 0.3\n'
        "[offline]\nretry_min_seconds = 0.2\nretry_max_seconds = 1.0\n"
    )
    (etc / "config.toml").write_text(till_config)
    (data / "secrets-import").mkdir(parents=True)
    (data / "secrets-import/engage-api-key").write_text(API_KEY + "\n")
    new_version, broken_version = bumped(__version__), bumped(__version__, 2)

    # ---- fresh install ------------------------------------------------------------------------------------
    done = dpkg(root, "--install", str(debs.old), **run_control)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"posplugin {__version__} installed" in done.stdout
    assert "ok    engage-api-key set (file)" in done.stdout  # the final doctor
    assert package_state(root) == ("install ok installed", deb_version(__version__))
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == __version__
    assert (etc / "config.toml").read_text() == till_config
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    secrets = data / "secrets.json"
    assert API_KEY in secrets.read_text() and not (data / "secrets-import/engage-api-key").exists()
    assert os.readlink(opt / "current") == __version__
    assert (root / "lib/systemd/system/posplugin.service").exists()
    token = json.loads(secrets.read_text())["api-token"]
    headers = {"X-POS-Token": token}

    # ---- an op queued while Engage is down ------------------------------------------------------------------
    sim.set_offline(True)
    op = httpx.post(f"{base}/api/v1/sales", json=example_sale("S42-T3-0001"), headers=headers).json()
    assert op["state"] == "queued"

    # ---- an upgrade waits for operations on the wire, and gives up in the preinst having changed nothing ----
    with closing(sqlite3.connect(data / "posplugin.sqlite3", timeout=10)) as db, db:
        db.execute(
            "INSERT INTO ops(op_id, kind, target_id, contact_id, state, next_attempt_at, park_deadline, created_at,"
            " updated_at) VALUES ('on-the-wire', 'sale_receipt', 'X', '', 'SENDING', 0, 9e9, 0, 0)"
        )
    done = dpkg(root, "--install", str(debs.new), POSPLUGIN_DRAIN_TIMEOUT="2", **run_control)
    assert done.returncode != 0
    assert (
        "1 operation(s) still on the wire after 2s; nothing changed (retry later or POSPLUGIN_FORCE=1)" in done.stderr
    )
    assert package_state(root) == ("install ok installed", deb_version(__version__))
    assert os.readlink(opt / "current") == __version__ and not (opt / new_version).exists()
    assert list((root / "usr/lib/posplugin/wheels").glob(f"posplugin-{__version__}-*.whl"))  # not unpacked
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == __version__
    with closing(sqlite3.connect(data / "posplugin.sqlite3", timeout=10)) as db, db:
        db.execute("DELETE FROM ops WHERE op_id = 'on-the-wire'")

    # ---- upgrade -------------------------------------------------------------------------------------------
    done = dpkg(root, "--install", str(debs.new), **run_control)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"upgraded {__version__} → {new_version}" in done.stdout
    assert package_state(root) == ("install ok installed", deb_version(new_version))
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == new_version
    assert (etc / "config.toml").read_text() == till_config  # never overwritten
    assert json.loads(secrets.read_text())["api-token"] == token and API_KEY in secrets.read_text()
    survived = httpx.get(f"{base}/api/v1/ops/{op['opId']}", headers=headers).json()
    assert survived["state"] == "queued" and survived["receiptId"] == "S42-T3-0001"
    assert os.readlink(opt / "current") == new_version
    assert (opt / __version__ / "bin/posplugin").exists()  # the previous version, for a manual rollback
    assert list((data / "backups").glob(f"posplugin-{__version__}-*.sqlite3"))

    # ---- an upgrade to a version that cannot start is rolled back, and dpkg reports it --------------------
    done = dpkg(root, "--install", str(debs.broken), POSPLUGIN_HEALTH_TIMEOUT="8", **run_control)
    assert done.returncode != 0
    assert f"{broken_version} did not report healthy within 8s; rolling back to {new_version}" in done.stdout
    assert f"the upgrade to {broken_version} was rolled back: {new_version} runs again" in done.stderr
    assert package_state(root) == ("install ok half-configured", deb_version(broken_version))
    assert os.readlink(opt / "current") == new_version
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == new_version
    assert httpx.get(f"{base}/api/v1/ops/{op['opId']}", headers=headers).json()["state"] == "queued"

    # ---- the running version's package puts dpkg back in line ------------------------------------------------
    done = dpkg(root, "--install", str(debs.new), **run_control)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{new_version} is already the current version" in done.stdout
    assert package_state(root) == ("install ok installed", deb_version(new_version))
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == new_version

    # ---- Engage back: the op queued before all of it is delivered once -----------------------------------
    sim.set_offline(False)
    wait_for(lambda: httpx.get(f"{base}/api/v1/ops/{op['opId']}", headers=headers).json()["state"] == "delivered", 20)
    assert list(sim.state.receipts) == ["S42-T3-0001"]

    # ---- remove keeps config and data, and says what stays queued -------------------------------------------
    sim.set_offline(True)
    httpx.post(f"{base}/api/v1/sales", json=example_sale("S42-T3-0002"), headers=headers)
    done = dpkg(root, "--remove", "posplugin", **run_control)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 operation(s) are still queued" in done.stdout
    assert package_state(root)[0] == "deinstall ok config-files"
    assert not opt.exists() and not (root / "lib/systemd/system/posplugin.service").exists()
    assert (etc / "config.toml").read_text() == till_config and secrets.exists()
    with closing(sqlite3.connect(data / "posplugin.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM ops WHERE target_id = 'S42-T3-0002'").fetchone()[0] == 1
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/api/v1/health", timeout=2)

    # ---- purge ------------------------------------------------------------------------------------------------
    done = dpkg(root, "--purge", "posplugin", **run_control)
    assert done.returncode == 0, done.stdout + done.stderr
    assert package_state(root) == ("not-installed", "")
    assert not etc.exists() and not data.exists() and not (root / "var/log/posplugin").exists()


def test_a_bad_port_or_config_fails_clearly_and_a_fixed_one_configures(debs: Debs, throwaway_root: Path) -> None:
    """Without POSPLUGIN_NO_SYSTEMD and outside a booted system nothing is started (an image build): the layout,
    the config from the example, and the failure paths of the postinst."""
    root = throwaway_root
    etc, data = root / "etc/posplugin", root / "var/lib/posplugin"

    done = dpkg(root, "--install", str(debs.old), POSPLUGIN_PORT="80a")
    assert done.returncode != 0 and "POSPLUGIN_PORT must be a number (it is '80a'); nothing was changed" in done.stderr
    assert package_state(root) == ("install ok half-configured", deb_version(__version__))
    assert not (etc / "config.toml").exists()

    etc.mkdir(parents=True, exist_ok=True)
    (etc / "config.toml").write_text('[agent]\nport = "not a port"\n')
    done = dpkg(root, "--configure", "posplugin")
    assert done.returncode != 0 and f"{etc}/config.toml is not valid" in done.stderr
    assert (etc / "config.toml").read_text() == '[agent]\nport = "not a port"\n'  # never overwritten

    (etc / "config.toml").unlink()
    port = free_port()
    done = dpkg(root, "--configure", "posplugin", POSPLUGIN_PORT=str(port))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing is started here" in done.stdout and f"wrote {etc}/config.toml" in done.stdout
    assert f"keeping {root}/opt/posplugin/{__version__}, built from these wheels before" in done.stdout
    assert package_state(root) == ("install ok installed", deb_version(__version__))
    config = (etc / "config.toml").read_text()
    assert re.search(rf"^port = {port}\b", config, re.M)
    assert f'data_dir = "{data}"' in config and f'log_dir = "{root}/var/log/posplugin"' in config
    assert stat.S_IMODE((etc / "config.toml").stat().st_mode) == 0o640
    assert stat.S_IMODE(data.stat().st_mode) == 0o700 and stat.S_IMODE(etc.stat().st_mode) == 0o750
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)

    done = dpkg(root, "--purge", "posplugin")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [p for p in STATE_DIRS if (root / p).exists()]
