"""The config as a chain rolls it out: the main file, then the drop-ins in ``conf.d`` beside it, key by key.

Configuration management (an Ansible template, an Intune file copy) owns chain-wide settings in drop-ins, while
the store manager's settings page keeps writing only the main file. Drop-ins are applied in file-name order
(bytes of the UTF-8 name, so ``10-chain.toml`` before ``20-region.toml`` before ``Z.toml`` before ``a.toml``),
each key replacing only that key: a drop-in setting ``[offline] max_attempts`` leaves the rest of ``[offline]`` to
the files before it. Every file is validated on its own, so an error names the file that has it. Only names
ending in ``.toml`` and not starting with a dot are read: editors' backups (``10-chain.toml~``), swap and lock
files are left alone. Drop-ins are read at start; a changed drop-in takes effect when the agent restarts.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .config import SECTIONS, Config, ConfigError, config_from_mapping, replace_section

DROPIN_FOLDER = "conf.d"
DROPIN_SUFFIX = ".toml"
DEFAULT_ORIGIN = "default"


@dataclass(frozen=True)
class DropIn:
    """One drop-in file: its keys as written (already validated), so only those keys override."""

    path: Path
    values: dict[str, dict[str, Any]]

    def sets(self, section: str, key: str) -> bool:
        return key in self.values.get(section, {})


@dataclass(frozen=True)
class ConfigLayers:
    """The main file's own config and the drop-ins over it; ``effective`` is what the agent runs with."""

    main: Config
    main_path: Path | None = None
    # The keys the main file sets, even to a default value: kept when the page writes it, and told from "default".
    main_keys: frozenset[tuple[str, str]] = frozenset()
    dropins: tuple[DropIn, ...] = ()

    @classmethod
    def alone(cls, config: Config) -> ConfigLayers:
        """A config built in memory (tests, the demo): all of it is the main file's, nothing is managed."""
        return cls(config, main_keys=frozenset(_non_default_keys(config)))

    @cached_property
    def effective(self) -> Config:
        return overlay(self.main, self.dropins)

    def managed_by(self, section: str, key: str) -> Path | None:
        """The drop-in whose value of ``[section] key`` is in effect, or None if no drop-in sets it."""
        for dropin in reversed(self.dropins):
            if dropin.sets(section, key):
                return dropin.path
        return None

    def origin(self, section: str, key: str) -> str:
        """Where the effective value of ``[section] key`` comes from: a drop-in, the main file, or ``default``."""
        owner = self.managed_by(section, key)
        if owner is not None:
            return str(owner)
        if (section, key) in self.main_keys:
            return str(self.main_path) if self.main_path is not None else self.main.source
        return DEFAULT_ORIGIN

    def changed_to(self, new: Config) -> ConfigLayers:
        """The layers once the settings page has made the effective config ``new``: the keys it changed go into
        the main file and nothing else does, so a drop-in's value is never copied there. Changing a key a
        drop-in sets is refused (the drop-in would win again at the next start)."""
        main, keys, defaults = self.main, set(self.main_keys), Config()
        for section in SECTIONS:
            before = dataclasses.asdict(getattr(self.effective, section))
            changes = {k: v for k, v in dataclasses.asdict(getattr(new, section)).items() if v != before[k]}
            for key in changes:
                owner = self.managed_by(section, key)
                if owner is not None:
                    raise ConfigError(f"{owner}: [{section}] {key} is managed centrally in this file")
            if changes:
                main = replace_section(main, section, **changes)
            default = dataclasses.asdict(getattr(defaults, section))
            for key, value in changes.items():
                # A key the manager sets back to its default leaves the file, so a later default reaches it.
                if value == default[key]:
                    keys.discard((section, key))
                else:
                    keys.add((section, key))
        return dataclasses.replace(self, main=main, main_keys=frozenset(keys))


@dataclass(frozen=True)
class DropInListing:
    """What is in a drop-in folder: the files read, in order, and the ones left alone."""

    files: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)


def load_layers(main_path: Path | None) -> ConfigLayers:
    """Read and validate the main file and its drop-ins; ``None`` (no config file) gives the defaults."""
    if main_path is None:
        return ConfigLayers(Config())
    raw = read_toml(main_path)
    main = config_from_mapping(raw, source=str(main_path))
    main_keys = frozenset((section, key) for section, values in raw.items() for key in values)
    dropins = tuple(read_dropin(path) for path in list_dropins(dropin_folder(main_path)).files)
    return ConfigLayers(main, main_path, main_keys, dropins)


def dropin_folder(main_path: Path) -> Path:
    return main_path.parent / DROPIN_FOLDER


def list_dropins(folder: Path) -> DropInListing:
    """The drop-ins of ``folder`` in the order they apply; no folder is no drop-ins."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return DropInListing()
    except NotADirectoryError:
        raise ConfigError(f"{folder}: is not a folder (drop-in files go into a folder named {DROPIN_FOLDER})") from None
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot read the drop-in folder: {exc.strerror or exc}") from None
    ordered = sorted(entries, key=lambda path: path.name.encode("utf-8", "surrogateescape"))
    read = [path for path in ordered if is_dropin_name(path.name)]
    return DropInListing(read, [path for path in ordered if not is_dropin_name(path.name)])


def is_dropin_name(name: str) -> bool:
    # Case-blind, so `Chain.TOML` copied from Windows is not silently skipped.
    return name.lower().endswith(DROPIN_SUFFIX) and not name.startswith(".")


def read_dropin(path: Path) -> DropIn:
    raw = read_toml(path)
    config_from_mapping(raw, source=str(path))  # refuses unknown keys and bad values, naming this file
    return DropIn(path, {section: dict(values) for section, values in raw.items()})


def read_toml(path: Path) -> dict[str, Any]:
    try:
        # utf-8-sig: Windows tools (PowerShell 5's `-Encoding utf8`, Notepad of old) start UTF-8 with a BOM.
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def overlay(base: Config, dropins: Iterable[DropIn]) -> Config:
    """``base`` with each drop-in's keys replaced in turn: the last file that sets a key wins for that key."""
    config = base
    for dropin in dropins:
        for section, values in dropin.values.items():
            config = replace_section(config, section, **values)
    return config


def inside_dropin_folder(target: Path, main_path: Path) -> bool:
    """Whether ``target`` is in (or is) the drop-in folder of ``main_path``: the agent must never write there."""
    folder = dropin_folder(main_path).expanduser().resolve(strict=False)
    resolved = target.expanduser().resolve(strict=False)
    return resolved == folder or folder in resolved.parents


def _non_default_keys(config: Config) -> Iterable[tuple[str, str]]:
    defaults = Config()
    for section in SECTIONS:
        default = dataclasses.asdict(getattr(defaults, section))
        for key, value in dataclasses.asdict(getattr(config, section)).items():
            if value != default[key]:
                yield section, key
