"""installer/linux/posplugin-lib.sh, the steps install.sh and the .deb's maintainer scripts share, one at a time:
run by bash in a temporary root, with a stand-in for the posplugin program where a step only reads its output."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "installer" / "linux" / "posplugin-lib.sh"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux installer needs Linux")


def run_lib(root: Path, script: str, **settings: str) -> subprocess.CompletedProcess[str]:
    values = {
        "PP_NAME": "posplugin test",
        "ROOT": str(root),
        "PREFIX": "/opt/posplugin",
        "RUN_MODE": "none",
        "SERVICE_CTL": "false",
        "SVC_USER": "posplugin",
        "PYTHON": sys.executable,
        "FORCE": "0",
        "DRAIN_TIMEOUT": "1",
        "HEALTH_TIMEOUT": "1",
        "FORCE_HINT": "--force",
        **settings,
    }
    assignments = "\n".join(f"{key}={_quote(value)}" for key, value in values.items())
    program = f"set -euo pipefail\n. {_quote(str(LIB))}\n{assignments}\npp_layout\n{script}\n"
    return subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=60)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def fake_version(root: Path, version: str, queue_json: str | None) -> None:
    """A version folder whose `posplugin queue list --json` prints ``queue_json`` (or fails when None)."""
    bin_dir = root / "opt/posplugin" / version / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    answer = "exit 1" if queue_json is None else f"echo '{queue_json}'"
    (bin_dir / "posplugin").write_text(f"#!/bin/sh\n{answer}\n")
    (bin_dir / "posplugin").chmod(0o755)


@pytest.mark.parametrize("name", ["0.1.0", "1.2", "1.2.3rc1", "1.0.post2", "1.0.dev4", "2.0.0b1"])
def test_version_folders_are_told_from_others(tmp_path: Path, name: str) -> None:
    assert run_lib(tmp_path, f"pp_is_version {name}").returncode == 0


@pytest.mark.parametrize("name", ["current", ".current.new", "package", "1", "v1.0", "1.0-old", ""])
def test_other_folders_are_not_versions(tmp_path: Path, name: str) -> None:
    assert run_lib(tmp_path, f"pp_is_version '{name}'").returncode != 0


def test_prune_keeps_the_two_versions_named_and_anything_not_a_version(tmp_path: Path) -> None:
    opt = tmp_path / "opt/posplugin"
    for name in ("0.1.0", "0.1.1", "0.1.2", "0.2.0", "package", "notes"):
        (opt / name).mkdir(parents=True)
    (opt / "current").symlink_to("0.2.0")
    done = run_lib(tmp_path, "pp_prune 0.2.0 0.1.2")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in opt.iterdir()) == ["0.1.2", "0.2.0", "current", "notes", "package"]


def test_the_config_is_written_once_from_the_example_with_the_port(tmp_path: Path) -> None:
    example = tmp_path / "example.toml"
    example.write_text('[agent]\nport = 8765\ndata_dir = ""\nlog_dir = ""\n')
    done = run_lib(tmp_path, f"pp_make_dirs; pp_write_config {example} '' 9123")
    assert done.returncode == 0, done.stderr
    config = tmp_path / "etc/posplugin/config.toml"
    assert config.read_text() == (
        f'[agent]\nport = 9123\ndata_dir = "{tmp_path}/var/lib/posplugin"\nlog_dir = "{tmp_path}/var/log/posplugin"\n'
    )
    assert config.stat().st_mode & 0o777 == 0o640
    assert not list(config.parent.glob(".config.toml.*"))
    config.write_text("[agent]\nport = 1\n")
    done = run_lib(tmp_path, f"pp_write_config {example} '' 9999")
    assert done.returncode == 0 and f"keeping {config}" in done.stdout
    assert config.read_text() == "[agent]\nport = 1\n"  # never overwritten


def test_a_link_where_the_config_goes_is_not_written_through(tmp_path: Path) -> None:
    example = tmp_path / "example.toml"
    example.write_text("[agent]\n")
    etc = tmp_path / "etc/posplugin"
    etc.mkdir(parents=True)
    victim = tmp_path / "somewhere-else"
    (etc / "config.toml").symlink_to(victim)  # dangling: the service user could plant one in its folder
    done = run_lib(tmp_path, f"pp_write_config {example}")
    assert done.returncode == 1 and "is a symbolic link; refusing to follow it" in done.stderr
    assert not victim.exists()


def test_a_linked_secrets_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "var/lib/posplugin"
    data.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "engage-api-key").write_text("x")
    elsewhere.chmod(0o755)
    (data / "secrets-import").symlink_to(elsewhere)
    done = run_lib(tmp_path, "pp_import_secrets 0.1.0")
    assert done.returncode == 1 and "secrets-import is a symbolic link" in done.stderr
    assert elsewhere.stat().st_mode & 0o777 == 0o755  # not made 0700 through the link


def test_the_drain_gives_up_having_changed_nothing_or_goes_on_when_forced(tmp_path: Path) -> None:
    fake_version(tmp_path, "0.1.0", '{"sending": 2, "pending": 3, "parked": 1}')
    done = run_lib(tmp_path, "pp_wait_for_drain 0.1.0; echo not reached")
    assert done.returncode == 1 and "not reached" not in done.stdout
    assert "2 operation(s) still on the wire after 1s; nothing changed (retry later or --force)" in done.stderr
    done = run_lib(tmp_path, "pp_wait_for_drain 0.1.0; echo went on", FORCE="1")
    assert done.returncode == 0 and "2 operation(s) on the wire; going on (--force)" in done.stdout
    assert "went on" in done.stdout
    done = run_lib(tmp_path, "pp_queue_count 0.1.0 pending parked")
    assert done.stdout.strip() == "4"


def test_a_till_without_a_database_counts_no_operations(tmp_path: Path) -> None:
    fake_version(tmp_path, "0.1.0", None)  # `queue list` fails: no database yet
    done = run_lib(tmp_path, "pp_queue_count 0.1.0 sending; pp_wait_for_drain 0.1.0 && echo drained")
    assert done.returncode == 0 and done.stdout.split() == ["0", "drained"]


def test_on_a_real_system_what_the_service_reads_becomes_its_own(tmp_path: Path) -> None:
    """ROOT empty, as on a till, but every path in the temporary folder and `nobody` as the service user."""
    if os.geteuid() != 0:
        pytest.skip("changing owners needs root")
    nobody = pwd.getpwnam("nobody")
    etc, data = tmp_path / "etc", tmp_path / "data"
    etc.mkdir()
    (etc / "config.toml").write_text("[agent]\n")  # laid down by IT, as root
    (data / "secrets-import").mkdir(parents=True)
    (data / "secrets-import/engage-api-key").write_text("key")
    outside = tmp_path / "outside"
    outside.write_text("root's")
    (data / "secrets-import/planted").symlink_to(outside)
    paths = f"ETC={etc}; DATA={data}; LOGS={tmp_path}/logs; CONFIG={etc}/config.toml; OPT={tmp_path}/opt"
    # Secrets import itself runs the real program as the user: only the ownership before it is checked here.
    done = run_lib(
        Path(""),
        f"{paths}; pp_write_config /dev/null; pp_as_service() {{ :; }}; pp_import_secrets 0.1.0",
        ROOT="",
        SVC_USER="nobody",
    )
    assert done.returncode == 0, done.stderr
    assert (etc / "config.toml").stat().st_uid == nobody.pw_uid
    assert (data / "secrets-import").stat().st_uid == nobody.pw_uid
    assert (data / "secrets-import/engage-api-key").stat().st_uid == nobody.pw_uid
    assert (data / "secrets-import/planted").lstat().st_uid == nobody.pw_uid  # the link itself…
    assert outside.stat().st_uid == 0  # …never what it points to
