"""Numbers from Engage are bounded at the model: an absurd balance is ignored, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.vendors.engage import PointAccount, PointTransaction
from posplugin.vendors.engage.member_view import number


@pytest.mark.parametrize("value", ["1e1000000", "-1e1000000", "9" * 5000, 1e300, "1e-1000000", "NaN", "Infinity"])
def test_an_absurd_balance_does_not_break_the_member_view(value: Any) -> None:
    account = PointAccount.from_json({"id": "a", "definitionId": 1, "balance": value, "pendingPoints": value})
    json.dumps({"balance": number(account.balance), "pending": number(account.pending_points)})
    assert abs(account.balance) < 10**15


@given(st.one_of(st.text(max_size=80), st.floats(allow_nan=True), st.integers()))
def test_any_number_engage_sends_can_be_shown(value: Any) -> None:
    tx = PointTransaction.from_json({"id": "t", "amount": value})
    json.dumps(number(tx.amount))
