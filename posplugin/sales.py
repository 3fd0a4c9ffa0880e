"""Sales to Engage receipts: validate, capture durably, deliver later through the outbox.

A sale never waits for Engage: once it adds up and carries no card data it is committed to the outbox and the
POS is answered at once (202, ``queued``). The worker posts it as an Engage receipt with ``uniqueReceiptId`` = the
POS receipt id, which Engage treats as a duplicate when it comes again — so an unanswered attempt is simply sent
again. A repeated POST of the same receipt id returns the same op; a *different* sale under a used receipt id is
refused, because Engage would silently drop it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import AgentError
from .events import EventBus
from .outbox.model import SALE_RECEIPT, Op
from .outbox.store import OpIdConflict, OutboxStore, TargetBusy
from .outbox.worker import OutboxWorker
from .sale_rules import RETURN, Sale, card_data_fields, violations
from .texts import message

if TYPE_CHECKING:
    from .members import MemberService

log = logging.getLogger(__name__)
SALE_NAMESPACE = uuid.UUID("5a1e5a1e-0b7e-4c3a-9d2e-7f0c1e2d3b4a")
# What a scanned (non-GUID) member code is matched as in the receipt; Engage's name for each lookup key.
MATCH_KEY_TYPES = {
    "customKey": "customKey",
    "memberNumber": "memberNumber",
    "externalId": "externalId",
    "email": "email",
    "mobilePhone": "mobilePhone",
    "socialSecurityNumber": "socialSecurityNumber",
}


@dataclass(frozen=True)
class SaleRequest:
    sale: Sale
    created_date: datetime
    store_id: str | None
    contact_id: str | None
    member_code: str | None
    used_vouchers: list[dict[str, str]] = field(default_factory=list)


class SalesService:
    def __init__(
        self,
        store: OutboxStore,
        worker: OutboxWorker,
        members: MemberService,
        events: EventBus,
        store_id: Callable[[], str],
        lookup_key: Callable[[], str],
        language: str,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.worker = worker
        self.members = members
        self.events = events
        self.store_id = store_id
        self.lookup_key = lookup_key
        self.language = language
        self.clock = clock

    async def submit(self, request: SaleRequest) -> dict[str, Any]:
        sale = request.sale
        risky = card_data_fields(sale.free_text)
        if risky:
            # Say where, never what: the number must not reach a response, a log or the database.
            raise AgentError(422, "card_data_refused", f"{message('card_data_refused', self.language)} ({risky[0]})")
        broken = violations(sale)
        if broken:
            first = broken[0]
            error = AgentError(422, "invalid_sale", f"{message('invalid_sale', self.language)} {first.message()}")
            error.details = {
                "rule": first.rule,
                "line": first.line,
                "expected": str(first.expected),
                "actual": str(first.actual),
                "violations": [v.rule + (f"@{v.line}" if v.line else "") for v in broken],
            }
            raise error
        store = request.store_id or self.store_id()
        if not store:
            raise AgentError(
                422, "invalid_request", f"{message('invalid_request', self.language)} (storeId: none given or set)"
            )
        contact_id, match = self._member(request)
        receipt = engage_receipt(request, store, match)
        digest = hashlib.sha256(json.dumps(receipt, sort_keys=True).encode()).hexdigest()
        op_id = str(uuid.uuid5(SALE_NAMESPACE, f"{store}\x1f{sale.receipt_id}"))
        try:
            op, created = await self.store.capture(
                op_id=op_id,
                kind=SALE_RECEIPT,
                target_id=sale.receipt_id,
                contact_id=contact_id or "",
                now=self.clock(),
                payload={"receipt": receipt, "digest": digest},
                reported_queued=True,
            )
        except (OpIdConflict, TargetBusy):
            raise self._conflict() from None
        if not created and op.payload.get("digest") != digest:
            raise self._conflict()
        if created:
            log.info("sale %s captured (%d lines) for delivery to Engage", op.op_id, len(sale.lines))
            self.worker.wake()
            # A sale named by a scanned code: the card was identified on this till, so the cache knows whose
            # it is and the panel showing that member gets the same "points appear later" note.
            shown = contact_id or (await self.members.cache.contact_for_code(match["matchKey"]) if match else None)
            self.events.publish("sale", {"contactId": shown, "opId": op.op_id, "state": op.api_state})
        return describe_sale(op)

    def _member(self, request: SaleRequest) -> tuple[str | None, dict[str, str] | None]:
        if request.contact_id:
            code = self.members.parse(request.contact_id)
            if not code.is_contact_id:
                raise AgentError(
                    422, "invalid_request", f"{message('invalid_request', self.language)} (contactId is not a GUID)"
                )
            return code.value, {"matchKey": code.value, "matchKeyType": "contactId"}
        if request.member_code:
            code = self.members.parse(request.member_code)
            if code.is_contact_id:
                return code.value, {"matchKey": code.value, "matchKeyType": "contactId"}
            return None, {"matchKey": code.value, "matchKeyType": MATCH_KEY_TYPES[self.lookup_key()]}
        return None, None

    def _conflict(self) -> AgentError:
        return AgentError(409, "sale_conflict", message("sale_conflict", self.language))


def describe_sale(op: Op) -> dict[str, Any]:
    body = op.to_json()
    body["pointsNote"] = "Points for this sale appear once Engage has processed the receipt."
    return body


def engage_receipt(request: SaleRequest, store: str, match: dict[str, str] | None) -> dict[str, Any]:
    """The Engage v3 receipt for a sale. Top-level field names follow the vendor docs; the item and payment
    field names are [assumed] (see engage-api.md). RETURN lines go with negative quantities and amounts."""
    sale = request.sale
    items = []
    for line in sale.lines:
        sign = Decimal(-1) if line.type == RETURN else Decimal(1)
        item: dict[str, Any] = {
            "type": "RETURN" if line.type == RETURN else "PURCHASE",
            "sku": line.sku,
            "articleNumber": line.sku,
            "description": line.name,
            "quantity": _num(sign * line.quantity),
            "grossPaidPrice": _num(sign * (line.gross - line.discount)),
            "originalPrice": _num(sign * line.gross),
            "taxAmount": _num(sign * line.tax),
            "taxPercent": _num(line.tax_percent),
        }
        if line.discount:
            item["discounts"] = [{"value": _num(sign * line.discount), "type": "Discount"}]
        items.append(item)
    t = sale.totals
    receipt: dict[str, Any] = {
        "uniqueReceiptId": sale.receipt_id,
        "receiptNumber": sale.receipt_id,
        "createdDate": request.created_date.isoformat(),
        "storeExternalId": store,
        "currency": sale.currency,
        "totalGrossPrice": _num(t.gross),
        "totalDiscount": _num(t.discount),
        "totalTax": _num(t.tax),
        "paymentMethods": [
            {"type": p.method, "value": _num(p.amount), **({"reference": p.reference} if p.reference else {})}
            for p in sale.payments
        ],
        "items": items,
    }
    if match is not None:
        receipt["contact"] = match
    if request.used_vouchers:
        receipt["usedBonusChecks"] = request.used_vouchers
    return receipt


def _num(value: Decimal) -> int | float:
    """JSON numbers for Engage: whole amounts as ints, the rest as floats rounded to 4 places."""
    if value == value.to_integral_value():
        return int(value)
    return float(round(value, 4))
