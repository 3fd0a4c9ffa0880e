"""Redemption: durable capture latency (the fsync'd commit the POS waits for) and the outbox drain rate
against the configured request cap, simulator at zero latency."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import TOKEN, Figure, agent, median, p99, simulator
from posplugin.database import Database
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.outbox.store import OutboxStore
from posplugin.vendors.engage.simulator import bulk_voucher_id, member_id
from posplugin.vendors.engage.simulator.demo_data import BULK_CONTACT

N_CAPTURE = 500
DRAIN = ((10.0, 150), (40.0, 400))  # (cap in requests/s, ops queued)


def capture_latencies(folder: Path, count: int) -> list[float]:
    db = Database(folder / "data" / "posplugin.sqlite3")
    db.open()
    store = OutboxStore(db, 30, 72 * 3600)

    async def run() -> list[float]:
        samples = []
        for n in range(count):
            started = time.perf_counter()
            await store.capture(
                op_id=f"cap-{n}",
                kind=VOUCHER_REDEEM,
                target_id=f"t-{n}",
                contact_id=member_id(BULK_CONTACT),
                now=time.time(),
            )
            samples.append(time.perf_counter() - started)
        return samples

    try:
        return asyncio.run(run())
    finally:
        db.close()


def queue_ops(folder: Path, count: int) -> None:
    """Ops captured before the agent starts, as if the till had been offline."""
    db = Database(folder / "data" / "posplugin.sqlite3")
    db.open()
    store = OutboxStore(db, 30, 72 * 3600)

    async def run() -> None:
        now = time.time()
        for n in range(count):
            await store.capture(
                op_id=f"drain-{n}",
                kind=VOUCHER_REDEEM,
                target_id=bulk_voucher_id(n),
                contact_id=member_id(BULK_CONTACT),
                now=now,
                reported_queued=True,
                offline=True,
            )

    asyncio.run(run())
    db.close()


def drain_rate(cap: float, count: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp, simulator(bulk_vouchers=count) as (engage, _control):
        queue_ops(Path(tmp), count)
        extra = f"[offline]\nmax_requests_per_second = {cap}\n"
        with agent(engage, extra, data_dir=tmp) as (base, _proc, _startup):
            started = time.perf_counter()
            with httpx.Client(base_url=base, headers={"X-POS-Token": TOKEN}) as http:
                while True:
                    queue = http.get("/api/v1/queue").json()
                    if queue["pending"] == 0:
                        break
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                done = sum(1 for n in range(count) if http.get(f"/api/v1/ops/drain-{n}").json()["state"] == "redeemed")
    assert done == count, f"only {done}/{count} drained ops ended redeemed"
    return count / elapsed, elapsed


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        samples = capture_latencies(Path(tmp), N_CAPTURE)
    figures = [
        Figure(
            "redeem: durable capture (fsync'd commit)",
            round(median(samples) * 1000, 2),
            "ms",
            p99=round(p99(samples) * 1000, 2),
            target="p99 ≤ 10",
            ok=p99(samples) <= 0.010,
            note=f"n={N_CAPTURE}, SQLite WAL synchronous=FULL",
        )
    ]
    for cap, count in DRAIN:
        rate, elapsed = drain_rate(cap, count)
        figures.append(
            Figure(
                f"outbox drain at cap {cap:g}/s",
                round(rate, 2),
                "op/s",
                target=f"≥ {cap * 0.9:g}",
                limit=f"{cap:g} (the cap)",
                ok=rate >= cap * 0.9,
                note=f"{count} ops in {elapsed:.1f} s (queued before start)",
            )
        )
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure)
