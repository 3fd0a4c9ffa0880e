"""Log a lasting failure once, not every few seconds: once per distinct error until it works again."""

from __future__ import annotations

import logging

MAX_REMEMBERED = 32


class OncePerError:
    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._seen: set[str] = set()
        self._silenced = False

    def failed(self, exc: BaseException) -> None:
        key = f"{type(exc).__name__}: {exc}"
        if key in self._seen or self._silenced:
            return
        if len(self._seen) >= MAX_REMEMBERED:
            self._silenced = True
            self._log.warning("%s keeps failing in new ways; further errors are not logged until it works", self._what)
            return
        self._seen.add(key)
        self._log.warning("%s failed: %s", self._what, key)

    def succeeded(self) -> None:
        if self._seen or self._silenced:
            self._log.info("%s works again", self._what)
        self._seen.clear()
        self._silenced = False
