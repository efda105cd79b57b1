"""The predicted front of a model-based study, and the confirmation trials that evaluate it.

A model-based method (one whose options declare ``confirm_top_k``,
``optimizer.methods.options.CONFIRM_OPTIONS``) knows more than its evaluated front: the Pareto
set of its model's posterior mean at the target fidelity (``optimizer.posterior_front``).

- ``predicted_front_task`` (on a worker) fits the model to every completed trial and returns
  that set as plain data: per design its ``params``, the posterior ``predicted``
  ``{objective: {"mean", "sd"}}`` in the objectives' own units and directions, and whether the
  design was already evaluated at the target fidelity. ``GET /studies/{id}/pareto?source=
  predicted`` serves it (``app.execution.predicted``); it never enters the evaluated front.
- Confirmation: with a trial budget, the study's last ``confirm_top_k`` trials are
  *confirmation trials* (``in_confirm_phase``; a batch asked before stops short of them,
  ``batch_size``). ``confirm_task`` refits the model on everything completed, computes the
  predicted front and picks the members neither evaluated nor pending at the target fidelity
  that add the most predicted hypervolume to the evaluated front
  (``optimizer.posterior_front.confirmation_picks``); each becomes a target-fidelity trial
  whose stored suggestion says ``"origin": "confirm"`` (``TrialPublic.origin``) with the
  prediction it confirms. When fewer such members exist than slots, the method's own
  suggestions fill the rest, so the study still ends at ``max_trials`` exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from distributed import Future
from sqlalchemy.orm import Session

from app.execution.tasks import OVERHEAD_KEY, study_observations, suggest_task
from app.models import Study
from app.services import trials
from optimizer.encoding import encode_observations
from optimizer.errors import OptimizerError
from optimizer.posterior_front import (
    PredictedFront,
    confirmation_picks,
    evaluated_mask,
    study_front,
)
from optimizer.space import SearchSpace
from optimizer.suggest import optimizer_threads, validate_options
from optimizer.types import Objective

CONFIRM_ORIGIN = "confirm"
"""``suggestion["extras"]["origin"]`` of a confirmation trial."""


@lru_cache(maxsize=64)
def default_top_k(method: str) -> int | None:
    """The ``confirm_top_k`` default of ``method``; ``None`` when the method declares no such
    option (it has no model, so no predicted front) or is unknown."""
    try:
        value = validate_options(method, None).get("confirm_top_k")
    except (OptimizerError, ValueError):
        return None
    return value if isinstance(value, int) else None


def has_model(method: str) -> bool:
    """Whether ``method`` is model-based: it declares ``confirm_top_k``."""
    return default_top_k(method) is not None


def confirm_top_k(study: Study) -> int:
    """The study's confirmation trials: its ``confirm_top_k`` option (the method's default when
    not given); 0 without a trial budget (``max_trials``) or for a model-free method."""
    default = default_top_k(study.method)
    if default is None or study.max_trials is None:
        return 0
    options = study.definition.get("optimizer", {}).get("options", {}) or {}
    return int(options.get("confirm_top_k", default))


def in_confirm_phase(study: Study) -> bool:
    """Whether the study's next trial is a confirmation trial: at most ``confirm_top_k`` trials
    of the budget are left."""
    k = confirm_top_k(study)
    return k > 0 and study.max_trials is not None and study.max_trials - study.next_number <= k


def batch_size(study: Study, n: int) -> int:
    """``n`` cut so that a batch asked of the method ends before the confirmation trials
    (unchanged inside the confirmation phase or without one)."""
    k = confirm_top_k(study)
    if k == 0 or study.max_trials is None or in_confirm_phase(study):
        return n
    return min(n, study.max_trials - study.next_number - k)


def submit_confirm(engine: Any, session: Session, study: Study, n: int) -> Future:
    """Submit ``confirm_task`` for the study's next ``n`` trials on ``engine``."""
    observations, pending = trials.history(session, study.id)
    options = study.definition.get("optimizer", {}).get("options", {})
    return engine.submit(confirm_task, study.search_space, study.objectives, observations,
                         pending, n, study.method, trials.suggest_seed(study), options,
                         study.max_trials)


def _predicted(objectives: list[Objective], front: PredictedFront, i: int
               ) -> dict[str, dict[str, float]]:
    """Member ``i``'s posterior in the objectives' own units: ``{name: {"mean", "sd"}}``."""
    return {o.name: {"mean": float(front.mean[i, j]) * o.sign, "sd": float(front.std[i, j])}
            for j, o in enumerate(objectives)}


def _at_target(space: SearchSpace, points: Iterable[tuple[dict[str, Any], float]]
               ) -> list[dict[str, Any]]:
    """The params of the ``(params, fidelity)`` pairs at the target fidelity."""
    return [params for params, z in points if space.is_target(z)]


def predicted_front_task(space_spec: dict[str, Any], objectives: list[dict[str, Any]],
                         observations: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """The predicted front of a study from its stored observations (runs on a worker).

    Returns:
        ``{"n_observations", "compute_s", "points": [{"params", "predicted",
        "evaluated_at_target"}]}``, points ordered by the first objective's predicted mean;
        no points without an observation.
    """
    t0 = time.perf_counter()
    space = SearchSpace.from_spec(space_spec)
    objs = [Objective(**o) for o in objectives]
    obs = study_observations(observations, objs)
    points: list[dict[str, Any]] = []
    if obs:
        with optimizer_threads():
            front, _ = study_front(space, objs, obs, seed=seed)
        evaluated = evaluated_mask(space, front,
                                   _at_target(space, ((o.params, o.fidelity) for o in obs)))
        for i, params in enumerate(space.from_unit_batch(front.X)):
            points.append({"params": params, "predicted": _predicted(objs, front, i),
                           "evaluated_at_target": bool(evaluated[i])})
        first = objs[0].name
        points.sort(key=lambda p: p["predicted"][first]["mean"])
    return {"n_observations": len(obs), "points": points,
            "compute_s": time.perf_counter() - t0}


def confirm_task(space_spec: dict[str, Any], objectives: list[dict[str, Any]],
                 observations: list[dict[str, Any]], pending: list[dict[str, Any]], n: int,
                 method: str, seed: int, options: dict[str, Any],
                 max_evaluations: int | None = None) -> list[dict[str, Any]]:
    """``n`` confirmation suggestions (module docstring; runs on a worker), in
    ``suggest_task``'s format: target fidelity, ``extras`` with ``"origin": "confirm"``,
    ``"phase": "confirm"`` and the ``predicted`` values confirmed; the method's own
    suggestions fill the slots no unevaluated predicted-front member is left for."""
    t0 = time.perf_counter()
    space = SearchSpace.from_spec(space_spec)
    objs = [Objective(**o) for o in objectives]
    obs = study_observations(observations, objs)
    out: list[dict[str, Any]] = []
    if obs:
        with optimizer_threads():
            front, _ = study_front(space, objs, obs, seed=seed)
        done = _at_target(space, [(o.params, o.fidelity) for o in obs]
                          + [(p["params"], p["fidelity"]) for p in pending])
        skip = evaluated_mask(space, front, done)
        full = [o for o in obs if space.is_target(o.fidelity)]
        Y_full = encode_observations(space, objs, full).Y
        picks = confirmation_picks(front, n, objectives=objs, Y_full=Y_full, skip=skip)
        elapsed = time.perf_counter() - t0
        for i in picks:
            params = space.validate_params(space.from_unit(front.X[i]))
            out.append({"params": params, "fidelity": space.target_fidelity,
                        "info_gain_per_cost": None,
                        "extras": {"origin": CONFIRM_ORIGIN, "phase": "confirm",
                                   "predicted": _predicted(objs, front, i),
                                   "suggest_s": elapsed,
                                   OVERHEAD_KEY: elapsed / len(picks)}})
    if len(out) < n:
        listed = pending + [{"params": s["params"], "fidelity": s["fidelity"]} for s in out]
        out += suggest_task(space_spec, objectives, observations, listed, n - len(out), method,
                            seed, options, max_evaluations=max_evaluations)
    return out


__all__ = [
    "CONFIRM_ORIGIN",
    "batch_size",
    "confirm_task",
    "confirm_top_k",
    "default_top_k",
    "has_model",
    "in_confirm_phase",
    "predicted_front_task",
    "submit_confirm",
]
