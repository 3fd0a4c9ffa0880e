"""Schemathesis over the whole /api/v1 of a real agent on the simulator: every answer must be what
``/openapi.json`` says (status, content type, headers, body schema) and data outside the schema must be refused.

Bounded: Hypothesis derandomized (a fixed seed per operation), ~50 examples per operation in each mode (data the
schema allows, data it does not), no shrinking. The event stream is left out: it never ends, so it cannot be
called and validated like the rest (``test_openapi.py`` checks its content type and first event).

Schemathesis' own pytest loader (``from_fixture``) does not run under pytest 9, so each operation's strategy is
driven with ``@given`` directly, which is its documented use outside its loader.
"""

from __future__ import annotations

import collections
import json
import time
import zlib
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from posplugin.vendors.engage.simulator import EngageSimulator, SimState, seed_demo_data
from tests.conftest import RunningAgent

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
EXAMPLES = 50
STREAMS = {"/api/v1/events"}
BOUNDED = settings(
    derandomize=True,  # a fixed seed: the same cases on every run
    deadline=None,
    database=None,
    phases=[Phase.generate],  # no shrinking: a failure is reported as found, in bounded time
    suppress_health_check=list(HealthCheck),
)


# What counts as refusing data outside the schema: schemathesis' defaults plus 413 (a body over
# [api] max_body_bytes is refused before it is read).
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]


def load_schema(agent: RunningAgent) -> Any:
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}})
    config.projects.default.update(base_url=agent.base_url, headers={"X-POS-Token": agent.token})
    return schemathesis.openapi.from_url(f"{agent.base_url}/openapi.json", config=config)


def known_ids(operation: Any, ids: dict[str, list[str]]) -> st.SearchStrategy[Any] | None:
    """Cases whose path names a real member or voucher of the simulator, so answers past the lookup are fuzzed."""
    names = [p.name for p in operation.path_parameters]
    if not names or not all(name in ids for name in names):
        return None
    chosen = st.fixed_dictionaries({name: st.sampled_from(ids[name]) for name in names})
    return chosen.flatmap(lambda values: operation.as_strategy(path_parameters=values))


def fuzz(operation: Any, ids: dict[str, list[str]], seen: dict[str, int]) -> None:
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    real = known_ids(operation, ids)
    if real is not None:
        strategies.append(real)
    cases = st.one_of(strategies)

    @settings(BOUNDED, max_examples=EXAMPLES * len(strategies))
    @given(case=cases)
    def run(case: Any) -> None:
        response = case.call_and_validate(checks=CHECKS)
        mode = case.meta.generation.mode.value if case.meta else "?"
        key = f"{mode} {response.status_code}"
        seen[key] = seen.get(key, 0) + 1

    run()


def test_every_operation_is_what_the_document_says(running: RunningAgent, sim: EngageSimulator) -> None:
    schema = load_schema(running)
    ids = {
        "contactId": sorted(sim.state.contacts),
        "voucherId": sorted(sim.state.vouchers),
        "assignmentId": sorted(sim.state.promotions.assignments),
    }
    failures: list[str] = []
    timings: dict[str, float] = {}
    seen: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1/") or operation.path in STREAMS:
            continue
        started = time.monotonic()
        try:
            fuzz(operation, ids, seen)
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:4000]}")
        timings[operation.label] = time.monotonic() - started
    assert len(timings) >= 20, timings
    assert seen.get("positive 200", 0) >= 100, seen  # the fuzzing reaches real answers, not only refusals
    assert not failures, "\n\n".join(failures)


def test_following_the_links_answers_stay_what_the_document_says(running: RunningAgent, sim: EngageSimulator) -> None:
    """Stateful: identify a real card, then follow the document's links (member → transactions, point shop,
    redeem its first voucher → the op → retry, park, resolve; reactivate), validating every answer."""
    schema = load_schema(running).exclude(path_regex="^/api/v1/events$")
    cards = sorted(card for contact in sim.state.contacts.values() for card in contact.cards)
    steps: list[str] = []

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts from the same Engage (Hypothesis replays a scenario and must see the same
            # answers); the agent's own state only grows, and the same draw always meets the same op.
            sim.state = seed_demo_data(SimState())

        def before_call(self, case: Any) -> None:
            if case.operation.label == "POST /api/v1/identify":
                # A card the simulator knows, chosen by the drawn body alone (Hypothesis replays must match).
                drawn = zlib.crc32(json.dumps(case.body, sort_keys=True, default=str).encode())
                case.body = {"code": cards[drawn % len(cards)]}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            steps.append(f"{case.operation.label} {response.status_code}")
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    run_state_machine_as_test(Scenario, settings=settings(BOUNDED, max_examples=50, stateful_step_count=8))
    # A real card was identified and the links from its member view were followed (each answer was checked
    # against the document above; which answers they are depends on what earlier scenarios left on the till).
    tally = str(collections.Counter(steps).most_common())
    assert "POST /api/v1/identify 200" in steps, tally
    member_calls = ("GET /api/v1/members/{contactId}", "POST /api/v1/vouchers/{voucherId}/redeem", "POST /api/v1/print")
    assert any(step.startswith(member_calls) for step in steps), tally
    # An op's link was followed: its id came from an answer, so the call found the op (any answer but 404).
    assert any(
        step.startswith(("GET /api/v1/ops/", "POST /api/v1/ops/")) and not step.endswith(" 404") for step in steps
    )
