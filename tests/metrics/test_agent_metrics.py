"""The agent's metrics against a fake agent: families, labels, the hooks, and reads that fail."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import types
from typing import Any

import pytest
from prometheus_client import REGISTRY

from posplugin import __version__
from posplugin.metrics import exported_names, snapshot
from posplugin.metrics.collector import build_labels, loyalty_backend
from posplugin.outbox.model import CAPTURED, CONFIRMED, CONFLICT, PARKED, REJECTED, Op
from tests.metrics.fakes import FakeAgent, families, openmetrics, scrape, value

FAMILIES = {
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
}


def an_op(state: str, kind: str = "voucher_redeem") -> Op:
    return Op(
        op_id="op-1",
        kind=kind,
        target_id="v",
        contact_id="c",
        payload={},
        state=state,
        reason=None,
        parked_from=None,
        reported_queued=False,
        offline=False,
        attempts=1,
        backoff=0.0,
        next_attempt_at=0.0,
        park_deadline=0.0,
        created_at=0.0,
        updated_at=0.0,
    )


def test_every_family_is_exposed_and_every_sample_is_a_name_we_document() -> None:
    fake = FakeAgent()
    text, content_type = scrape(fake.metrics())
    assert content_type.startswith("text/plain; version=0.0.4")
    found = families(text)
    assert set(found) == FAMILIES
    samples = {sample.name for family in found.values() for sample in family.samples}
    assert samples <= exported_names()
    assert not any(name.endswith("_created") for name in samples)


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    text, content_type = scrape(FakeAgent().metrics(), "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    found = openmetrics(text)  # the strict parser: raises on anything OpenMetrics does not allow
    assert found["posplugin_build"].type == "info" and found["posplugin_ops"].type == "counter"
    assert found["posplugin_identify_duration_seconds"].type == "histogram"
    assert text.endswith("# EOF\n")


def test_queue_states_are_disjoint_and_all_four_always_present() -> None:
    fake = FakeAgent(counts={"pending": 5, "sending": 2, "parked": 1, "conflict": 0, "oldestPendingAgeSeconds": 42})
    found = families(scrape(fake.metrics())[0])
    queue = found["posplugin_queue_ops"]
    assert {s.labels["state"]: s.value for s in queue.samples} == {
        "pending": 3,
        "sending": 2,
        "parked": 1,
        "conflict": 0,
    }
    assert value(found["posplugin_queue_oldest_pending_age_seconds"]) == 42


@pytest.mark.parametrize(("state", "up"), [("online", 1), ("offline", 0), ("unknown", 0)])
def test_loyalty_up_is_1_only_while_online(state: str, up: int) -> None:
    assert value(families(scrape(FakeAgent(loyalty=state).metrics())[0])["posplugin_loyalty_up"]) == up


@pytest.mark.parametrize(
    ("status", "up"),
    [("ready", 1), ("paper_near_end", 1), ("unknown", 1), ("offline", 0), ("paper_out", 0), ("cover_open", 0)],
)
def test_printer_up_follows_what_the_printer_says(status: str, up: int) -> None:
    assert value(families(scrape(FakeAgent(printer=status).metrics())[0])["posplugin_printer_up"]) == up


def test_no_printer_configured_means_no_printer_series() -> None:
    assert "posplugin_printer_up" not in families(scrape(FakeAgent(printer="not_configured").metrics())[0])


def test_the_printer_is_asked_at_most_every_few_seconds_and_a_slow_one_keeps_its_last_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshot, "PRINTER_STATUS_TIMEOUT", 0.2)
    fake = FakeAgent()
    metrics = fake.metrics()
    scrape(metrics)
    scrape(metrics)
    assert fake.printer_asked == 1  # the scrape and the textfile writer do not both ask
    fake.now += 10
    fake.printer, fake.printer_delay = "offline", 5.0
    started = asyncio.run(_timed(metrics.exposition()))
    assert started < 1.0  # the scrape does not wait for a printer that does not answer
    assert value(families(scrape(metrics)[0])["posplugin_printer_up"]) == 1


async def _timed(work: Any) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await work
    return loop.time() - started


def test_build_info_names_version_backend_store_and_till_where_set() -> None:
    fake = FakeAgent()
    info = families(scrape(fake.metrics())[0])["posplugin_build_info"]
    assert [s.labels for s in info.samples] == [{"version": __version__, "backend": "engage"}]
    fake.with_ids("Malmö C", "till 7")
    metrics = fake.metrics()
    info = families(scrape(metrics)[0])["posplugin_build_info"]
    assert info.samples[0].labels == {"version": __version__, "backend": "engage", "store": "Malmö C", "till": "till 7"}
    fake.with_ids("Lund", "")  # the settings page changed it: the next scrape says so
    assert families(scrape(metrics)[0])["posplugin_build_info"].samples[0].labels["store"] == "Lund"
    assert "till" not in families(scrape(metrics)[0])["posplugin_build_info"].samples[0].labels


def test_the_backend_comes_from_the_config_when_it_has_a_loyalty_section() -> None:
    config: Any = types.SimpleNamespace(loyalty=types.SimpleNamespace(backend="fabric"), agent=FakeAgent().config.agent)
    assert loyalty_backend(config) == "fabric" and build_labels(config)["backend"] == "fabric"
    assert loyalty_backend(FakeAgent().config) == "engage"


def test_ops_total_counts_final_outcomes_by_kind() -> None:
    metrics = FakeAgent().metrics()
    metrics.expect_kinds(["voucher_redeem", "sale_receipt"])
    before = families(scrape(metrics)[0])["posplugin_ops"]
    assert len(before.samples) == 8 and all(s.value == 0 for s in before.samples)  # known from the start
    for state in (CONFIRMED, CONFIRMED, REJECTED, CONFLICT, PARKED, CAPTURED):
        metrics.op_final(an_op(state))
    metrics.op_final(an_op(CONFIRMED, kind="sale_receipt"))
    ops = families(scrape(metrics)[0])["posplugin_ops"]
    total = "posplugin_ops_total"
    assert value(ops, total, kind="voucher_redeem", outcome="confirmed") == 2
    assert value(ops, total, kind="voucher_redeem", outcome="rejected") == 1
    assert value(ops, total, kind="voucher_redeem", outcome="conflict") == 1
    assert value(ops, total, kind="voucher_redeem", outcome="parked") == 1
    assert value(ops, total, kind="sale_receipt", outcome="confirmed") == 1


def test_prints_count_receipts_not_drawer_kicks() -> None:
    metrics = FakeAgent().metrics()
    for kind, outcome in [("voucher", "printed"), ("test", "printed"), ("balance", "expired"), ("drawer", "printed")]:
        metrics.print_ended(kind, outcome)
    metrics.print_ended("voucher", "refused")
    prints = families(scrape(metrics)[0])["posplugin_prints"]
    assert {s.labels["outcome"]: s.value for s in prints.samples if s.name.endswith("_total")} == {
        "printed": 2,
        "expired": 1,
        "refused": 1,
    }


def test_identify_is_timed_by_source_and_a_failure_is_not_observed() -> None:
    metrics = FakeAgent().metrics()

    async def identify(source: str) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return {"source": source, "contact": {"id": "c"}}

    async def not_found() -> dict[str, Any]:
        raise LookupError("member_not_found")

    async def run() -> None:
        assert (await metrics.timed_identify(identify("live")))["source"] == "live"
        await metrics.timed_identify(identify("cache"))
        await metrics.timed_identify(identify("cache"))
        with pytest.raises(LookupError):
            await metrics.timed_identify(not_found())

    asyncio.run(run())
    histogram = families(scrape(metrics)[0])["posplugin_identify_duration_seconds"]
    count = "posplugin_identify_duration_seconds_count"
    assert value(histogram, count, source="live") == 1 and value(histogram, count, source="cache") == 2
    assert value(histogram, "posplugin_identify_duration_seconds_sum", source="live") >= 0.01


def test_a_queue_that_cannot_be_read_leaves_its_families_out_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeAgent(queue_error=sqlite3.OperationalError("database is locked"))
    metrics = fake.metrics()
    with caplog.at_level(logging.INFO, logger="posplugin.metrics"):
        for _ in range(3):
            found = families(scrape(metrics)[0])
            assert "posplugin_queue_ops" not in found and "posplugin_queue_oldest_pending_age_seconds" not in found
            assert value(found["posplugin_loyalty_up"]) == 1  # the rest still answers
        fake.queue_error = None
        assert "posplugin_queue_ops" in families(scrape(metrics)[0])
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "reading the queue for metrics failed: OperationalError: database is locked",
        "reading the queue for metrics works again",
    ]


def test_each_agent_has_its_own_registry_and_the_global_one_is_untouched() -> None:
    first, second = FakeAgent().metrics(), FakeAgent().metrics()
    first.print_ended("voucher", "printed")
    assert value(families(scrape(first)[0])["posplugin_prints"], "posplugin_prints_total", outcome="printed") == 1
    assert value(families(scrape(second)[0])["posplugin_prints"], "posplugin_prints_total", outcome="printed") == 0
    assert not any(f.name.startswith("posplugin") for f in REGISTRY.collect())
