"""How the OS packages spell versions and names: Debian versions that dpkg orders as PEP 440 does, MSI versions
Windows Installer can compare, and MSI short names."""

from __future__ import annotations

import re
import subprocess
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from tests.installer.bundle_builds import builder
from tests.installer.required_tools import tool


def module(name: str) -> Any:
    return builder().sibling(name)


releases = st.tuples(
    st.lists(st.integers(0, 30), min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts))),
    st.sampled_from(["", "a1", "b2", "rc1", "rc3"]),
    st.sampled_from(["", ".post1", ".post2"]),
    st.sampled_from(["", ".dev0", ".dev3"]),
).map("".join)


def dpkg_compare(a: str, op: str, b: str) -> bool:
    return subprocess.run([tool("dpkg", "dpkg"), "--compare-versions", a, op, b], check=False).returncode == 0


@settings(max_examples=60, deadline=None)
@given(releases, releases)
def test_dpkg_orders_the_debian_versions_as_pep_440_orders_the_releases(a: str, b: str) -> None:
    deb = module("deb_package")
    expected = "lt" if Version(a) < Version(b) else "gt" if Version(a) > Version(b) else "eq"
    assert dpkg_compare(deb.debian_version(a), expected, deb.debian_version(b)), (a, b)


def test_debian_versions_read_as_debian_spells_them() -> None:
    deb = module("deb_package")
    assert deb.debian_version("0.1.0") == "0.1.0"
    assert deb.debian_version("1.0rc1") == "1.0~rc1"
    assert deb.debian_version("1.0.post2") == "1.0+post2"
    assert deb.debian_version("1.0.dev1") == "1.0~~dev1"
    with pytest.raises(SystemExit, match="PEP 440"):
        deb.debian_version("1.0-beta")


def test_msi_versions_are_three_numbers_or_refused() -> None:
    msi = module("msi_package")
    assert msi.msi_version("1.2") == "1.2.0"
    assert msi.msi_version("255.255.65535") == "255.255.65535"
    # Pre-, post- and dev releases, and a fourth number, are invisible to Windows Installer's comparison.
    for version in ("1.0.0rc1", "1.0.0.post1", "1.0.0.dev1", "1.0.0.4", "256.0.0", "1.0.65536"):
        with pytest.raises(SystemExit, match="MSI"):
            msi.msi_version(version)


def test_product_codes_are_one_per_version() -> None:
    msi = module("msi_package")
    assert msi.product_code("0.1.0") == msi.product_code("0.1.0")
    assert msi.product_code("0.1.0") != msi.product_code("0.1.1")
    assert msi.product_code("0.1.0") != msi.UPGRADE_CODE and isinstance(msi.UPGRADE_CODE, uuid.UUID)


SHORT = re.compile(r"[A-Z0-9_~-]{1,8}(\.[A-Z0-9_-]{1,3})?")


# Windows file names are case-blind: a folder never holds two names that differ in case only.
@given(st.lists(st.from_regex(r"[a-zA-Z0-9_.+-]{1,40}", fullmatch=True), min_size=1, max_size=30, unique_by=str.lower))
def test_msi_short_names_are_8_3_and_unique_in_a_folder(names: list[str]) -> None:
    msi = module("msi_package")
    taken: set[str] = set()
    shorts = []
    for name in names:
        spelled = msi.msi_name(name, taken)
        short, bar, long = spelled.partition("|")
        assert (long if bar else short) == name
        assert SHORT.fullmatch(short.upper()), spelled
        shorts.append(short.upper())
    assert len(set(shorts)) == len(shorts)
