"""Promotion redemption through the agent's HTTP API against the simulator: the member view's offers, and every
outcome of the redeem state machine (the voucher rules: ownership first, lost answers, redeemed elsewhere,
offline limits)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from posplugin.vendors.engage.simulator import (
    EngageSimulator,
    FaultRule,
    assignment_id,
    member_id,
    promotion_id,
)
from tests.conftest import RunningAgent, wait_for

ASA, MARTA, BJORN = member_id("asa"), member_id("marta"), member_id("bjorn")
ASA_CARD = "2400000010014"
SPRING, FIFTY = assignment_id("asa", "spring20"), assignment_id("asa", "fifty")
FAST = {"retry_min_seconds": 0.2, "retry_max_seconds": 0.6, "cashier_wait": 2.0}
REDEEM = r"/promotion-assignments/[^/]+/redeem$"
LISTS = r"/promotions$"


@pytest.fixture
def agent(agent_factory: Any) -> RunningAgent:
    running: RunningAgent = agent_factory(offline=FAST)
    return running


def identify(agent: RunningAgent, code: str) -> dict[str, Any]:
    with agent.client() as http:
        response = http.post("/api/v1/identify", json={"code": code})
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def redeem(agent: RunningAgent, assignment: str, contact: str, op_id: str | None = None) -> dict[str, Any]:
    body = {"contactId": contact} | ({"opId": op_id} if op_id else {})
    with agent.client() as http:
        response = http.post(f"/api/v1/promotions/{assignment}/redeem", json=body)
    assert response.status_code == 200, response.text
    op: dict[str, Any] = response.json()
    return op


def op_state(agent: RunningAgent, op_id: str) -> dict[str, Any]:
    with agent.client() as http:
        result: dict[str, Any] = http.get(f"/api/v1/ops/{op_id}").json()
        return result


def settles(agent: RunningAgent, op_id: str, timeout: float = 15) -> dict[str, Any]:
    wait_for(lambda: op_state(agent, op_id)["state"] != "queued", timeout=timeout)
    return op_state(agent, op_id)


def go_offline(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.set_offline(True)
    with agent.client() as http:
        http.post("/api/v1/identify", json={"code": "7777777"})
        wait_for(lambda: http.get("/api/v1/health").json()["engage"] == "offline", timeout=5)


# ---- the member view ---------------------------------------------------------------------------------------


def test_the_view_lists_the_offers_usable_at_the_till_with_their_instructions(agent: RunningAgent) -> None:
    offers = identify(agent, ASA_CARD)["promotions"]
    # Not the web-shop-only one, not the one that has ended; the one ending soonest first.
    assert [p["id"] for p in offers] == [SPRING, FIFTY]
    spring, fifty = offers
    assert spring["promotionId"] == promotion_id("spring20")
    assert (spring["valueType"], spring["percent"], spring["value"]) == ("PERCENT", 20, None)
    assert spring["instruction"] == "Ge 20 % rabatt på en vara till ordinarie pris."
    assert spring["heading"] == "20 % på en valfri vara" and spring["expiresOn"].endswith("Z")
    assert fifty["value"] == {"amount": 50, "currency": "SEK"} and fifty["localValues"] == [
        {"amount": 4.5, "currency": "EUR"}
    ]
    assert fifty["instruction"] == "Dra av 50 kr från köp på minst 300 kr."
    assert identify(agent, "1000002")["promotions"] == []  # Björn's was used in the web shop


def test_a_returning_card_with_offers_is_still_one_round_trip(
    agent: RunningAgent, sim: EngageSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Structural rather than timed (a shared test machine stalls any stopwatch): for a card seen before, the
    four fetches of the view, the offers among them, go out before the card lookup has been answered."""
    identify(agent, ASA_CARD)  # the card is known from here on
    served: list[tuple[str, float]] = []
    serve = sim._serve_api

    def recording(handler: Any, method: str, path: str, params: Any, body: Any, rule: Any) -> None:
        served.append((path, time.monotonic()))  # after the injected latency: arrival + LATENCY
        serve(handler, method, path, params, body, rule)

    monkeypatch.setattr(sim, "_serve_api", recording)
    latency = sim.faults.latency = 0.5
    try:
        view = identify(agent, ASA_CARD)
    finally:
        sim.faults.latency = 0
    assert view["source"] == "live" and len(view["promotions"]) == 2
    lookup_answered = next(at for path, at in served if path == "/api/v3/contacts/id")
    fetches = {path.rsplit("/", 1)[-1]: at - latency for path, at in served if path != "/api/v3/contacts/id"}
    assert {"promotions", "point-accounts", "available", ASA} <= set(fetches), served
    assert all(sent < lookup_answered for sent in fetches.values()), (lookup_answered, fetches)


def test_offers_that_cannot_be_read_leave_the_member_on_screen(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("error", method="GET", path=LISTS, times=None, status=500))
    view = identify(agent, ASA_CARD)
    assert view["promotions"] == [] and view["promotionsUnavailable"] is True
    assert view["points"]["balance"] == 2450 and len(view["vouchers"]) == 2


def test_the_cached_view_keeps_the_offers_for_offline_display(agent: RunningAgent, sim: EngageSimulator) -> None:
    live = identify(agent, ASA_CARD)
    go_offline(agent, sim)
    cached = identify(agent, ASA_CARD)
    assert cached["source"] == "cache" and cached["promotions"] == live["promotions"]


# ---- redeem ------------------------------------------------------------------------------------------------


def test_redeem_is_redeemed_once_and_leaves_the_view(agent: RunningAgent, sim: EngageSimulator) -> None:
    op = redeem(agent, SPRING, ASA, "op-ok")
    assert (op["state"], op["kind"], op["assignmentId"], op["promotionId"]) == (
        "redeemed",
        "promotion_redeem",
        SPRING,
        promotion_id("spring20"),
    )
    assert sim.state.promotions.redeem_commits == {SPRING: 1}
    assert sim.state.promotions.assignments[SPRING].redeemed_channel == "POS"
    assert [p["id"] for p in identify(agent, ASA_CARD)["promotions"]] == [FIFTY]
    assert redeem(agent, SPRING, ASA, "op-ok") == op  # the same opId: the same op, nothing sent again
    assert sim.state.promotions.redeem_commits == {SPRING: 1}


def test_a_lost_answer_after_the_commit_is_redeemed_once(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path=REDEEM))
    op = redeem(agent, SPRING, ASA, "op-reset")
    final = settles(agent, "op-reset") if op["state"] == "queued" else op
    assert final["state"] == "redeemed" and final["attempts"] == 1
    assert sim.state.promotions.redeem_commits == {SPRING: 1}


@pytest.mark.parametrize("fault", ["gateway_timeout", "slow_save", "error", "reset_before"])
def test_failures_before_the_commit_are_reconciled_then_sent_again(
    agent: RunningAgent, sim: EngageSimulator, fault: str
) -> None:
    sim.state.settings.point_of_no_return = 0.3  # slow_save past it: Engage gives up with 504, nothing saved
    sim.faults.add(FaultRule(fault, method="POST", path=REDEEM, delay=0.5, status=502))
    op = redeem(agent, SPRING, ASA, f"op-{fault}")
    final = settles(agent, op["opId"]) if op["state"] == "queued" else op
    assert final["state"] == "redeemed" and final["attempts"] == 2
    assert sim.state.promotions.redeem_commits == {SPRING: 1}


def test_a_commit_slower_than_the_cashier_ends_redeemed_not_conflict(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory(offline={**FAST, "cashier_wait": 1.0})
    sim.faults.add(FaultRule("slow_commit", method="POST", path=REDEEM, delay=6))
    started = time.monotonic()
    op = redeem(agent, SPRING, ASA, "op-slow")
    assert op["state"] == "queued" and time.monotonic() - started < 3  # the cashier is not held
    with agent.client() as http:
        busy = http.post(f"/api/v1/promotions/{SPRING}/redeem", json={"contactId": ASA})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "promotion_busy"
    final = settles(agent, "op-slow", timeout=20)
    assert final["state"] == "redeemed" and final["attempts"] == 1
    assert sim.state.promotions.redeem_commits == {SPRING: 1}


def test_redeemed_elsewhere_during_our_unknown_attempt_is_conflict(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_before", method="POST", path=REDEEM))
    # The ownership check reads the list (the first rule lets that one through); reconciliation's reads fail.
    sim.faults.add(FaultRule("latency", method="GET", path=LISTS, times=1))
    sim.faults.add(FaultRule("error", method="GET", path=LISTS, times=1000))
    op = redeem(agent, SPRING, ASA, "op-elsewhere")
    assert op["state"] == "queued"  # unanswered and not reconcilable yet
    sim.state.promotions.redeem_elsewhere(SPRING, at=sim.state.now() + timedelta(minutes=2))
    sim.faults.clear()
    final = settles(agent, "op-elsewhere")
    assert (final["state"], final["reason"]) == ("conflict", "already_redeemed")
    assert sim.state.promotions.redeem_commits == {SPRING: 1}  # only the other channel's
    assert sim.state.promotions.assignments[SPRING].redeemed_channel == "ECOM"


def test_an_unknown_attempt_that_did_commit_is_ours(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path=REDEEM))
    sim.faults.add(FaultRule("latency", method="GET", path=LISTS, times=1))
    sim.faults.add(FaultRule("error", method="GET", path=LISTS, times=2))
    op = redeem(agent, SPRING, ASA, "op-ours")
    final = settles(agent, "op-ours") if op["state"] == "queued" else op
    assert final["state"] == "redeemed" and sim.state.promotions.redeem_commits == {SPRING: 1}


def test_wrong_contact_is_refused_before_anything_is_captured(agent: RunningAgent, sim: EngageSimulator) -> None:
    with agent.client() as http:
        answer = http.post(f"/api/v1/promotions/{SPRING}/redeem", json={"contactId": MARTA, "opId": "op-theirs"})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "promotion_not_owned", answer.text
        assert http.get("/api/v1/ops/op-theirs").status_code == 404  # nothing captured
        by_template = http.post(
            f"/api/v1/promotions/{promotion_id('fifty')}/redeem", json={"contactId": ASA, "opId": "op-template"}
        )
        assert by_template.status_code == 422 and "promotionId" in by_template.json()["error"]["message"]
        unknown_member = http.post(
            f"/api/v1/promotions/{SPRING}/redeem", json={"contactId": "00000000-0000-4000-8000-000000000000"}
        )
        assert unknown_member.status_code == 404 and unknown_member.json()["error"]["code"] == "member_not_found"
        for path, body in [
            ("/api/v1/promotions/not-a-guid/redeem", {"contactId": ASA}),
            (f"/api/v1/promotions/{SPRING}/redeem", {"contactId": "x"}),
            (f"/api/v1/promotions/{SPRING}/redeem", {"contactId": ASA, "opId": "bad id!"}),
            (f"/api/v1/promotions/{SPRING}/redeem", {}),
        ]:
            assert http.post(path, json=body).status_code == 422, (path, body)
        assert http.get("/api/v1/queue").json()["ops"] == []
    assert sim.state.promotions.redeem_commits == {}  # nothing sent


@pytest.mark.parametrize(
    ("member", "promotion", "reason"),
    [
        ("asa", "webfreight", "not_valid_for_channel"),  # the member's, but for the web shop only
        ("asa", "coffee", "expired"),
        ("bjorn", "spring20", "already_redeemed"),
    ],
)
def test_engage_refusals_are_rejected_with_their_reason(
    agent: RunningAgent, sim: EngageSimulator, member: str, promotion: str, reason: str
) -> None:
    op = redeem(agent, assignment_id(member, promotion), member_id(member))
    assert (op["state"], op["reason"]) == ("rejected", reason)
    assert op["reasonText"] and sim.state.promotions.redeem_commits == {}


def test_an_op_of_ours_already_holding_the_redemption_is_not_claimed_twice(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    assert redeem(agent, SPRING, ASA, "op-a")["state"] == "redeemed"
    # The POS redeems the same offer again under a new opId and that answer is lost: the redemption is op-a's.
    sim.faults.add(FaultRule("reset_before", method="POST", path=REDEEM))
    again = redeem(agent, SPRING, ASA, "op-b")
    final = settles(agent, "op-b") if again["state"] == "queued" else again
    assert final["state"] != "redeemed" and final["reason"] == "already_redeemed"
    assert sim.state.promotions.redeem_commits == {SPRING: 1}


# ---- offline -----------------------------------------------------------------------------------------------


def test_offline_an_offer_seen_is_queued_and_drains(agent: RunningAgent, sim: EngageSimulator) -> None:
    identify(agent, ASA_CARD)
    go_offline(agent, sim)
    op = redeem(agent, SPRING, ASA, "op-offline")
    assert op["state"] == "queued"
    unseen = redeem(agent, assignment_id("marta", "fifty"), MARTA, "op-unseen")
    assert (unseen["state"], unseen["reason"]) == ("rejected", "offline_not_allowed")
    sim.set_offline(False)
    assert settles(agent, "op-offline")["state"] == "redeemed"
    assert sim.state.promotions.redeem_commits == {SPRING: 1}
    assert op_state(agent, "op-unseen")["state"] == "rejected"  # same opId, same answer, even online now


def test_offline_limits_cap_and_duration(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory(offline={**FAST, "max_queued_per_till": 1, "max_offline_hours": 1.0})
    identify(agent, ASA_CARD)
    go_offline(agent, sim)
    assert redeem(agent, SPRING, ASA)["state"] == "queued"
    capped = redeem(agent, FIFTY, ASA)
    assert (capped["state"], capped["reason"]) == ("rejected", "offline_not_allowed")
    agent.agent.status.offline_since = time.time() - 2 * 3600  # offline for two hours
    late = redeem(agent, FIFTY, ASA)
    assert (late["state"], late["reason"]) == ("rejected", "offline_not_allowed")


def test_offline_an_offer_that_has_ended_since_is_refused(agent: RunningAgent, sim: EngageSimulator) -> None:
    ending = sim.state.promotions.assign(ASA, promotion_id("tote"), expires_on=sim.state.now() + timedelta(seconds=2))
    assert ending.id in [p["id"] for p in identify(agent, ASA_CARD)["promotions"]]
    go_offline(agent, sim)
    wait_for(lambda: ending.expires_on <= sim.state.now(), timeout=5)
    op = redeem(agent, ending.id, ASA)
    assert (op["state"], op["reason"]) == ("rejected", "expired")


def test_told_queued_then_redeemed_elsewhere_is_conflict(agent: RunningAgent, sim: EngageSimulator) -> None:
    identify(agent, ASA_CARD)
    go_offline(agent, sim)
    assert redeem(agent, SPRING, ASA, "op-told-queued")["state"] == "queued"
    sim.state.promotions.redeem_elsewhere(SPRING)  # the web shop used it meanwhile
    sim.set_offline(False)
    final = settles(agent, "op-told-queued")
    assert (final["state"], final["reason"]) == ("conflict", "already_redeemed")  # never silently rejected


def test_the_queue_survives_a_restart(agent_factory: Any, sim: EngageSimulator) -> None:
    first = agent_factory(offline=FAST)
    identify(first, ASA_CARD)
    sim.set_offline(True)
    assert redeem(first, SPRING, ASA, "op-restart")["state"] == "queued"
    first.stop()
    sim.set_offline(False)
    from tests.conftest import start_agent

    second = start_agent(first.agent.config)
    try:
        assert settles(second, "op-restart")["state"] == "redeemed"
    finally:
        second.stop()
    assert sim.state.promotions.redeem_commits == {SPRING: 1}
