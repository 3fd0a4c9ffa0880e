"""The one way the agent writes a moment: ISO 8601 in UTC with milliseconds and a ``Z`` (answers, events, logs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso(value: datetime | float) -> str: ...
@overload
def iso(value: None) -> None: ...
def iso(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else value.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
