"""The background drain's pacing, driven by a fake monotonic clock: no sleeps, every reading chosen by the test."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.outbox.pacing import FLEET_BUDGET, RATE_FLOOR, UNSLOTTED_BUDGET, Pacer, till_rate


def send_when_allowed(pacer: Pacer, now: float) -> float:
    """Wait (on the fake clock) for the pacer's turn from ``now``, take it, and return when that was."""
    while (wait := pacer.delay(now)) > 0:
        now += wait
    pacer.take(now)
    return now


def first_request_times(pacers: list[Pacer], now: float) -> list[float]:
    return [send_when_allowed(p, now) - now for p in pacers]


def test_a_till_takes_its_share_of_the_key_budget() -> None:
    assert till_rate(10.0, 1) == 10.0
    assert till_rate(10.0, 8) == UNSLOTTED_BUDGET / 8  # a random place: a budget chance keeps under 50
    assert till_rate(10.0, 500) == 0.08
    assert till_rate(10.0, 8, slotted=True) == FLEET_BUDGET / 8 == 5.625  # turns by slot: the budget is exact
    assert till_rate(10.0, 2, slotted=True) == 10.0  # never above the till's own cap
    assert till_rate(10.0, 0) == 10.0  # nonsense is treated as a till alone, not a division by zero


def test_a_till_alone_drains_at_its_cap() -> None:
    pacer = Pacer(till_rate(10.0, 1), random.Random("till-1"))
    sends = [send_when_allowed(pacer, 0.0)]
    for _ in range(99):
        sends.append(send_when_allowed(pacer, sends[-1]))
    assert sends[0] <= 0.1  # the first one within one interval
    assert sends[-1] - sends[0] == pytest.approx(9.9)  # then exactly ten a second
    assert min(b - a for a, b in itertools.pairwise(sends)) == pytest.approx(0.1)


def test_first_requests_of_a_fleet_are_spread_over_one_interval() -> None:
    pacers = [Pacer(till_rate(10.0, 500), random.Random(f"till-{n}")) for n in range(500)]
    firsts = first_request_times(pacers, 1000.0)
    assert 0 <= min(firsts) and max(firsts) <= 12.5
    per_second = Counter(int(f) for f in firsts)
    assert max(per_second.values()) < 80  # about 40 a second, not 500 at once


def test_a_comeback_after_an_outage_is_spread_like_a_first_start_not_a_burst() -> None:
    """Tills that were busy before an outage see the vendor again in the same instant: their buckets are not full."""
    pacers = [Pacer(till_rate(10.0, 500), random.Random(f"till-{n}")) for n in range(500)]
    for p in pacers:
        send_when_allowed(p, 0.0)
    back = 3600.0
    firsts = first_request_times(pacers, back)
    seconds = [send_when_allowed(p, back + f) - back for p, f in zip(pacers, firsts, strict=True)]  # asked at once
    assert 0 < min(firsts) and max(firsts) <= 12.5
    assert max(Counter(int(f) for f in firsts).values()) < 80
    assert min(s - f for f, s in zip(firsts, seconds, strict=True)) >= 12.5 - 1e-9  # no till sends two at once


def test_a_busy_queue_that_comes_late_catches_up_one_turn_and_no_more() -> None:
    """A slow commit held the queue for an interval: the next two go at once, the third waits its turn."""
    pacer = Pacer(1.0, random.Random(8))
    sent = send_when_allowed(pacer, 0.0)
    late = sent + 2.0
    assert pacer.delay(late) == 0
    pacer.take(late)
    assert pacer.delay(late) == 0
    pacer.take(late)
    assert pacer.delay(late) == pytest.approx(1.0)


def test_an_idle_queue_saves_no_turns_for_later() -> None:
    """Idle well beyond a full bucket is a comeback: less than one turn in hand, not two."""
    pacer = Pacer(1.0, random.Random(9))
    sent = send_when_allowed(pacer, 0.0)
    back = sent + 2.0 + 1.0 + 0.5  # full after 2 s, then idle for more than one interval (and 1 s)
    first = send_when_allowed(pacer, back)
    assert first > back
    assert pacer.delay(first) == pytest.approx(1.0)


def test_a_monotonic_jump_forward_earns_no_burst() -> None:
    """A suspended VM or laptop resumes: hours pass at once on the monotonic clock."""
    pacer = Pacer(2.0, random.Random(3), burst=2.0)
    send_when_allowed(pacer, 0.0)
    jumped = 10 * 3600.0
    sends = [send_when_allowed(pacer, jumped)]
    for _ in range(2):
        sends.append(send_when_allowed(pacer, sends[-1]))  # asked for at once, every time
    assert sends[0] > jumped  # started a random way towards a token, not with a full bucket
    assert [b - a for a, b in itertools.pairwise(sends)] == pytest.approx([0.5, 0.5])


def test_a_seam_that_steps_back_earns_nothing_and_freezes_nothing() -> None:
    pacer = Pacer(1.0, random.Random(4))
    sent = send_when_allowed(pacer, 100.0)
    assert pacer.delay(sent - 50.0) == pytest.approx(1.0)  # still one interval to go, counted from the new reading
    assert pacer.delay(sent - 49.75) == pytest.approx(0.75)
    pacer.rate_limited(sent - 49.75, retry_after=10.0)
    assert 10.0 <= pacer.delay(sent - 3000.0) <= 12.0  # the Retry-After pause moved back with the seam


def test_429_honours_retry_after_plus_jitter_and_halves_the_rate() -> None:
    pacer = Pacer(10.0, random.Random(1))
    sent = send_when_allowed(pacer, 100.0)
    pacer.rate_limited(sent, retry_after=2.0)
    assert pacer.rate == 5.0
    assert 2.0 <= pacer.delay(sent) <= 2.0 + 0.2  # Retry-After, then up to one (halved) interval of jitter
    assert send_when_allowed(pacer, sent) >= sent + 2.0


def test_a_long_retry_after_is_honoured_in_full() -> None:
    pacer = Pacer(10.0, random.Random(2))
    sent = send_when_allowed(pacer, 0.0)
    pacer.rate_limited(sent, retry_after=120.0)
    assert pacer.delay(sent + 119.0) >= 1.0
    assert send_when_allowed(pacer, sent + 119.0) >= sent + 120.0


def test_repeated_429s_slow_down_to_a_floor_and_successes_recover() -> None:
    pacer = Pacer(10.0, random.Random(5))
    for n in range(10):
        pacer.rate_limited(float(n), retry_after=1.0)
    assert pacer.rate == 10.0 * RATE_FLOOR
    pacer2 = Pacer(10.0, random.Random(5))
    pacer2.rate_limited(0.0, retry_after=1.0)
    for n in range(9):
        pacer2.succeeded(1.0 + n)
    assert pacer2.rate == pytest.approx(9.5)
    for n in range(5):
        pacer2.succeeded(20.0 + n)
    assert pacer2.rate == 10.0  # never above the share


def test_taking_a_turn_that_has_not_come_is_refused() -> None:
    pacer = Pacer(1.0, random.Random(6))
    sent = send_when_allowed(pacer, 0.0)
    with pytest.raises(RuntimeError, match="no token"):
        pacer.take(sent + 0.5)
    pacer.rate_limited(sent + 1.0, retry_after=5.0)
    with pytest.raises(RuntimeError, match="no token"):
        pacer.take(sent + 3.0)


@pytest.mark.parametrize(("share", "burst"), [(0.0, 1.0), (-1.0, 1.0), (float("nan"), 1.0), (1.0, 0.5)])
def test_nonsense_settings_are_refused(share: float, burst: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Pacer(share, random.Random(7), burst=burst)


def test_jitter_comes_from_the_tills_own_source_not_the_global_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def global_random_used(*args: object) -> float:
        raise AssertionError("the global random state was used")

    for name in ("random", "uniform", "seed"):
        monkeypatch.setattr(random, name, global_random_used)
    a = Pacer(0.5, random.Random("till-a"))
    b = Pacer(0.5, random.Random("till-a"))
    c = Pacer(0.5, random.Random("till-c"))
    assert a.delay(0.0) == b.delay(0.0) != c.delay(0.0)  # reproducible per till, different between tills
    a.rate_limited(0.0, 1.0)


# ---- the window bound, whatever happens ------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.sampled_from(["asap", "try", "429", "ok"]),
        st.one_of(st.just(0.0), st.floats(0, 5), st.floats(0, 5000)),  # fake-clock gap before the step
        st.floats(0, 30),  # Retry-After
        st.booleans(),  # the seam steps back by the gap instead of forward
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    share=st.floats(0.01, 50),
    burst=st.floats(1, 4),
    seed=st.integers(0, 2**32),
    plan=steps,
)
def test_over_any_window_a_till_sends_at_most_share_times_w_plus_burst(
    share: float, burst: float, seed: int, plan: list[tuple[str, float, float, bool]]
) -> None:
    pacer = Pacer(share, random.Random(seed), burst=burst)
    now, elapsed, sends = 1000.0, 0.0, []  # elapsed: the time the seam moved forward, which alone earns tokens

    def move(to: float) -> None:
        nonlocal now, elapsed
        elapsed += max(0.0, to - now)
        now = to

    for action, gap, retry_after, back in plan:
        move(now - gap if back else now + gap)
        if action == "asap":
            while (wait := pacer.delay(now)) > 0:
                move(now + wait)
            pacer.take(now)
            sends.append(elapsed)
        elif action == "try" and pacer.delay(now) == 0:
            pacer.take(now)
            sends.append(elapsed)
        elif action == "429":
            pacer.rate_limited(now, retry_after)
        elif action == "ok":
            pacer.succeeded(now)
        assert pacer.rate <= share
    for i, start in enumerate(sends):
        for j in range(i, len(sends)):
            count = j - i + 1
            assert count <= share * (sends[j] - start + count * 1e-6) + burst + 1e-9  # 1 µs rounding per turn
