"""What an enrolment leaves behind: the identifier and the name never in a log line (neither written by the agent
nor surviving the redaction filter if some other code wrote them), and the objects that carry them show none of
it in a repr or a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.log_redaction import RedactingFilter, redact
from posplugin.loyalty.enrolment import ConsentAnswer, Enrolled, Identifier, NewMember
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule
from tests.conftest import RunningAgent

EMAIL = "hemlig.person@example.org"
PHONE = "+46701112233"
NAME = "Ingridhemlig"
names = st.text(st.characters(categories=("L",)), min_size=2, max_size=30)


def test_the_carriers_of_personal_data_show_none_of_it() -> None:
    member = NewMember(Identifier("email", EMAIL), NAME, (ConsentAnswer("acceptsEmail", "preference", True),))
    shown = repr(member) + str(member) + repr(Enrolled("0c0ffee0-cafe-4bad-9eed-c4a4a4a4a4a4", NAME, "2000001"))
    assert EMAIL not in shown and NAME not in shown
    assert "acceptsEmail" in shown and "email" in shown  # what kind of thing it is stays visible


@given(names)
def test_a_named_personal_field_loses_its_value_in_any_notation(name: str) -> None:
    lines = {
        repr({"firstName": name, "store": "s1"}): "{'firstName': [personal], 'store': 's1'}",
        json.dumps({"firstName": name, "mobilePhone": PHONE}): '{"firstName": [personal], "mobilePhone": [personal]}',
        f"NewMember(first_name={name!r})": "NewMember(first_name=[personal])",
        f"POST /x?firstName={name}&source=POS": "POST /x?firstName=[personal]&source=POS",
        f"lastName = {name}": "lastName = [personal]",
    }
    for line, expected in lines.items():
        assert redact(line) == expected


def test_prose_about_fields_stays_readable() -> None:
    for line in ("search by email: member 8f2d0c1a-…", "enrol by mobilePhone: enrolment_offline", "store=s1"):
        assert redact(line) == line


def test_the_filter_masks_a_dict_logged_by_mistake(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.enrolment.privacy")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO):
            logger.info("body %s", {"email": EMAIL, "mobilePhone": PHONE, "firstName": NAME})
    finally:
        logger.filters.clear()
    text = caplog.records[0].getMessage()
    assert EMAIL not in text and PHONE not in text and NAME not in text and "[personal]" in text


def test_the_agent_writes_no_identifier_or_name_in_its_log_whatever_happens(
    agent_factory: Any, sim: EngageSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The records as the agent writes them, before any filter: the flows that fail log as much as the ones that
    succeed, and none of them carries what the cashier typed."""
    sim.state.settings.contact_create_limit = 0.1
    agent: RunningAgent = agent_factory(options={"enrolment_settle_seconds": 0.2})
    caplog.set_level(logging.DEBUG)
    sim.faults.add(FaultRule("rollback_timeout", method="POST", path="^/api/v3/contacts$", times=2))
    with httpx.Client(base_url=agent.base_url, headers={"X-POS-Token": agent.token}, timeout=30) as till:
        body = {"email": EMAIL, "firstName": NAME, "consents": {"acceptsEmail": True}}
        assert till.post("/api/v1/members", json=body).status_code == 503  # rolled back twice: unconfirmed
        assert till.post("/api/v1/members", json=body).status_code == 200
        assert till.post("/api/v1/members", json={**body, "firstName": "X1"}).status_code == 422
        assert till.post("/api/v1/members", json={"mobilePhone": PHONE + "9" * 9, "consents": {}}).status_code == 422
        phone_body = {"mobilePhone": PHONE, "firstName": NAME, "consents": {"acceptsSms": True}}
        assert till.post("/api/v1/members", json=phone_body).status_code == 200
    agents_own = [r for r in caplog.records if r.name.startswith("posplugin") and ".simulator" not in r.name]
    logged = "\n".join(r.getMessage() for r in agents_own)
    assert "enrol by email: member" in logged and "enrolment_unconfirmed" in logged
    for typed in (EMAIL, PHONE, NAME, "hemlig", "1112233"):
        assert typed not in logged
