"""Writing the config file back: TOML out, atomically, with the previous file kept as ``.bak``.

Only keys that differ from the defaults are written (``config.example.toml`` lists them all), so the file stays
short and a default changed in a later version reaches tills that never touched that key. The file is written to
a temporary file in the same folder, flushed to disk and renamed over the old one: a power cut leaves either the
old or the new config, never half of one. The text is read back through the loader before it replaces anything.
Only this main file is ever written: the drop-ins in ``conf.d`` beside it belong to configuration management
(``config_layers``), and the settings page never copies their values here.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import tomllib
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import SECTIONS, Config, ConfigError, config_from_mapping

HEADER = (
    "# posplugin configuration, last written by the settings page on {when}.\n"
    "# Only keys that differ from the defaults are listed; config.example.toml shows every key.\n"
    "# The previous version of this file is kept beside it as {backup}.\n"
    "# Keys set by the drop-ins in conf.d/*.toml beside this file override it; they are changed there.\n"
)


def dump_config(
    config: Config,
    *,
    written_at: datetime | None = None,
    backup_name: str = "config.toml.bak",
    keep: Collection[tuple[str, str]] = (),
) -> str:
    """The config as TOML: the keys that differ from the defaults, and the ``keep`` keys (``(section, key)``) the
    file already set, even to a default value: what IT wrote stays written."""
    when = (written_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [HEADER.format(when=when, backup=backup_name)]
    defaults = Config()
    for section in SECTIONS:
        current = dataclasses.asdict(getattr(config, section))
        default = dataclasses.asdict(getattr(defaults, section))
        changed = {key: value for key, value in current.items() if value != default[key] or (section, key) in keep}
        if not changed:
            continue
        lines.append(f"\n[{section}]\n")
        lines.extend(f"{key} = {toml_value(value)}\n" for key, value in changed.items())
    return "".join(lines)


def toml_value(value: Any) -> str:
    """One config value as TOML (also what `posplugin config show --origin` prints)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):  # a table inside a section (the enrolment's consents), as an inline table
        return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")  # pragma: no cover - config has no such keys


def _toml_string(value: str) -> str:
    """A TOML basic string. Not json.dumps: TOML also forbids a raw DEL (0x7f), which JSON leaves alone."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def write_config(path: Path, config: Config, keep: Collection[tuple[str, str]] = ()) -> Path | None:
    """Write ``config`` to ``path`` atomically; returns the backup made of the previous file (if there was one)."""
    backup = path.with_name(path.name + ".bak")
    text = dump_config(config, backup_name=backup.name, keep=keep)
    reread = config_from_mapping(tomllib.loads(text), source=str(path))
    if dataclasses.replace(reread, source=config.source) != config:
        raise ConfigError(f"{path}: the written config would not read back the same; nothing was changed")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    made_backup: Path | None = None
    if path.exists():
        shutil.copy2(path, backup)
        made_backup = backup
    fd, tmp_name = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return made_backup


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
