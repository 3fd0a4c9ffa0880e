"""Identify: the agent's own overhead over Engage, and whether the Engage calls overlap.

Overhead = identify through the agent minus the same three Engage calls made concurrently straight from
this process (simulator at zero latency), both over keep-alive connections. Overlap = identify latency
divided by one Engage round trip, with 50 ms latency injected in the simulator.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.harness import API_KEY, TOKEN, Figure, agent, median, p99, set_latency, simulator
from posplugin.simulator import member_id

ASA = member_id("asa")
N_OVERHEAD = 300
N_RATIO = 40


async def direct_fetch(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    await asyncio.gather(
        client.get(f"/api/v3/contacts/{ASA}"),
        client.get("/api/v3/point-accounts", params={"contactId": ASA}),
        client.get("/api/v3/reward-vouchers/available", params={"contactId": ASA, "offset": 0, "count": 100}),
    )
    return time.perf_counter() - started


async def direct_samples(engage: str, n: int) -> list[float]:
    headers = {"apikey": API_KEY, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=engage, headers=headers) as client:
        await direct_fetch(client)
        return [await direct_fetch(client) for _ in range(n)]


async def single_round_trips(engage: str, n: int) -> list[float]:
    headers = {"apikey": API_KEY, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=engage, headers=headers) as client:
        await client.get(f"/api/v3/contacts/{ASA}")
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            await client.get(f"/api/v3/contacts/{ASA}")
            samples.append(time.perf_counter() - started)
        return samples


def identify_samples(http: httpx.Client, code: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = http.post("/api/v1/identify", json={"code": code})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200 and response.json()["source"] == "live", response.text
    return samples


def run() -> list[Figure]:
    figures: list[Figure] = []
    with simulator() as (engage, control), agent(engage) as (base, _proc, _startup):
        with httpx.Client(base_url=base, headers={"X-POS-Token": TOKEN}, timeout=30) as http:
            identify_samples(http, ASA, 20)  # warm up
            through_agent = identify_samples(http, ASA, N_OVERHEAD)
            direct = asyncio.run(direct_samples(engage, N_OVERHEAD))
            over_median = (median(through_agent) - median(direct)) * 1000
            over_p99 = (p99(through_agent) - p99(direct)) * 1000
            figures.append(
                Figure(
                    "identify: agent overhead (zero latency)",
                    round(over_median, 2),
                    "ms",
                    p99=round(over_p99, 2),
                    target="median ≤ 5, p99 ≤ 20",
                    ok=over_median <= 5 and over_p99 <= 20,
                    note=f"identify {median(through_agent) * 1000:.2f} ms vs direct "
                    f"{median(direct) * 1000:.2f} ms, n={N_OVERHEAD}",
                )
            )
            set_latency(control, 0.05)
            rtt = median(asyncio.run(single_round_trips(engage, 10)))
            by_guid = identify_samples(http, ASA, N_RATIO)
            identify_samples(http, "2400000010014", 1)  # remember the card
            known_card = identify_samples(http, "2400000010014", N_RATIO)
            ratio = median(by_guid) / rtt
            figures.append(
                Figure(
                    "identify by app QR / 50 ms Engage RTT",
                    round(ratio, 3),
                    "×",
                    p99=round(p99(by_guid) / rtt, 3),
                    target="≤ 1.15",
                    limit="1.0 (one round trip)",
                    ok=ratio <= 1.15,
                    note=f"RTT {rtt * 1000:.1f} ms, n={N_RATIO}",
                )
            )
            card_ratio = median(known_card) / rtt
            figures.append(
                Figure(
                    "identify by known card / 50 ms RTT",
                    round(card_ratio, 3),
                    "×",
                    p99=round(p99(known_card) / rtt, 3),
                    target="≤ 1.15",
                    limit="1.0 (lookup overlaps the fetches)",
                    ok=card_ratio <= 1.15,
                    note="card seen before: lookup runs beside the three fetches",
                )
            )
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure)
