"""What costs money or points against the real vendor: voucher ownership, receipts in Engage's documented shape,
point adjustments that must not double, one opId = one op under races, and ops a person can settle."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.cli import main
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from posplugin.vendors.engage.simulator.state import SimError, SimState
from tests.conftest import RunningAgent, wait_for
from tests.sale_factory import example_sale

ASA, MARTA = member_id("asa"), member_id("marta")
FAST = {"retry_min_seconds": 0.1, "retry_max_seconds": 0.3, "cashier_wait": 2.0}


@pytest.fixture
def agent(agent_factory: Any) -> RunningAgent:
    running: RunningAgent = agent_factory(offline=FAST)
    return running


def post(agent: RunningAgent, path: str, body: dict[str, Any]) -> httpx.Response:
    with agent.client() as http:
        return http.post(path, json=body)


def op(agent: RunningAgent, op_id: str) -> dict[str, Any]:
    with agent.client() as http:
        result: dict[str, Any] = http.get(f"/api/v1/ops/{op_id}").json()
        return result


def settles(agent: RunningAgent, op_id: str, timeout: float = 15) -> dict[str, Any]:
    wait_for(lambda: op(agent, op_id).get("state") != "queued", timeout=timeout)
    return op(agent, op_id)


# ---- 1. a voucher is redeemed only for the member it belongs to --------------------------------------------


@pytest.mark.parametrize("action", ["redeem", "reactivate"])
def test_another_members_voucher_is_refused_before_capture(
    agent: RunningAgent, sim: EngageSimulator, action: str
) -> None:
    marta_voucher = voucher_id("marta", 1)
    if action == "reactivate":
        sim.state.redeem_elsewhere(marta_voucher)
    answer = post(agent, f"/api/v1/vouchers/{marta_voucher}/{action}", {"contactId": ASA, "opId": f"op-{action}"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "voucher_not_owned", answer.text
    assert op(agent, f"op-{action}") == {"error": {"code": "not_found", "message": "Not found."}}  # nothing captured
    assert sim.state.vouchers[marta_voucher].reactivations == 0
    assert sim.state.redeem_commits == ({marta_voucher: 1} if action == "reactivate" else {})  # nothing sent


def test_offline_the_cached_view_decides_ownership(agent: RunningAgent, sim: EngageSimulator) -> None:
    with agent.client() as http:
        assert http.post("/api/v1/identify", json={"code": "2400000010014"}).status_code == 200
    sim.set_offline(True)
    # Åsa's cached view does not hold Märta's voucher: no offline acceptance for it.
    refused = post(agent, f"/api/v1/vouchers/{voucher_id('marta', 1)}/redeem", {"contactId": ASA}).json()
    assert (refused["state"], refused["reason"]) == ("rejected", "offline_not_allowed")
    # A reactivation offline needs proof too: this till's own redemption, or the member's cached view.
    unproven = post(agent, f"/api/v1/vouchers/{voucher_id('marta', 1)}/reactivate", {"contactId": ASA})
    assert unproven.status_code == 422 and unproven.json()["error"]["code"] == "voucher_not_owned"
    assert (
        post(agent, f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", {"contactId": ASA}).json()["state"] == "queued"
    )


def test_a_lost_answer_is_never_final_not_found_while_the_owner_lists_lack_the_voucher(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    voucher = voucher_id("asa", 1)
    # The redeem commits and the answer is lost; for a while the owner's lists do not show the voucher (a
    # lagging list, a contact merge): the op must stay unknown and be checked again, never "not found".
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/redeem$"))
    commit = sim.state.commit_redeem

    def commit_then_lists_lag(vid: str, at: Any = None) -> None:
        commit(vid, at)
        sim.state.vouchers[voucher].contact_id = MARTA

    sim.state.commit_redeem = commit_then_lists_lag  # type: ignore[method-assign]
    first = post(agent, f"/api/v1/vouchers/{voucher}/redeem", {"contactId": ASA, "opId": "op-lost"}).json()
    assert first["state"] == "queued" and first.get("reason") == "not_in_owner_lists", first
    assert op(agent, "op-lost")["state"] == "queued"
    sim.state.vouchers[voucher].contact_id = ASA  # the list catches up
    final = settles(agent, "op-lost")
    assert final["state"] == "redeemed" and sim.state.redeem_commits == {voucher: 1}


def test_an_op_of_ours_already_holding_the_redemption_is_not_claimed_twice(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    voucher = voucher_id("asa", 1)
    assert post(agent, f"/api/v1/vouchers/{voucher}/redeem", {"contactId": ASA, "opId": "op-a"}).json()["state"] == (
        "redeemed"
    )
    # The POS tries the same voucher again under a new opId and the answer is lost: Engage's redemption is op-a's.
    sim.faults.add(FaultRule("reset_before", method="POST", path="/redeem$"))
    again = post(agent, f"/api/v1/vouchers/{voucher}/redeem", {"contactId": ASA, "opId": "op-b"}).json()
    final = settles(agent, "op-b") if again["state"] == "queued" else again
    assert final["state"] != "redeemed" and final["reason"] == "already_redeemed"
    assert sim.state.redeem_commits == {voucher: 1}


# ---- 2. receipts in the vendor's documented shape ----------------------------------------------------------


def _receipt(**changes: Any) -> dict[str, Any]:
    receipt: dict[str, Any] = {
        "uniqueReceiptId": "R-1",
        "createdDate": "2026-11-22T10:15:00+01:00",
        "storeExternalId": "s1",
        "currency": "SEK",
        "totalGrossPrice": 75,
        "contact": {"matchKey": ASA, "matchKeyType": "contactId"},
        "paymentMethods": [{"type": "card", "value": 75}],
        "items": [
            {"type": "PURCHASE", "sku": "1", "articleName": "Kaffe", "quantity": 2, "grossPaidPrice": 75},
        ],
    }
    receipt.update(changes)
    return receipt


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"contact": {"matchKey": "2400000010014", "matchKeyType": "customKey"}}, "matchKeyType"),
        ({"items": [{"type": "PURCHASE", "sku": "1", "quantity": 2, "grossPaidPrice": 75}]}, "articleName"),
        ({"totalGrossPrice": 95}, "sum of the payments"),
        ({"paymentMethods": [{"type": "card", "value": 75, "reference": "x"}]}, "reference"),
        ({"usedBonusChecks": [{"voucherNumber": "V1"}]}, "checkNumber"),
        ({"items": [{"type": "SALE", "sku": "1", "articleName": "K", "quantity": 1, "grossPaidPrice": 75}]}, "type"),
    ],
)
def test_the_simulator_refuses_receipts_the_vendor_would(change: dict[str, Any], words: str) -> None:
    from posplugin.vendors.engage.simulator import seed_demo_data

    state = seed_demo_data(SimState())
    with pytest.raises(SimError) as refused:
        state.receipt(_receipt(**change))
    assert refused.value.status == 400 and words in refused.value.message
    assert state.receipt(_receipt())[0] == 202  # the documented shape is accepted


def test_a_used_reward_voucher_is_a_discount_and_goes_as_a_bonus_check(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    voucher = voucher_id("asa", 1)
    number = sim.state.vouchers[voucher].voucher_number
    assert post(agent, f"/api/v1/vouchers/{voucher}/redeem", {"contactId": ASA, "opId": "op-v"}).json()["state"] == (
        "redeemed"
    )
    as_tender = example_sale("S1-T1-V1")
    as_tender["payments"][0]["method"] = "reward_voucher"
    refused = post(agent, "/api/v1/sales", {**as_tender, "member": {"contactId": ASA}})
    assert refused.status_code == 422 and refused.json()["error"]["details"]["rule"] == "voucher_as_tender"
    # The POS names the voucher it applied as a discount by id: the till knows its number from the redemption.
    body = {**example_sale("S1-T1-V2"), "member": {"contactId": ASA}, "usedVouchers": [{"voucherId": voucher}]}
    sale = post(agent, "/api/v1/sales", body).json()
    assert settles(agent, sale["opId"])["state"] == "delivered"
    assert sim.state.receipts["S1-T1-V2"]["usedBonusChecks"] == [{"checkNumber": number}]
    unknown = post(agent, "/api/v1/sales", {**body, "receiptId": "S1-T1-V3", "usedVouchers": [{"voucherId": ASA}]})
    assert unknown.status_code == 422 and "voucherNumber" in unknown.json()["error"]["message"]


# ---- 3. a point adjustment Engage applies late is not doubled ------------------------------------------


@pytest.mark.parametrize(("settle", "doubles"), [(3.0, False), (0.0, True)])
def test_an_adjustment_applied_late_is_not_sent_again_within_the_settle_window(
    agent_factory: Any, sim: EngageSimulator, settle: float, doubles: bool
) -> None:
    # Engage answers 202 and applies a second later, and does not deduplicate transactionId (both [assumed]
    # worst cases); the answer to the first POST is lost.
    sim.state.settings.point_transaction_delay = 1.0
    sim.state.settings.point_transaction_id_idempotent = False
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/point-transactions$"))
    agent = agent_factory(offline={**FAST, "point_settle_seconds": settle})
    answer = post(agent, f"/api/v1/members/{ASA}/point-adjustments", {"amount": 150, "description": "Goodwill"})
    op_id = answer.json()["opId"]
    assert settles(agent, op_id, timeout=20)["state"] == "completed"
    transaction_id = op(agent, op_id)["transactionId"]

    def applied() -> bool:
        try:
            return bool(sim.state.point_transaction(transaction_id))
        except SimError:
            return False

    wait_for(applied, timeout=5)
    assert sim.state.point_transactions_posted(transaction_id) == (2 if doubles else 1)


# ---- 4. the same opId twice at once is the same op --------------------------------------------------------


def _concurrently(agent: RunningAgent, path: str, body: dict[str, Any], n: int = 3) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def call() -> None:
        response = post(agent, path, body)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=call) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


@pytest.mark.parametrize("kind", ["redeem", "reactivate", "purchase", "sale", "adjustment"])
def test_a_repeated_op_id_racing_the_first_call_gets_the_same_op(
    agent: RunningAgent, sim: EngageSimulator, kind: str
) -> None:
    voucher = voucher_id("marta", 1)
    if kind == "reactivate":
        sim.state.redeem_elsewhere(voucher)
    item = next(iter(sim.state.items))
    path, body = {
        "redeem": (f"/api/v1/vouchers/{voucher}/redeem", {"contactId": MARTA, "opId": "race"}),
        "reactivate": (f"/api/v1/vouchers/{voucher}/reactivate", {"contactId": MARTA, "opId": "race"}),
        "purchase": (f"/api/v1/members/{ASA}/point-shop/purchases", {"itemId": item, "opId": "race"}),
        "sale": ("/api/v1/sales", {**example_sale("S1-T1-RACE"), "member": {"contactId": ASA}}),
        "adjustment": (f"/api/v1/members/{ASA}/point-adjustments", {"amount": 5, "description": "x", "opId": "race"}),
    }[kind]
    sim.faults.latency = 0.4  # every Engage call is slow: the repeats arrive while the first still waits
    answers = _concurrently(agent, path, body)
    sim.faults.latency = 0.0
    assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
    assert len({a.json()["opId"] for a in answers}) == 1
    targets = {
        a.json().get("purchaseId") or a.json().get("transactionId") or a.json().get("voucherId") for a in answers
    }
    assert len(targets) == 1
    with agent.client() as http:
        ops = http.get("/api/v1/queue").json()["ops"]
    assert len([o for o in ops if o["opId"] == answers[0].json()["opId"]]) <= 1
    # A different body under the used opId is still a conflict.
    if kind == "purchase":
        other = post(agent, path, {**body, "itemId": "another-item"})
        assert other.status_code == 409 and other.json()["error"]["code"] == "op_id_conflict"
    if kind == "adjustment":
        other = post(agent, path, {**body, "amount": 6})
        assert other.status_code == 409 and other.json()["error"]["code"] == "op_id_conflict"


# ---- 5. conflicts and parked ops can be settled by a person; health tells the truth -----------------------


def _conflict(agent: RunningAgent, sim: EngageSimulator, op_id: str) -> None:
    with agent.client() as http:
        assert http.post("/api/v1/identify", json={"code": "2400000010014"}).status_code == 200
    sim.set_offline(True)
    with agent.client() as http:
        http.post("/api/v1/identify", json={"code": "7777777"})
        wait_for(lambda: http.get("/api/v1/health").json()["engage"] == "offline", timeout=5)
    assert (
        post(agent, f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", {"contactId": ASA, "opId": op_id}).json()[
            "state"
        ]
        == "queued"
    )
    sim.state.redeem_elsewhere(voucher_id("asa", 1))
    sim.set_offline(False)
    assert settles(agent, op_id)["state"] == "conflict"


def test_a_conflict_is_resolved_with_a_note_and_health_stops_counting_it(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    _conflict(agent, sim, "op-c")
    with agent.client() as http:
        health = http.get("/api/v1/health").json()
        assert health["status"] == "critical" and any("conflict" in r for r in health["reasons"])
        assert http.post("/api/v1/ops/op-c/retry", json={}).status_code == 409  # not for a conflict
        assert http.post("/api/v1/ops/op-c/resolve", json={"note": "  "}).status_code == 422
        resolved = http.post("/api/v1/ops/op-c/resolve", json={"note": "Web shop used it; gave 50 points"})
        assert resolved.status_code == 200, resolved.text
        body = resolved.json()
        assert (body["state"], body["reason"], body["note"]) == ("resolved", "already_redeemed", body["note"])
        assert body["note"] == "Web shop used it; gave 50 points" and "resolvedAt" in body
        again = http.post("/api/v1/ops/op-c/resolve", json={"note": "twice"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "op_state"
        health = http.get("/api/v1/health").json()
        assert health["status"] == "ok" and health["queue"]["conflict"] == 0 and health["reasons"] == []
        assert all(o["opId"] != "op-c" for o in http.get("/api/v1/queue").json()["ops"])
        assert http.get("/api/v1/ops/op-c").json()["state"] == "resolved"  # history kept


def test_cli_resolve_and_actions_that_do_not_apply_exit_non_zero(
    tmp_path: Path, agent: RunningAgent, sim: EngageSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _conflict(agent, sim, "op-cli")
    config = tmp_path / "cli.toml"
    config.write_text(f'[agent]\nport = {agent.agent.config.agent.port}\ndata_dir = "{agent.agent.paths.data_dir}"\n')
    assert main(["health", "--config", str(config)]) == 2
    assert capsys.readouterr().out.startswith("CRITICAL")
    for action in ("retry", "park"):
        assert main(["queue", action, "op-cli", "--config", str(config)]) == 1
        assert "is conflict" in capsys.readouterr().err
    assert main(["queue", "resolve", "op-cli", "--config", str(config)]) == 2  # a note is required
    assert main(["queue", "resolve", "op-cli", "--note", "checked in Engage", "--config", str(config)]) == 0
    assert "resolved" in capsys.readouterr().out
    assert main(["health", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["health"]["status"] == "ok" and report["exitCode"] == 0  # the API and the CLI agree
    assert main(["doctor", "--config", str(config), "--json"]) in (0, 1)
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["queue"]["ok"] is True


def test_doctor_without_a_config_says_so_and_creates_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("POSPLUGIN_CONFIG", raising=False)
    monkeypatch.setenv("POSPLUGIN_SECRET_BACKEND", "file")
    assert main(["doctor", "--json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["config"]["ok"] is False and "no config file" in checks["config"]["detail"]
    assert "not created yet" in checks["database"]["detail"]
    assert not list(tmp_path.rglob("*.sqlite3")) and not list(tmp_path.rglob("*.db"))
