"""The published contract (``/openapi.json``) against the README and the server's own rules, and the behaviours it
declares that schemathesis does not reach: 401 vs 403, 405 with Allow, the event stream and its typed events."""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from posplugin.agent import Agent
from posplugin.loyalty.kinds import VOUCHER_REDEEM, op_view
from posplugin.ops import OP_ID
from posplugin.outbox.model import REJECTED, Op
from posplugin.paths import resolve_paths
from posplugin.secret_store import FileBackend, SecretStore
from posplugin.vendors.engage.simulator import EngageSimulator, member_id, voucher_id
from posplugin.web.api_errors import ERROR_CODES, codes_markdown
from posplugin.web.api_models import EVENT_MODELS, OpView
from posplugin.web.app import create_app
from posplugin.web.sale_models import PointAdjustmentBody, SaleBody
from tests.conftest import RunningAgent, make_config
from tests.sale_factory import example_sale

README = Path(__file__).resolve().parents[2] / "docs" / "pos-api.md"  # the API as POS integrators read it
ASA = member_id("asa")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document of an agent that is built but never started (no Engage, no port)."""
    tmp = tmp_path_factory.mktemp("openapi")
    config = make_config(tmp, "http://127.0.0.1:9", 8765)
    paths = resolve_paths(config)
    paths.ensure()
    store = SecretStore(paths.data_dir, {"POSPLUGIN_ENGAGE_API_KEY": "k"}, backend=FileBackend(paths.secrets_file))
    agent = Agent(config, paths, store)
    try:
        return create_app(agent, manage_lifecycle=False).openapi()
    finally:
        agent.db.close()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, o) for p, ops in document["paths"].items() for m, o in ops.items()]


def readme_endpoints() -> set[tuple[str, str]]:
    found = set()
    for method, path in re.findall(r"`(GET|POST) (/api/v1/[^ `?]+)", README.read_text(encoding="utf-8")):
        found.add((method, re.sub(r"\{[^}]+\}", "{}", path)))
    return found


def test_every_v1_endpoint_in_the_readme_has_an_answer_model(document: dict[str, Any]) -> None:
    served = {(m, re.sub(r"\{[^}]+\}", "{}", p)): o for m, p, o in operations(document)}
    listed = readme_endpoints()
    assert len(listed) >= 20
    for endpoint in sorted(listed):
        assert endpoint in served, endpoint
        ok = next(r for s, r in served[endpoint]["responses"].items() if s.startswith("2"))
        content = ok["content"]
        if endpoint == ("GET", "/api/v1/events"):
            assert list(content) == ["text/event-stream"]
        else:
            assert list(content) == ["application/json"]
            assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/"), endpoint


def test_operation_ids_are_readable_and_every_operation_has_a_tag(document: dict[str, Any]) -> None:
    ids = [o["operationId"] for _, _, o in operations(document)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)+", i) for i in ids), ids
    assert {"identifyMember", "redeemVoucher", "getQueue", "getOp", "streamEvents"} <= set(ids)
    assert all(len(o["tags"]) == 1 for _, _, o in operations(document))


def test_the_token_is_an_api_key_scheme_on_everything_but_health(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["posToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-POS-Token")
    for _, path, operation in operations(document):
        if path == "/api/v1/health":
            assert "security" not in operation and "401" not in operation["responses"]
        else:
            assert operation["security"] == [{"posToken": []}], path
            assert "unauthorized" in operation["responses"]["401"]["description"]


def test_every_error_response_is_the_error_body_with_codes_of_its_status(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's {detail:[…]} is never sent
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            assert response["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            codes = re.findall(r"`([a-z_]+)`", response["description"])
            assert codes, (path, status)
            assert all(ERROR_CODES[c][0] == int(status) for c in codes), (path, status, codes)
        if method == "POST":
            assert {"413", "415"} <= set(operation["responses"]), path


def test_the_readme_lists_every_error_code() -> None:
    assert codes_markdown() in README.read_text(encoding="utf-8")


def test_the_event_models_are_published(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {m.__name__ for m in EVENT_MODELS.values()} <= set(schemas)
    description = document["paths"]["/api/v1/events"]["get"]["responses"]["200"]["description"]
    assert all(f"`{name}`" in description for name in EVENT_MODELS)


# ---- the schema's constraints are the server's -----------------------------------------------------------


def body_schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def test_one_op_id_rule_for_schema_and_server(document: dict[str, Any]) -> None:
    for name in ("VoucherOpBody", "PurchaseBody", "PointAdjustmentBody"):
        field = body_schema(document, name)["properties"]["opId"]["anyOf"][0]
        assert field["pattern"] == OP_ID.pattern
    assert body_schema(document, "PrintPurchaseBody")["properties"]["opId"]["pattern"] == OP_ID.pattern
    assert "any 1–64 character" not in README.read_text(encoding="utf-8")


@given(st.text(max_size=70))
def test_the_op_id_pattern_decides_alone(op_id: str) -> None:
    try:
        PointAdjustmentBody.model_validate({"amount": 5, "description": "x", "opId": op_id})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == bool(OP_ID.fullmatch(op_id))


def test_member_and_voucher_ids_are_opaque_in_the_contract(document: dict[str, Any]) -> None:
    for _, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] in ("contactId", "voucherId"):
                assert "pattern" not in parameter["schema"] and "format" not in parameter["schema"], path
    for name in ("VoucherOpBody", "PrintVoucherBody", "ContactBody"):
        for field in ("contactId", "voucherId"):
            schema = body_schema(document, name)["properties"].get(field)
            assert schema is None or ("pattern" not in schema and "format" not in schema)


def test_the_filter_is_an_enum(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/members/{contactId}/point-transactions"]["get"]
    parameter = next(p for p in operation["parameters"] if p["name"] == "filter")
    assert parameter["schema"]["enum"] == ["all", "active", "pending"]


def test_an_adjustment_of_zero_points_is_refused_by_the_schema_too(document: dict[str, Any]) -> None:
    assert body_schema(document, "PointAdjustmentBody")["properties"]["amount"]["not"] == {"const": 0}
    with pytest.raises(ValidationError):
        PointAdjustmentBody.model_validate({"amount": 0, "description": "nothing"})


def test_money_strings_are_plain_decimals_in_the_schema(document: dict[str, Any]) -> None:
    amount = body_schema(document, "LineBody")["properties"]["grossAmount"]
    string = next(s for s in amount["anyOf"] if s["type"] == "string")
    assert re.fullmatch(string["pattern"], "12.50") and not re.fullmatch(string["pattern"], "1_0")


def with_gross(value: Any) -> dict[str, Any]:
    body = example_sale("R-1")
    body["lines"][0]["grossAmount"] = value
    return body


@pytest.mark.parametrize("text", ["1_0", " 10", "1e3", "+5", ".5", "NaN", "Infinity", "0x10", "10,5", ""])
def test_a_money_string_that_is_not_a_plain_decimal_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        SaleBody.model_validate(with_gross(text))


@given(st.decimals(min_value=0, max_value=Decimal("999999"), places=2))
def test_a_plain_decimal_string_is_read_as_its_number(value: Decimal) -> None:
    body = SaleBody.model_validate(with_gross(str(value)))
    assert body.lines[0].grossAmount == value


# ---- behaviour the fuzzing does not reach ------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_401_and_a_refused_origin_stays_403(running: RunningAgent) -> None:
    url = f"{running.base_url}/api/v1/queue"
    for headers in ({}, {"X-POS-Token": "wrong"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    refused = httpx.get(url, headers={"X-POS-Token": running.token, "Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden_origin"


def test_a_method_the_path_does_not_have_is_405_with_allow(running: RunningAgent) -> None:
    with running.client() as http:
        response = http.delete("/api/v1/queue")
        assert response.status_code == 405 and response.headers["allow"] == "GET"
        assert response.json()["error"]["code"] == "invalid_request"


def test_calls_without_a_body_need_no_content_type(running: RunningAgent, sim: EngageSimulator) -> None:
    with running.client() as http:
        assert http.post("/api/v1/identify", json={"code": "2400000010014"}).status_code == 200
        sim.set_offline(True)
        op = http.post(f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": ASA, "opId": "b-1"})
        assert op.status_code == 200 and op.json()["state"] == "queued"  # waiting: it can be parked, then retried
        for call in ("/api/v1/ops/b-1/park", "/api/v1/ops/b-1/retry"):
            response = http.post(call)  # no body, no Content-Type
            assert response.status_code == 200 and response.json()["opId"] == "b-1", response.text
        assert (
            http.post("/api/v1/ops/b-1/retry", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
        )


@pytest.mark.parametrize("body", [b'{"code": "\xc3\x28"}', b"\x80", b"{", b"[]", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_422_invalid_request(running: RunningAgent, body: bytes) -> None:
    with running.client() as http:
        response = http.post("/api/v1/identify", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_a_non_guid_id_is_refused_by_the_engage_check_with_the_field_named(running: RunningAgent) -> None:
    with running.client() as http:
        response = http.get("/api/v1/members/1000003")
    assert response.status_code == 422 and "contactId is not a GUID" in response.json()["error"]["message"]


class EventReader:
    """Reads an event stream in a thread; events are ``(type, data)``."""

    def __init__(self, agent: RunningAgent) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.content_type = ""
        self._agent = agent
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._started.wait(10)

    def _read(self) -> None:
        with self._agent.client() as http, http.stream("GET", "/api/v1/events") as response:
            self.content_type = response.headers["content-type"]
            self._started.set()
            name = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))

    def first(self, name: str, timeout: float = 10) -> dict[str, Any]:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.05)):
            found = [data for event, data in self.events if event == name]
            if found:
                return found[0]
            deadline.wait(0.05)
        raise AssertionError(f"no {name} event in {self.events}")


def test_events_are_an_event_stream_of_the_published_models(running: RunningAgent, sim: EngageSimulator) -> None:
    reader = EventReader(running)
    assert reader.content_type.startswith("text/event-stream")
    assert reader.first("hello")["engage"] in ("online", "offline", "unknown")
    sim.state.redeem_elsewhere(voucher_id("asa", 1))
    with running.client() as http:
        answered = http.post(f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": ASA}).json()
    event = reader.first("op")
    # The event is the very op the POS was answered with: reasonText included.
    assert OpView.model_validate(event) == OpView.model_validate(answered)
    assert event["reasonText"] == "already redeemed"
    running.agent.events.close()


def test_an_op_is_described_by_one_function_for_answers_queue_and_events() -> None:
    op = Op(
        "op-1",
        VOUCHER_REDEEM,
        voucher_id("asa", 1),
        ASA,
        {},
        REJECTED,
        "already_redeemed",
        None,
        True,
        False,
        1,
        0,
        0,
        0,
        1.0,
        2.0,
    )
    assert op_view(op, "sv")["reasonText"] != op_view(op, "en")["reasonText"]
    assert OpView.model_validate(op_view(op, "en")).reasonText == "already redeemed"
