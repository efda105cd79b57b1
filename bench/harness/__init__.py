r"""The optimizer benchmark harness: hypervolume against cumulative evaluation cost, and
``suggest()`` timing (``xbar bench optimizer``, ``bench/optimizer.py``).

Benchmark plumbing, not library code (DESIGN.md): it drives ``optimizer.suggest`` on the
problems of ``optimizer.problems`` and writes ``<name>.json`` and ``<name>.png``.

- ``settings``: what to run (``BenchSettings``) and the trace of one run (``RunRecord``).
- ``runs``: one (problem, method, seed) run and the inference hypervolume it is scored by.
- ``suggest_timing``: seconds per ``suggest()`` call on a 4-objective DTLZ2 with a fidelity.
- ``report``: median/IQR curves, costs to reach 95% of the maximum HV, the goal checks, the
  result file; ``plot``: its figure.
- ``runner``: every run in a process pool, then the timing (``run_benchmark``, ``retime``).
- ``staged``: the same in stages (runs files merged into one result file) and ``suggest()``
  timing on the CPU clock, for a loaded machine.
- ``cfmesmo_replay``: CF-MESMO's picks on Branin-Currin (edge picks, repeats) and its
  acquisition at the edges vs the interior.

See ``docs/optimizer.md`` ("Benchmark") for the protocol and the measured results.
"""

from __future__ import annotations

from bench.harness.report import finalize, goals, summarize
from bench.harness.runner import retime, run_benchmark
from bench.harness.runs import inference_hv, run_study
from bench.harness.settings import (
    ALL_METHODS,
    ALL_PROBLEMS,
    DEFAULT_OPTIONS,
    MODEL_FREE,
    BenchSettings,
    RunRecord,
)
from bench.harness.suggest_timing import time_methods, time_suggest

__all__ = [
    "ALL_METHODS",
    "ALL_PROBLEMS",
    "DEFAULT_OPTIONS",
    "MODEL_FREE",
    "BenchSettings",
    "RunRecord",
    "finalize",
    "goals",
    "inference_hv",
    "retime",
    "run_benchmark",
    "run_study",
    "summarize",
    "time_methods",
    "time_suggest",
]
