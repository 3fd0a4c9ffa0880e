"""The settings page with drop-ins: managed keys shown with their file, never changed, never copied into the main
file; the main file keeps what it had plus the manager's changes. Real agent over real HTTP."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posplugin.config_layers import load_layers
from posplugin.texts import message
from tests.conftest import RunningAgent, free_port
from tests.layered_agent import CHAIN, CHAIN_DROPIN, dropin, main_file, start_layered
from tests.test_settings_api import login, post


@pytest.fixture
def chain_till(tmp_path: Path, sim: Any) -> Iterator[RunningAgent]:
    # The till's own file has its own value of a key the chain also sets: it must survive, unused.
    main = main_file(tmp_path, sim.url, free_port(), offline={"max_offline_hours": 6.0, "max_queued_per_till": 7})
    dropin(main, CHAIN_DROPIN, CHAIN)
    running = start_layered(main)
    yield running
    running.stop()


def chain_file(running: RunningAgent) -> str:
    return str(running.agent.settings_file().parent / "conf.d" / CHAIN_DROPIN)


def test_the_page_shows_managed_keys_with_their_file_and_the_values_in_effect(chain_till: RunningAgent) -> None:
    client, _ = login(chain_till)
    state = client.get("/settings/api/state").json()
    assert state["managed"] == {
        "offline": {"max_offline_hours": chain_file(chain_till)},
        "agent": {"store_id": chain_file(chain_till)},
    }
    assert state["sections"]["offline"]["max_offline_hours"] == 12.0  # the drop-in's, not the main file's 6
    assert state["sections"]["offline"]["max_queued_per_till"] == 7
    assert state["sections"]["agent"]["store_id"] == "chain-store-7"
    assert chain_till.agent.config.offline.max_attempts == 12  # a key the page does not show is merged too


@pytest.mark.parametrize(
    "values",
    [{"max_offline_hours": 48.0}, {"max_offline_hours": "soon"}, {"max_offline_hours": 48.0, "cashier_wait": 2.0}],
)
def test_changing_a_managed_key_is_refused_and_nothing_is_written(
    chain_till: RunningAgent, values: dict[str, Any]
) -> None:
    client, csrf = login(chain_till)
    path = chain_till.agent.settings_file()
    before = path.read_bytes()
    answer = post(client, csrf, "/settings/api/sections/offline", {"values": values})
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "setting_managed"
    assert error["message"] == (
        f"{message('setting_managed', 'en')} ([offline] max_offline_hours is set in {chain_file(chain_till)})"
    )
    assert path.read_bytes() == before and not path.with_name("config.toml.bak").exists()
    assert chain_till.agent.config.offline.max_offline_hours == 12.0
    assert chain_till.agent.config.offline.cashier_wait == 5.0  # the refused request changed nothing at all


def test_saving_a_section_writes_only_the_main_file_with_what_it_had_plus_the_change(chain_till: RunningAgent) -> None:
    client, csrf = login(chain_till)
    path = chain_till.agent.settings_file()
    had = tomllib.loads(path.read_text())
    dropin_before = (path.parent / "conf.d" / CHAIN_DROPIN).read_bytes()
    # The page sends the whole section: the managed key comes along with the value in effect.
    values = {"max_queued_per_till": 9, "max_offline_hours": 12.0, "cashier_wait": 2.5, "member_cache_hours": 72.0}
    answer = post(client, csrf, "/settings/api/sections/offline", {"values": values})
    assert answer.status_code == 200, answer.text
    assert answer.json()["changed"] == ["cashier_wait", "max_queued_per_till"]
    assert answer.json()["state"]["managed"]["offline"] == {"max_offline_hours": chain_file(chain_till)}

    written = tomllib.loads(path.read_text())
    expected = {**had, "offline": {**had["offline"], "max_queued_per_till": 9, "cashier_wait": 2.5}}
    assert written == expected  # max_offline_hours is still the main file's own 6.0; no chain key came in
    assert "max_attempts" not in written["offline"] and "store_id" not in written["agent"]
    assert (path.parent / "conf.d" / CHAIN_DROPIN).read_bytes() == dropin_before

    running = chain_till.agent.config
    assert (running.offline.cashier_wait, running.offline.max_queued_per_till) == (2.5, 9)
    assert (running.offline.max_offline_hours, running.offline.max_attempts) == (12.0, 12)
    assert load_layers(path).effective == running  # what the next start reads is what runs now


def test_a_whole_section_of_managed_keys_saves_nothing(chain_till: RunningAgent) -> None:
    client, csrf = login(chain_till)
    path = chain_till.agent.settings_file()
    before = path.read_bytes()
    answer = post(client, csrf, "/settings/api/sections/agent", {"values": {"store_id": "chain-store-7"}})
    assert answer.status_code == 200 and answer.json()["saved"] is False
    assert path.read_bytes() == before


def test_the_file_printer_may_not_write_into_the_dropin_folder(chain_till: RunningAgent) -> None:
    client, csrf = login(chain_till)
    target = chain_till.agent.settings_file().parent / "conf.d" / "zz-printer.toml"
    answer = post(client, csrf, "/settings/api/sections/printer", {"values": {"file_path": str(target)}})
    assert answer.status_code == 422
    assert "inside the drop-in folder" in answer.json()["error"]["message"]
    assert chain_till.agent.config.printer.file_path != str(target)


def test_the_refusal_reads_in_swedish_too() -> None:
    assert message("setting_managed", "sv") == "Inställningen styrs centralt och kan inte ändras här."
