"""The kinds of operation the agent runs through the outbox, and what the POS sees of an op of each kind.

The outbox itself knows no kinds: it stores rows and runs the executor the composition root registered for a
row's kind. What a kind means to the POS — the word for "done", the field that names its target, the payload
fields it shows — is declared here once, as data, for every kind (a new kind is a new entry, not a new branch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..outbox.model import CONFIRMED, LIVE_STATES, RESOLVED, Op
from ..texts import reason_text
from ..timestamps import iso

VOUCHER_REDEEM = "voucher_redeem"
VOUCHER_REACTIVATE = "voucher_reactivate"
POINT_SHOP_PURCHASE = "point_shop_purchase"
SALE_RECEIPT = "sale_receipt"
POINT_ADJUSTMENT = "point_adjustment"
SALE_EARN = "sale_earn"
REWARD_REDEEM = "reward_redeem"
REWARD_REVERSE = "reward_reverse"


@dataclass(frozen=True)
class OpKind:
    done_word: str  # the state the POS sees once the vendor confirmed it
    target_field: str  # the name under which the op's target id is shown
    payload_fields: tuple[str, ...] = ()  # payload values shown as they are


KINDS: dict[str, OpKind] = {
    VOUCHER_REDEEM: OpKind("redeemed", "voucherId"),
    VOUCHER_REACTIVATE: OpKind("completed", "voucherId"),
    POINT_SHOP_PURCHASE: OpKind("completed", "purchaseId", ("itemId",)),
    SALE_RECEIPT: OpKind("delivered", "receiptId"),
    POINT_ADJUSTMENT: OpKind("completed", "transactionId", ("amount",)),
    SALE_EARN: OpKind("delivered", "receiptId"),
    # A reward's target is its own op (each reward stands alone); its undo targets the reward op.
    REWARD_REDEEM: OpKind("redeemed", "rewardId", ("amount", "redemptionCode")),
    REWARD_REVERSE: OpKind("completed", "rewardId", ("redemptionCode",)),
}


def public_state(op: Op) -> str:
    """The POS's smaller vocabulary: the kind's done word, queued, rejected, conflict, parked, resolved."""
    if op.state == CONFIRMED:
        return KINDS[op.kind].done_word
    if op.state in LIVE_STATES:
        return "queued"
    return op.state.lower()


def op_view(op: Op, language: str = "en") -> dict[str, Any]:
    """The op as the POS sees it (the ``OpView`` of the API contract), on every path: answers, queue, events."""
    kind = KINDS[op.kind]
    body: dict[str, Any] = {
        "opId": op.op_id,
        "kind": op.kind,
        "state": public_state(op),
        "contactId": op.contact_id,
        "createdAt": iso(op.created_at),
        "updatedAt": iso(op.updated_at),
        "attempts": op.attempts,
        kind.target_field: op.target_id,
        **{name: op.payload.get(name) for name in kind.payload_fields},
    }
    if op.reason:
        body["reason"] = op.reason
        if not op.is_live:
            body["reasonText"] = reason_text(op.reason, language)
    if op.is_live:
        body["nextAttemptAt"] = iso(op.next_attempt_at)
    if op.state == RESOLVED:
        body["note"] = op.note or ""
        if op.resolved_at is not None:
            body["resolvedAt"] = iso(op.resolved_at)
    return body
