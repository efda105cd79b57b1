"""Run the whole optimizer benchmark: every (problem, method, seed) in a process pool, then the
``suggest()`` timing, then the result file (``run_benchmark``); or only re-time an existing
result file (``retime``)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bench.harness.report import finalize, finite
from bench.harness.runs import run_job
from bench.harness.settings import MODEL_FREE, BenchSettings
from bench.harness.suggest_timing import time_methods
from optimizer.errors import OptimizerError
from optimizer.problems import get_problem

logger = logging.getLogger(__name__)


def job_for(settings: BenchSettings, prob: str, method: str, seed: int) -> dict[str, Any]:
    """The keyword arguments of :func:`bench.harness.runs.run_job` for one run: model-free
    methods get their own budget and evaluation cap."""
    free = method in MODEL_FREE
    return {
        "problem_name": prob, "method": method, "seed": seed,
        "budget_units": settings.model_free_budget_units if free else settings.budget_units,
        "max_evals": settings.model_free_max_evals if free else settings.max_evals,
        "options": settings.options.get(method) or None,
        "regret_every": settings.regret_every,
        "time_limit_s": settings.run_time_limit_s,
        "init_units": settings.init_units,
    }


def run_jobs(jobs: list[dict[str, Any]], workers: int, partial: Path,
             say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Run ``jobs`` (:func:`job_for` dicts) in ``workers`` single-threaded processes; after
    each finished run, rewrite ``partial`` with every record so far and report it by ``say``."""
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    records: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futs = [pool.submit(run_job, j) for j in jobs]
        for fut in as_completed(futs):
            res = fut.result()
            records.append(res)
            partial.write_text(json.dumps(finite(records)))
            say(f"{res['problem']} {res['method']} seed {res['seed']}: "
                f"{len(res['cost'])} evals, cost {res['cost'][-1] if res['cost'] else 0:.2f}, "
                f"stopped by {res['stopped_by']}"
                f"{' ERROR ' + res['error'] if res['error'] else ''}")
    return records


def run_benchmark(settings: BenchSettings, out_dir: Path | str, name: str = "optimizer",
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every (problem, method, seed) and the timing, write ``<name>.json`` and
    ``<name>.png`` under ``out_dir``, and return the results dict."""
    if min([settings.seeds, *settings.seeds_by_problem.values()]) < 1:
        raise OptimizerError("seeds must be >= 1.")
    for p in settings.problems:
        get_problem(p)  # validates the name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg: logger.info("%s", msg))
    # seed-major order: an interrupted benchmark still has balanced seeds across methods
    jobs = []
    for seed in range(max(settings.seeds_of(p) for p in settings.problems)):
        for method in settings.methods:
            for prob in settings.problems:
                if seed >= settings.seeds_of(prob):
                    continue
                jobs.append(job_for(settings, prob, method, seed))
    t0 = time.perf_counter()
    partial = out_dir / f"{name}.partial-runs.json"  # finished runs so far, removed at the end
    records = run_jobs(jobs, settings.workers, partial, say)
    timing, timing_errors = time_methods(settings, say)
    results = finalize(records, timing, settings, out_dir, name=name,
                       wall_s=time.perf_counter() - t0, timing_errors=timing_errors)
    partial.unlink(missing_ok=True)
    return results


def retime(out_dir: Path | str, name: str = "optimizer",
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Re-measure the suggest() timing of an existing ``<name>.json`` (same methods, sizes and
    options) and rewrite it and its PNG, keeping its runs: for a speed change that leaves the
    runs' suggestions unchanged. A note in the file says when the timing was re-measured.

    Raises:
        OptimizerError: If ``<name>.json`` is missing or has no runs.
    """
    out_dir = Path(out_dir)
    path = out_dir / f"{name}.json"
    if not path.is_file():
        raise OptimizerError(f"{path} does not exist: run the benchmark first.")
    old = json.loads(path.read_text())
    if not old.get("runs"):
        raise OptimizerError(f"{path} holds no runs.")
    fields = set(BenchSettings.__dataclass_fields__)
    settings = BenchSettings(**{k: v for k, v in old["settings"].items() if k in fields})
    say = progress or (lambda msg: logger.info("%s", msg))
    timing, errors = time_methods(settings, say)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    notes = [*old.get("notes", []), f"suggest() timing re-measured on {stamp} (process CPU "
             "seconds, one thread, known noise on f0); runs unchanged"]
    return finalize(old["runs"], timing, settings, out_dir, name=name, wall_s=old.get("wall_s"),
                    timing_errors=errors, notes=notes)


__all__ = ["retime", "run_benchmark"]
