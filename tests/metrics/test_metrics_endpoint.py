"""``GET /metrics`` of the real agent on the simulator, parsed by prometheus_client's own parsers."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.metrics_core import Metric

from posplugin import __version__
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from tests.conftest import RunningAgent, free_port, wait_for
from tests.metrics.fakes import families, openmetrics, value

ASA = member_id("asa")
CARD = "2400000010014"
FAST = {"retry_min_seconds": 0.05, "retry_max_seconds": 0.2, "cashier_wait": 1.0}


def scrape(agent: RunningAgent, **headers: str) -> httpx.Response:
    response = httpx.get(f"{agent.base_url}/metrics", headers=headers, timeout=10)  # no token
    assert response.status_code == 200, response.text
    return response


def metrics(agent: RunningAgent) -> dict[str, Metric]:
    return families(scrape(agent).text)


def queue(agent: RunningAgent) -> dict[str, float]:
    return {s.labels["state"]: s.value for s in metrics(agent)["posplugin_queue_ops"].samples}


def ops_total(agent: RunningAgent, kind: str, outcome: str) -> float:
    return value(metrics(agent)["posplugin_ops"], "posplugin_ops_total", kind=kind, outcome=outcome)


def identify(agent: RunningAgent, code: str = CARD) -> dict[str, Any]:
    with agent.client() as http:
        response = http.post("/api/v1/identify", json={"code": code})
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def go_offline(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.set_offline(True)
    with agent.client() as http:
        http.post("/api/v1/identify", json={"code": "7777777"})  # trips the breaker at once
    wait_for(lambda: agent.agent.status.state == "offline", timeout=5)


def test_every_family_in_text_and_openmetrics_without_a_token(running: RunningAgent) -> None:
    text = scrape(running)
    assert text.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert text.headers["cache-control"] == "no-store"
    found = families(text.text)
    assert {
        "posplugin_build_info",
        "posplugin_loyalty_up",
        "posplugin_queue_ops",
        "posplugin_queue_oldest_pending_age_seconds",
        "posplugin_ops",
        "posplugin_loyalty_request_duration_seconds",
        "posplugin_identify_duration_seconds",
        "posplugin_printer_up",
        "posplugin_prints",
        "posplugin_rate_limited",
    } == set(found)
    assert found["posplugin_build_info"].samples[0].labels == {
        "version": __version__,
        "backend": "engage",
        "store": "s1",
        "till": "t1",
    }
    assert {s.labels["state"] for s in found["posplugin_queue_ops"].samples} == {
        "pending",
        "sending",
        "parked",
        "conflict",
    }
    kinds = {s.labels["kind"] for s in found["posplugin_ops"].samples}
    assert {"voucher_redeem", "voucher_reactivate", "point_shop_purchase", "sale_receipt"} <= kinds
    om = scrape(running, Accept="application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert om.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    parsed = openmetrics(om.text)
    assert parsed["posplugin_build"].type == "info" and parsed["posplugin_prints"].type == "counter"


def test_metrics_keep_the_host_and_origin_checks(running: RunningAgent) -> None:
    url = f"{running.base_url}/metrics"
    rebinding = httpx.get(url, headers={"Host": "attacker.example"})
    assert rebinding.status_code == 400 and rebinding.json()["error"]["code"] == "bad_host"
    foreign = httpx.get(url, headers={"Origin": "https://attacker.example"})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden_origin"
    assert httpx.get(url, headers={"Host": f"localhost:{running.agent.config.agent.port}"}).status_code == 200
    assert httpx.post(url).status_code == 405


def test_metrics_are_not_in_the_api_document(running: RunningAgent) -> None:
    document = httpx.get(f"{running.base_url}/openapi.json").json()
    assert "/metrics" not in document["paths"]


def test_a_queued_redeem_shows_in_the_queue_gauges_then_in_ops_total(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory(offline=FAST)
    identify(agent)  # seen online: the offline rules may accept the voucher
    assert ops_total(agent, "voucher_redeem", "confirmed") == 0
    go_offline(agent, sim)
    with agent.client() as http:
        op = http.post(f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": ASA}).json()
    assert op["state"] == "queued"
    assert queue(agent) == {"pending": 1, "sending": 0, "parked": 0, "conflict": 0}
    time.sleep(1.1)
    age = value(metrics(agent)["posplugin_queue_oldest_pending_age_seconds"])
    assert age >= 1
    sim.set_offline(False)
    wait_for(lambda: ops_total(agent, "voucher_redeem", "confirmed") == 1, timeout=15)
    assert queue(agent) == {"pending": 0, "sending": 0, "parked": 0, "conflict": 0}
    assert value(metrics(agent)["posplugin_queue_oldest_pending_age_seconds"]) == 0
    assert ops_total(agent, "voucher_redeem", "rejected") == 0


def test_a_refused_redeem_counts_as_rejected(running: RunningAgent, sim: EngageSimulator) -> None:
    sim.state.redeem_elsewhere(voucher_id("asa", 1))
    with running.client() as http:
        op = http.post(f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": ASA}).json()
    assert op["state"] == "rejected"
    assert ops_total(running, "voucher_redeem", "rejected") == 1
    assert ops_total(running, "voucher_redeem", "confirmed") == 0


def test_loyalty_up_follows_the_loyalty_system(running: RunningAgent, sim: EngageSimulator) -> None:
    wait_for(lambda: value(metrics(running)["posplugin_loyalty_up"]) == 1, timeout=5)
    go_offline(running, sim)
    assert value(metrics(running)["posplugin_loyalty_up"]) == 0
    sim.set_offline(False)
    wait_for(lambda: value(metrics(running)["posplugin_loyalty_up"]) == 1, timeout=5)  # the probe brings it back


def test_no_personal_data_in_the_exposition(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory(offline=FAST)
    view = identify(agent)
    with agent.client() as http:
        http.get(f"/api/v1/members/{ASA}/point-transactions")
        http.post(f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": ASA})
        http.post("/api/v1/identify", json={"code": "asa.oberg@example.se", "lookupKey": "email"})
        http.post("/api/v1/print/voucher", json={"contactId": ASA, "voucherId": voucher_id("asa", 2)})
    go_offline(agent, sim)
    identify(agent)  # from the cache
    secrets = [
        CARD,
        ASA,
        ASA.upper(),
        view["contact"]["memberNumber"],
        view["contact"]["firstName"],
        view["contact"]["lastName"],
        "asa.oberg",
        "example.se",
        "46701234501",
        agent.token,
        *[v["id"] for v in view["vouchers"]],
        *[v["voucherNumber"] for v in view["vouchers"]],
    ]
    for accept in ("", "application/openmetrics-text; version=1.0.0"):
        text = scrape(agent, Accept=accept).text
        leaked = [s for s in secrets if s and s.lower() in text.lower()]
        assert leaked == [], leaked
    endpoints = {
        s.labels["endpoint"]
        for s in metrics(agent)["posplugin_loyalty_request_duration_seconds"].samples
        if "endpoint" in s.labels
    }
    assert "/api/v3/contacts/{id}" in endpoints and "/api/v3/reward-vouchers/{id}/redeem" in endpoints


def test_identify_durations_by_source(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory()
    identify(agent)
    go_offline(agent, sim)
    assert identify(agent)["source"] == "cache"
    with agent.client() as http:
        assert http.post("/api/v1/identify", json={"code": "7777777"}).status_code == 503  # not observed
    histogram = metrics(agent)["posplugin_identify_duration_seconds"]
    count = "posplugin_identify_duration_seconds_count"
    assert value(histogram, count, source="live") == 1 and value(histogram, count, source="cache") == 1


def test_a_scan_at_the_till_is_timed_too(agent_factory: Any) -> None:
    agent = agent_factory(scanner={"backend": "serial", "serial_port": "loop://", "framing": "CR"})
    scanner = agent.agent._scanner
    wait_for(lambda: scanner.serial is not None, timeout=5)
    scanner.serial.write(f"{CARD}\r".encode())  # loop:// hands it back as the scanner's input
    count = "posplugin_identify_duration_seconds_count"
    wait_for(lambda: value(metrics(agent)["posplugin_identify_duration_seconds"], count, source="live") == 1)


def test_429s_from_the_loyalty_system_are_counted(running: RunningAgent, sim: EngageSimulator) -> None:
    assert value(metrics(running)["posplugin_rate_limited"], "posplugin_rate_limited_total") == 0
    sim.faults.add(FaultRule("rate_limit", method="GET", path="/contacts/", times=2, delay=0))
    identify(running)  # the lookup retries its GET past the 429s
    assert value(metrics(running)["posplugin_rate_limited"], "posplugin_rate_limited_total") == 2


def test_prints_and_printer_up(running: RunningAgent) -> None:
    with running.client() as http:
        assert http.post("/api/v1/print/test").status_code == 200
        assert http.post("/api/v1/drawer/open").status_code == 200  # no receipt
    found = metrics(running)
    assert value(found["posplugin_printer_up"]) == 1
    prints = {s.labels["outcome"]: s.value for s in found["posplugin_prints"].samples}
    assert prints == {"printed": 1, "expired": 0, "refused": 0}


def test_a_printer_that_is_off_is_down_and_refuses(agent_factory: Any) -> None:
    agent = agent_factory(printer={"backend": "network", "host": "127.0.0.1", "tcp_port": free_port(), "timeout": 1})
    assert value(metrics(agent)["posplugin_printer_up"]) == 0
    with agent.client() as http:
        assert http.post("/api/v1/print/test").json()["error"]["code"] == "printer_offline"
    assert value(metrics(agent)["posplugin_prints"], "posplugin_prints_total", outcome="refused") == 1


def test_no_printer_no_printer_series(agent_factory: Any) -> None:
    agent = agent_factory(printer={"backend": "none"})
    assert "posplugin_printer_up" not in metrics(agent)


def test_the_agent_writes_the_textfile(agent_factory: Any, tmp_path: Path) -> None:
    path = tmp_path / "textfile_collector" / "posplugin.prom"
    path.parent.mkdir()
    agent = agent_factory(metrics={"textfile_path": str(path), "textfile_interval": 1})
    wait_for(path.exists, timeout=5)
    first = path.stat().st_mtime_ns
    found = families(path.read_text(encoding="utf-8"))
    assert value(found["posplugin_loyalty_up"]) in (0, 1) and "posplugin_queue_ops" in found
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    identify(agent)
    wait_for(lambda: path.stat().st_mtime_ns != first, timeout=5)
    wait_for(lambda: 'source="live"} 1.0' in path.read_text(encoding="utf-8"), timeout=5)
    assert sorted(os.listdir(path.parent)) == ["posplugin.prom"]


def test_a_textfile_that_cannot_be_written_does_not_disturb_the_agent(
    agent_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "not-yet" / "posplugin.prom"
    with caplog.at_level(logging.WARNING, logger="posplugin.metrics"):
        agent = agent_factory(metrics={"textfile_path": str(path), "textfile_interval": 1})
        time.sleep(2.5)  # three failed writes
        with agent.client() as http:
            assert http.get("/api/v1/health").status_code == 200
        assert identify(agent)["source"] == "live"
        scrape(agent)
    failures = [r for r in caplog.records if "writing the metrics textfile failed" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in caplog.records]
    path.parent.mkdir()
    wait_for(path.exists, timeout=5)  # and it recovers once the folder is there
