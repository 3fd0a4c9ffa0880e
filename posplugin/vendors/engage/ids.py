"""Engage's ids are GUIDs; the local API's contract calls them opaque strings, so the check lives here."""

from __future__ import annotations

from ...errors import AgentError
from ...scan_codes import GUID_RE
from ...texts import message


def checked_guid(value: str, name: str, language: str = "en") -> str:
    """``value`` lower-cased, or a 422 naming the field (contactId, voucherId)."""
    if not GUID_RE.fullmatch(value):
        raise AgentError(422, "invalid_request", f"{message('invalid_request', language)} ({name} is not a GUID)")
    return value.lower()
