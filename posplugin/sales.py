"""Sales to Engage receipts: validate, capture durably, deliver later through the outbox.

A sale never waits for Engage: once it adds up and carries no card data it is committed to the outbox and the
POS is answered at once (202, ``queued``). The worker posts it as an Engage receipt with ``uniqueReceiptId`` = the
POS receipt id, which Engage treats as a duplicate when it comes again — so an unanswered attempt is simply sent
again. A repeated POST of the same receipt id returns the same op; a *different* sale under a used receipt id is
refused, because Engage would silently drop it.

The receipt follows the vendor's field definitions (engage-api.md, "Receipts"): the member is matched by the
contactId the agent resolved (a scanned code is resolved from the till's cache, or by the outbox just before
sending), ``totalGrossPrice`` is what the customer paid including VAT, reward vouchers are a discount and go in
``usedBonusChecks`` — never a payment; promotions used on the sale go in ``usedPromotions`` as
``{promotionId, couponId}``, the couponId being the assignment's id (the v2 receipt model).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import AgentError
from .events import EventBus
from .loyalty.kinds import PROMOTION_REDEEM, SALE_RECEIPT, op_view, public_state
from .outbox.model import Op
from .outbox.store import OpIdConflict, OutboxStore, TargetBusy
from .outbox.worker import OutboxWorker
from .sale_rules import RETURN, Sale, card_data_fields, violations
from .texts import message
from .vendors.engage.ids import checked_guid

if TYPE_CHECKING:
    from .members import MemberService

log = logging.getLogger(__name__)
SALE_NAMESPACE = uuid.UUID("5a1e5a1e-0b7e-4c3a-9d2e-7f0c1e2d3b4a")


@dataclass(frozen=True)
class SaleRequest:
    sale: Sale
    created_date: datetime
    store_id: str | None
    contact_id: str | None
    member_code: str | None
    used_vouchers: list[dict[str, str]] = field(default_factory=list)
    used_promotions: list[dict[str, str]] = field(default_factory=list)


class SalesService:
    def __init__(
        self,
        store: OutboxStore,
        worker: OutboxWorker,
        members: MemberService,
        events: EventBus,
        store_id: Callable[[], str],
        language: str,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.worker = worker
        self.members = members
        self.events = events
        self.store_id = store_id
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
        contact_id, member_code = await self._member(request)
        used = [await self._check_number(voucher, n) for n, voucher in enumerate(request.used_vouchers, start=1)]
        promotions = [
            await self._used_promotion(promotion, contact_id, n)
            for n, promotion in enumerate(request.used_promotions, start=1)
        ]
        receipt = engage_receipt(request, store, used, promotions)
        # What the opId stands for: the sale as the POS posted it (not the contactId found for its code, which
        # can differ between a first call and its repeat).
        identity = {"receipt": receipt, "member": request.contact_id or request.member_code or ""}
        if contact_id:
            receipt["contact"] = {"matchKey": contact_id, "matchKeyType": "contactId"}
        payload: dict[str, Any] = {"receipt": receipt}
        if member_code:
            payload["memberCode"] = member_code  # resolved to a contactId by the outbox before sending
        op_id = str(uuid.uuid5(SALE_NAMESPACE, f"{store}\x1f{sale.receipt_id}"))
        try:
            op, created = await self.store.capture(
                op_id=op_id,
                kind=SALE_RECEIPT,
                target_id=sale.receipt_id,
                contact_id=contact_id or "",
                now=self.clock(),
                request=identity,
                payload=payload,
                reported_queued=True,
            )
        except (OpIdConflict, TargetBusy):
            raise self._conflict() from None
        if created:
            log.info("sale %s captured (%d lines) for delivery to Engage", op.op_id, len(sale.lines))
            self.worker.wake()
            self.events.publish("sale", {"contactId": contact_id, "opId": op.op_id, "state": public_state(op)})
        return describe_sale(op, self.language)

    async def _member(self, request: SaleRequest) -> tuple[str | None, str | None]:
        """(contactId, code left for the outbox to resolve)."""
        if request.contact_id:
            code = self.members.parse(request.contact_id)
            if not code.is_contact_id:
                raise AgentError(
                    422, "invalid_request", f"{message('invalid_request', self.language)} (contactId is not a GUID)"
                )
            return code.value, None
        if request.member_code:
            code = self.members.parse(request.member_code)
            if code.is_contact_id:
                return code.value, None
            known = await self.members.cache.contact_for_code(code.value)
            return (known, None) if known else (None, code.value)
        return None, None

    async def _check_number(self, voucher: dict[str, str], n: int) -> dict[str, str]:
        """``usedBonusChecks`` entry: the voucher's number, given or known from this till's redemption of it."""
        number = voucher.get("voucherNumber")
        if not number and voucher.get("voucherId"):
            for op in await self.store.ops_for_target(voucher["voucherId"].lower()):
                number = number or op.payload.get("voucherNumber")
        if not number:
            raise AgentError(
                422,
                "invalid_request",
                f"{message('invalid_request', self.language)} (usedVouchers[{n}]: give the voucherNumber)",
            )
        return {"checkNumber": str(number)}

    async def _used_promotion(self, used: dict[str, str], contact_id: str | None, n: int) -> dict[str, str]:
        """``usedPromotions`` entry: the promotion and its assignment (``couponId``). The promotionId may be left
        out for an assignment this till redeemed or the member's cached view shows."""
        where = f"usedPromotions[{n}]"
        assignment = checked_guid(used["assignmentId"], f"{where}.assignmentId", self.language)
        promotion = used.get("promotionId")
        if promotion:
            promotion = checked_guid(promotion, f"{where}.promotionId", self.language)
        if not promotion:
            for op in await self.store.ops_for_target(assignment):
                promotion = promotion or (op.payload.get("promotionId") if op.kind == PROMOTION_REDEEM else None)
        if not promotion and contact_id:
            cached = await self.members.cache.get(contact_id)
            shown = cached.view.get("promotions", []) if cached is not None else []
            promotion = next((p.get("promotionId") for p in shown if p.get("id") == assignment), None)
        if not promotion:
            raise AgentError(
                422,
                "invalid_request",
                f"{message('invalid_request', self.language)} ({where}: give the promotionId)",
            )
        return {"promotionId": str(promotion).lower(), "couponId": assignment}

    def _conflict(self) -> AgentError:
        return AgentError(409, "sale_conflict", message("sale_conflict", self.language))


def describe_sale(op: Op, language: str) -> dict[str, Any]:
    body = op_view(op, language)
    body["pointsNote"] = "Points for this sale appear once Engage has processed the receipt."
    return body


def engage_receipt(
    request: SaleRequest,
    store: str,
    used_bonus_checks: list[dict[str, str]],
    used_promotions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The Engage v3 receipt for a sale, in the vendor's documented field names (engage-api.md, "Receipts").
    RETURN lines go with negative quantities and amounts; ``totalGrossPrice`` is what was paid incl. VAT."""
    sale = request.sale
    items = []
    for line in sale.lines:
        sign = Decimal(-1) if line.type == RETURN else Decimal(1)
        item: dict[str, Any] = {
            "type": "RETURN" if line.type == RETURN else "PURCHASE",
            "sku": line.sku,
            "articleNumber": line.sku,
            "articleName": line.name or line.sku,
            "quantity": _num(sign * line.quantity),
            "grossPaidPrice": _num(sign * (line.gross - line.discount)),
            "taxAmount": _num(sign * line.tax),
            "taxPercent": _num(line.tax_percent),
        }
        if line.discount:
            item["discounts"] = [{"value": _num(sign * line.discount), "type": "Discount"}]
        items.append(item)
    receipt: dict[str, Any] = {
        "uniqueReceiptId": sale.receipt_id,
        "receiptNumber": sale.receipt_id,
        "createdDate": request.created_date.isoformat(),
        "storeExternalId": store,
        "currency": sale.currency,
        "totalGrossPrice": _num(sale.totals.paid),
        "paymentMethods": [
            {"type": p.method, "value": _num(p.amount), **({"description": p.reference} if p.reference else {})}
            for p in sale.payments
        ],
        "items": items,
    }
    if used_bonus_checks:
        receipt["usedBonusChecks"] = used_bonus_checks
    if used_promotions:
        receipt["usedPromotions"] = used_promotions
    return receipt


def _num(value: Decimal) -> int | float:
    """JSON numbers for Engage: whole amounts as ints, the rest as floats rounded to 4 places."""
    if value == value.to_integral_value():
        return int(value)
    return float(round(value, 4))
