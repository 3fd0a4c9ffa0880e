"""The file printer cannot be pointed at the agent's own files, or at any file that is not printer output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drivers.printer import FilePrinter, PrinterError
from posplugin.cli import main
from posplugin.paths import AgentPaths
from posplugin.printer_target import printer_file_problem
from posplugin.secret_store import ENGAGE_API_KEY, FileBackend, SecretStore, SecretStoreError
from tests.conftest import RunningAgent
from tests.test_settings_api import login, post


def test_paths_inside_the_agents_folders_are_refused(tmp_path: Path) -> None:
    paths = AgentPaths(tmp_path / "data", tmp_path / "logs")
    config = tmp_path / "etc" / "config.toml"
    backup = config.with_name("config.toml.bak")
    for bad in (paths.secrets_file, paths.database, paths.log_file, config, backup, tmp_path / "data" / "sub" / "x"):
        assert printer_file_problem(bad, paths, config) is not None, bad
    assert printer_file_problem(tmp_path / "data" / "printer.bin", paths, config) is None  # the default capture
    assert printer_file_problem(tmp_path / "captures" / "till.bin", paths, config) is None


def test_a_symlink_into_the_data_folder_is_refused(tmp_path: Path) -> None:
    paths = AgentPaths(tmp_path / "data", tmp_path / "logs")
    paths.ensure()
    paths.secrets_file.write_text("{}")
    link = tmp_path / "innocent.bin"
    link.symlink_to(paths.secrets_file)
    assert "data folder" in (printer_file_problem(link, paths, None) or "")


def test_an_existing_file_that_is_not_printer_output_is_refused(tmp_path: Path) -> None:
    paths = AgentPaths(tmp_path / "data", tmp_path / "logs")
    other = tmp_path / "notes.txt"
    other.write_text("important")
    assert "not printer output" in (printer_file_problem(other, paths, None) or "")
    capture = tmp_path / "old.bin"
    capture.write_bytes(b"\x1b@hello")
    assert printer_file_problem(capture, paths, None) is None
    assert printer_file_problem(Path("/dev/null"), paths, None) is None  # a character device


def test_the_file_printer_never_appends_to_someone_elses_file(tmp_path: Path) -> None:
    victim = tmp_path / "config.toml"
    victim.write_text('[agent]\nstore_id = "s1"\n')
    with pytest.raises(PrinterError, match="not printer output"):
        FilePrinter(victim).write(b"\x1b@receipt")
    assert victim.read_text() == '[agent]\nstore_id = "s1"\n'


def test_the_settings_page_refuses_the_secrets_file_and_test_print_leaves_it_intact(running: RunningAgent) -> None:
    client, csrf = login(running)
    secrets_file = running.agent.paths.secrets_file
    secrets_file.write_text('{"x": "y"}')  # the test agent's key comes from the environment; make one exist
    before = secrets_file.read_bytes()
    answer = post(client, csrf, "/settings/api/sections/printer", {"values": {"file_path": str(secrets_file)}})
    assert answer.status_code == 422 and "data folder" in answer.json()["error"]["message"]
    post(client, csrf, "/settings/api/test-print")
    assert secrets_file.read_bytes() == before


def test_config_check_refuses_a_printer_file_in_the_data_folder(tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    path = tmp_path / "config.toml"
    path.write_text(
        f'[agent]\ndata_dir = "{data}"\nlog_dir = "{tmp_path / "logs"}"\n'
        f'[printer]\nbackend = "file"\nfile_path = "{data / "posplugin.sqlite3"}"\n'
    )
    assert main(["config", "check", "--config", str(path)]) == 2
    assert "file_path" in capsys.readouterr().err


def test_a_corrupt_secrets_file_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "secrets.json").write_bytes(b"\x1b@\xff\xfe receipt bytes")
    store = SecretStore(tmp_path, {}, backend=FileBackend(tmp_path / "secrets.json"))
    with pytest.raises(SecretStoreError, match="corrupt"):
        store.get(ENGAGE_API_KEY)
