"""Footprint: process start to /api/v1/health answering, and memory idle and after 10,000 identify calls."""

from __future__ import annotations

import asyncio
import statistics

import httpx

from bench.harness import TOKEN, Figure, agent, rss_mb, simulator
from posplugin.vendors.engage.simulator import member_id

STARTS = 5
IDENTIFY_CALLS = 10_000
CONCURRENCY = 4
CODES = [member_id(key) for key in ("asa", "bjorn", "marta", "soren", "aino")] + ["2400000010014", "1000003"]


async def hammer(base: str, calls: int) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"X-POS-Token": TOKEN}, timeout=30) as client:
        counter = iter(range(calls))

        async def lane() -> None:
            for n in counter:
                response = await client.post("/api/v1/identify", json={"code": CODES[n % len(CODES)]})
                assert response.status_code == 200, response.text

        await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))


def run() -> list[Figure]:
    figures = []
    with simulator() as (engage, _control):
        starts = []
        for _ in range(STARTS):
            with agent(engage) as (_base, _proc, startup):
                starts.append(startup)
        figures.append(
            Figure(
                "start-up: spawn to health answering",
                round(statistics.median(starts), 3),
                "s",
                target="≤ 1.5",
                ok=statistics.median(starts) <= 1.5,
                note=f"min {min(starts):.3f}, max {max(starts):.3f} s over {STARTS} starts",
            )
        )
        with agent(engage) as (base, proc, _startup):
            asyncio.run(hammer(base, 200))  # warm: imports, caches, connection pools
            idle = rss_mb(proc.pid)
            asyncio.run(hammer(base, IDENTIFY_CALLS))
            after = rss_mb(proc.pid)
    figures.append(Figure("memory: RSS idle (after warm-up)", round(idle, 1), "MB", target="≤ 80", ok=idle <= 80))
    growth = after - idle
    figures.append(
        Figure(
            f"memory: growth over {IDENTIFY_CALLS:,} identify calls",
            round(growth, 1),
            "MB",
            target="≤ 5",
            ok=growth <= 5,
            note=f"RSS {idle:.1f} → {after:.1f} MB",
        )
    )
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure)
