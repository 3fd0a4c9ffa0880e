"""Engage promotions below the agent: the models under any shape, what the view keeps, and the redeem executor's
send and reconcile against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.loyalty.kinds import PROMOTION_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import Attempt, Confirmed, Conflict, Op, Refused, Resend, Unknown
from posplugin.vendors.engage import EngageBadResponse, EngageClient, EngageHTTPError, Promotion
from posplugin.vendors.engage.executors.promotions import PromotionRedeem
from posplugin.vendors.engage.promotion_view import usable_at_pos
from posplugin.vendors.engage.simulator import EngageSimulator, assignment_id, member_id, promotion_id
from tests.conftest import API_KEY

T = TypeVar("T")
ASA = member_id("asa")
SPRING = assignment_id("asa", "spring20")
DOCUMENTED = {
    "id": "c3e1a1a2-0000-4000-8000-000000000001",
    "promotionId": "c3e1a1a2-0000-4000-8000-000000000002",
    "externalId": "EXT-1",
    "type": "Multichannel",
    "name": "Spring",
    "heading": "20 % off",
    "description": "One item",
    "expiresOn": "2099-05-26T00:00:00.0000000+01:00",
    "redeemed": False,
    "redeemedOn": None,
    "imageUrl": "https://example.invalid/x.png",
    "link": "",
    "redemptionChannels": [
        {"type": "ECOM", "valueType": "EXTERNALOFFER", "value": "WEB20", "localValues": []},
        {"type": "POS", "valueType": "PERCENT", "value": "20", "localValues": [], "instruction": "Give 20 %"},
    ],
}


def test_the_documented_shape_and_each_value_type() -> None:
    promotion = Promotion.from_json(DOCUMENTED)
    pos = promotion.channel("POS")
    assert pos is not None and (pos.value_type, pos.percent, pos.instruction) == ("PERCENT", 20, "Give 20 %")
    assert promotion.channel("ECOM").text == "WEB20"  # type: ignore[union-attr]
    money = Promotion.from_json(
        {
            **DOCUMENTED,
            "redemptionChannels": [{"type": "pos", "valueType": "money", "value": {"amount": 50, "currency": "sek"}}],
        }
    )
    assert money.channel("POS").money.amount == 50 and money.channel("POS").money.currency == "SEK"  # type: ignore[union-attr]
    (view,) = usable_at_pos([promotion], time.time())
    assert (view["id"], view["percent"], view["valueText"], view["instruction"]) == (
        DOCUMENTED["id"],
        20,
        None,
        "Give 20 %",
    )
    assert view["externalId"] == "EXT-1" and view["expiresOn"] == "2099-05-25T23:00:00.000Z"


def test_only_what_the_till_can_redeem_now_is_shown() -> None:
    now = time.time()

    def variant(**changes: Any) -> Promotion:
        return Promotion.from_json({**DOCUMENTED, "id": json.dumps(changes), **changes})

    shown = usable_at_pos(
        [
            variant(),
            variant(redeemed=True),
            variant(redeemedOn="2024-01-01T10:00:00Z"),
            variant(expiresOn="2020-01-01T00:00:00Z"),
            variant(redemptionChannels=[{"type": "ECOM", "valueType": "PERCENT", "value": 20}]),
            variant(redemptionChannels="nonsense"),
            variant(expiresOn=None, name="Forever"),
        ],
        now,
    )
    assert [p["name"] for p in shown] == ["Spring", "Forever"]  # the one ending soonest first


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)


@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"id": st.text(min_size=1, max_size=10)},
            optional={
                "expiresOn": JSON,
                "redeemed": JSON,
                "redeemedOn": JSON,
                "redemptionChannels": st.lists(
                    st.fixed_dictionaries({}, optional={"type": JSON, "valueType": JSON, "value": JSON}), max_size=3
                )
                | JSON,
            },
        ),
    )
)
def test_any_shape_is_a_promotion_or_a_clear_bad_answer(data: Any) -> None:
    try:
        promotion = Promotion.from_json(data)
    except EngageBadResponse:
        return
    for view in usable_at_pos([promotion], time.time()):
        json.dumps(view)  # always JSON-ready, whatever came in


# ---- the executor against the simulator --------------------------------------------------------------------


def run(sim: EngageSimulator, body: Callable[[PromotionRedeem], Awaitable[T]]) -> T:
    async def main() -> T:
        async with EngageClient(sim.url, API_KEY) as client:
            return await body(PromotionRedeem(client, LoyaltyStatus(3), time.time))

    return asyncio.run(main())


def op(assignment: str = SPRING, contact: str = ASA, **payload: Any) -> Op:
    now = time.time()
    return Op(assignment + "-op", PROMOTION_REDEEM, assignment, contact, payload, "SENDING", None, None, False,
              False, 1, 0.0, now, now + 3600, now, now)  # fmt: skip


def unknown_attempt(started: float, finished: float | None = None) -> Attempt:
    return Attempt(1, started, finished, "unknown:no_answer", None)


def test_reconcile_reads_only_the_owners_lists_and_never_makes_a_missing_one_final(sim: EngageSimulator) -> None:
    # Märta's op naming Åsa's assignment (as if the lists lagged): not in the owner's lists, still unknown.
    assert run(sim, lambda ex: ex.reconcile(op(contact=member_id("marta")), [])) == Unknown("not_in_owner_offers")
    assert run(sim, lambda ex: ex.reconcile(op(), [])) == Resend("not_redeemed")


def test_reconcile_places_the_redemption_in_time(sim: EngageSimulator) -> None:
    started = time.time()
    sim.state.promotions.commit_redeem(SPRING, "POS")
    assert run(sim, lambda ex: ex.reconcile(op(), [unknown_attempt(started - 1, time.time() + 1)])) == Confirmed(
        "reconciled"
    )
    stamped_later = sim.state.promotions.assignments[SPRING]
    stamped_later.redeemed_on = sim.state.now() + timedelta(minutes=5)
    assert run(sim, lambda ex: ex.reconcile(op(), [unknown_attempt(started - 1, time.time() + 1)])) == Conflict(
        "already_redeemed"
    )
    # An answered attempt is no window of ours.
    answered = Attempt(1, started - 1, time.time() + 1, "refused:x", None)
    stamped_later.redeemed_on = sim.state.now()
    assert run(sim, lambda ex: ex.reconcile(op(), [answered])) == Conflict("already_redeemed")


def test_reconcile_of_one_found_only_outside_the_pos_list(sim: EngageSimulator) -> None:
    web = assignment_id("asa", "webfreight")
    sim.state.promotions.redeem_elsewhere(web)
    assert run(sim, lambda ex: ex.reconcile(op(web), [])) == Conflict("already_redeemed")


@pytest.mark.parametrize(
    ("code", "status", "expires", "reason"),
    [
        ("PromotionNotFound", 404, "2020-01-01T00:00:00.000Z", "expired"),  # ended: told why
        ("PromotionNotFound", 404, "2099-01-01T00:00:00.000Z", "not_found"),
        ("PromotionNotAssociatedWithContact", 404, None, "not_found"),
        ("PromotionNotValidForRedemptionChannel", 409, None, "not_valid_for_channel"),
        ("InvalidPromotionIdNoData", 400, None, "invalid_promotion"),
        (None, 422, None, "invalid_promotion"),
        ("Whatever", 418, None, "engage_418"),
    ],
)
def test_refusals_map_to_reasons(code: str | None, status: int, expires: str | None, reason: str) -> None:
    async def main() -> Refused:
        async with EngageClient("http://127.0.0.1:9", API_KEY) as client:
            executor = PromotionRedeem(client, LoyaltyStatus(3), time.time)
            return executor.refusal(op(expiresOn=expires), EngageHTTPError(status, code, ""))

    assert asyncio.run(main()) == Refused(reason, status)


def test_the_list_path_and_channel_filter_reach_the_simulator(sim: EngageSimulator) -> None:
    async def lists(client: EngageClient) -> tuple[list[str], list[str]]:
        pos = [p.promotion_id for p in await client.list_promotions(ASA)]
        every = [p.promotion_id for p in await client.list_promotions(ASA, None)]
        return pos, every

    async def main() -> tuple[list[str], list[str]]:
        async with EngageClient(sim.url, API_KEY) as client:
            return await lists(client)

    pos, every = asyncio.run(main())
    assert promotion_id("webfreight") in every and promotion_id("webfreight") not in pos
