"""Functions that run on Dask workers. Plain data in, plain data out: no database access, so a
worker needs only the project installed (``xbar worker``), never database credentials."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict
from typing import Any

from distributed import get_worker

from app.execution.evaluators import run_evaluation
from optimizer.space import SearchSpace
from optimizer.suggest import suggest
from optimizer.types import Objective, Observation, Suggestion

OVERHEAD_KEY = "overhead_s"
"""Key of a stored suggestion's ``extras`` holding its share of its ``suggest()`` call's wall
time [s] (the call's ``suggest_s`` over the suggestions it returned): the observation's
``Observation.overhead_s`` once the trial completes (``services.trials.history``)."""


def worker_name() -> str:
    """The Dask worker's name (its address when the name is not a string), or
    ``host:pid`` outside a worker."""
    try:
        worker = get_worker()
        return worker.name if isinstance(worker.name, str) else worker.address
    except ValueError:
        return f"{socket.gethostname()}:{os.getpid()}"


def evaluate_task(
    evaluator: dict[str, Any], params: dict[str, Any], fidelity: float, seed: int,
    model: bytes | None = None, data: bytes | None = None,
) -> dict[str, Any]:
    """Evaluate one trial and report which worker ran it; ``model``/``data``: a file
    workload's bytes (scattered by the driver, :mod:`app.execution.content`)."""
    t0 = time.perf_counter()
    out = run_evaluation(evaluator, params, fidelity, seed, model, data)
    out["worker"] = str(worker_name())
    out["elapsed_s"] = time.perf_counter() - t0  # the driver sizes chunks by it; not stored
    return out


def evaluate_chunk(
    evaluator: dict[str, Any], items: list[tuple[dict[str, Any], float, int]],
    model: bytes | None = None, data: bytes | None = None,
) -> list[dict[str, Any]]:
    """Several trials of one study evaluated one after the other in one Dask task
    (``items``: ``(params, fidelity, seed)`` each), for evaluations so fast that Dask's own
    cost per task (a few ms of scheduler, worker and client time) would dominate them.

    Returns:
        Per item, in order, what :func:`evaluate_task` returns, or ``{"error": type name,
        "message": str(exception)}`` for an evaluation that raised (the others still count).
    """
    out: list[dict[str, Any]] = []
    for params, fidelity, seed in items:
        try:
            out.append(evaluate_task(evaluator, params, fidelity, seed, model, data))
        except Exception as e:  # one failing trial must not fail the others of the chunk
            out.append({"error": type(e).__name__, "message": str(e)})
    return out


def suggest_task(
    space_spec: dict[str, Any],
    objectives: list[dict[str, Any]],
    observations: list[dict[str, Any]],
    pending: list[dict[str, Any]],
    n: int,
    method: str,
    seed: int,
    options: dict[str, Any],
    max_evaluations: int | None = None,
    n_unlisted_pending: int = 0,
    budget_per_trial_s: float | None = None,
) -> list[dict[str, Any]]:
    """Run the optimizer on a worker (never on the API's event loop); ``max_evaluations`` is
    the study's ``max_trials`` (the budget the initial design is sized by),
    ``budget_per_trial_s`` its time budget per trial left (``ahead.budget_per_trial_s``);
    ``n_unlisted_pending`` pending points are only counted (``optimizer.suggest``). An
    observation's ``variances`` (known noise, e.g. the crossbar accuracy's Monte-Carlo stderr
    squared) are passed on for the study's objectives."""
    t0 = time.perf_counter()
    objs = [Objective(**o) for o in objectives]
    out = suggest(
        SearchSpace.from_spec(space_spec),
        objs,
        study_observations(observations, objs),
        [Suggestion(**p) for p in pending],
        n,
        method,
        seed,
        options,
        max_evaluations=max_evaluations,
        n_unlisted_pending=n_unlisted_pending,
        budget_per_trial_s=budget_per_trial_s,
    )
    elapsed = time.perf_counter() - t0
    return [{**asdict(s), "extras": {**s.extras, "suggest_s": elapsed,
                                     OVERHEAD_KEY: elapsed / max(1, len(out))}} for s in out]


def study_observations(observations: list[dict[str, Any]], objectives: list[Objective]
                       ) -> list[Observation]:
    """Stored observations (``services.trials.history``) as ``Observation``s, their known
    noise ``variances`` restricted to the study's objectives."""
    names = {o.name for o in objectives}
    return [Observation(**{**o, "variances": _study_variances(o.get("variances"), names)})
            for o in observations]


def _study_variances(variances: Any, names: set[str]) -> dict[str, float] | None:
    """A stored result's known noise variances restricted to the study's objectives."""
    if not isinstance(variances, dict):
        return None
    return {k: v for k, v in variances.items() if k in names} or None


def suggest_numbers(
    space_spec: dict[str, Any],
    objectives: list[dict[str, Any]],
    handed_out: list[dict[str, Any]] | int,
    n: int,
    method: str,
    seed: int,
    options: dict[str, Any],
) -> list[dict[str, Any]]:
    """Suggestions of a model-free method for the next ``n`` trial numbers, one optimizer call
    per number (runs on a worker).

    ``handed_out``: every trial handed out so far as ``{"params", "fidelity"}`` by number, or
    only how many there were where the points are not needed (``services.trials.handed_out``:
    spaces without finite cardinality), so a call costs the same late in a study as early.
    Trial ``len(handed_out) + k`` gets the one point suggested with every earlier trial as
    pending and no observations, so it is the same whether it was asked alone or in a batch,
    whichever evaluations had finished, and whether the earlier trials came listed or counted.
    """
    if isinstance(handed_out, int):  # the space and objectives built once, not per number
        space, objs = SearchSpace.from_spec(space_spec), [Objective(**o) for o in objectives]
        out = []
        for k in range(n):
            t0 = time.perf_counter()
            (sg,) = suggest(space, objs, [], [], 1, method, seed, options,
                            n_unlisted_pending=handed_out + k)
            elapsed = time.perf_counter() - t0
            out.append({**asdict(sg), "extras": {**sg.extras, "suggest_s": elapsed,
                                                 OVERHEAD_KEY: elapsed}})
        return out
    pending = list(handed_out)
    out = []
    for _ in range(n):
        (sg,) = suggest_task(space_spec, objectives, [], pending, 1, method, seed, options)
        out.append(sg)
        pending.append({"params": sg["params"], "fidelity": sg["fidelity"]})
    return out
