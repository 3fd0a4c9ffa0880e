"""The outbox's request pacing: fleet share, jittered first slot, 429 back-off and recovery."""

from __future__ import annotations

import asyncio
import random

from posplugin.outbox.worker import FLEET_BUDGET, RateLimiter, till_rate


def test_a_till_takes_its_share_of_the_key_budget() -> None:
    assert till_rate(10.0, 1) == 10.0
    assert till_rate(10.0, 8) == FLEET_BUDGET / 8
    assert till_rate(10.0, 500) == 0.08


def test_first_slots_of_a_fleet_are_spread_over_one_interval() -> None:
    async def first_slot(seed: int) -> float:
        limiter = RateLimiter(0.1, lambda: 0.0, random.Random(seed))
        limiter._clock = lambda: 0.0
        task = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        task.cancel()
        assert limiter._next is not None
        return limiter._next

    async def main() -> list[float]:
        return [await first_slot(seed) for seed in range(500)]

    firsts = asyncio.run(main())
    assert 0 <= min(firsts) and max(firsts) <= 10.0
    per_second = [sum(1 for f in firsts if s <= f < s + 1) for s in range(10)]
    assert max(per_second) < 80  # about 50 a second, not 500 at once


def test_429_halves_the_rate_and_pauses_then_successes_recover() -> None:
    now = [100.0]
    limiter = RateLimiter(10.0, lambda: now[0], random.Random(1))
    limiter.rate_limited(retry_after=2.0)
    assert limiter.rate == 5.0 and limiter._next is not None and limiter._next >= 102.0
    for _ in range(3):
        limiter.rate_limited(retry_after=1.0)
    assert limiter.rate == 10.0 / 16
    for _ in range(40):
        limiter.succeeded()
    assert limiter.rate == 10.0


def test_acquire_paces_requests() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        limiter = RateLimiter(50.0, loop.time, random.Random(2))
        started = loop.time()
        for _ in range(11):
            await limiter.acquire()
        return loop.time() - started

    elapsed = asyncio.run(main())
    assert 0.17 <= elapsed <= 0.5  # ten intervals of 20 ms after a jittered first slot


def test_the_cashier_is_never_paced_only_the_background_drain(tmp_path: object) -> None:
    """At a 1/500 share a paced slot can be 12 s away; a cashier's redemption must not wait for it."""
    from pathlib import Path

    from posplugin.database import Database
    from posplugin.events import EventBus
    from posplugin.loyalty.kinds import VOUCHER_REDEEM
    from posplugin.loyalty.status import LoyaltyStatus
    from posplugin.outbox.model import Confirmed, Op
    from posplugin.outbox.store import OutboxStore
    from posplugin.outbox.worker import OutboxWorker

    class Instant:
        async def send(self, op: Op, attempts: object) -> Confirmed:
            return Confirmed()

        async def reconcile(self, op: Op, attempts: object) -> Confirmed:
            return Confirmed()

    async def main() -> float:
        db = Database(Path(str(tmp_path)) / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 10, 3600)
        loop = asyncio.get_running_loop()
        worker = OutboxWorker(
            store, {VOUCHER_REDEEM: Instant()}, LoyaltyStatus(3), EventBus(), loop.time, rate=till_rate(10.0, 500)
        )
        await store.capture(op_id="o", kind=VOUCHER_REDEEM, target_id="t", contact_id="c", now=loop.time())
        started = loop.time()
        op = await worker.kick("o")
        db.close()
        assert op.state == "CONFIRMED"
        return loop.time() - started

    assert asyncio.run(main()) < 1.0
