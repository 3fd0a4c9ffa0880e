"""Fixtures of the installer tests: bundles are built once a session and shared by the files that use them."""

from __future__ import annotations

import pytest

from tests.installer.bundle_builds import Bundles, WindowsBundles, build_linux_bundles, build_windows_bundles


@pytest.fixture(scope="session")
def linux_bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return build_linux_bundles(tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("src"))


@pytest.fixture(scope="session")
def windows_bundles(tmp_path_factory: pytest.TempPathFactory) -> WindowsBundles:
    return build_windows_bundles(tmp_path_factory.mktemp("windist"), tmp_path_factory.mktemp("winsrc"))
