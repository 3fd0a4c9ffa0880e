from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.config import SECTIONS, Config, ConfigError, config_from_mapping, load_config, replace_section

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("")
    config = load_config(path)
    assert config.agent.port == 8765
    assert config.engage.lookup_keys == ["customKey"]
    assert config.source == str(path)


def test_example_file_documents_every_key_with_its_default() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = Config()
    for section in SECTIONS:
        assert section in raw, f"[{section}] missing from config.example.toml"
        expected = dataclasses.asdict(getattr(defaults, section))
        assert set(raw[section]) == set(expected), f"[{section}] keys differ from the loader's"
        for key, value in expected.items():
            assert raw[section][key] == value, f"[{section}] {key}: example {raw[section][key]!r} != default {value!r}"
    assert load_config(EXAMPLE) == defaults


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[agent]\nprot = 1\n", "[agent] prot: unknown key"),
        ("[agent]\nport = 'x'\n", "[agent] port: expected a whole number"),
        ("[agent]\nport = 70000\n", "[agent] port = 70000: must be a TCP port"),
        ("[engage]\nbase_url = 'http://engage.example.com'\n", "[engage] base_url"),
        ("[engage]\nbase_url = 'not a url'\n", "[engage] base_url"),
        ("[engage]\nlookup_keys = ['any']\n", "[engage] lookup_keys"),
        ("[engage]\nlong_read_timeout = 30\n", ">= 60 seconds"),
        ("[printer]\ndrawer_kick = 1\n", "[printer] drawer_kick: expected true or false"),
        ("[api]\nallowed_origins = ['*']\n", "[api] allowed_origins"),
        ("[nonsense]\n", "unknown section [nonsense]"),
        ("[agent\n", "not valid TOML"),
        ("agent = 3\n", "[agent] must be a table"),
    ],
)
def test_bad_config_stops_with_one_line_naming_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "till.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg
    assert needle in msg


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_https_and_loopback_http_are_accepted() -> None:
    assert config_from_mapping({"engage": {"base_url": "https://tenant.voyado.com"}}).engage.base_url
    assert config_from_mapping({"engage": {"base_url": "http://127.0.0.1:8790"}}).engage.base_url


def test_ints_are_accepted_for_floats() -> None:
    assert config_from_mapping({"engage": {"read_timeout": 7}}).engage.read_timeout == 7.0


def test_replace_section_validates_like_the_loader() -> None:
    config = Config()
    assert replace_section(config, "agent", till_id="t9").agent.till_id == "t9"
    with pytest.raises(ConfigError):
        replace_section(config, "agent", port=0)


scalars = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.booleans(), st.lists(st.integers(), max_size=3)
)


@given(section=st.sampled_from(sorted(SECTIONS)), key=st.text(max_size=12), value=scalars)
def test_any_value_either_loads_or_gives_config_error(section: str, key: str, value: object) -> None:
    try:
        config_from_mapping({section: {key: value}})
    except ConfigError as exc:
        assert section in str(exc)
