"""The agent's SQLite database: one file, one connection, one writer thread.

All access goes through ``Database.run``, which executes a function on the database thread. That keeps the
event loop free of blocking I/O and makes "one writer" a property of the design rather than a convention.
WAL with ``synchronous=FULL``: a commit is on disk when ``run`` returns, which is what "captured" means.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from .private_files import ensure_private_file

T = TypeVar("T")

# Each entry upgrades the schema by one version. Never edit a released entry; append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE member_cache (
        contact_id TEXT PRIMARY KEY,
        view_json  TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        last_used  REAL NOT NULL
    );
    CREATE INDEX member_cache_last_used ON member_cache(last_used);
    CREATE TABLE scan_keys (
        code_hash  TEXT PRIMARY KEY,
        contact_id TEXT NOT NULL,
        seen_at    REAL NOT NULL
    );
    CREATE INDEX scan_keys_contact ON scan_keys(contact_id);
    """,
    """
    CREATE TABLE ops (
        op_id           TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,
        target_id       TEXT NOT NULL,
        contact_id      TEXT NOT NULL,
        payload         TEXT NOT NULL DEFAULT '{}',
        state           TEXT NOT NULL,
        reason          TEXT,
        parked_from     TEXT,
        reported_queued INTEGER NOT NULL DEFAULT 0,
        offline         INTEGER NOT NULL DEFAULT 0,
        attempts        INTEGER NOT NULL DEFAULT 0,
        backoff         REAL NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        park_deadline   REAL NOT NULL,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE UNIQUE INDEX ops_one_live_per_target ON ops(target_id)
        WHERE state IN ('CAPTURED', 'SENDING', 'UNKNOWN');
    CREATE INDEX ops_due ON ops(state, next_attempt_at);
    CREATE TABLE attempts (
        id            INTEGER PRIMARY KEY,
        op_id         TEXT NOT NULL REFERENCES ops(op_id),
        n             INTEGER NOT NULL,
        started_at    REAL NOT NULL,
        finished_at   REAL,
        outcome       TEXT,
        http_status   INTEGER,
        server_offset REAL
    );
    CREATE INDEX attempts_op ON attempts(op_id);
    """,
    """
    CREATE TABLE pin_guard (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        failures     INTEGER NOT NULL,
        locked_until REAL NOT NULL,
        lockouts     INTEGER NOT NULL
    );
    """,
    # The request an opId stands for (a digest), so a repeat is recognised however it races the first; and what
    # a person wrote when settling a conflict or a parked op.
    """
    ALTER TABLE ops ADD COLUMN request_digest TEXT NOT NULL DEFAULT '';
    ALTER TABLE ops ADD COLUMN note TEXT;
    ALTER TABLE ops ADD COLUMN resolved_at REAL;
    """,
    """
    CREATE TABLE schedule_clock (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        steady REAL NOT NULL,
        wall   REAL NOT NULL
    );
    """,
)


class DatabaseError(RuntimeError):
    pass


def open_connection(path: Path) -> sqlite3.Connection:
    """Open, tune, check and migrate. Used by the database thread and by offline CLI commands."""
    _check_file(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        _prepare(conn, path)
    except sqlite3.OperationalError as exc:
        conn.close()
        if _not_writable(path) or "readonly" in str(exc) or "unable to open" in str(exc):
            raise DatabaseError(_permission_problem(path)) from None
        raise DatabaseError(f"{path}: cannot open the database ({exc})") from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DatabaseError(f"{path}: not a usable posplugin database ({exc}); restore it from a backup") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _check_file(path: Path) -> None:
    """Problems SQLite would hide or misname: an empty file (it would silently start an empty queue) and a
    folder or file this user may not write (which is not damage, and needs no backup)."""
    if path.parent.exists() and _not_writable(path):
        raise DatabaseError(_permission_problem(path))
    if path.exists():
        if path.stat().st_size == 0 and not Path(f"{path}-wal").exists():
            raise DatabaseError(
                f"{path}: the database file is empty (0 bytes), so the queue it held is gone; restore it from a "
                "backup, or delete the file to start with an empty queue"
            )
        return
    try:
        _create(path)
    except PermissionError:
        raise DatabaseError(_permission_problem(path)) from None


def _create(path: Path) -> None:
    """A new database is built under a temporary name and renamed into place once migrated: the real name
    never holds a zero-length file, so an empty one can only mean a database that lost its content. It is
    0600 from the start, and SQLite gives its -wal and -shm files the same mode."""
    building = path.with_name(path.name + ".new")
    for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        stale.unlink(missing_ok=True)
    ensure_private_file(building)
    conn = sqlite3.connect(building, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn)
    finally:
        conn.close()
    os.replace(building, path)


def _not_writable(path: Path) -> bool:
    folder = path.parent
    return not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK))


def _permission_problem(path: Path) -> str:
    return (
        f"{path}: this user may not write the database or its folder {path.parent} (the database is not damaged); "
        "check the folder's owner and permissions"
    )


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise DatabaseError(f"{path}: cannot switch to WAL journal (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    check = conn.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise DatabaseError(f"{path}: database failed its integrity check ({check}); restore from backup")
    migrate(conn)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise DatabaseError(
            f"database schema {current} is newer than this version of posplugin knows ({len(MIGRATIONS)}); "
            "upgrade posplugin instead of downgrading"
        )
    for version in range(current, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posplugin-db")
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_connection(self.path)
        return self._conn

    def open(self) -> None:
        """Open synchronously (start-up: a broken database should stop the agent with a clear line)."""
        self._executor.submit(self._connection).result()

    async def run(self, func: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(self._connection()))

    def run_sync(self, func: Callable[[sqlite3.Connection], T]) -> T:
        return self._executor.submit(lambda: func(self._connection())).result()

    def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)


def transaction(conn: sqlite3.Connection, func: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``func`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = func(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result
