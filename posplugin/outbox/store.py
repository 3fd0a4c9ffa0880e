"""The outbox in SQLite. Every change is one ``BEGIN IMMEDIATE`` transaction on the database thread, committed
with ``synchronous=FULL`` before the caller hears about it: capture is on disk before the POS is told anything,
and an attempt row is on disk before its request goes on the wire.

``next_attempt_at`` and ``park_deadline`` are on the schedule clock (``steady_clock``), not the wall clock, so a
wall-clock step neither freezes the queue nor parks it as too old; the ``now`` the callers pass is the wall
clock and only stamps rows (created, updated, attempt times).
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..database import Database, transaction
from .model import (
    CAPTURED,
    CONFIRMED,
    CONFLICT,
    LIVE_STATES,
    NEEDS_A_PERSON,
    PARKED,
    REJECTED,
    RESOLVED,
    SENDING,
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
from .steady_clock import SteadyClock

BACKOFF_MIN = 10.0
BACKOFF_MAX = 300.0


class OpIdConflict(Exception):
    """The opId exists for another operation."""

    def __init__(self, existing: Op) -> None:
        super().__init__(existing.op_id)
        self.existing = existing


class TargetBusy(Exception):
    """Another operation on the same voucher (or purchase) is still live."""

    def __init__(self, live: Op) -> None:
        super().__init__(live.op_id)
        self.live = live


class OpStateError(Exception):
    """A person's action (retry, park, resolve) that does not apply to the op's current state."""

    def __init__(self, op: Op, action: str) -> None:
        super().__init__(f"{action} does not apply to an op in state {op.state}")
        self.op = op
        self.action = action


def request_digest(request: Mapping[str, Any]) -> str:
    """What an opId stands for: the identifying part of the POS's request, canonically hashed."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Backoff:
    minimum: float = BACKOFF_MIN
    maximum: float = BACKOFF_MAX

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Uniform between the minimum and min(maximum, minimum·2ⁿ⁻¹): full jitter above a floor, so a fleet
        coming back from an outage spreads out instead of retrying in step."""
        ceiling = min(self.maximum, self.minimum * 2 ** max(0, failures - 1))
        return (rng or random).uniform(self.minimum, max(self.minimum, ceiling))


@dataclass(frozen=True)
class Transition:
    state: str
    reason: str | None
    delay: float | None  # seconds until the next attempt, for live states


def next_state(op: Op, outcome: Outcome, backoff: float) -> Transition:
    """The state machine of design.md as a pure function (the stateful tests drive it directly too)."""
    if isinstance(outcome, Confirmed):
        return Transition(CONFIRMED, None, None)
    if isinstance(outcome, Refused):
        # Once the POS was told "queued" the sale went ahead: a later refusal needs a person.
        return Transition(CONFLICT if op.reported_queued else REJECTED, outcome.reason, None)
    if isinstance(outcome, Conflict):
        return Transition(CONFLICT, outcome.reason, None)
    if isinstance(outcome, Unknown):
        return Transition(UNKNOWN, outcome.why, backoff)
    if isinstance(outcome, NotSent):
        return Transition(CAPTURED, outcome.why, outcome.retry_after if outcome.retry_after is not None else backoff)
    if isinstance(outcome, Resend):
        return Transition(CAPTURED, outcome.why, 0.0)
    raise TypeError(f"unknown outcome {outcome!r}")  # pragma: no cover


def _row(conn: sqlite3.Connection, op_id: str) -> Op | None:
    row = conn.execute("SELECT * FROM ops WHERE op_id = ?", (op_id,)).fetchone()
    return Op.from_row(row) if row else None


def _require(conn: sqlite3.Connection, op_id: str) -> Op:
    op = _row(conn, op_id)
    if op is None:
        raise KeyError(op_id)
    return op


class OutboxStore:
    def __init__(
        self,
        db: Database,
        max_attempts: int,
        park_after_seconds: float,
        backoff: Backoff | None = None,
        schedule: SteadyClock | None = None,
    ) -> None:
        self.db = db
        self.schedule = schedule or SteadyClock(time.time, time.monotonic)
        self.backoff = backoff or Backoff()
        self._rng = random.Random()  # noqa: S311 - jitter, not a secret; own instance, not the global one
        self.max_attempts = max_attempts
        self.park_after = park_after_seconds
        # Told after an op is added, retried or parked (the worker publishes its own transitions), so an open
        # panel's queue count follows at once.
        self.on_change: Callable[[], None] | None = None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # ---- capture ---------------------------------------------------------------------------------------

    async def capture(
        self,
        *,
        op_id: str,
        kind: str,
        target_id: str,
        contact_id: str,
        now: float,
        request: Mapping[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        state: str = CAPTURED,
        reason: str | None = None,
        reported_queued: bool = False,
        offline: bool = False,
    ) -> tuple[Op, bool]:
        """Insert the op durably; returns (op, created). An opId already captured for the same ``request``
        returns that op unchanged, however the two calls raced (a POS retry, a double tap); the same opId for
        another request is ``OpIdConflict``. Values made per call (a purchase id, a transactionId) are not part
        of the request, so the first capture's values are the ones kept. Without ``request`` the op stands for
        its target and contact (a voucher redeem)."""
        digest = request_digest(_request(kind, target_id, contact_id, request))

        def body(conn: sqlite3.Connection) -> tuple[Op, bool]:
            existing = _row(conn, op_id)
            if existing is not None:
                if not same_request(existing, kind, contact_id, digest):
                    raise OpIdConflict(existing)
                return existing, False
            if state in LIVE_STATES:
                live = conn.execute(
                    "SELECT * FROM ops WHERE target_id = ? AND state IN (?, ?, ?)", (target_id, *LIVE_STATES)
                ).fetchone()
                if live is not None:
                    raise TargetBusy(Op.from_row(live))
            steady = self.schedule.persist(conn)
            conn.execute(
                "INSERT INTO ops(op_id, kind, target_id, contact_id, payload, state, reason, reported_queued, offline,"
                " next_attempt_at, park_deadline, created_at, updated_at, request_digest)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    op_id,
                    kind,
                    target_id,
                    contact_id,
                    json.dumps(payload or {}),
                    state,
                    reason,
                    int(reported_queued),
                    int(offline),
                    steady,
                    steady + self.park_after,
                    now,
                    now,
                    digest,
                ),
            )
            return _require(conn, op_id), True

        op, created = await self.db.run(lambda conn: transaction(conn, body))
        if created:
            self._changed()
        return op, created

    # ---- attempts --------------------------------------------------------------------------------------

    async def begin_attempt(self, op_id: str, now: float) -> tuple[Op, int] | None:
        """CAPTURED → SENDING with an attempt row, committed before the request goes out. ``None`` when the op
        is no longer CAPTURED (someone else took it, or it was parked)."""

        def body(conn: sqlite3.Connection) -> tuple[Op, int] | None:
            op = _row(conn, op_id)
            if op is None or op.state != CAPTURED:
                return None
            n = op.attempts + 1
            conn.execute(
                "UPDATE ops SET state = ?, attempts = ?, updated_at = ? WHERE op_id = ?", (SENDING, n, now, op_id)
            )
            conn.execute("INSERT INTO attempts(op_id, n, started_at) VALUES (?,?,?)", (op_id, n, now))
            return _require(conn, op_id), n

        return await self.db.run(lambda conn: transaction(conn, body))

    async def withdraw_attempt(self, op_id: str, attempt: int, now: float) -> Op:
        """Take back an attempt that never reached the vendor (the connection was refused): the op is as it was
        before it, CAPTURED and due, with the attempt neither counted nor kept. For the background's sends: a
        vendor that is down costs a queued op neither its attempts nor a growing backoff (the pacing and the
        probe's interval space its tries). It is still parked once too old, as any live op is."""

        def body(conn: sqlite3.Connection) -> Op:
            op = _require(conn, op_id)
            if op.state != SENDING or op.attempts != attempt:
                return op  # someone else moved it meanwhile (a person's Park): theirs stands
            conn.execute("DELETE FROM attempts WHERE op_id = ? AND n = ?", (op_id, attempt))
            too_old = self.schedule.persist(conn) >= op.park_deadline
            conn.execute(
                "UPDATE ops SET state = ?, reason = ?, parked_from = ?, attempts = ?, updated_at = ? WHERE op_id = ?",
                (PARKED, "too_old", CAPTURED, attempt - 1, now, op_id)
                if too_old
                else (CAPTURED, op.reason, None, attempt - 1, now, op_id),
            )
            return _require(conn, op_id)

        return await self.db.run(lambda conn: transaction(conn, body))

    async def apply(
        self,
        op_id: str,
        outcome: Outcome,
        now: float,
        *,
        attempt: int | None = None,
        server_offset: float | None = None,
        http_status: int | None = None,
        rng: random.Random | None = None,
    ) -> Op:
        """Record what an attempt (or a reconciliation, ``attempt=None``) ended in, and move the op on."""

        def body(conn: sqlite3.Connection) -> Op:
            op = _require(conn, op_id)
            if op.state not in LIVE_STATES:
                return op  # already final or parked (e.g. by a person): a late answer changes nothing
            failures = conn.execute(
                "SELECT count(*) FROM attempts WHERE op_id = ? AND outcome NOT LIKE 'confirmed%'", (op_id,)
            ).fetchone()[0]
            step = next_state(op, outcome, self.backoff.delay(int(failures) + 1, rng or self._rng))
            if attempt is not None:
                conn.execute(
                    "UPDATE attempts SET finished_at = ?, outcome = ?, http_status = ?, server_offset = ? "
                    "WHERE op_id = ? AND n = ?",
                    (now, _describe(outcome), http_status, server_offset, op_id, attempt),
                )
            state, reason, parked_from = step.state, step.reason, None
            steady = self.schedule.persist(conn)
            if state in LIVE_STATES and (op.attempts >= self.max_attempts or steady >= op.park_deadline):
                parked_from = state
                reason = "too_many_attempts" if op.attempts >= self.max_attempts else "too_old"
                state = PARKED
            delay = step.delay if step.delay is not None else 0.0
            conn.execute(
                "UPDATE ops SET state = ?, reason = ?, parked_from = ?, backoff = ?, next_attempt_at = ?,"
                " updated_at = ? WHERE op_id = ?",
                (state, reason, parked_from, delay, steady + delay, now, op_id),
            )
            return _require(conn, op_id)

        return await self.db.run(lambda conn: transaction(conn, body))

    async def attempts(self, op_id: str) -> list[Attempt]:
        def read(conn: sqlite3.Connection) -> list[Attempt]:
            rows = conn.execute(
                "SELECT n, started_at, finished_at, outcome, server_offset FROM attempts WHERE op_id = ? ORDER BY n",
                (op_id,),
            ).fetchall()
            return [Attempt(r["n"], r["started_at"], r["finished_at"], r["outcome"], r["server_offset"]) for r in rows]

        return await self.db.run(read)

    async def mark_reported_queued(self, op_id: str, now: float) -> Op:
        """The POS is about to hear "queued": remember it (atomically with respect to the worker's answer)."""

        def body(conn: sqlite3.Connection) -> Op:
            conn.execute(
                "UPDATE ops SET reported_queued = 1, updated_at = ? WHERE op_id = ? AND state IN (?, ?, ?)",
                (now, op_id, *LIVE_STATES),
            )
            return _require(conn, op_id)

        return await self.db.run(lambda conn: transaction(conn, body))

    # ---- queries ---------------------------------------------------------------------------------------

    async def get(self, op_id: str) -> Op | None:
        return await self.db.run(lambda conn: _row(conn, op_id))

    def is_due(self, op: Op) -> bool:
        return op.next_attempt_at <= self.schedule.now() + 0.001

    async def due(self, limit: int, exclude: set[str]) -> list[Op]:
        def read(conn: sqlite3.Connection) -> list[Op]:
            rows = conn.execute(
                "SELECT * FROM ops WHERE state IN (?, ?) AND next_attempt_at <= ? ORDER BY created_at LIMIT ?",
                (CAPTURED, UNKNOWN, self.schedule.read(conn), limit + len(exclude)),
            ).fetchall()
            return [op for op in (Op.from_row(r) for r in rows) if op.op_id not in exclude][:limit]

        return await self.db.run(read)

    async def next_due_in(self) -> float | None:
        """Seconds until the next op is due (negative when overdue); ``None`` with nothing waiting."""

        def read(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT min(next_attempt_at) FROM ops WHERE state IN (?, ?)", (CAPTURED, UNKNOWN)
            ).fetchone()
            return float(row[0]) - self.schedule.read(conn) if row and row[0] is not None else None

        return await self.db.run(read)

    async def find(
        self, op_id: str, kind: str, contact_id: str, request: Mapping[str, Any] | None = None, target_id: str = ""
    ) -> Op | None:
        """The op already captured under ``op_id`` for this request, None when there is none; ``OpIdConflict``
        when the opId was used for another request."""
        digest = request_digest(_request(kind, target_id, contact_id, request))
        existing = await self.get(op_id)
        if existing is not None and not same_request(existing, kind, contact_id, digest):
            raise OpIdConflict(existing)
        return existing

    async def ops_for_target(self, target_id: str) -> list[Op]:
        def read(conn: sqlite3.Connection) -> list[Op]:
            rows = conn.execute("SELECT * FROM ops WHERE target_id = ? ORDER BY created_at", (target_id,)).fetchall()
            return [Op.from_row(r) for r in rows]

        return await self.db.run(read)

    async def last_confirmed(self, target_id: str) -> Op | None:
        def read(conn: sqlite3.Connection) -> Op | None:
            row = conn.execute(
                "SELECT * FROM ops WHERE target_id = ? AND state = ? ORDER BY updated_at DESC LIMIT 1",
                (target_id, CONFIRMED),
            ).fetchone()
            return Op.from_row(row) if row else None

        return await self.db.run(read)

    async def count_live_offline(self) -> int:
        return await self.db.run(
            lambda c: int(
                c.execute("SELECT count(*) FROM ops WHERE offline = 1 AND state IN (?, ?, ?)", LIVE_STATES).fetchone()[
                    0
                ]
            )
        )

    async def counts(self, now: float | None = None) -> dict[str, int]:
        now = time.time() if now is None else now

        def read(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT state, count(*) AS n FROM ops GROUP BY state").fetchall()
            by_state = {r["state"]: int(r["n"]) for r in rows}
            oldest = conn.execute("SELECT min(created_at) FROM ops WHERE state IN (?, ?, ?)", LIVE_STATES).fetchone()[0]
            return {
                "pending": sum(by_state.get(s, 0) for s in LIVE_STATES),
                "parked": by_state.get(PARKED, 0),
                "conflict": by_state.get(CONFLICT, 0),
                "sending": by_state.get(SENDING, 0),
                "oldestPendingAt": int(oldest) if oldest is not None else 0,
                "oldestPendingAgeSeconds": round(now - oldest) if oldest is not None else 0,
            }

        return await self.db.run(read)

    async def listing(self, limit: int = 200) -> list[Op]:
        """Ops a person may need to see: live, parked and in conflict, oldest first."""

        def read(conn: sqlite3.Connection) -> list[Op]:
            rows = conn.execute(
                "SELECT * FROM ops WHERE state IN (?, ?, ?, ?, ?) ORDER BY created_at LIMIT ?",
                (*LIVE_STATES, PARKED, CONFLICT, limit),
            ).fetchall()
            return [Op.from_row(r) for r in rows]

        return await self.db.run(read)

    # ---- recovery and manual actions ------------------------------------------------------------------

    async def recover(self, now: float) -> int:
        """At start-up: an op left SENDING may have reached Engage before the crash, so it is UNKNOWN."""

        def body(conn: sqlite3.Connection) -> int:
            conn.execute(
                "UPDATE attempts SET finished_at = ?, outcome = 'unknown:agent_stopped' WHERE finished_at IS NULL "
                "AND op_id IN (SELECT op_id FROM ops WHERE state = ?)",
                (now, SENDING),
            )
            cursor = conn.execute(
                "UPDATE ops SET state = ?, reason = 'agent_stopped', next_attempt_at = ?, updated_at = ? "
                "WHERE state = ?",
                (UNKNOWN, self.schedule.persist(conn), now, SENDING),
            )
            return cursor.rowcount

        return await self.db.run(lambda conn: transaction(conn, body))

    async def retry(self, op_id: str, now: float) -> Op:
        """A person asks to try again: a parked op resumes where it was parked (UNKNOWN still reconciles first);
        a waiting one is tried now. An op stuck in SENDING (its answer could not be written) becomes UNKNOWN:
        reconciled, never re-sent blindly; the worker never runs an op twice at once, so this is safe even if its
        request is still out. Anything else (a final op) is ``OpStateError``."""

        def body(conn: sqlite3.Connection) -> Op:
            op = _require(conn, op_id)
            steady = self.schedule.persist(conn)
            if op.state == SENDING:
                _sending_to_unknown(conn, op_id, now, "retried_by_user")
                conn.execute("UPDATE ops SET next_attempt_at = ? WHERE op_id = ?", (steady, op_id))
            elif op.state == PARKED:
                conn.execute(
                    "UPDATE ops SET state = ?, reason = NULL, parked_from = NULL, next_attempt_at = ?,"
                    " park_deadline = ?, attempts = 0, updated_at = ? WHERE op_id = ?",
                    (op.parked_from or UNKNOWN, steady, steady + self.park_after, now, op_id),
                )
            elif op.state in (CAPTURED, UNKNOWN):
                conn.execute("UPDATE ops SET next_attempt_at = ?, updated_at = ? WHERE op_id = ?", (steady, now, op_id))
            else:
                raise OpStateError(op, "retry")
            return _require(conn, op_id)

        op = await self.db.run(lambda conn: transaction(conn, body))
        self._changed()
        return op

    async def park(self, op_id: str, now: float, reason: str = "parked_by_user") -> Op:
        def body(conn: sqlite3.Connection) -> Op:
            op = _require(conn, op_id)
            if op.state == SENDING:  # may have reached Engage: parked as unknown, for a person to settle
                _sending_to_unknown(conn, op_id, now, reason)
                op = _require(conn, op_id)
            if op.state not in (CAPTURED, UNKNOWN):
                raise OpStateError(op, "park")
            conn.execute(
                "UPDATE ops SET state = ?, parked_from = ?, reason = ?, updated_at = ? WHERE op_id = ?",
                (PARKED, op.state, reason, now, op_id),
            )
            return _require(conn, op_id)

        op = await self.db.run(lambda conn: transaction(conn, body))
        self._changed()
        return op

    async def keep_in_payload(self, op_id: str, key: str, value: str) -> None:
        """Keep one step's result in the op, durably, before the next step (a reward's code between issuing and
        redeeming it: after a crash the op goes on with that reward instead of issuing another)."""

        def body(conn: sqlite3.Connection) -> None:
            op = _require(conn, op_id)
            payload = {**op.payload, key: value}
            conn.execute("UPDATE ops SET payload = ? WHERE op_id = ?", (json.dumps(payload), op_id))

        await self.db.run(lambda conn: transaction(conn, body))

    async def held_by_another(self, key: str, value: str, op_id: str) -> bool:
        """Does an op other than ``op_id`` keep ``value`` under ``key`` in its payload?"""
        path = "$." + key

        def read(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM ops WHERE json_extract(payload, ?) = ? AND op_id != ? LIMIT 1", (path, value, op_id)
            ).fetchone()
            return row is not None

        return bool(await self.db.run(read))

    async def resolve(self, op_id: str, note: str, now: float) -> Op:
        """A person settled a conflict or a parked op (e.g. checked Engage, gave goodwill points): the op ends
        RESOLVED with their note; its reason and attempts stay as history."""

        def body(conn: sqlite3.Connection) -> Op:
            op = _require(conn, op_id)
            if op.state not in NEEDS_A_PERSON:
                raise OpStateError(op, "resolve")
            conn.execute(
                "UPDATE ops SET state = ?, parked_from = ?, note = ?, resolved_at = ?, updated_at = ? WHERE op_id = ?",
                (RESOLVED, op.state, note, now, now, op_id),
            )
            return _require(conn, op_id)

        op = await self.db.run(lambda conn: transaction(conn, body))
        self._changed()
        return op


def _request(kind: str, target_id: str, contact_id: str, request: Mapping[str, Any] | None) -> dict[str, Any]:
    identity = dict(request) if request is not None else {"target": target_id}
    return {"kind": kind, "contact": contact_id, **identity}


def same_request(existing: Op, kind: str, contact_id: str, digest: str) -> bool:
    if existing.request_digest:
        return existing.request_digest == digest
    return (existing.kind, existing.contact_id) == (kind, contact_id)  # captured before digests were kept


def _sending_to_unknown(conn: sqlite3.Connection, op_id: str, now: float, reason: str) -> None:
    conn.execute(
        "UPDATE attempts SET finished_at = ?, outcome = ? WHERE op_id = ? AND finished_at IS NULL",
        (now, f"unknown:{reason}", op_id),
    )
    conn.execute("UPDATE ops SET state = ?, reason = ?, updated_at = ? WHERE op_id = ?", (UNKNOWN, reason, now, op_id))


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, Confirmed):
        return f"confirmed:{outcome.detail}"
    if isinstance(outcome, Refused):
        return f"refused:{outcome.reason}"
    if isinstance(outcome, Conflict):
        return f"conflict:{outcome.reason}"
    if isinstance(outcome, Unknown):
        return f"unknown:{outcome.why}"
    if isinstance(outcome, NotSent):
        return f"not_sent:{outcome.why}"
    return f"resend:{outcome.why}"
