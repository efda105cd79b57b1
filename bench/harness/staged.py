r"""The optimizer benchmark in stages, for a machine that cannot run it in one go: run the
(problem, method, seed) jobs of some methods into a runs file, then write the result file from
several runs files plus the ``suggest()`` timing (``bench.harness.report.finalize``).

Usage::

    PYTHONPATH=. .venv/bin/python -m bench.harness.staged run OUT.json METHODS \
        PROBLEM=SEEDS[,PROBLEM=SEEDS...] [WORKERS] [MAX_EVALS] [TIME_LIMIT_S] \
        [INIT_UNITS] [REGRET_EVERY]
    PYTHONPATH=. .venv/bin/python -m bench.harness.staged finish NAME RUNS.json[,RUNS.json] \
        TIMING_METHODS|TIMING.json [TIMING_SIZES]
    PYTHONPATH=. .venv/bin/python -m bench.harness.staged cpu-timing OUT.json METHODS \
        SIZES REPEATS

Jobs run problem by problem (in the order given), seed by seed, so a stopped stage still holds
whole seeds of the first problems; every finished run is written to ``OUT.json`` at once. The
runs use ``BenchSettings()``'s budgets and options, exactly as ``run_benchmark``, except for
the evaluation cap ``MAX_EVALS`` of model-based runs and the wall-time cap of one run
``TIME_LIMIT_S`` when given (a loaded machine stretches wall time, not the work of a run),
the shared initial design's cost ``INIT_UNITS`` (``-`` or absent: each method's own) and the
scoring period ``REGRET_EVERY``. ``finish`` takes the shared initial design's cost and the
evaluation cap from the runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness.report import finalize
from bench.harness.runner import job_for, run_jobs
from bench.harness.settings import MODEL_FREE, BenchSettings
from bench.harness.suggest_timing import time_methods, time_suggest

RESULTS = Path(os.environ.get("BENCH_RESULTS", "bench/results"))


def jobs_for(settings: BenchSettings) -> list[dict[str, Any]]:
    """The run jobs of ``settings``, problem-major, then seed, then method."""
    jobs = []
    for prob in settings.problems:
        for seed in range(settings.seeds_of(prob)):
            for method in settings.methods:
                jobs.append(job_for(settings, prob, method, seed))
    return jobs


def run_stage(out: Path, settings: BenchSettings) -> None:
    """Run ``jobs_for(settings)`` in ``settings.workers`` processes into ``out``."""
    run_jobs(jobs_for(settings), settings.workers, out,
             lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True))


def finish(name: str, runs_files: list[Path], settings: BenchSettings,
           timing_file: Path | None = None) -> dict[str, Any]:
    """Write ``RESULTS/<name>.json`` and ``.png`` from the runs of ``runs_files`` and the
    timing of ``timing_file`` (a ``cpu-timing`` output), or time ``settings.timing_methods``
    (wall clock) without one."""
    records = [r for f in runs_files for r in json.loads(f.read_text())]
    notes = [f"staged run ({', '.join(str(f) for f in runs_files)}) on a shared 2-core "
             "machine (nice 10, other jobs running): wall times are loaded-machine times"]
    if timing_file is not None:
        saved = json.loads(timing_file.read_text())
        timing, errors = saved["timing"], saved["errors"]
        notes.append(f"suggest() timing: {saved['clock']}, median of {saved['repeats']} calls "
                     f"after a warm-up, methods side by side in one process each")
    else:
        timing, errors = time_methods(settings, lambda m: print(m, flush=True))
    return finalize(records, timing, settings, RESULTS, name=name, timing_errors=errors,
                    notes=notes)


def _cpu_time_job(kw: dict[str, Any]) -> dict[str, Any]:
    """One timed ``suggest()`` call read on the process's CPU clock [CPU s] (single thread):
    on a shared machine wall time measures the load as much as the method."""
    try:
        return {**kw, "seconds": time_suggest(**kw, clock=time.process_time), "error": None}
    except Exception as e:  # reported in the results
        return {**kw, "seconds": None, "error": f"{type(e).__name__}: {e}"}


def cpu_timing(out: Path, methods: list[str], sizes: tuple[int, ...], repeats: int) -> None:
    """CPU seconds per ``suggest()`` call of ``methods`` side by side (``time_methods`` with
    ``_cpu_time_job``), written to ``out``."""
    settings = BenchSettings(methods=tuple(methods), timing_sizes=sizes,
                             timing_repeats=repeats)
    timing, errors = time_methods(settings, lambda m: print(m, flush=True), job=_cpu_time_job)
    out.write_text(json.dumps({"clock": "process CPU time [s], one thread", "sizes": sizes,
                               "repeats": repeats, "options": settings.options,
                               "timing": timing, "errors": errors}, indent=1))


def _seeds(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (p.split("=") for p in text.split(","))}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "run":
        seeds = _seeds(sys.argv[4])
        run_stage(Path(sys.argv[2]), BenchSettings(
            methods=tuple(sys.argv[3].split(",")), problems=tuple(seeds),
            seeds=max(seeds.values()), seeds_by_problem=seeds,
            workers=int(sys.argv[5]) if len(sys.argv) > 5 else 2,
            max_evals=int(sys.argv[6]) if len(sys.argv) > 6 else BenchSettings.max_evals,
            run_time_limit_s=(float(sys.argv[7]) if len(sys.argv) > 7
                              else BenchSettings.run_time_limit_s),
            init_units=(float(sys.argv[8]) if len(sys.argv) > 8 and sys.argv[8] != "-"
                        else None),
            regret_every=int(sys.argv[9]) if len(sys.argv) > 9 else BenchSettings.regret_every))
    elif cmd == "finish":
        files = [Path(f) for f in sys.argv[3].split(",")]
        recs = [r for f in files for r in json.loads(f.read_text())]
        probs = tuple(dict.fromkeys(r["problem"] for r in recs))
        seeds = {p: len({r["seed"] for r in recs if r["problem"] == p}) for p in probs}
        timing_file = Path(sys.argv[4]) if sys.argv[4].endswith(".json") else None
        sizes = tuple(int(s) for s in sys.argv[5].split(",")) if len(sys.argv) > 5 else (200,)
        finish(sys.argv[2], files, BenchSettings(
            methods=tuple(dict.fromkeys(r["method"] for r in recs)), problems=probs,
            seeds=max(seeds.values()), seeds_by_problem=seeds, timing_sizes=sizes,
            max_evals=max((len(r["cost"]) for r in recs if r["method"] not in MODEL_FREE),
                          default=BenchSettings.max_evals),
            init_units=next((r.get("init_units") for r in recs
                             if r.get("init_units") is not None), None),
            timing_methods=None if timing_file else tuple(sys.argv[4].split(","))),
            timing_file)
    elif cmd == "cpu-timing":
        cpu_timing(Path(sys.argv[2]), sys.argv[3].split(","),
                   tuple(int(v) for v in sys.argv[4].split(",")), int(sys.argv[5]))
    else:
        raise SystemExit(__doc__)
