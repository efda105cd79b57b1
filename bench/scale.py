"""Driver scale benchmark: dispatch + record cost per trial as a study grows.

A ``random`` study of the closed-form ``branin-currin`` problem (evaluations take microseconds,
so what is timed is the service: suggest, insert, claim, submit, record, Pareto update) with
parallelism 64 runs on a Dask LocalCluster of thread workers (``DaskEngine(processes=False)``,
the same engine the service starts without ``XBAR_DASK_SCHEDULER``) against a fresh database
per run: a temporary SQLite file, or a new PostgreSQL database created on the server of
``XBAR_TEST_POSTGRES_URL`` and dropped afterwards. The driver's steps follow each other as in
the service's loop: the next one as soon as something submitted finished
(``StudyDriver.wait_for_work``), the default poll period at most. Besides the whole-run rate,
the completion count is sampled after every
step so the cost of the first and the last 10% of trials of one run can be compared
(flatness within a study, free of run-to-run load differences), and the process's CPU time
per trial is reported beside the wall time. An unreported warm-up study (``--warmup``
trials) runs first, so imports and Dask's start are not charged to the first size. The
machine's 1-minute load average is recorded before and after each run. On PostgreSQL the
server's own CPU time for the run's database is reported too (``server_cpu_per_trial_ms``,
read from ``/proc`` of its backend processes: the server must run on this machine): SQLite
does that work inside this process, so only CPU time of both together compares the backends.

Run: ``nice -n 10 .venv/bin/python -m bench.scale --sizes 1000 10000 --repeats 3 --backends
sqlite pg`` -> ``bench/results/scale.json`` (every run, and per backend and size the median,
min and max over the repeats) and ``scale.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.db import Database
from app.execution.driver import StudyDriver
from app.execution.engine import DaskEngine
from app.migrate import upgrade
from app.models import Study, StudyState, Trial
from app.schemas.study import StudyCreate
from app.services.studies import create_study

RESULTS = Path(__file__).parent / "results"
PARALLELISM = 64
PG_ENV = "XBAR_TEST_POSTGRES_URL"


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A migrated, empty database for one run; its URL. ``backend``: ``sqlite`` or ``pg``."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            url = f"sqlite:///{d}/scale.db"
            upgrade(url)
            yield url
        return
    base = os.environ.get(PG_ENV)
    if not base:
        raise SystemExit(f"backend pg needs {PG_ENV} (a PostgreSQL URL)")
    name = f"xbar_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_cpu_s(db: Database) -> dict[int, float]:
    """CPU time (user + system) [s] so far of each PostgreSQL backend process serving the
    database of ``db``, by pid, read from ``/proc/<pid>/stat``; empty for SQLite (its work runs
    in this process) or when the server's processes are not readable here."""
    if not db.is_postgres:
        return {}
    with db.session() as s:
        pids = s.scalars(text("SELECT pid FROM pg_stat_activity "
                              "WHERE datname = current_database()")).all()
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime [ticks]
    return out


def study_definition(n_trials: int, seed: int = 1) -> dict[str, Any]:
    """The benchmarked study: ``random`` on branin-currin, parallelism 64, ``n_trials``."""
    return {"name": f"scale-{n_trials}", "problem": {"name": "branin-currin"},
            "optimizer": {"method": "random"}, "budget": {"max_trials": n_trials},
            "parallelism": PARALLELISM, "seed": seed}


def run_once(backend: str, n_trials: int, engine: DaskEngine,
             timeout_s: float) -> dict[str, Any]:
    """Drive one fresh study of ``n_trials`` to completion (or ``timeout_s``) and time it.

    Returns:
        ``n_trials`` asked, ``n_completed`` (counted from the ``trials`` rows), ``wall_s``,
        ``trials_per_s``, ``per_trial_ms`` (whole run), ``cpu_per_trial_ms`` (CPU time of
        this process, driver, scheduler and thread workers together, per trial: less
        sensitive than wall time to other load on the machine), ``driver_cpu_per_trial_ms``
        (the part spent in this thread: the driver's steps and the completion count; the rest
        is Dask's scheduler and the workers: evaluation, suggest calls),
        ``server_cpu_per_trial_ms`` (PostgreSQL only, else ``None``: the server processes of
        the run's database; a connection closed during the run is not counted),
        ``first_10pct_ms`` and ``last_10pct_ms`` (per-trial cost of the first and last tenth
        of completions) and ``completed`` (whether the study reached ``completed``).
    """
    load0 = os.getloadavg()[0]
    with fresh_database(backend) as url:
        db = Database(url)
        settings = Settings(database_url=url)  # the service's default poll period
        with db.session() as s:
            sid = create_study(s, StudyCreate(**study_definition(n_trials)), None).id
        driver = StudyDriver(db, engine, settings)
        server0 = server_cpu_s(db)
        samples: list[tuple[float, int]] = []
        cpu0, driver_cpu0 = time.process_time(), time.thread_time()
        t0 = time.perf_counter()
        state = StudyState.CREATED
        while time.perf_counter() - t0 < timeout_s:
            driver.step()  # then wait as the service's loop does: until something finished
            driver.wait_for_work(settings.poll_interval_s)
            with db.session() as s:  # two columns: the sampling stays cheap
                state, done = s.execute(select(Study.state, Study.n_completed)
                                        .where(Study.id == sid)).one()
            samples.append((time.perf_counter() - t0, done))
            if state not in (StudyState.CREATED, StudyState.RUNNING):
                break
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        driver_cpu = time.thread_time() - driver_cpu0
        server1 = server_cpu_s(db)
        server = sum(v - server0.get(pid, 0.0) for pid, v in server1.items())
        driver.stop(release=True)
        with db.session() as s:
            rows = s.scalar(select(func.count()).where(Trial.study_id == sid,
                                                       Trial.state == "completed")) or 0
        db.dispose()
    tenth = max(1, rows // 10)

    def at(count: int) -> float:  # first sample time with at least ``count`` completions
        return next(t for t, d in samples if d >= count)

    first = at(tenth) / tenth if rows else None
    last = (wall - at(rows - tenth)) / tenth if rows > tenth else None
    return {
        "backend": backend, "n_trials": n_trials, "n_completed": rows,
        "completed": state == StudyState.COMPLETED, "wall_s": round(wall, 3),
        "trials_per_s": round(rows / wall, 1) if wall > 0 else None,
        "per_trial_ms": round(1e3 * wall / rows, 3) if rows else None,
        "cpu_per_trial_ms": round(1e3 * cpu / rows, 3) if rows else None,
        "driver_cpu_per_trial_ms": round(1e3 * driver_cpu / rows, 3) if rows else None,
        "server_cpu_per_trial_ms": round(1e3 * server / rows, 3) if rows and server1 else None,
        "first_10pct_ms": round(1e3 * first, 3) if first is not None else None,
        "last_10pct_ms": round(1e3 * last, 3) if last is not None else None,
        "steps": len(samples),
        "load_avg_1min": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }


def plot(summary: list[dict[str, Any]], path: Path) -> None:
    """Per-trial wall time (median, bars from min to max over the repeats) and CPU time [ms]
    (this process's, plus the PostgreSQL server's where measured) against study size, per
    backend (log x): the wall time follows the machine's other load, the CPU time less."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, backend in enumerate(sorted({r["backend"] for r in summary})):
        mine = sorted((r for r in summary if r["backend"] == backend and r["per_trial_ms"]),
                      key=lambda r: r["n_trials"])
        if not mine:
            continue
        n = [r["n_trials"] for r in mine]
        wall = [r["per_trial_ms"] for r in mine]
        below = [r["per_trial_ms"] - r["per_trial_ms_min"] for r in mine]
        above = [r["per_trial_ms_max"] - r["per_trial_ms"] for r in mine]
        ax.errorbar(n, wall, yerr=[below, above],
                    marker="o", color=f"C{k}", capsize=3, label=f"{backend}: wall")
        ax.plot(n, [r["cpu_per_trial_ms"] + (r["server_cpu_per_trial_ms"] or 0.0)
                    for r in mine], marker="s", linestyle="--", color=f"C{k}",
                label=f"{backend}: CPU (process" + (" + server)" if backend == "pg" else ")"))
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("trials in the study")
    ax.set_ylabel("dispatch + record per trial [ms]")
    ax.set_title(f"random, parallelism {PARALLELISM}, zero-cost evaluations")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--backends", nargs="+", choices=["sqlite", "pg"], default=["sqlite", "pg"])
    p.add_argument("--workers", type=int, default=4, help="LocalCluster thread workers")
    p.add_argument("--timeout-s", type=float, default=1200.0, help="per run")
    p.add_argument("--warmup", type=int, default=2 * PARALLELISM,
                   help="trials of an unreported SQLite study run first (imports, Dask "
                        "warm-up); 0: none")
    p.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per backend and size, interleaved (sqlite, pg, sqlite, pg ...) "
                        "so the machine's load falls on both alike; the summary gives the "
                        "median with min and max")
    p.add_argument("--keep", action="store_true",
                   help="keep the runs already in --out that this call does not measure again "
                        "(same backend and size), e.g. to add 100k runs to 1k/10k ones")
    a = p.parse_args(argv)
    if any(n < 1 for n in a.sizes):
        p.error("--sizes must be positive")
    if a.repeats < 1:
        p.error("--repeats must be positive")
    kept = json.loads(a.out.read_text())["runs"] if a.keep and a.out.exists() else []
    redo = {(b, n) for b in a.backends for n in a.sizes}
    runs = [r for r in kept if (r["backend"], r["n_trials"]) not in redo]
    engine = DaskEngine(None, n_workers=a.workers, processes=False)
    try:
        if a.warmup > 0:
            run_once("sqlite", a.warmup, engine, a.timeout_s)
        for n, rep, backend in ((n, rep, b) for n in sorted(a.sizes)  # small sizes first
                                for rep in range(a.repeats) for b in a.backends):
                r = run_once(backend, n, engine, a.timeout_s)
                r["repeat"] = rep
                r["measured_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                print(json.dumps(r), flush=True)
                runs.append(r)
                write(runs, a)  # after every run: a long call cut short keeps what it measured
    finally:
        engine.close()
    return 0


def write(runs: list[dict[str, Any]], a: argparse.Namespace) -> None:
    """``runs`` (sorted by backend and size) to ``a.out`` and its PNG."""
    runs = sorted(runs, key=lambda r: (r["backend"], r["n_trials"], r["measured_at"]))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    out = {"method": "random", "parallelism": PARALLELISM, "problem": "branin-currin",
           "engine": f"LocalCluster, {a.workers} thread workers",
           "driver": "the service's loop: a step once a submission finished, 0.2 s at most",
           "warmup_trials": a.warmup,
           "load": "2 cores shared with other work: load_avg_1min per run (before, after)",
           "summary": summarize(runs), "runs": runs}
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    plot(out["summary"], a.out.with_suffix(".png"))


SUMMARIZED = ("trials_per_s", "per_trial_ms", "cpu_per_trial_ms", "driver_cpu_per_trial_ms",
              "server_cpu_per_trial_ms", "first_10pct_ms", "last_10pct_ms")
"""Run figures the summary gives as median, min and max over the repeats."""


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per backend and size: ``n_runs``, whether all ``completed``, and for each figure of
    ``SUMMARIZED`` its median over the runs (the middle one's, or the mean of the two middle
    ones) under the figure's own key, with ``<key>_min`` and ``<key>_max``; the 1-minute load
    averages seen (``load_avg_1min_range``: lowest, highest)."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["backend"], r["n_trials"]), []).append(r)
    out = []
    for (backend, n), rs in sorted(groups.items()):
        row: dict[str, Any] = {"backend": backend, "n_trials": n, "n_runs": len(rs),
                               "completed": all(r["completed"] for r in rs)}
        for key in SUMMARIZED:
            vals = sorted(r[key] for r in rs if r.get(key) is not None)
            if not vals:
                row[key] = row[f"{key}_min"] = row[f"{key}_max"] = None
                continue
            mid = len(vals) // 2
            med = vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2
            row[key], row[f"{key}_min"], row[f"{key}_max"] = round(med, 3), vals[0], vals[-1]
        loads = [x for r in rs for x in r["load_avg_1min"]]
        row["load_avg_1min_range"] = [min(loads), max(loads)]
        out.append(row)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
