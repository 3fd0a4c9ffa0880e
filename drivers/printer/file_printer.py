"""Appends each receipt to a file: the demo's printer, and a way to capture output on a real till."""

from __future__ import annotations

import os
from pathlib import Path

from .protocol import OFFLINE, READY, PrinterError


class FilePrinter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"

    def write(self, data: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as handle:
                handle.write(data)
        except OSError as exc:
            raise PrinterError(OFFLINE, str(exc)) from None

    def status(self) -> str:
        folder = self.path.parent
        writable = os.access(folder if folder.exists() else folder.parent, os.W_OK)
        return READY if writable else OFFLINE

    def close(self) -> None:
        pass
