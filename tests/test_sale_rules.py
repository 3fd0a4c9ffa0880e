"""The seed's amount rules and the card-data refusal, on generated sales."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.sale_rules import looks_like_card_number, luhn_ok, violations
from posplugin.web.sale_models import SaleBody
from tests.sale_factory import sale, sale_lines


def rules_broken(body: dict[str, Any]) -> list[str]:
    return [v.rule for v in violations(SaleBody.model_validate(body).to_request().sale)]


@settings(max_examples=200, deadline=None)
@given(lines=sale_lines(), split=st.integers(1, 2))
def test_sales_computed_like_a_pos_pass_every_rule(lines: list[dict[str, Any]], split: int) -> None:
    assert rules_broken(sale("R-1", lines, split=split)) == []


# (where to push, how) → the rule that must catch it first. 0.05 is five minor units: beyond rounding.
PERTURBATIONS = {
    "paid": lambda b: _bump(b["totals"], "paidAmount") or _bump(b["payments"][0], "amount"),
    "net": lambda b: _bump(b["totals"], "netAmount"),
    "line_price": lambda b: _bump(b["lines"][0], "unitPrice"),
    "line_net": lambda b: _bump(b["lines"][0], "taxAmount"),
    "line_gross_sum": lambda b: (
        [_bump(b["totals"], k) for k in ("grossAmount", "netAmount", "paidAmount")]
        and _bump(b["payments"][0], "amount")
    ),
    "discount_sum": lambda b: (
        _bump(b["totals"], "discountAmount", -1)
        or ([_bump(b["totals"], k) for k in ("netAmount", "paidAmount")] and _bump(b["payments"][0], "amount"))
    ),
    "payments": lambda b: _bump(b["payments"][0], "amount"),
}


def _bump(obj: dict[str, Any], key: str, sign: int = 1) -> None:
    obj[key] = float(Decimal(str(obj[key])) + sign * Decimal("0.05"))


@settings(max_examples=60, deadline=None)
@given(lines=sale_lines(allow_returns=False), rule=st.sampled_from(sorted(PERTURBATIONS)))
def test_each_kind_of_violation_is_caught_by_its_rule(lines: list[dict[str, Any]], rule: str) -> None:
    body = sale("R-2", lines)
    PERTURBATIONS[rule](body)
    broken = rules_broken(body)
    assert broken and broken[0] == rule, broken


def test_one_minor_unit_of_rounding_is_tolerated_two_are_not() -> None:
    from tests.sale_factory import example_sale

    body = example_sale("R-3")
    body["totals"]["paidAmount"] += 0.01
    body["payments"][0]["amount"] += 0.01
    assert rules_broken(body) == []
    body["totals"]["paidAmount"] += 0.01
    body["payments"][0]["amount"] += 0.01
    assert rules_broken(body) == ["paid"]


def test_zero_decimal_currency_tolerates_one_whole_unit() -> None:
    from tests.sale_factory import line

    body = sale("R-4", [line("1", 1, Decimal(1000), Decimal(0), 0, "purchase")], currency="JPY")
    body["totals"]["paidAmount"] += 1
    body["payments"][0]["amount"] += 1
    assert rules_broken(body) == []


def luhn_number(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    return next(body + str(d) for d in range(10) if luhn_ok(body + str(d)))


@settings(max_examples=150, deadline=None)
@given(
    length=st.integers(13, 19),
    prefix=st.sampled_from(["4", "51", "37", "6011", "35"]),
    sep=st.sampled_from(["", " ", "-"]),
    before=st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=20),
    after=st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=20),
)
def test_card_numbers_are_found_in_free_text(length: int, prefix: str, sep: str, before: str, after: str) -> None:
    number = luhn_number(prefix, length)
    grouped = sep.join(number[i : i + 4] for i in range(0, len(number), 4))
    assert looks_like_card_number(f"{before}{grouped}{after}")
    wrong_check_digit = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not looks_like_card_number(f"{before}{wrong_check_digit}{after}")


@pytest.mark.parametrize("text", ["Kaffe 2 st", "order 123456789012", "20-pack 4-5-6", "1" * 20, ""])
def test_ordinary_text_is_not_card_data(text: str) -> None:
    assert not looks_like_card_number(text)
