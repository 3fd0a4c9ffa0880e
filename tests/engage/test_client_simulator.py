"""The Engage client against the simulator over real HTTP: every endpoint and every documented error code."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from posplugin.vendors.engage import (
    EngageAuthError,
    EngageClient,
    EngageError,
    EngageHTTPError,
    EngageNoAnswer,
    EngageRateLimited,
    EngageServerError,
    EngageTimeouts,
    EngageUnreachable,
)
from posplugin.vendors.engage.client import POINT_TRANSACTION_ANSWER
from posplugin.vendors.engage.simulator import (
    EngageSimulator,
    FaultRule,
    assignment_id,
    item_id,
    member_id,
    voucher_id,
)
from tests.conftest import API_KEY

T = TypeVar("T")
ASA = member_id("asa")
MARTA = member_id("marta")


def run(sim: EngageSimulator, body: Callable[[EngageClient], Awaitable[T]], **kwargs: Any) -> T:
    async def main() -> T:
        async with EngageClient(sim.url, kwargs.pop("api_key", API_KEY), **kwargs) as client:
            return await body(client)

    return asyncio.run(main())


def error_of(sim: EngageSimulator, body: Callable[[EngageClient], Awaitable[Any]], **kwargs: Any) -> EngageError:
    async def main() -> EngageError:
        async with EngageClient(sim.url, kwargs.pop("api_key", API_KEY), **kwargs) as client:
            try:
                await body(client)
            except EngageError as exc:
                return exc
        raise AssertionError("expected an EngageError")

    return asyncio.run(main())


# ---- contacts ------------------------------------------------------------------------------------------


def test_contact_lookup_by_card_and_member_number(sim: EngageSimulator) -> None:
    assert run(sim, lambda c: c.find_contact_id("customKey", "2400000010014")) == ASA
    assert run(sim, lambda c: c.find_contact_id("customKey", "1000001")) == ASA
    assert run(sim, lambda c: c.find_contact_id("email", "ASA.OBERG@example.se")) == ASA


@pytest.mark.parametrize(
    ("key", "value", "status", "code"),
    [
        ("customKey", "999999", 404, "ContactNotFound"),
        ("email", "not-an-email", 400, "InvalidEmailAddress"),
        ("mobilePhone", "12ab", 400, "InvalidPhoneNumber"),
        ("socialSecurityNumber", "abc", 400, "InvalidSocialSecurityNumber"),
    ],
)
def test_contact_lookup_errors(sim: EngageSimulator, key: str, value: str, status: int, code: str) -> None:
    err = error_of(sim, lambda c: c.find_contact_id(key, value))
    assert isinstance(err, EngageHTTPError)
    assert (err.status, err.code) == (status, code)


def test_any_key_misreads_a_numeric_card_as_a_phone_number(sim: EngageSimulator) -> None:
    # Why lookup_keys never contains "any": the card 2400000010014 fits the phone format and is not found.
    err = error_of(sim, lambda c: c._get("/api/v3/contacts/id", {"any": "2400000010014"}))
    assert isinstance(err, EngageHTTPError) and err.code == "ContactNotFound"


def test_multiple_matches_and_bad_queries(sim: EngageSimulator) -> None:
    sim.state.contacts[MARTA].cards.append("2400000010014")
    err = error_of(sim, lambda c: c.find_contact_id("customKey", "2400000010014"))
    assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (409, "MultipleMatches")
    err = error_of(sim, lambda c: c._get("/api/v3/contacts/id", {}))
    assert isinstance(err, EngageHTTPError) and err.code == "InvalidSearchQuery"
    err = error_of(sim, lambda c: c._get("/api/v3/contacts/id", {"customKey": "1", "contactType": "Robot"}))
    assert isinstance(err, EngageHTTPError) and err.code == "InvalidContactType"


def test_get_contact_and_not_found(sim: EngageSimulator) -> None:
    contact = run(sim, lambda c: c.get_contact(ASA))
    assert (contact.first_name, contact.last_name, contact.member_number) == ("Åsa", "Öberg", "1000001")
    err = error_of(sim, lambda c: c.get_contact(str(uuid.uuid4())))
    assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (404, "ContactNotFound")


# ---- points --------------------------------------------------------------------------------------------


def test_point_accounts_paged_object_and_bare_array(sim: EngageSimulator) -> None:
    accounts = run(sim, lambda c: c.get_point_accounts(ASA))
    assert [(a.definition_id, int(a.balance), int(a.pending_points)) for a in accounts] == [(1, 2450, 300)]
    sim.state.settings.point_accounts_as_array = True
    again = run(sim, lambda c: c.get_point_accounts(ASA))
    assert again == accounts
    assert run(sim, lambda c: c.get_point_account(accounts[0].id)) == accounts[0]


def test_point_transactions_filter_paging_and_single(sim: EngageSimulator) -> None:
    account = run(sim, lambda c: c.get_point_accounts(ASA))[0]
    every = run(sim, lambda c: c.get_point_transactions(account.id, filter="All"))
    pending = run(sim, lambda c: c.get_point_transactions(account.id, filter="Pending"))
    active = run(sim, lambda c: c.get_point_transactions(account.id, filter="Active"))
    assert every.total_count == 2
    assert [int(t.amount) for t in pending.items] == [300]
    assert [int(t.amount) for t in active.items] == [2450]
    page = run(sim, lambda c: c.get_point_transactions(account.id, offset=1, count=1, sort_order="Asc"))
    assert (page.total_count, len(page.items), page.offset) == (2, 1, 1)
    single = run(sim, lambda c: c.get_point_transaction(page.items[0].id))
    assert single.id == page.items[0].id
    assert single.transaction_date is not None  # 7-digit fractions parsed


def test_single_point_transaction_is_idempotent_on_transaction_id(sim: EngageSimulator) -> None:
    account = run(sim, lambda c: c.get_point_accounts(ASA))[0]
    body = {
        "accountId": account.id,
        "transactionId": str(uuid.uuid4()),
        "transactionType": "Addition",
        "amount": 50,
        "description": "Goodwill",
        "source": "Adjustment",
    }
    first = run(sim, lambda c: c.add_point_transaction(body))
    second = run(sim, lambda c: c.add_point_transaction(body))
    assert (first.status, second.status) == (202, 202)  # seed 000: a successful POST gets 202 Accepted
    assert int(run(sim, lambda c: c.get_point_accounts(ASA))[0].balance) == 2500
    by_client_id = run(sim, lambda c: c.get_point_transaction(body["transactionId"]))
    assert int(by_client_id.amount) == 50
    with pytest.raises(ValueError, match="transactionId"):
        run(sim, lambda c: c.add_point_transaction({"accountId": account.id, "amount": 1}))


def test_bulk_point_transactions_split_into_chunks_of_1000(sim: EngageSimulator) -> None:
    rows = [{"contactId": ASA, "amount": 1, "definitionId": 1, "source": "Adjustment"} for _ in range(2500)]
    rows[5] = {"contactId": str(uuid.uuid4()), "amount": 1, "definitionId": 1}
    results = run(sim, lambda c: c.add_point_transactions_bulk(rows))
    assert [r.accepted + len(r.not_accepted) for r in results] == [1000, 1000, 500]
    assert results[0].not_accepted == [5] and len(results[0].missing_contact_ids) == 1
    assert int(run(sim, lambda c: c.get_point_accounts(ASA))[0].balance) == 2450 + 2499


def test_bulk_over_1000_rows_is_refused_by_engage(sim: EngageSimulator) -> None:
    rows = [{"contactId": ASA, "amount": 1, "definitionId": 1}] * 1001
    err = error_of(sim, lambda c: c._post("/api/v3/point-accounts/transactions", POINT_TRANSACTION_ANSWER, rows))
    assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (400, "TooManyItems")


def test_point_definitions(sim: EngageSimulator) -> None:
    definitions = run(sim, lambda c: c.get_point_definitions())
    assert [d.id for d in definitions] == [1]
    assert run(sim, lambda c: c.get_point_definition(1)).name == "Bonuspoäng"
    err = error_of(sim, lambda c: c.get_point_definition(9))
    assert isinstance(err, EngageHTTPError) and err.code == "PointDefinitionNotFound"


# ---- vouchers ------------------------------------------------------------------------------------------


def test_voucher_lists_and_paging(sim: EngageSimulator) -> None:
    available = run(sim, lambda c: c.list_all_vouchers(ASA, "available", page_size=1))
    assert [v.name for v in available] == ["Födelsedagscheck 50 kr", "Bonuscheck 195 kr"]
    assert available[1].value is not None and str(available[1].value.amount) == "195"
    assert [m.currency for m in available[1].local_values] == ["NOK", "EUR"]
    every = run(sim, lambda c: c.list_vouchers(ASA, "all"))
    assert every.total_count == 3  # one expired
    assert run(sim, lambda c: c.list_vouchers(ASA, "redeemed")).total_count == 0


def test_redeem_then_already_redeemed_then_reactivate(sim: EngageSimulator) -> None:
    vid = voucher_id("asa", 1)
    result = run(sim, lambda c: c.redeem_voucher(vid))
    assert result.status == 200 and result.server_date is not None
    err = error_of(sim, lambda c: c.redeem_voucher(vid))
    assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (409, "RewardVoucherAlreadyRedeemed")
    redeemed = run(sim, lambda c: c.list_vouchers(ASA, "redeemed"))
    assert [v.id for v in redeemed.items] == [vid] and redeemed.items[0].redeemed_on is not None
    assert run(sim, lambda c: c.reactivate_voucher(vid)).status == 200
    err = error_of(sim, lambda c: c.reactivate_voucher(vid))
    assert isinstance(err, EngageHTTPError) and err.code == "RewardVoucherAlreadyActivated"


def test_redeem_error_codes(sim: EngageSimulator) -> None:
    cases = [
        ("not-a-guid", 400, "InvalidRewardVoucherId"),
        (str(uuid.uuid4()), 404, "RewardVoucherNotFound"),
        (voucher_id("asa", 3), 409, "RewardVoucherExpired"),
    ]
    for vid, status, code in cases:
        err = error_of(sim, lambda c, vid=vid: c.redeem_voucher(vid))
        assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (status, code), vid
        err = error_of(sim, lambda c, vid=vid: c.reactivate_voucher(vid))
        assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (status, code), vid


def test_reactivation_limit(sim: EngageSimulator) -> None:
    vid = voucher_id("marta", 1)
    for _ in range(3):
        run(sim, lambda c: c.redeem_voucher(vid))
        run(sim, lambda c: c.reactivate_voucher(vid))
    run(sim, lambda c: c.redeem_voucher(vid))
    err = error_of(sim, lambda c: c.reactivate_voucher(vid))
    assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (409, "ReactivationLimitExceeded")


def test_gateway_timeout_before_the_point_of_no_return(sim: EngageSimulator) -> None:
    sim.state.settings.point_of_no_return = 0.3
    sim.faults.add(FaultRule("slow_save", method="POST", path="/redeem$", delay=1.0))
    err = error_of(sim, lambda c: c.redeem_voucher(voucher_id("asa", 1)))
    assert isinstance(err, EngageServerError) and (err.status, err.code) == (504, "GatewayTimeout")
    assert sim.state.redeem_commits == {}


def test_slow_commit_is_waited_for_with_the_long_timeout(sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("slow_commit", method="POST", path="/redeem$", delay=1.2))
    started = time.monotonic()
    result = run(
        sim,
        lambda c: c.redeem_voucher(voucher_id("asa", 1)),
        timeouts=EngageTimeouts(connect=1, read=0.5, long_read=60),
    )
    assert result.status == 200 and time.monotonic() - started >= 1.2


def test_reset_after_commit_is_no_answer_but_committed(sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/redeem$"))
    err = error_of(sim, lambda c: c.redeem_voucher(voucher_id("asa", 1)))
    assert isinstance(err, EngageNoAnswer)
    assert sim.state.redeem_commits == {voucher_id("asa", 1): 1}


def test_blackhole_read_timeout_is_no_answer(sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("blackhole", path="/contacts/", delay=3))
    err = error_of(sim, lambda c: c.get_contact(ASA), timeouts=EngageTimeouts(connect=1, read=0.3))
    assert isinstance(err, EngageNoAnswer)


def test_offline_is_unreachable(sim: EngageSimulator) -> None:
    sim.set_offline(True)
    err = error_of(sim, lambda c: c.get_contact(ASA), connect_retries=0)
    assert isinstance(err, EngageUnreachable)
    sim.set_offline(False)
    assert run(sim, lambda c: c.get_contact(ASA)).id == ASA


def test_5xx_html_page_is_a_server_error(sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("error", status=503))
    err = error_of(sim, lambda c: c.get_contact(ASA))
    assert isinstance(err, EngageServerError) and err.status == 503 and err.code is None


def test_wrong_api_key_is_auth_error(sim: EngageSimulator) -> None:
    err = error_of(sim, lambda c: c.get_contact(ASA), api_key="wrong")
    assert isinstance(err, EngageAuthError) and err.status == 401


def test_get_retries_429_then_succeeds(sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("rate_limit", path="/contacts/", times=2, delay=0))
    assert run(sim, lambda c: c.get_contact(ASA)).id == ASA


def test_post_429_is_raised_not_retried(sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("rate_limit", method="POST", delay=3))
    err = error_of(sim, lambda c: c.redeem_voucher(voucher_id("asa", 1)))
    assert isinstance(err, EngageRateLimited) and err.retry_after == 3.0
    assert sim.state.redeem_commits == {}


def test_per_key_rate_limit_answers_429(sim: EngageSimulator) -> None:
    sim.rate_limit_per_second = 5

    async def burst(c: EngageClient) -> list[Any]:
        return await asyncio.gather(*(c._send("GET", f"/api/v3/contacts/{ASA}") for _ in range(12)))

    statuses = [r.status_code for r in run(sim, burst)]
    assert statuses.count(429) >= 1 and sim.stats["rate_limited"] >= 1


# ---- point shop, receipts, promotions ------------------------------------------------------------------


def test_point_shop_items_and_purchase_idempotency_table(sim: EngageSimulator) -> None:
    items = run(sim, lambda c: c.list_point_shop_items(ASA))
    assert {i.name for i in items} >= {"Kaffe och bulle", "Spadag för två"}
    purchase_id = str(uuid.uuid4())
    first = run(sim, lambda c: c.purchase_point_shop_item(ASA, purchase_id, item_id("coffee")))
    again = run(sim, lambda c: c.purchase_point_shop_item(ASA, purchase_id, item_id("coffee")))
    assert first.body["pointShopItemPurchaseId"] == again.body["pointShopItemPurchaseId"] == purchase_id
    assert int(run(sim, lambda c: c.get_point_accounts(ASA))[0].balance) == 2450 - 300
    err = error_of(sim, lambda c: c.purchase_point_shop_item(MARTA, purchase_id, item_id("coffee")))
    assert isinstance(err, EngageHTTPError) and err.status == 400
    run(sim, lambda c: c.purchase_point_shop_item(ASA, str(uuid.uuid4()), item_id("coffee")))
    assert int(run(sim, lambda c: c.get_point_accounts(ASA))[0].balance) == 2450 - 600
    history = run(sim, lambda c: c.list_point_shop_purchases(ASA))
    assert len(history) == 2 and {p.status for p in history} == {"Processing"}


@pytest.mark.parametrize(
    ("contact", "item", "status", "code"),
    [
        (ASA, "spa", 422, "InsufficientPoints"),
        (ASA, "xmas", 400, "PromotionAssignmentPromotionExpired"),
        (ASA, "missing", 404, "PointShopItemNotFound"),
        (str(uuid.uuid4()), "coffee", 400, "PromotionAssignmentContactNotFound"),
    ],
)
def test_point_shop_purchase_errors(sim: EngageSimulator, contact: str, item: str, status: int, code: str) -> None:
    err = error_of(sim, lambda c: c.purchase_point_shop_item(contact, str(uuid.uuid4()), item_id(item)))
    assert isinstance(err, EngageHTTPError) and (err.status, err.code) == (status, code)


def test_point_shop_lists_reject_bad_contact_ids(sim: EngageSimulator) -> None:
    err = error_of(sim, lambda c: c.list_point_shop_items("nope"))
    assert isinstance(err, EngageHTTPError) and err.status == 400
    err = error_of(sim, lambda c: c.list_point_shop_purchases(MARTA))
    assert isinstance(err, EngageHTTPError) and err.status == 404


def test_receipt_duplicate_is_absorbed(sim: EngageSimulator) -> None:
    receipt = {
        "uniqueReceiptId": "R-1",
        "createdDate": "2026-11-22T10:00:00+01:00",
        "storeExternalId": "s1",
        "currency": "SEK",
        "totalGrossPrice": 100,
        "paymentMethods": [{"type": "card", "value": 100}],
        "items": [{"type": "PURCHASE", "sku": "1", "articleName": "Kaffe", "quantity": 1, "grossPaidPrice": 100}],
        "contact": {"matchKey": ASA, "matchKeyType": "contactId"},
    }
    assert run(sim, lambda c: c.create_receipt(receipt)).status == 202
    assert run(sim, lambda c: c.create_receipt(receipt)).status == 202
    assert sim.state.duplicate_receipts == 1 and len(sim.state.receipts) == 1
    err = error_of(sim, lambda c: c.create_receipt({"uniqueReceiptId": "R-2"}))
    assert isinstance(err, EngageHTTPError) and err.code == "InvalidReceipt"


def test_promotion_redeem_and_probe(sim: EngageSimulator) -> None:
    assert run(sim, lambda c: c.redeem_promotion(assignment_id("asa", "spring20"))).status == 200
    unknown = error_of(sim, lambda c: c.redeem_promotion(str(uuid.uuid4())))
    assert isinstance(unknown, EngageHTTPError) and (unknown.status, unknown.code) == (404, "PromotionNotFound")
    assert run(sim, lambda c: c.probe()) < 5


def test_user_agent_and_headers_reach_engage(sim: EngageSimulator) -> None:
    seen: dict[str, str] = {}
    original = sim._serve_api

    def spy(handler: Any, *args: Any) -> None:
        seen.update({k.lower(): v for k, v in handler.headers.items()})
        original(handler, *args)

    sim._serve_api = spy  # type: ignore[method-assign]
    run(sim, lambda c: c.get_contact(ASA), agent="posplugin/0.1.0 (s1/t1)")
    assert seen["user-agent"] == "posplugin/0.1.0 (s1/t1)"
    assert seen["apikey"] == API_KEY and seen["content-type"] == "application/json"
