"""fabric's four earn rules with its sign conventions, and the payload built from the agent's sales."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posplugin.sale_rules import Sale
from posplugin.sale_rules import violations as core_violations
from posplugin.vendors.fabric.earn_rules import earn_payload, violations
from posplugin.web.sale_models import SaleBody

from ..sale_factory import example_sale, sale, sale_lines
from .conftest import ANNA, STORE

WHEN = datetime(2026, 11, 22, 9, 15, tzinfo=UTC)

# fabric's own convention: the discount at the top, item discounts of 0 (seed 003's four rules hold).
FABRIC_EARN_EXAMPLE: dict[str, Any] = {
    "profileId": ANNA,
    "entityReference": STORE,
    "transactionTypeExternalReference": "PURCHASE",
    "activityTimestamp": "2026-11-22T09:15:00.000Z",
    "transactionExternalReference": "R-1001",
    "transactionGrossAmount": 150.00,
    "totalAmountPaid": 140.00,
    "discountValue": 10.00,
    "totalTax": 3.00,
    "netAmount": 137.00,
    "checkForDuplicateTransaction": 1,
    "transactionItems": [
        {"lineNumber": 1, "SKU": "A", "itemPrice": 48.0, "itemQuantity": 1, "grossAmount": 50.0, "taxAmount": 2.0,
         "netAmount": 48.0, "discounts": []},
        {"lineNumber": 2, "SKU": "B", "itemPrice": 49.5, "itemQuantity": 2, "grossAmount": 100.0, "taxAmount": 1.0,
         "netAmount": 99.0, "discounts": [{"discountValue": 0}]},
    ],
}  # fmt: skip


def fabric_reverse_example() -> dict[str, Any]:
    """A return of the example: positive items, negative header amounts."""
    body = copy.deepcopy(FABRIC_EARN_EXAMPLE)
    for name in ("transactionGrossAmount", "totalAmountPaid", "discountValue", "totalTax", "netAmount"):
        body[name] = -body[name]
    body.update(
        transactionExternalReference="R-1001-RET",
        transactionTypeExternalReference="RETURN",
        reverseTransactionExternalRef="R-1001",
    )
    return body


def to_sale(raw: dict[str, Any]) -> Sale:
    return SaleBody.model_validate(raw).to_request().sale


def test_fabrics_own_examples_pass_its_rules() -> None:
    assert violations(FABRIC_EARN_EXAMPLE) == []
    assert violations(fabric_reverse_example()) == []


def test_the_cores_extra_rules_would_refuse_fabrics_example() -> None:
    # The lines' discounts (0) do not add up to the total discount (10): the core's discount_sum rule, which must
    # therefore not apply to fabric.
    items = FABRIC_EARN_EXAMPLE["transactionItems"]
    assert sum(Decimal(0) for _ in items) != Decimal(str(FABRIC_EARN_EXAMPLE["discountValue"]))
    assert violations(FABRIC_EARN_EXAMPLE) == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"totalAmountPaid": 150.00}, "paid"),
        ({"netAmount": 140.00}, "net"),
        ({"transactionGrossAmount": 160.0, "totalAmountPaid": 150.0, "netAmount": 147.0}, "item_gross"),
        ({"transactionGrossAmount": 0}, "amounts"),
        ({"netAmount": -1}, "amounts"),
    ],
)
def test_each_header_rule_is_caught(change: dict[str, Any], rule: str) -> None:
    body = {**copy.deepcopy(FABRIC_EARN_EXAMPLE), **change}
    assert rule in [v.rule for v in violations(body)]


def test_item_price_rule_is_caught_with_its_line() -> None:
    body = copy.deepcopy(FABRIC_EARN_EXAMPLE)
    body["transactionItems"][1]["itemPrice"] = 55.0
    assert [(v.rule, v.line) for v in violations(body)] == [("item_price", 2)]


def test_an_item_discount_counts_in_the_item_price_rule() -> None:
    body = copy.deepcopy(FABRIC_EARN_EXAMPLE)
    body["transactionItems"][1]["discounts"] = [{"discountValue": 10.0}]  # 49.5 - 10/2 ≠ 99/2
    assert [v.rule for v in violations(body)] == ["item_price"]
    body["transactionItems"][1]["netAmount"] = 89.0  # 49.5 - 5 = 44.5 = 89/2
    assert violations(body) == []


def test_a_reverse_with_positive_totals_or_negative_items_is_refused() -> None:
    positive = {**fabric_reverse_example(), "transactionGrossAmount": 150.0}
    assert "amounts" in [v.rule for v in violations(positive)]
    negative_items = fabric_reverse_example()
    negative_items["transactionItems"][0]["grossAmount"] = -50.0
    assert {"item_sign", "item_gross"} <= {v.rule for v in violations(negative_items)}


def test_example_sale_builds_a_payload_fabric_accepts() -> None:
    payload = earn_payload(to_sale(example_sale("R-77")), profile_id=ANNA, location=STORE, activity=WHEN)
    assert violations(payload) == []
    assert payload["transactionExternalReference"] == "R-77"
    assert payload["checkForDuplicateTransaction"] == 1
    assert payload["entityReference"] == STORE
    assert payload["activityTimestamp"] == "2026-11-22T09:15:00.000Z"
    assert payload["discountValue"] == 20 and all(i["discounts"] == [] for i in payload["transactionItems"])
    assert "reverseTransactionExternalRef" not in payload


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(lines=sale_lines(allow_returns=False), returned=st.booleans())
def test_every_valid_sale_builds_a_valid_earn_or_reverse(lines: list[dict[str, Any]], returned: bool) -> None:
    if returned:
        lines = [{**line, "type": "return"} for line in lines]
    raw = sale("R-1", lines)
    built = to_sale(raw)
    assert core_violations(built) == []
    net = abs(built.totals.net)
    payload = earn_payload(
        built, profile_id=ANNA, location=STORE, activity=WHEN, original_receipt_id="R-0" if returned else None
    )
    broken = violations(payload)
    if net == 0:
        assert [v.rule for v in broken] == ["amounts"]  # fabric: net > 0; nothing to earn on
        return
    assert broken == []
    sign = -1 if returned else 1
    assert payload["transactionGrossAmount"] * sign > 0
    assert all(item["grossAmount"] >= 0 for item in payload["transactionItems"])
    assert (payload["transactionTypeExternalReference"], payload.get("reverseTransactionExternalRef")) == (
        ("RETURN", "R-0") if returned else ("PURCHASE", None)
    )


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(lines=sale_lines(allow_returns=False), field=st.sampled_from(["gross", "net", "paid", "item"]), data=st.data())
def test_every_broken_payload_is_caught(lines: list[dict[str, Any]], field: str, data: st.DataObject) -> None:
    payload = earn_payload(to_sale(sale("R-2", lines)), profile_id=ANNA, location=STORE, activity=WHEN)
    shift = data.draw(st.integers(2, 10_000)) / 100
    if field == "gross":
        payload["transactionGrossAmount"] += shift
    elif field == "net":
        payload["netAmount"] += shift
    elif field == "paid":
        payload["totalAmountPaid"] += shift
    else:
        item = data.draw(st.sampled_from(payload["transactionItems"]))
        item["itemPrice"] += shift
    assert violations(payload) != []


def test_a_return_must_name_its_sale_and_a_mixed_sale_has_no_fabric_form() -> None:
    ret = to_sale(sale("R-3", [{**example_sale("x")["lines"][0], "type": "return"}]))
    with pytest.raises(ValueError):
        earn_payload(ret, profile_id=ANNA, location=STORE, activity=WHEN)
    mixed = example_sale("R-4")
    mixed["lines"][1]["type"] = "return"
    with pytest.raises(ValueError):
        earn_payload(to_sale(sale("R-4", mixed["lines"])), profile_id=ANNA, location=STORE, activity=WHEN)
    purchase = to_sale(example_sale("R-5"))
    with pytest.raises(ValueError):
        earn_payload(purchase, profile_id=ANNA, location=STORE, activity=WHEN, original_receipt_id="R-0")
