"""What ``posplugin config check`` and ``config show --origin`` print about the main file and its drop-ins.

The origin listing is valid TOML (each value followed by a comment naming its file), so an IT admin can read it,
grep it, or save it as the till's effective config. Config holds no secrets (they live in the secret store and
unknown keys are refused), so every value is shown.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .config import SECTIONS
from .config_file import toml_value
from .config_layers import DROPIN_SUFFIX, ConfigLayers, dropin_folder, list_dropins


def check_lines(layers: ConfigLayers) -> list[str]:
    """One line per file read (and per file in conf.d left alone, so a misnamed drop-in does not go unnoticed)."""
    lines = [f"{layers.effective.source}: ok"]
    for dropin in layers.dropins:
        count = sum(len(values) for values in dropin.values.values())
        lines.append(f"{dropin.path}: ok (drop-in, {count} key{'' if count == 1 else 's'})")
    if layers.main_path is not None:
        for path in list_dropins(dropin_folder(layers.main_path)).ignored:
            why = "hidden file" if path.name.startswith(".") else f"only *{DROPIN_SUFFIX} files are read"
            lines.append(f"{path}: ignored ({why})")
    return lines


def origin_lines(layers: ConfigLayers) -> str:
    config = layers.effective
    read = [layers.effective.source, *(str(dropin.path) for dropin in layers.dropins)]
    out = [
        f"# effective configuration: {', then '.join(read)}",
        "# after each value: the file it comes from, or default",
    ]
    for section in SECTIONS:
        out.append(f"\n[{section}]")
        for key, value in dataclasses.asdict(getattr(config, section)).items():
            out.append(f"{key} = {toml_value(value)}  # {layers.origin(section, key)}")
    return "\n".join(out)


def origin_json(layers: ConfigLayers) -> dict[str, dict[str, dict[str, Any]]]:
    config = layers.effective
    return {
        section: {
            key: {"value": value, "from": layers.origin(section, key)}
            for key, value in dataclasses.asdict(getattr(config, section)).items()
        }
        for section in SECTIONS
    }
