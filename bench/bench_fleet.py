"""Fleet: N tills sharing one API key come back from a 1-hour outage with queued redemptions.

Each till is the real outbox (its own SQLite file, worker and rate limiter) in this process; the simulator runs
in its own process and answers 429 above 200 requests/s per key, as Engage does. Each till notices Engage is
back at a random moment within its probe interval. Figures: time to drain everything against the bound the
vendor's advice sets (total ops / 50 per second), the share of requests answered 429, and the peak rate.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import API_KEY, Figure, simulator
from posplugin.database import Database
from posplugin.events import EventBus
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.store import Backoff, OutboxStore
from posplugin.outbox.worker import OutboxWorker, till_rate
from posplugin.vendors.engage import EngageClient
from posplugin.vendors.engage.executors.vouchers import VoucherRedeem
from posplugin.vendors.engage.simulator import bulk_voucher_id, member_id
from posplugin.vendors.engage.simulator.demo_data import BULK_CONTACT

TILLS = 500
OPS_PER_TILL = 2
PROBE_INTERVAL = 10.0
ADVISED_RATE = 50.0


async def run_fleet(engage: str, control: str, folder: Path, sharing: int, offset: int) -> dict[str, float]:
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
    client = EngageClient(engage, API_KEY, transport=transport)
    rng = random.Random(sharing)
    tills = []
    now = time.time()
    for n in range(TILLS):
        db = Database(folder / f"till-{sharing}-{n}.sqlite3")
        db.open()
        store = OutboxStore(db, 1000, 72 * 3600, Backoff(10, 300))
        for k in range(OPS_PER_TILL):
            voucher = bulk_voucher_id(offset + n * OPS_PER_TILL + k)
            await store.capture(
                op_id=f"f{sharing}-{n}-{k}",
                kind=VOUCHER_REDEEM,
                target_id=voucher,
                contact_id=member_id(BULK_CONTACT),
                now=now - 3600,
                reported_queued=True,
                offline=True,
            )
        status = LoyaltyStatus(3)
        worker = OutboxWorker(
            store,
            {VOUCHER_REDEEM: VoucherRedeem(client, status, time.time)},
            status,
            EventBus(),
            time.time,
            concurrency=4,
            rate=till_rate(10.0, sharing),
        )
        tills.append((db, store, worker))
    async with httpx.AsyncClient() as http:
        before = (await http.get(control + "/_sim/state")).json()["stats"]
    started = time.time()

    async def till(worker: OutboxWorker, delay: float) -> None:
        await asyncio.sleep(delay)  # this till's probe sees Engage again
        await worker.run_forever()

    tasks = [asyncio.create_task(till(w, rng.uniform(0, PROBE_INTERVAL))) for _, _, w in tills]
    total = TILLS * OPS_PER_TILL
    while True:
        await asyncio.sleep(0.5)
        pending = sum([(await s.counts())["pending"] for _, s, _ in tills])
        if pending == 0 or time.time() - started > 600:
            break
    drain = time.time() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await client.aclose()
    for db, _, _ in tills:
        db.close()
    async with httpx.AsyncClient() as http:
        state = (await http.get(control + "/_sim/state")).json()
    after = state["stats"]
    requests = after.get("requests", 0) - before.get("requests", 0)
    limited = after.get("rate_limited", 0) - before.get("rate_limited", 0)
    per_second = {int(k): v for k, v in state.get("perSecond", {}).items() if int(k) >= int(started)}
    return {
        "drain": drain,
        "requests": requests,
        "limited": limited,
        "pending": pending,
        "total": total,
        "peak": max(per_second.values()) if per_second else 0,
    }


def run() -> list[Figure]:
    figures = []
    total = TILLS * OPS_PER_TILL
    bound = total / ADVISED_RATE
    with tempfile.TemporaryDirectory() as tmp, simulator(rate_limit=200, bulk_vouchers=2 * total) as (engage, control):
        for index, (label, sharing) in enumerate(
            (("tills_sharing_key = 1 (unset)", 1), (f"tills_sharing_key = {TILLS}", TILLS))
        ):
            result = asyncio.run(run_fleet(engage, control, Path(tmp), sharing, index * total))
            share = result["limited"] / max(1, result["requests"])
            figures.append(
                Figure(
                    f"fleet {TILLS} tills, {label}: drain",
                    round(result["drain"], 1),
                    "s",
                    target=f"≤ {1.5 * bound:.0f} (1.5 × {bound:.0f})",
                    limit=f"{bound:.0f} s",
                    ok=result["drain"] <= 1.5 * bound and result["pending"] == 0,
                    note=f"{total} ops, {int(result['pending'])} left",
                )
            )
            figures.append(
                Figure(
                    f"fleet {TILLS} tills, {label}: 429 share",
                    round(share * 100, 2),
                    "%",
                    target="≤ 1",
                    ok=share <= 0.01,
                    note=f"{int(result['limited'])} of {int(result['requests'])} requests",
                )
            )
            figures.append(
                Figure(
                    f"fleet {TILLS} tills, {label}: peak rate",
                    result["peak"],
                    "req/s",
                    target="≤ 50 advised",
                    limit="200 (429 above)",
                    ok=result["peak"] <= 50,
                )
            )
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure)
