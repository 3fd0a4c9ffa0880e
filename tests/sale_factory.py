"""Sales that add up, built the way a POS computes them, for tests of the amount rules."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

CENT = Decimal("0.01")


def line(
    sku: str, quantity: int, unit_ex_tax: Decimal, discount: Decimal, tax_percent: int, kind: str
) -> dict[str, Any]:
    net = unit_ex_tax * quantity - discount
    tax = (net * tax_percent / 100).quantize(CENT, ROUND_HALF_UP)
    gross = net + tax + discount
    return {
        "type": kind,
        "sku": sku,
        "name": f"Vara {sku}",
        "quantity": quantity,
        "unitPrice": float(unit_ex_tax),
        "grossAmount": float(gross),
        "discountAmount": float(discount),
        "taxAmount": float(tax),
        "taxPercent": tax_percent,
        "netAmount": float(net),
    }


def sale(receipt_id: str, lines: list[dict[str, Any]], *, currency: str = "SEK", split: int = 1) -> dict[str, Any]:
    def total(name: str) -> Decimal:
        return sum((Decimal(str(x[name])) * (-1 if x["type"] == "return" else 1) for x in lines), Decimal(0))

    gross, discount, tax, net = total("grossAmount"), total("discountAmount"), total("taxAmount"), total("netAmount")
    paid = gross - discount
    first = (paid / split).quantize(CENT) if split > 1 else paid
    payments = [{"method": "card", "amount": float(first)}]
    if split > 1:
        payments.append({"method": "cash", "amount": float(paid - first)})
    return {
        "receiptId": receipt_id,
        "createdDate": "2026-11-22T10:15:00+01:00",
        "currency": currency,
        "lines": lines,
        "totals": {
            "grossAmount": float(gross),
            "discountAmount": float(discount),
            "taxAmount": float(tax),
            "netAmount": float(net),
            "paidAmount": float(paid),
        },
        "payments": payments,
    }


@st.composite
def sale_lines(draw: Any, allow_returns: bool = True) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 6))
    lines = []
    for n in range(count):
        quantity = draw(st.integers(1, 9))
        unit = Decimal(draw(st.integers(1, 200_000))) * CENT
        discount = Decimal(draw(st.integers(0, int(unit * quantity / CENT)))) * CENT
        percent = draw(st.sampled_from([0, 6, 12, 25]))
        kind = draw(st.sampled_from(["purchase", "return"])) if allow_returns else "purchase"
        lines.append(line(f"73100{n:08d}", quantity, unit, discount, percent, kind))
    return lines


def example_sale(receipt_id: str) -> dict[str, Any]:
    return sale(
        receipt_id,
        [
            line("7310865004703", 2, Decimal("40.00"), Decimal("20.00"), 25, "purchase"),
            line("7310865004710", 1, Decimal("119.20"), Decimal("0"), 25, "purchase"),
        ],
        split=2,
    )
