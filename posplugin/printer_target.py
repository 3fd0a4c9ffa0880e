"""Where a file printer may write: never onto the agent's own files, nor onto a file that is not a printer's.

Refused: anything inside the data or log folder (except the default capture ``printer.bin`` in the data folder),
the config file and its backup, and any existing file that is not printer output or a device.

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
    for name, folder in (("data", data), ("log", logs)):
        if target == folder or folder in target.parents:
            return f"is inside the agent's {name} folder {folder}"
    if config_file is not None:
        # The config folder may be shared (a test or demo folder); what must never be hit is the config itself,
        # its backup and the settings page's temporary files.
        config = _resolved(config_file)
        if target in (config, config.with_name(config.name + ".bak")) or (
            target.parent == config.parent and target.name.startswith(".config-")
        ):
            return f"is the agent's config file or its backup ({config})"
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
