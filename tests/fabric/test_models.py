"""fabric's answers read tolerantly: odd shapes give empty values, numbers stay bounded, envelopes parse safely."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.loyalty.errors import LoyaltyAuthError, LoyaltyBadAnswer, LoyaltyHTTPError, LoyaltyServerError
from posplugin.vendors.fabric.errors import FabricBadAnswer, parse_envelope, raise_for_answer
from posplugin.vendors.fabric.models import MAX_POINTS, Balance, EarnResult, Member, Reward

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_no_shape_crashes_the_models(data: Any) -> None:
    for model in (Member, Reward):
        try:
            model.from_json(data)
        except FabricBadAnswer:
            pass
    balance = Balance.from_json(data)
    assert abs(balance.available) <= MAX_POINTS and balance.usable_at("s") >= 0
    EarnResult.from_json(data)


@given(st.binary(max_size=200) | JSON.map(lambda d: json.dumps(d).encode()), st.integers(100, 599))
def test_any_body_under_any_status_maps_to_data_or_a_loyalty_error(body: bytes, status: int) -> None:
    try:
        raise_for_answer(status, body)
    except (LoyaltyHTTPError, LoyaltyBadAnswer):
        pass


def test_balance_reads_fabrics_documented_shape() -> None:
    data = [
        {
            "totalPoints": 900,
            "pointsByType": [{"pointType": "Base", "points": 500}, {"pointType": "Restricted", "points": 400}],
            "pointsBalance": {"memberPointsAvailable": 880, "memberPointsLocked": 20},
            "breakdown": {
                "unrestrictedPoints": 500,
                "restrictedPoints": {
                    "restrictedPointsItems": [{"points": 400, "pointType": "Restricted", "restrictedLocation": "s2"}]
                },
            },
        }
    ]
    balance = Balance.from_json(data)
    assert (balance.available, balance.total) == (880, 900)
    assert balance.usable_at("s1") == 480 and balance.usable_at("s2") == 880


def test_numbers_are_bounded() -> None:
    assert Balance.from_json([{"totalPoints": 10**30}]).available == MAX_POINTS
    reward = Reward.from_json({"redemptionCode": "c", "rewardValue": "1e40", "rewardPointCost": "NaN"})
    assert reward.value == Decimal("1e9") and reward.point_cost == 0


def test_reward_status_and_creation_time() -> None:
    reward = Reward.from_json({"redemptionCode": "c", "status": "ACTIVE", "createdAt": "2026-11-22T09:15:00Z"})
    assert reward.active and reward.status == "Active" and reward.created_at is not None
    with pytest.raises(FabricBadAnswer):
        Reward.from_json({"rewardValue": 5})


def test_member_needs_a_profile_id_and_reads_its_account() -> None:
    member = Member.from_json({"profileId": "p", "accounts": [{"tier": "Gold", "loyaltyNumber": "88"}]})
    assert (member.loyalty_number, member.tier) == ("88", "Gold")
    with pytest.raises(FabricBadAnswer):
        Member.from_json({"loyaltyNumber": "88"})


def test_envelope_keeps_message_and_error_keys() -> None:
    env = parse_envelope(b'{"status": "400", "message": "Bad", "errors": {"netAmount": "x", "paid": "y"}}')
    assert env is not None and (env.status, env.message, env.error_keys) == (400, "Bad", ("netAmount", "paid"))
    assert parse_envelope(b"<html>") is None and parse_envelope(b"[1]") is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"<html>oops</html>", LoyaltyServerError),
        (403, b'{"status": 403, "message": "Forbidden"}', LoyaltyAuthError),
        (200, b'{"status": 503, "message": "down", "data": null}', LoyaltyServerError),
        (200, b"", LoyaltyBadAnswer),
        (204, b"", LoyaltyBadAnswer),
    ],
)
def test_http_status_first_then_envelope_status(status: int, body: bytes, expected: type) -> None:
    with pytest.raises(expected):
        raise_for_answer(status, body)
