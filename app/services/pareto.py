"""Incremental Pareto-front maintenance: each full-fidelity completion updates the membership
flags (``trials.is_pareto``), ``studies.pareto_version`` (the ETag) and the hypervolume.

"Full fidelity" means at the study's stored ``target_fidelity`` (within the optimizer's
``FIDELITY_TOL``), asked one way: :func:`is_full_fidelity` in Python, :func:`full_fidelity`
in SQL.

Only the current front is read per completion, never all trials, so the cost per completion
grows with the front size, not with the study size.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from app.models import Study, Trial, TrialResult
from optimizer.pareto import default_ref_point, hypervolume, pareto_mask
from optimizer.space import FIDELITY_TOL

MIN_POINTS_FOR_AUTO_REF = 5
"""Full-fidelity results needed before a data-derived reference point is fixed (when the study
gives none). It is fixed once and stored, so hypervolumes stay comparable over the study."""


def is_full_fidelity(study: Study, fidelity: float) -> bool:
    """Whether a result at ``fidelity`` (fidelity units) is a full evaluation of ``study``."""
    return fidelity >= study.target_fidelity - FIDELITY_TOL


def full_fidelity(study: Study) -> ColumnElement[bool]:
    """SQL condition on ``Trial.fidelity``: the same test as :func:`is_full_fidelity`."""
    return Trial.fidelity >= study.target_fidelity - FIDELITY_TOL


def objective_names(study: Study) -> list[str]:
    return [o["name"] for o in study.objectives]


def directions(study: Study) -> list[str]:
    return [o["direction"] for o in study.objectives]


def _vector(study: Study, values: dict[str, Any]) -> list[float]:
    return [float(values[name]) for name in objective_names(study)]


def meets_thresholds(objectives: list[dict[str, Any]], values: dict[str, Any]) -> bool:
    """Whether ``values`` is no worse than every objective's ``threshold`` (objective units;
    objectives without one always pass). Designs that fail never enter a front."""
    for o in objectives:
        t = o.get("threshold")
        if t is None:
            continue
        v = float(values[o["name"]])
        if (v < t) if o["direction"] == "maximize" else (v > t):
            return False
    return True


def add_to_front(
    session: Session, study: Study, results: list[tuple[int, float, dict[str, Any]]]
) -> list[tuple[bool, float | None]]:
    """Add newly recorded results ``(trial id, fidelity, values)``, in order, to the study's
    front, reading the front once and writing the flags once for the whole batch.

    Each full-fidelity result enters the front if no member dominates it and drops the
    members it dominates; ``pareto_version`` is bumped and the hypervolume recomputed whenever
    the front changes. A result worse than an objective's ``threshold``
    (:func:`meets_thresholds`) never enters. The outcome is the same as adding the results
    one by one: only the writes are batched. Call it before the batch's ``trial_results``
    rows are inserted (the reference point is fixed from the first
    ``MIN_POINTS_FOR_AUTO_REF`` full-fidelity results, counted in order).

    Returns:
        Per result, ``(on_front, hypervolume)``: whether it was on the front right after it
        was added, and the study's hypervolume then.
    """
    front = {
        tid: _vector(study, v)
        for tid, v in session.execute(
            select(Trial.id, TrialResult.values)
            .join(TrialResult, TrialResult.trial_id == Trial.id)
            .where(Trial.study_id == study.id, Trial.is_pareto.is_(True))
            .order_by(Trial.id)
        ).all()
    }
    was_on = set(front)
    seen = None if study.ref_point is not None else _full_fidelity_vectors(session, study)
    out = []
    for trial_id, fidelity, values in results:
        if is_full_fidelity(study, fidelity):
            if seen is not None:
                seen.append(_vector(study, values))
            on = _add_one(study, front, trial_id, values, seen)
        else:
            on = False
        out.append((on, study.hypervolume))
    dropped = was_on - set(front)
    added = set(front) - was_on
    for ids, flag in ((dropped, False), (added, True)):
        if ids:
            session.execute(
                update(Trial)
                .where(Trial.id.in_(sorted(ids)))
                .values(is_pareto=flag)
                .execution_options(synchronize_session="evaluate")
            )
    return out


def _add_one(study: Study, front: dict[int, list[float]], trial_id: int,
             values: dict[str, Any], seen: list[list[float]] | None) -> bool:
    """One full-fidelity result against the in-memory ``front`` (trial id -> objective
    vector, updated in place); ``seen``: every full-fidelity vector so far while the
    reference point is not fixed. Returns whether the result is on the front."""
    passes = meets_thresholds(study.objectives, values)
    if not passes and study.ref_point is not None:
        return False  # nothing can change: the front stays, the reference point is fixed
    if study.ref_point is not None and _dominated(study, front.values(), values):
        return False  # what the mask below says of a dominated point, without tensors
    ids = [*front, trial_id]
    Y = torch.tensor([*front.values(), _vector(study, values)], dtype=torch.double)
    mask = pareto_mask(Y, directions(study)).tolist()
    on_front = passes and bool(mask[-1])
    if on_front:
        for i, keep in zip(ids[:-1], mask[:-1], strict=True):
            if not keep:
                del front[i]
        front[trial_id] = _vector(study, values)
        study.pareto_version += 1
        _ensure_ref_point(study, seen)
        study.hypervolume = (
            hypervolume(Y[torch.tensor(mask)], directions(study), study.ref_point)
            if study.ref_point is not None
            else None
        )
    elif study.ref_point is None and _ensure_ref_point(study, seen):
        if len(ids) > 1:  # a threshold can keep every result so far off the front
            study.hypervolume = hypervolume(Y[:-1], directions(study), study.ref_point)
        study.pareto_version += 1
    return on_front


def _dominated(study: Study, front: Any, values: dict[str, Any]) -> bool:
    """Whether a member of ``front`` (objective vectors) dominates the finite ``values``:
    no worse in every objective and better in one, as ``pareto_mask`` decides it."""
    signs = [1.0 if d == "maximize" else -1.0 for d in directions(study)]
    v = [s * x for s, x in zip(signs, _vector(study, values), strict=True)]
    if not all(math.isfinite(x) for x in v):
        return False
    for member in front:
        f = [s * x for s, x in zip(signs, member, strict=True)]
        if all(a >= b for a, b in zip(f, v, strict=True)) and f != v:
            return True
    return False


def _full_fidelity_vectors(session: Session, study: Study) -> list[list[float]]:
    """Objective vectors of every full-fidelity result stored for the study."""
    return [
        _vector(study, r[0])
        for r in session.execute(
            select(TrialResult.values)
            .join(Trial, TrialResult.trial_id == Trial.id)
            .where(Trial.study_id == study.id, full_fidelity(study))
        ).all()
    ]


def _ensure_ref_point(study: Study, seen: list[list[float]] | None) -> bool:
    """Fix a data-derived reference point once ``MIN_POINTS_FOR_AUTO_REF`` full-fidelity
    results (``seen``, their objective vectors) exist.

    Returns:
        True if a reference point was set by this call.
    """
    if study.ref_point is not None or seen is None or len(seen) < MIN_POINTS_FOR_AUTO_REF:
        return False
    Y = torch.tensor(seen, dtype=torch.double)
    study.ref_point = [float(v) for v in default_ref_point(Y, directions(study))]
    return True
