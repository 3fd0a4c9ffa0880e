"""Outbox rows, attempt rows and what an attempt can end in.

Row states follow design.md: ``CAPTURED → SENDING → CONFIRMED | REJECTED | UNKNOWN``; ``UNKNOWN`` is reconciled
by a GET before anything is sent again; too old or too many attempts → ``PARKED``. The POS sees a smaller
vocabulary (``api_state``): done, queued, rejected, conflict, parked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..texts import reason_text
from ..timestamps import iso

CAPTURED, SENDING, UNKNOWN = "CAPTURED", "SENDING", "UNKNOWN"
CONFIRMED, REJECTED, CONFLICT, PARKED = "CONFIRMED", "REJECTED", "CONFLICT", "PARKED"
RESOLVED = "RESOLVED"  # a person settled a conflict or a parked op, with a note; the op keeps its history
LIVE_STATES = (CAPTURED, SENDING, UNKNOWN)
FINAL_STATES = (CONFIRMED, REJECTED, CONFLICT, RESOLVED)
NEEDS_A_PERSON = (PARKED, CONFLICT)

VOUCHER_REDEEM = "voucher_redeem"
VOUCHER_REACTIVATE = "voucher_reactivate"
POINT_SHOP_PURCHASE = "point_shop_purchase"
SALE_RECEIPT = "sale_receipt"
POINT_ADJUSTMENT = "point_adjustment"
KINDS = (VOUCHER_REDEEM, VOUCHER_REACTIVATE, POINT_SHOP_PURCHASE, SALE_RECEIPT, POINT_ADJUSTMENT)
DONE_WORD = {
    VOUCHER_REDEEM: "redeemed",
    VOUCHER_REACTIVATE: "completed",
    POINT_SHOP_PURCHASE: "completed",
    SALE_RECEIPT: "delivered",
    POINT_ADJUSTMENT: "completed",
}


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

    @property
    def api_state(self) -> str:
        if self.state == CONFIRMED:
            return DONE_WORD[self.kind]
        if self.state in LIVE_STATES:
            return "queued"
        return self.state.lower()

    def to_json(self, language: str = "en") -> dict[str, Any]:
        """The op as the POS sees it (the ``OpView`` of the API contract), on every path: answers, queue, events."""
        body: dict[str, Any] = {
            "opId": self.op_id,
            "kind": self.kind,
            "state": self.api_state,
            "contactId": self.contact_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "attempts": self.attempts,
        }
        if self.kind == POINT_SHOP_PURCHASE:
            body["itemId"] = self.payload.get("itemId")
            body["purchaseId"] = self.target_id
        elif self.kind == SALE_RECEIPT:
            body["receiptId"] = self.target_id
        elif self.kind == POINT_ADJUSTMENT:
            body["transactionId"] = self.target_id
            body["amount"] = self.payload.get("amount")
        else:
            body["voucherId"] = self.target_id
        if self.reason:
            body["reason"] = self.reason
            if not self.is_live:
                body["reasonText"] = reason_text(self.reason, language)
        if self.is_live:
            body["nextAttemptAt"] = iso(self.next_attempt_at)
        if self.state == RESOLVED:
            body["note"] = self.note or ""
            if self.resolved_at is not None:
                body["resolvedAt"] = iso(self.resolved_at)
        return body


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


@dataclass(frozen=True)
class Resend:
    """Reconciliation proved nothing happened: the op goes back to CAPTURED and is sent again."""

    why: str = "not_processed"


Outcome = Confirmed | Refused | Conflict | Unknown | NotSent | Resend
