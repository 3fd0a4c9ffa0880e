"""A POS vendor's view: generate a Python client with openapi-python-client from the document the agent serves,
and drive identify → redeem → op → queue through it against the agent on the simulator."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.vendors.engage.simulator import EngageSimulator
from tests.conftest import RunningAgent

PACKAGE = "posplugin_generated_client"
CARD = "2400000010014"


def generate(agent: RunningAgent, where: Path) -> Any:
    document = where / "openapi.json"
    document.write_bytes(httpx.get(f"{agent.base_url}/openapi.json").content)
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run over the generated code
    generator = Path(sys.executable).with_name("openapi-python-client")
    command = [str(generator), "generate", "--path", str(document), "--output-path", str(where / PACKAGE)]
    done = subprocess.run(
        [*command, "--meta", "none", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr  # every piece was generated
    sys.path.insert(0, str(where))
    importlib.invalidate_caches()
    return importlib.import_module(PACKAGE)


@pytest.fixture
def client_package(tmp_path: Path, running: RunningAgent) -> Any:
    package = generate(running, tmp_path)
    yield package
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def module(package: Any, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_generated_client_identifies_redeems_and_reads_the_queue(
    client_package: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    models = module(client_package, "models")
    client = client_package.AuthenticatedClient(
        base_url=running.base_url, token=running.token, prefix="", auth_header_name="X-POS-Token"
    )
    identify = module(client_package, "api.members.identify_member")
    redeem = module(client_package, "api.vouchers.redeem_voucher")
    get_op = module(client_package, "api.ops.get_op")
    get_queue = module(client_package, "api.ops.get_queue")
    print_test = module(client_package, "api.printing.print_test_page")

    view = identify.sync(client=client, body=models.IdentifyBody(code=CARD))
    assert isinstance(view, models.MemberView), view
    assert view.source == models.MemberViewSource.LIVE and view.vouchers
    voucher = view.vouchers[0]

    op = redeem.sync(
        voucher.id, client=client, body=models.VoucherOpBody(contact_id=view.contact.id, op_id="till3-line1")
    )
    assert isinstance(op, models.OpView), op
    assert op.state == models.OpViewState.REDEEMED and op.voucher_id == voucher.id
    assert sim.state.vouchers[voucher.id].redeemed_on is not None

    again = get_op.sync("till3-line1", client=client)
    assert isinstance(again, models.OpView) and again.state == models.OpViewState.REDEEMED

    queue = get_queue.sync(client=client)
    assert isinstance(queue, models.QueueView) and queue.pending == 0 and queue.ops == []

    # Errors come back typed, with their code.
    unknown = get_op.sync("no-such-op", client=client)
    assert isinstance(unknown, models.ErrorBody) and unknown.error.code == "not_found"
    wrong_token = client_package.AuthenticatedClient(
        base_url=running.base_url, token="wrong", prefix="", auth_header_name="X-POS-Token"
    )
    refused = get_queue.sync_detailed(client=wrong_token)
    assert refused.status_code == 401 and refused.parsed.error.code == "unauthorized"

    # A call without a body is sent without one (and without a Content-Type), and accepted.
    printed = print_test.sync(client=client)
    assert isinstance(printed, models.PrintAnswer) and printed.printed
