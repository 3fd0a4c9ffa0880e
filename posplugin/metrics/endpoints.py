"""The ``endpoint`` label: a request path as a template, with every id replaced by ``{id}``.

Only path segments that are plain words (lower-case letters and hyphens, or an API version such as ``v3``) are
kept; anything else — a GUID, a member number, an e-mail address, a percent-encoded oddity — becomes ``{id}``,
so no id or personal data reaches a label. Hex-only words are taken for ids too (a GUID may be all letters).
The number of distinct templates is capped: past it, new ones are counted under ``other``, so a vendor path we
never anticipated cannot make the label unbounded.
"""

from __future__ import annotations

import re

ID = "{id}"
OTHER = "other"
MAX_TEMPLATES = 64
MAX_SEGMENTS = 8
WORD = re.compile(r"[a-z][a-z-]{0,39}")
VERSION = re.compile(r"v[0-9]{1,2}")
HEX = re.compile(r"[0-9a-f-]+")


def path_template(path: str) -> str:
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) > MAX_SEGMENTS:
        return OTHER
    return "/" + "/".join(segment if _is_word(segment) else ID for segment in segments)


def _is_word(segment: str) -> bool:
    if VERSION.fullmatch(segment):
        return True
    return WORD.fullmatch(segment) is not None and HEX.fullmatch(segment) is None


class EndpointLabels:
    """Templates seen so far, at most ``limit`` of them; per agent, used on the event loop only."""

    def __init__(self, limit: int = MAX_TEMPLATES) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def label(self, path: str) -> str:
        template = path_template(path)
        if template in self._seen:
            return template
        if len(self._seen) >= self.limit:
            return OTHER
        self._seen.add(template)
        return template
