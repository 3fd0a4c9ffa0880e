from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from posplugin.database import MIGRATIONS, DatabaseError, open_connection, schema_version


def test_open_sets_wal_full_sync_and_migrates(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "db.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert schema_version(conn) == len(MIGRATIONS)
    conn.close()
    again = open_connection(tmp_path / "db.sqlite3")  # idempotent
    assert schema_version(again) == len(MIGRATIONS)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(DatabaseError, match="newer"):
        open_connection(path)


def test_corrupt_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="not a usable"):
        open_connection(path)


def test_member_cache_writes_leave_the_connection_at_full_sync(tmp_path: Path) -> None:
    import asyncio

    from posplugin.database import Database
    from posplugin.member_cache import MemberCache

    db = Database(tmp_path / "db.sqlite3")
    db.open()
    cache = MemberCache(db, max_entries=2, max_age_seconds=3600, clock=lambda: 1000.0)
    for n in range(4):
        asyncio.run(cache.put(f"c{n}", {"n": n}, code=f"card{n}"))
    assert db.run_sync(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL for the outbox
    assert asyncio.run(cache.size()) == 2
    assert asyncio.run(cache.contact_for_code("card0")) is None  # evicted with its member
    assert asyncio.run(cache.contact_for_code("card3")) == "c3"
    db.close()
