"""The sample alert rules (installer/prometheus): valid for Prometheus, and written against families we export.

With promtool on PATH (Debian's ``prometheus`` package) the rules are checked and their unit tests run; without
it, the structure is checked here. Either way every metric an expression names must be one the agent exports,
or one of the few exporter metrics named below.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from posplugin.metrics import exported_names

FOLDER = Path(__file__).resolve().parents[2] / "installer" / "prometheus"
RULES = FOLDER / "posplugin-alerts.yml"
RULE_TESTS = FOLDER / "posplugin-alerts.test.yml"
# The textfile collectors' own metric: the file's age is the agent's heartbeat when it is read from a file.
EXTERNAL = frozenset({"node_textfile_mtime_seconds", "windows_textfile_mtime_seconds"})
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"})
KEYWORDS |= frozenset({"offset", "inf", "nan"})
DURATION = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")
PROMTOOL = shutil.which("promtool")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, aggregations,
    keywords, label names or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group().lower() not in KEYWORDS:
            names.add(match.group())
    return names


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('posplugin_queue_ops{state=~"parked|conflict"} > 0', {"posplugin_queue_ops"}),
        (
            "histogram_quantile(0.95, sum by (instance, le) (rate(posplugin_loyalty_request_duration_seconds_bucket"
            "[10m]))) > 5",
            {"posplugin_loyalty_request_duration_seconds_bucket"},
        ),
        ("avg(up) < 0.5 and count(posplugin_loyalty_up) >= 5", {"up", "posplugin_loyalty_up"}),
        ("time() - node_textfile_mtime_seconds > 1e3", {"node_textfile_mtime_seconds"}),
        (
            "(a == 0) * on (instance, job) group_left (store, till) posplugin_build_info offset 5m",
            {"a", "posplugin_build_info"},
        ),
    ],
)
def test_metric_names_are_found_in_expressions(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_every_expression_names_only_metrics_we_export() -> None:
    allowed = exported_names() | EXTERNAL
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= allowed, (rule["alert"], names - allowed)
        assert any(name.startswith("posplugin_") for name in names) or names <= EXTERNAL, rule["alert"]


def test_the_rule_tests_feed_only_series_we_export() -> None:
    document = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    series = {s["series"].split("{")[0] for case in document["tests"] for s in case["input_series"]}
    assert series <= exported_names() | EXTERNAL, series - exported_names()


def test_the_rules_have_the_shape_prometheus_expects() -> None:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    assert len({group["name"] for group in document["groups"]}) == len(document["groups"])
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)) and all(re.fullmatch(r"Posplugin[A-Za-z]+", n) for n in names)
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert isinstance(rule["expr"], str) and rule["expr"].count("(") == rule["expr"].count(")")
        assert "for" not in rule or DURATION.fullmatch(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert {"summary", "description"} <= set(rule["annotations"])
    covered = set().union(*(metric_names(rule["expr"]) for rule in rules()))
    for family in ("posplugin_queue_ops", "posplugin_queue_oldest_pending_age_seconds", "posplugin_loyalty_up"):
        assert family in covered  # what the rules are for: parked/conflict, age, loyalty down, printer down
    assert "posplugin_printer_up" in covered


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    assert PROMTOOL is not None
    for args in (["check", "rules", RULES.name], ["test", "rules", RULE_TESTS.name]):
        result = subprocess.run([PROMTOOL, *args], cwd=FOLDER, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
