"""The installer builders loaded by path, and the Linux bundles the installer tests share (built once a session)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posplugin import __version__

REPO = Path(__file__).resolve().parents[2]
PLATFORM = "linux-x86_64"


def builder() -> Any:
    """installer/build_bundle.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("build_bundle", REPO / "installer" / "build_bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def bumped(version: str, by: int = 1) -> str:
    parts = version.split(".")
    return ".".join([*parts[:-1], str(int(parts[-1]) + by)])


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Bundles:
    root: Path
    old: Path
    new: Path
    broken: Path


def build_linux_bundles(out: Path, work: Path) -> Bundles:
    """This version (dependencies downloaded once), the next one, and one after it that cannot start."""
    build = builder()
    target = build.TARGETS[PLATFORM]
    python = python_version()
    old_archive = build.build(target, REPO, __version__, python, out, None)
    old = out / f"posplugin-{__version__}-{PLATFORM}"
    assert old_archive.exists() and (old / "SHA256SUMS").exists()
    source, version = build.source_tree(bumped(__version__), work / "a")
    build.build(target, source, version, python, out, old)
    # A version that cannot start: an upgrade to it must notice and roll back.
    source, broken_version = build.source_tree(bumped(__version__, 2), work / "b")
    cli = source / "posplugin" / "cli.py"
    cli.write_text(
        cli.read_text().replace(
            "def cmd_run(args: argparse.Namespace) -> int:\n",
            "def cmd_run(args: argparse.Namespace) -> int:\n    raise SystemExit(7)\n",
        )
    )
    build.build(target, source, broken_version, python, out, old)
    return Bundles(out, old, out / f"posplugin-{version}-{PLATFORM}", out / f"posplugin-{broken_version}-{PLATFORM}")


@dataclass
class WindowsBundles:
    old: Path
    new: Path


def build_windows_bundle(out: Path) -> Path:
    """This version's Windows bundle folder (its archive beside it), the dependencies downloaded."""
    build = builder()
    build.build(build.TARGETS["windows-amd64"], REPO, __version__, python_version(), out, None)
    return out / f"posplugin-{__version__}-windows-amd64"


def build_next_windows_bundle(old: Path, work: Path) -> Path:
    """The next version's, with the dependencies of ``old``."""
    build = builder()
    source, version = build.source_tree(bumped(__version__), work)
    build.build(build.TARGETS["windows-amd64"], source, version, python_version(), old.parent, old)
    return old.parent / f"posplugin-{version}-windows-amd64"
