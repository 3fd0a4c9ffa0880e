"""The state the gauges show that needs I/O to learn: the outbox's counts (a database query) and the printer's
status (a question to the printer). Read just before each exposition, so a scrape sees the queue as it is.

Reading never fails: a database that cannot answer leaves the queue families out of that exposition (a stale
count would look true), and a printer too slow to say keeps its last known status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from .log_once import OncePerError

log = logging.getLogger(__name__)
NO_PRINTER = "not_configured"
PRINTER_STATUS_TIMEOUT = 2.0  # seconds a scrape waits for the printer to answer
PRINTER_STATUS_MAX_AGE = 5.0  # seconds: the scrape and the textfile writer do not both ask the printer
UNKNOWN = "unknown"


@dataclass(frozen=True)
class QueueCounts:
    pending: int  # waiting to be sent or confirmed (not on the wire)
    sending: int
    parked: int
    conflict: int
    oldest_pending_age: float

    @classmethod
    def from_outbox(cls, counts: Mapping[str, int]) -> QueueCounts:
        """The outbox's counts (as ``GET /api/v1/queue`` shows them) with disjoint states: its ``pending``
        includes the ops being sent."""
        sending = int(counts.get("sending", 0))
        return cls(
            pending=max(0, int(counts.get("pending", 0)) - sending),
            sending=sending,
            parked=int(counts.get("parked", 0)),
            conflict=int(counts.get("conflict", 0)),
            oldest_pending_age=float(counts.get("oldestPendingAgeSeconds", 0)),
        )


@dataclass(frozen=True)
class Snapshot:
    queue: QueueCounts | None = None  # None: not read (yet), or the database did not answer
    printer: str | None = None  # a printer status word; None: no printer configured


class Snapshots:
    def __init__(
        self,
        queue_counts: Callable[[], Awaitable[Mapping[str, int]]],
        printer_status: Callable[[], Awaitable[str]],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue_counts = queue_counts
        self._printer_status = printer_status
        self._monotonic = monotonic
        self.latest = Snapshot()
        self._printer_asked_at: float | None = None
        self._lock = asyncio.Lock()
        self._queue_errors = OncePerError(log, "reading the queue for metrics")
        self._printer_errors = OncePerError(log, "asking the printer's status for metrics")

    async def refresh(self) -> Snapshot:
        async with self._lock:
            self.latest = Snapshot(queue=await self._read_queue(), printer=await self._read_printer())
            return self.latest

    async def _read_queue(self) -> QueueCounts | None:
        try:
            counts = QueueCounts.from_outbox(await self._queue_counts())
        except Exception as exc:  # a metrics read must never fail a scrape, let alone the agent
            self._queue_errors.failed(exc)
            return None
        self._queue_errors.succeeded()
        return counts

    async def _read_printer(self) -> str | None:
        now = self._monotonic()
        known = self.latest.printer
        if self._printer_asked_at is not None and now - self._printer_asked_at < PRINTER_STATUS_MAX_AGE:
            return known
        self._printer_asked_at = now
        try:
            status = await asyncio.wait_for(asyncio.shield(self._printer_status()), PRINTER_STATUS_TIMEOUT)
        except TimeoutError:
            # A printer only this slow to answer was configured (an unconfigured one answers at once).
            return known or UNKNOWN
        except Exception as exc:
            self._printer_errors.failed(exc)
            return known or UNKNOWN
        self._printer_errors.succeeded()
        return None if status == NO_PRINTER else status
