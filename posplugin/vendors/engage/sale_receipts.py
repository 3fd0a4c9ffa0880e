"""Sales as Engage receipts (engage-api.md, "Receipts"): the op kind, the amount rules and the receipt body.

The member is matched by the contactId the agent resolved (a scanned code is resolved from the till's cache, or
by the outbox just before sending), ``totalGrossPrice`` is what the customer paid including VAT, reward vouchers
are a discount and go in ``usedBonusChecks`` — never a payment. A return that names the sale it returns is still
one Engage receipt with RETURN lines (Engage has no reference to the original).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...errors import AgentError
from ...loyalty.kinds import SALE_RECEIPT
from ...outbox.store import OutboxStore
from ...sale_rules import RETURN, RuleViolation, Sale, violations
from ...sales import SaleRequest
from ...texts import message


class EngageSales:
    kind = SALE_RECEIPT
    points_note = "Points for this sale appear once Engage has processed the receipt."

    def __init__(self, store: OutboxStore, language: str) -> None:
        self.store = store
        self.language = language

    def violations(self, sale: Sale) -> list[RuleViolation]:
        return violations(sale)

    async def payload(
        self, request: SaleRequest, store: str, member_id: str | None, member_code: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        used = [await self._check_number(voucher, n) for n, voucher in enumerate(request.used_vouchers, start=1)]
        receipt = engage_receipt(request, store, used)
        # What the opId stands for: the sale as the POS posted it (not the contactId found for its code, which
        # can differ between a first call and its repeat).
        identity = {"receipt": dict(receipt), "member": request.contact_id or request.member_code or ""}
        if member_id:
            receipt["contact"] = {"matchKey": member_id, "matchKeyType": "contactId"}
        payload: dict[str, Any] = {"receipt": receipt}
        if member_code:
            payload["memberCode"] = member_code  # resolved to a contactId by the outbox before sending
        return identity, payload

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


def engage_receipt(request: SaleRequest, store: str, used_bonus_checks: list[dict[str, str]]) -> dict[str, Any]:
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
    return receipt


def _num(value: Decimal) -> int | float:
    """JSON numbers for Engage: whole amounts as ints, the rest as floats rounded to 4 places."""
    if value == value.to_integral_value():
        return int(value)
    return float(round(value, 4))
