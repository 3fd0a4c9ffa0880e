"""Manual point adjustments: single through the outbox (API and settings page), bulk from CSV in chunks."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from posplugin.cli import main
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id
from tests.conftest import API_KEY, RunningAgent, wait_for
from tests.test_cli import write_config
from tests.test_settings_api import login, post

ASA = member_id("asa")


@pytest.fixture
def agent(fast_agent: RunningAgent) -> RunningAgent:
    return fast_agent


def balance(agent: RunningAgent) -> float:
    with agent.client() as http:
        return float(http.get(f"/api/v1/members/{ASA}").json()["points"]["balance"])


def adjust(agent: RunningAgent, body: dict[str, Any]) -> Any:
    with agent.client() as http:
        return http.post(f"/api/v1/members/{ASA}/point-adjustments", json=body)


def test_a_goodwill_adjustment_is_applied_once_with_its_transaction_id(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    before = balance(agent)
    answer = adjust(agent, {"amount": 150, "description": "Goodwill: broken zip", "opId": "adj-1"})
    assert answer.status_code == 200, answer.text
    op = answer.json()
    assert (op["kind"], op["state"], op["amount"]) == ("point_adjustment", "completed", 150)
    assert balance(agent) == before + 150
    again = adjust(agent, {"amount": 150, "description": "Goodwill: broken zip", "opId": "adj-1"}).json()
    assert again["transactionId"] == op["transactionId"] and balance(agent) == before + 150
    other = adjust(agent, {"amount": 151, "description": "Goodwill: broken zip", "opId": "adj-1"})
    assert other.status_code == 409
    tx = [t for t in sim.state.transactions if "Goodwill: broken zip" in t.description]
    assert len(tx) == 1 and f"ref:{op['transactionId'][:8]}" in tx[0].description


def test_an_unanswered_adjustment_is_reconciled_not_doubled(agent: RunningAgent, sim: EngageSimulator) -> None:
    before = balance(agent)
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/point-transactions$", times=1))
    op = adjust(agent, {"amount": -40, "description": "Correction", "opId": "adj-2"}).json()

    def done() -> bool:
        with agent.client() as http:
            return bool(http.get("/api/v1/ops/adj-2").json()["state"] == "completed")

    wait_for(done, 15)
    assert balance(agent) == before - 40
    assert len([t for t in sim.state.transactions if t.description.startswith("Correction")]) == 1
    assert op["opId"] == "adj-2"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "description": "x"},
        {"amount": 5},
        {"amount": 5, "description": ""},
        {"amount": 10**7, "description": "x"},
    ],
)
def test_bad_adjustments_are_refused(agent: RunningAgent, body: dict[str, Any]) -> None:
    assert adjust(agent, body).status_code == 422


def test_store_manager_adjusts_points_by_card_from_the_settings_page(agent: RunningAgent) -> None:
    before = balance(agent)
    client, csrf = login(agent)
    answer = post(
        client,
        csrf,
        "/settings/api/point-adjustments",
        {"member": "2400000010014", "amount": 25, "description": "Goodwill"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["memberName"] == "Åsa Öberg" and answer.json()["state"] == "completed"
    assert balance(agent) == before + 25
    unknown = post(
        client, csrf, "/settings/api/point-adjustments", {"member": "2499999999990", "amount": 5, "description": "x"}
    )
    assert unknown.status_code == 404


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["contactId", "amount", "definitionId", "description", "validFrom"])
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def cli_config(tmp_path: Path, sim: EngageSimulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A till config for the CLI pointing at the simulator, with the API key in the environment."""
    monkeypatch.setenv("POSPLUGIN_ENGAGE_API_KEY", API_KEY)
    return write_config(tmp_path, sim.url)


def test_bulk_import_of_2500_rows_goes_in_3_chunks_and_reports_rejected_rows(
    tmp_path: Path, sim: EngageSimulator, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = cli_config
    members = [member_id(k) for k in ("asa", "bjorn", "marta", "soren", "aino")]
    rows: list[dict[str, Any]] = [
        {"contactId": members[i % 5], "amount": 10, "definitionId": 1, "description": f"Kampanj {i}", "validFrom": ""}
        for i in range(2500)
    ]
    rows[7]["contactId"] = "not-a-guid"  # refused here, never sent
    rows[1500]["contactId"] = "99999999-9999-4999-8999-999999999999"  # unknown to Engage
    rows[2400]["validFrom"] = "2027-01-01T00:00:00+01:00"  # pending points
    source = tmp_path / "campaign.csv"
    write_csv(source, rows)
    before = len(sim.state.transactions)

    assert main(["points", "--config", str(config), "import", str(source), "--dry-run"]) == 1
    assert sim.state.bulk_batches == []
    assert main(["points", "--config", str(config), "import", str(source)]) == 1  # some rows rejected
    out = capsys.readouterr().out
    assert sim.state.bulk_batches == [1000, 1000, 499]
    assert "2500 row(s); sent in 3 chunk(s), accepted 2498" in out
    rejected = list(csv.DictReader((tmp_path / "campaign.rejected.csv").open()))
    assert [(r["line"], r["reason"]) for r in rejected] == [
        ("9", "contactId is not a GUID"),
        ("1502", "Engage does not know this contactId"),
    ]
    assert len(sim.state.transactions) - before == 2498
    future = [tx for tx in sim.state.transactions[before:] if tx.valid_from and tx.valid_from > sim.state.now()]
    assert len(future) == 1  # the row with a validFrom ahead went in as pending points


def test_bulk_import_stops_at_a_chunk_with_no_clear_answer(
    tmp_path: Path, sim: EngageSimulator, cli_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = cli_config
    source = tmp_path / "big.csv"
    write_csv(source, [{"contactId": ASA, "amount": 1, "definitionId": 1, "description": "x", "validFrom": ""}] * 2100)
    sim.faults.add(FaultRule("error", method="POST", path="/point-accounts/transactions$", times=None, status=500))
    assert main(["points", "--config", str(config), "import", str(source)]) == 1
    out = capsys.readouterr().out
    assert "CSV lines 2-1001 got no clear answer" in out and "CSV lines 1002-2101 were not sent" in out
    assert sim.state.bulk_batches == []  # the fault answered before the simulator counted the chunk


def test_a_bad_csv_header_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("contact,points\nx,1\n")
    assert main(["points", "import", str(source), "--dry-run"]) == 2
    assert "missing column(s) contactId, amount" in capsys.readouterr().err
