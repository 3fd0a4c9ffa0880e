"""Turns on the fleet's shared clock, so that tills sharing one API key take turns without talking.

Every till of a fleet keeps time by the wall clock (NTP, as receipts and fiscal rules already require), so the
wall clock is something they share. A till of ``tills`` sending at ``share`` requests/s owns one turn in each
interval of 1/``share`` seconds: turn k falls at ``phase + k / share``, and its ``phase`` is its slot's place in
the interval (slot s of N: s / N of the way). Tills with different slots never send in the same instant, and any
one second holds the turns of share × N tills — the fleet budget — however many tills come back at once.

A till whose slot is not known draws its phase at random: the turns still spread the fleet, but only as well as
chance does (the count in a second then varies by about √budget), so such a fleet keeps a lower budget.

The wall clock may step (NTP at boot, an RTC kept in local time). A step forward skips the turns it jumps over,
never sends them; a step back forgets the turns taken "in the future". Either way at most one turn is gained, and
the monotonic token bucket in ``pacing`` stays the hard cap on what a till sends.
"""

from __future__ import annotations

import math

TOLERANCE = 1e-6  # seconds: a caller that slept (about) the delay is not sent back to sleep for a rounding error
# In a busy queue, the turn right after the last one taken, missed by at most this (a slow commit), is still
# taken at once; later, it is gone. Half an interval at most (nearer its own turn than the next), and a second
# at most (it still lands near its own second).
LATE_FRACTION, LATE_SECONDS = 0.5, 1.0


def slot_phase(slot: int, tills: int, share: float) -> float:
    """Where slot ``slot`` of ``tills`` falls within one interval of 1/``share`` seconds."""
    if not 0 <= slot < tills:
        raise ValueError(f"slot must be 0-{tills - 1}, not {slot}")
    return (slot / tills) / share


class FleetTurns:
    """One till's turns: ``phase + k × interval`` on the wall clock, each taken at most once, in order."""

    def __init__(self, share: float, phase: float) -> None:
        if not share > 0:
            raise ValueError(f"share must be > 0 requests/s, not {share}")
        self.interval = 1.0 / share
        self.phase = phase % self.interval
        self.late = min(LATE_FRACTION * self.interval, LATE_SECONDS)
        self._taken: int | None = None  # the index of the last turn taken
        self._promised: int | None = None  # the turn the last delay() told a caller to wait for

    def at(self, k: int) -> float:
        return self.phase + k * self.interval

    def delay(self, wall: float) -> float:
        """Seconds from ``wall`` until this till's next turn; 0.0 means now (then call ``take``)."""
        k = self._next(wall)
        wait = self.at(k) - wall
        if wait > TOLERANCE:
            self._promised = k  # whoever waits for it may take it a little late (a sleep wakes up late)
            return wait
        return 0.0

    def take(self, wall: float) -> None:
        if self.delay(wall) > 0:
            raise RuntimeError("not this till's turn yet: wait for delay() to reach 0")
        self._taken = self._next(wall)
        self._promised = None

    def _next(self, wall: float) -> int:
        latest = math.floor((wall + TOLERANCE - self.phase) / self.interval)  # the last turn at or before now
        if self._taken is not None and self._taken > latest + 1:
            self._taken = None  # the clock stepped back: turns "taken" ahead of it mean nothing now
        if self._promised is not None and self._promised > latest + 1:
            self._promised = None
        taken = self._taken if self._taken is not None else latest - 2  # none lately: as after idleness
        # A turn may be had a little late (``late``) by whoever waited for it, and by a busy queue for the turn
        # right after its last one (a slow commit). After idleness it may not: tills that come back together
        # would each take the turn just gone.
        for k in (self._promised, latest if taken == latest - 1 else None):
            if k is not None and k > taken and wall - self.at(k) <= self.late:
                return k
        if self.at(latest) >= wall - TOLERANCE and latest > taken:
            return latest
        return max(latest + 1, taken + 1)
