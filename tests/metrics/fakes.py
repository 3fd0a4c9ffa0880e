"""Fake agent state for unit tests of the metrics, and the exposition parsed by prometheus_client's parsers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from posplugin.config import Config
from posplugin.metrics import AgentMetrics, MetricsSources


@dataclass
class FakeAgent:
    config: Config = field(default_factory=Config)
    loyalty: str = "online"
    counts: Mapping[str, int] = field(
        default_factory=lambda: {"pending": 0, "parked": 0, "conflict": 0, "sending": 0, "oldestPendingAgeSeconds": 0}
    )
    queue_error: Exception | None = None
    printer: str = "ready"
    printer_delay: float = 0.0
    printer_asked: int = 0
    now: float = 1000.0

    async def queue_counts(self) -> Mapping[str, int]:
        if self.queue_error is not None:
            raise self.queue_error
        return self.counts

    async def printer_status(self) -> str:
        self.printer_asked += 1
        await asyncio.sleep(self.printer_delay)
        return self.printer

    def metrics(self) -> AgentMetrics:
        sources = MetricsSources(lambda: self.config, lambda: self.loyalty, self.queue_counts, self.printer_status)
        return AgentMetrics(sources, monotonic=lambda: self.now)

    def with_ids(self, store: str, till: str) -> None:
        agent = dataclasses.replace(self.config.agent, store_id=store, till_id=till)
        self.config = dataclasses.replace(self.config, agent=agent)


def scrape(metrics: AgentMetrics, accept: str | None = None) -> tuple[str, str]:
    body, content_type = asyncio.run(metrics.exposition(accept))
    return body.decode(), content_type


def families(text: str) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def openmetrics(text: str) -> dict[str, Metric]:
    return {family.name: family for family in openmetrics_families(text)}


def value(family: Metric, sample: str | None = None, **labels: str) -> float:
    """The value of the one sample with this name and these labels."""
    name = sample or family.name
    found = [s.value for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, family.samples)
    return float(found[0])
