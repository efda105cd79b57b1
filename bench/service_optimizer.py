"""Service-level optimizer benchmark: real crossbar studies through the REST API, HV vs wall time.

Each run is README's crossbar study (digits-cnn, the default search space, ``read_sigma`` 0.02,
accuracy >= 0.5 (threshold, reference 0.5) against energy per inference (reference 0.05 µJ),
parallelism 2) submitted with ``POST /api/v1/studies`` to a service on 127.0.0.1 over a fresh
SQLite database: ``xbar serve`` as a subprocess (its LocalCluster of worker processes) or, with
``--server inprocess``, uvicorn in a thread with a thread-worker Dask engine (what the tests
use). Methods run one study at a time, seeds in the outer loop and the method order rotated per
seed so that load drifts on a shared machine spread over methods. A short unreported warm-up
study runs first (imports, workload training and the workers' caches are not charged to the
first method).

A study still running 60 s after its wall budget is cancelled: its trials still running then
fail ("study cancelled", counted in ``n_failed``) and are not part of its curve.

Cost is wall time: a trial's time is ``completed_at - study.started_at`` [s]. The curve of a
run is the hypervolume of its evaluated front (full-fidelity results that meet the thresholds,
the study's fixed reference point) after each completed trial, so it never decreases; the
service's own final hypervolume is reported beside it as a check. ``time_to_90pct_s`` is the
first time a run's curve reaches 90% of the best final hypervolume over all methods and seeds
(``null``: never within its budget); per method the median over seeds counts a miss as
infinitely late (``null`` when the median seed missed).

Run: ``nice -n 0 .venv/bin/python -m bench.service_optimizer --max-trials 20 --max-wall-s 200``
-> ``bench/results/service_optimizer.json`` and ``.png``. ``--quick``: 3 trials per study on a
fidelity range of ``[0, 0.04]`` (the analytic tier only), cf-mesmo and sobol, seed 0.
``--fidelity-high F`` searches fidelities ``[0, F]`` (target ``F``) for a machine on which
full-fidelity evaluations do not fit the wall budget.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import torch

from app.migrate import upgrade
from app.problems.crossbar import default_params
from bench.load import free_port, wait_until
from bench.mitigation_cli import code_state
from optimizer.pareto import hypervolume

RESULTS = Path(__file__).parent / "results"
API = "/api/v1"
METHODS = ("cf-mesmo", "momf", "qnehvi", "sobol", "cf-mesmo-no-overhead", "cf-mesmo-time")
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "cf-mesmo-no-overhead": ("cf-mesmo", {"proposal_overhead": "none"}),
    "cf-mesmo-time": ("cf-mesmo", {"budget_pricing": "time"})}
"""Labels run as another method with options, not in the goal's comparison: cf-mesmo without
proposal time in its costs (before 2026-12-06), or priced by time alone (before 2026-12-08)."""
OBJECTIVES: list[dict[str, Any]] = [
    {"name": "accuracy", "direction": "maximize", "ref_point": 0.5, "threshold": 0.5},
    {"name": "energy_uj", "direction": "minimize", "ref_point": 0.05},
]
"""README's crossbar objectives: accuracy (fraction) and energy per inference [µJ]."""
TARGET_SHARE = 0.9
FINAL = {"completed", "failed", "cancelled"}
QUICK_FIDELITY_RANGE = [0.0, 0.04]
"""``--quick``: every fidelity below the crossbar studies' ``analytic_below`` (0.05)."""


def study_definition(
    method: str,
    seed: int,
    max_trials: int,
    max_wall_s: float,
    fidelity_range: list[float] | None = None,
) -> dict[str, Any]:
    """README's crossbar study for ``method`` and ``seed`` under a trial and a wall budget [s];
    ``fidelity_range`` replaces the default space's ``[0, 1]`` (its top is the target)."""
    problem: dict[str, Any] = {
        "name": "crossbar",
        "workload": "digits-cnn",
        "fixed": {"read_sigma": 0.02},
    }
    if fidelity_range is not None:
        problem["search_space"] = {"params": default_params(), "fidelity_range": fidelity_range}
    return {
        "name": f"service-{method}-s{seed}",
        "problem": problem,
        "objectives": OBJECTIVES,
        "optimizer": dict(zip(("method", "options"), VARIANTS.get(method, (method, {})),
                              strict=True)),
        "budget": {"max_trials": max_trials, "max_wall_s": max_wall_s},
        "parallelism": 2,
        "seed": seed,
    }


@contextmanager
def service(kind: str, workdir: Path, workers: int) -> Iterator[str]:
    """A service on a fresh migrated SQLite database under ``workdir``; yields its base URL.
    ``kind``: ``subprocess`` (``xbar serve``, worker processes) or ``inprocess``."""
    url = f"sqlite:///{workdir / 'service.db'}"
    upgrade(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        return httpx.get(base + "/healthz", timeout=2).status_code == 200

    if kind == "subprocess":
        env = {
            **os.environ,
            "XBAR_DATABASE_URL": url,
            "XBAR_HOST": "127.0.0.1",
            "XBAR_PORT": str(port),
            "XBAR_AUTH": "off",
            "XBAR_DASK_WORKERS": str(workers),
        }
        xbar = Path(sys.executable).with_name("xbar")
        with (workdir / "serve.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(xbar), "serve", "--no-migrate"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until(healthy, 180, "xbar serve answering /healthz")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        return
    import uvicorn

    from app.core.config import Settings
    from app.execution.engine import DaskEngine
    from app.main import create_app

    engine = DaskEngine(None, n_workers=workers, processes=False)
    app = create_app(Settings(database_url=url, poll_interval_s=0.05), engine=engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(healthy, 60, "the in-process server answering /healthz", 0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(30)
        engine.close()


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def run_study(client: httpx.Client, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Submit ``body``, wait for a final state (cancelling it after ``timeout_s``), and return
    the study and all its trials as the API shows them."""
    r = client.post(f"{API}/studies", json=body)
    r.raise_for_status()
    sid = r.json()["id"]
    end = time.monotonic() + timeout_s
    while True:
        study = client.get(f"{API}/studies/{sid}").json()
        if study["state"] in FINAL:
            break
        if time.monotonic() > end:
            client.post(f"{API}/studies/{sid}:cancel")
            end = time.monotonic() + 60
            timeout_s = float("inf")
        time.sleep(0.5)
    trials: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.get(
            f"{API}/studies/{sid}/trials",
            params={"limit": 500, **({"cursor": cursor} if cursor else {})},
        ).json()
        trials += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    return {"study": study, "trials": trials}


def stored_suggestions(db: Path, study_id: int) -> dict[int, dict[str, Any]]:
    """Trial number -> the method's stored suggestion extras (``phase``, ``suggest_s`` [s]),
    read from the service's SQLite file (the API does not publish them)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT number, suggestion FROM trials WHERE study_id = ?",
                           (study_id,)).fetchall()
    return {n: (json.loads(s or "{}").get("extras") or {}) for n, s in rows}


def hv_curve(study: dict[str, Any], trials: list[dict[str, Any]],
             extras: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Evaluated-front hypervolume after each completed trial, in completion order.

    Returns:
        One ``{"t_s", "trial", "fidelity", "full", "values", "hv", "created_s", "started_s",
        "cost_s", "origin", "params", "phase", "suggest_s"}`` per completed trial: ``t_s`` [s]
        since the study started (``created_s``, ``started_s``: its insertion and start),
        ``full`` whether it is a full-fidelity result meeting every threshold (the front's),
        ``values`` its objectives, ``hv`` (accuracy x µJ) of the front so far, ``cost_s`` its
        evaluation time, ``phase`` and ``suggest_s`` [s] from ``extras`` (``None`` without).
    """
    names = [o["name"] for o in study["objectives"]]
    dirs = [o["direction"] for o in study["objectives"]]
    ref = study["reference_point"]
    t0 = _time(study["started_at"])
    done = sorted(
        (t for t in trials if t["state"] == "completed" and t["values"]),
        key=lambda t: t["completed_at"],
    )
    front: list[list[float]] = []
    out = []
    for t in done:
        full = t["fidelity"] >= study["target_fidelity"] - 1e-9 and all(
            o.get("threshold") is None or (1.0 if o["direction"] == "maximize" else -1.0)
            * (t["values"][o["name"]] - o["threshold"]) >= 0 for o in study["objectives"])
        if full:
            front.append([float(t["values"][n]) for n in names])
        hv = hypervolume(torch.tensor(front, dtype=torch.double), dirs, ref) if front else 0.0
        ex = (extras or {}).get(t["number"], {})
        since = {k: round((_time(t[f"{k}_at"]) - t0).total_seconds(), 3)
                 for k in ("completed", "created", "started")}
        out.append({
            "t_s": since["completed"], "trial": t["number"],
            "fidelity": round(float(t["fidelity"]), 4), "full": full,
            "values": {n: float(t["values"][n]) for n in names}, "hv": hv,
            "created_s": since["created"], "started_s": since["started"],
            "cost_s": round(float(t["cost_s"]), 3), "origin": t.get("origin"),
            "params": t["params"], "phase": ex.get("phase"),
            "suggest_s": round(ex["suggest_s"], 3) if "suggest_s" in ex else None,
        })
    return out


def time_to(curve: list[dict[str, Any]], level: float) -> float | None:
    """First ``t_s`` of ``curve`` whose ``hv`` is at least ``level`` (``None``: never)."""
    return next((p["t_s"] for p in curve if p["hv"] >= level and p["hv"] > 0), None)


def median_or_none(times: list[float | None]) -> float | None:
    """Median with a miss (``None``) as infinitely late; ``None`` if the median is a miss or
    ``times`` is empty."""
    if not times:
        return None
    m = statistics.median([float("inf") if t is None else t for t in times])
    return None if m == float("inf") else round(m, 3)


def summarize(runs: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Adds ``time_to_90pct_s`` to each run; per method the medians."""
    best = max((r["final_hv"] for r in runs), default=0.0)
    level = TARGET_SHARE * best
    for r in runs:
        r["time_to_90pct_s"] = time_to(r["curve"], level) if best > 0 else None
    per_method = {}
    for m in methods:
        mine = [r for r in runs if r["method"] == m]
        per_method[m] = {
            "seeds": [r["seed"] for r in mine],
            "time_to_90pct_s": [r["time_to_90pct_s"] for r in mine],
            "median_time_to_90pct_s": median_or_none([r["time_to_90pct_s"] for r in mine]),
            "n_reached": sum(r["time_to_90pct_s"] is not None for r in mine),
            "final_hv": [r["final_hv"] for r in mine],
            "median_final_hv": statistics.median([r["final_hv"] for r in mine]) if mine else None,
            "median_wall_s": statistics.median([r["wall_s"] for r in mine]) if mine else None,
            "median_first_hv_trial": median_or_none([r["first_hv_trial"] for r in mine]),
        }
    medians = {m: v["median_time_to_90pct_s"] for m, v in per_method.items()}
    cf = medians.get("cf-mesmo")
    others = [v for m, v in medians.items() if m != "cf-mesmo" and m not in VARIANTS]
    goal = (cf is not None and all(o is None or cf < o for o in others)) if others else None
    return {
        "best_final_hv": best,
        "target_hv": level,
        "per_method": per_method,
        "cf_mesmo_fastest_to_90pct": goal,
    }


def tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and its live descendants (the service,
    its Dask workers)."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            c = proc.cpu_times()
            total += c.user + c.system
    return total


def one_run(
    client: httpx.Client,
    method: str,
    seed: int,
    a: argparse.Namespace,
    fidelity_range: list[float] | None,
    db: Path,
) -> dict[str, Any]:
    """One study of ``method`` and ``seed`` on the service whose SQLite file is ``db``."""
    body = study_definition(method, seed, a.max_trials, a.max_wall_s, fidelity_range)
    load0, cpu0, t0 = os.getloadavg()[0], tree_cpu_s(), time.perf_counter()
    got = run_study(client, body, a.max_wall_s + 60)
    wall, cpu = time.perf_counter() - t0, tree_cpu_s() - cpu0
    study = got["study"]
    curve = hv_curve(study, got["trials"], stored_suggestions(db, study["id"]))
    first = next((p for p in curve if p["hv"] > 0), None)
    return {
        "method": method,
        "seed": seed,
        "state": study["state"],
        "n_completed": study["n_completed"],
        "n_failed": study["n_failed"],
        "n_full_fidelity": sum(p["fidelity"] >= study["target_fidelity"] - 1e-9 for p in curve),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 1),
        "load_1min": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "suggest_s": round(sum({p["suggest_s"] or 0.0 for p in curve}), 2),  # one per call
        "total_cost_s": round(study["total_cost_s"], 3),
        "final_hv": curve[-1]["hv"] if curve else 0.0,
        "service_hypervolume": study["hypervolume"],
        "first_hv_trial": first["trial"] + 1 if first else None,
        "first_hv_s": first["t_s"] if first else None,
        "curve": curve,
    }


def plot(
    runs: list[dict[str, Any]], summary: dict[str, Any], path: Path, target_fidelity: float
) -> None:
    """Evaluated HV against wall time, one colour per method, one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = dict(zip(METHODS, ("C3", "C0", "C2", "C7", "C1", "C5"), strict=True))
    for r in runs:
        xs = [0.0] + [p["t_s"] for p in r["curve"]]
        ys = [0.0] + [p["hv"] for p in r["curve"]]
        first = r["seed"] == min(x["seed"] for x in runs if x["method"] == r["method"])
        label = r["method"] if first else None
        ax.step(xs, ys, where="post", color=colours.get(r["method"], "k"), alpha=0.8, label=label)
    if summary["best_final_hv"] > 0:
        ax.axhline(summary["target_hv"], color="k", ls=":", lw=1, label="90% of best final")
    ax.set_xlabel("wall time since study start [s]")
    ax.set_ylabel("evaluated HV (accuracy x µJ)")
    ax.set_title(f"digits-cnn crossbar studies via the REST API, target fidelity "
                 f"{target_fidelity:g}\n(shared 2-core machine)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS[:4]))
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2")
    p.add_argument("--max-trials", type=int, default=None,
                   help="per study (default 20; --quick: 3)")
    p.add_argument("--max-wall-s", type=float, default=200.0, help="per study [s]")
    p.add_argument("--fidelity-high", type=float, default=None,
                   help="top of the studies' fidelity range, the target fidelity (default 1; "
                   "--quick: 0.04, the analytic tier)")
    p.add_argument("--server", choices=["subprocess", "inprocess"], default="subprocess")
    p.add_argument("--workers", type=int, default=2, help="Dask workers of the service")
    p.add_argument("--quick", action="store_true",
                   help="3 trials, analytic-tier fidelities, cf-mesmo and sobol, seed 0, "
                   "in-process server, no warm-up")
    p.add_argument("--out", type=Path, default=RESULTS / "service_optimizer.json")
    a = p.parse_args(argv)
    if a.fidelity_high is not None and not 0 < a.fidelity_high <= 1:
        p.error("--fidelity-high must be in (0, 1]")
    fidelity_range = None if a.fidelity_high in (None, 1.0) else [0.0, a.fidelity_high]
    if a.quick:
        a.max_trials, a.seeds, a.server = a.max_trials or 3, a.seeds or [0], "inprocess"
        a.methods = [m for m in a.methods if m in ("cf-mesmo", "sobol")] or ["cf-mesmo"]
        a.max_wall_s = min(a.max_wall_s, 60.0)
        fidelity_range = fidelity_range or QUICK_FIDELITY_RANGE
    a.max_trials, a.seeds = a.max_trials or 20, a.seeds or [0, 1, 2]
    if a.max_trials < 2 or a.max_wall_s <= 0:
        p.error("--max-trials must be >= 2 and --max-wall-s positive")
    runs: list[dict[str, Any]] = []
    t_all, a.code_state = time.perf_counter(), code_state(("optimizer/", "app/", "simulator/"))
    with (
        tempfile.TemporaryDirectory() as d,
        service(a.server, Path(d), a.workers) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        if not a.quick:
            run_study(client, study_definition("sobol", 99, 2, 120, QUICK_FIDELITY_RANGE), 240)
        for i, seed in enumerate(a.seeds):
            k = i % len(a.methods)
            for method in a.methods[k:] + a.methods[:k]:
                r = one_run(client, method, seed, a, fidelity_range, Path(d) / "service.db")
                print(json.dumps({x: r[x] for x in r if x != "curve"}), flush=True)
                runs.append(r)
                write(a, runs, fidelity_range, time.perf_counter() - t_all)  # so far
    write(a, runs, fidelity_range, time.perf_counter() - t_all, png=True)
    return 0


def write(a: argparse.Namespace, runs: list[dict[str, Any]],
          fidelity_range: list[float] | None, wall_s: float, png: bool = False) -> None:
    """Writes the JSON of ``runs`` (and the PNG when ``png``) to ``a.out``."""
    summary = summarize(runs, a.methods)
    out = {
        "problem": "crossbar, digits-cnn, default search space, read_sigma 0.02",
        "objectives": OBJECTIVES,
        "parallelism": 2,
        "fidelity_range": fidelity_range or [0.0, 1.0],
        "budget": {"max_trials": a.max_trials, "max_wall_s": a.max_wall_s},
        "warmup": None if a.quick else "sobol, 2 trials, analytic tier (unreported)",
        "server": "xbar serve subprocess, LocalCluster of worker processes"
        if a.server == "subprocess" else "in-process uvicorn, Dask thread workers",
        "workers": a.workers,
        "database": "SQLite",
        "quick": a.quick,
        "cost": "wall time [s] from study start to trial completion",
        "load": "measured on a shared 2-core machine (other engineers' jobs running; "
        "wall times carry their load)",
        "total_wall_s": round(wall_s, 1), "code_state": getattr(a, "code_state", None),
        **summary,
        "runs": runs,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    if png:
        plot(runs, summary, a.out.with_suffix(".png"), out["fidelity_range"][1])


if __name__ == "__main__":
    raise SystemExit(main())
