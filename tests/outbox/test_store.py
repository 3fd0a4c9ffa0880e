"""The outbox store on a real SQLite file: capture, attempts, recovery, parking, backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.cli import main
from posplugin.database import Database
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.outbox.model import CAPTURED, CONFIRMED, PARKED, SENDING, UNKNOWN, Confirmed, NotSent, Refused, Unknown
from posplugin.outbox.steady_clock import SteadyClock
from posplugin.outbox.store import Backoff, OpIdConflict, OutboxStore, TargetBusy

V1, V2 = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
C = "2b4fff30-49b2-5f21-90c6-f247ea8de82a"


class Clocks:
    """A wall clock and a monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = 1000.0
        self.mono = 50.0

    def elapse(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def store(tmp_path: Path, clocks: Clocks) -> Iterator[OutboxStore]:
    db = Database(tmp_path / "data" / "posplugin.sqlite3")
    db.open()
    schedule = SteadyClock(lambda: clocks.wall, lambda: clocks.mono)
    yield OutboxStore(db, max_attempts=3, park_after_seconds=3600, backoff=Backoff(10, 300), schedule=schedule)
    db.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def capture(store: OutboxStore, op_id: str, target: str = V1, now: float = 1000.0, **kw: Any) -> Any:
    return run(store.capture(op_id=op_id, kind=VOUCHER_REDEEM, target_id=target, contact_id=C, now=now, **kw))


def test_capture_is_idempotent_and_one_live_op_per_target(store: OutboxStore) -> None:
    op, created = capture(store, "a")
    assert created and op.state == CAPTURED
    again, created = capture(store, "a")
    assert not created and again == op
    with pytest.raises(TargetBusy):
        capture(store, "b")
    with pytest.raises(OpIdConflict):
        capture(store, "a", target=V2)


def test_crash_while_sending_recovers_as_unknown(store: OutboxStore) -> None:
    capture(store, "a")
    op, n = run(store.begin_attempt("a", 1001.0))
    assert (op.state, n) == (SENDING, 1)
    assert run(store.begin_attempt("a", 1001.0)) is None  # nobody else can start it
    assert run(store.recover(1005.0)) == 1
    recovered = run(store.get("a"))
    assert recovered.state == UNKNOWN and recovered.reason == "agent_stopped"
    attempts = run(store.attempts("a"))
    assert attempts[0].finished_at == 1005.0 and attempts[0].outcome == "unknown:agent_stopped"


def test_refusal_after_queued_is_conflict(store: OutboxStore) -> None:
    capture(store, "a", reported_queued=True)
    run(store.begin_attempt("a", 1001.0))
    op = run(store.apply("a", Refused("expired"), 1002.0, attempt=1))
    assert (op.state, op.reason) == ("CONFLICT", "expired")


def test_mark_reported_queued_only_while_live(store: OutboxStore) -> None:
    capture(store, "a")
    run(store.begin_attempt("a", 1001.0))
    run(store.apply("a", Confirmed(), 1002.0, attempt=1))
    op = run(store.mark_reported_queued("a", 1003.0))
    assert op.state == CONFIRMED and not op.reported_queued


def test_backoff_and_parking_after_max_attempts(store: OutboxStore, clocks: Clocks) -> None:
    capture(store, "a")
    for attempt in (1, 2):
        run(store.begin_attempt("a", clocks.wall))
        op = run(store.apply("a", NotSent("engage_unreachable"), clocks.wall, attempt=attempt, rng=random.Random(1)))
        delay = run(store.next_due_in())
        assert op.state == CAPTURED and 10 <= delay <= 300
        clocks.elapse(delay - 0.01)
        assert run(store.due(4, set())) == []
        clocks.elapse(0.01)
        assert [o.op_id for o in run(store.due(4, set()))] == ["a"]
    now = clocks.wall
    run(store.begin_attempt("a", now))
    op = run(store.apply("a", Unknown("no_answer"), now, attempt=3))
    assert (op.state, op.parked_from, op.reason) == (PARKED, UNKNOWN, "too_many_attempts")
    retried = run(store.retry("a", now + 1))
    assert retried.state == UNKNOWN and retried.attempts == 0  # resumes by reconciling, never a blind re-send


def test_parking_when_too_old(store: OutboxStore, clocks: Clocks) -> None:
    capture(store, "a")
    clocks.elapse(3600)
    run(store.begin_attempt("a", clocks.wall))
    op = run(store.apply("a", NotSent("engage_unreachable"), clocks.wall, attempt=1))
    assert (op.state, op.reason) == (PARKED, "too_old")


@pytest.mark.parametrize("step_days", [-3, -1, 1, 4, 30])
def test_a_wall_clock_step_neither_delays_a_retry_nor_parks_as_too_old(
    store: OutboxStore, clocks: Clocks, step_days: int
) -> None:
    capture(store, "a")
    run(store.begin_attempt("a", clocks.wall))
    run(store.apply("a", NotSent("engage_unreachable"), clocks.wall, attempt=1, rng=random.Random(1)))
    delay = run(store.next_due_in())
    clocks.wall += step_days * 86400  # NTP at boot, an RTC in local time: the wall clock jumps, time does not
    clocks.elapse(delay)
    assert [o.op_id for o in run(store.due(4, set()))] == ["a"]
    run(store.begin_attempt("a", clocks.wall))
    op = run(store.apply("a", NotSent("engage_unreachable"), clocks.wall, attempt=2))
    assert op.state == CAPTURED and op.reason == "engage_unreachable"


def test_the_schedule_continues_across_a_restart_and_counts_the_stop(tmp_path: Path, clocks: Clocks) -> None:
    path = tmp_path / "db.sqlite3"

    def open_store() -> tuple[Database, OutboxStore]:
        db = Database(path)
        db.open()
        return db, OutboxStore(db, 30, 3600, schedule=SteadyClock(lambda: clocks.wall, lambda: clocks.mono))

    db, first = open_store()
    capture(first, "a", now=clocks.wall)
    db.close()
    clocks.wall += 1800  # stopped for half an hour (the monotonic clock of a new boot restarts from anywhere)
    clocks.mono = 5.0
    db, second = open_store()
    run(second.begin_attempt("a", clocks.wall))
    assert run(second.apply("a", NotSent("x"), clocks.wall, attempt=1)).state == CAPTURED
    clocks.elapse(1800)
    run(second.retry("a", clocks.wall))
    run(second.begin_attempt("a", clocks.wall))
    assert run(second.apply("a", NotSent("x"), clocks.wall, attempt=2)).reason == "too_old"
    db.close()


def test_late_answer_does_not_change_a_parked_op(store: OutboxStore) -> None:
    capture(store, "a")
    run(store.begin_attempt("a", 1001.0))
    run(store.recover(1002.0))
    run(store.park("a", 1003.0))
    assert run(store.apply("a", Confirmed(), 1004.0)).state == PARKED


@given(st.integers(1, 50), st.integers(0, 2**32))
def test_full_jitter_stays_within_bounds(failures: int, seed: int) -> None:
    delay = Backoff(10, 300).delay(failures, random.Random(seed))
    assert 10 <= delay <= min(300, 10 * 2 ** (failures - 1))


def test_queue_cli_lists_retries_and_parks(
    tmp_path: Path, store: OutboxStore, capsys: pytest.CaptureFixture[str]
) -> None:
    capture(store, "op-cli")
    config = tmp_path / "c.toml"
    config.write_text(f'[agent]\ndata_dir = "{tmp_path / "data"}"\nlog_dir = "{tmp_path / "logs"}"\n')
    assert main(["queue", "list", "--config", str(config)]) == 0
    assert "op-cli" in capsys.readouterr().out
    assert main(["queue", "park", "op-cli", "--config", str(config)]) == 0
    assert "op-cli: parked (parked_by_user)" in capsys.readouterr().out
    assert main(["queue", "retry", "op-cli", "--config", str(config)]) == 0
    assert "op-cli: queued" in capsys.readouterr().out
    assert main(["queue", "retry", "nope", "--config", str(config)]) == 1
