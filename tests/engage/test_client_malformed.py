"""Engage answering nonsense: every case is a typed error, never a crash (unit level, MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.vendors.engage import (
    EngageBadResponse,
    EngageClient,
    EngageError,
    EngageHTTPError,
    EngageNoAnswer,
    EngageServerError,
    EngageUnreachable,
)
from posplugin.vendors.engage.errors import parse_error_code
from posplugin.vendors.engage.timeparse import parse_engage_datetime, parse_http_date

CID = "2b4fff30-49b2-5f21-90c6-f247ea8de82a"


def call(handler: Callable[[httpx.Request], httpx.Response], body: Callable[[EngageClient], Any]) -> Any:
    async def main() -> Any:
        async with EngageClient("https://t.example", "k", transport=httpx.MockTransport(handler)) as client:
            return await body(client)

    return asyncio.run(main())


def answer(status: int, content: bytes | str, content_type: str = "application/json") -> Callable[..., Any]:
    raw = content.encode() if isinstance(content, str) else content
    return lambda request: httpx.Response(status, content=raw, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (answer(200, "<html>Login required</html>", "text/html"), EngageBadResponse),
        (answer(200, b""), EngageBadResponse),
        (answer(200, '"just a string"'), EngageBadResponse),
        (answer(200, "[1, 2, 3]"), EngageBadResponse),
        (answer(200, '{"id": null}'), EngageBadResponse),
        (answer(502, "<html>Bad gateway</html>", "text/html"), EngageServerError),
        (answer(500, ""), EngageServerError),
        (answer(404, "ContactNotFound", "text/plain"), EngageHTTPError),
    ],
)
def test_nonsense_bodies_become_typed_errors(handler: Any, error: type[EngageError]) -> None:
    with pytest.raises(error):
        call(handler, lambda c: c.get_contact(CID))


def test_wrong_field_types_are_tolerated() -> None:
    body = {
        "items": [
            {
                "id": 7,
                "balance": "12.5",
                "pendingPoints": None,
                "definitionId": "x",
                "balanceExpires": "2023-08-14T13:03:52.0510384+02:00",
                "extra": {"a": 1},
            }
        ],
        "totalCount": "lots",
    }
    accounts = call(answer(200, json.dumps(body)), lambda c: c.get_point_accounts(CID))
    assert accounts[0].id == "7" and str(accounts[0].balance) == "12.5" and accounts[0].pending_points == 0
    assert accounts[0].balance_expires is not None and accounts[0].balance_expires.microsecond == 51038


def test_capitalised_items_key_from_the_seed_is_read() -> None:
    body = {"Items": [{"id": "t1", "amount": 100, "type": "Addition", "description": "Test"}], "totalCount": 1}
    page = call(answer(200, json.dumps(body)), lambda c: c.get_point_transactions("acc"))
    assert [t.id for t in page.items] == ["t1"]


def test_items_not_a_list_is_bad_response() -> None:
    with pytest.raises(EngageBadResponse):
        call(answer(200, '{"items": {"a": 1}}'), lambda c: c.get_point_accounts(CID))


def test_connect_error_is_unreachable_and_read_timeout_is_no_answer() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("reset", request=request)

    with pytest.raises(EngageUnreachable):
        call(refuse, lambda c: c.redeem_voucher(CID))
    with pytest.raises(EngageNoAnswer):
        call(hang, lambda c: c.redeem_voucher(CID))
    with pytest.raises(EngageNoAnswer):
        call(reset, lambda c: c.redeem_voucher(CID))


def test_redeem_sends_no_body_and_uses_the_long_timeout() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"date": "Sun, 22 Nov 2026 10:00:00 GMT"})

    result = call(record, lambda c: c.redeem_voucher("a/../b"))
    assert seen[0].content == b""
    assert seen[0].url.raw_path == b"/api/v3/reward-vouchers/a%2F..%2Fb/redeem"  # ids cannot change the path
    assert seen[0].extensions["timeout"]["read"] >= 60
    assert result.server_date == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_redeem_with_a_non_json_body_is_not_engages_yes() -> None:
    with pytest.raises(EngageBadResponse):
        call(answer(200, "OK", "text/plain"), lambda c: c.redeem_voucher(CID))


def test_contact_id_wrapped_in_an_object_is_accepted() -> None:
    assert call(answer(200, json.dumps({"id": CID})), lambda c: c.find_contact_id("customKey", "1")) == CID


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b'{"errorCode": "RewardVoucherExpired"}', "application/json", "RewardVoucherExpired"),
        (
            b'{"code": "X", "message": "RewardVoucherAlreadyRedeemed: already"}',
            "application/json",
            "RewardVoucherAlreadyRedeemed",
        ),
        (b'{"error": "InvalidContactType"}', "application/json", "InvalidContactType"),
        (b'"ContactNotFound"', "application/json", "ContactNotFound"),
        (b'{"errorCode": "SomethingNew"}', "application/json", "SomethingNew"),
        (b"<html>RewardVoucherNotFound</html>", "text/html", None),
        (b"RewardVoucherNotFound", "text/plain", "RewardVoucherNotFound"),
        (b"", "", None),
    ],
)
def test_error_code_parsing(body: bytes, content_type: str, code: str | None) -> None:
    assert parse_error_code(body, content_type)[0] == code


@settings(max_examples=300)
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/html", ""]))
def test_error_code_parsing_never_raises(body: bytes, content_type: str) -> None:
    code, detail = parse_error_code(body, content_type)
    assert code is None or code.isidentifier()
    assert len(detail) <= 200


@given(st.text(max_size=40))
def test_datetime_parsing_never_raises(text: str) -> None:
    parsed = parse_engage_datetime(text)
    assert parsed is None or parsed.tzinfo is not None


def test_seven_digit_fractions_and_z() -> None:
    parsed = parse_engage_datetime("2023-08-14T13:03:52.0510384+02:00")
    assert parsed is not None and parsed.microsecond == 51038 and parsed.utcoffset() is not None
    assert parse_engage_datetime("2023-02-08T12:15:59.212Z") == datetime(2023, 2, 8, 12, 15, 59, 212000, tzinfo=UTC)
    assert parse_engage_datetime("2023-02-08T12:15:59") == datetime(2023, 2, 8, 12, 15, 59, tzinfo=UTC)
    assert parse_http_date("garbage") is None
