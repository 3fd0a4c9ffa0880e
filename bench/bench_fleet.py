"""Fleet: N tills sharing one API key come back from an outage with two queued redemptions each.

Real, 500 tills: each till is the real outbox (its own SQLite file, worker and pacing built by ``till_gate``)
and the real probe loop (``LoyaltyStatus.probe_forever`` with ``OutboxWorker.probe``, a real ``EngageClient``)
in this process, against the simulator in its own process, which answers 429 above 200 requests/s per key as
Engage does. Engage is down — the simulator's API port is closed, so every connection is refused — while the
tills, offline, probe for long enough to be in their steady rhythm; then it opens again. The drain runs from
that moment to the last op final. Each till has its own ``fleet_slot``.

Virtual, 500 and 5,000 tills: the same scenario through ``bench.fleet_model`` — the production pacing classes
in virtual time against the simulator's rule — over several runs; 5,000 real tills would take 5,000 SQLite
files and threads. The virtual 500 stands next to the real 500 to show they agree, and the virtual fleets are
also shown without slots and with the tills' clocks 50 ms apart.

Figures: the drain against the bound the vendor's advice sets (total ops ÷ 50 per second, the least time the
fleet can take without going over it), their ratio, the most requests in any one wall-clock second as the
simulator counted them (probes included), and the share answered 429.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.fleet_model import ADVISED_RATE, Scenario, Summary, summarize
from bench.harness import API_KEY, Figure, simulator
from posplugin.database import Database
from posplugin.events import EventBus
from posplugin.loyalty.errors import LoyaltyUnreachable
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import Op
from posplugin.outbox.pacing import PacerGate, till_gate
from posplugin.outbox.store import Backoff, OutboxStore
from posplugin.outbox.worker import OutboxWorker
from posplugin.vendors.engage import EngageClient
from posplugin.vendors.engage.executors.vouchers import VoucherRedeem
from posplugin.vendors.engage.simulator import bulk_voucher_id, member_id
from posplugin.vendors.engage.simulator.demo_data import BULK_CONTACT

TILLS = 500
VIRTUAL_TILLS = (500, 5000)
VIRTUAL_RUNS = {500: 10, 5000: 4}
OPS_PER_TILL = 2
PROBE_INTERVAL = 10.0  # [engage] probe_interval, the default
MAX_RATE = 10.0  # [offline] max_requests_per_second, the default
OUTAGE = 3600.0  # seconds the ops have been queued
DOWN_FOR = 25.0  # seconds the tills probe a refused port before Engage comes back: two turns at a 1/500 share
LIMIT = 200  # the simulator's 429 threshold per key, as Engage's
GIVE_UP = 600.0  # seconds: a drain still running then is reported with what is left
TARGET_RATIO = 1.2
CLOCK_SKEW = 0.05  # seconds (σ) for the virtual fleets whose clocks are not all alike


@dataclass(frozen=True)
class Measured:
    drain: float
    requests: int
    limited: int
    peak: int  # requests in the busiest second, as the simulator counted them
    turns_peak: int  # paced turns in the busiest second, as the tills' gates gave them
    left: int


class RecordingGate(PacerGate):
    """The production gate, noting the wall-clock second of each turn it gives."""

    def __init__(self, gate: PacerGate, seconds: Counter[int]) -> None:
        super().__init__(gate.pacer, time.monotonic, gate.turns, time.time)
        self._seconds = seconds

    async def acquire(self) -> None:
        await super().acquire()
        self._seconds[int(time.time())] += 1


async def run_fleet(engage: str, control: str, folder: Path, sharing: int, first_voucher: int) -> Measured:
    clients: list[EngageClient] = []
    total = TILLS * OPS_PER_TILL
    finals: list[float] = []
    all_final = asyncio.Event()
    turns: Counter[int] = Counter()

    def on_final(op: Op) -> None:
        finals.append(time.time())
        if len(finals) == total:
            all_final.set()

    async def build(n: int) -> tuple[Database, OutboxWorker, LoyaltyStatus]:
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
        # Its own client, as every till has: a pool shared by 500 tills would be this benchmark's bottleneck.
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=1, keepalive_expiry=2.0)
        client = EngageClient(engage, API_KEY, transport=httpx.AsyncHTTPTransport(limits=limits))
        clients.append(client)
        workers: list[OutboxWorker] = []
        status = LoyaltyStatus(3, on_change=lambda state: workers[0].wake() if workers else None)
        gate = till_gate(MAX_RATE, sharing, n % sharing, random.Random(f"till-{n}"), time.monotonic, time.time)
        worker = OutboxWorker(
            store,
            {VOUCHER_REDEEM: VoucherRedeem(client, status, time.time)},
            status,
            EventBus(),
            time.time,
            concurrency=4,
            on_final=on_final,
            limiter=RecordingGate(gate, turns),
        )
        workers.append(worker)
        status.record_failure(LoyaltyUnreachable("the outage"))  # it has been offline for the hour
        return db, worker, status

    async with httpx.AsyncClient() as http:
        (await http.post(control + "/_sim/offline", json={"offline": True})).raise_for_status()
        tills = await asyncio.gather(*(build(n) for n in range(TILLS)))  # the commits of 500 files, side by side
        tasks = []
        for (_, worker, status), client in zip(tills, clients, strict=True):
            tasks.append(asyncio.create_task(worker.run_forever()))
            tasks.append(
                asyncio.create_task(status.probe_forever(functools.partial(worker.probe, client.probe), PROBE_INTERVAL))
            )
        await asyncio.sleep(DOWN_FOR)  # Engage is down: its port refuses every connection
        before = (await http.get(control + "/_sim/state")).json()["stats"]
        (await http.post(control + "/_sim/offline", json={"offline": False})).raise_for_status()
        started = time.time()
        turns.clear()
        try:
            await asyncio.wait_for(all_final.wait(), GIVE_UP)
        except TimeoutError:
            pass
        drain = (max(finals) if len(finals) == total else time.time()) - started
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(client.aclose() for client in clients))
        for db, _, _ in tills:
            db.close()
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
            note=f"429 above {LIMIT}; probes included",
        ),
        Figure(f"{label}: 429 share", round(100 * limited, 2), "%", target="0", ok=limited == 0),
    ]


def virtual_figures(summary: Summary) -> list[Figure]:
    s = summary.scenario
    place = "fleet_slot set" if s.slotted else "no fleet_slot (random places)"
    skew = f", clocks {s.clock_skew * 1000:.0f} ms apart (σ)" if s.clock_skew else ""
    label = f"fleet {s.tills:,} tills, virtual, tills_sharing_key = {s.tills}, {place}{skew}"
    note = f"median of {summary.runs} runs, slowest {summary.drain_max:.1f} s; busiest second of all {summary.peak_max}"
    return figures(label, s.bound, summary.drain_median, summary.peak_median, summary.limited_share, summary.left, note)


def run() -> list[Figure]:
    # 500 tills in one process log 500 times what one till logs once (each refused probe, each 429).
    logging.getLogger("posplugin").setLevel(logging.ERROR)
    out: list[Figure] = []
    total = TILLS * OPS_PER_TILL
    bound = total / ADVISED_RATE
    with tempfile.TemporaryDirectory() as tmp, simulator(rate_limit=LIMIT, bulk_vouchers=2 * total) as (engage, ctl):
        for index, (label, sharing) in enumerate(
            (("tills_sharing_key = 1 (unset)", 1), (f"tills_sharing_key = {TILLS}, fleet_slot set", TILLS))
        ):
            m = asyncio.run(run_fleet(engage, ctl, Path(tmp), sharing, index * total))
            share = m.limited / max(1, m.requests)
            name = f"fleet {TILLS} tills, real, {label}"
            out += figures(name, bound, m.drain, m.peak, share, m.left)
            # What the gates released, before this one machine's commits and HTTP could bunch it up.
            out.append(Figure(f"{name}: peak of paced turns, busiest 1 s", m.turns_peak, "req/s", note="at the gates"))
            out.append(Figure(f"{name}: requests after the outage", m.requests, "", note=f"for {total} ops"))
    for tills in VIRTUAL_TILLS:
        scenario = Scenario(tills, OPS_PER_TILL, max_rate=MAX_RATE, probe_interval=PROBE_INTERVAL)
        for variant in (scenario, replace(scenario, clock_skew=CLOCK_SKEW), replace(scenario, slotted=False)):
            out += virtual_figures(summarize(variant, range(VIRTUAL_RUNS[tills])))
    return out


if __name__ == "__main__":
    for figure in run():
        print(figure)
