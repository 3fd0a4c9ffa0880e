"""The probe keeps an idle till's Engage status true (it used to probe only while offline)."""

from __future__ import annotations

import asyncio

from posplugin.loyalty.status import OFFLINE, ONLINE, LoyaltyStatus
from posplugin.vendors.engage import EngageUnreachable


def test_an_idle_online_till_probes_and_notices_engage_going_away() -> None:
    async def scenario() -> list[str]:
        changes: list[str] = []
        status = LoyaltyStatus(3, on_change=changes.append)
        status.record_success()
        assert status.state == ONLINE

        async def probe() -> float:
            raise EngageUnreachable("connection refused")

        task = asyncio.create_task(status.probe_forever(probe, 0.05))
        for _ in range(40):
            if status.state == OFFLINE:
                break
            await asyncio.sleep(0.02)
        task.cancel()
        return changes

    assert asyncio.run(scenario()) == ["online", "offline"]


def test_real_traffic_spares_the_probe() -> None:
    async def scenario() -> int:
        status = LoyaltyStatus(3)
        calls = 0

        async def probe() -> float:
            nonlocal calls
            calls += 1
            return 0.01

        status.record_success()
        task = asyncio.create_task(status.probe_forever(probe, 0.2))
        for _ in range(10):  # answers keep coming in: no probe needed
            status.record_success()
            await asyncio.sleep(0.05)
        task.cancel()
        return calls

    assert asyncio.run(scenario()) == 0
