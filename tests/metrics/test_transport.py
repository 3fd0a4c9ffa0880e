"""The instrumented transport: what is timed, from when to when, and what is counted as rate limited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from posplugin.metrics.transport import InstrumentedTransport

GUID = "6b8a2b5e-1c3d-4e5f-9a0b-123456789abc"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.observed: list[tuple[str, float]] = []
        self.rate_limited = 0

    def observe(self, endpoint: str, seconds: float) -> None:
        self.observed.append((endpoint, seconds))

    def limited(self) -> None:
        self.rate_limited += 1


def call(
    handler: Callable[[httpx.Request], httpx.Response], clock: Clock, path: str, method: str = "GET"
) -> tuple[Recorder, int | Exception]:
    """One request through the instrumented transport: what was recorded, and the status or the error."""
    recorder = Recorder()
    transport = InstrumentedTransport(httpx.MockTransport(handler), recorder.observe, recorder.limited, clock=clock)

    async def go() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="https://engage.example") as client:
            return (await client.request(method, path)).status_code

    try:
        return recorder, asyncio.run(go())
    except httpx.HTTPError as exc:
        return recorder, exc


def test_an_answer_is_observed_under_its_template_with_the_time_it_took() -> None:
    clock = Clock()

    def answer(request: httpx.Request) -> httpx.Response:
        clock.now += 0.25
        return httpx.Response(200, json={"id": GUID})

    recorder, status = call(answer, clock, f"/api/v3/contacts/{GUID}?customKey=2400000010014")
    assert status == 200
    assert recorder.observed == [("/api/v3/contacts/{id}", 0.25)] and recorder.rate_limited == 0


def test_a_429_is_counted_and_observed() -> None:
    recorder, status = call(lambda r: httpx.Response(429, headers={"Retry-After": "1"}), Clock(), "/api/v3/receipts")
    assert status == 429 and recorder.rate_limited == 1
    assert [endpoint for endpoint, _ in recorder.observed] == ["/api/v3/receipts"]


class Trickle(httpx.AsyncByteStream):
    """A body that takes a second a chunk to arrive."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in (b'{"a":', b" 1}"):
            self.clock.now += 1.0
            yield chunk


def test_the_time_runs_until_the_whole_body_has_arrived() -> None:
    clock = Clock()

    def answer(request: httpx.Request) -> httpx.Response:
        clock.now += 0.5  # headers after half a second, then the body trickles
        return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=Trickle(clock))

    recorder, _ = call(answer, clock, "/api/v3/point-accounts")
    assert recorder.observed == [("/api/v3/point-accounts", 2.5)]


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("full")]
)
def test_a_request_that_never_went_out_is_not_observed(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    recorder, outcome = call(fail, Clock(), "/api/v3/contacts/id")
    assert outcome is error
    assert recorder.observed == [] and recorder.rate_limited == 0


def test_a_request_that_went_out_and_got_no_answer_is_observed() -> None:
    clock = Clock()

    def fail(request: httpx.Request) -> httpx.Response:
        clock.now += 10.0
        raise httpx.ReadTimeout("no answer", request=request)

    recorder, outcome = call(fail, clock, f"/api/v3/reward-vouchers/{GUID}/redeem", method="POST")
    assert isinstance(outcome, httpx.ReadTimeout)
    assert recorder.observed == [("/api/v3/reward-vouchers/{id}/redeem", 10.0)]
