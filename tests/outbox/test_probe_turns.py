"""The probe in the till's paced turns (``OutboxWorker.probe``): a fleet's probes share its budget, and offline
the oldest due op is the probe — refused at connect, it costs the op nothing."""

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
from posplugin.outbox.model import CAPTURED, CONFIRMED, UNKNOWN, Attempt, Confirmed, NotSent, Op, Outcome, Unknown
from posplugin.outbox.pacing import till_gate
from posplugin.outbox.store import OutboxStore
from posplugin.outbox.worker import OutboxWorker


class Scripted:
    """Answers each send with the next scripted outcome (the last one repeats), noting the op of each send."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[str] = []
        self.reconciled: list[str] = []

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        self.sent.append(op.op_id)
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        self.reconciled.append(op.op_id)
        return Unknown("still_unknown")


class Probe:
    """The cheap GET: counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> float:
        self.calls += 1
        return 0.001


def offline_status() -> LoyaltyStatus:
    status = LoyaltyStatus(3)
    status.record_failure(LoyaltyUnreachable("refused"))
    assert status.is_offline
    return status


async def a_till(tmp_path: Path, executor: Scripted, status: LoyaltyStatus, ops: int = 1) -> OutboxWorker:
    db = Database(tmp_path / "db.sqlite3")
    db.open()
    store = OutboxStore(db, 30, 3600)
    for n in range(ops):
        await store.capture(op_id=f"o{n}", kind=VOUCHER_REDEEM, target_id=f"t{n}", contact_id="c", now=time.time())
    return OutboxWorker(store, {VOUCHER_REDEEM: executor}, status, EventBus(), time.time, rate=10.0)


def test_offline_the_oldest_due_op_is_the_probe_and_no_get_goes_out(tmp_path: Path) -> None:
    async def main() -> None:
        executor, probe = Scripted(Confirmed()), Probe()
        worker = await a_till(tmp_path, executor, offline_status(), ops=2)
        assert await worker.probe(probe) is None  # the op's answer told the status
        assert (executor.sent, probe.calls) == (["o0"], 0)
        op = await worker.store.get("o0")
        assert op is not None and op.state == CONFIRMED
        worker.store.db.close()

    asyncio.run(main())


def test_an_op_probe_refused_at_connect_keeps_its_attempts_and_stays_due(tmp_path: Path) -> None:
    """A long outage probed by a queued op every interval must neither park it (max_attempts) nor leave it in
    a growing backoff for when the vendor comes back."""

    async def main() -> None:
        executor = Scripted(NotSent("loyalty_unreachable", unreached=True))
        worker = await a_till(tmp_path, executor, offline_status())
        for _ in range(40):  # more than the store's 30 attempts
            assert await worker.probe(Probe()) is None
        op = await worker.store.get("o0")
        assert op is not None
        assert (op.state, op.attempts) == (CAPTURED, 0)
        assert await worker.store.attempts("o0") == []
        assert worker.store.is_due(op)
        assert len(executor.sent) == 40
        worker.store.db.close()

    asyncio.run(main())


def test_an_op_probe_that_reached_the_vendor_is_an_attempt_like_any_other(tmp_path: Path) -> None:
    """A timeout may have redeemed: it is kept, the op goes UNKNOWN and is reconciled — in a turn of its own."""

    async def main() -> None:
        executor = Scripted(Unknown("no_answer"))
        worker = await a_till(tmp_path, executor, offline_status())
        assert await worker.probe(Probe()) is None
        op = await worker.store.get("o0")
        assert op is not None
        assert (op.state, op.attempts) == (UNKNOWN, 1)
        assert executor.reconciled == ["o0"]
        assert [a.outcome for a in await worker.store.attempts("o0")] == ["unknown:no_answer"]
        # Not CAPTURED now: the next probe is the cheap GET, the UNKNOWN op waits for its backoff and the drain.
        probe = Probe()
        await worker.probe(probe)
        assert probe.calls == 1
        worker.store.db.close()

    asyncio.run(main())


def test_online_the_probe_is_the_cheap_get_and_ops_are_left_to_the_drain(tmp_path: Path) -> None:
    async def main() -> None:
        executor, probe = Scripted(Confirmed()), Probe()
        worker = await a_till(tmp_path, executor, LoyaltyStatus(3))
        assert await worker.probe(probe) == 0.001
        assert (executor.sent, probe.calls) == ([], 1)
        worker.store.db.close()

    asyncio.run(main())


def test_a_fleet_tills_probes_come_no_faster_than_its_turns(tmp_path: Path) -> None:
    """Before, every till probed each probe_interval whatever the fleet: 5,000 idle tills at 10 s sent 500/s,
    2.5 times the 429 limit. Now a probe takes a paced turn: one per interval of the till's share at most."""

    async def main() -> tuple[int, float]:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        status = LoyaltyStatus(3)
        loop = asyncio.get_running_loop()
        gate = till_gate(10.0, 14, 3, random.Random(1), loop.time, time.time)  # 45/14 a second: every 0.31 s
        worker = OutboxWorker(
            OutboxStore(db, 30, 3600), {}, status, EventBus(), time.time, limiter=gate, monotonic=loop.time
        )
        probe = Probe()
        task = asyncio.create_task(status.probe_forever(lambda: worker.probe(probe), 0.02))
        started = loop.time()  # each answer is 0.02 s old by the next round: every round wants to probe
        await asyncio.sleep(1.5)
        task.cancel()
        db.close()
        return probe.calls, (loop.time() - started) * gate.pacer.share

    calls, turns = asyncio.run(main())
    assert calls <= turns + 2  # not 1.5 / 0.02 = 75


def test_a_background_send_refused_at_connect_is_taken_back_too(tmp_path: Path) -> None:
    """Not only the probe's: any paced send the vendor never saw. The cashier's own send keeps its attempt."""

    async def main() -> None:
        executor = Scripted(NotSent("loyalty_unreachable", unreached=True))
        worker = await a_till(tmp_path, executor, LoyaltyStatus(3), ops=2)
        paced = await worker.kick("o0", paced=True)
        assert (paced.state, paced.attempts) == (CAPTURED, 0)
        assert worker.store.is_due(paced)
        cashier = await worker.kick("o1")
        assert (cashier.state, cashier.attempts) == (CAPTURED, 1)
        assert not worker.store.is_due(cashier)  # the usual backoff
        worker.store.db.close()

    asyncio.run(main())


def test_an_op_taken_back_past_its_park_deadline_is_parked_for_a_person(tmp_path: Path) -> None:
    async def main() -> None:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 30, 0.2)  # parked after 0.2 s
        await store.capture(op_id="o0", kind=VOUCHER_REDEEM, target_id="t0", contact_id="c", now=time.time())
        worker = OutboxWorker(
            store,
            {VOUCHER_REDEEM: Scripted(NotSent("loyalty_unreachable", unreached=True))},
            offline_status(),
            EventBus(),
            time.time,
            rate=10.0,
            on_final=finals.append,
        )
        await asyncio.sleep(0.3)
        assert await worker.probe(Probe()) is None
        op = await store.get("o0")
        assert op is not None
        assert (op.state, op.reason, op.attempts) == ("PARKED", "too_old", 0)
        assert [f.op_id for f in finals] == ["o0"]
        db.close()

    finals: list[Op] = []
    asyncio.run(main())
