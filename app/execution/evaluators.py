"""Evaluate one trial from its study's evaluator spec; runs on Dask workers.

Plain data in, plain data out: the spec (written by :mod:`app.problems`) names the problem
``kind`` and everything needed to rebuild it, so a worker needs only the project installed.

The spec comes from a database row, so it is checked again here as untrusted input: workload
options are held to the workload's declared options and no option may name a location
(:func:`app.problems.workloads.option_errors`); data and caches are the worker's own
``XBAR_DATA_DIR`` and ``XBAR_CACHE_DIR``.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

from app.problems.benchmarks import BENCHMARK
from app.problems.crossbar import CROSSBAR, OBJECTIVE_NAMES
from app.problems.workloads import option_errors
from optimizer.problems import get_problem
from simulator import CrossbarConfig, Workload, evaluate, get_workload

__all__ = ["run_evaluation"]


@lru_cache(maxsize=8)
def _workload(name: str, options_key: str) -> Workload:
    """The workload ``name`` built with the options JSON-encoded in ``options_key`` (sorted
    keys), kept for the next trials this worker evaluates (loading trains or reads a model)."""
    return get_workload(name, **json.loads(options_key))


def run_evaluation(
    evaluator: dict[str, Any], params: dict[str, Any], fidelity: float, seed: int
) -> dict[str, Any]:
    """Evaluate one trial. Returns ``values`` (objective name -> value), ``cost_s`` and
    ``details``.

    For benchmark functions ``cost_s`` is the problem's synthetic cost (the measured wall time
    of a closed-form function is meaningless) or, for a tabulated problem, the wall time
    recorded with the table; the measured time is in ``details``. For the crossbar problem
    ``cost_s`` is the simulator's measured wall time [s] and the values are the
    :data:`~app.problems.crossbar.OBJECTIVE_NAMES` fields of its evaluation; its
    ``details["variances"]`` holds the Monte-Carlo noise variance of the accuracy
    (``accuracy_stderr`` squared), which the optimizer models as known noise.

    Raises:
        ValueError: for an unknown evaluator ``kind``, or a spec its problem rejects (for a
            crossbar spec: before the workload is loaded, so a location in its options is
            never opened).
    """
    t0 = time.perf_counter()
    if evaluator["kind"] == BENCHMARK:
        bp = get_problem(evaluator["name"], **evaluator.get("options", {}))
        values, cost = bp.evaluate(params, fidelity)
        details: dict[str, Any] = {"wall_s": time.perf_counter() - t0,
                                   "cost_kind": bp.cost_kind}
        realized = bp.realized_fidelity(fidelity)
        if realized != fidelity:  # a tabulated problem: values and cost of the nearest level
            details["evaluated_fidelity"] = realized
        return {
            "values": {k: float(v) for k, v in values.items()},
            "cost_s": float(cost),
            "details": details,
        }
    if evaluator["kind"] == CROSSBAR:
        config = CrossbarConfig.from_params({**evaluator.get("fixed", {}), **params})
        name, options = evaluator["workload"], evaluator.get("workload_options") or {}
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ValueError("evaluator spec: workload must be a name and its options an object")
        bad = option_errors(name, options)
        if bad:
            raise ValueError("evaluator spec refused: " + "; ".join(msg for _, msg in bad))
        workload = _workload(name, json.dumps(options, sort_keys=True))
        ev = evaluate(config, workload, fidelity, seed)
        return {
            "values": {name: float(getattr(ev, name)) for name in OBJECTIVE_NAMES},
            "cost_s": float(ev.cost_s),
            "details": {"accuracy_std": float(ev.accuracy_std), **ev.details,
                        "variances": {"accuracy": float(ev.accuracy_stderr) ** 2}},
        }
    raise ValueError(f"unknown evaluator kind {evaluator.get('kind')!r}")
