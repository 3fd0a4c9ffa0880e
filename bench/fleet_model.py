"""A fleet in virtual time: thousands of tills' pacing against the simulator's per-key limit, in one process.

Each till is paced by the production gate — ``posplugin.outbox.pacing.till_gate``: the ``Pacer`` token bucket
and, in a fleet, its ``FleetTurns`` on the shared clock — with its own seeded random source, driven the way the
agent drives it:

- The outage began long before; every till is offline and its probe loop runs as ``LoyaltyStatus.
  probe_forever`` with ``OutboxWorker.probe``: every ``probe_interval`` it waits for a paced turn, then sends
  its oldest due op as the probe (a refused connection takes the attempt back) or, with none, a GET. Probes
  are requests: after the outage the vendor counts them like any other.
- The outage ends at time 0. The first answer a till gets puts it online and wakes its worker, which kicks up
  to ``concurrency`` due ops; each waits its turn at the gate in order, then goes out.
- An answer comes after ``latency``; a 429 (``Retry-After: 1``, as the simulator sends) halves the pacer's rate,
  pauses it and makes the op due again after the Retry-After, as the store does.
- Each till's wall clock is off the true time by a normal draw of ``clock_skew`` seconds (NTP keeps real tills
  within milliseconds; a second is a till without it). Turns are kept on that clock; the vendor counts seconds
  on its own.

The limit is the simulator's own rule: requests per API key counted in whole seconds of the vendor's clock,
429 above ``limit_per_second``, the 429s counted too. What the model leaves out is the machine: SQLite commits,
HTTP and the event loop take no time here. The real 500-till run in ``bench_fleet`` measures the same scenario
with all of that, and the virtual one is printed next to it.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from posplugin.outbox.pacing import PacerGate, till_gate, till_rate

ADVISED_RATE = 50.0  # the vendor's "stay under": the bound is the total at this rate
PROBE = -1  # the gate item of a probe (ops are numbered from 0)


@dataclass(frozen=True)
class Scenario:
    tills: int
    ops_per_till: int = 2
    tills_sharing_key: int | None = None  # what the tills were told; None: the truth
    slotted: bool = True  # each till was given its own [offline] fleet_slot
    max_rate: float = 10.0  # [offline] max_requests_per_second
    probe_interval: float = 10.0  # [engage] probe_interval
    concurrency: int = 4
    latency: float = 0.005  # seconds for an answer
    limit_per_second: int = 200
    retry_after: float = 1.0
    outage: float = 3600.0  # seconds since each till's last request when the outage ends (at time 0)
    clock_skew: float = 0.0  # seconds: the spread (σ) of the tills' wall clocks around the true time

    @property
    def total(self) -> int:
        return self.tills * self.ops_per_till

    @property
    def bound(self) -> float:
        """The least time the fleet can take at the vendor's advised rate."""
        return self.total / ADVISED_RATE

    @property
    def told(self) -> int:
        return self.tills_sharing_key or self.tills

    @property
    def share(self) -> float:
        return till_rate(self.max_rate, self.told, self.slotted and self.told > 1)


def model_gate(scenario: Scenario, n: int, rng: random.Random) -> PacerGate:
    """Till ``n``'s gate as the agent builds it; the model passes its virtual readings to ``delay_at``/``take_at``
    and never lets it read a clock."""

    def no_clock() -> float:
        raise AssertionError("the virtual fleet passes its own times")

    slot = n % scenario.told if scenario.slotted else None
    return till_gate(scenario.max_rate, scenario.told, slot, rng, no_clock, no_clock)


@dataclass
class Result:
    drain: float
    requests: int  # after the outage, as the vendor counted them
    probes: int  # of those, GET probes
    limited: int
    peak: int
    left: int
    per_second: Counter[int] = field(repr=False)


@dataclass
class _Till:
    gate: PacerGate
    skew: float  # seconds its wall clock is off the true time
    due: list[float]  # when each of its ops is next due; done ops are +inf
    online: bool = False
    last_answer: float = -float("inf")
    queue: deque[int] = field(default_factory=deque)  # ops (and the probe) waiting for their turn, in order
    inflight: set[int] = field(default_factory=set)
    gate_scheduled: bool = False


def simulate(scenario: Scenario, seed: int) -> Result:
    rng = random.Random(f"fleet-{scenario.tills}-{seed}")
    second_phase = rng.random()  # where the vendor's whole seconds fall against the outage's end
    tills = []
    for n in range(scenario.tills):
        till_rng = random.Random(f"till-{seed}-{n}")
        skew = rng.gauss(0.0, scenario.clock_skew) if scenario.clock_skew else 0.0
        tills.append(_Till(model_gate(scenario, n, till_rng), skew, [-scenario.outage] * scenario.ops_per_till))
    events: list[tuple[float, int, str, int, int]] = []  # (time, order, what, till, item)
    order = 0

    def at(time: float, what: str, till: int, item: int = PROBE) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (time, order, what, till, item))

    # Long enough before the end of the outage that every till's probe loop is in its steady rhythm.
    start = -3 * max(scenario.probe_interval, 1 / scenario.share) - scenario.probe_interval
    for n, till in enumerate(tills):
        # It was trading an hour before: its bucket comes back as after any idle spell.
        then = -scenario.outage
        then += till.gate.delay_at(then, then + till.skew)
        till.gate.take_at(then, then + till.skew)
        at(start + rng.uniform(0, scenario.probe_interval), "probe", n)

    per_second: Counter[int] = Counter()
    requests = probes = limited = done = 0
    last_done = 0.0

    def send(now: float, n: int, item: int) -> None:
        """A request leaves till ``n`` at ``now``: down before 0, then counted against the key's limit."""
        nonlocal requests, probes, limited
        if now < 0:
            at(now + scenario.latency, "down", n, item)
            return
        second = int(now + second_phase)
        per_second[second] += 1
        requests += 1
        probes += item == PROBE
        ok = per_second[second] <= scenario.limit_per_second
        limited += not ok
        at(now + scenario.latency, "answer" if ok else "429", n, item)

    def kick(n: int, now: float) -> None:
        till = tills[n]
        free = scenario.concurrency - sum(1 for k in till.inflight if k != PROBE)
        for k, due in enumerate(till.due):
            if free <= 0:
                break
            if due <= now and k not in till.inflight:
                till.inflight.add(k)
                till.queue.append(k)
                free -= 1
        serve(n, now)

    def serve(n: int, now: float) -> None:
        till = tills[n]
        till.gate_scheduled = False
        if not till.queue:
            return
        wait = till.gate.delay_at(now, now + till.skew)
        if wait > 0:
            till.gate_scheduled = True
            at(now + wait, "gate", n)
            return
        till.gate.take_at(now, now + till.skew)
        item = till.queue.popleft()
        if item == PROBE:
            till.inflight.discard(PROBE)
            head = next((k for k, due in enumerate(till.due) if due <= now and k not in till.inflight), None)
            if not till.online and head is not None:
                till.inflight.add(head)  # the oldest due op is the probe
                item = head
            else:
                at(now + scenario.latency, "probed", n)  # when the probe loop sleeps again
        send(now, n, item)
        if till.queue and not till.gate_scheduled:
            till.gate_scheduled = True
            at(now, "gate", n)

    give_up = 20 * scenario.bound + 600  # a drain still running then is reported with what is left
    while events and done < scenario.total:
        now, _, what, n, item = heapq.heappop(events)
        if now > give_up:
            break
        till = tills[n]
        if what == "probe":
            if not till.online or now - till.last_answer >= scenario.probe_interval:
                till.inflight.add(PROBE)
                till.queue.append(PROBE)
                if not till.gate_scheduled:
                    serve(n, now)
            else:
                at(now + scenario.probe_interval, "probe", n)
        elif what == "gate":
            serve(n, now)
        elif what == "down":  # refused: an op that probed is taken back, still due; the loop sleeps again
            if item != PROBE:
                till.inflight.discard(item)
                at(now + scenario.probe_interval, "probe", n)
        elif what == "probed":
            at(now + scenario.probe_interval, "probe", n)
        elif what == "answer":
            till.gate.pacer.succeeded(now)
            till.last_answer = now
            was_probe = not till.online and item != PROBE and scenario.probe_interval > 0
            if item != PROBE:
                till.inflight.discard(item)
                till.due[item] = float("inf")
                done += 1
                last_done = now
                if was_probe:
                    at(now + scenario.probe_interval, "probe", n)
            till.online = True
            kick(n, now)
        elif what == "429":
            till.gate.pacer.rate_limited(now, scenario.retry_after)
            if item != PROBE:
                till.inflight.discard(item)
                till.due[item] = now + scenario.retry_after
                at(till.due[item], "wake", n)
                if not till.online:
                    at(now + scenario.probe_interval, "probe", n)
        elif what == "wake" and till.online:
            kick(n, now)
    peak = max((v for s, v in per_second.items()), default=0)
    return Result(last_done, requests, probes, limited, peak, scenario.total - done, per_second)


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
    probes_per_run: float


def summarize(scenario: Scenario, seeds: Sequence[int]) -> Summary:
    results = [simulate(scenario, seed) for seed in seeds]
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
        sum(r.probes for r in results) / len(results),
    )


def describe(s: Summary) -> str:
    sc = s.scenario
    place = "slots" if sc.slotted else "random places"
    return (
        f"{sc.tills:>6} tills told {sc.told:>6}, {place:<13}, skew {sc.clock_skew:g} s: drain {s.drain_median:7.1f} s "
        f"(max {s.drain_max:7.1f}) = {s.drain_median / sc.bound:4.2f}× the {sc.bound:.0f} s bound; peak "
        f"{s.peak_median:5.1f} req/s (max {s.peak_max}); 429 {100 * s.limited_share:5.2f} %; "
        f"{s.probes_per_run:.0f} GET probes; {s.runs} runs"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tills", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--told", type=int, default=None, help="tills_sharing_key the tills were given")
    parser.add_argument("--random-places", action="store_true", help="no fleet_slot set: random places")
    parser.add_argument("--skew", type=float, default=0.0, help="σ of the tills' clocks, seconds")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    for tills in args.tills:
        scenario = Scenario(tills, tills_sharing_key=args.told, slotted=not args.random_places, clock_skew=args.skew)
        print(describe(summarize(scenario, range(args.runs))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
