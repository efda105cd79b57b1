"""Trial rows as the driver needs them: open-trial counts, the history an optimizer suggests
from, and suggestions added as queued trials with their seeds (the queue is claimed, and read,
in one statement by ``leases.claim_queued``).

Reproducibility: the same definition and seed give the same trials.

- Model-free methods (``MODEL_FREE_METHODS``: sobol, random) are asked for one trial number at
  a time, with the study seed and every trial handed out so far as pending (listed in finite
  spaces, only counted otherwise: ``model_free_handed_out``), so trial ``i``'s params depend
  only on the seed and ``i`` -- not on how many slots were free when the driver asked, nor on
  which evaluations had finished.
- Model-based methods see the observations complete at suggest time. With ``parallelism`` 1
  that is every earlier trial, so a study is deterministic (given deterministic evaluations);
  with more, results depend on the order evaluations finish in.

States are read here, never changed: new rows start ``queued``, and every later transition
goes through ``services.lifecycle``.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.execution.tasks import OVERHEAD_KEY
from app.models import STUDY_ACTIVE, TRIAL_OPEN, Study, Trial, TrialResult, TrialState
from app.services import bulk
from optimizer.space import SearchSpace

SEED_MODULUS = 2**31 - 1
"""Seeds stay below this (a positive 32-bit int, accepted by every RNG downstream)."""

MODEL_FREE_METHODS = frozenset({"sobol", "random"})
"""Methods whose suggestions ignore observed values: suggested one number at a time, as a
function of the seed and the trial number only."""


def trial_seed(study: Study, number: int) -> int:
    """The evaluation seed of trial ``number``: a function of the study seed and the number
    only, so a re-run attempt draws the same noise."""
    return (study.seed * 7919 + number) % SEED_MODULUS


def suggest_seed(study: Study) -> int:
    """The optimizer seed of the next suggest call of a model-based method: changes with every
    trial added. Model-free methods get the study seed itself (``sequence_seed``)."""
    return (study.seed * 1_000_003 + study.next_number) % SEED_MODULUS


def is_model_free(study: Study) -> bool:
    """Whether the study's method is suggested number by number (see the module docstring)."""
    return study.method in MODEL_FREE_METHODS


def sequence_seed(study: Study) -> int:
    """The seed of every suggest call of a model-free method: the study seed, so sobol walks
    one sequence and random draws trial ``i`` from ``(seed, i)``."""
    return study.seed % SEED_MODULUS


def count_open(session: Session, study_id: int) -> int:
    """Trials of the study holding a parallelism slot (queued or running)."""
    return session.scalar(
        select(func.count()).where(Trial.study_id == study_id, Trial.state.in_(TRIAL_OPEN))
    ) or 0


def history(
    session: Session, study_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the optimizer suggests from, as plain data for ``tasks.suggest_task``.

    Returns:
        ``(observations, pending)``: completed trials by number as ``{"params", "fidelity",
        "values", "cost_s", "variances", "overhead_s"}`` (cost in seconds; ``variances`` the
        result's ``details["variances"]``, known noise variances by objective, or ``None``;
        ``overhead_s`` the trial's share of the time of the ``suggest()`` call that proposed
        it [s], ``tasks.OVERHEAD_KEY`` of its stored suggestion, or ``None``), and open trials
        as ``{"params", "fidelity"}``.
    """
    rows = session.execute(
        select(Trial.params, Trial.fidelity, TrialResult.values, TrialResult.cost_s,
               TrialResult.details["variances"], Trial.suggestion["extras"])
        .join(TrialResult, TrialResult.trial_id == Trial.id)
        .where(Trial.study_id == study_id, Trial.state == TrialState.COMPLETED)
        .order_by(Trial.number)
    ).all()
    observations = [
        {"params": p, "fidelity": z, "values": v, "cost_s": c,
         "variances": var if isinstance(var, dict) else None,
         "overhead_s": _overhead_s(extras)}
        for p, z, v, c, var, extras in rows
    ]
    pending = [
        {"params": p, "fidelity": z}
        for p, z in session.execute(
            select(Trial.params, Trial.fidelity).where(
                Trial.study_id == study_id, Trial.state.in_(TRIAL_OPEN))
        ).all()
    ]
    return observations, pending


def _overhead_s(extras: Any) -> float | None:
    """A stored suggestion's ``tasks.OVERHEAD_KEY`` [s] when it is a finite number ``>= 0``
    (trials stored before it was recorded, or imported ones, have none)."""
    v = extras.get(OVERHEAD_KEY) if isinstance(extras, dict) else None
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
        return float(v)
    return None


def handed_out(session: Session, study_id: int) -> list[dict[str, Any]]:
    """Every trial of the study, whatever its state, by number, as ``{"params", "fidelity"}``:
    the pending list of a model-free suggest, whose length is the next trial number."""
    return [
        {"params": p, "fidelity": z}
        for p, z in session.execute(
            select(Trial.params, Trial.fidelity)
            .where(Trial.study_id == study_id)
            .order_by(Trial.number)
        ).all()
    ]


def model_free_handed_out(session: Session, study: Study) -> list[dict[str, Any]] | int:
    """What a model-free suggest (``tasks.suggest_numbers``) needs of the trials handed out so
    far: their rows (``handed_out``) in a finite space, where taken points are skipped, and
    otherwise only their count, ``study.next_number`` (every reserved number has its row),
    so asking costs the same at trial 100k as at trial 1."""
    if SearchSpace.from_spec(study.search_space).cardinality is not None:
        return handed_out(session, study.id)
    return study.next_number


def add_suggestions(
    session: Session, study: Study, suggestions: list[dict[str, Any]]
) -> list[int]:
    """Add suggestions (``{"params", "fidelity", "info_gain_per_cost"?, "extras"?}``) as
    queued trials numbered from ``study.next_number``, never beyond ``study.max_trials``.

    Returns:
        The numbers of the trials added (fewer than suggested when the trial budget runs
        out); the rows are not read back (the driver claims them with ``leases.claim_queued``).
    """
    if study.max_trials is not None:
        suggestions = suggestions[: max(0, study.max_trials - study.next_number)]
    if not suggestions:
        return []
    # Reserve the numbers in one statement that also re-checks the state: a cancel committed
    # after the caller read ``study`` wins, and no trial is created for a final study.
    reserved = session.execute(
        update(Study)
        .where(Study.id == study.id, Study.state.in_(STUDY_ACTIVE))
        .values(next_number=Study.next_number + len(suggestions))
        .returning(Study.next_number)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if reserved is None:
        return []
    set_committed_value(study, "next_number", reserved)
    first = reserved - len(suggestions)
    # One statement (``bulk``; an ORM flush of new objects sends one statement per row on
    # SQLite to read each id back; the ORM's bulk path costs more Python per row than Core).
    bulk.insert_rows(session, Trial.__table__, [
        {"study_id": study.id, "number": number, "state": TrialState.QUEUED,
         "params": sg["params"], "fidelity": float(sg["fidelity"]),
         "seed": trial_seed(study, number), "attempt": 0,
         "info_gain_per_cost": sg.get("info_gain_per_cost"),
         "suggestion": {"extras": sg.get("extras", {}), "method": study.method},
         "is_pareto": False}
        for number, sg in enumerate(suggestions, start=first)])
    return list(range(first, reserved))
