"""A fleet in virtual time: thousands of tills' pacers against the simulator's per-key limit, in one process.

Each till is the production ``posplugin.outbox.pacing.Pacer`` with its own seeded random source, driven the way
``OutboxWorker`` drives it. Its last request went out an hour before the outage ended; when the till's probe
sees Engage again (at a random moment within the probe interval) the worker is woken, kicks up to
``concurrency`` due ops, and each waits its turn at the pacer in order (the gate), then goes out. The answer comes
back after ``latency``; a 429 (``Retry-After: 1``, as the simulator sends) halves the pacer's rate, pauses it and
makes the op due again after the Retry-After, as the store does. The limit is the simulator's own rule: requests
per API key counted in whole wall-clock seconds, 429 above ``limit_per_second``, the 429s counted too.

What it leaves out is the machine: SQLite commits, HTTP and the event loop take no time here. The real 500-till
run in ``bench_fleet`` measures the same scenario with all of that, and the virtual one is printed next to it.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from posplugin.outbox.pacing import Pacer, till_rate

ADVISED_RATE = 50.0  # the vendor's "stay under": the bound is the total at this rate


class Pacing(Protocol):
    def delay(self, now: float) -> float: ...
    def take(self, now: float) -> None: ...
    def rate_limited(self, now: float, retry_after: float) -> None: ...
    def succeeded(self, now: float) -> None: ...


@dataclass(frozen=True)
class Scenario:
    tills: int
    ops_per_till: int = 2
    tills_sharing_key: int | None = None  # what the tills were told; None: the truth
    max_rate: float = 10.0  # [offline] max_requests_per_second
    probe_interval: float = 10.0  # each till sees Engage again at a random moment within it
    concurrency: int = 4
    latency: float = 0.005  # seconds for an answer
    limit_per_second: int = 200
    retry_after: float = 1.0
    outage: float = 3600.0  # seconds since each till's last request when the outage ends (at time 0)

    @property
    def total(self) -> int:
        return self.tills * self.ops_per_till

    @property
    def bound(self) -> float:
        """The least time the fleet can take at the vendor's advised rate."""
        return self.total / ADVISED_RATE

    @property
    def share(self) -> float:
        return till_rate(self.max_rate, self.tills_sharing_key or self.tills)


@dataclass
class Result:
    drain: float
    requests: int
    limited: int
    peak: int
    left: int
    per_second: Counter[int] = field(repr=False)


def production_pacer(share: float, rng: random.Random) -> Pacing:
    return Pacer(share, rng)


def last_sent_at(pacer: Pacing, when: float) -> None:
    """Put a pacer in the state of a till whose last paced request went out at ``when``."""
    pacer.take(when + pacer.delay(when))


@dataclass
class _Till:
    pacer: Pacing
    due: list[float]  # when each of its ops is next due; done ops are removed
    gate: deque[int] = field(default_factory=deque)  # ops waiting for their turn, in order
    inflight: set[int] = field(default_factory=set)
    gate_scheduled: bool = False


def simulate(
    scenario: Scenario, seed: int, pacer: Callable[[float, random.Random], Pacing] = production_pacer
) -> Result:
    rng = random.Random(f"fleet-{scenario.tills}-{seed}")
    second_phase = rng.random()  # where the wall clock's whole seconds fall against the outage's end
    tills = [
        _Till(pacer(scenario.share, random.Random(f"till-{seed}-{n}")), [0.0] * scenario.ops_per_till)
        for n in range(scenario.tills)
    ]
    events: list[tuple[float, int, str, int, int]] = []  # (time, order, what, till, op)
    order = 0

    def at(time: float, what: str, till: int, op: int = -1) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (time, order, what, till, op))

    for n, till in enumerate(tills):
        last_sent_at(till.pacer, -scenario.outage)
        at(rng.uniform(0, scenario.probe_interval), "wake", n)

    per_second: Counter[int] = Counter()
    window: dict[int, int] = {}
    requests = limited = done = 0
    last_done = 0.0
    while events:
        now, _, what, n, op = heapq.heappop(events)
        till = tills[n]
        if what == "wake":  # the worker's tick: due ops join the gate, up to its concurrency
            free = scenario.concurrency - len(till.inflight)
            for k, due in enumerate(till.due):
                if free <= 0:
                    break
                if due <= now and k not in till.inflight:
                    till.inflight.add(k)
                    till.gate.append(k)
                    free -= 1
            what = "gate"
        if what == "gate":
            till.gate_scheduled = False
            if not till.gate:
                continue
            wait = till.pacer.delay(now)
            if wait > 0:
                till.gate_scheduled = True
                at(now + wait, "gate", n)
                continue
            till.pacer.take(now)
            k = till.gate.popleft()
            second = int(now + second_phase)
            per_second[second] += 1
            window[second] = window.get(second, 0) + 1
            requests += 1
            ok = window[second] <= scenario.limit_per_second
            limited += not ok
            at(now + scenario.latency, "answer" if ok else "429", n, k)
            if till.gate and not till.gate_scheduled:
                till.gate_scheduled = True
                at(now, "gate", n)
        elif what == "answer":
            till.pacer.succeeded(now)
            till.inflight.discard(op)
            till.due[op] = float("inf")
            done += 1
            last_done = now
            at(now, "wake", n)
        elif what == "429":
            till.pacer.rate_limited(now, scenario.retry_after)
            till.inflight.discard(op)
            till.due[op] = now + scenario.retry_after
            at(till.due[op], "wake", n)
    return Result(last_done, requests, limited, max(per_second.values(), default=0), scenario.total - done, per_second)


@dataclass(frozen=True)
class Summary:
    scenario: Scenario
    runs: int
    drain_median: float
    drain_max: float
    peak_median: float
    peak_max: int
    limited_share: float
    left: int


def summarize(
    scenario: Scenario, seeds: Sequence[int], pacer: Callable[[float, random.Random], Pacing] = production_pacer
) -> Summary:
    results = [simulate(scenario, seed, pacer) for seed in seeds]
    requests = sum(r.requests for r in results)
    return Summary(
        scenario,
        len(results),
        statistics.median(r.drain for r in results),
        max(r.drain for r in results),
        statistics.median(r.peak for r in results),
        max(r.peak for r in results),
        sum(r.limited for r in results) / max(1, requests),
        sum(r.left for r in results),
    )


def describe(s: Summary) -> str:
    sc = s.scenario
    told = sc.tills_sharing_key or sc.tills
    return (
        f"{sc.tills:>6} tills told {told:>6}: drain {s.drain_median:7.1f} s (max {s.drain_max:7.1f}) "
        f"= {s.drain_median / sc.bound:4.2f}× the {sc.bound:.0f} s bound; peak {s.peak_median:5.1f} req/s "
        f"(max {s.peak_max}); 429 {100 * s.limited_share:5.2f} %; {s.runs} runs"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tills", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--told", type=int, default=None, help="tills_sharing_key the tills were given")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    for tills in args.tills:
        print(describe(summarize(Scenario(tills, tills_sharing_key=args.told), range(args.runs))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
