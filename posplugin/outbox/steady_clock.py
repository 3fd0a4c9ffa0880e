"""The outbox's schedule clock: seconds that move only at the pace of a monotonic clock.

Backoff deadlines and the "too old" limit are stored in SQLite, so they need a clock that survives restarts,
and one that a wall-clock step (NTP at boot, a till whose RTC keeps local time) does not move. This clock is
anchored once to the wall clock (so existing rows keep their meaning), then advances with the monotonic clock;
its last reading is persisted with every schedule change, and a restart continues from it. Time the agent was
stopped is counted by the wall clock, never backwards. Stamps shown to people (createdAt, updatedAt) stay wall.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

# The schedule clock's row; created by a migration in ``database.py``.
READ = "SELECT steady, wall FROM schedule_clock WHERE id = 1"
WRITE = "INSERT OR REPLACE INTO schedule_clock(id, steady, wall) VALUES (1, ?, ?)"


class SteadyClock:
    def __init__(self, wall: Callable[[], float], monotonic: Callable[[], float]) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._base = wall()
        self._mono0 = monotonic()
        self._anchored = False
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._base + (self._monotonic() - self._mono0)

    def anchor(self, steady: float, wall_then: float) -> None:
        """Continue from a persisted reading; the stop in between counts as the wall clock's forward gap."""
        with self._lock:
            self._base = steady + max(0.0, self._wall() - wall_then)
            self._mono0 = self._monotonic()
            self._anchored = True

    def read(self, conn: sqlite3.Connection) -> float:
        """The schedule time, anchored to the database's last reading on first use (database thread)."""
        if not self._anchored:
            row = conn.execute(READ).fetchone()
            if row is not None:
                self.anchor(float(row[0]), float(row[1]))
            self._anchored = True
        return self.now()

    def persist(self, conn: sqlite3.Connection) -> float:
        """Read and store the current reading (inside the caller's transaction)."""
        now = self.read(conn)
        conn.execute(WRITE, (now, self._wall()))
        return now
