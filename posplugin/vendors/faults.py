"""Fault injection for the simulator, switchable at run time.

A rule matches requests by method and a path regex and fires a limited number of times (or until cleared).
Kinds and what the client sees:

- ``latency``            wait ``delay`` seconds, then answer normally
- ``error``              answer ``status`` (default 503) with an HTML page; nothing is processed
- ``gateway_timeout``    wait ``delay``, answer 504; nothing is processed (a proxy or Engage giving up early)
- ``slow_save``          the redeem is saved after ``delay`` s; past the point of no return Engage answers 504
- ``slow_commit``        the redeem is saved at once, the answer comes after ``delay`` s
- ``reset_before``       the connection is reset before anything is processed
- ``reset_after_commit`` the request is processed and committed, then the connection is reset
- ``blackhole``          the request is read and never answered (held ``delay`` s, default 120)
- ``rate_limit``         429 with ``Retry-After: delay`` (default 1)
- ``garbage``            200 with ``body`` (default an HTML page) instead of JSON; nothing is processed
- ``trickle``            200 JSON whose body arrives one byte every ``delay`` s (default 0.5): each read is quick, the
                         answer takes minutes (a per-read timeout never fires)
- ``redirect``           ``status`` (302 unless set to a 3xx) to another site, as a captive portal or a proxy's block
                         page answers; nothing is processed
- ``rollback_timeout``   the request is valid but its work runs into the vendor's own time limit: after ``delay`` s
                         (the simulator's limit when 0) it answers 504 and rolls the work back; nothing is saved. An
                         invalid request is refused at once, as usual. Only where the vendor documents such a limit:
                         Engage's POST /contacts (~5 s); other calls ignore it
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

KINDS = (
    "latency",
    "error",
    "gateway_timeout",
    "slow_save",
    "slow_commit",
    "reset_before",
    "reset_after_commit",
    "blackhole",
    "rate_limit",
    "garbage",
    "redirect",
    "trickle",
    "rollback_timeout",
)


@dataclass
class FaultRule:
    kind: str
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    delay: float = 0.0
    status: int = 503
    body: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.path is not None:
            re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a fault rule is a JSON object")
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault rule fields: {', '.join(sorted(unknown))}")
        return cls(**data)


class FaultPlan:
    """Thread-safe list of rules plus a latency added to every API request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self.latency = 0.0

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency = 0.0

    def take(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"latency": self.latency, "rules": [asdict(r) for r in self._rules]}
