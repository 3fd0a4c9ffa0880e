"""Only Engage's documented answer is success: a redirect, an HTML page or a wrong-shape body never is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import NotSent, Unknown
from posplugin.vendors.engage import EngageBadResponse, EngageBusy, EngageClient, EngageHTTPError, EngageUnreachable
from posplugin.vendors.engage.executors.call import transport_outcome

CID = "2b4fff30-49b2-5f21-90c6-f247ea8de82a"
RECEIPT = {"uniqueReceiptId": "r-1"}
TX = {"transactionId": "t-1"}


def call(handler: Callable[[httpx.Request], httpx.Response], body: Callable[[EngageClient], Any]) -> Any:
    async def main() -> Any:
        async with EngageClient("https://t.example", "k", transport=httpx.MockTransport(handler)) as client:
            return await body(client)

    return asyncio.run(main())


def answer(status: int, content: str = "", content_type: str = "application/json", **headers: str) -> Any:
    return lambda request: httpx.Response(
        status, content=content.encode(), headers={"content-type": content_type, **headers}
    )


POSTS: list[tuple[str, Callable[[EngageClient], Any]]] = [
    ("redeem", lambda c: c.redeem_voucher(CID)),
    ("reactivate", lambda c: c.reactivate_voucher(CID)),
    ("receipt", lambda c: c.create_receipt(RECEIPT)),
    ("point transaction", lambda c: c.add_point_transaction(TX)),
    ("point shop", lambda c: c.purchase_point_shop_item(CID, "p-1", "i-1")),
    ("promotion", lambda c: c.redeem_promotion(CID)),
]
NOT_ENGAGE = [
    pytest.param(answer(302, "", "text/html", location="https://portal.example/login"), id="302"),
    pytest.param(answer(301, "", location="https://elsewhere.example/"), id="301"),
    pytest.param(answer(307, ""), id="307"),
    pytest.param(answer(200, "<html><body>Welcome to the hotel wifi</body></html>", "text/html"), id="200-html"),
    pytest.param(answer(200, '{"ok": true}', "text/html"), id="200-json-as-html"),
    pytest.param(answer(200, "not json at all"), id="200-garbage"),
    pytest.param(answer(204), id="204"),
]


@pytest.mark.parametrize("handler", NOT_ENGAGE)
@pytest.mark.parametrize(("name", "post"), POSTS, ids=[name for name, _ in POSTS])
def test_a_post_answered_by_something_else_is_a_bad_response(handler: Any, name: str, post: Any) -> None:
    with pytest.raises(EngageBadResponse):
        call(handler, post)


@pytest.mark.parametrize("post", [p for name, p in POSTS if name in ("receipt", "point transaction", "point shop")])
def test_an_object_answer_that_is_a_list_is_the_wrong_shape(post: Any) -> None:
    with pytest.raises(EngageBadResponse, match="JSON object"):
        call(answer(200, "[1, 2]"), post)


def test_the_documented_answers_are_success() -> None:
    assert call(answer(200, ""), POSTS[0][1]).status == 200  # seed 004: 200 OK, nothing more documented
    assert call(answer(200, "{}"), POSTS[1][1]).status == 200
    assert call(answer(202, '{"uniqueReceiptId": "r-1"}'), POSTS[2][1]).body == {"uniqueReceiptId": "r-1"}
    assert call(answer(201, '{"id": "x"}'), POSTS[3][1]).status == 201


def test_a_get_answered_with_a_redirect_is_a_bad_response() -> None:
    with pytest.raises(EngageBadResponse):
        call(answer(302, '{"items": []}', location="https://portal.example/"), lambda c: c.list_vouchers(CID))


@pytest.mark.parametrize("handler", NOT_ENGAGE)
def test_the_probe_needs_a_real_engage_answer(handler: Any) -> None:
    with pytest.raises(EngageBadResponse):
        call(handler, lambda c: c.probe())


def test_the_probe_accepts_the_definitions_page_and_reports_a_json_refusal() -> None:
    assert call(answer(200, '{"items": [], "totalCount": 0}'), lambda c: c.probe()) >= 0
    with pytest.raises(EngageHTTPError):
        call(answer(404, '{"errorCode": "NotFound"}'), lambda c: c.probe())
    with pytest.raises(EngageBadResponse):
        call(answer(404, "<html>Not Found</html>", "text/html"), lambda c: c.probe())


def test_after_sending_a_bad_answer_is_unknown_and_before_sending_nothing_was_sent() -> None:
    outcome = transport_outcome(EngageBadResponse("redirect", 302))
    assert isinstance(outcome, Unknown) and outcome.http_status == 302
    assert isinstance(transport_outcome(EngageUnreachable("refused")), NotSent)


def test_a_request_our_side_cannot_write_is_not_sent() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value")

    with pytest.raises(EngageUnreachable):
        call(broken, lambda c: c.redeem_voucher(CID))


def test_a_full_connection_pool_is_congestion_not_engage_offline() -> None:
    def full(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("no free connection", request=request)

    with pytest.raises(EngageBusy):
        call(full, lambda c: c.get_contact(CID))
    status = LoyaltyStatus(1)
    status.record_success()
    status.record_failure(EngageBusy("busy"))
    assert status.state == "online"
    outcome = transport_outcome(EngageBusy("busy"))
    assert isinstance(outcome, NotSent) and outcome.why == "agent_busy"
