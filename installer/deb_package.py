"""The .deb for Debian/Ubuntu tills, made with dpkg-deb from a built Linux bundle folder.

It holds what install.sh installs from, laid out for dpkg: the wheels (usr/lib/posplugin/wheels), the example
config, posplugin-control.sh, the systemd unit and the udev rule where packages put them. The maintainer scripts
are installer/deb/* with installer/linux/posplugin-lib.sh inlined, so the package and install.sh share one set of
install, upgrade and rollback steps. The virtualenvs are made by the postinst in /opt/posplugin/<version> with a
`current` link, as install.sh makes them: they are not the package's files, so dpkg's unpacking of a new version
never touches the one that runs.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
MAINTAINER_SCRIPTS = ("preinst", "postinst", "prerm", "postrm")
LIB_MARK = "#POSPLUGIN_LIB#"
# Placeholders of installer/linux/posplugin.service, as the package lays things out.
UNIT_VALUES = {
    "@PREFIX@": "/opt/posplugin",
    "@ETC@": "/etc/posplugin",
    "@DATA@": "/var/lib/posplugin",
    "@LOGS@": "/var/log/posplugin",
    "@USER@": "posplugin",
}
DEFAULT_MAINTAINER = "posplugin maintainers <maintainers@posplugin.invalid>"
_PEP440 = re.compile(
    r"(?P<base>\d+(?:\.\d+)*)(?:(?P<pre>a|b|rc)(?P<pre_n>\d+))?(?:\.post(?P<post>\d+))?(?:\.dev(?P<dev>\d+))?"
)


@dataclass(frozen=True)
class Bundle:
    """What the package is made from: a Linux bundle folder as build_bundle.py leaves it."""

    folder: Path
    version: str
    python: str

    @classmethod
    def read(cls, folder: Path) -> Bundle:
        lines = (folder / "VERSION").read_text().splitlines()
        if len(lines) < 2 or not lines[1].startswith("python "):
            raise SystemExit(f"{folder}/VERSION is not a bundle's VERSION file")
        return cls(folder, lines[0].strip(), lines[1].removeprefix("python ").strip())


def debian_version(version: str) -> str:
    """The Debian spelling of a PEP 440 release, ordered as PEP 440 orders them (``dpkg --compare-versions``).

    ``~`` sorts before anything, even the end: 1.0~rc1 < 1.0 < 1.0+post1; a dev release with no pre-release
    part gets ``~~`` so that it sorts before the pre-releases of the same version, as in PEP 440.
    """
    match = _PEP440.fullmatch(version)
    if match is None:
        raise SystemExit(f"{version!r} is not a PEP 440 release version this build knows how to name for dpkg")
    out = match["base"]
    if match["pre"]:
        out += f"~{match['pre']}{match['pre_n']}"
    if match["post"]:
        out += f"+post{match['post']}"
    if match["dev"]:
        out += f"~dev{match['dev']}" if match["pre"] or match["post"] else f"~~dev{match['dev']}"
    return out


def maintainer_script(name: str, bundle: Bundle) -> str:
    """installer/deb/<name> with the shared library and the package's settings inlined where it says so."""
    body = (HERE / "deb" / name).read_text()
    if body.count(LIB_MARK) != 1:
        raise SystemExit(f"installer/deb/{name} must hold {LIB_MARK} exactly once")
    settings = (HERE / "deb" / "settings.sh").read_text()
    inlined = "\n".join(
        [
            f"# ---- inlined from installer/linux/posplugin-lib.sh and installer/deb/settings.sh {'-' * 30}",
            (HERE / "linux" / "posplugin-lib.sh").read_text().rstrip(),
            f"PKG_VERSION={bundle.version}",
            f"PKG_PYTHON={bundle.python}",
            settings.rstrip(),
            f"# ---- end of the inlined part {'-' * 83}",
        ]
    )
    return body.replace(LIB_MARK, inlined)


def control(bundle: Bundle, installed_kib: int, maintainer: str) -> str:
    python = f"python{bundle.python}"
    return f"""\
Package: posplugin
Version: {debian_version(bundle.version)}
Architecture: amd64
Maintainer: {maintainer}
Installed-Size: {installed_kib}
Depends: {python}, {python}-venv, passwd
Section: net
Priority: optional
Description: till-side loyalty agent for Voyado Engage and fabric Loyalty
 posplugin runs beside a till's POS software: it identifies loyalty members
 from a scanned card or app code, shows points and vouchers, redeems them
 safely even when the network is down (an SQLite outbox), sells point-shop
 items and prints receipts on ESC/POS printers. It listens on 127.0.0.1 only.
 .
 The package installs offline: its postinst makes a virtualenv in
 /opt/posplugin/<version> from the wheels the package holds, with no index.
 Upgrades wait for operations on the wire, back up and migrate the database
 and roll back to the previous version if the new one does not start.
"""


def copyright_file() -> str:
    license_text = (ROOT / "LICENSE").read_text().rstrip().splitlines()
    indented = "\n".join(f" {line}" if line.strip() else " ." for line in license_text)
    return f"""\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: posplugin
Comment: The wheels in /usr/lib/posplugin/wheels other than posplugin's own are
 third-party packages under their own licenses, each named in the wheel's
 metadata (*.dist-info/METADATA and its license files).

Files: *
Copyright: 2026 the posplugin maintainers
License: LicenseRef-Proprietary
{indented}
"""


def changelog(bundle: Bundle, maintainer: str, when: float) -> bytes:
    text = (
        f"posplugin ({debian_version(bundle.version)}) stable; urgency=medium\n\n"
        f"  * posplugin {bundle.version}, from the offline bundle for Python {bundle.python}.\n"
        "    The changes are in the project's CHANGELOG.md and release notes.\n\n"
        f" -- {maintainer}  {formatdate(when, usegmt=False)}\n"
    )
    # As dh_compress: the highest compression, and no name or time in the gzip header (reproducible).
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def _put(stage: Path, relative: str, data: bytes, mode: int = 0o644) -> None:
    path = stage / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def lay_out(bundle: Bundle, stage: Path, maintainer: str, when: float) -> None:
    """The package's files and DEBIAN/ in ``stage``."""
    for wheel in sorted((bundle.folder / "wheels").glob("*.whl")):
        _put(stage, f"usr/lib/posplugin/wheels/{wheel.name}", wheel.read_bytes())
    control_script = (bundle.folder / "posplugin-control.sh").read_bytes()
    _put(stage, "usr/libexec/posplugin/posplugin-control.sh", control_script, 0o755)
    _put(stage, "usr/share/posplugin/config.example.toml", (bundle.folder / "config.example.toml").read_bytes())
    unit = (bundle.folder / "posplugin.service").read_text()
    for key, value in UNIT_VALUES.items():
        unit = unit.replace(key, value)
    _put(stage, "lib/systemd/system/posplugin.service", unit.encode())
    rule = (bundle.folder / "60-posplugin-printers.rules").read_bytes()
    _put(stage, "lib/udev/rules.d/60-posplugin-printers.rules", rule)
    _put(stage, "usr/share/doc/posplugin/copyright", copyright_file().encode())
    _put(stage, "usr/share/doc/posplugin/changelog.gz", changelog(bundle, maintainer, when))
    overrides = HERE / "deb" / "lintian-overrides"
    if overrides.exists():
        _put(stage, "usr/share/lintian/overrides/posplugin", overrides.read_bytes())

    files = sorted(p for p in stage.rglob("*") if p.is_file())
    sums = "".join(f"{hashlib.md5(p.read_bytes()).hexdigest()}  {p.relative_to(stage)}\n" for p in files)  # noqa: S324 - dpkg's format
    installed_kib = sum((p.stat().st_size + 1023) // 1024 for p in files) + len({p.parent for p in files})
    for name in MAINTAINER_SCRIPTS:
        _put(stage, f"DEBIAN/{name}", maintainer_script(name, bundle).encode(), 0o755)
    _put(stage, "DEBIAN/control", control(bundle, installed_kib, maintainer).encode())
    _put(stage, "DEBIAN/md5sums", sums.encode())
    for path in stage.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
        os.utime(path, (when, when), follow_symlinks=False)


def build_deb(folder: Path, out: Path, maintainer: str = DEFAULT_MAINTAINER) -> Path:
    """posplugin_<version>_amd64.deb in ``out`` from the Linux bundle ``folder``."""
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise SystemExit("dpkg-deb is needed to build the .deb (Debian/Ubuntu: apt-get install dpkg)")
    if not re.fullmatch(r"[^<>\n]+ <[^<>@\s]+@[^<>@\s]+>", maintainer):
        raise SystemExit(f"the Maintainer must read 'Name <address>' (got {maintainer!r})")
    bundle = Bundle.read(folder)
    when = float(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    target = out / f"posplugin_{debian_version(bundle.version)}_amd64.deb"
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "posplugin"
        lay_out(bundle, stage, maintainer, when)
        # Wheels are zip files already: gzip's default level costs a few seconds and xz would gain little.
        cmd = [dpkg_deb, "--root-owner-group", "-Zgzip", "--build", str(stage), str(target)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - dpkg-deb with our arguments
    return target
