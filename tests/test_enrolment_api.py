"""Enrolling a shopper at the till, end to end: the real agent against the real Engage simulator on loopback.

The money-like rule here is *one shopper, one contact*: a 504 (Engage rolls back after ~5 s), a lost answer, a
read timeout, a double tap and two tills racing must each end with exactly one contact in Engage.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id
from posplugin.vendors.engage.simulator.contact_creation import contacts_with
from posplugin.vendors.engage.simulator.state import Contact
from tests.conftest import RunningAgent, fabric_agent, wait_for
from tests.sale_factory import example_sale

EMAIL = "ny.kund@example.se"
PHONE = "+46709990011"
CONTACTS = "/api/v3/contacts"
SETTLE = 0.4  # the agent's "Engage has finished with a create by now", shortened with the simulator's limit


@pytest.fixture
def agent(agent_factory: Any, sim: EngageSimulator) -> RunningAgent:
    sim.state.settings.contact_create_limit = 0.2
    running: RunningAgent = agent_factory(
        options={"enrolment_settle_seconds": SETTLE}, offline={"retry_min_seconds": 0.05, "retry_max_seconds": 0.2}
    )
    return running


def enrol(agent: RunningAgent, **body: Any) -> httpx.Response:
    with agent.client() as http:
        return http.post("/api/v1/members", json=body)


def by_email(**extra: Any) -> dict[str, Any]:
    return {"email": EMAIL, "firstName": "Nora", "consents": {"acceptsEmail": True}, **extra}


def creates(sim: EngageSimulator) -> int:
    return int(sim.stats["contact_creates"])


def fault(sim: EngageSimulator, kind: str, times: int = 1, **extra: Any) -> None:
    sim.faults.add(FaultRule(kind, method="POST", path=f"^{CONTACTS}$", times=times, **extra))


def test_enrol_by_e_mail_creates_the_contact_with_source_store_and_answers(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    answer = enrol(agent, **by_email(opId="enrol-1"))
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["enrolment"] == {
        "result": "created",
        "identifier": "email",
        "consentsSaved": True,
        "viewComplete": True,
    }
    (contact,) = contacts_with(sim.state, email=EMAIL)
    assert view["contact"]["id"] == contact.id and view["contact"]["firstName"] == "Nora"
    assert view["contact"]["memberNumber"] == contact.member_number
    assert view["points"]["balance"] == 0 and view["vouchers"] == [] and view["source"] == "live"
    # What Engage was told: the till's source and store in the query string, the preference as answered.
    assert (contact.source, contact.store_external_id) == ("POS", "s1")
    assert contact.preferences == {"acceptsEmail": True} and contact.consents == []
    assert creates(sim) == 1


def test_the_new_member_can_earn_and_be_identified_at_once(agent: RunningAgent, sim: EngageSimulator) -> None:
    contact_id = enrol(agent, **by_email()).json()["contact"]["id"]
    with agent.client() as http:
        found = http.post("/api/v1/identify", json={"code": EMAIL, "lookupKey": "email"})
        assert found.status_code == 200 and found.json()["contact"]["id"] == contact_id
        sale = http.post("/api/v1/sales", json={**example_sale("S1-T1-ENROL"), "member": {"contactId": contact_id}})
        assert sale.status_code == 202, sale.text
    wait_for(lambda: "S1-T1-ENROL" in sim.state.receipts)
    assert sim.state.receipts["S1-T1-ENROL"]["contact"] == {"matchKey": contact_id, "matchKeyType": "contactId"}


def test_enrol_by_mobile_phone_asks_only_the_sms_question(agent: RunningAgent, sim: EngageSimulator) -> None:
    answer = enrol(agent, mobilePhone=PHONE, consents={"acceptsSms": False})
    assert answer.status_code == 200, answer.text
    assert answer.json()["enrolment"]["identifier"] == "mobilePhone"
    (contact,) = contacts_with(sim.state, mobile_phone=PHONE)
    assert contact.preferences == {"acceptsSms": False} and contact.first_name == ""


def test_an_identifier_that_is_a_member_identifies_that_member(agent: RunningAgent, sim: EngageSimulator) -> None:
    before = len(sim.state.contacts)
    answer = enrol(agent, email="Asa.Oberg@example.se", firstName="Someone", consents={"acceptsEmail": True})
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["contact"]["id"] == member_id("asa") and view["contact"]["firstName"] == "Åsa"
    assert view["points"]["balance"] == 2450
    assert view["enrolment"]["result"] == "existing" and view["enrolment"]["consentsSaved"] is False
    assert creates(sim) == 0 and len(sim.state.contacts) == before


def test_a_504_rollback_is_looked_up_then_retried_once_exactly_one_contact(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    fault(sim, "rollback_timeout")
    answer = enrol(agent, **by_email())
    assert answer.status_code == 200, answer.text
    assert answer.json()["enrolment"]["result"] == "created"
    assert len(contacts_with(sim.state, email=EMAIL)) == 1
    assert creates(sim) == 2  # the rolled-back one and the one retry


def test_a_lost_answer_to_a_saved_contact_is_found_not_sent_again(agent: RunningAgent, sim: EngageSimulator) -> None:
    fault(sim, "reset_after_commit")
    answer = enrol(agent, **by_email())
    assert answer.status_code == 200, answer.text
    view = answer.json()
    (contact,) = contacts_with(sim.state, email=EMAIL)
    assert view["contact"]["id"] == contact.id
    assert view["enrolment"]["result"] == "created"  # found after our own unanswered create: ours
    assert creates(sim) == 1


def test_a_read_timeout_waits_until_engage_has_settled_before_the_retry(
    agent_factory: Any, sim: EngageSimulator
) -> None:
    """Our side gave up before Engage did (a short read timeout): the create may still be saved, so the retry
    waits until Engage has certainly finished with it, and looks up first."""
    agent: RunningAgent = agent_factory(options={"enrolment_settle_seconds": 1.0}, engage={"read_timeout": 0.3})
    fault(sim, "blackhole", delay=0.6)  # held, then reset: nothing processed
    answer = enrol(agent, **by_email())
    assert answer.status_code == 200, answer.text
    assert len(contacts_with(sim.state, email=EMAIL)) == 1 and creates(sim) == 2


def test_slow_save_after_our_timeout_is_found_instead_of_created_twice(
    agent_factory: Any, sim: EngageSimulator
) -> None:
    """Engage saves the contact after our read timeout (the answer comes too late): the lookup after the settle
    time finds it, and no second create is sent."""
    agent: RunningAgent = agent_factory(options={"enrolment_settle_seconds": 1.2}, engage={"read_timeout": 0.3})
    fault(sim, "latency", delay=0.6)
    answer = enrol(agent, **by_email())
    assert answer.status_code == 200, answer.text
    assert answer.json()["enrolment"]["result"] == "created"
    assert len(contacts_with(sim.state, email=EMAIL)) == 1 and creates(sim) == 1


def test_two_rollbacks_are_unconfirmed_and_trying_again_creates_one(agent: RunningAgent, sim: EngageSimulator) -> None:
    fault(sim, "rollback_timeout", times=2)
    first = enrol(agent, **by_email(opId="op-twice"))
    assert first.status_code == 503 and first.json()["error"]["code"] == "enrolment_unconfirmed"
    assert "never registered twice" in first.json()["error"]["message"]
    assert contacts_with(sim.state, email=EMAIL) == []
    again = enrol(agent, **by_email(opId="op-twice"))
    assert again.status_code == 200, again.text
    assert len(contacts_with(sim.state, email=EMAIL)) == 1 and creates(sim) == 3


def test_the_same_op_id_answers_the_first_result_and_a_different_body_is_a_conflict(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    first = enrol(agent, **by_email(opId="op-1")).json()
    again = enrol(agent, **by_email(opId="op-1")).json()
    assert again["contact"]["id"] == first["contact"]["id"]
    assert again["enrolment"]["result"] == "created"
    other = enrol(agent, **by_email(opId="op-1", firstName="Nina"))
    assert other.status_code == 409 and other.json()["error"]["code"] == "op_id_conflict"
    assert creates(sim) == 1


def test_a_double_tap_without_op_id_makes_one_contact(agent: RunningAgent, sim: EngageSimulator) -> None:
    fault(sim, "latency", delay=0.3)  # both requests are in the agent while the first create is on the wire
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(enrol(agent, **by_email()))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert {a.json()["contact"]["id"] for a in answers} == {contacts_with(sim.state, email=EMAIL)[0].id}
    assert {a.json()["enrolment"]["result"] for a in answers} == {"created"}
    assert creates(sim) == 1


def test_another_till_enrolling_the_same_shopper_first_is_identified(agent: RunningAgent, sim: EngageSimulator) -> None:
    """Between our lookup and our create, another till creates the contact: Engage refuses the duplicate, the
    agent looks up and identifies that member."""
    fault(sim, "latency", delay=0.4)
    other = Contact("5e1f6a2b-0000-4000-8000-00000000e001", "Nora", "Annan", "3000001", EMAIL)
    timer = threading.Timer(0.1, lambda: sim.state.add_contact(other))
    timer.start()
    answer = enrol(agent, **by_email())
    timer.join()
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact"]["id"] == other.id
    assert answer.json()["enrolment"]["result"] == "existing"
    assert contacts_with(sim.state, email=EMAIL) == [other]


def test_offline_enrolment_is_refused_with_a_clear_message(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.set_offline(True)
    answer = enrol(agent, **by_email())  # Engage's state not known yet: the lookup finds it unreachable
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "enrolment_offline"
    wait_for(lambda: agent.agent.status.is_offline)
    answer = enrol(agent, **by_email(opId="offline-1"))
    assert answer.status_code == 503
    assert answer.json()["error"] == {
        "code": "enrolment_offline",
        "message": "Offline — enrolling a member needs a connection to the loyalty system. Nothing was saved; "
        "try again when the till is online.",
    }
    sim.set_offline(False)
    wait_for(lambda: not agent.agent.status.is_offline)
    assert enrol(agent, **by_email(opId="offline-1")).status_code == 200  # no queue: the cashier tries again
    assert len(contacts_with(sim.state, email=EMAIL)) == 1


BAD_REQUESTS: list[tuple[dict[str, Any], str, str]] = [
    ({"consents": {"acceptsEmail": True}}, "invalid_request", "exactly one identifier"),
    (
        {"email": EMAIL, "mobilePhone": PHONE, "consents": {"acceptsEmail": True}},
        "invalid_request",
        "exactly one identifier",
    ),
    ({"email": EMAIL, "consents": {}}, "invalid_request", "consents.acceptsEmail"),
    ({"email": EMAIL}, "invalid_request", "consents.acceptsEmail"),
    ({"email": EMAIL, "consents": {"acceptsEmail": "yes"}}, "invalid_request", "consents.acceptsEmail"),
    ({"email": EMAIL, "consents": {"acceptsEmail": 1}}, "invalid_request", "consents.acceptsEmail"),
    ({"email": EMAIL, "consents": {"acceptsEmail": None}}, "invalid_request", "consents.acceptsEmail"),
    (
        {"email": EMAIL, "consents": {"acceptsEmail": True, "acceptsSms": False}},
        "invalid_request",
        "not asked for an enrolment with email",
    ),
    ({"email": EMAIL, "consents": {"acceptsEmail": True, "loyalty": True}}, "invalid_request", "not asked"),
    ({"email": "nora@", "consents": {"acceptsEmail": True}}, "invalid_email", "not an e-mail address"),
    ({"mobilePhone": "+46 70 999 00 11", "consents": {"acceptsSms": True}}, "invalid_mobilePhone", "+ and 8–15"),
    ({"mobilePhone": "0709990011", "consents": {"acceptsSms": True}}, "invalid_mobilePhone", "country code"),
    (
        {"email": EMAIL, "firstName": "4111111111111111", "consents": {"acceptsEmail": True}},
        "invalid_request",
        "firstName",
    ),
    ({"email": EMAIL, "lastName": "Extra", "consents": {"acceptsEmail": True}}, "invalid_request", "lastName"),
]


def test_bad_requests_are_refused_before_anything_reaches_engage(agent: RunningAgent, sim: EngageSimulator) -> None:
    for body, code, needle in BAD_REQUESTS:
        answer = enrol(agent, **body)
        assert answer.status_code == 422, (body, answer.text)
        error = answer.json()["error"]
        assert error["code"] == code and needle in error["message"], (body, error)
    assert creates(sim) == 0


def test_enrolment_switched_off_or_without_a_store_is_409(agent_factory: Any, sim: EngageSimulator) -> None:
    off: RunningAgent = agent_factory(enrolment={"enabled": False})
    answer = enrol(off, **by_email())
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "enrolment_disabled"
    with off.client() as http:
        assert http.get("/api/v1/enrolment").json()["enabled"] is False
        assert "enrol" not in http.get("/api/v1/health").json()["features"]
    no_store: RunningAgent = agent_factory(agent={"store_id": ""})
    assert enrol(no_store, **by_email()).json()["error"]["code"] == "enrolment_disabled"
    with_store: RunningAgent = agent_factory(agent={"store_id": ""}, enrolment={"store_external_id": "Malmö C"})
    assert enrol(with_store, **by_email()).status_code == 200
    assert contacts_with(sim.state, email=EMAIL)[0].store_external_id == "Malmö C"


def test_the_form_lists_the_questions_in_the_agent_language(agent_factory: Any) -> None:
    swedish: RunningAgent = agent_factory(agent={"language": "sv"})
    with swedish.client() as http:
        form = http.get("/api/v1/enrolment").json()
    assert form["enabled"] is True and form["identifiers"] == ["email", "mobilePhone"]
    assert [(q["id"], q["requires"]) for q in form["questions"]] == [
        ("acceptsEmail", "email"),
        ("acceptsSms", "mobilePhone"),
    ]
    assert form["questions"][0]["text"] == "Vill du få erbjudanden och nyheter från oss via e-post?"


def test_a_configured_consent_goes_to_engage_as_a_consent_row(agent_factory: Any, sim: EngageSimulator) -> None:
    questions = [
        {"id": "acceptsEmail", "kind": "preference", "requires": "email", "sv": "E-post?", "en": "E-mail?"},
        {"id": "memberTerms", "kind": "consent", "sv": "Godkänner du villkoren?", "en": "Do you accept the terms?"},
    ]
    agent: RunningAgent = agent_factory(enrolment={"consents": questions})
    answer = enrol(agent, email=EMAIL, consents={"acceptsEmail": False, "memberTerms": True})
    assert answer.status_code == 200, answer.text
    (contact,) = contacts_with(sim.state, email=EMAIL)
    assert contact.preferences == {"acceptsEmail": False}
    assert [(c["id"], c["value"], c["source"]) for c in contact.consents] == [("memberTerms", True, "POS")]
    missing = enrol(agent, mobilePhone=PHONE, consents={})  # the consent without `requires` is asked for both
    assert missing.status_code == 422 and "consents.memberTerms" in missing.json()["error"]["message"]


def test_engage_refusing_the_key_is_loyalty_auth(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.api_key = "another-key"
    answer = enrol(agent, **by_email())
    assert answer.status_code == 502 and answer.json()["error"]["code"] == "loyalty_auth"
    assert creates(sim) == 0


def test_a_backend_that_cannot_enrol_says_so(tmp_path: Path) -> None:
    """On fabric there is no enrolment at the till: the form is off and the call is 501, nothing else."""
    from posplugin.vendors.fabric.simulator import FabricSimulator, FabricState, seed_demo_data

    simulator = FabricSimulator(seed_demo_data(FabricState())).start()
    agent = fabric_agent(tmp_path, simulator)
    try:
        with agent.client() as http:
            assert http.get("/api/v1/enrolment").json() == {
                "enabled": False,
                "identifiers": ["email", "mobilePhone"],
                "questions": [],
            }
            answer = http.post("/api/v1/members", json=by_email())
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_supported"
            assert "enrol" not in http.get("/api/v1/health").json()["features"]
    finally:
        agent.stop()
        simulator.stop()
