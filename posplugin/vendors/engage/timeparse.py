"""Engage timestamps: ISO 8601 with offset and up to 7 fractional digits (Python 3.11 takes 6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_engage_datetime(value: object) -> datetime | None:
    """Parse an Engage timestamp; ``None`` for missing or unparseable values (never raises)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A naive timestamp is taken as UTC so comparisons never mix naive and aware values.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
