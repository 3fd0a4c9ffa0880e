"""Crash test: the agent process is SIGKILLed at random moments while 200 redemptions flow, with faults
injected and the network toggled. After healing: every accepted op is final, Engage redeemed each voucher at
most once, every voucher Engage redeemed is `redeemed` locally, and nothing is stuck.

Replay a run with POSPLUGIN_CRASH_SEED=<seed>; `make soak` runs a longer version (POSPLUGIN_SOAK=1).
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, SimState
from posplugin.vendors.engage.simulator.state import Contact, Voucher
from tests.agent_process import TOKEN, AgentProcess
from tests.conftest import API_KEY

SOAK = os.environ.get("POSPLUGIN_SOAK") == "1"
N_CONTACTS, PER_CONTACT = (50, 20) if SOAK else (20, 10)


def seeded_state() -> tuple[SimState, list[tuple[str, str]]]:
    state = SimState()
    pairs = []
    rng = random.Random(7)
    for c in range(N_CONTACTS):
        contact_id = f"10000000-0000-4000-8000-{c:012d}"
        state.add_contact(Contact(contact_id, "Test", f"Kund {c}", f"9{c:06d}"), balance=1000)
        for v in range(PER_CONTACT):
            voucher_id = f"20000000-{c:04d}-4000-8000-{v:012d}"
            state.vouchers[voucher_id] = Voucher(
                voucher_id,
                contact_id,
                f"77{c:04d}{v:04d}{rng.randrange(10**4):04d}",
                "Bonuscheck",
                100,
                "SEK",
                state.now() + timedelta(days=30),
                2500,
            )
            pairs.append((voucher_id, contact_id))
    return state, pairs


def engage_agent(tmp: Path, engage_url: str) -> AgentProcess:
    sections = f'[engage]\nbase_url = "{engage_url}"\nprobe_interval = 0.3\nread_timeout = 3.0\n'
    return AgentProcess(tmp, sections, {"POSPLUGIN_ENGAGE_API_KEY": API_KEY})


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("POSPLUGIN_CRASH_SEED", random.randrange(1, 10**6)))
    print(f"crash test seed: {seed} (replay with POSPLUGIN_CRASH_SEED={seed})")
    rng = random.Random(seed)
    state, pairs = seeded_state()
    sim = EngageSimulator(state, api_key=API_KEY).start()
    agent = engage_agent(tmp_path, sim.url)
    agent.start()
    agent.wait_up()
    headers = {"X-POS-Token": TOKEN}
    with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as http:
        for c in range(N_CONTACTS):  # views cached, so vouchers may be queued while offline
            assert http.post("/api/v1/identify", json={"code": f"9{c:06d}"}).status_code == 200

    answers: dict[str, str] = {}
    stop_chaos = threading.Event()

    def chaos() -> None:
        while not stop_chaos.wait(rng.uniform(0.3, 1.0)):
            action = rng.random()
            if action < 0.4:
                agent.kill()
                time.sleep(rng.uniform(0.05, 0.4))
                agent.start()
            elif action < 0.55:
                sim.set_offline(not sim.offline)
            else:
                kind = rng.choice(["reset_after_commit", "gateway_timeout", "error", "reset_before", "latency"])
                sim.faults.add(
                    FaultRule(
                        kind,
                        method="POST" if kind != "latency" else None,
                        path="/redeem$" if kind != "latency" else None,
                        times=rng.randint(1, 5),
                        delay=rng.uniform(0.05, 0.6),
                        status=503,
                    )
                )

    def pos_lane(index: int) -> None:
        voucher_id, contact_id = pairs[index]
        op_id = f"crash-{index}"
        time.sleep(random.Random(seed * 1000 + index).uniform(0, 1.2))  # tills scan at their own pace
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as http:
            while time.monotonic() < deadline:
                try:
                    response = http.post(
                        f"/api/v1/vouchers/{voucher_id}/redeem", json={"contactId": contact_id, "opId": op_id}
                    )
                except httpx.TransportError:
                    time.sleep(0.2)  # the agent is down: the till retries the same opId
                    continue
                assert response.status_code == 200, (seed, op_id, response.text)
                answers[op_id] = response.json()["state"]
                return
        raise AssertionError(f"seed {seed}: {op_id} never got an answer")

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    chaos_thread.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(pos_lane, range(len(pairs))))
    finally:
        stop_chaos.set()
        chaos_thread.join()

    # Heal: network back, faults gone, one last crash and restart, then let the queue drain.
    sim.faults.clear()
    sim.set_offline(False)
    agent.kill()
    agent.start()
    agent.wait_up()
    try:
        with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as http:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                queue = http.get("/api/v1/queue").json()
                if queue["pending"] == 0:
                    break
                time.sleep(0.5)
            assert queue["pending"] == 0, (seed, "stuck", queue["ops"][:5])
            finals = {f"crash-{i}": http.get(f"/api/v1/ops/crash-{i}").json() for i in range(len(pairs))}
    finally:
        agent.stop()
        sim.stop()

    commits = state.redeem_commits
    assert all(n <= 1 for n in commits.values()), (seed, "a voucher was redeemed twice")
    for index, (voucher_id, _) in enumerate(pairs):
        op = finals[f"crash-{index}"]
        assert op["state"] in ("redeemed", "rejected", "conflict"), (seed, op)
        if commits.get(voucher_id):
            assert op["state"] == "redeemed", (seed, "Engage redeemed it but the till does not know", op)
        else:
            assert op["state"] != "redeemed", (seed, "the till thinks it redeemed a voucher Engage did not", op)
    redeemed = sum(1 for op in finals.values() if op["state"] == "redeemed")
    print(
        f"seed {seed}: {agent.kills} kills, {redeemed}/{len(pairs)} redeemed, answers {sorted(set(answers.values()))}"
    )
    assert agent.kills >= 4, "the chaos did not kill the agent often enough to mean anything"
    assert redeemed >= len(pairs) * 0.9
