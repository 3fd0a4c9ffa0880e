"""Outbox rows, attempt rows and what an attempt can end in.

Row states follow design.md: ``CAPTURED → SENDING → CONFIRMED | REJECTED | UNKNOWN``; ``UNKNOWN`` is reconciled
by a GET before anything is sent again; too old or too many attempts → ``PARKED``. What the POS sees of an op
(its smaller vocabulary, the fields of its kind) is not the outbox's business: ``posplugin.loyalty.kinds``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CAPTURED, SENDING, UNKNOWN = "CAPTURED", "SENDING", "UNKNOWN"
CONFIRMED, REJECTED, CONFLICT, PARKED = "CONFIRMED", "REJECTED", "CONFLICT", "PARKED"
RESOLVED = "RESOLVED"  # a person settled a conflict or a parked op, with a note; the op keeps its history
LIVE_STATES = (CAPTURED, SENDING, UNKNOWN)
FINAL_STATES = (CONFIRMED, REJECTED, CONFLICT, RESOLVED)
NEEDS_A_PERSON = (PARKED, CONFLICT)


@dataclass(frozen=True)
class Op:
    op_id: str
    kind: str
    target_id: str
    contact_id: str
    payload: dict[str, Any]
    state: str
    reason: str | None
    parked_from: str | None
    reported_queued: bool
    offline: bool
    attempts: int
    backoff: float
    next_attempt_at: float
    park_deadline: float
    created_at: float
    updated_at: float
    request_digest: str = ""
    note: str | None = None
    resolved_at: float | None = None

    @classmethod
    def from_row(cls, row: Any) -> Op:
        return cls(
            op_id=row["op_id"],
            kind=row["kind"],
            target_id=row["target_id"],
            contact_id=row["contact_id"],
            payload=json.loads(row["payload"] or "{}"),
            state=row["state"],
            reason=row["reason"],
            parked_from=row["parked_from"],
            reported_queued=bool(row["reported_queued"]),
            offline=bool(row["offline"]),
            attempts=int(row["attempts"]),
            backoff=float(row["backoff"]),
            next_attempt_at=float(row["next_attempt_at"]),
            park_deadline=float(row["park_deadline"]),
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
            request_digest=row["request_digest"],
            note=row["note"],
            resolved_at=float(row["resolved_at"]) if row["resolved_at"] is not None else None,
        )

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES


@dataclass(frozen=True)
class Attempt:
    n: int
    started_at: float
    finished_at: float | None
    outcome: str | None
    server_offset: float | None


# ---- outcomes of one attempt or reconciliation ------------------------------------------------------------


@dataclass(frozen=True)
class Confirmed:
    detail: str = "confirmed"


@dataclass(frozen=True)
class Refused:
    """Engage said no; ``reason`` is the snake_case reason the POS sees."""

    reason: str
    http_status: int | None = None


@dataclass(frozen=True)
class Conflict:
    reason: str


@dataclass(frozen=True)
class Unknown:
    """The request may have been processed: reconcile before any re-send."""

    why: str
    http_status: int | None = None


@dataclass(frozen=True)
class NotSent:
    """Nothing was processed (connect error, 429, auth): send again later."""

    why: str
    retry_after: float | None = None
    http_status: int | None = None
    unreached: bool = False  # no connection was made: the vendor never saw the request


@dataclass(frozen=True)
class Resend:
    """Reconciliation proved nothing happened: the op goes back to CAPTURED and is sent again."""

    why: str = "not_processed"


Outcome = Confirmed | Refused | Conflict | Unknown | NotSent | Resend
