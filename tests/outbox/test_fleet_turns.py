"""A fleet's turns on the shared wall clock (``fleet_turns``) and the gate that combines them with the bucket,
driven by fake clocks: no sleeps, every reading chosen by the test."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.outbox.fleet_turns import FleetTurns, slot_phase
from posplugin.outbox.pacing import FLEET_BUDGET, UNSLOTTED_BUDGET, Pacer, PacerGate, till_gate, till_rate

# The most turns of a slotted fleet in any one second: the budget, and one more for a second that begins exactly
# on a turn.
BUDGET_SECOND = math.floor(FLEET_BUDGET) + 1


class Clocks:
    """A true (monotonic) time and a wall clock that may be stepped away from it."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.mono = start
        self.offset = 0.0

    def wall(self) -> float:
        return self.mono + self.offset


def turn_of(gate: PacerGate, clocks: Clocks) -> float:
    """Wait (on the fake clocks) for the gate's next turn, take it, return the true time it went."""
    for _ in range(10_000):
        wait = gate.delay_at(clocks.mono, clocks.wall())
        if wait <= 0:
            gate.take_at(clocks.mono, clocks.wall())
            return clocks.mono
        clocks.mono += wait
    raise AssertionError("the gate never gave a turn")


def slotted_gate(n: int, tills: int, clocks: Clocks) -> PacerGate:
    return till_gate(10.0, tills, n, random.Random(f"till-{n}"), lambda: clocks.mono, clocks.wall)


def test_slots_are_spread_evenly_over_one_interval() -> None:
    share = till_rate(10.0, 500, slotted=True)
    phases = [slot_phase(s, 500, share) for s in range(500)]
    assert phases[0] == 0.0
    assert max(phases) < 1 / share
    assert all(b - a == pytest.approx(1 / FLEET_BUDGET) for a, b in itertools.pairwise(phases))
    with pytest.raises(ValueError, match="slot must be 0-499"):
        slot_phase(500, 500, share)


@pytest.mark.parametrize("tills", [2, 47, 500, 5000])
def test_a_slotted_fleet_coming_back_at_once_never_puts_more_than_the_budget_in_a_second(tills: int) -> None:
    """Every till of the fleet has two ops and sees the vendor again in the same instant (an outage's end)."""
    clocks = [Clocks() for _ in range(tills)]
    gates = [slotted_gate(n, tills, clocks[n]) for n in range(tills)]
    back = 1_000_000.0 + 3600.0
    sends: list[float] = []
    for gate, c in zip(gates, clocks, strict=True):
        c.mono = back
        sends += [turn_of(gate, c), turn_of(gate, c)]
    share = till_rate(10.0, tills, slotted=True)
    per_second = Counter(int(t) for t in sends)
    assert max(per_second.values()) <= math.floor(share * tills) + 1
    assert max(per_second.values()) <= BUDGET_SECOND
    # Each till's two requests within two of its intervals: the fleet drains at its budget from the start.
    assert max(sends) - back <= 2 / share + 1e-6


def test_without_slots_places_are_random_and_the_budget_lower() -> None:
    clocks = [Clocks() for _ in range(500)]
    gates = [
        till_gate(10.0, 500, None, random.Random(f"t{n}"), lambda c=c: c.mono, c.wall) for n, c in enumerate(clocks)
    ]
    assert gates[0].pacer.share == UNSLOTTED_BUDGET / 500
    firsts = [turn_of(g, c) - 1_000_000.0 for g, c in zip(gates, clocks, strict=True)]
    assert 0 <= min(firsts) and max(firsts) <= 500 / UNSLOTTED_BUDGET
    assert len({round(f, 6) for f in firsts}) == 500  # each its own place


def test_a_till_alone_has_no_turns_only_its_bucket() -> None:
    clocks = Clocks()
    gate = till_gate(10.0, 1, None, random.Random(1), lambda: clocks.mono, clocks.wall)
    assert gate.turns is None and gate.pacer.share == 10.0


def test_a_busy_queue_missing_its_next_turn_by_a_little_takes_it_and_by_more_waits_for_the_one_after() -> None:
    turns = FleetTurns(0.1, phase=3.0)  # turns at 3, 13, 23, … (an interval of 10 s: late by up to 1 s)
    assert turns.delay(2.0) == pytest.approx(1.0)
    turns.take(3.0)
    assert turns.delay(13.9) == 0.0  # the next turn, 0.9 s late (a slow commit): still its turn
    turns.take(13.9)
    assert turns.delay(14.0) == pytest.approx(9.0)  # one turn, once
    assert turns.delay(24.5) == pytest.approx(8.5)  # 1.5 s late: that turn is gone, the next is at 33


def test_after_idleness_a_till_waits_for_its_next_turn_and_never_takes_one_just_gone() -> None:
    """Tills that come back in the same instant must not each take the turn that passed a moment ago."""
    turns = FleetTurns(0.1, phase=3.0)
    assert turns.delay(3.5) == pytest.approx(9.5)
    turns.take(13.0)
    assert turns.delay(33.2) == pytest.approx(9.8)  # idle for a turn: the next one, not the one at 33


def test_a_caller_that_waited_for_its_turn_takes_it_though_its_sleep_woke_a_little_late() -> None:
    """An asyncio sleep wakes a few milliseconds after its deadline: that must not cost a whole interval (a
    till that chased the next turn each time would never send at all)."""
    turns = FleetTurns(0.1, phase=3.0)
    assert turns.delay(2.0) == pytest.approx(1.0)
    assert turns.delay(3.004) == 0.0
    turns.take(3.004)
    assert turns.delay(3.01) == pytest.approx(9.99)


def test_a_wall_clock_step_back_forgets_turns_ahead_and_does_not_freeze() -> None:
    turns = FleetTurns(0.1, phase=3.0)
    turns.take(turns.delay(3.0) + 3.0)
    turns.take(13.0)
    # The clock steps back an hour: the turns taken "in the future" mean nothing, the next comes within one.
    assert turns.delay(13.0 - 3600) <= 10.0


def test_a_wall_clock_step_forward_skips_the_turns_it_jumps_over() -> None:
    turns = FleetTurns(0.1, phase=3.0)
    turns.take(3.0)
    after = 3.0 + 3600 + 5.0  # five seconds after a turn: gone; the next one only
    assert turns.delay(after) == pytest.approx(5.0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["turn", "idle", "step", "429"]),
            st.floats(min_value=-7200, max_value=7200, allow_nan=False),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(min_value=0, max_value=499),
)
def test_whatever_the_wall_clock_does_a_fleet_till_stays_within_its_share(
    steps: list[tuple[str, float]], slot: int
) -> None:
    """Over any true-time window of W seconds the gate gives at most share × W + burst turns, however the wall
    clock steps; and the next turn is never further than the wall clock's step plus two intervals away."""
    clocks = Clocks()
    gate = slotted_gate(slot, 500, clocks)
    pacer = gate.pacer
    sent: list[float] = []
    for what, amount in steps:
        if what == "turn":
            before = clocks.mono
            sent.append(turn_of(gate, clocks))
            assert sent[-1] - before <= 2 / pacer.share + 2 / pacer.rate + 1e-6  # no freeze
        elif what == "idle":
            clocks.mono += abs(amount)
        elif what == "step":
            clocks.offset += amount
        else:
            pacer.rate_limited(clocks.mono, 1.0)
    for i, start in enumerate(sent):
        for j in range(i, len(sent)):
            window = sent[j] - start
            assert j - i + 1 <= pacer.share * window + pacer.burst + 1e-9


def test_a_comeback_in_a_fleet_finds_a_full_bucket_so_the_turn_and_not_the_bucket_decides() -> None:
    """A bucket refilled only just in time would keep a till that was once late, late ever after, off its slot."""
    pacer = Pacer(0.1, random.Random(3), spread=False)
    assert pacer.delay(0.0) == 0.0
    pacer.take(0.0)
    pacer.take(5.0 + 3600.0)  # a comeback after an hour: a full bucket (two), not a random fraction
    assert pacer.delay(5.0 + 3600.0) == 0.0
