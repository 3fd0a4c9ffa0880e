"""Prometheus metrics of one agent: ``GET /metrics`` and the textfile for node_exporter / windows_exporter.

The family names are a contract (``families.py``, docs/metrics.md). Each agent has its own registry; the gauges
are computed from the agent's state at exposition time, the counters and histograms fed by small hooks.
"""

from __future__ import annotations

from .agent_metrics import AgentMetrics, MetricsSources
from .families import exported_names

__all__ = ["AgentMetrics", "MetricsSources", "exported_names"]
