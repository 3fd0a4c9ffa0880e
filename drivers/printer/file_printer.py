"""Appends each receipt to a file: the demo's printer, and a way to capture output on a real till."""

from __future__ import annotations

import os
from pathlib import Path

from .protocol import OFFLINE, READY, PrinterError

ESC_INIT = b"\x1b@"  # every job the agent prints starts by resetting the printer


def looks_like_printer_output(path: Path) -> bool:
    """Empty, or starting with ESC @: a capture this printer (or another ESC/POS source) wrote."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(ESC_INIT))
    except FileNotFoundError:
        return True
    return head in (b"", ESC_INIT)


class FilePrinter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"
        self._checked = False

    def write(self, data: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Never append to a file that held something else before we first wrote to it (a config, a secrets
            # file, a database): once checked, the file is ours.
            if not self._checked:
                if self.path.is_file() and not looks_like_printer_output(self.path):
                    raise PrinterError(OFFLINE, f"{self.path} is not printer output; refusing to write to it")
                self._checked = True
            # Receipts carry member names: a new capture file is readable by this user only.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "ab") as handle:
                handle.write(data)
        except OSError as exc:
            raise PrinterError(OFFLINE, str(exc)) from None

    def status(self) -> str:
        folder = self.path.parent
        writable = os.access(folder if folder.exists() else folder.parent, os.W_OK)
        return READY if writable else OFFLINE

    def close(self) -> None:
        pass
