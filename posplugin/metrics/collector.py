"""The gauges that mirror the agent's state, computed at exposition time from what the agent knows now.

Nothing here does I/O: the loyalty status and the config are read as they are, the queue and the printer from
the last snapshot (refreshed just before each exposition, ``snapshot.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from drivers.printer import PRINTABLE

from .. import __version__
from ..config import Config
from ..loyalty.status import ONLINE
from .families import (
    BUILD_INFO,
    HELP,
    LOYALTY_UP,
    PRINTER_UP,
    QUEUE_OLDEST_PENDING_AGE,
    QUEUE_OPS,
    QUEUE_STATES,
)
from .snapshot import Snapshot


def loyalty_backend(config: Config) -> str:
    return config.loyalty.backend


def build_labels(config: Config) -> dict[str, str]:
    """Store and till only where set: an empty label is no label to Prometheus, and a fleet's dashboards join
    them onto every other series from here (docs/metrics.md)."""
    labels = {"version": __version__, "backend": loyalty_backend(config)}
    if config.agent.store_id:
        labels["store"] = config.agent.store_id
    if config.agent.till_id:
        labels["till"] = config.agent.till_id
    return labels


class StateCollector(Collector):
    def __init__(
        self, config: Callable[[], Config], loyalty_state: Callable[[], str], snapshot: Callable[[], Snapshot]
    ) -> None:
        self._config = config
        self._loyalty_state = loyalty_state
        self._snapshot = snapshot

    def describe(self) -> Iterable[Metric]:
        """The names, so the registry refuses a clash with another collector at registration."""
        yield InfoMetricFamily(BUILD_INFO, HELP[BUILD_INFO])
        for name in (LOYALTY_UP, QUEUE_OPS, QUEUE_OLDEST_PENDING_AGE, PRINTER_UP):
            yield GaugeMetricFamily(name, HELP[name])

    def collect(self) -> Iterable[Metric]:
        yield InfoMetricFamily(BUILD_INFO, HELP[BUILD_INFO], value=build_labels(self._config()))
        yield GaugeMetricFamily(LOYALTY_UP, HELP[LOYALTY_UP], value=1 if self._loyalty_state() == ONLINE else 0)
        snapshot = self._snapshot()
        if snapshot.queue is not None:
            queue = snapshot.queue
            ops = GaugeMetricFamily(QUEUE_OPS, HELP[QUEUE_OPS], labels=["state"])
            for state in QUEUE_STATES:
                ops.add_metric([state], getattr(queue, state))
            yield ops
            yield GaugeMetricFamily(
                QUEUE_OLDEST_PENDING_AGE, HELP[QUEUE_OLDEST_PENDING_AGE], value=queue.oldest_pending_age
            )
        if snapshot.printer is not None:
            yield GaugeMetricFamily(PRINTER_UP, HELP[PRINTER_UP], value=1 if snapshot.printer in PRINTABLE else 0)
