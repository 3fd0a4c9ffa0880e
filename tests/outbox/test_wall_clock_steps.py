"""A wall-clock step (NTP at boot, a till whose RTC keeps local time) must neither freeze nor park the queue."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from posplugin.database import Database
from posplugin.events import EventBus
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import Confirmed, Op
from posplugin.outbox.steady_clock import SteadyClock
from posplugin.outbox.store import OutboxStore
from posplugin.outbox.worker import OutboxWorker
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from tests.conftest import RunningAgent, wait_for
from tests.test_redemption_api import op_state, redeem

DAY = 86400.0


class SteppingWall:
    """The real time plus an offset the test steps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Instant:
    async def send(self, op: Op, attempts: object) -> Confirmed:
        return Confirmed()

    async def reconcile(self, op: Op, attempts: object) -> Confirmed:
        return Confirmed()


def test_the_paced_drain_does_not_wait_for_a_backward_step(tmp_path: Path) -> None:
    wall = SteppingWall()

    async def main() -> None:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 10, 3600, schedule=SteadyClock(wall, time.monotonic))
        worker = OutboxWorker(store, {VOUCHER_REDEEM: Instant()}, LoyaltyStatus(3), EventBus(), wall, rate=20.0)
        try:
            for n in range(3):
                await store.capture(op_id=f"o{n}", kind=VOUCHER_REDEEM, target_id=f"t{n}", contact_id="c", now=wall())
            assert (await asyncio.wait_for(worker.kick("o0", paced=True), 2)).state == "CONFIRMED"
            wall.offset -= DAY
            assert (await asyncio.wait_for(worker.kick("o1", paced=True), 2)).state == "CONFIRMED"
            wall.offset += 3 * DAY
            assert (await asyncio.wait_for(worker.kick("o2", paced=True), 2)).state == "CONFIRMED"
        finally:
            db.close()

    asyncio.run(main())


@pytest.mark.parametrize("step", [-2 * DAY, -3600.0, 4 * DAY])
def test_a_retry_after_a_wall_clock_step_happens_on_time_and_is_not_parked(
    agent_factory: Any, sim: EngageSimulator, step: float
) -> None:
    wall = SteppingWall()
    agent: RunningAgent = agent_factory(
        offline={"retry_min_seconds": 0.3, "retry_max_seconds": 0.6, "cashier_wait": 1.0},
        options={"clock": wall},
    )
    voucher = voucher_id("asa", 1)
    # Two failures: the one after the step must be retried again, not parked as "too old".
    sim.faults.add(FaultRule("reset_before", method="POST", path="/redeem$", times=2))
    op = redeem(agent, voucher, member_id("asa"), "op-step")
    assert op["state"] == "queued"
    wall.offset += step
    wait_for(lambda: op_state(agent, "op-step")["state"] != "queued", timeout=8)
    final = op_state(agent, "op-step")
    assert (final["state"], final["attempts"]) == ("redeemed", 3)
    assert sim.state.redeem_commits == {voucher: 1}
