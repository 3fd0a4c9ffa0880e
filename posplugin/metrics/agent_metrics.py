"""One agent's metrics: its own registry (never the library's global one), the counters and histograms its
hooks feed, and the state collector read at exposition time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import Counter, Histogram
from prometheus_client.registry import CollectorRegistry

from ..config import Config
from ..outbox.model import Op
from .collector import StateCollector
from .endpoints import EndpointLabels
from .exposition import WithoutCreated, render
from .families import (
    HELP,
    IDENTIFY_BUCKETS,
    IDENTIFY_DURATION,
    IDENTIFY_SOURCES,
    LOYALTY_REQUEST_DURATION,
    OP_OUTCOMES,
    OPS,
    PRINT_OUTCOMES,
    PRINTS,
    RATE_LIMITED,
    REQUEST_BUCKETS,
)
from .snapshot import Snapshots
from .textfile import TextfileWriter
from .transport import InstrumentedTransport

NOT_PRINTS = frozenset({"drawer"})  # a drawer kick goes through the printer but is no receipt


@dataclass(frozen=True)
class MetricsSources:
    """What the metrics read of the agent, as callables: they are asked at exposition time, so a settings
    change (store, till) shows at the next scrape."""

    config: Callable[[], Config]
    loyalty_state: Callable[[], str]
    queue_counts: Callable[[], Awaitable[Mapping[str, int]]]
    printer_status: Callable[[], Awaitable[str]]


class AgentMetrics:
    def __init__(self, sources: MetricsSources, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.exposed = WithoutCreated(registry)  # what a scrape and the textfile show
        self._ops = Counter(OPS, HELP[OPS], ["kind", "outcome"], registry=registry)
        self._prints = Counter(PRINTS, HELP[PRINTS], ["outcome"], registry=registry)
        self._rate_limited = Counter(RATE_LIMITED, HELP[RATE_LIMITED], registry=registry)
        self._requests = Histogram(
            LOYALTY_REQUEST_DURATION,
            HELP[LOYALTY_REQUEST_DURATION],
            ["endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self._identify = Histogram(
            IDENTIFY_DURATION, HELP[IDENTIFY_DURATION], ["source"], buckets=IDENTIFY_BUCKETS, registry=registry
        )
        # Every known label value from the start: a rate over a series that appears with its first event
        # misses that event.
        for outcome in PRINT_OUTCOMES:
            self._prints.labels(outcome)
        for source in IDENTIFY_SOURCES:
            self._identify.labels(source)
        self.snapshots = Snapshots(sources.queue_counts, sources.printer_status, monotonic)
        registry.register(StateCollector(sources.config, sources.loyalty_state, lambda: self.snapshots.latest))
        self.textfile = TextfileWriter(self.exposed, self.snapshots.refresh, lambda: sources.config().metrics)
        self._endpoints = EndpointLabels()

    # ---- hooks -----------------------------------------------------------------------------------------

    def expect_kinds(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            for outcome in OP_OUTCOMES:
                self._ops.labels(kind, outcome)

    def op_final(self, op: Op) -> None:
        """The outbox worker's ``on_final``: an op reached confirmed, rejected, conflict or parked."""
        outcome = op.state.lower()
        if outcome in OP_OUTCOMES:
            self._ops.labels(op.kind, outcome).inc()

    def print_ended(self, kind: str, outcome: str) -> None:
        """A receipt printed, expired or was refused (called on the printer's thread; counters are locked)."""
        if kind not in NOT_PRINTS and outcome in PRINT_OUTCOMES:
            self._prints.labels(outcome).inc()

    async def timed_identify(self, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Await an identification and observe how long it took, by where its answer came from. Failures
        (no such member, offline with nothing cached) are not observed: they have no source."""
        started = time.perf_counter()
        view = await work
        source = view.get("source")
        if source in IDENTIFY_SOURCES:
            self._identify.labels(source).observe(time.perf_counter() - started)
        return view

    def transport(self, inner: httpx.AsyncBaseTransport) -> InstrumentedTransport:
        """``inner`` with every loyalty request timed and every 429 counted."""
        return InstrumentedTransport(inner, self._observe_request, self._rate_limited.inc, endpoints=self._endpoints)

    def _observe_request(self, endpoint: str, seconds: float) -> None:
        self._requests.labels(endpoint).observe(seconds)

    # ---- exposition ------------------------------------------------------------------------------------

    async def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        await self.snapshots.refresh()
        return render(self.exposed, accept)
