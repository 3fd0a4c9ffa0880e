"""The fabric simulator refuses what fabric documents it refuses, in fabric's envelope."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from posplugin.vendors.fabric.errors import DUPLICATE_EARN_CODE, DUPLICATE_EARN_STATUS
from posplugin.vendors.fabric.simulator import FabricSimulator, FabricState, seed_demo_data

from .conftest import ANNA
from .test_earn_rules import FABRIC_EARN_EXAMPLE, fabric_reverse_example


def token(sim: FabricSimulator, **form: str) -> httpx.Response:
    state = sim.state
    body = {"grant_type": "client_credentials", "scope": "s2s", **form}
    auth = None if "client_id" in form else (state.client_id, state.client_secret)
    return httpx.post(sim.authorization_url + "/v1/token", data=body, auth=auth)


@pytest.fixture
def api(fabric: FabricSimulator) -> Iterator[httpx.Client]:
    access = token(fabric).json()["access_token"]
    with httpx.Client(base_url=fabric.url, headers={"Authorization": f"Bearer {access}"}) as client:
        yield client


def envelope_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"status", "message", "errors", "data"} and body["status"] == response.status_code
    return dict(body)


def test_token_endpoint_basic_and_form_variants(fabric: FabricSimulator) -> None:
    basic = token(fabric).json()
    assert basic["token_type"] == "Bearer" and basic["expires_in"] == 600 and basic["scope"] == "s2s"
    state = fabric.state
    assert token(fabric, client_id=state.client_id, client_secret=state.client_secret).status_code == 200
    assert token(fabric, client_id=state.client_id, client_secret="wrong").status_code == 401
    assert token(fabric, grant_type="password").status_code == 400
    assert token(fabric, scope="admin").status_code == 400
    state.settings.token_ttl = 2.0
    assert token(fabric).json()["expires_in"] == 2.0


def test_loyalty_calls_need_a_live_bearer_token(fabric: FabricSimulator, api: httpx.Client) -> None:
    assert api.get("/v1/members", params={"profileId": ANNA}).status_code == 200
    assert httpx.get(fabric.url + "/v1/members", params={"profileId": ANNA}).status_code == 401
    fabric.state.revoke_tokens()
    refused = api.get("/v1/members", params={"profileId": ANNA})
    assert refused.status_code == 401 and "authorization" in envelope_of(refused)["errors"]


def test_every_answer_is_the_envelope(api: httpx.Client) -> None:
    for response in (
        api.get("/v1/members", params={"loyaltyNumber": "8800000000011"}),
        api.get(f"/v1/inquire/{ANNA}/member-points"),
        api.get("/v1/inquire/nobody/member-points"),
        api.get("/v1/nothing-here"),
        api.post("/v2/earn", json={}),
    ):
        envelope_of(response)


def test_earn_answers_201_earned_and_the_duplicate_check_refuses_the_same_receipt(
    fabric: FabricSimulator, api: httpx.Client
) -> None:
    first = api.post("/v2/earn", json=FABRIC_EARN_EXAMPLE)
    assert first.status_code == 201 and envelope_of(first)["message"] == "earned"
    assert envelope_of(first)["data"]["points"] == 137
    again = api.post("/v2/earn", json=FABRIC_EARN_EXAMPLE)
    assert again.status_code == DUPLICATE_EARN_STATUS and DUPLICATE_EARN_CODE in envelope_of(again)["errors"]
    allowed = api.post("/v2/earn", json={**FABRIC_EARN_EXAMPLE, "checkForDuplicateTransaction": 0})
    assert allowed.status_code == 201  # 0: fabric allows duplicates
    assert fabric.state.earn_commits == 2


@pytest.mark.parametrize(
    "change",
    [
        {"entityReference": ""},
        {"entityReference": "x" * 101},
        {"transactionExternalReference": "r" * 101},
        {"transactionTypeExternalReference": None},
        {"activityTimestamp": "yesterday"},
        {"checkForDuplicateTransaction": 2},
        {"profileId": "nobody"},
        {"totalAmountPaid": 150.0},
        {"netAmount": 0},
        {"transactionGrossAmount": "150"},
        {"reverseTransactionExternalRef": "R-1"},
    ],
)
def test_earn_refuses_what_fabric_refuses(fabric: FabricSimulator, api: httpx.Client, change: dict[str, Any]) -> None:
    body = {**copy.deepcopy(FABRIC_EARN_EXAMPLE), **change}
    response = api.post("/v2/earn", json=body)
    assert response.status_code in (400, 404) and envelope_of(response)["errors"]
    assert fabric.state.earn_commits == 0


def test_earn_refuses_a_form_body(api: httpx.Client) -> None:
    assert api.post("/v2/earn", data={"a": "b"}).status_code == 415


def test_reverse_names_a_known_original_and_cannot_exceed_it(fabric: FabricSimulator, api: httpx.Client) -> None:
    assert api.post("/v2/earn/reverse", json=fabric_reverse_example()).status_code == 404  # nothing to reverse yet
    api.post("/v2/earn", json=FABRIC_EARN_EXAMPLE)
    done = api.post("/v2/earn/reverse", json=fabric_reverse_example())
    assert done.status_code == 201 and envelope_of(done)["message"] == "earn reversed"
    second = {**fabric_reverse_example(), "transactionExternalReference": "R-1001-RET2"}
    assert api.post("/v2/earn/reverse", json=second).status_code == 400  # more than was bought
    purchase_shape = {**fabric_reverse_example(), "transactionTypeExternalReference": "PURCHASE"}
    assert api.post("/v2/earn/reverse", json=purchase_shape).status_code == 400


def test_reward_amounts_and_history_paging_are_checked(api: httpx.Client) -> None:
    base = {"profileId": ANNA, "locationExternalReference": "store-001"}
    for amount in (0, -5, 1.005, "10"):
        assert api.post("/v1/redeem/reward/issue", json={**base, "amountToRedeem": amount}).status_code == 400
    assert api.post("/v1/redeem/reward/issue", json={"profileId": ANNA, "amountToRedeem": 5}).status_code == 400
    issued = api.post("/v1/redeem/reward/issue", json={**base, "amountToRedeem": 5})
    assert issued.status_code == 201 and envelope_of(issued)["message"] == "Created"
    code = issued.json()["data"]["redemptionCode"]
    redeem = {**base, "redemptionCode": code}
    assert api.post("/v1/redeem/member-reward", json=redeem).json()["message"] == "Redeem Member Reward succeed."
    assert api.post("/v1/redeem/member-reward", json=redeem).status_code == 409
    other = {**redeem, "profileId": "c7a1e0f2-5b1d-4f3e-9a51-000000000029"}
    assert api.post("/v1/redeem/reverse", json=other).status_code == 404  # another member's reward
    assert api.get("/v1/redeem", params={"profileId": ANNA, "limit": 101}).status_code == 400
    assert len(api.get("/v1/redeem", params={"profileId": ANNA, "limit": 1}).json()["data"]) == 1


def test_offline_refuses_connections_and_comes_back(fabric: FabricSimulator, api: httpx.Client) -> None:
    fabric.set_offline(True)
    with pytest.raises(httpx.ConnectError):
        httpx.get(fabric.url + "/v1/members")
    fabric.set_offline(False)
    assert api.get("/v1/members", params={"profileId": ANNA}).status_code == 200


def test_control_port_switches_faults_offline_and_token_lifetime() -> None:
    sim = FabricSimulator(seed_demo_data(FabricState()), control_port=0).start()
    try:
        control = sim.control_url
        assert control is not None
        rule = {"kind": "reset_before", "path": "/v2/earn$"}
        assert httpx.post(control + "/_sim/faults", json={"rules": [rule]}).json()["faults"]["rules"]
        assert httpx.post(control + "/_sim/settings", json={"tokenTtl": 5}).json()["tokenTtl"] == 5
        assert token(sim).json()["expires_in"] == 5
        assert httpx.post(control + "/_sim/offline", json={"offline": True}).json()["offline"] is True
        with pytest.raises(httpx.ConnectError):
            httpx.get(sim.url + "/v1/members")
        httpx.post(control + "/_sim/offline", json={"offline": False})
        assert httpx.delete(control + "/_sim/faults").json()["faults"]["rules"] == []
        assert httpx.post(control + "/_sim/faults", json={"rules": [{"kind": "nope"}]}).status_code == 400
        assert httpx.get(sim.url.replace("/api", "") + "/_sim/state").status_code == 401  # not on the API port
        assert httpx.get(control + "/_sim/state").json()["tokenRequests"] == 1
    finally:
        sim.stop()
