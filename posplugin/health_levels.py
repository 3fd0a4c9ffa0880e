"""One judgement of the agent's health for every reader: ``GET /api/v1/health``, ``posplugin health`` (Nagios
exit codes) and dashboards. ``ok`` / ``warning`` / ``critical`` with the reasons, from the health body itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LEVELS = ("ok", "warning", "critical")
PRINTER_FINE = ("ready", "unknown", "not_configured", None)


@dataclass(frozen=True)
class Thresholds:
    warn_age: float = 900.0  # oldest waiting op, seconds
    crit_age: float = 3600.0


def assess(health: Mapping[str, Any], thresholds: Thresholds | None = None) -> tuple[int, list[str]]:
    """(level index into ``LEVELS``, reasons). Ops that need a person (parked, conflict) are critical; resolved
    ones no longer count."""
    limits = thresholds or Thresholds()
    queue = health.get("queue") or {}
    age = float(queue.get("oldestPendingAgeSeconds") or 0)
    problems: list[tuple[int, str]] = []
    if queue.get("parked") or queue.get("conflict"):
        problems.append(
            (2, f"{queue.get('parked', 0)} parked, {queue.get('conflict', 0)} conflict op(s) need a person")
        )
    if age >= limits.crit_age:
        problems.append((2, f"oldest waiting op is {age / 60:.0f} min old"))
    elif age >= limits.warn_age:
        problems.append((1, f"oldest waiting op is {age / 60:.0f} min old"))
    if health.get("loyalty", health.get("engage")) == "offline":
        problems.append((1, f"the loyalty system ({health.get('backend', 'engage')}) is offline"))
    printer = (health.get("printer") or {}).get("status")
    if printer not in PRINTER_FINE:
        problems.append((1, f"printer {printer}"))
    return max((level for level, _ in problems), default=0), [text for _, text in problems]
