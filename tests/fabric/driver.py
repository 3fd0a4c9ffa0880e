"""A small in-memory outbox for the fabric executors: the worker's order of send and reconcile, the store's
attempt rows and state transitions, and a redemptionCode kept in the op's payload (as the real store will)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from posplugin.outbox.model import (
    CAPTURED,
    CONFIRMED,
    CONFLICT,
    REJECTED,
    UNKNOWN,
    Attempt,
    Confirmed,
    Conflict,
    NotSent,
    Op,
    Outcome,
    Refused,
    Resend,
    Unknown,
)


class Executor(Protocol):
    async def send(self, op: Op, attempts: list[Attempt]) -> Outcome: ...
    async def reconcile(self, op: Op, attempts: list[Attempt]) -> Outcome: ...


@dataclass
class Breaker:
    successes: int = 0
    failures: list[str] = field(default_factory=list)

    def record_success(self) -> None:
        self.successes += 1

    def record_failure(self, exc: Exception) -> None:
        self.failures.append(type(exc).__name__)


def make_op(op_id: str, kind: str, payload: dict[str, Any], contact: str = "") -> Op:
    now = time.time()
    return Op(op_id, kind, op_id, contact, payload, CAPTURED, None, None, False, False, 0, 0.0, now, now + 3600,
              now, now)  # fmt: skip


def describe(outcome: Outcome) -> str:
    names = {Confirmed: "confirmed", Refused: "refused", Conflict: "conflict", Unknown: "unknown"}
    names |= {NotSent: "not_sent", Resend: "resend"}
    detail = getattr(outcome, "detail", None) or getattr(outcome, "reason", None) or getattr(outcome, "why", "")
    return f"{names[type(outcome)]}:{detail}"


class MemoryOutbox:
    def __init__(self) -> None:
        self.ops: dict[str, Op] = {}
        self.attempts: dict[str, list[Attempt]] = {}
        self.log: list[str] = []

    def add(self, op: Op) -> None:
        self.ops[op.op_id] = op
        self.attempts[op.op_id] = []

    # RewardCodes
    async def save(self, op_id: str, code: str) -> None:
        op = self.ops[op_id]
        self.ops[op_id] = replace(op, payload={**op.payload, "redemptionCode": code})

    async def claimed(self, code: str, op_id: str) -> bool:
        return any(o.payload.get("redemptionCode") == code for o in self.ops.values() if o.op_id != op_id)

    def _apply(self, op_id: str, outcome: Outcome) -> None:
        op = self.ops[op_id]
        self.log.append(describe(outcome))
        if isinstance(outcome, Confirmed):
            state, reason = CONFIRMED, None
        elif isinstance(outcome, Refused):
            state, reason = REJECTED, outcome.reason
        elif isinstance(outcome, Conflict):
            state, reason = CONFLICT, outcome.reason
        elif isinstance(outcome, Unknown):
            state, reason = UNKNOWN, outcome.why
        else:
            state, reason = CAPTURED, getattr(outcome, "why", None)
        self.ops[op_id] = replace(self.ops[op_id], state=state, reason=reason, attempts=op.attempts + 1)

    async def step(self, executor: Executor, op_id: str) -> str:
        """One worker pass: reconcile if UNKNOWN, send if CAPTURED, reconcile at once after an unanswered send."""
        if self.ops[op_id].state == UNKNOWN:
            self._apply(op_id, await executor.reconcile(self.ops[op_id], self.attempts[op_id]))
        if self.ops[op_id].state == CAPTURED:
            rows = self.attempts[op_id]
            rows.append(Attempt(len(rows) + 1, time.time(), None, None, None))
            outcome = await executor.send(self.ops[op_id], rows)
            rows[-1] = replace(rows[-1], finished_at=time.time(), outcome=describe(outcome))
            self._apply(op_id, outcome)
            if isinstance(outcome, Unknown):
                self._apply(op_id, await executor.reconcile(self.ops[op_id], rows))
        return self.ops[op_id].state

    async def run(self, executor: Executor, op_id: str, passes: int = 6) -> Op:
        for _ in range(passes):
            if await self.step(executor, op_id) in (CONFIRMED, REJECTED, CONFLICT):
                break
        return self.ops[op_id]
