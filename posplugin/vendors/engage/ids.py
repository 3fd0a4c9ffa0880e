"""Engage's ids are GUIDs; the local API's contract calls them opaque strings, so the check lives here."""

from __future__ import annotations

import re

from ...errors import AgentError
from ...texts import message

GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_guid(value: str) -> bool:
    return GUID_RE.fullmatch(value) is not None


def checked_guid(value: str, name: str, language: str = "en") -> str:
    """``value`` lower-cased, or a 422 naming the field (contactId, voucherId)."""
    if not is_guid(value):
        raise AgentError(422, "invalid_request", f"{message('invalid_request', language)} ({name} is not a GUID)")
    return value.lower()
