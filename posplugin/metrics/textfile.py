"""The registry written to a file every few seconds, for node_exporter's / windows_exporter's textfile collector.

Written to a temporary file in the same folder and renamed over the old one, so the collector reads either the
previous file or the new one, never half of one. Not ``prometheus_client.write_to_textfile``: that file would
get the service's umask (0077) and be unreadable to the exporter, which runs as another user; the metrics hold
no personal data, so the file is made readable to all. A write that fails (disk full, folder missing, not
allowed) is logged once per distinct error and tried again at the next interval; it never stops the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from ..config import MetricsConfig
from .log_once import OncePerError

log = logging.getLogger(__name__)
FILE_MODE = 0o644


def write_atomically(path: Path, data: bytes) -> None:
    # The exporters read only *.prom files, so the temporary one is never picked up half written.
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            if os.name == "posix":
                os.fchmod(handle.fileno(), FILE_MODE)  # past the umask
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class TextfileWriter:
    def __init__(
        self,
        registry: Collector,
        refresh: Callable[[], Awaitable[object]],
        settings: Callable[[], MetricsConfig],
    ) -> None:
        self._registry = registry
        self._refresh = refresh
        self._settings = settings  # read at every write: the path and interval as the config says now
        self._errors = OncePerError(log, "writing the metrics textfile")

    async def write(self, path: str) -> bool:
        try:
            await self._refresh()
            data = generate_latest(self._registry)
            await asyncio.get_running_loop().run_in_executor(None, write_atomically, Path(path), data)
        except Exception as exc:
            self._errors.failed(exc)
            return False
        self._errors.succeeded()
        return True

    async def run_forever(self) -> None:
        while True:
            settings = self._settings()
            if settings.textfile_path:
                await self.write(settings.textfile_path)
            await asyncio.sleep(settings.textfile_interval)
