"""An httpx transport that times every request to the loyalty system and counts its 429s.

It wraps whatever transport the client would use, so the vendor's client stays unaware of metrics. The time
runs from handing the request over until the whole answer has been read (the response stream is closed): a body
that trickles in counts in full. A request that failed after it went out (read timeout, reset) is observed with
the time it took; one that never went out (connection refused, our pool full) is not, since it says nothing
about the vendor's speed — ``posplugin_loyalty_up`` shows those.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx

from .endpoints import EndpointLabels

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
Observe = Callable[[str, float], None]


class InstrumentedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        observe: Observe,
        rate_limited: Callable[[], None],
        *,
        endpoints: EndpointLabels | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._inner = inner
        self._observe = observe
        self._rate_limited = rate_limited
        self._endpoints = endpoints or EndpointLabels()
        self._clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = self._endpoints.label(request.url.path)
        started = self._clock()
        try:
            response = await self._inner.handle_async_request(request)
        except NOT_SENT:
            raise
        except httpx.TransportError:
            self._observe(endpoint, self._clock() - started)
            raise
        if response.status_code == 429:
            self._rate_limited()
        if response.is_closed:  # a body given whole (a test transport): already read
            self._observe(endpoint, self._clock() - started)
        else:
            response.stream = _TimedStream(response.stream, lambda: self._observe(endpoint, self._clock() - started))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _TimedStream(httpx.AsyncByteStream):
    """The answer's body as it arrives; reports once, when it is closed (read to the end, failed or dropped)."""

    def __init__(self, inner: httpx.AsyncByteStream | httpx.SyncByteStream, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if not isinstance(self._inner, httpx.AsyncByteStream):
            raise TypeError("an async transport answered with a sync stream")  # pragma: no cover - httpx invariant
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            if isinstance(self._inner, httpx.AsyncByteStream):
                await self._inner.aclose()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()
