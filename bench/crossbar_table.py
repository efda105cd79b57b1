"""Tabulate the ``crossbar-digits`` benchmark problem: real simulator evaluations of a grid.

Evaluates every design of ``optimizer.problems.crossbar_table.TABLE_PARAMS`` with
``simulator.evaluate`` (workload digits-cnn, seed 0) at each tabulated fidelity, one design
per worker process and one torch thread per process, and writes the table (values, measured
wall time ``cost_s`` per evaluation, and where/when it ran) to
``optimizer/problems/data/crossbar_digits_cnn.json``, which the optimizer benchmark reads.

Usage::

    .venv/bin/python bench/crossbar_table.py [--workers 2] [--limit N] [--out PATH]

``--limit N`` tabulates only the first N designs (a smoke run; the problem refuses a partial
table). About 10 s of one core per design on an idle machine, so ~20 min for the 216 designs
on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.problems.crossbar_table import (  # noqa: E402
    COLUMNS,
    DATA_PATH,
    TABLE_FIDELITIES,
    TABLE_FIXED,
    TABLE_PARAMS,
    TABLE_SEED,
    TABLE_WORKLOAD,
    table_designs,
)


def _warm_up() -> None:
    """Run one analytic and one Monte-Carlo evaluation so that one-time costs (workload
    load, lazy initialisation) are not charged to the first tabulated design."""
    import torch

    from simulator import CrossbarConfig, evaluate, get_workload

    torch.set_num_threads(1)
    config = CrossbarConfig.from_params(dict(TABLE_FIXED))
    for z in (0.0, 0.25):
        evaluate(config, get_workload(TABLE_WORKLOAD), z, TABLE_SEED)


def evaluate_design(design: dict[str, Any], fidelities: tuple[float, ...]) -> list[list[Any]]:
    """Rows (design values, then :data:`COLUMNS`) of one design at every fidelity."""
    import torch

    from simulator import CrossbarConfig, evaluate, get_workload

    torch.set_num_threads(1)
    workload = get_workload(TABLE_WORKLOAD)
    config = CrossbarConfig.from_params({**TABLE_FIXED, **design})
    rows = []
    for z in fidelities:
        ev = evaluate(config, workload, z, TABLE_SEED)
        rows.append([*design.values(), z, ev.accuracy, ev.area_mm2, ev.latency_us,
                     ev.energy_uj, ev.cost_s, ev.accuracy_stderr])
    return rows


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def build_table(workers: int, limit: int | None = None,
                fidelities: tuple[float, ...] = TABLE_FIDELITIES) -> dict[str, Any]:
    """Evaluate the grid (the first ``limit`` designs) and return the table dict."""
    designs = table_designs()[:limit]
    t0 = time.perf_counter()
    load_before = _load_average()
    data: list[list[Any]] = []
    names = [p["name"] for p in TABLE_PARAMS]
    k = len(names)  # row layout: design values, then COLUMNS (fidelity first)
    with ProcessPoolExecutor(max_workers=workers, initializer=_warm_up) as pool:
        futs = [pool.submit(evaluate_design, d, fidelities) for d in designs]
        for i, fut in enumerate(as_completed(futs), 1):
            rows = fut.result()
            data.extend(rows)
            costs = ", ".join(f"{r[k + 5]:.2f}" for r in rows)
            design = dict(zip(names, rows[0], strict=False))
            acc = rows[-1][k + 1]
            print(f"[{i}/{len(designs)}] {design} acc@full {acc:.3f} cost_s {costs} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    data.sort(key=lambda r: tuple(r[:k + 1]))
    return {
        "workload": TABLE_WORKLOAD,
        "seed": TABLE_SEED,
        "fixed": TABLE_FIXED,
        "params": TABLE_PARAMS,
        "fidelities": list(fidelities),
        "columns": names + list(COLUMNS),
        "generated": {
            "command": "python bench/crossbar_table.py " + " ".join(sys.argv[1:]),
            "commit": _commit(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.processor()}",
            "python": platform.python_version(),
            "workers": workers,
            "torch_threads_per_worker": 1,
            "load_average_before": load_before,
            "load_average_after": _load_average(),
            "wall_s": round(time.perf_counter() - t0, 1),
        },
        "data": data,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N designs")
    ap.add_argument("--out", type=Path, default=DATA_PATH)
    args = ap.parse_args(argv)
    if args.workers < 1 or (args.limit is not None and args.limit < 1):
        ap.error("--workers and --limit must be >= 1")
    table = build_table(args.workers, args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, separators=(",", ":")))
    tmp.replace(args.out)
    print(f"wrote {args.out} ({len(table['data'])} rows, {table['generated']['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
