"""fabric's earn payload: its four rules (seed 003) with its sign conventions, and the payload built from a sale.

The rules, each within one minor unit:

1. ``paid``:       totalAmountPaid = transactionGrossAmount − discountValue
2. ``net``:        netAmount = transactionGrossAmount − totalTax − discountValue
3. ``item_price``: per item, itemPrice − discount/itemQuantity = netAmount/itemQuantity
4. ``item_gross``: Σ item grossAmount = transactionGrossAmount

fabric's examples put the discount at the top (``discountValue``) with item discounts of 0, and a reverse carries
positive item amounts with negative header amounts; so rule 4 compares the items with the header's magnitude, and
the core's extra rules (the lines' discounts and taxes adding up to the totals) do not apply here: they would
refuse fabric's own examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ...sale_rules import RETURN, Sale

TOLERANCE = Decimal("0.01")
PURCHASE_TYPE, RETURN_TYPE = "PURCHASE", "RETURN"
UNIT_OF_MEASURE = "EA"  # [assumed] fabric documents the field, not its values
# [assumed] the amount field of an entry in an item's ``discounts[]`` (its shape is not documented)
ITEM_DISCOUNT_FIELDS = ("discountValue", "amount", "value")
MAX_REFERENCE = 100


@dataclass(frozen=True)
class EarnViolation:
    rule: str
    line: int | None
    expected: Decimal
    actual: Decimal

    def message(self) -> str:
        where = f"item {self.line}: " if self.line is not None else ""
        return f"fabric rule {self.rule} — {where}{self.actual} ≠ {self.expected}"


def _dec(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _item_discount(item: Mapping[str, Any]) -> Decimal:
    total = Decimal(0)
    for entry in item.get("discounts") or []:
        if isinstance(entry, Mapping):
            total += next((d for d in (_dec(entry.get(f)) for f in ITEM_DISCOUNT_FIELDS) if d is not None), Decimal(0))
    return total


def is_reverse(payload: Mapping[str, Any]) -> bool:
    return bool(payload.get("reverseTransactionExternalRef"))


def violations(payload: Mapping[str, Any]) -> list[EarnViolation]:
    """Every rule the payload breaks, the sign and presence checks first (``amounts`` / ``fields``)."""
    found: list[EarnViolation] = []
    sign = Decimal(-1) if is_reverse(payload) else Decimal(1)
    header = {
        name: _dec(payload.get(name))
        for name in ("transactionGrossAmount", "totalAmountPaid", "discountValue", "totalTax", "netAmount")
    }
    gross = header["transactionGrossAmount"]
    net = header["netAmount"]
    if gross is None or net is None or gross * sign <= 0 or net * sign <= 0:
        # fabric: gross and net > 0 for an earn; a reverse carries them negative.
        found.append(EarnViolation("amounts", None, Decimal(0), gross if gross is not None else Decimal(0)))
        return found
    discount = header["discountValue"] or Decimal(0)
    tax = header["totalTax"] or Decimal(0)
    paid = header["totalAmountPaid"] if header["totalAmountPaid"] is not None else gross - discount

    def check(rule: str, line: int | None, actual: Decimal, expected: Decimal) -> None:
        if abs(actual - expected) > TOLERANCE:
            found.append(EarnViolation(rule, line, expected, actual))

    check("paid", None, paid, gross - discount)
    check("net", None, net, gross - tax - discount)
    item_gross = Decimal(0)
    raw_items = payload.get("transactionItems") or []
    for n, item in enumerate(raw_items if isinstance(raw_items, list) else [], start=1):
        item = item if isinstance(item, Mapping) else {}
        price, quantity = _dec(item.get("itemPrice")), _dec(item.get("itemQuantity"))
        item_net, item_g = _dec(item.get("netAmount")), _dec(item.get("grossAmount"))
        if None in (price, quantity, item_net, item_g) or quantity is None or quantity <= 0:
            found.append(EarnViolation("item_fields", n, Decimal(0), quantity or Decimal(0)))
            continue
        assert price is not None and item_net is not None and item_g is not None  # narrowed above
        if min(price, item_net, item_g) < 0:
            found.append(EarnViolation("item_sign", n, Decimal(0), min(price, item_net, item_g)))
        check("item_price", n, price - _item_discount(item) / quantity, item_net / quantity)
        item_gross += item_g
    if raw_items:
        check("item_gross", None, item_gross, gross * sign)
    return found


def _amount(value: Decimal) -> float:
    return float(round(value, 4))


def earn_payload(
    sale: Sale,
    *,
    profile_id: str,
    location: str,
    activity: datetime,
    original_receipt_id: str | None = None,
) -> dict[str, Any]:
    """The ``/v2/earn`` body for a purchase, or the ``/v2/earn/reverse`` body for a return of
    ``original_receipt_id``. A sale that mixes purchase and return lines has no fabric form."""
    returns = {line.type == RETURN for line in sale.lines}
    if len(returns) > 1:
        raise ValueError("fabric takes a purchase or a return, not both in one sale")
    is_return = returns == {True}
    if is_return != bool(original_receipt_id):
        raise ValueError("a return names the receipt it returns, and only a return does")
    if not 1 <= len(sale.receipt_id) <= MAX_REFERENCE or not 1 <= len(location) <= MAX_REFERENCE:
        raise ValueError("receipt id and location must be 1-100 characters")
    t = sale.totals
    items = [
        {
            "lineNumber": n,
            "SKU": line.sku,
            "itemName": line.name or line.sku,
            "itemPrice": _amount(line.unit_price),
            "itemQuantity": _amount(line.quantity),
            "UOM": UNIT_OF_MEASURE,
            # The discount goes at the top (fabric's convention): the item is priced before it.
            "grossAmount": _amount(line.gross),
            "totalAmountPaid": _amount(line.gross),
            "taxAmount": _amount(line.tax),
            "netAmount": _amount(line.gross - line.tax),
            "discounts": [],
            "couponCodes": [],
        }
        for n, line in enumerate(sale.lines, start=1)
    ]
    payload: dict[str, Any] = {
        "profileId": profile_id,
        "entityReference": location,
        "transactionTypeExternalReference": RETURN_TYPE if is_return else PURCHASE_TYPE,
        "activityTimestamp": activity.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "transactionExternalReference": sale.receipt_id,
        # Sale totals already carry a return's sign: negative header amounts, positive items.
        "transactionGrossAmount": _amount(t.gross),
        "totalAmountPaid": _amount(t.paid),
        "discountValue": _amount(t.discount),
        "totalTax": _amount(t.tax),
        "netAmount": _amount(t.net),
        "checkForDuplicateTransaction": 1,
        "fetchUpdatedMemberPointTotals": 1,
        "transactionItems": items,
    }
    if is_return:
        payload["reverseTransactionExternalRef"] = original_receipt_id
        payload["cancelAuditUser"] = "posplugin"
    else:
        payload["issueAuditUser"] = "posplugin"
    return payload
