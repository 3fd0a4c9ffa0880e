"""Files only the agent's user can read: the database, the log, receipts captured to a file.

They hold member names, contactIds and queue contents. A service gets ``UMask=0077`` from its unit file, but a
desktop or demo run does not, so each file is created 0600 (and each folder 0700) here instead of relying on
the process umask.
"""

from __future__ import annotations

import logging.handlers
import os
from io import TextIOWrapper
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist (an existing file keeps its mode and content)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, including each one started by a rotation, is 0600."""

    def _open(self) -> TextIOWrapper:
        ensure_private_file(Path(self.baseFilename))
        return super()._open()
