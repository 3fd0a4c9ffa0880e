"""The worker's paced drain: the real store, the pacer on the loop's monotonic clock, and the real simulator's 429."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from pathlib import Path

from posplugin.database import Database
from posplugin.events import EventBus
from posplugin.loyalty.errors import LoyaltyUnreachable
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import Attempt, Confirmed, Op
from posplugin.outbox.pacing import Pacer
from posplugin.outbox.store import OutboxStore
from posplugin.outbox.worker import OutboxWorker, till_rate
from posplugin.vendors.engage import EngageClient
from posplugin.vendors.engage.executors.vouchers import VoucherRedeem
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from tests.conftest import API_KEY


class Recording:
    """Confirms every op and notes when (on the loop's monotonic clock) each request went out."""

    def __init__(self) -> None:
        self.sent: list[float] = []

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Confirmed:
        self.sent.append(asyncio.get_running_loop().time())
        return Confirmed()

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Confirmed:
        return Confirmed()


async def captured(store: OutboxStore, count: int, now: float) -> list[str]:
    ids = [f"o{n}" for n in range(count)]
    for op_id in ids:
        await store.capture(op_id=op_id, kind=VOUCHER_REDEEM, target_id=f"t-{op_id}", contact_id="c", now=now)
    return ids


def test_the_cashier_is_never_paced_only_the_background_drain(tmp_path: Path) -> None:
    """At a 1/500 share a paced turn can be 12 s away; a cashier's redemption must not wait for it."""

    async def main() -> float:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 10, 3600)
        loop = asyncio.get_running_loop()
        worker = OutboxWorker(
            store, {VOUCHER_REDEEM: Recording()}, LoyaltyStatus(3), EventBus(), time.time, rate=till_rate(10.0, 500)
        )
        await captured(store, 1, time.time())
        started = loop.time()
        op = await worker.kick("o0")
        db.close()
        assert op.state == "CONFIRMED"
        return loop.time() - started

    assert asyncio.run(main()) < 1.0


def test_a_paced_attempt_begins_when_its_turn_comes_not_before(tmp_path: Path) -> None:
    """The attempt window decides whose redemption a later 409 is: it must not include the wait for a turn."""

    async def main() -> None:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 10, 3600)
        executor = Recording()
        worker = OutboxWorker(store, {VOUCHER_REDEEM: executor}, LoyaltyStatus(3), EventBus(), time.time, rate=4.0)
        try:
            ids = await captured(store, 2, time.time())
            ops = await asyncio.gather(*(worker.kick(op_id, paced=True) for op_id in ids))  # both wait together
            assert [op.state for op in ops] == ["CONFIRMED", "CONFIRMED"]
            first, second = [(await store.attempts(op_id))[0] for op_id in ids]
            # A turn at 4/s (0.25 s) apart, less a generous margin for the commit between a turn and its request;
            # begun before their turns, both attempts would start together.
            assert executor.sent[1] - executor.sent[0] >= 0.15
            assert second.started_at - first.started_at >= 0.15
        finally:
            db.close()

    asyncio.run(main())


class RecordingPacer(Pacer):
    """The production pacer, noting when (on the monotonic clock it is given) each turn was taken."""

    def __init__(self, share: float) -> None:
        super().__init__(share, random.Random("till-r"))
        self.turns: list[float] = []

    def take(self, now: float) -> None:
        super().take(now)
        self.turns.append(now)


def test_wall_clock_steps_neither_burst_nor_hold_the_paced_drain(tmp_path: Path) -> None:
    offset = [0.0]

    def wall() -> float:
        return time.time() + offset[0]

    async def main() -> list[float]:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 10, 3600)
        worker = OutboxWorker(store, {VOUCHER_REDEEM: Recording()}, LoyaltyStatus(3), EventBus(), wall, rate=5.0)
        pacer = worker.limiter.pacer = RecordingPacer(5.0)
        try:
            ids = await captured(store, 6, wall())
            for n, op_id in enumerate(ids):
                offset[0] += 86400.0 if n % 2 else -3 * 86400.0  # NTP at boot, an RTC on local time
                assert (await asyncio.wait_for(worker.kick(op_id, paced=True), 10)).state == "CONFIRMED"
        finally:
            db.close()
        return pacer.turns

    turns = asyncio.run(main())
    # 5/s held on the monotonic clock — in any window at most 5 × W plus the bucket's two — so no burst after a
    # forward step, and no wait for the size of a backward one (days).
    for i, start in enumerate(turns):
        for j in range(i, len(turns)):
            assert j - i + 1 <= 5.0 * (turns[j] - start) + 2 + 1e-6
    assert turns[-1] - turns[0] < 10.0


def test_the_worker_draws_jitter_from_the_source_it_is_given(tmp_path: Path) -> None:
    db = Database(tmp_path / "db.sqlite3")
    db.open()
    try:
        store = OutboxStore(db, 10, 3600)

        def first_wait(seed: str) -> float:
            status, events = LoyaltyStatus(3), EventBus()
            worker = OutboxWorker(store, {}, status, events, time.time, rate=0.1, rng=random.Random(seed))
            return worker.limiter.pacer.delay(0.0)

        assert first_wait("till-7") == Pacer(0.1, random.Random("till-7")).delay(0.0)
        assert first_wait("till-7") != first_wait("till-8")
    finally:
        db.close()


def test_a_429_is_honoured_with_its_retry_after_and_slows_the_drain(tmp_path: Path, sim: EngageSimulator) -> None:
    """The real simulator answers 429 with Retry-After: 2 once; the op is sent again no sooner, then confirmed."""
    sim.faults.add(FaultRule("rate_limit", method="POST", path="/redeem$", times=1, delay=2.0))

    async def main() -> None:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 10, 3600)
        client = EngageClient(sim.url, API_KEY)
        status = LoyaltyStatus(3)
        confirmed = asyncio.Event()
        worker = OutboxWorker(
            store,
            {VOUCHER_REDEEM: VoucherRedeem(client, status, time.time)},
            status,
            EventBus(),
            time.time,
            rate=10.0,
            on_final=lambda op: confirmed.set() if op.state == "CONFIRMED" else None,
        )
        try:
            await store.capture(
                op_id="o",
                kind=VOUCHER_REDEEM,
                target_id=voucher_id("asa", 1),
                contact_id=member_id("asa"),
                now=time.time(),
                reported_queued=True,
            )
            first = await worker.kick("o", paced=True)
            assert first.state == "CAPTURED" and first.reason == "rate_limited"
            assert worker.limiter.rate == 5.0  # halved
            runner = asyncio.create_task(worker.run_forever())
            try:
                await asyncio.wait_for(confirmed.wait(), 10)
            finally:
                runner.cancel()
            limited, redeemed = await store.attempts("o")
            assert limited.outcome is not None and "rate_limited" in limited.outcome
            assert limited.finished_at is not None and redeemed.started_at - limited.finished_at >= 2.0 - 0.05
            assert worker.limiter.rate == 5.5  # recovering, a twentieth of the share per success
        finally:
            await client.aclose()
            db.close()

    asyncio.run(main())


class CountingStore(OutboxStore):
    """The real store, counting how often the worker's loop asks it when the next op is due."""

    asked = 0

    async def next_due_in(self) -> float | None:
        self.asked += 1
        return await super().next_due_in()


def polls_per_second(tmp_path: Path, offline: bool) -> float:
    async def main() -> float:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = CountingStore(db, 10, 3600)
        status = LoyaltyStatus(3)
        if offline:
            status.record_failure(LoyaltyUnreachable("connect refused"))
        worker = OutboxWorker(store, {VOUCHER_REDEEM: Recording()}, status, EventBus(), time.time, rate=0.1)
        await captured(store, 2, time.time())
        runner = asyncio.create_task(worker.run_forever())
        try:
            await asyncio.sleep(0.5)  # the first op's turn comes within 10 s; the second waits 10 s more
            before = store.asked
            await asyncio.sleep(2.0)
            return (store.asked - before) / 2.0
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            db.close()

    return asyncio.run(main())


def test_ops_waiting_for_their_paced_turn_do_not_make_the_loop_poll_the_database(tmp_path: Path) -> None:
    """At a fleet share a turn is seconds to minutes away: the loop sleeps, a finished op wakes it."""
    assert polls_per_second(tmp_path, offline=False) <= 2


def test_an_offline_queue_does_not_make_the_loop_poll_the_database(tmp_path: Path) -> None:
    """While the vendor is away nothing can be sent; coming back online wakes the worker."""
    assert polls_per_second(tmp_path, offline=True) <= 2


def test_the_worker_stops_when_cancelled_even_as_it_is_woken(tmp_path: Path) -> None:
    """Shutdown cancels the loop; an op finishing in the same instant (which wakes it) must not swallow that."""

    async def main() -> None:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        worker = OutboxWorker(OutboxStore(db, 10, 3600), {}, LoyaltyStatus(3), EventBus(), time.time)
        runner = asyncio.create_task(worker.run_forever())
        try:
            await asyncio.sleep(0.2)  # asleep until woken or the idle poll
            worker.wake()
            runner.cancel()
            done, _ = await asyncio.wait([runner], timeout=3)
            assert done and runner.cancelled()
        finally:
            runner.cancel()
            db.close()

    asyncio.run(main())
