"""Incremental Pareto-front maintenance: each full-fidelity completion updates the membership
flags (``trials.is_pareto``), ``studies.pareto_version`` (the ETag) and the hypervolume.

"Full fidelity" means at the study's stored ``target_fidelity`` (within the optimizer's
``FIDELITY_TOL``), asked one way: :func:`is_full_fidelity` in Python, :func:`full_fidelity`
in SQL.

Only the current front is read per completion, never all trials, so the cost per completion
grows with the front size, not with the study size.
"""

from __future__ import annotations

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


def add_to_front(session: Session, study: Study, trial: Trial, values: dict[str, Any]) -> bool:
    """Insert ``trial`` into the study's front if no member dominates it; drop members it
    dominates. Bumps ``pareto_version`` and recomputes the hypervolume when the front changes.
    A trial worse than an objective's ``threshold`` (:func:`meets_thresholds`) never enters.

    Returns:
        Whether the trial is on the front afterwards.
    """
    passes = meets_thresholds(study.objectives, values)
    if not passes and study.ref_point is not None:
        return False  # nothing can change: the front stays, the reference point is fixed
    rows = session.execute(
        select(Trial.id, TrialResult.values)
        .join(TrialResult, TrialResult.trial_id == Trial.id)
        .where(Trial.study_id == study.id, Trial.is_pareto.is_(True))
        .order_by(Trial.id)
    ).all()
    ids = [r[0] for r in rows] + [trial.id]
    Y = torch.tensor([_vector(study, r[1]) for r in rows] + [_vector(study, values)],
                     dtype=torch.double)
    mask = pareto_mask(Y, directions(study)).tolist()
    on_front = passes and bool(mask[-1])
    if on_front:
        dropped = [i for i, keep in zip(ids[:-1], mask[:-1], strict=True) if not keep]
        if dropped:
            session.execute(
                update(Trial)
                .where(Trial.id.in_(dropped))
                .values(is_pareto=False)
                .execution_options(synchronize_session=False)
            )
        trial.is_pareto = True
        study.pareto_version += 1
        front = Y[torch.tensor(mask)]
        _ensure_ref_point(session, study)
        study.hypervolume = (
            hypervolume(front, directions(study), study.ref_point)
            if study.ref_point is not None
            else None
        )
    elif study.ref_point is None and _ensure_ref_point(session, study):
        if rows:  # a threshold can keep every result so far off the front
            study.hypervolume = hypervolume(Y[:-1], directions(study), study.ref_point)
        study.pareto_version += 1
    return on_front


def _ensure_ref_point(session: Session, study: Study) -> bool:
    """Fix a data-derived reference point once enough full-fidelity results exist.

    Returns:
        True if a reference point was set by this call.
    """
    if study.ref_point is not None:
        return False
    rows = session.execute(
        select(TrialResult.values)
        .join(Trial, TrialResult.trial_id == Trial.id)
        .where(Trial.study_id == study.id, full_fidelity(study))
    ).all()
    if len(rows) < MIN_POINTS_FOR_AUTO_REF:
        return False
    Y = torch.tensor([_vector(study, r[0]) for r in rows], dtype=torch.double)
    study.ref_point = [float(v) for v in default_ref_point(Y, directions(study))]
    return True
