"""Build the offline installer bundles: one archive per platform with every wheel needed, no network at install.

    python installer/build_bundle.py                       # both platforms into dist/
    python installer/build_bundle.py --deb --msi           # and the .deb (dpkg-deb) and the .msi (wixl)
    python installer/build_bundle.py --platform linux-x86_64 --version 0.1.1 \
        --deps-from dist/posplugin-0.1.0-linux-x86_64

Each bundle holds the posplugin wheel, the dependency wheels for that platform and Python version (``pip download
--only-binary=:all: --platform ...``), the installer scripts, config.example.toml, the udev rule (Linux) and
SHA256SUMS over all of it. ``--version`` builds from a copy of the source with another version number (upgrade
tests, hot fixes); ``--deps-from`` reuses the dependency wheels of an earlier bundle instead of downloading them.
``--deb`` and ``--msi`` also make the OS packages from the bundle folders (installer/deb_package.py,
installer/msi_package.py; docs/packages.md).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SOURCE_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "demo-data",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
)


@dataclass(frozen=True)
class Target:
    name: str
    pip_platforms: tuple[str, ...]
    # pip evaluates environment markers for the machine it runs on, not the target: dependencies that only
    # the target's platform pulls in are named here.
    extra_requirements: tuple[str, ...]
    scripts: tuple[str, ...]
    archive: str


TARGETS = {
    "linux-x86_64": Target(
        "linux-x86_64",
        ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "linux_x86_64"),
        ("jeepney", "SecretStorage"),
        (
            "linux/install.sh",
            "linux/uninstall.sh",
            "linux/posplugin-lib.sh",
            "linux/posplugin.service",
            "linux/posplugin-control.sh",
        ),
        "tar.gz",
    ),
    "windows-amd64": Target(
        "windows-amd64",
        ("win_amd64",),
        ("pywin32", "pywin32-ctypes", "colorama"),
        ("windows/install.ps1", "windows/uninstall.ps1", "windows/common.ps1"),
        "zip",
    ),
}


def run(cmd: list[str], cwd: Path | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)  # noqa: S603 - our own pip commands, no shell


def source_tree(version: str | None, work: Path) -> tuple[Path, str]:
    """The source to build, and its version. With ``version``, a copy with that version written in."""
    current = re.search(r'^__version__ = "([^"]+)"', (ROOT / "posplugin" / "__init__.py").read_text(), re.M)
    if current is None:
        raise SystemExit("posplugin/__init__.py has no __version__")
    if version is None or version == current.group(1):
        return ROOT, current.group(1)
    if not re.fullmatch(r"\d+(\.\d+){1,3}([ab]\d+|rc\d+|\.post\d+|\.dev\d+)?", version):
        raise SystemExit(f"--version {version!r} is not a PEP 440 release version")
    copy = work / "src"
    shutil.copytree(ROOT, copy, ignore=SOURCE_IGNORE)
    path = copy / "posplugin" / "__init__.py"  # the one version source (pyproject reads it)
    path.write_text(
        re.sub(r'^__version__ = "[^"]+"', f'__version__ = "{version}"', path.read_text(), count=1, flags=re.M)
    )
    return copy, version


def build_wheel(source: Path, out: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)]
    if _has_build_backend():
        cmd.append("--no-build-isolation")  # the dev virtualenv has it: skip making an isolated one (~3 s)
    run(cmd)
    (wheel,) = out.glob("posplugin-*.whl")
    return wheel


def _has_build_backend() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


def download_deps(target: Target, wheel: Path, python: str, out: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(out)]
    for platform in target.pip_platforms:
        cmd += ["--platform", platform]
    cmd += ["--python-version", python, "--implementation", "cp", str(wheel), *target.extra_requirements]
    run(cmd)


def checksums(folder: Path) -> None:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(folder).as_posix()}\n")
    (folder / "SHA256SUMS").write_text("".join(lines))


def archive(folder: Path, kind: str) -> Path:
    if kind == "zip":
        target = folder.parent / f"{folder.name}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                zf.write(path, path.relative_to(folder.parent).as_posix())
        return target
    target = folder.parent / f"{folder.name}.tar.gz"
    with tarfile.open(target, "w:gz") as tf:
        tf.add(folder, arcname=folder.name)
    return target


def build(target: Target, source: Path, version: str, python: str, out: Path, deps_from: Path | None) -> Path:
    folder = out / f"posplugin-{version}-{target.name}"
    if folder.exists():
        shutil.rmtree(folder)
    wheels = folder / "wheels"
    wheels.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(source, Path(tmp))
        shutil.copy2(wheel, wheels)
    if deps_from is not None:
        for dep in (deps_from / "wheels").glob("*.whl"):
            if not dep.name.startswith("posplugin-"):
                shutil.copy2(dep, wheels)
    else:
        download_deps(target, wheels / wheel.name, python, wheels)
    for script in target.scripts:
        destination = folder / Path(script).name
        shutil.copy2(ROOT / "installer" / script, destination)
    shutil.copy2(ROOT / "config.example.toml", folder / "config.example.toml")
    if target.name.startswith("linux"):
        shutil.copy2(ROOT / "drivers" / "assets" / "60-posplugin-printers.rules", folder)
    (folder / "VERSION").write_text(f"{version}\npython {python}\n")
    checksums(folder)
    return archive(folder, target.archive)


def sibling(name: str) -> ModuleType:
    """installer/<name>.py, loaded by path: this file runs as a script and is loaded by path in the tests too."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / f"{name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"installer/{name}.py is missing")
    module = sys.modules.get(name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return module


PACKAGES = {"deb": ("linux-x86_64", "deb_package", "build_deb"), "msi": ("windows-amd64", "msi_package", "build_msi")}


def build_package(kind: str, folder: Path, out: Path, maintainer: str | None = None) -> Path:
    """The OS package ``kind`` (deb, msi) from a bundle folder of its platform."""
    _, module, function = PACKAGES[kind]
    options = {"maintainer": maintainer} if kind == "deb" and maintainer else {}
    made: Path = getattr(sibling(module), function)(folder, out, **options)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--platform", action="append", choices=sorted(TARGETS), help="default: all")
    parser.add_argument("--python", default="3.11", help="CPython version on the tills (default 3.11)")
    parser.add_argument("--version", help="build this version from a copy of the source")
    parser.add_argument("--out", default=str(ROOT / "dist"))
    parser.add_argument("--deps-from", help="reuse the dependency wheels of this bundle folder (no download)")
    parser.add_argument("--deb", action="store_true", help="also the .deb from the Linux bundle (needs dpkg-deb)")
    parser.add_argument("--msi", action="store_true", help="also the .msi from the Windows bundle (needs wixl)")
    parser.add_argument("--deb-maintainer", help='the .deb\'s Maintainer field, "Name <address>"')
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    platforms = args.platform or sorted(TARGETS)
    kinds = [kind for kind in PACKAGES if getattr(args, kind)]
    for kind in kinds:
        if PACKAGES[kind][0] not in platforms:
            parser.error(f"--{kind} is made from the {PACKAGES[kind][0]} bundle: add --platform {PACKAGES[kind][0]}")
    with tempfile.TemporaryDirectory() as tmp:
        source, version = source_tree(args.version, Path(tmp))
        for name in platforms:
            deps = Path(args.deps_from) if args.deps_from else None
            made = build(TARGETS[name], source, version, args.python, out, deps)
            print(f"{made}  ({made.stat().st_size / 1e6:.1f} MB)")
            for kind in kinds:
                if PACKAGES[kind][0] == name:
                    made = build_package(kind, out / f"posplugin-{version}-{name}", out, args.deb_maintainer)
                    print(f"{made}  ({made.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
