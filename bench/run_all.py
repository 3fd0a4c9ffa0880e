"""`make bench`: run every benchmark, print one table, write it as JSON for comparing versions."""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Figure

BENCHES = [
    "bench.bench_footprint",
    "bench.bench_identify",
    "bench.bench_redemption",
    "bench.bench_printing",
    "bench.bench_fleet",
]


def main() -> int:
    figures: list[Figure] = []
    started = time.monotonic()
    for name in BENCHES:
        module = importlib.import_module(name)
        print(f"running {name} …", flush=True)
        figures.extend(module.run())
    print()
    width = max([58, *(len(f.name) for f in figures)])
    print(f"{'figure':<{width}} {'median':>10} {'p99':>10} {'unit':<5} {'target':<22} {'ok':<4} note")
    for f in figures:
        p99 = "" if f.p99 is None else f"{f.p99:g}"
        ok = "" if f.ok is None else ("yes" if f.ok else "MISS")
        print(f"{f.name:<{width}} {f.value:>10g} {p99:>10} {f.unit:<5} {f.target:<22} {ok:<4} {f.note}")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nmachine: {machine}; took {time.monotonic() - started:.0f} s")
    out = Path(__file__).resolve().parent / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "figures": [f.as_dict() for f in figures]}, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
