"""Data files 0600 and folders 0700 whatever the umask; an empty or unwritable database says what it is."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.printer import FilePrinter
from posplugin import database
from posplugin.database import Database, DatabaseError, open_connection
from posplugin.log_redaction import configure_logging


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # a desktop or demo run, outside systemd's UMask=0077
    yield
    os.umask(previous)


def test_the_database_and_its_wal_are_private(tmp_path: Path, open_umask: None) -> None:
    db = Database(tmp_path / "data" / "posplugin.sqlite3")
    db.open()
    db.run_sync(lambda c: c.execute("INSERT INTO pin_guard VALUES (1, 0, 0, 0)"))
    try:
        assert mode(tmp_path / "data") == 0o700
        assert mode(tmp_path / "data" / "posplugin.sqlite3") == 0o600
        assert mode(tmp_path / "data" / "posplugin.sqlite3-wal") == 0o600
    finally:
        db.close()


def test_the_log_and_its_rotations_are_private(tmp_path: Path, open_umask: None) -> None:
    log_file = tmp_path / "logs" / "posplugin.log"
    configure_logging(log_file)
    try:
        logging.getLogger("posplugin.test").warning("hello")
        handler = next(h for h in logging.getLogger().handlers if hasattr(h, "doRollover"))
        handler.doRollover()  # type: ignore[attr-defined]
        logging.getLogger("posplugin.test").warning("after rotation")
        assert mode(tmp_path / "logs") == 0o700
        assert mode(log_file) == 0o600 and mode(log_file.with_name("posplugin.log.1")) == 0o600
    finally:
        logging.getLogger().handlers.clear()


def test_receipts_captured_to_a_file_are_private(tmp_path: Path, open_umask: None) -> None:
    FilePrinter(tmp_path / "captures" / "p.bin").write(b"\x1b@Asa Oberg")
    assert mode(tmp_path / "captures" / "p.bin") == 0o600


def test_a_zero_length_database_is_refused_with_what_happened(tmp_path: Path) -> None:
    path = tmp_path / "posplugin.sqlite3"
    path.write_bytes(b"")
    with pytest.raises(DatabaseError, match=r"empty \(0 bytes\).*queue"):
        open_connection(path)


def test_an_unwritable_data_folder_is_not_called_damage(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(database.os, "access", lambda *args, **kwargs: False)
    with pytest.raises(DatabaseError) as caught:
        open_connection(tmp_path / "posplugin.sqlite3")
    assert "may not write" in str(caught.value) and "backup" not in str(caught.value)
