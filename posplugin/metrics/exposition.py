"""The registry as text: Prometheus text format, or OpenMetrics when the scraper's Accept header asks for it."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


class WithoutCreated(Collector):
    """The registry without the ``_created`` samples of counters and histograms. In the text format each would
    be one more gauge series per label set — across a fleet of thousands of tills, a second copy of every
    counter that no dashboard or alert here reads (counters start at 0 with the agent; ``rate()`` handles
    restarts)."""

    def __init__(self, registry: Collector) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        for metric in self._registry.collect():  # fresh objects on every collect: ours to trim
            created = metric.name + "_created"
            metric.samples = [sample for sample in metric.samples if sample.name != created]
            yield metric


def render(registry: Collector, accept: str | None) -> tuple[bytes, str]:
    """The exposition and its Content-Type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
