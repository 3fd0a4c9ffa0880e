"""The MSI as built on Linux with wixl, read back with msitools: the tables Windows Installer acts on, the codes
that make an upgrade replace the old product, the custom actions that run install.ps1 and uninstall.ps1, and the
payload (which must be the Windows bundle byte for byte, or install.ps1's checksum check fails). Nothing here runs
on Windows: what that leaves unproven is listed in docs/packages.md."""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from posplugin import __version__
from tests.installer.bundle_builds import WindowsBundles, builder, bumped, python_version
from tests.installer.required_tools import tool

WINDOWS_SCRIPTS = Path(__file__).resolve().parents[2] / "installer" / "windows"
# Standard actions of the InstallExecuteSequence that the custom actions are placed between.
STANDARD = ("InstallInitialize", "RemoveFiles", "InstallFiles", "InstallExecute", "InstallFinalize")


def msi_module() -> Any:
    return builder().sibling("msi_package")


@dataclass
class Msis:
    old: Path
    new: Path
    rebuilt: Path


@pytest.fixture(scope="module")
def msis(windows_bundles: WindowsBundles, tmp_path_factory: pytest.TempPathFactory) -> Msis:
    tool("wixl", "wixl")
    tool("msiinfo", "msitools")
    msi = msi_module()
    out, again = tmp_path_factory.mktemp("msi"), tmp_path_factory.mktemp("msi-again")
    return Msis(
        msi.build_msi(windows_bundles.old, out),
        msi.build_msi(windows_bundles.new, out),
        msi.build_msi(windows_bundles.old, again),
    )


def table(msi: Path, name: str) -> list[dict[str, str]]:
    """A table as msiinfo exports it: a header line of column names, a line of types, a line naming the key."""
    text = subprocess.run(
        [tool("msiinfo", "msitools"), "export", str(msi), name], capture_output=True, text=True, check=True
    ).stdout
    lines = text.split("\r\n") if "\r\n" in text else text.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


def properties(msi: Path) -> dict[str, str]:
    return {row["Property"]: row["Value"] for row in table(msi, "Property")}


def summary(msi: Path) -> dict[str, str]:
    text = subprocess.run(
        [tool("msiinfo", "msitools"), "suminfo", str(msi)], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_the_tables_windows_installer_needs_are_there(msis: Msis) -> None:
    done = subprocess.run(
        [tool("msiinfo", "msitools"), "tables", str(msis.old)], capture_output=True, text=True, check=True
    )
    tables = set(done.stdout.split())
    needed = {"Property", "Upgrade", "CustomAction", "InstallExecuteSequence", "LaunchCondition", "AppSearch"}
    needed |= {"RegLocator", "Directory", "Component", "File", "Feature", "FeatureComponents", "Media"}
    assert needed <= tables
    info = summary(msis.old)
    assert info["Template"] == "x64;1033"  # 64-bit: ProgramFiles64Folder, the 64-bit registry
    assert info["Author"] == msi_module().MANUFACTURER


def test_property_table(msis: Msis, windows_bundles: WindowsBundles) -> None:
    msi = msi_module()
    props = properties(msis.old)
    assert props["ProductName"] == "posplugin"
    assert props["ProductVersion"] == msi.msi_version(__version__)
    assert props["UpgradeCode"] == "{" + str(msi.UPGRADE_CODE).upper() + "}"
    assert props["ProductCode"] == "{" + str(msi.product_code(__version__)).upper() + "}"
    assert props["ALLUSERS"] == "1"  # per machine
    example = (windows_bundles.old / "config.example.toml").read_text()
    assert re.search(rf"^port = {props['PORT']}\b", example, re.M)  # PORT's default is the example's port
    # Given on the msiexec command line, they must reach the elevated part of the install.
    secure = props["SecureCustomProperties"].split(";")
    assert {"CONFIGFILE", "APIKEYFILE", "PORT", "PURGE", "WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"} <= set(
        secure
    )
    assert len(secure) == len(set(secure))


def test_upgrade_table_and_launch_conditions(msis: Msis) -> None:
    msi = msi_module()
    code = "{" + str(msi.UPGRADE_CODE).upper() + "}"
    version = msi.msi_version(__version__)
    rows = {row["ActionProperty"]: row for row in table(msis.old, "Upgrade")}
    older = rows["WIX_UPGRADE_DETECTED"]  # any older version: found and removed (not "only detect", bit 2)
    assert older["UpgradeCode"] == code and older["VersionMin"] == "" and older["VersionMax"] == version
    assert int(older["Attributes"]) & 2 == 0 and int(older["Attributes"]) & 0x200 == 0  # max exclusive
    newer = rows["WIX_DOWNGRADE_DETECTED"]  # a newer one: only detected, and refused below
    assert newer["UpgradeCode"] == code and newer["VersionMin"] == version and int(newer["Attributes"]) & 2
    conditions = {row["Condition"]: row["Description"] for row in table(msis.old, "LaunchCondition")}
    assert conditions["NOT WIX_DOWNGRADE_DETECTED"] == "A newer posplugin is already installed."
    assert "Installed OR POWERSHELLEXE" in conditions
    assert f"CPython {python_version()}" in conditions["Installed OR PYTHONEXE"]
    searches = {row["Signature_"]: row for row in table(msis.old, "RegLocator")}
    python = searches["PythonPath"]
    assert python["Key"] == rf"SOFTWARE\Python\PythonCore\{python_version()}\InstallPath"
    assert python["Name"] == "ExecutablePath" and python["Root"] == "2"  # HKLM
    assert int(python["Type"]) & 16  # the 64-bit registry view


def test_two_versions_share_the_upgrade_code_and_differ_in_product_code(msis: Msis) -> None:
    old, new, rebuilt = properties(msis.old), properties(msis.new), properties(msis.rebuilt)
    assert old["UpgradeCode"] == new["UpgradeCode"] == rebuilt["UpgradeCode"]
    assert old["ProductCode"] != new["ProductCode"]
    assert new["ProductVersion"] == msi_module().msi_version(bumped(__version__))
    as_tuple = [tuple(int(n) for n in p["ProductVersion"].split(".")) for p in (old, new)]
    assert as_tuple[0] < as_tuple[1]
    # The newer one removes every version below its own, the older one among them.
    removes = next(r for r in table(msis.new, "Upgrade") if r["ActionProperty"] == "WIX_UPGRADE_DETECTED")
    assert removes["VersionMax"] == new["ProductVersion"] and removes["VersionMin"] == ""
    # A rebuild of one version is the same product, in a new package (Windows Installer tells them apart by it).
    assert rebuilt["ProductCode"] == old["ProductCode"]
    assert summary(msis.rebuilt)["Revision number (UUID)"] != summary(msis.old)["Revision number (UUID)"]


def test_the_custom_actions_run_the_windows_scripts_elevated_and_in_order(msis: Msis) -> None:
    msi = msi_module()
    actions = {row["Action"]: row for row in table(msis.old, "CustomAction")}
    sequence = {
        row["Action"]: (int(row["Sequence"]), row["Condition"]) for row in table(msis.old, "InstallExecuteSequence")
    }
    at = {name: sequence[name][0] for name in STANDARD}
    deferred = msi.EXE_FROM_PROPERTY | msi.IN_SCRIPT | msi.NO_IMPERSONATE  # as LocalSystem, in the install script

    install = actions["InstallAgent"]
    assert int(install["Type"]) == deferred and install["Source"] == "POWERSHELLEXE"
    target = install["Target"]
    assert '-ExecutionPolicy Bypass -File "[PAYLOADDIR]install.ps1"' in target
    assert "[POSPLUGIN_CONFIG_ARG] [POSPLUGIN_APIKEY_ARG] -Port [PORT]" in target
    assert '-Python "[PYTHONEXE]"' in target
    assert at["InstallFiles"] < sequence["InstallAgent"][0] < at["InstallExecute"]
    assert sequence["InstallAgent"][1] == 'NOT REMOVE~="ALL"'
    # An empty "" argument would be dropped by PowerShell 5.1: the file arguments exist only when given.
    for action, prop, parameter in (
        ("SetConfigArgument", "CONFIGFILE", "ConfigFile"),
        ("SetApiKeyArgument", "APIKEYFILE", "ApiKeyFile"),
    ):
        assert int(actions[action]["Type"]) == 51 and actions[action]["Target"] == f'-{parameter} "[{prop}]"'
        assert sequence[action][1] == prop and sequence[action][0] < at["InstallInitialize"]

    for name, purge in (("UninstallAgent", False), ("PurgeAgent", True)):
        action = actions[name]
        assert int(action["Type"]) == deferred and '-File "[PAYLOADDIR]uninstall.ps1"' in action["Target"]
        assert ("-Purge" in action["Target"]) is purge
        place, condition = sequence[name]
        assert at["InstallInitialize"] < place < at["RemoveFiles"]  # while uninstall.ps1 is still on disk
        # Not when an upgrade removes the old product: the new version's install.ps1 did the upgrade.
        assert condition.startswith('REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE')
        assert condition.endswith('PURGE="1"' if purge else 'PURGE<>"1"')

    rollback = actions["RollbackAgent"]
    assert int(rollback["Type"]) == deferred | msi.ROLLBACK | msi.CONTINUE_ON_ERROR
    assert sequence["RollbackAgent"][0] < sequence["InstallAgent"][0]  # scheduled before it, so it undoes it
    assert "NOT Installed AND NOT WIX_UPGRADE_DETECTED" in sequence["RollbackAgent"][1]  # a first install only

    # The old product goes after the new one is in: a failed install.ps1 leaves the old product whole.
    assert at["InstallExecute"] < sequence["RemoveExistingProducts"][0] < at["InstallFinalize"]


def test_the_scripts_take_every_parameter_the_msi_passes(msis: Msis) -> None:
    targets = {row["Action"]: row["Target"] for row in table(msis.old, "CustomAction")}
    passed = {
        "install.ps1": set(
            re.findall(
                r" -([A-Z]\w+)", targets["InstallAgent"] + targets["SetConfigArgument"] + targets["SetApiKeyArgument"]
            )
        ),
        "uninstall.ps1": set(re.findall(r" -([A-Z]\w+)", targets["PurgeAgent"] + targets["UninstallAgent"])),
    }
    powershell_options = {"NoProfile", "NonInteractive", "ExecutionPolicy", "File"}
    for script, parameters in passed.items():
        text = (WINDOWS_SCRIPTS / script).read_text(encoding="utf-8")
        for parameter in parameters - powershell_options:
            assert re.search(rf"\[(string|int|switch)\]\${parameter}\b", text), f"{script} has no -{parameter}"


def test_the_payload_is_the_windows_bundle_byte_for_byte(
    msis: Msis, windows_bundles: WindowsBundles, tmp_path: Path
) -> None:
    subprocess.run(
        [tool("msiextract", "msitools"), "-C", str(tmp_path), str(msis.old)], check=True, capture_output=True
    )
    payload = tmp_path / "posplugin" / "package" / __version__
    bundle = windows_bundles.old
    bundle_files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    assert sorted(p.relative_to(payload).as_posix() for p in payload.rglob("*") if p.is_file()) == bundle_files
    for relative in bundle_files:
        assert (payload / relative).read_bytes() == (bundle / relative).read_bytes(), relative
    # What install.ps1 checks first, where the MSI put the files.
    for line in (payload / "SHA256SUMS").read_text().splitlines():
        digest, relative = line.split("  ", 1)
        assert hashlib.sha256((payload / relative).read_bytes()).hexdigest() == digest


def test_names_components_and_folders(msis: Msis) -> None:
    files = table(msis.old, "File")
    for row in files:
        short = row["FileName"].partition("|")[0]
        assert re.fullmatch(r"[A-Z0-9_~-]{1,8}(\.[A-Z0-9_-]{1,3})?", short.upper()), row["FileName"]
    components = table(msis.old, "Component")
    assert len(components) == len(files) and all(int(c["Attributes"]) & 256 for c in components)  # 64-bit
    assert len({c["ComponentId"] for c in components}) == len(components)
    folders = {row["Directory"]: row for row in table(msis.old, "Directory")}
    assert folders["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    assert folders["INSTALLDIR"]["DefaultDir"].endswith("|posplugin")
    assert folders["PAYLOADDIR"]["DefaultDir"].endswith(f"|{__version__}")
    # Each version's files are its own components: the old product's removal never takes the new one's files.
    new_components = {c["ComponentId"] for c in table(msis.new, "Component")}
    assert not new_components & {c["ComponentId"] for c in components}
