"""Last member views, kept so the till can still show a member while Engage is unreachable.

Bounded (the least recently refreshed rows go first) and expiring. Scanned codes are stored only as salted hashes,
so the cache maps a card to a member without keeping card numbers. The view holds only what the panel shows.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .database import Database, transaction

HASH_SALT = b"posplugin-scan-v1"


def code_hash(code: str) -> str:
    return hashlib.sha256(HASH_SALT + code.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedView:
    view: dict[str, Any]
    fetched_at: float


class MemberCache:
    def __init__(
        self, db: Database, max_entries: int, max_age_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self.max_entries = max_entries
        self.max_age = max_age_seconds
        self._clock = clock

    def keep_for(self, max_age_seconds: float) -> None:
        """How long a cached view may answer offline (the settings page changes it live)."""
        self.max_age = max_age_seconds

    async def put(self, contact_id: str, view: dict[str, Any], code: str | None = None) -> None:
        if self.max_entries == 0:
            return
        now = self._clock()
        payload = json.dumps(view, ensure_ascii=False)

        def body(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO member_cache(contact_id, view_json, fetched_at, last_used) VALUES (?,?,?,?) "
                "ON CONFLICT(contact_id) DO UPDATE SET view_json=excluded.view_json, "
                "fetched_at=excluded.fetched_at, last_used=excluded.last_used",
                (contact_id, payload, now, now),
            )
            if code is not None:
                c.execute(
                    "INSERT OR REPLACE INTO scan_keys(code_hash, contact_id, seen_at) VALUES (?,?,?)",
                    (code_hash(code), contact_id, now),
                )
            self._evict(c, now)

        def write(conn: sqlite3.Connection) -> None:
            # A cache entry is not money: no fsync for it (WAL keeps it consistent; the next FULL commit of the
            # outbox makes it durable too). The connection goes back to FULL before anything else runs on it.
            conn.execute("PRAGMA synchronous = NORMAL")
            try:
                transaction(conn, body)
            finally:
                conn.execute("PRAGMA synchronous = FULL")

        await self._db.run(write)

    def _evict(self, conn: sqlite3.Connection, now: float) -> None:
        expired = conn.execute("DELETE FROM member_cache WHERE fetched_at < ?", (now - self.max_age,)).rowcount
        size = conn.execute("SELECT count(*) FROM member_cache").fetchone()[0]
        if size > self.max_entries:
            conn.execute(
                "DELETE FROM member_cache WHERE contact_id NOT IN "
                "(SELECT contact_id FROM member_cache ORDER BY last_used DESC LIMIT ?)",
                (self.max_entries,),
            )
        if expired or size > self.max_entries:
            conn.execute("DELETE FROM scan_keys WHERE contact_id NOT IN (SELECT contact_id FROM member_cache)")

    async def get(self, contact_id: str) -> CachedView | None:
        now = self._clock()

        def read(conn: sqlite3.Connection) -> CachedView | None:
            row = conn.execute(
                "SELECT view_json, fetched_at FROM member_cache WHERE contact_id = ? AND fetched_at >= ?",
                (contact_id, now - self.max_age),
            ).fetchone()
            if row is None:
                return None
            return CachedView(json.loads(row["view_json"]), float(row["fetched_at"]))

        return await self._db.run(read)

    async def contact_for_code(self, code: str) -> str | None:
        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT contact_id FROM scan_keys WHERE code_hash = ?", (code_hash(code),)).fetchone()
            return str(row["contact_id"]) if row else None

        return await self._db.run(read)

    async def size(self) -> int:
        return await self._db.run(lambda c: int(c.execute("SELECT count(*) FROM member_cache").fetchone()[0]))
