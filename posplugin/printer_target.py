"""Where a file printer may write: never onto the agent's own files, nor onto a file that is not a printer's.

A test print appends bytes to ``[printer] file_path``; pointed at ``secrets.json``, the database or the config it
would corrupt them. One rule, used by the loader's callers (``run``, ``config check``) and the settings page.
"""

from __future__ import annotations

import stat
from pathlib import Path

from drivers.printer.file_printer import looks_like_printer_output

from .config import Config, ConfigError
from .paths import AgentPaths

OWN_CAPTURE = "printer.bin"  # the demo's and the default capture file in the data folder


def printer_file_problem(path: Path, paths: AgentPaths, config_file: Path | None) -> str | None:
    """Why ``path`` must not be the file printer's target, or None."""
    target = _resolved(path)
    data, logs = _resolved(paths.data_dir), _resolved(paths.log_dir)
    if target == data / OWN_CAPTURE:
        return None
    folders = [("data", data), ("log", logs)]
    if config_file is not None:
        folders.append(("config", _resolved(config_file).parent))
    for name, folder in folders:
        if target == folder or folder in target.parents:
            return f"is inside the agent's {name} folder {folder}"
    try:
        info = target.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be checked ({exc.strerror})"
    if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        return None  # a printer device (/dev/usb/lp0) or a pipe to one
    if not stat.S_ISREG(info.st_mode):
        return "is not a file or a printer device"
    if not looks_like_printer_output(target):
        return "is an existing file that is not printer output"
    return None


def check_printer_target(config: Config, paths: AgentPaths, config_file: Path | None) -> None:
    if config.printer.backend != "file" or not config.printer.file_path:
        return
    problem = printer_file_problem(Path(config.printer.file_path), paths, config_file)
    if problem:
        raise ConfigError(f"{config.source}: [printer] file_path = {config.printer.file_path!r}: {problem}")


def _resolved(path: Path) -> Path:
    return Path(path).expanduser().resolve(strict=False)
