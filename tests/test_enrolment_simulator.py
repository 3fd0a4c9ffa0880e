"""The simulated Engage's contact creation, as strict as the vendor docs, and the Engage client and enrolment
adapter against it over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from posplugin.loyalty.enrolment import (
    Identifier,
    IdentifierAmbiguous,
    IdentifierRefused,
    IdentifierTaken,
    NewMember,
)
from posplugin.vendors.engage import EngageClient, EngageServerError
from posplugin.vendors.engage.enrolment import EngageEnrolment
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, SimState, seed_demo_data
from posplugin.vendors.engage.simulator.contact_creation import contacts_with
from posplugin.vendors.engage.simulator.state import Contact

KEY = "sim-key"
EMAIL = "ny@example.se"


@pytest.fixture
def engage() -> Iterator[EngageSimulator]:
    state = seed_demo_data(SimState())
    state.settings.contact_create_limit = 0.3
    simulator = EngageSimulator(state, api_key=KEY).start()
    yield simulator
    simulator.stop()


def post(sim: EngageSimulator, body: Any, params: dict[str, str] | None = None, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{sim.url}/api/v3/contacts",
        params=params if params is not None else {"source": "POS", "storeExternalId": "s1"},
        json=body,
        headers={"apikey": KEY, **headers},
        timeout=10,
    )


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


def test_a_contact_is_created_with_a_member_number_and_a_point_account(engage: EngageSimulator) -> None:
    answer = post(engage, {"email": EMAIL, "firstName": "Nora", "preferences": {"acceptsEmail": True}})
    assert answer.status_code == 201
    created = answer.json()
    assert created["attributes"]["email"] == EMAIL and created["attributes"]["memberNumber"] == "2000001"
    (contact,) = contacts_with(engage.state, email=EMAIL)
    assert (contact.id, contact.source, contact.store_external_id) == (created["id"], "POS", "s1")
    assert any(a.contact_id == contact.id for a in engage.state.accounts.values())  # can earn at once


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"storeExternalId": "s1"}, (400, "InvalidSource")),
        ({"source": "Web", "storeExternalId": "s1"}, (400, "InvalidSource")),
        ({"source": "POS"}, (400, "InvalidStoreExternalId")),
        ({"source": "POS", "storeExternalId": " "}, (400, "InvalidStoreExternalId")),
    ],
)
def test_source_and_store_are_required_in_the_query_string(
    engage: EngageSimulator, params: dict[str, str], expected: tuple[int, str]
) -> None:
    assert code(post(engage, {"email": EMAIL}, params)) == expected
    assert contacts_with(engage.state, email=EMAIL) == []


def test_source_and_store_as_headers_are_ignored_as_v3_does(engage: EngageSimulator) -> None:
    answer = post(engage, {"email": EMAIL}, {}, source="POS", storeExternalId="s1")
    assert code(answer) == (400, "InvalidSource")


def test_an_unknown_store_is_refused_when_the_tenant_lists_its_stores(engage: EngageSimulator) -> None:
    engage.state.stores = {"Malmö C"}
    assert code(post(engage, {"email": EMAIL})) == (400, "InvalidStoreExternalId")
    assert post(engage, {"email": EMAIL}, {"source": "POS", "storeExternalId": "Malmö C"}).status_code == 201


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, (400, "InvalidContact")),
        ({"firstName": "Nora"}, (400, "InvalidContact")),
        ({"email": "nope"}, (400, "InvalidEmailAddress")),
        ({"mobilePhone": "+46 70 123 45 67"}, (400, "InvalidPhoneNumber")),
        ({"mobilePhone": "0701234567"}, (400, "InvalidPhoneNumber")),
        ({"email": EMAIL, "preferences": {"acceptsEmail": "yes"}}, (400, "InvalidPreferences")),
        ({"email": EMAIL, "preferences": {"acceptsFax": True}}, (400, "InvalidPreferences")),
        ({"email": EMAIL, "consents": [{"id": "terms"}]}, (400, "InvalidConsents")),
        ({"email": EMAIL, "shoeSize": 42}, (400, "InvalidContact")),
        ([{"email": EMAIL}], (400, "InvalidContact")),
    ],
)
def test_what_engage_refuses(engage: EngageSimulator, body: Any, expected: tuple[int, str]) -> None:
    assert code(post(engage, body)) == expected
    assert engage.state.created_contacts == []


def test_a_taken_identifier_is_refused_or_answered_with_its_holder(engage: EngageSimulator) -> None:
    assert code(post(engage, {"email": "ASA.OBERG@example.se"})) == (409, "ContactAlreadyExists")
    assert code(post(engage, {"mobilePhone": "+46701234502"})) == (409, "ContactAlreadyExists")
    engage.state.settings.duplicate_contacts = "first_match"  # as v2 documents it
    answer = post(engage, {"email": "asa.oberg@example.se"})
    assert answer.status_code == 200 and answer.json()["attributes"]["firstName"] == "Åsa"
    assert engage.state.created_contacts == []


def test_rollback_timeout_answers_504_after_the_limit_and_saves_nothing(engage: EngageSimulator) -> None:
    engage.faults.add(FaultRule("rollback_timeout", method="POST", path="/contacts$"))
    started = time.monotonic()
    answer = post(engage, {"email": EMAIL})
    took = time.monotonic() - started
    assert code(answer) == (504, "GatewayTimeout")
    assert 0.3 <= took < 2.0  # the simulator's limit (Engage's ~5 s, shortened here)
    assert contacts_with(engage.state, email=EMAIL) == []
    assert post(engage, {"email": EMAIL}).status_code == 201  # the fault fired once


def test_rollback_timeout_refuses_a_bad_request_at_once(engage: EngageSimulator) -> None:
    engage.faults.add(FaultRule("rollback_timeout", method="POST", path="/contacts$", delay=5.0))
    started = time.monotonic()
    assert code(post(engage, {"email": "nope"})) == (400, "InvalidEmailAddress")
    assert time.monotonic() - started < 1.0


def test_the_limit_can_be_set_over_the_control_port() -> None:
    simulator = EngageSimulator(SimState(), api_key=KEY, control_port=0).start()
    try:
        answer = httpx.post(f"{simulator.control_url}/_sim/settings", json={"contactCreateLimit": 0.5}).json()
        assert answer["contactCreateLimit"] == 0.5 and simulator.state.settings.contact_create_limit == 0.5
    finally:
        simulator.stop()


# ---- the Engage client and the enrolment adapter ---------------------------------------------------------


def adapter(engage: EngageSimulator, client: EngageClient) -> EngageEnrolment:
    return EngageEnrolment(client, settle_seconds=0.5)


def member(kind: str = "email", value: str = EMAIL) -> NewMember:
    return NewMember(Identifier(kind, value), "Nora")  # type: ignore[arg-type]


def test_the_adapter_creates_and_finds(engage: EngageSimulator) -> None:
    async def main() -> None:
        async with EngageClient(engage.url, KEY) as client:
            enrolment = adapter(engage, client)
            assert await enrolment.find(Identifier("email", EMAIL)) is None
            enrolled = await enrolment.create(member(), "s1")
            assert enrolled.member_number == "2000001" and enrolled.first_name == "Nora"
            assert await enrolment.find(Identifier("email", EMAIL)) == enrolled.contact_id
            with pytest.raises(IdentifierTaken):
                await enrolment.create(member(), "s1")

    asyncio.run(main())


def test_the_adapter_maps_engages_refusals(engage: EngageSimulator) -> None:
    twin = Contact("5e1f6a2b-0000-4000-8000-00000000e002", "Tvilling", "A", "3000002", "tvilling@example.se")
    engage.state.add_contact(twin)
    engage.state.add_contact(Contact("5e1f6a2b-0000-4000-8000-00000000e003", "T", "B", "3000003", twin.email))

    async def main() -> None:
        async with EngageClient(engage.url, KEY) as client:
            enrolment = adapter(engage, client)
            with pytest.raises(IdentifierAmbiguous):
                await enrolment.find(Identifier("email", twin.email))
            with pytest.raises(IdentifierRefused) as info:
                await enrolment.create(member("mobilePhone", "+4670"), "s1")
            assert info.value.kind == "mobilePhone"
            engage.faults.add(FaultRule("rollback_timeout", method="POST", path="/contacts$"))
            with pytest.raises(EngageServerError) as server:
                await enrolment.create(member(), "s1")
            assert server.value.status == 504

    asyncio.run(main())


def test_the_client_needs_a_store_and_sends_create_as_unapproved_only_when_asked(engage: EngageSimulator) -> None:
    seen: list[httpx.URL] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url)

    async def main() -> None:
        async with EngageClient(engage.url, KEY) as client:
            client._http.event_hooks["request"] = [record]
            with pytest.raises(ValueError, match="storeExternalId"):
                await client.create_contact({"email": EMAIL}, store_external_id="")
            await client.create_contact({"email": EMAIL}, store_external_id="Malmö C")
            await client.create_contact({"email": "b@example.se"}, store_external_id="s1", create_as_unapproved=True)

    asyncio.run(main())
    assert dict(seen[0].params) == {"source": "POS", "storeExternalId": "Malmö C"}
    assert dict(seen[1].params) == {"source": "POS", "storeExternalId": "s1", "createAsUnapproved": "true"}
