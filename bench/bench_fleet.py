"""Fleet: N tills sharing one API key come back from a 1-hour outage with two queued redemptions each.

Real, 500 tills: each till is the real outbox (its own SQLite file, worker and pacer) in this process, against
the simulator in its own process, which answers 429 above 200 requests/s per key, as Engage does. The tills were
running before the outage (each pacer's last request went out an hour ago), and each notices Engage is back at a
random moment within its 10 s probe interval, then drains its queue.

Virtual, 500 and 5,000 tills: the same scenario through ``bench.fleet_model`` — the production pacers in virtual
time against the simulator's rule — over many runs; 5,000 real tills would take 5,000 SQLite files and threads
and more than the 200 s bound of real time. The virtual 500 stands next to the real 500 to show they agree.

Figures: the drain (from the end of the outage to the last op final) against the bound the vendor's advice sets
(total ops ÷ 50 per second, the least time the fleet can take without going over it), their ratio, the most
requests in any one wall-clock second as the simulator counted them, and the share answered 429.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.fleet_model import ADVISED_RATE, Scenario, Summary, last_sent_at, summarize
from bench.harness import API_KEY, Figure, simulator
from posplugin.database import Database
from posplugin.events import EventBus
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import Op
from posplugin.outbox.pacing import Pacer, till_rate
from posplugin.outbox.store import Backoff, OutboxStore
from posplugin.outbox.worker import OutboxWorker
from posplugin.vendors.engage import EngageClient
from posplugin.vendors.engage.executors.vouchers import VoucherRedeem
from posplugin.vendors.engage.simulator import bulk_voucher_id, member_id
from posplugin.vendors.engage.simulator.demo_data import BULK_CONTACT

TILLS = 500
VIRTUAL_TILLS = (500, 5000)
VIRTUAL_RUNS = {500: 20, 5000: 10}
OPS_PER_TILL = 2
PROBE_INTERVAL = 10.0
MAX_RATE = 10.0  # [offline] max_requests_per_second, the default
OUTAGE = 3600.0
LIMIT = 200  # the simulator's 429 threshold per key, as Engage's
GIVE_UP = 600.0  # seconds: a drain still running then is reported with what is left
TARGET_RATIO = 1.2


@dataclass(frozen=True)
class Measured:
    drain: float
    requests: int
    limited: int
    peak: int  # requests in the busiest second, as the simulator counted them
    turns_peak: int  # paced turns in the busiest second, as the tills' pacers gave them
    left: int


class RecordingPacer(Pacer):
    """The production pacer, noting the wall-clock second of each turn it gives."""

    def __init__(self, share: float, rng: random.Random, seconds: Counter[int]) -> None:
        super().__init__(share, rng)
        self._seconds = seconds

    def take(self, now: float) -> None:
        super().take(now)
        self._seconds[int(time.time())] += 1


async def run_fleet(engage: str, control: str, folder: Path, sharing: int, first_voucher: int) -> Measured:
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
    client = EngageClient(engage, API_KEY, transport=transport)
    total = TILLS * OPS_PER_TILL
    finals: list[float] = []
    all_final = asyncio.Event()
    turns: Counter[int] = Counter()

    def on_final(op: Op) -> None:
        finals.append(time.time())
        if len(finals) == total:
            all_final.set()

    async def build(n: int) -> tuple[Database, OutboxWorker]:
        db = Database(folder / f"till-{sharing}-{n}.sqlite3")
        await db.run(lambda conn: None)  # opens (and migrates) on the database's own thread
        store = OutboxStore(db, 1000, 72 * 3600, Backoff(10, 300))
        for k in range(OPS_PER_TILL):
            await store.capture(
                op_id=f"f{sharing}-{n}-{k}",
                kind=VOUCHER_REDEEM,
                target_id=bulk_voucher_id(first_voucher + n * OPS_PER_TILL + k),
                contact_id=member_id(BULK_CONTACT),
                now=time.time() - OUTAGE,
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
            rate=till_rate(MAX_RATE, sharing),
            on_final=on_final,
        )
        pacer = worker.limiter.pacer = RecordingPacer(worker.limiter.pacer.share, random.Random(f"till-{n}"), turns)
        last_sent_at(pacer, time.monotonic() - OUTAGE)  # it was trading before the outage
        return db, worker

    tills = await asyncio.gather(*(build(n) for n in range(TILLS)))  # the commits of 500 files, side by side
    arrivals = random.Random(f"arrivals-{sharing}")
    async with httpx.AsyncClient() as http:
        before = (await http.get(control + "/_sim/state")).json()["stats"]
    turns.clear()  # the turns taken "an hour ago" above
    started = time.time()

    async def till(worker: OutboxWorker, delay: float) -> None:
        await asyncio.sleep(delay)  # this till's probe sees Engage again; the agent wakes its worker
        await worker.run_forever()

    tasks = [asyncio.create_task(till(w, arrivals.uniform(0, PROBE_INTERVAL))) for _, w in tills]
    try:
        await asyncio.wait_for(all_final.wait(), GIVE_UP)
    except TimeoutError:
        pass
    drain = (max(finals) if len(finals) == total else time.time()) - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await client.aclose()
    for db, _ in tills:
        db.close()
    async with httpx.AsyncClient() as http:
        state = (await http.get(control + "/_sim/state")).json()
    after = state["stats"]
    per_second = [v for k, v in state.get("perSecond", {}).items() if int(k) >= int(started)]
    return Measured(
        drain,
        after.get("requests", 0) - before.get("requests", 0),
        after.get("rate_limited", 0) - before.get("rate_limited", 0),
        max(per_second, default=0),
        max((v for k, v in turns.items() if k >= int(started)), default=0),
        total - len(finals),
    )


def figures(
    label: str, bound: float, drain: float, peak: float, limited: float, left: int, note: str = ""
) -> list[Figure]:
    ratio = drain / bound
    return [
        Figure(
            f"{label}: drain",
            round(drain, 1),
            "s",
            target=f"≤ {TARGET_RATIO * bound:.0f} ({TARGET_RATIO} × bound)",
            limit=f"bound {bound:.0f} s",
            ok=ratio <= TARGET_RATIO and left == 0,
            note=f"bound {bound:.0f} s = {bound * ADVISED_RATE:.0f} ops ÷ {ADVISED_RATE:.0f}/s; {left} ops left"
            + (f"; {note}" if note else ""),
        ),
        Figure(f"{label}: drain ÷ bound", round(ratio, 2), "×", target=f"≤ {TARGET_RATIO}", ok=ratio <= TARGET_RATIO),
        Figure(
            f"{label}: peak, busiest 1 s",
            peak,
            "req/s",
            target=f"≤ {ADVISED_RATE:.0f} advised",
            limit=f"{LIMIT} (429 above)",
            ok=peak <= ADVISED_RATE,
            note=f"429 above {LIMIT}",
        ),
        Figure(f"{label}: 429 share", round(100 * limited, 2), "%", target="0", ok=limited == 0),
    ]


def virtual_figures(summary: Summary) -> list[Figure]:
    s = summary.scenario
    label = f"fleet {s.tills:,} tills, virtual, tills_sharing_key = {s.tills}"
    note = f"median of {summary.runs} runs, slowest {summary.drain_max:.1f} s; busiest second of all {summary.peak_max}"
    return figures(label, s.bound, summary.drain_median, summary.peak_median, summary.limited_share, summary.left, note)


def run() -> list[Figure]:
    out: list[Figure] = []
    total = TILLS * OPS_PER_TILL
    bound = total / ADVISED_RATE
    with tempfile.TemporaryDirectory() as tmp, simulator(rate_limit=LIMIT, bulk_vouchers=2 * total) as (engage, ctl):
        for index, (label, sharing) in enumerate(
            (("tills_sharing_key = 1 (unset)", 1), (f"tills_sharing_key = {TILLS}", TILLS))
        ):
            m = asyncio.run(run_fleet(engage, ctl, Path(tmp), sharing, index * total))
            share = m.limited / max(1, m.requests)
            name = f"fleet {TILLS} tills, real, {label}"
            out += figures(name, bound, m.drain, m.peak, share, m.left)
            # What the pacers released, before this one machine's commits and HTTP could bunch it up.
            out.append(Figure(f"{name}: peak of paced turns, busiest 1 s", m.turns_peak, "req/s", note="at the pacers"))
    for tills in VIRTUAL_TILLS:
        scenario = Scenario(tills, OPS_PER_TILL, max_rate=MAX_RATE, probe_interval=PROBE_INTERVAL)
        out += virtual_figures(summarize(scenario, range(VIRTUAL_RUNS[tills])))
    return out


if __name__ == "__main__":
    for figure in run():
        print(figure)
