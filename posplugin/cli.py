"""The ``posplugin`` command: run, demo, simulator, doctor, secrets, config check."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs

from . import __version__
from .config import Config, ConfigError, config_from_mapping, load_config, replace_section
from .config_layers import load_layers
from .paths import APP_NAME, AgentPaths, resolve_paths
from .printer_target import check_printer_target
from .secret_store import (
    API_TOKEN,
    IMPORT_FOLDER,
    PIN_HASH,
    SECRET_NAMES,
    FileBackend,
    SecretStore,
    SecretStoreError,
    import_pending,
)

DEMO_ENGAGE_PORT = 8790
DEMO_FABRIC_PORT = 8792  # the fabric simulator (control API on port + 1)
DEMO_FABRIC_PORT = 8792
DEMO_API_KEY = "demo-key"
log = logging.getLogger("posplugin")


def user_config_path() -> Path:
    """Where a run without --config looks for (and the settings page saves) its config."""
    env = os.environ.get("POSPLUGIN_CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_config_path() -> Path | None:
    candidate = user_config_path()
    return candidate if candidate.exists() or os.environ.get("POSPLUGIN_CONFIG") else None


def _load(args: argparse.Namespace) -> Config:
    path = Path(args.config) if getattr(args, "config", None) else default_config_path()
    return load_config(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="posplugin", description="Till-side loyalty agent for Voyado Engage")
    parser.add_argument("--version", action="version", version=f"posplugin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent")
    run.add_argument("--config", help="config file (default: $POSPLUGIN_CONFIG or the user config folder)")

    demo = sub.add_parser("demo", help="run the agent on an embedded loyalty simulator with a file printer")
    demo.add_argument(
        "--backend", choices=("engage", "fabric"), default="engage", help="which simulator (default engage)"
    )
    demo.add_argument(
        "--data-dir", default=None, help="where the demo keeps its data (default ./demo-data, ./demo-data-fabric)"
    )
    demo.add_argument("--port", type=int, default=8765)
    demo.add_argument("--engage-port", type=int, default=DEMO_ENGAGE_PORT)
    demo.add_argument("--fabric-port", type=int, default=DEMO_FABRIC_PORT)

    sim = sub.add_parser("simulator", help="run only the Engage simulator")
    sim.add_argument("--port", type=int, default=DEMO_ENGAGE_PORT)
    sim.add_argument("--control-port", type=int, default=None, help="default: port + 1")
    sim.add_argument("--api-key", default=DEMO_API_KEY)
    sim.add_argument("--rate-limit", type=int, default=200, help="requests/s per API key before 429")
    sim.add_argument("--empty", action="store_true", help="start without the demo members")
    sim.add_argument("--bulk-vouchers", type=int, default=0, help="add a member with this many vouchers")

    doctor = sub.add_parser("doctor", help="check config, secrets, Engage, printer and scanner")
    doctor.add_argument("--config")
    doctor.add_argument("--json", action="store_true", help="machine-readable output for monitoring")
    doctor.add_argument("--print-test", action="store_true", help="also print a test page")

    print_test = sub.add_parser("print-test", help="print a test page on the configured printer")
    print_test.add_argument("--config")

    secrets = sub.add_parser("secrets", help="manage the Engage API key, API token and PIN hash")
    secrets.add_argument("--config")
    secrets.add_argument("action", choices=("set", "get", "delete", "status", "import"))
    secrets.add_argument("name", nargs="?", choices=SECRET_NAMES)

    queue = sub.add_parser(
        "queue", help="list, retry, park or resolve queued operations (works with the agent running)"
    )
    queue.add_argument("--config")
    queue.add_argument("action", choices=("list", "retry", "park", "resolve"))
    queue.add_argument("op_id", nargs="?")
    queue.add_argument("--note", help="resolve: how it was settled (required)")
    queue.add_argument("--json", action="store_true")

    points = sub.add_parser("points", help="bulk point adjustments from a CSV file (chunks of 1000)")
    points.add_argument("--config")
    points.add_argument("action", choices=("import",))
    points.add_argument(
        "csv_file",
        help="columns contactId, amount (required), definitionId, description, source, validFrom, validTo, timeStamp",
    )
    points.add_argument("--dry-run", action="store_true", help="check the file, send nothing")
    points.add_argument("--rejected", help="write the rejected rows here (default: FILE.rejected.csv)")

    db = sub.add_parser("db", help="database upkeep for installers: migrate, backup, restore")
    db.add_argument("--config")
    db.add_argument("action", choices=("migrate", "backup", "restore", "version"))
    db.add_argument("file", nargs="?", help="backup file (backup, restore)")

    health = sub.add_parser("health", help="ask the running agent; exit 0 ok, 1 warning, 2 critical, 3 unknown")
    health.add_argument("--config")
    health.add_argument("--json", action="store_true")
    health.add_argument("--warn-age", type=float, default=900, help="oldest waiting op, seconds (default 900)")
    health.add_argument("--crit-age", type=float, default=3600, help="oldest waiting op, seconds (default 3600)")

    check = sub.add_parser("config", help="validate the config file and its conf.d drop-ins, or show the result")
    check.add_argument("action", choices=("check", "show"))
    check.add_argument("--config")
    check.add_argument("--origin", action="store_true", help="show: each key's value and the file it comes from")
    check.add_argument("--json", action="store_true", help="show --origin: as JSON")

    args = parser.parse_args(argv)
    try:
        handler = {
            "run": cmd_run,
            "demo": cmd_demo,
            "simulator": cmd_simulator,
            "doctor": cmd_doctor,
            "print-test": cmd_print_test,
            "secrets": cmd_secrets,
            "queue": cmd_queue,
            "points": cmd_points,
            "db": cmd_db,
            "health": cmd_health,
            "config": cmd_config,
        }[args.command]
        return handler(args)
    except ConfigError as exc:
        print(f"posplugin: config error: {exc}", file=sys.stderr)
        return 2
    except SecretStoreError as exc:
        print(f"posplugin: secrets: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _store(config: Config, paths: AgentPaths | None = None) -> SecretStore:
    return SecretStore((paths or resolve_paths(config)).data_dir, os.environ)


def cmd_run(args: argparse.Namespace) -> int:
    config_path = Path(args.config) if args.config else default_config_path()
    prepare_server(config_path, save_to=config_path or user_config_path()).run()
    return 0


def prepare_server(config_path: Path | None, save_to: Path) -> Any:
    """Config, logging, agent and HTTP server, ready to ``run()``; shared by ``run`` and the Windows service."""
    from .agent import Agent
    from .log_redaction import configure_logging
    from .web.serve import build_server

    layers = load_layers(config_path)
    config = layers.effective
    paths = resolve_paths(config)
    check_printer_target(config, paths, config_path)
    paths.ensure()
    redactor = configure_logging(paths.log_file)
    _require_free_port(config.agent.port)
    agent = Agent(config, paths, _store(config, paths), redactor, config_path=save_to, layers=layers)
    return build_server(agent)


def cmd_demo(args: argparse.Namespace) -> int:
    from .agent import Agent
    from .log_redaction import configure_logging
    from .web.serve import build_server

    backend = args.backend
    data_dir = Path(args.data_dir or ("demo-data" if backend == "engage" else "demo-data-fabric")).resolve()
    sim_port = args.engage_port if backend == "engage" else args.fabric_port
    _require_free_port(args.port)
    _require_free_port(sim_port)
    config_path = data_dir / "config.toml"
    config = _demo_config(config_path, data_dir, args.port, backend, sim_port)
    paths = resolve_paths(config)
    paths.ensure()
    redactor = configure_logging(paths.log_file)
    secrets = SecretStore(data_dir, {}, backend=FileBackend(paths.secrets_file))
    simulator, secret_name, secret, tries = _demo_simulator(backend, sim_port)
    if secrets.get(secret_name) != secret:
        secrets.set(secret_name, secret)  # stored like a real credential, so doctor and the CLI find it
    agent = Agent(config, paths, secrets, redactor, config_path=config_path)
    print(
        f"\n  posplugin demo {__version__} on the {agent.vendor.TITLE} simulator\n"
        f"  Cashier panel:      http://127.0.0.1:{args.port}/\n"
        f"  Settings (manager): http://127.0.0.1:{args.port}/settings (first visit sets the PIN)\n"
        f"  Health:             http://127.0.0.1:{args.port}/api/v1/health\n"
        f"  OpenAPI:            http://127.0.0.1:{args.port}/openapi.json\n"
        f"  {agent.vendor.TITLE} simulator: {simulator.url}\n"
        f"  API token:          {agent.token}\n"
        f"  Receipts go to:     {config.printer.file_path}\n"
        f"  Try a card number:  {tries}\n"
        f"  Stop with Ctrl-C.\n",
        flush=True,
    )
    try:
        build_server(agent).run()
    finally:
        simulator.stop()
    return 0


def _demo_config(config_path: Path, data_dir: Path, port: int, backend: str, sim_port: int) -> Config:
    """The demo's config: kept on disk like a real till's (the settings page saves there, and `posplugin doctor
    --config demo-data/config.toml` checks the demo); the ports and the backend come from the command."""
    from .config_file import write_config

    if config_path.exists():
        config = load_config(config_path)
    else:
        config = config_from_mapping(
            {
                "agent": {
                    "data_dir": str(data_dir),
                    "log_dir": str(data_dir / "logs"),
                    "store_id": "demo-store",
                    "till_id": "till-1",
                    "language": "sv",
                },
                "printer": {"backend": "file", "file_path": str(data_dir / "printer.bin")},
            },
            source=str(config_path),
        )
    config = replace_section(config, "agent", port=port)
    config = replace_section(config, "loyalty", backend=backend)
    if backend == "engage":
        config = replace_section(config, "engage", base_url=f"http://127.0.0.1:{sim_port}")
    else:
        from .vendors.fabric.simulator import DEMO_LOCATION, FabricState

        sim = f"http://127.0.0.1:{sim_port}"
        config = replace_section(
            config,
            "fabric",
            base_url=f"{sim}/api",
            authorization_url=f"{sim}/oauth2/sim",
            client_id=FabricState().client_id,
            location=config.fabric.location or DEMO_LOCATION,
        )
    if not config_path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_config(config_path, config)
    return config


def _demo_simulator(backend: str, port: int) -> tuple[Any, str, str, str]:
    """(the running simulator, the secret's name, its value, what to scan)."""
    if backend == "engage":
        from .secret_store import ENGAGE_API_KEY
        from .vendors.engage.simulator import EngageSimulator, SimState, seed_demo_data

        engage = EngageSimulator(seed_demo_data(SimState()), api_key=DEMO_API_KEY, port=port, control_port=port + 1)
        return engage.start(), ENGAGE_API_KEY, DEMO_API_KEY, "2400000010014 (Åsa Öberg), 1000003 (Märta Lindqvist)"
    from .secret_store import FABRIC_CLIENT_SECRET
    from .vendors.fabric.simulator import FabricSimulator, FabricState
    from .vendors.fabric.simulator import seed_demo_data as seed_fabric

    state = seed_fabric(FabricState())
    fabric = FabricSimulator(state, port=port, control_port=port + 1).start()
    return fabric, FABRIC_CLIENT_SECRET, state.client_secret, "8800000000011 (Anna Lind), 8800000000029 (Erik Berg)"


def cmd_simulator(args: argparse.Namespace) -> int:
    from .vendors.engage.simulator import EngageSimulator, SimState, seed_bulk_vouchers, seed_demo_data

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = seed_bulk_vouchers(SimState() if args.empty else seed_demo_data(SimState()), args.bulk_vouchers)
    control = args.control_port if args.control_port is not None else args.port + 1
    simulator = EngageSimulator(
        state, api_key=args.api_key, port=args.port, control_port=control, rate_limit_per_second=args.rate_limit
    ).start()
    print(f"Engage simulator on {simulator.url} (control {simulator.control_url}); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        simulator.stop()


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import as_json, run_checks

    config = _load(args)
    paths = resolve_paths(config)
    checks = run_checks(config, paths, _store(config, paths), print_test=args.print_test)
    if args.json:
        print(json.dumps(as_json(checks), indent=2))
    else:
        for check in checks:
            print(check.line())
    return 0 if all(c.ok for c in checks) else 1


def cmd_print_test(args: argparse.Namespace) -> int:
    from .doctor import test_print

    check = test_print(_load(args), resolve_paths(_load(args)))
    print(check.line())
    return 0 if check.ok else 1


def cmd_secrets(args: argparse.Namespace) -> int:
    config = _load(args)
    store = _store(config)
    if args.action == "status":
        for name in SECRET_NAMES:
            source = store.source(name)
            print(f"{name:<15} {'set' if source.present else 'missing':<8} {source.backend}")
        return 0
    if args.action == "import":
        folder = resolve_paths(config).data_dir / IMPORT_FOLDER
        names = import_pending(store, folder)
        print(f"imported: {', '.join(names)}" if names else f"nothing to import in {folder}")
        return 0
    if args.name is None:
        print("posplugin secrets: name the secret (engage-api-key, api-token, pin-hash)", file=sys.stderr)
        return 2
    if args.action == "set":
        # Never from argv: command lines end up in shell history and process listings.
        value = getpass.getpass(f"{args.name}: ") if sys.stdin.isatty() else sys.stdin.readline()
        value = value.strip()
        if args.name == PIN_HASH:
            # IT gives the PIN itself; only its slow hash is stored (the settings page then asks for it).
            from .manager_pin import hash_pin, pin_problem

            problem = pin_problem(value)
            if problem:
                print(f"posplugin secrets: {problem}", file=sys.stderr)
                return 2
            value = hash_pin(value)
        store.set(args.name, value)
        print(f"{args.name} stored ({store.backend.name})")
        return 0
    if args.action == "get":
        if args.name != API_TOKEN:
            print(
                f"posplugin secrets: {args.name} is write-only; use `secrets status` to see if it is set",
                file=sys.stderr,
            )
            return 2
        value = store.get(API_TOKEN)
        if not value:
            print("posplugin secrets: no api-token yet; start the agent once or set one", file=sys.stderr)
            return 1
        print(value)
        return 0
    removed = store.delete(args.name)
    print(f"{args.name} {'deleted' if removed else 'was not set'}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    import asyncio

    from .database import Database
    from .loyalty.kinds import op_view, public_state
    from .outbox.store import OpStateError, OutboxStore

    config = _load(args)
    paths = resolve_paths(config)
    if not paths.database.exists():
        print("posplugin queue: no database yet (the agent has not run here)", file=sys.stderr)
        return 1
    if args.action != "list" and not args.op_id:
        print(f"posplugin queue {args.action}: give the opId", file=sys.stderr)
        return 2
    note = " ".join((args.note or "").split())
    if args.action == "resolve" and not note:
        print('posplugin queue resolve: say how it was settled with --note "…"', file=sys.stderr)
        return 2
    db = Database(paths.database)
    store = OutboxStore(db, config.offline.max_attempts, config.offline.park_after_hours * 3600)

    async def run() -> int:
        if args.action == "list":
            ops = await store.listing()
            if args.json:
                print(json.dumps({**(await store.counts()), "ops": [op_view(op) for op in ops]}, indent=2))
                return 0
            if not ops:
                print("queue empty")
            for op in ops:
                age = time.time() - op.created_at
                print(f"{op.op_id:<38} {op.kind:<20} {public_state(op):<9} {op.reason or '':<20} {age / 60:7.1f} min")
            return 0
        existing = await store.get(args.op_id)
        if existing is None:
            print(f"posplugin queue: no operation {args.op_id}", file=sys.stderr)
            return 1
        now = time.time()
        try:
            if args.action == "resolve":
                op = await store.resolve(args.op_id, note, now)
            else:
                op = await (store.retry if args.action == "retry" else store.park)(args.op_id, now)
        except OpStateError as exc:
            hint = {"retry": "parked or waiting", "park": "waiting", "resolve": "parked or conflict"}[exc.action]
            print(
                f"posplugin queue {exc.action}: {args.op_id} is {public_state(exc.op)}; only {hint} ops",
                file=sys.stderr,
            )
            return 1
        print(f"{op.op_id}: {public_state(op)}{' (' + op.reason + ')' if op.reason else ''}")
        return 0

    try:
        return asyncio.run(run())
    finally:
        db.close()


def cmd_points(args: argparse.Namespace) -> int:
    import asyncio
    import csv
    import hashlib

    from .secret_store import ENGAGE_API_KEY
    from .vendors.engage import EngageClient, user_agent
    from .vendors.engage.point_adjustments import ImportReport, import_rows, parse_csv

    config = _load(args)
    source = Path(args.csv_file)
    try:
        text = source.read_text(encoding="utf-8-sig")
        rows, refused = parse_csv(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"posplugin points: {source}: {exc}", file=sys.stderr)
        return 2
    report = ImportReport(rejected=list(refused))
    if not args.dry_run and rows:
        api_key = _store(config).get(ENGAGE_API_KEY)
        if not api_key:
            print("posplugin points: no Engage API key; run `posplugin secrets set engage-api-key`", file=sys.stderr)
            return 2

        async def send() -> None:
            agent = user_agent(config.agent.store_id, config.agent.till_id, "bulk-import")
            async with EngageClient(config.engage.base_url, api_key, agent=agent) as client:
                await import_rows(client, rows, report, hashlib.sha256(text.encode()).hexdigest())

        asyncio.run(send())
    else:
        report.rows = len(rows)
    total = report.rows + len(refused)
    verb = "would send" if args.dry_run else f"sent in {report.chunks_sent} chunk(s), accepted"
    print(f"{source}: {total} row(s); {verb} {report.rows if args.dry_run else report.accepted}")
    if report.failed_chunk:
        first, last = report.failed_chunk
        print(f"  chunk with CSV lines {first}-{last} got no clear answer: check those in Engage before re-running")
        if report.not_sent:
            print(f"  CSV lines {report.not_sent[0]}-{report.not_sent[1]} were not sent")
    if report.rejected:
        out = Path(args.rejected) if args.rejected else source.with_suffix(".rejected.csv")
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "reason"])
            writer.writerows([[r.line, r.reason] for r in sorted(report.rejected, key=lambda r: r.line)])
        print(f"  {len(report.rejected)} row(s) rejected; lines and reasons in {out}")
        for row in sorted(report.rejected, key=lambda r: r.line)[:10]:
            print(f"    line {row.line}: {row.reason}")
    return 0 if report.ok else 1


def cmd_db(args: argparse.Namespace) -> int:
    """Installer steps around an upgrade. ``migrate`` runs the new version's migrations; ``backup`` copies the
    database consistently (SQLite's backup API, safe with WAL); ``restore`` puts a backup back (agent stopped)."""
    import shutil
    import sqlite3

    from .database import MIGRATIONS, DatabaseError, open_connection, schema_version

    paths = resolve_paths(_load(args))
    database = paths.database
    if args.action in ("backup", "restore") and not args.file:
        print(f"posplugin db {args.action}: give the backup file", file=sys.stderr)
        return 2
    if args.action == "version":
        current = schema_version(sqlite3.connect(database)) if database.exists() else 0
        print(f"{database}: schema {current}; this posplugin knows {len(MIGRATIONS)}")
        return 0
    if args.action == "backup":
        if not database.exists():
            print(f"{database}: no database yet; nothing to back up")
            return 0
        target = Path(args.file)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        source, copy = sqlite3.connect(database), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        target.chmod(0o600)
        print(f"backed up {database} to {target}")
        return 0
    if args.action == "restore":
        # A new file renamed into place, never a rewrite of the old one: a process that still has the old file
        # open (and its WAL) must not be able to checkpoint stale pages into the restored database.
        staged = database.with_name(database.name + ".restoring")
        shutil.copy2(args.file, staged)
        with staged.open("rb+") as handle:
            os.fsync(handle.fileno())
        for suffix in ("-wal", "-shm"):
            Path(str(database) + suffix).unlink(missing_ok=True)
        os.replace(staged, database)
        print(f"restored {database} from {args.file}")
        return 0
    try:
        conn = open_connection(database)
    except DatabaseError as exc:
        print(f"posplugin db migrate: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"{database}: schema {schema_version(conn)}")
    finally:
        conn.close()
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Nagios-style exit codes for fleet monitoring, from the running agent's health endpoint."""
    from .doctor import agent_health
    from .health_levels import LEVELS, Thresholds, assess

    config = _load(args)
    health = agent_health(config, timeout=5)
    if health is None:
        print(f"UNKNOWN: the agent does not answer on 127.0.0.1:{config.agent.port}")
        return 3
    queue = health.get("queue", {})
    code, problems = assess(health, Thresholds(args.warn_age, args.crit_age))
    if args.json:
        print(json.dumps({"exitCode": code, "problems": problems, "health": health}, indent=2))
    else:
        word = LEVELS[code].upper()
        detail = "; ".join(problems) or "all well"
        print(
            f"{word}: posplugin {health.get('version')} up {health.get('uptimeSeconds')} s, engage "
            f"{health.get('engage')}, queue {queue.get('pending', 0)} waiting — {detail}"
        )
    return code


def cmd_config(args: argparse.Namespace) -> int:
    from .config_show import check_lines, origin_json, origin_lines

    path = Path(args.config) if args.config else default_config_path()
    layers = load_layers(path)
    config = layers.effective
    check_printer_target(config, resolve_paths(config), path)
    if args.action == "check":
        print("\n".join(check_lines(layers)))
        return 0
    if args.origin:
        print(json.dumps(origin_json(layers), indent=2, ensure_ascii=False) if args.json else origin_lines(layers))
        return 0
    print(json.dumps(dataclasses.asdict(config), indent=2, ensure_ascii=False))
    return 0


def _require_free_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: connections left in TIME_WAIT by a killed agent must not block its restart.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ConfigError(f"port {port} on 127.0.0.1 is already in use (another posplugin running?)") from None
