"""Pacing of the background drain, so that a fleet sharing one API key stays within the vendor's budget.

A till takes its fair share of a fleet budget (``till_rate``) and spends it through a token bucket (``Pacer``):

- Refill at the share, at most ``burst`` tokens saved (two: a busy queue whose requests come a little late,
  after a slow commit, catches up one turn): over any window of W seconds a till sends at most share × W + burst
  paced requests, whatever the clock, the answers or the order of calls.
- Tills that come back from idle in the same instant (the first use, an outage, a suspended VM) spread their
  first requests over one interval instead of sending together. In a fleet their turns on the shared clock do
  it (``fleet_turns``; the bucket is then full, so that the turn decides); otherwise the bucket starts a random
  way towards its first token, drawn from the till's own random source.
- A 429 pauses for its ``Retry-After`` plus jitter and halves the rate (at most down to 1/64 of the share);
  each success adds back a twentieth of the share. A fleet told "too fast" settles below the limit.

Time is whatever monotonic reading the caller passes: ``Pacer`` never reads a clock and never sleeps, so it
can be driven by a fake clock in tests and a virtual one in the fleet benchmark. ``PacerGate`` is its async
face for the worker.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable

from .fleet_turns import FleetTurns, slot_phase

# Requests/s for all tills sharing one API key: under the vendor's advised 50/s, far from its 429 limit at 200/s.
# Tills that know their slot take turns on the shared clock, so a second holds the budget and no more: 45/s
# keeps the busiest second at 50 with the tills' clocks up to 50 ms apart (NTP keeps them closer). Tills that
# do not know it draw their place at random, and a fleet's count in any one second then varies by about
# √budget: 40/s keeps most of that spread under 50 (docs/fleet-pacing.md has the measured trade-offs).
FLEET_BUDGET = 45.0
UNSLOTTED_BUDGET = 40.0
RATE_FLOOR = 1 / 64  # of the share: repeated 429s slow a till down to this, never to a stop
RECOVERY_STEPS = 20  # successes that take a halved rate back to the full share: a twentieth each
TOLERANCE = 1e-6  # seconds: a caller that slept (about) the delay is not sent back to sleep for a rounding error
IDLE_RESTART = 1.0  # seconds idle beyond a full bucket (or one interval, if longer) that make a comeback


def till_rate(max_rate: float, tills_sharing_key: int, slotted: bool = False) -> float:
    """This till's share of the key's budget, never above its own cap."""
    budget = FLEET_BUDGET if slotted else UNSLOTTED_BUDGET
    return min(max_rate, budget / max(1, tills_sharing_key))


def till_gate(
    max_rate: float,
    tills_sharing_key: int,
    slot: int | None,
    rng: random.Random,
    monotonic: Callable[[], float],
    wall: Callable[[], float] = time.time,
) -> PacerGate:
    """A till's pacing. Alone: its token bucket. In a fleet: the bucket, and turns on the shared wall clock at
    its slot (one of the fleet's: ``OfflineConfig.slot`` gives None for any other) — or, with no slot, at a place
    drawn at random (and the lower budget chance then needs)."""
    if tills_sharing_key <= 1:
        return PacerGate(Pacer(till_rate(max_rate, 1), rng), monotonic)
    share = till_rate(max_rate, tills_sharing_key, slotted=slot is not None)
    phase = rng.random() / share if slot is None else slot_phase(slot, tills_sharing_key, share)
    return PacerGate(Pacer(share, rng, spread=False), monotonic, FleetTurns(share, phase), wall)


class Pacer:
    """One till's token bucket, refilled at ``rate`` (its share, lowered after a 429), at most ``burst`` tokens."""

    def __init__(self, share: float, rng: random.Random, *, burst: float = 2.0, spread: bool = True) -> None:
        if not share > 0:
            raise ValueError(f"share must be > 0 requests/s, not {share}")
        if not burst >= 1:
            raise ValueError(f"burst must be >= 1 request, not {burst}")
        self.share = share
        self.burst = burst
        self.rate = share
        self.spread = spread  # a comeback starts a random way to its first token (False: full, turns spread)
        self._rng = rng
        self._tokens = 0.0
        self._stamp: float | None = None  # when ``_tokens`` was brought up to date; None until the first use
        self._resume_at = -math.inf  # no request before this (a 429's Retry-After)

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def delay(self, now: float) -> float:
        """Seconds from ``now`` until a request may go; 0.0 means it may go now (then call ``take``)."""
        now = self._refill(now)
        wait = max((1.0 - self._tokens) / self.rate, self._resume_at - now)
        return wait if wait > TOLERANCE else 0.0

    def take(self, now: float) -> None:
        """Spend the token of a request going out at ``now``."""
        if self.delay(now) > 0:
            raise RuntimeError("no token yet: wait for delay() to reach 0")
        self._tokens = max(0.0, self._tokens - 1.0)

    def rate_limited(self, now: float, retry_after: float) -> None:
        """The vendor answered 429: wait its ``Retry-After`` plus jitter, at half the rate."""
        now = self._refill(now)
        self.rate = max(self.share * RATE_FLOOR, self.rate / 2)
        self._tokens = 0.0
        resume = now + max(0.0, retry_after) + self._rng.uniform(0.0, self.interval)
        self._resume_at = max(self._resume_at, resume)

    def succeeded(self, now: float) -> None:
        """A request was answered (anything but 429): recover a step towards the full share."""
        self._refill(now)  # tokens earned so far count at the old rate
        self.rate = min(self.share, self.rate + self.share / RECOVERY_STEPS)

    def _refill(self, now: float) -> float:
        """Bring the bucket up to ``now`` (and return it)."""
        if self._stamp is None:
            return self._restart(now)
        if now < self._stamp:
            # A seam that steps back: earn nothing for it (no burst) and move every deadline back with it
            # (no freeze for the size of the step).
            self._resume_at -= self._stamp - now
            self._stamp = now
        elapsed = now - self._stamp
        full_after = (self.burst - self._tokens) / self.rate
        if elapsed - full_after >= max(self.interval, IDLE_RESTART):
            return self._restart(now)  # idle well beyond full: a comeback, not a busy queue a little late
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = now
        return now

    def _restart(self, now: float) -> float:
        if self.spread:
            self._tokens = self._rng.random()  # under one token, less than a full bucket: the bound holds
        else:
            # Full: the turns space the requests, and the bucket must not hold a till off its turn (a bucket
            # refilled only just in time would keep a till that was once late, late ever after).
            self._tokens = self.burst
        self._stamp = now
        return now


class PacerGate:
    """The worker's side of a ``Pacer``: callers wait their turn in order, on the monotonic clock, and — in a
    fleet — for this till's next turn on the wall clock as well."""

    def __init__(
        self,
        pacer: Pacer,
        monotonic: Callable[[], float],
        turns: FleetTurns | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.pacer = pacer
        self.turns = turns
        self._monotonic = monotonic
        self._wall = wall
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> float:
        return self.pacer.rate

    async def acquire(self) -> None:
        async with self._lock:
            # Asked again after each sleep: a 429 answered meanwhile (the cashier's, say) moves the turn on.
            while (wait := self.delay_at(self._monotonic(), self._wall())) > 0:  # noqa: ASYNC110 - a time
                await asyncio.sleep(wait)
            self.take_at(self._monotonic(), self._wall())

    def delay_at(self, monotonic: float, wall: float) -> float:
        """Seconds until a paced request may go, at these readings of the two clocks (0.0: now)."""
        wait = self.pacer.delay(monotonic)
        if self.turns is not None:
            wait = max(wait, self.turns.delay(wall))
        return wait

    def take_at(self, monotonic: float, wall: float) -> None:
        """Spend the bucket's token and the turn of a request going out at these readings."""
        self.pacer.take(monotonic)
        if self.turns is not None:
            self.turns.take(wall)

    def rate_limited(self, retry_after: float) -> None:
        self.pacer.rate_limited(self._monotonic(), retry_after)

    def succeeded(self) -> None:
        self.pacer.succeeded(self._monotonic())
