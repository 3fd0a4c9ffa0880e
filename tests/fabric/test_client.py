"""The fabric client against the simulator: every outcome, the envelope, tokens."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from posplugin.loyalty.errors import (
    LoyaltyAuthError,
    LoyaltyBadAnswer,
    LoyaltyCongested,
    LoyaltyHTTPError,
    LoyaltyNoAnswer,
    LoyaltyRateLimited,
    LoyaltyServerError,
    LoyaltyUnreachable,
)
from posplugin.vendors.fabric.client import FabricClient, FabricTimeouts
from posplugin.vendors.fabric.errors import FabricHTTPError
from posplugin.vendors.fabric.simulator import FabricSimulator
from posplugin.vendors.faults import FaultRule

from .conftest import ANNA, ERIK, SARA, STORE, client_for

T = TypeVar("T")


def run(sim: FabricSimulator, body: Callable[[FabricClient], Awaitable[T]], **kwargs: Any) -> T:
    async def main() -> T:
        async with client_for(sim, **kwargs) as client:
            return await body(client)

    return asyncio.run(main())


def test_member_by_card_and_by_profile_id(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient) -> Any:
        return (
            await c.find_member(loyalty_number="8800000000011"),
            await c.find_member(profile_id=ERIK),
            await c.find_member(loyalty_number="8800000000999"),
        )

    anna, erik, nobody = run(fabric, body)
    assert anna is not None and anna.profile_id == ANNA and anna.first_name == "Anna"
    assert erik is not None and erik.loyalty_number == "8800000000029"
    assert nobody is None


def test_balance_by_type_with_restricted_points_apart(fabric: FabricSimulator) -> None:
    balance = run(fabric, lambda c: c.balance(ERIK))
    assert balance.available == 900
    assert balance.by_type == {"Base": 300, "Bonus": 150, "Promotional": 50, "Restricted": 400}
    assert [(r.points, r.location) for r in balance.restricted] == [(400, "store-002")]
    assert balance.usable_at(STORE) == 500 and balance.usable_at("store-002") == 900


def test_reward_issue_redeem_and_history(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient) -> Any:
        reward = await c.issue_reward(ANNA, STORE, Decimal("50.00"))
        await c.redeem_reward(ANNA, STORE, reward.redemption_code)
        return reward, await c.reward_history(ANNA), await c.balance(ANNA)

    reward, history, balance = run(fabric, body)
    assert reward.value == Decimal("50.00") and reward.point_cost == 500
    assert [(r.redemption_code, r.status) for r in history] == [(reward.redemption_code, "Redeemed")]
    assert history[0].created_at is not None
    assert balance.available == 700


def test_too_few_points_is_a_refusal_naming_them(fabric: FabricSimulator) -> None:
    with pytest.raises(FabricHTTPError) as caught:
        run(fabric, lambda c: c.issue_reward(SARA, STORE, Decimal("50.00")))
    assert caught.value.status == 400 and caught.value.is_insufficient_points
    assert fabric.state.issue_commits == 0


def test_restricted_points_count_only_at_their_location(fabric: FabricSimulator) -> None:
    with pytest.raises(FabricHTTPError):
        run(fabric, lambda c: c.issue_reward(ERIK, STORE, Decimal("60.00")))  # 600 > 500 usable here
    reward = run(fabric, lambda c: c.issue_reward(ERIK, "store-002", Decimal("60.00")))
    assert reward.point_cost == 600


def test_cancel_only_before_redemption_reverse_only_after(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient) -> list[str]:
        seen = []
        first = await c.issue_reward(ANNA, STORE, Decimal("10.00"))
        try:
            await c.reverse_reward(ANNA, first.redemption_code)
        except LoyaltyHTTPError as exc:
            seen.append(f"reverse-active:{exc.status}")
        await c.cancel_reward(ANNA, first.redemption_code)
        second = await c.issue_reward(ANNA, STORE, Decimal("10.00"))
        await c.redeem_reward(ANNA, STORE, second.redemption_code)
        try:
            await c.cancel_reward(ANNA, second.redemption_code)
        except LoyaltyHTTPError as exc:
            seen.append(f"cancel-redeemed:{exc.status}")
        await c.reverse_reward(ANNA, second.redemption_code)
        seen.append(str((await c.balance(ANNA)).available))
        return seen

    assert run(fabric, body) == ["reverse-active:409", "cancel-redeemed:409", "1200"]
    assert sorted(fabric.state.reward_statuses(ANNA)) == ["Cancelled", "Reversed"]


# ---- failures, each mapped once -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (FaultRule("error", path="/member-points", status=503), LoyaltyServerError),
        (FaultRule("gateway_timeout", path="/member-points"), LoyaltyServerError),
        (FaultRule("reset_before", path="/member-points"), LoyaltyNoAnswer),
        (FaultRule("garbage", path="/member-points"), LoyaltyBadAnswer),
        (FaultRule("garbage", path="/member-points", body='{"points": 3}'), LoyaltyBadAnswer),
        (FaultRule("garbage", path="/member-points", body="[1, 2]"), LoyaltyBadAnswer),
    ],
)
def test_failures_map_onto_the_neutral_errors(fabric: FabricSimulator, rule: FaultRule, expected: type) -> None:
    fabric.faults.add(rule)
    with pytest.raises(expected):
        run(fabric, lambda c: c.balance(ANNA))


def test_rate_limited_money_call_keeps_retry_after_and_is_not_retried(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("rate_limit", path="/reward/issue", delay=7, times=5))
    with pytest.raises(LoyaltyRateLimited) as caught:
        run(fabric, lambda c: c.issue_reward(ANNA, STORE, Decimal("5.00")))
    assert caught.value.retry_after == 7.0
    assert fabric.state.issue_commits == 0


def test_a_lookup_waits_out_a_short_rate_limit(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("rate_limit", path="/member-points", delay=0))
    assert run(fabric, lambda c: c.balance(ANNA)).available == 1200


def test_a_read_that_outlives_its_timeout_is_no_answer(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("blackhole", path="/member-points", delay=2))
    with pytest.raises(LoyaltyNoAnswer):
        run(fabric, lambda c: c.balance(ANNA), timeouts=FabricTimeouts(read=0.3))


def test_nothing_listening_is_unreachable() -> None:
    async def main() -> None:
        async with FabricClient("http://127.0.0.1:9/api", "http://127.0.0.1:9/oauth2/x", "id", lambda: "s") as c:
            await c.balance(ANNA)

    with pytest.raises(LoyaltyUnreachable):
        asyncio.run(main())


def test_error_status_inside_a_200_envelope_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 600})
        return httpx.Response(200, json={"status": 404, "message": "No member", "errors": {"profileId": "x"}})

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with FabricClient("http://f/api", "http://a", "id", lambda: "s", transport=transport) as c:
            await c.balance(ANNA)

    with pytest.raises(FabricHTTPError) as caught:
        asyncio.run(main())
    assert (caught.value.status, caught.value.code, caught.value.detail) == (404, "profileId", "No member")


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_never_followed_and_is_a_bad_answer(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 600})
        return httpx.Response(status, headers={"Location": "https://login.example/"}, text="<html>login</html>")

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with FabricClient("http://f/api", "http://a", "id", lambda: "s", transport=transport) as c:
            await c.issue_reward(ANNA, STORE, Decimal("5.00"))

    with pytest.raises(LoyaltyBadAnswer):
        asyncio.run(main())


def test_pool_exhaustion_is_congestion_not_a_vendor_failure() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("no connection")

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with FabricClient("http://f/api", "http://a", "id", lambda: "s", transport=transport) as c:
            c.tokens._token = None
            await c._once("GET", "/v1/redeem", "t", None, None, False)

    with pytest.raises(LoyaltyCongested):
        asyncio.run(main())


def test_money_calls_get_a_long_read_timeout() -> None:
    with pytest.raises(ValueError):
        FabricTimeouts(long_read=30.0)
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.extensions["timeout"]["read"]
        if request.url.path.endswith("/v1/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 600})
        data = {"redemptionCode": "c1", "rewardValue": 5} if "issue" in request.url.path else [{"totalPoints": 1}]
        return httpx.Response(200, json={"status": 200, "message": "", "errors": {}, "data": data})

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with FabricClient("http://f/api", "http://a", "id", lambda: "s", transport=transport) as c:
            await c.balance(ANNA)
            await c.issue_reward(ANNA, STORE, Decimal("5.00"))

    asyncio.run(main())
    assert seen[f"/api/v1/inquire/{ANNA}/member-points"] == 10.0
    assert seen["/api/v1/redeem/reward/issue"] >= 60.0


# ---- tokens ---------------------------------------------------------------------------------------------


def test_token_is_cached_and_refreshed_at_80_percent(fabric: FabricSimulator) -> None:
    fabric.state.settings.token_ttl = 1.0

    async def body(c: FabricClient) -> list[int]:
        fetches = []
        for pause in (0.0, 0.3, 0.3, 0.4):  # 0, 0.3, 0.6 → one token; 1.0 s > 80 % of 1 s → a new one
            await asyncio.sleep(pause)
            await c.balance(ANNA)
            fetches.append(c.tokens.fetches)
        return fetches

    assert run(fabric, body) == [1, 1, 1, 2]


def test_one_refresh_on_a_401_then_the_call_goes_through(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient) -> int:
        await c.balance(ANNA)
        fabric.state.revoke_tokens()  # fabric forgot the token long before we think it expires
        await c.balance(ANNA)
        return c.tokens.fetches

    assert run(fabric, body) == 2


def test_a_second_401_fails_with_an_auth_error_after_one_refresh() -> None:
    tokens = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/token"):
            tokens.append(1)
            return httpx.Response(200, json={"access_token": f"t{len(tokens)}", "expires_in": 600})
        return httpx.Response(401, json={"status": 401, "message": "Unauthorized", "errors": {}})

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with FabricClient("http://f/api", "http://a", "id", lambda: "s", transport=transport) as c:
            await c.balance(ANNA)

    with pytest.raises(LoyaltyAuthError):
        asyncio.run(main())
    assert len(tokens) == 2


def test_concurrent_401s_share_one_refresh(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient) -> int:
        await c.balance(ANNA)
        fabric.state.revoke_tokens()
        await asyncio.gather(*(c.balance(ANNA) for _ in range(8)))
        return c.tokens.fetches

    assert run(fabric, body) == 2


def test_reward_issue_is_not_resent_after_a_401(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient) -> Any:
        await c.balance(ANNA)
        fabric.state.revoke_tokens()
        try:
            await c.issue_reward(ANNA, STORE, Decimal("10.00"))
        except LoyaltyAuthError:
            pass
        # The token was refreshed: the outbox's next attempt goes through.
        return await c.issue_reward(ANNA, STORE, Decimal("10.00")), c.tokens.fetches

    reward, fetches = run(fabric, body)
    assert fetches == 2 and reward.redemption_code
    assert fabric.state.issue_commits == 1


def test_a_token_expiring_mid_flight_neither_loses_nor_doubles_the_call(fabric: FabricSimulator) -> None:
    fabric.state.settings.token_ttl = 0.6
    fabric.faults.add(FaultRule("slow_commit", path="/reward/issue", delay=1.0))

    async def body(c: FabricClient) -> Any:
        started = time.monotonic()
        reward = await c.issue_reward(ANNA, STORE, Decimal("10.00"))  # answered after its token expired
        assert time.monotonic() - started >= 0.9
        await c.balance(ANNA)  # the next call gets a fresh token first
        return reward, c.tokens.fetches

    reward, fetches = run(fabric, body)
    assert reward.redemption_code and fetches == 2
    assert fabric.state.issue_commits == 1


def test_wrong_secret_is_an_auth_error_that_never_shows_the_secret(
    fabric: FabricSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "very-secret-value-42"
    with pytest.raises(LoyaltyAuthError) as caught:
        run(fabric, lambda c: c.balance(ANNA), secret=secret)
    assert secret not in str(caught.value) and secret not in repr(caught.value.args)
    assert secret not in caplog.text
    assert fabric.state.token_requests == 1  # a refused token is not asked for again in a loop


@pytest.mark.parametrize("rule", [FaultRule("reset_before"), FaultRule("blackhole", delay=2)])
def test_a_token_request_that_fails_means_nothing_was_sent(fabric: FabricSimulator, rule: FaultRule) -> None:
    rule.path = "/v1/token"
    fabric.faults.add(rule)
    with pytest.raises(LoyaltyUnreachable) as caught:
        run(fabric, lambda c: c.issue_reward(ANNA, STORE, Decimal("5.00")), timeouts=FabricTimeouts(read=0.3))
    assert fabric.state.client_secret not in str(caught.value)
    assert fabric.state.issue_commits == 0
