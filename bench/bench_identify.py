"""Identify: the agent's own overhead over Engage, and whether the Engage calls overlap.

Overhead = identify through the agent minus the same four Engage calls made concurrently straight from
this process (simulator at zero latency), both over keep-alive connections. Overlap = identify latency
divided by one Engage round trip, with 50 ms latency injected in the simulator.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.harness import API_KEY, TOKEN, Figure, agent, median, p99, set_latency, simulator
from posplugin.vendors.engage.simulator import member_id

ASA = member_id("asa")
N_OVERHEAD = 300
N_RATIO = 40


async def direct_fetch(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    await asyncio.gather(
        client.get(f"/api/v3/contacts/{ASA}"),
        client.get("/api/v3/point-accounts", params={"contactId": ASA}),
        client.get("/api/v3/reward-vouchers/available", params={"contactId": ASA, "offset": 0, "count": 100}),
        client.get(f"/api/v2/contacts/{ASA}/promotions", params={"redemptionChannelType": "POS"}),
    )
    return time.perf_counter() - started


async def identify_once(agent: httpx.AsyncClient, code: str) -> float:
    started = time.perf_counter()
    response = await agent.post("/api/v1/identify", json={"code": code})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.json()["source"] == "live", response.text
    return elapsed


async def overhead_pairs(base: str, engage: str, n: int) -> list[tuple[float, float]]:
    """Identify through the agent and the same Engage calls made directly, interleaved so both see the same
    machine; the per-pair difference is the agent's own cost."""
    engage_headers = {"apikey": API_KEY, "Content-Type": "application/json"}
    async with (
        httpx.AsyncClient(base_url=base, headers={"X-POS-Token": TOKEN}, timeout=30) as agent,
        httpx.AsyncClient(base_url=engage, headers=engage_headers) as direct,
    ):
        for _ in range(20):
            await identify_once(agent, ASA)
            await direct_fetch(direct)
        return [(await identify_once(agent, ASA), await direct_fetch(direct)) for _ in range(n)]


async def latency_samples(base: str, engage: str, code: str, n: int) -> tuple[list[float], list[float]]:
    """Identify latencies and single Engage round trips, interleaved."""
    engage_headers = {"apikey": API_KEY, "Content-Type": "application/json"}
    async with (
        httpx.AsyncClient(base_url=base, headers={"X-POS-Token": TOKEN}, timeout=30) as agent,
        httpx.AsyncClient(base_url=engage, headers=engage_headers) as direct,
    ):
        await identify_once(agent, code)
        await direct.get(f"/api/v3/contacts/{ASA}")
        identify, rtt = [], []
        for _ in range(n):
            identify.append(await identify_once(agent, code))
            started = time.perf_counter()
            await direct.get(f"/api/v3/contacts/{ASA}")
            rtt.append(time.perf_counter() - started)
        return identify, rtt


def run() -> list[Figure]:
    figures: list[Figure] = []
    with simulator() as (engage, control), agent(engage) as (base, _proc, _startup):
        pairs = asyncio.run(overhead_pairs(base, engage, N_OVERHEAD))
        diffs = [(a - d) * 1000 for a, d in pairs]
        figures.append(
            Figure(
                "identify: agent overhead (zero latency)",
                round(median(diffs), 2),
                "ms",
                p99=round(p99(diffs), 2),
                target="median ≤ 5, p99 ≤ 20",
                ok=median(diffs) <= 5 and p99(diffs) <= 20,
                note=f"identify {median([a for a, _ in pairs]) * 1000:.2f} ms vs the same 4 calls direct "
                f"{median([d for _, d in pairs]) * 1000:.2f} ms, interleaved, n={N_OVERHEAD}",
            )
        )
        set_latency(control, 0.05)
        for name, code, limit in (
            ("identify by app QR / 50 ms Engage RTT", ASA, "1.0 (one round trip)"),
            ("identify by known card / 50 ms RTT", "2400000010014", "1.0 (lookup overlaps the fetches)"),
        ):
            identify, rtt = asyncio.run(latency_samples(base, engage, code, N_RATIO))
            ratio = median(identify) / median(rtt)
            figures.append(
                Figure(
                    name,
                    round(ratio, 3),
                    "×",
                    p99=round(p99(identify) / median(rtt), 3),
                    target="≤ 1.15",
                    limit=limit,
                    ok=ratio <= 1.15,
                    note=f"identify {median(identify) * 1000:.1f} ms / RTT {median(rtt) * 1000:.1f} ms, n={N_RATIO}",
                )
            )
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure)
