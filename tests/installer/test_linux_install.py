"""The Linux bundle end to end: build, install into a temporary root with pip cut off from any index, run,
upgrade with an operation queued, roll back a broken upgrade, uninstall keeping the data."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from posplugin import __version__
from posplugin.vendors.engage.simulator import EngageSimulator
from tests.conftest import API_KEY, free_port, wait_for
from tests.installer.bundle_builds import Bundles, bumped
from tests.sale_factory import example_sale

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("sha256sum") is None, reason="the Linux installer needs Linux"
)


@pytest.fixture
def bundles(linux_bundles: Bundles) -> Bundles:
    return linux_bundles


@pytest.fixture
def test_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "root"
    root.mkdir()
    yield root
    control = root / "opt/posplugin/current/bin/posplugin-control.sh"
    if control.exists():
        subprocess.run(
            [
                str(control),
                "stop",
                *(str(root / p) for p in ("opt/posplugin", "etc/posplugin", "var/lib/posplugin", "var/log/posplugin")),
            ],
            check=False,
            capture_output=True,
        )


def run_script(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSPLUGIN_", "PIP_", "VIRTUAL_ENV"))}
    # pip must not reach any index: every index setting points at a closed port.
    env.update(PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_EXTRA_INDEX_URL="http://127.0.0.1:9/simple")
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=300)


def test_install_upgrade_with_a_queued_op_rollback_and_uninstall(
    bundles: Bundles, test_root: Path, tmp_path: Path, sim: EngageSimulator
) -> None:
    port = free_port()
    data, etc = test_root / "var/lib/posplugin", test_root / "etc/posplugin"
    config_src = tmp_path / "till.toml"
    config_src.write_text(
        f'[agent]\nport = {port}\ndata_dir = "{data}"\nlog_dir = "{test_root}/var/log/posplugin"\n'
        f'store_id = "s42"\ntill_id = "t3"\n[engage]\nbase_url = "{sim.url}"\nprobe_interval = 0.3\n'
        "[offline]\nretry_min_seconds = 0.2\nretry_max_seconds = 1.0\n"
    )
    key_file = tmp_path / "engage.key"
    key_file.write_text(API_KEY + "\n")
    python = sys.executable

    # ---- fresh install ----------------------------------------------------------------------------------
    done = run_script(
        bundles.old / "install.sh",
        "--root",
        str(test_root),
        "--no-systemd",
        "--config",
        str(config_src),
        "--api-key-file",
        str(key_file),
        "--python",
        python,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"posplugin {__version__} installed" in done.stdout
    assert "ok    engage-api-key set (file)" in done.stdout  # the final doctor
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == __version__
    assert (etc / "config.toml").read_text() == config_src.read_text()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    secrets = data / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 and API_KEY in secrets.read_text()
    assert not (data / "secrets-import" / "engage-api-key").exists()
    unit = (test_root / "etc/systemd/system/posplugin.service").read_text()
    assert "ExecStart=/opt/posplugin/current/bin/posplugin run --config /etc/posplugin/config.toml" in unit
    assert (test_root / "etc/udev/rules.d/60-posplugin-printers.rules").exists()
    token = json.loads(secrets.read_text())["api-token"]
    headers = {"X-POS-Token": token}

    # ---- an op queued while Engage is down ---------------------------------------------------------------
    sim.set_offline(True)
    op = httpx.post(f"{base}/api/v1/sales", json=example_sale("S42-T3-0001"), headers=headers).json()
    assert op["state"] == "queued"

    # ---- an upgrade waits for operations on the wire, and gives up without changing anything ------------
    with closing(sqlite3.connect(data / "posplugin.sqlite3", timeout=10)) as db, db:
        db.execute(
            "INSERT INTO ops(op_id, kind, target_id, contact_id, state, next_attempt_at, park_deadline, created_at,"
            " updated_at) VALUES ('on-the-wire', 'sale_receipt', 'X', '', 'SENDING', 0, 9e9, 0, 0)"
        )
    done = run_script(bundles.new / "install.sh", "--root", str(test_root), "--no-systemd", "--drain-timeout", "2")
    assert done.returncode == 1 and "1 operation(s) still on the wire after 2s; nothing changed" in done.stderr
    assert os.readlink(test_root / "opt/posplugin/current") == __version__
    assert not (test_root / "opt/posplugin" / bumped(__version__)).exists()
    with closing(sqlite3.connect(data / "posplugin.sqlite3", timeout=10)) as db, db:
        db.execute("DELETE FROM ops WHERE op_id = 'on-the-wire'")

    # ---- upgrade ----------------------------------------------------------------------------------------
    new_version = bumped(__version__)
    done = run_script(bundles.new / "install.sh", "--root", str(test_root), "--no-systemd", "--python", python)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"upgraded {__version__} → {new_version}" in done.stdout
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == new_version
    assert (etc / "config.toml").read_text() == config_src.read_text()  # never overwritten
    assert json.loads(secrets.read_text())["api-token"] == token and API_KEY in secrets.read_text()
    survived = httpx.get(f"{base}/api/v1/ops/{op['opId']}", headers=headers).json()
    assert survived["state"] == "queued" and survived["receiptId"] == "S42-T3-0001"
    opt = test_root / "opt/posplugin"
    assert os.readlink(opt / "current") == new_version
    assert (opt / new_version / "bin/posplugin").exists() and (opt / __version__ / "bin/posplugin").exists()
    assert list((data / "backups").glob(f"posplugin-{__version__}-*.sqlite3"))

    # ---- a broken upgrade rolls back ---------------------------------------------------------------------
    done = run_script(
        bundles.broken / "install.sh",
        "--root",
        str(test_root),
        "--no-systemd",
        "--python",
        python,
        "--health-timeout",
        "8",
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "rolling back" in done.stdout
    assert os.readlink(opt / "current") == new_version
    assert httpx.get(f"{base}/api/v1/health").json()["version"] == new_version
    assert httpx.get(f"{base}/api/v1/ops/{op['opId']}", headers=headers).json()["state"] == "queued"

    # ---- Engage back: the op queued before both upgrades is delivered once -------------------------------
    sim.set_offline(False)
    wait_for(lambda: httpx.get(f"{base}/api/v1/ops/{op['opId']}", headers=headers).json()["state"] == "delivered", 20)
    assert list(sim.state.receipts) == ["S42-T3-0001"]

    # ---- uninstall keeps config and data -----------------------------------------------------------------
    sim.set_offline(True)
    httpx.post(f"{base}/api/v1/sales", json=example_sale("S42-T3-0002"), headers=headers)
    done = run_script(
        opt / "current" / "bin" / "posplugin-control.sh",
        "status",
        str(opt),
        str(etc),
        str(data),
        str(test_root / "var/log/posplugin"),
    )
    assert "running" in done.stdout
    done = run_script(bundles.new / "uninstall.sh", "--root", str(test_root), "--no-systemd")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 operation(s) are still queued" in done.stdout
    assert not opt.exists() and (etc / "config.toml").exists() and secrets.exists()
    with closing(sqlite3.connect(data / "posplugin.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM ops WHERE target_id = 'S42-T3-0002'").fetchone()[0] == 1
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/api/v1/health", timeout=2)


def test_a_damaged_bundle_is_refused(bundles: Bundles, test_root: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(bundles.old, damaged)
    wheel = next((damaged / "wheels").glob("httpx-*.whl"))
    wheel.write_bytes(wheel.read_bytes()[:-10])
    done = run_script(damaged / "install.sh", "--root", str(test_root), "--no-systemd")
    assert done.returncode == 1 and "checksums do not match" in done.stderr
    assert not (test_root / "opt").exists()


def test_the_systemd_unit_verifies(bundles: Bundles, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    unit = (bundles.old / "posplugin.service").read_text()
    for key, value in (
        ("@PREFIX@", "/opt/posplugin"),
        ("@ETC@", "/etc/posplugin"),
        ("@DATA@", "/var/lib/posplugin"),
        ("@LOGS@", "/var/log/posplugin"),
        ("@USER@", "posplugin"),
    ):
        unit = unit.replace(key, value)
    # Verification checks that ExecStart exists: point it at a real program for the check.
    unit = unit.replace("ExecStart=/opt/posplugin/current/bin/posplugin", f"ExecStart={sys.executable} -m posplugin")
    path = tmp_path / "posplugin.service"
    path.write_text(unit)
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr and "unknown" not in result.stderr.lower()
