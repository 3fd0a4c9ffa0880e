"""Is the loyalty system reachable? A small breaker so the cashier never waits on a dead network.

A refused connection, or a few consecutive failures of other kinds, mark it offline at once; while offline the
cashier path does not call the vendor at all (it serves the cache). A background probe marks it online again.
It knows only the neutral errors (``posplugin.loyalty.errors``) every vendor's client maps its failures onto.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from .errors import TRANSPORT_FAILURES, LoyaltyCongested, LoyaltyError, LoyaltyUnreachable

log = logging.getLogger(__name__)

ONLINE, OFFLINE, UNKNOWN = "online", "offline", "unknown"
__all__ = ["OFFLINE", "ONLINE", "TRANSPORT_FAILURES", "UNKNOWN", "LoyaltyStatus"]


class LoyaltyStatus:
    def __init__(
        self,
        failures_to_trip: int,
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.failures_to_trip = failures_to_trip
        self.state = UNKNOWN
        self.consecutive_failures = 0
        self.offline_since: float | None = None
        self.last_latency: float | None = None
        self.last_error = ""
        self._on_change = on_change
        self._clock = clock
        # When the vendor last answered anything (monotonic): an idle till probes once it has heard nothing for an
        # interval, so the panel learns of an outage before the next customer's scan does.
        self._last_answer = time.monotonic()

    @property
    def is_offline(self) -> bool:
        return self.state == OFFLINE

    def record_success(self, latency: float | None = None) -> None:
        self._last_answer = time.monotonic()
        self.consecutive_failures = 0
        if latency is not None:
            self.last_latency = latency
        self._set(ONLINE)

    def record_failure(self, error: BaseException) -> None:
        if isinstance(error, LoyaltyCongested):
            return  # our own connection pool was full: nothing was sent, nothing learnt about Engage
        if not isinstance(error, TRANSPORT_FAILURES):
            self.record_success()
            return
        self.consecutive_failures += 1
        self.last_error = type(error).__name__
        # Connect refused or timed out (after the transport's own retry) is unambiguous: trip at once so the
        # very next scan does not wait. Timeouts, 5xx and nonsense may be one slow request: count them.
        if self.consecutive_failures >= self.failures_to_trip or isinstance(error, LoyaltyUnreachable):
            self._set(OFFLINE)

    def mark_unknown(self) -> None:
        """The vendor was re-pointed (settings page): what was known about the old address no longer holds."""
        self.consecutive_failures = 0
        self._set(UNKNOWN)

    def _set(self, state: str) -> None:
        if state == self.state:
            return
        previous, self.state = self.state, state
        self.offline_since = self._clock() if state == OFFLINE else None
        log.info("the loyalty system is now %s (was %s)", state, previous)
        if self._on_change is not None:
            self._on_change(state)

    async def probe_forever(self, probe: Callable[[], Awaitable[float | None]], interval: float) -> None:
        """Probe while offline or unknown, and while online when no real traffic answered for ``interval``.
        ``probe`` answers its round trip, or None when what it sent told this status itself (a queued op that
        went out as the probe)."""
        while True:
            if self.state != ONLINE or time.monotonic() - self._last_answer >= interval:
                try:
                    latency = await probe()
                    if latency is not None:
                        self.record_success(latency)
                except LoyaltyError as exc:
                    self.record_failure(exc)
                    if not isinstance(exc, TRANSPORT_FAILURES):
                        log.warning("loyalty probe answered %s", exc)
            await asyncio.sleep(interval)
