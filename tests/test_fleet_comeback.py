"""A till of a fleet comes back from an outage: the agent against the simulator over HTTP, and its config."""

from __future__ import annotations

from typing import Any

import pytest

from posplugin.config import ConfigError, config_from_mapping
from posplugin.doctor import check_fleet
from posplugin.vendors.engage.simulator import EngageSimulator, member_id, voucher_id
from tests.conftest import FAST_RETRY
from tests.test_redemption_api import go_offline, identify, redeem, settles

ASA = member_id("asa")


def test_back_from_an_outage_a_fleet_till_sends_its_queued_op_first_not_a_probe(
    agent_factory: Any, sim: EngageSimulator
) -> None:
    """The first turn after an outage already carries work. A GET probe first would cost every till of a fleet
    one turn: a third more requests in the minutes the fleet drains at the key's limit."""
    agent = agent_factory(offline={**FAST_RETRY, "tills_sharing_key": 10, "fleet_slot": 3})  # a turn every 0.22 s
    identify(agent, "2400000010014")
    go_offline(agent, sim)
    voucher = voucher_id("asa", 1)
    assert redeem(agent, voucher, ASA, "op-fleet")["state"] == "queued"
    sim.recent.clear()
    sim.set_offline(False)
    assert settles(agent, "op-fleet")["state"] == "redeemed"
    seen = list(sim.recent)
    assert seen[0] == ("POST", f"/api/v3/reward-vouchers/{voucher}/redeem")  # not ("GET", PATH_PROBE)
    assert seen.count(seen[0]) == 1
    assert sim.state.redeem_commits == {voucher: 1}


def fleet(**offline: Any) -> Any:
    return config_from_mapping({"offline": offline}, source="till.toml")


def test_a_slot_is_checked_against_the_fleet_size_after_all_files_are_read() -> None:
    # Each file alone may leave the other key to a drop-in, so a slot beyond the fleet is not a load error,
    # but the doctor names it and the till falls back to a random place.
    assert fleet(tills_sharing_key=500, fleet_slot=499).offline.slot == 499
    assert fleet(fleet_slot=17).offline.slot is None
    assert check_fleet(fleet(tills_sharing_key=500, fleet_slot=17)).ok
    bad = check_fleet(fleet(tills_sharing_key=500, fleet_slot=500))
    assert not bad.ok and "not below tills_sharing_key = 500" in bad.detail
    assert "random place" in check_fleet(fleet(tills_sharing_key=500)).detail
    with pytest.raises(ConfigError, match=r"fleet_slot = -2: must be -1 or 0-99999"):
        fleet(fleet_slot=-2)


def test_the_agent_of_a_slot_beyond_the_fleet_still_starts_and_paces(agent_factory: Any) -> None:
    agent = agent_factory(offline={"tills_sharing_key": 4, "fleet_slot": 9})
    with agent.client() as http:
        assert http.get("/api/v1/health").status_code == 200
