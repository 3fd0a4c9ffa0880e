"""Engage answered, the database refused the write: the answer is retried into the database, and a person's
Retry or Park acts on an op stuck in SENDING."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from posplugin.database import Database
from posplugin.events import EventBus
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox import worker as worker_module
from posplugin.outbox.model import CONFIRMED, PARKED, SENDING, UNKNOWN, Confirmed, Op
from posplugin.outbox.store import OutboxStore
from posplugin.outbox.worker import OutboxWorker


class CountingExecutor:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, op: Op, attempts: object) -> Confirmed:
        self.sent += 1
        return Confirmed()

    async def reconcile(self, op: Op, attempts: object) -> Confirmed:
        return Confirmed("reconciled")


class FlakyStore(OutboxStore):
    """The real store, whose ``apply`` fails the first ``failures`` times as SQLite does under pressure."""

    def __init__(self, *args: Any, failures: list[Exception], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failures = failures

    async def apply(self, *args: Any, **kwargs: Any) -> Op:
        if self.failures:
            raise self.failures.pop(0)
        return await super().apply(*args, **kwargs)


@pytest.mark.parametrize(
    "error", [sqlite3.OperationalError("database is locked"), sqlite3.OperationalError("database or disk is full")]
)
def test_an_answer_that_cannot_be_written_is_written_later(tmp_path: Path, monkeypatch: Any, error: Exception) -> None:
    monkeypatch.setattr(worker_module, "WRITE_RETRY_FIRST", 0.01)

    async def main() -> tuple[Op, int]:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = FlakyStore(db, 10, 3600, failures=[error] * 4)
        executor = CountingExecutor()
        worker = OutboxWorker(store, {VOUCHER_REDEEM: executor}, LoyaltyStatus(3), EventBus(), lambda: 1000.0)
        try:
            await store.capture(op_id="o", kind=VOUCHER_REDEEM, target_id="t", contact_id="c", now=1000.0)
            op = await asyncio.wait_for(worker.kick("o"), 5)
            return op, executor.sent
        finally:
            db.close()

    op, sent = asyncio.run(main())
    assert op.state == CONFIRMED and sent == 1  # recorded, and never sent a second time


def test_retry_and_park_act_on_an_op_stuck_in_sending(tmp_path: Path) -> None:
    async def main() -> tuple[Op, Op, list[Any]]:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = OutboxStore(db, 10, 3600)
        try:
            for name in ("a", "b"):
                await store.capture(op_id=name, kind=VOUCHER_REDEEM, target_id=name, contact_id="c", now=1.0)
                begun = await store.begin_attempt(name, 2.0)
                assert begun is not None and begun[0].state == SENDING
            retried = await store.retry("a", 3.0)
            parked = await store.park("b", 3.0)
            return retried, parked, await store.attempts("a")
        finally:
            db.close()

    retried, parked, attempts = asyncio.run(main())
    assert retried.state == UNKNOWN and retried.reason == "retried_by_user"  # reconciled before any re-send
    assert (parked.state, parked.parked_from) == (PARKED, UNKNOWN)
    assert attempts[0].outcome == "unknown:retried_by_user" and attempts[0].finished_at == 3.0
