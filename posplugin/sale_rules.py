"""Does a sale add up? The amount rules from the vendor documentation (seed 003), checked before anything is
queued for Engage, plus a refusal of anything that looks like payment card data.

Amounts are ``Decimal``. Lines carry magnitudes (never negative); a RETURN line counts negatively in the totals,
so a pure return has negative totals and an exchange nets out. Every comparison allows one minor unit of the
currency for rounding. The rules:

- ``paid``: amount paid = gross − discounts                           (seed rule 1)
- ``net``: net = gross − taxes − discounts                            (seed rule 2)
- ``line_price``: per line, unit price − discount/quantity = net/quantity (seed rule 3; unit price excludes tax)
- ``line_gross_sum``: the lines' gross amounts add up to the total gross (seed rule 4)
- ``line_net``: per line, net = gross − tax − discount                (rule 2 for one line)
- ``discount_sum``, ``tax_sum``: the lines' discounts and taxes add up to the totals
- ``payments``: the payments add up to the amount paid
- ``voucher_as_tender``: a loyalty reward voucher is a discount, never a payment (Voyado's certified POS
  integrations do the same: no change is given on it and no points are earned on its amount)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

PURCHASE, RETURN = "purchase", "return"
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "ISK", "KRW", "CLP", "VND", "HUF"})
# Payment methods that name a loyalty reward voucher (Engage "bonus check"), compared without case, spaces,
# dashes or underscores. A gift card is tender and is not among them.
REWARD_VOUCHER_TENDERS = frozenset({"rewardvoucher", "bonuscheck", "bonuscheque", "loyaltyvoucher", "bonusvoucher"})
# 13-19 digits, optionally grouped by spaces or dashes, not part of a longer digit run.
CARD_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")


@dataclass(frozen=True)
class SaleLine:
    type: str
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    gross: Decimal
    discount: Decimal
    tax: Decimal
    tax_percent: Decimal
    net: Decimal

    @property
    def sign(self) -> int:
        return -1 if self.type == RETURN else 1


@dataclass(frozen=True)
class Payment:
    method: str
    amount: Decimal
    reference: str = ""


@dataclass(frozen=True)
class Totals:
    gross: Decimal
    discount: Decimal
    tax: Decimal
    net: Decimal
    paid: Decimal


@dataclass(frozen=True)
class Sale:
    receipt_id: str
    currency: str
    lines: Sequence[SaleLine]
    totals: Totals
    payments: Sequence[Payment]
    note: str = ""
    free_text: dict[str, str] = field(default_factory=dict)  # path → text, for the card-data check


@dataclass(frozen=True)
class RuleViolation:
    rule: str
    line: int | None  # 1-based, None for the whole sale
    expected: Decimal
    actual: Decimal
    text: str

    def message(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"rule {self.rule} — {where}{self.text}: {self.actual} ≠ {self.expected}"


def minor_unit(currency: str) -> Decimal:
    return Decimal(1) if currency.upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


# Rules beyond the vendor's four (seed 003) and their per-line forms: a vendor whose own examples break them
# (fabric sends line discounts that need not add up to a total) leaves them out.
SUM_RULES = frozenset({"discount_sum", "tax_sum"})


def violations(sale: Sale, skip: frozenset[str] = frozenset()) -> list[RuleViolation]:
    """Every rule the sale breaks, in a stable order (the first one is what the POS is told)."""
    tolerance = minor_unit(sale.currency)
    found: list[RuleViolation] = []

    def check(rule: str, line: int | None, actual: Decimal, expected: Decimal, text: str) -> None:
        if rule not in skip and abs(actual - expected) > tolerance:
            found.append(RuleViolation(rule, line, expected, actual, text))

    t = sale.totals
    check("paid", None, t.paid, t.gross - t.discount, "amount paid should be gross − discounts")
    check("net", None, t.net, t.gross - t.tax - t.discount, "net should be gross − taxes − discounts")
    for n, line in enumerate(sale.lines, start=1):
        per_unit = line.unit_price - line.discount / line.quantity
        check("line_price", n, per_unit, line.net / line.quantity, "unit price − discount/quantity vs net/quantity")
        check("line_net", n, line.net, line.gross - line.tax - line.discount, "net should be gross − tax − discount")
    check("line_gross_sum", None, _signed(sale.lines, "gross"), t.gross, "the lines' gross amounts vs total gross")
    check("discount_sum", None, _signed(sale.lines, "discount"), t.discount, "the lines' discounts vs total discount")
    check("tax_sum", None, _signed(sale.lines, "tax"), t.tax, "the lines' taxes vs total tax")
    check("payments", None, sum((p.amount for p in sale.payments), Decimal(0)), t.paid, "payments vs amount paid")
    for n, payment in enumerate(sale.payments, start=1):
        if re.sub(r"[\s_-]", "", payment.method.lower()) in REWARD_VOUCHER_TENDERS:
            found.append(
                RuleViolation(
                    "voucher_as_tender",
                    None,
                    Decimal(0),
                    payment.amount,
                    f"payment {n} ({payment.method}): a reward voucher is a discount on the lines (listed in"
                    " usedVouchers), not a payment",
                )
            )
    return found


def _signed(lines: Iterable[SaleLine], name: str) -> Decimal:
    return sum((getattr(line, name) * line.sign for line in lines), Decimal(0))


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def looks_like_card_number(text: str) -> bool:
    """A 13-19 digit number (spaces or dashes allowed) that passes the Luhn check."""
    for match in CARD_CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return True
    return False


def card_data_fields(free_text: dict[str, str]) -> list[str]:
    """The paths of free-text fields that carry what looks like a card number (never the number itself)."""
    return [path for path, text in free_text.items() if text and looks_like_card_number(text)]
