"""Fixtures of the installer tests: bundles are built once a session and shared by the files that use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.installer.bundle_builds import (
    Bundles,
    WindowsBundles,
    build_linux_bundles,
    build_next_windows_bundle,
    build_windows_bundle,
)


@pytest.fixture(scope="session")
def linux_bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return build_linux_bundles(tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("src"))


@pytest.fixture(scope="session")
def windows_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_windows_bundle(tmp_path_factory.mktemp("windist"))


@pytest.fixture(scope="session")
def windows_bundles(windows_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> WindowsBundles:
    return WindowsBundles(windows_bundle, build_next_windows_bundle(windows_bundle, tmp_path_factory.mktemp("winsrc")))
