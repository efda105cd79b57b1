r"""``suggest()`` timing of the optimizer benchmark.

``time_suggest`` measures one ``suggest()`` call at 50, 100 and 200 observations of a
4-objective DTLZ2 (6 design dims) given a fidelity column (values ``f(x) (1 + 0.2 (1 - z))``,
costs ``exp(4.8 z)``, a third of the observations at full fidelity). The first objective
carries Monte-Carlo-like noise of known standard deviation ``NOISE_SD (1 + 3 (1 - z))``,
reported in ``Observation.variances`` as the crossbar simulator reports ``accuracy_stderr``, so
methods that use known noise (``cf-mesmo``: fixed noise on that objective, learned on the
others, ``optimizer.known_noise``) are timed with it. ``time_methods`` reports the median of
``timing_repeats`` calls (seeds 0, 1, ...: data and optimizer seed) after one untimed warm-up
call per method, one call at a time after the runs, read on the worker process's CPU clock
(one thread: on a shared machine wall time measures the other jobs' load as much as the
method; the wall time of each call is logged beside it). Compare methods within one file.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np
import torch
from botorch.test_functions.multi_objective import DTLZ2

from bench.harness.settings import BenchSettings
from optimizer.space import FloatParam, SearchSpace
from optimizer.suggest import suggest
from optimizer.types import Objective, Observation

NOISE_SD = 0.01
"""Known noise standard deviation of the first objective at full fidelity (4x at ``z = 0``)."""

TimingJob = Callable[[dict[str, Any]], dict[str, Any]]
"""``{"method", "n_obs", "options", "seed"}`` -> the same plus ``"seconds"`` (CPU),
``"wall_s"`` and ``"error"``."""


def _dtlz2_timing_case(n_obs: int, seed: int = 0) -> tuple[SearchSpace, list[Objective],
                                                           list[Observation]]:
    d, m = 6, 4
    f = DTLZ2(dim=d, num_objectives=m)
    space = SearchSpace([FloatParam(name=f"x{i}", low=0.0, high=1.0) for i in range(d)],
                        fidelity_range=(0.0, 1.0))
    objectives = [Objective(name=f"f{j}", direction="minimize", ref_point=1.1)
                  for j in range(m)]
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n_obs, d, generator=g, dtype=torch.double)
    z = torch.rand(n_obs, generator=g, dtype=torch.double)
    z[::3] = 1.0
    Y = f(X) * (1 + 0.2 * (1 - z)).unsqueeze(-1)
    sd = NOISE_SD * (1 + 3 * (1 - z))
    Y[:, 0] += sd * torch.randn(n_obs, generator=g, dtype=torch.double)
    obs = [Observation(params=space.from_unit(X[i]), fidelity=float(z[i]),
                       values={o.name: float(Y[i, j]) for j, o in enumerate(objectives)},
                       cost_s=math.exp(4.8 * float(z[i])),
                       variances={objectives[0].name: float(sd[i]) ** 2})
           for i in range(n_obs)]
    return space, objectives, obs


def time_suggest(method: str, n_obs: int, options: dict[str, Any] | None = None,
                 seed: int = 0, clock: Callable[[], float] = time.process_time) -> float:
    """Seconds of one ``suggest()`` call (``n = 1``) at ``n_obs`` observations of the
    4-objective DTLZ2 timing case (see the module docstring), read on ``clock`` [s; by default
    the process's CPU time, the call running on one thread]."""
    torch.set_num_threads(1)
    space, objectives, obs = _dtlz2_timing_case(n_obs, seed)
    t0 = clock()
    suggest(space, objectives, obs, [], 1, method, seed, options=options)
    return clock() - t0


def _time_job(kw: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        cpu_s = time_suggest(**kw)
        return {**kw, "seconds": cpu_s, "wall_s": time.perf_counter() - t0, "error": None}
    except Exception as e:  # reported in the results
        return {**kw, "seconds": None, "wall_s": None, "error": f"{type(e).__name__}: {e}"}


def _one_process() -> Executor:
    return ProcessPoolExecutor(max_workers=1)


def time_methods(settings: BenchSettings, say: Callable[[str], None], *,
                 job: TimingJob = _time_job,
                 executor: Callable[[], Executor] = _one_process,
                 ) -> tuple[dict[str, dict[str, float | None]], list[str]]:
    """Median seconds (CPU by default, see the module docstring) of ``settings.timing_repeats``
    ``job`` calls (seeds 0, 1, ...) per timed method and size, after one untimed warm-up call
    per method, one call at a time in one fresh ``executor`` (by default a worker process) per
    method.

    Returns:
        ``(timing, errors)``: ``timing[method][str(n_obs)]`` the median [s] (``None`` when
        every call failed) and one ``"method@n_obs: error"`` line per failed call.
    """
    timing: dict[str, dict[str, float | None]] = {}
    errors: list[str] = []
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    repeats = max(1, settings.timing_repeats)
    for m in settings.timing_methods or settings.methods:
        opts = settings.options.get(m) or None
        with executor() as pool:
            pool.submit(job, {"method": m, "n_obs": min(settings.timing_sizes),
                              "options": opts, "seed": 0}).result()  # warm-up
            for n in settings.timing_sizes:
                runs = [pool.submit(job, {"method": m, "n_obs": n, "options": opts,
                                          "seed": r}).result() for r in range(repeats)]
                secs = [r["seconds"] for r in runs if r["seconds"] is not None]
                timing.setdefault(m, {})[str(n)] = float(np.median(secs)) if secs else None
                errors += [f"{m}@{n}: {r['error']}" for r in runs if r["error"]]
                walls = [r.get("wall_s") for r in runs if r["seconds"] is not None]
                say(f"timing {m} @ {n} obs: median {timing[m][str(n)]} of {len(secs)} "
                    f"({', '.join(f'{x:.2f}' for x in secs)} s; wall "
                    f"{', '.join('-' if w is None else f'{w:.2f}' for w in walls)} s)")
    return timing, errors


__all__ = ["NOISE_SD", "TimingJob", "time_methods", "time_suggest"]
