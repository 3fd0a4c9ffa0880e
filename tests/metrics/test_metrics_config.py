"""``[metrics]``: the textfile's path and interval, validated like every other section."""

from __future__ import annotations

from pathlib import Path

import pytest

from posplugin.config import ConfigError, config_from_mapping, load_config


def test_the_defaults_write_no_file() -> None:
    metrics = config_from_mapping({}).metrics
    assert (metrics.textfile_path, metrics.textfile_interval) == ("", 15.0)


def test_a_prom_file_and_an_interval_are_taken(tmp_path: Path) -> None:
    path = str(tmp_path / "textfile_collector" / "posplugin.prom")
    config = config_from_mapping({"metrics": {"textfile_path": path, "textfile_interval": 60}})
    assert config.metrics.textfile_path == path and config.metrics.textfile_interval == 60.0


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        (
            {"textfile_path": "posplugin.prom"},
            "textfile_path = 'posplugin.prom': must be empty or an absolute",
        ),
        ({"textfile_path": "/var/lib/node_exporter/textfile_collector/posplugin.txt"}, "ending in .prom"),
        ({"textfile_path": "/var/lib/node_exporter/x\n.prom"}, "[metrics] textfile_path"),
        ({"textfile_path": 3}, "[metrics] textfile_path: expected a string"),
        ({"textfile_interval": 0}, "[metrics] textfile_interval = 0: must be 1-3600 seconds"),
        ({"textfile_interval": 86400}, "must be 1-3600 seconds"),
        ({"textfile_interval": "15"}, "expected a number"),
        ({"textfile": "/tmp/x.prom"}, "[metrics] textfile: unknown key"),
    ],
)
def test_bad_values_stop_with_one_line_naming_the_key(tmp_path: Path, values: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"metrics": values}, source="till.toml")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_the_file_round_trips_through_toml(tmp_path: Path) -> None:
    path = tmp_path / "till.toml"
    path.write_text('[metrics]\ntextfile_path = "/var/lib/node_exporter/textfile_collector/posplugin.prom"\n')
    assert load_config(path).metrics.textfile_path.endswith("posplugin.prom")
