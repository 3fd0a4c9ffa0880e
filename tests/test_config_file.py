"""Writing the config back: what is written reads back the same, atomically, with a backup."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.config import Config, load_config, replace_section
from posplugin.config_file import dump_config, write_config

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
# Ids go into HTTP headers: the loader refuses control characters and surrounding space in them.
label = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), max_size=40).filter(
    lambda s: s == s.strip()
)


@settings(max_examples=150, deadline=None)
@given(
    store=label, header=st.lists(text, max_size=4), prefix=text, baud=st.integers(1, 10**6), wait=st.floats(0.1, 1e4)
)
def test_any_config_the_page_can_make_reads_back_the_same(
    store: str, header: list[str], prefix: str, baud: int, wait: float
) -> None:
    config = replace_section(Config(), "agent", store_id=store)
    config = replace_section(config, "receipt", header=header)
    config = replace_section(config, "scanner", strip_prefix=prefix)
    config = replace_section(config, "printer", baudrate=baud)
    config = replace_section(config, "offline", cashier_wait=wait)
    again = load_config_text(dump_config(config))
    assert again == config


def load_config_text(text_: str) -> Config:
    from posplugin.config import config_from_mapping

    return config_from_mapping(tomllib.loads(text_), source="<defaults>")


def test_only_changed_keys_are_written() -> None:
    text_ = dump_config(replace_section(Config(), "printer", paper_mm=58))
    body = tomllib.loads(text_)
    assert body == {"printer": {"paper_mm": 58}}
    assert text_.startswith("# posplugin configuration")


def test_write_keeps_a_backup_and_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[printer]\npaper_mm = 58\n")
    path.chmod(0o640)
    config = replace_section(load_config(path), "printer", codepage="CP437")
    backup = write_config(path, config)
    assert backup is not None and backup.read_text() == "[printer]\npaper_mm = 58\n"
    assert load_config(path).printer.codepage == "CP437" and load_config(path).printer.paper_mm == 58
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "config.toml.bak"]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[printer]\npaper_mm = 58\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("posplugin.config_file.os.replace", broken_replace)
    with pytest.raises(OSError):
        write_config(path, replace_section(Config(), "printer", codepage="CP437"))
    assert path.read_text() == "[printer]\npaper_mm = 58\n"
    assert not list(tmp_path.glob(".config-*"))
