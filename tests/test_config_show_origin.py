"""`posplugin config check` and `config show --origin` with drop-ins beside the main file."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest

from posplugin.cli import main
from posplugin.config import SECTIONS
from posplugin.config_layers import load_layers


def till(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[agent]\ndata_dir = "{tmp_path / "data"}"\nlog_dir = "{tmp_path / "logs"}"\ntill_id = "kassa 3"\n'
        "[offline]\nmax_attempts = 5\n",
        encoding="utf-8",
    )
    folder = tmp_path / "conf.d"
    folder.mkdir()
    (folder / "10-chain.toml").write_text("[offline]\nmax_attempts = 12\nmax_offline_hours = 6\n", encoding="utf-8")
    (folder / "20-region.toml").write_text('[agent]\nstore_id = "Malmö C"\n', encoding="utf-8")
    (folder / "10-chain.toml~").write_text("[offline]\nmax_attempts = 99\n", encoding="utf-8")
    return config


def test_config_check_names_every_file_read_and_every_file_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = till(tmp_path)
    assert main(["config", "check", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    folder = tmp_path / "conf.d"
    assert lines == [
        f"{config}: ok",
        f"{folder / '10-chain.toml'}: ok (drop-in, 2 keys)",
        f"{folder / '20-region.toml'}: ok (drop-in, 1 key)",
        f"{folder / '10-chain.toml~'}: ignored (only *.toml files are read)",
    ]


def test_config_check_refuses_a_bad_dropin_in_one_line_naming_it_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = till(tmp_path)
    bad = tmp_path / "conf.d" / "30-bad.toml"
    bad.write_text("[printer]\npaper_mm = 'wide'\n", encoding="utf-8")
    assert main(["config", "check", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"posplugin: config error: {bad}: [printer] paper_mm: expected a whole number, got str 'wide'\n"
    )


def test_show_origin_prints_every_key_its_value_and_its_file_as_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = till(tmp_path)
    assert main(["config", "show", "--origin", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    effective = load_layers(config).effective
    # The listing is the effective config as TOML: every section, every key, the values in effect.
    assert tomllib.loads(out) == {s: dataclasses.asdict(getattr(effective, s)) for s in SECTIONS}
    chain, region = tmp_path / "conf.d" / "10-chain.toml", tmp_path / "conf.d" / "20-region.toml"
    assert f"max_attempts = 12  # {chain}\n" in out
    assert f"max_offline_hours = 6.0  # {chain}\n" in out
    assert f'store_id = "Malmö C"  # {region}\n' in out
    assert f'till_id = "kassa 3"  # {config}\n' in out
    assert "port = 8765  # default\n" in out
    assert "99" not in out  # the editor's backup is not read
    key_lines = [line for line in out.splitlines() if " = " in line and not line.startswith("#")]
    assert len(key_lines) == sum(len(dataclasses.fields(hint)) for hint in SECTIONS.values())


def test_show_origin_json_and_plain_show_give_the_effective_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = till(tmp_path)
    assert main(["config", "show", "--origin", "--json", "--config", str(config)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["offline"]["max_attempts"] == {"value": 12, "from": str(tmp_path / "conf.d" / "10-chain.toml")}
    assert shown["agent"]["till_id"] == {"value": "kassa 3", "from": str(config)}
    assert shown["agent"]["port"] == {"value": 8765, "from": "default"}
    # Plain `config show` (the installer reads the port from it) is the effective config too.
    assert main(["config", "show", "--config", str(config)]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["offline"]["max_attempts"] == 12 and plain["agent"]["store_id"] == "Malmö C"


def test_show_origin_without_a_config_file_is_all_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSPLUGIN_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["config", "show", "--origin", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {entry["from"] for section in shown.values() for entry in section.values()} == {"default"}
