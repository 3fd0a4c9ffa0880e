"""The enrolment service's own rules at unit level, with a scripted vendor port (the HTTP-level behaviour is in
test_enrolment_api.py against the simulator): the order of lookups and creates, the cashier's deadline with the
attempt carrying on, one attempt per identifier at a time, and bounded memory."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from posplugin.config import EnrolmentConfig
from posplugin.enrolment import MAX_REMEMBERED, EnrolmentService, KeyedLocks
from posplugin.enrolment_rules import EnrolmentRequest, EnrolmentSettings
from posplugin.errors import AgentError
from posplugin.loyalty.enrolment import Enrolled, Identifier, IdentifierTaken, NewMember
from posplugin.loyalty.errors import LoyaltyError, LoyaltyNoAnswer, LoyaltyServerError, LoyaltyUnreachable
from posplugin.loyalty.status import LoyaltyStatus

CONTACT = "0c0ffee0-cafe-4bad-9eed-c4a4a4a4a4a4"
REQUEST = EnrolmentRequest("nora@example.se", first_name="Nora", consents={"acceptsEmail": True})
Step = Callable[[], Awaitable[Enrolled]]


@dataclass
class ScriptedPort:
    """Creates follow the script (an exception, or a step to await); a create that "saves" makes the lookup
    find the contact from then on."""

    creates: list[BaseException | Step | None] = field(default_factory=list)
    settle_seconds: float = 5.0
    calls: list[str] = field(default_factory=list)
    saved: str | None = None

    async def find(self, identifier: Identifier) -> str | None:
        self.calls.append("find")
        return self.saved

    async def create(self, member: NewMember, store_external_id: str) -> Enrolled:
        assert store_external_id == "s1"
        self.calls.append("create")
        step = self.creates.pop(0) if self.creates else None
        if isinstance(step, BaseException):
            if getattr(step, "saved", False):
                self.saved = CONTACT
            raise step
        if step is not None:
            return await step()
        self.saved = CONTACT
        return Enrolled(CONTACT, member.first_name, "2000001")


class Views:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def member(self, contact_id: str) -> dict[str, Any]:
        if self.fail:
            raise LoyaltyNoAnswer("slow")
        return {
            "contact": {"id": contact_id, "firstName": "Nora", "lastName": None, "memberNumber": "2000001"},
            "points": {"balance": 0, "pending": 0, "accounts": []},
            "vouchers": [],
            "source": "live",
            "fetchedAt": "2026-01-01T00:00:00Z",
        }


class FakeTime:
    """A monotonic clock that sleeping moves forward (no real waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def service(port: ScriptedPort, *, deadline: float = 20.0, views: Views | None = None, time: FakeTime | None = None):  # type: ignore[no-untyped-def]
    settings = EnrolmentSettings.from_config(EnrolmentConfig(), "s1")
    settings = EnrolmentSettings(settings.enabled, "s1", deadline, settings.questions)
    extra: dict[str, Any] = {"monotonic": time, "sleep": time.sleep} if time else {}

    def refusal(exc: LoyaltyError) -> AgentError:
        return AgentError(502, "refused", str(exc))

    return EnrolmentService(port, views or Views(), LoyaltyStatus(3), lambda: settings, "en", refusal, **extra)


def maybe_saved(exc: LoyaltyError, saved: bool) -> LoyaltyError:
    exc.saved = saved  # type: ignore[attr-defined]
    return exc


def sync(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test on its own event loop (the suite has no asyncio plugin)."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())

    return run


@sync
async def test_a_rollback_is_looked_up_at_once_and_after_the_settle_time_then_retried_once() -> None:
    time = FakeTime()
    port = ScriptedPort([maybe_saved(LoyaltyServerError(504, "GatewayTimeout", ""), saved=False)])
    answer = await service(port, time=time).enrol(REQUEST)
    assert port.calls == ["find", "create", "find", "find", "create"]
    assert time.slept == [5.0]  # until Engage has certainly finished with the first create
    assert answer["enrolment"]["result"] == "created"


@sync
async def test_a_lost_answer_found_at_once_is_not_waited_for_nor_sent_again() -> None:
    time = FakeTime()
    port = ScriptedPort([maybe_saved(LoyaltyNoAnswer("reset"), saved=True)])
    answer = await service(port, time=time).enrol(REQUEST)
    assert port.calls == ["find", "create", "find"] and time.slept == []
    assert answer["contact"]["id"] == CONTACT and answer["enrolment"]["result"] == "created"


@sync
async def test_never_more_than_two_creates() -> None:
    time = FakeTime()
    port = ScriptedPort([maybe_saved(LoyaltyNoAnswer("x"), saved=False) for _ in range(3)])
    with pytest.raises(AgentError) as info:
        await service(port, time=time).enrol(REQUEST)
    assert info.value.code == "enrolment_unconfirmed"
    assert port.calls.count("create") == 2


@sync
async def test_nothing_sent_is_offline_unless_an_earlier_create_may_have_been_saved() -> None:
    first = ScriptedPort([LoyaltyUnreachable("refused")])
    with pytest.raises(AgentError) as info:
        await service(first).enrol(REQUEST)
    assert info.value.code == "enrolment_offline"
    time = FakeTime()
    second = ScriptedPort([maybe_saved(LoyaltyNoAnswer("x"), saved=False), LoyaltyUnreachable("refused")])
    with pytest.raises(AgentError) as info:
        await service(second, time=time).enrol(REQUEST)
    assert info.value.code == "enrolment_unconfirmed"  # the first one's fate is unknown to the cashier


@sync
async def test_taken_between_lookup_and_create_identifies_the_holder() -> None:
    port = ScriptedPort([maybe_saved(IdentifierTaken("taken"), saved=True)])
    answer = await service(port).enrol(REQUEST)
    assert answer["enrolment"]["result"] == "existing" and answer["enrolment"]["consentsSaved"] is False


@sync
async def test_past_the_deadline_the_create_carries_on_and_the_same_op_id_gets_its_result() -> None:
    release = asyncio.Event()

    async def slow() -> Enrolled:
        await release.wait()
        port.saved = CONTACT
        return Enrolled(CONTACT, "Nora", "2000001")

    port = ScriptedPort([slow])
    enrolment = service(port, deadline=0.1)
    with pytest.raises(AgentError) as info:
        await enrolment.enrol(REQUEST, "op-slow")
    assert info.value.code == "enrolment_unconfirmed"
    release.set()
    answer = await enrolment.enrol(REQUEST, "op-slow")
    assert answer["enrolment"]["result"] == "created" and port.calls == ["find", "create"]


@sync
async def test_one_attempt_per_identifier_and_the_same_request_answers_the_same() -> None:
    release = asyncio.Event()

    async def slow() -> Enrolled:
        await release.wait()
        port.saved = CONTACT
        return Enrolled(CONTACT, "Nora", "2000001")

    port = ScriptedPort([slow])
    enrolment = service(port)
    first = asyncio.create_task(enrolment.enrol(REQUEST, "tap-1"))
    second = asyncio.create_task(enrolment.enrol(REQUEST, "tap-2"))  # another opId, the same shopper
    await asyncio.sleep(0.05)
    assert port.calls == ["find", "create"]  # the second waits for the first instead of looking up
    release.set()
    answers = await asyncio.gather(first, second)
    assert [a["enrolment"]["result"] for a in answers] == ["created", "created"]
    assert port.calls == ["find", "create"]
    assert len(enrolment._locks) == 0


@sync
async def test_a_view_that_cannot_be_fetched_gives_placeholders_marked_incomplete() -> None:
    answer = await service(ScriptedPort(), views=Views(fail=True)).enrol(REQUEST)
    assert answer["enrolment"]["viewComplete"] is False
    assert answer["contact"] == {"id": CONTACT, "firstName": "Nora", "lastName": None, "memberNumber": "2000001"}
    port = ScriptedPort()
    port.saved = CONTACT  # a member already: what the cashier typed is not shown as their name
    found = await service(port, views=Views(fail=True)).enrol(REQUEST)
    assert found["contact"]["firstName"] is None and found["enrolment"]["result"] == "existing"


@sync
async def test_memory_is_bounded() -> None:
    port = ScriptedPort()
    enrolment = service(port)
    for n in range(MAX_REMEMBERED + 40):
        port.saved = None
        await enrolment.enrol(EnrolmentRequest(f"n{n}@example.se", consents={"acceptsEmail": True}), f"op-{n}")
    assert len(enrolment._runs) <= MAX_REMEMBERED + 1 and len(enrolment._history) <= MAX_REMEMBERED + 1


@sync
async def test_keyed_locks_serialise_one_key_and_forget_it() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(name: str, key: str) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(0.02)
            order.append(f"{name}-")

    await asyncio.gather(hold("a", "k"), hold("b", "k"), hold("c", "other"))
    assert order.index("a-") < order.index("b+")  # b waited for a on the same key
    assert order.index("c+") < order.index("a-")  # another key did not wait
    assert len(locks) == 0
