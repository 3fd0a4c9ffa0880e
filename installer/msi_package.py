"""The MSI for Windows tills, made on Linux with wixl and msibuild (msitools) from a built Windows bundle folder.

installer/msi/posplugin.wxs is the product; this module adds the list of the bundle's files (all of them, so
install.ps1's SHA256SUMS check passes where the MSI puts them), the version numbers and codes, and afterwards the
public properties that may reach the elevated part of the install (wixl writes SecureCustomProperties itself, with
only its own upgrade properties in it).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
# The same for every version, for ever: Windows Installer finds the installed posplugin by it and replaces it.
UPGRADE_CODE = uuid.UUID("32579eaa-5db7-46a9-8300-38bb6fb22127")
MANUFACTURER = "posplugin maintainers"
# Public properties IT passes on the msiexec command line; listed as secure so they reach the elevated server side.
PUBLIC_PROPERTIES = ("CONFIGFILE", "APIKEYFILE", "PORT", "PURGE")
# Custom action type bits (MSI SDK, "Custom Action Types").
EXE_FROM_PROPERTY = 50
CONTINUE_ON_ERROR = 0x40
ROLLBACK = 0x100
IN_SCRIPT = 0x400
NO_IMPERSONATE = 0x800
# wixl 0.101 knows Execute="deferred" but not "rollback": the rollback action's type is set after the build.
ROLLBACK_ACTION_TYPE = EXE_FROM_PROPERTY | CONTINUE_ON_ERROR | ROLLBACK | IN_SCRIPT | NO_IMPERSONATE
_RELEASE = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@dataclass(frozen=True)
class Bundle:
    """What the MSI is made from: a Windows bundle folder as build_bundle.py leaves it."""

    folder: Path
    version: str
    python: str

    @classmethod
    def read(cls, folder: Path) -> Bundle:
        lines = (folder / "VERSION").read_text().splitlines()
        if len(lines) < 2 or not lines[1].startswith("python "):
            raise SystemExit(f"{folder}/VERSION is not a bundle's VERSION file")
        return cls(folder, lines[0].strip(), lines[1].removeprefix("python ").strip())


def msi_version(version: str) -> str:
    """ProductVersion: three numbers (major and minor up to 255, build up to 65535), all Windows Installer compares.

    A pre-, post- or dev release cannot be told apart from its release in three numbers: two such MSIs would not
    replace each other but sit side by side, so they are refused.
    """
    match = _RELEASE.fullmatch(version)
    if match is None:
        raise SystemExit(
            f"an MSI needs a release version X.Y.Z (got {version!r}): Windows Installer compares three numbers only"
        )
    major, minor, build = (int(part or 0) for part in match.groups())
    if major > 255 or minor > 255 or build > 65535:
        raise SystemExit(f"{version!r}: an MSI version is at most 255.255.65535")
    return f"{major}.{minor}.{build}"


def product_code(version: str) -> uuid.UUID:
    """New for each version, the same for rebuilds of one version (a rebuilt MSI is the same product)."""
    return uuid.uuid5(UPGRADE_CODE, f"posplugin {version}")


def example_port(folder: Path) -> int:
    match = re.search(r"^port = (\d+)", (folder / "config.example.toml").read_text(), re.M)
    if match is None:
        raise SystemExit(f"{folder}/config.example.toml has no port line")
    return int(match.group(1))


def msi_name(name: str, taken: set[str]) -> str:
    """``SHORT|long`` as the Filename column wants it (``name`` alone when it is a valid 8.3 name already).

    Windows Installer reads a lone name as a short name; wixl writes names as given, so the short one is made
    here as WiX makes it: a stem of up to six characters, ``~`` and a number unique in the folder.
    """
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    valid = re.fullmatch(r"[A-Za-z0-9_-]{1,8}", stem) and re.fullmatch(r"[A-Za-z0-9_-]{0,3}", ext)
    if valid and dot == ("." if ext else "") and name.upper() not in taken:
        taken.add(name.upper())
        return name
    clean_stem = re.sub(r"[^A-Za-z0-9]", "", stem).upper()[:6] or "F"
    clean_ext = re.sub(r"[^A-Za-z0-9]", "", ext).upper()[:3]
    for n in range(1, 100_000):
        suffix = f"~{n}"
        short = clean_stem[: 8 - len(suffix)] + suffix + (f".{clean_ext}" if clean_ext else "")
        if short not in taken:
            taken.add(short)
            return f"{short}|{name}"
    raise SystemExit(f"no short name left for {name}")


def _identifier(kind: str, relative: str) -> str:
    # MSI identifiers: letters, digits, _ and ., at most 72 characters; derived from the path, so stable.
    return f"{kind}_{hashlib.sha256(relative.encode()).hexdigest()[:32]}"


def payload_fragment(folder: Path) -> str:
    """A wxs fragment with one component per file of the bundle folder, in its folders, under PAYLOADDIR."""
    lines: list[str] = []

    def walk(directory: Path, indent: str) -> None:
        taken: set[str] = set()
        for path in sorted(directory.iterdir()):
            relative = path.relative_to(folder).as_posix()
            name = quoteattr(msi_name(path.name, taken))
            if path.is_dir():
                lines.append(f'{indent}<Directory Id="{_identifier("d", relative)}" Name={name}>')
                walk(path, indent + "  ")
                lines.append(f"{indent}</Directory>")
            else:
                # Guid="*": wixl derives it from the component's full path, which has the version in it.
                lines.append(
                    f'{indent}<Component Id="{_identifier("c", relative)}" Guid="*" Win64="yes">'
                    f'<File Id="{_identifier("f", relative)}" Name={name}'
                    f' Source={quoteattr(relative)} KeyPath="yes"/></Component>'
                )

    walk(folder, "      ")
    components = [
        f'      <ComponentRef Id="{_identifier("c", p.relative_to(folder).as_posix())}"/>'
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    return "\n".join(
        [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">',
            "  <Fragment>",
            '    <DirectoryRef Id="PAYLOADDIR">',
            *lines,
            "    </DirectoryRef>",
            '    <ComponentGroup Id="Payload">',
            *components,
            "    </ComponentGroup>",
            "  </Fragment>",
            "</Wix>",
            "",
        ]
    )


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is needed to build the MSI (Debian/Ubuntu: apt-get install wixl msitools)")
    return path


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)  # noqa: S603 - msitools with our arguments
    if done.returncode != 0:
        raise SystemExit(f"{Path(cmd[0]).name} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def build_msi(folder: Path, out: Path) -> Path:
    """posplugin-<version>.msi in ``out`` from the Windows bundle ``folder``."""
    wixl, msibuild = _tool("wixl"), _tool("msibuild")
    bundle = Bundle.read(folder)
    defines = {
        "Version": bundle.version,
        "VersionFolder": msi_name(bundle.version, set()),
        "MsiVersion": msi_version(bundle.version),
        "Python": bundle.python,
        "ProductCode": str(product_code(bundle.version)).upper(),
        "UpgradeCode": str(UPGRADE_CODE).upper(),
        "Manufacturer": MANUFACTURER,
        "Port": str(example_port(folder)),
    }
    target = out / f"posplugin-{bundle.version}.msi"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fragment = Path(tmp) / "payload.wxs"
        fragment.write_text(payload_fragment(folder))
        cmd = [wixl, "--arch", "x64", "-o", str(target)]
        for key, value in defines.items():
            cmd += ["-D", f"{key}={value}"]
        # Sources are relative to the bundle folder: wixl 0.101 looks files up there, not by absolute path.
        _run([*cmd, str(HERE / "msi" / "posplugin.wxs"), str(fragment)], cwd=folder)
    secure = [*wixl_secure_properties(target), *PUBLIC_PROPERTIES]
    _update(msibuild, target, "Property", "Value", ";".join(secure), "Property", "SecureCustomProperties")
    _update(msibuild, target, "CustomAction", "Type", ROLLBACK_ACTION_TYPE, "Action", "RollbackAgent")
    return target


def _update(msibuild: str, msi: Path, table: str, column: str, value: str | int, key: str, row: str) -> None:
    """One value of one row, with msibuild's SQL (only names and values of this module's own making)."""
    for part in (table, column, key, row, str(value)):
        if not re.fullmatch(r"[A-Za-z0-9_;]+", part):
            raise SystemExit(f"refusing {part!r} in an MSI query")
    literal = value if isinstance(value, int) else f"'{value}'"
    query = f"UPDATE `{table}` SET `{column}` = {literal} WHERE `{key}` = '{row}'"  # noqa: S608 - checked above
    _run([msibuild, str(msi), "-q", query])


def wixl_secure_properties(msi: Path) -> list[str]:
    """What wixl put in SecureCustomProperties (the upgrade detection properties)."""
    done = subprocess.run(  # noqa: S603
        [_tool("msiinfo"), "export", str(msi), "Property"], capture_output=True, text=True, check=True
    )
    for line in done.stdout.splitlines():
        name, _, value = line.partition("\t")
        if name == "SecureCustomProperties":
            return [p for p in value.split(";") if p and p not in PUBLIC_PROPERTIES]
    return []
