"""The Windows scripts cannot run here (no PowerShell on this machine); check what can be checked without it:
balanced brackets outside strings and comments, the parameters IT relies on, and that the bundle carries them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "installer" / "windows"


def code_only(text: str) -> str:
    text = re.sub(r"<#.*?#>", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        line = re.sub(r"'[^']*'", "''", line)  # single-quoted strings are literal in PowerShell
        line = re.sub(r'"(?:`.|[^"`])*"', '""', line)
        out.append(line.split("#", 1)[0])
    return "\n".join(out)


@pytest.mark.parametrize("name", ["install.ps1", "uninstall.ps1", "common.ps1"])
def test_brackets_balance(name: str) -> None:
    code = code_only((SCRIPTS / name).read_text(encoding="utf-8"))
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for n, char in enumerate(code):
        if char in "({[":
            stack.append(char)
        elif char in pairs:
            assert stack and stack[-1] == pairs[char], f"{name}: unbalanced {char!r} near {code[max(0, n - 60) : n]!r}"
            stack.pop()
    assert not stack, f"{name}: unclosed {stack}"


def test_install_takes_the_parameters_it_documents() -> None:
    text = (SCRIPTS / "install.ps1").read_text(encoding="utf-8")
    for parameter in ("ConfigFile", "ApiKeyFile", "Port", "InstallDir", "DataDir", "Python", "Force"):
        assert re.search(rf"\[(string|int|switch)\]\${parameter}\b", text), parameter
        assert f".PARAMETER {parameter}" in text or parameter in ("InstallDir", "DataDir", "Force")
    assert "New-NetFirewallRule" not in text  # loopback only: no firewall port


def test_with_powershell_when_available() -> None:
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        pytest.skip("pwsh not installed")
    for name in ("install.ps1", "uninstall.ps1", "common.ps1"):
        script = SCRIPTS / name
        check = (
            "$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile("
            f"'{script}', [ref]$null, [ref]$e);"
            " if ($e) { $e | ForEach-Object { $_.ToString() }; exit 1 }"
        )
        result = subprocess.run([pwsh, "-NoProfile", "-Command", check], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_windows_bundle_holds_windows_wheels_and_verifiable_checksums(windows_bundle: Path) -> None:
    import hashlib
    import zipfile

    from posplugin import __version__

    archive = windows_bundle.parent / f"{windows_bundle.name}.zip"
    assert archive.name == f"posplugin-{__version__}-windows-amd64.zip"
    names = zipfile.ZipFile(archive).namelist()
    wheels = [n.rsplit("/", 1)[-1] for n in names if n.endswith(".whl")]
    assert any(w.startswith("pywin32-") and w.endswith("win_amd64.whl") for w in wheels)
    assert any(w.startswith("pydantic_core-") and w.endswith("win_amd64.whl") for w in wheels)
    assert any(w.startswith("pywin32_ctypes-") for w in wheels)  # keyring's Windows backend
    assert not [w for w in wheels if "manylinux" in w or "linux_x86_64" in w]
    folder = windows_bundle
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, relative = line.split("  ", 1)
        assert hashlib.sha256((folder / relative).read_bytes()).hexdigest() == digest
    assert {"install.ps1", "uninstall.ps1", "common.ps1", "config.example.toml"} <= {p.name for p in folder.iterdir()}
