"""The packaging tools a test needs: skipped with the reason where they are missing, but required in CI
(.ci/run installs them and sets POSPLUGIN_REQUIRE_PACKAGING=1), as the browser tests are."""

from __future__ import annotations

import os
import shutil

import pytest


def required() -> bool:
    return os.environ.get("POSPLUGIN_REQUIRE_PACKAGING") == "1"


def tool(name: str, debian_package: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    if required():
        pytest.fail(f"{name} is missing; install Debian's {debian_package} package (POSPLUGIN_REQUIRE_PACKAGING=1)")
    pytest.skip(f"{name} not installed (apt-get install {debian_package}); CI installs it and requires it")


def root_user(why: str) -> None:
    if os.geteuid() == 0:
        return
    if required():
        pytest.fail(f"{why} needs root (POSPLUGIN_REQUIRE_PACKAGING=1)")
    pytest.skip(f"{why} needs root; CI runs as root and requires it")
