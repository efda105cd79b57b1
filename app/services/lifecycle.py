"""The one module that changes study and trial states.

Study: ``created -> running -> (paused <-> running) -> completed | failed | cancelled``.
Trial: ``queued -> running -> completed | failed``; ``running -> queued`` when its lease expires
or its worker is lost (attempt + 1, bounded), then ``failed`` with the reason.

Every trial transition is a conditional UPDATE on the expected current state (and lease token),
so two actors racing on one trial cannot both win. Final states never change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.errors import ConflictError, NotFoundError
from app.models import Study, Trial, TrialResult, utcnow
from app.services import pareto
from app.services.events import emit

STUDY_TRANSITIONS: dict[str, set[str]] = {
    "created": {"running", "cancelled", "failed"},
    "running": {"paused", "completed", "failed", "cancelled"},
    "paused": {"running", "cancelled", "failed"},
    "completed": set(),
    "failed": set(),
    "cancelled": set(),
}
STUDY_ACTIVE = ("created", "running", "paused")
TRIAL_OPEN = ("queued", "running")
FINAL_TRIAL = ("completed", "failed")

ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pause": ("paused", ("running",)),
    "resume": ("running", ("paused",)),
    "cancel": ("cancelled", STUDY_ACTIVE),
}
"""User actions: target state and the states they apply to (``resume`` only un-pauses; the
driver, not the user, starts a created study)."""


def transition_study(
    session: Session, study: Study, target: str, *, error: str | None = None
) -> None:
    """Move ``study`` to ``target``.

    Raises:
        ConflictError: the transition is not allowed from the study's current state.
    """
    if target not in STUDY_TRANSITIONS.get(study.state, set()):
        raise ConflictError(
            f"Study {study.id} is {study.state!r}; it cannot become {target!r}. "
            f"Allowed from {study.state!r}: {sorted(STUDY_TRANSITIONS[study.state]) or 'none'}."
        )
    previous = study.state
    study.state = target
    now = utcnow()
    if target == "running" and study.started_at is None:
        study.started_at = now
    if target in ("completed", "failed", "cancelled"):
        study.finished_at = now
        study.driver_id = None
        study.driver_lease_expires_at = None
        if error:
            study.error = error
        if target in ("cancelled", "failed"):
            _close_open_trials(session, study.id, f"study {target}")
    emit(session, study.id, "study.state", {"from": previous, "to": target, "error": error})


def apply_action(session: Session, study: Study, action: str) -> None:
    """Apply a user action (``pause``, ``resume``, ``cancel``).

    Raises:
        NotFoundError: unknown action.
        ConflictError: the action does not apply in the study's current state.
    """
    if action not in ACTIONS:
        raise NotFoundError(f"Unknown action {action!r}; use pause, resume or cancel.")
    target, sources = ACTIONS[action]
    if study.state not in sources:
        raise ConflictError(
            f"Study {study.id} is {study.state!r}; {action} applies only to "
            f"{' or '.join(repr(x) for x in sources)} studies."
        )
    transition_study(session, study, target)


def _close_open_trials(session: Session, study_id: int, reason: str) -> None:
    session.execute(
        update(Trial)
        .where(Trial.study_id == study_id, Trial.state.in_(TRIAL_OPEN))
        .values(state="failed", error=reason, completed_at=utcnow(), lease_token=None)
    )


def claim_trial(session: Session, trial: Trial, worker: str, lease_s: float) -> str | None:
    """``queued -> running`` with a fresh lease token; ``None`` if someone else moved it first."""
    token = uuid.uuid4().hex
    now = utcnow()
    res = session.execute(
        update(Trial)
        .where(Trial.id == trial.id, Trial.state == "queued", Trial.attempt == trial.attempt)
        .values(
            state="running",
            lease_token=token,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=lease_s),
        )
        .execution_options(synchronize_session=False)
    )
    return token if res.rowcount == 1 else None


def renew_leases(session: Session, tokens: dict[int, str], lease_s: float) -> int:
    """Heartbeat: extend the lease of each running trial whose token still matches."""
    now = utcnow()
    n = 0
    for trial_id, token in tokens.items():
        res = session.execute(
            update(Trial)
            .where(Trial.id == trial_id, Trial.state == "running", Trial.lease_token == token)
            .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        n += res.rowcount
    return n


@dataclass(frozen=True)
class Recorded:
    """Outcome of :func:`record_result`: ``duplicate`` when the same token had already recorded."""

    trial_id: int
    duplicate: bool
    on_front: bool


def record_result(
    session: Session,
    trial_id: int,
    token: str,
    values: dict[str, float],
    cost_s: float,
    details: dict[str, Any],
    *,
    target_fidelity: float = 1.0,
) -> Recorded:
    """Record a trial's result exactly once.

    The same token sent again returns the stored outcome without counting twice.

    Raises:
        ConflictError: the token is stale (the trial was re-queued, re-run or closed since).
    """
    existing = session.scalar(select(TrialResult).where(TrialResult.trial_id == trial_id))
    if existing is not None:
        if existing.lease_token == token:
            trial = session.get(Trial, trial_id)
            return Recorded(trial_id, True, bool(trial and trial.is_pareto))
        raise ConflictError(f"Trial {trial_id} already has a result from another attempt.")
    now = utcnow()
    res = session.execute(
        update(Trial)
        .where(Trial.id == trial_id, Trial.state == "running", Trial.lease_token == token)
        .values(state="completed", completed_at=now, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        raise ConflictError(f"Trial {trial_id}: lease token is stale or the trial is not running.")
    trial = session.get(Trial, trial_id)
    assert trial is not None
    session.refresh(trial)
    session.add(
        TrialResult(
            trial_id=trial_id,
            attempt=trial.attempt,
            lease_token=token,
            values=values,
            cost_s=cost_s,
            details=details,
        )
    )
    session.execute(
        update(Study)
        .where(Study.id == trial.study_id)
        .values(
            n_completed=Study.n_completed + 1,
            total_cost_s=Study.total_cost_s + cost_s,
        )
        .execution_options(synchronize_session=False)
    )
    study = session.get(Study, trial.study_id)
    assert study is not None
    session.refresh(study)
    on_front = False
    if trial.fidelity >= target_fidelity - 1e-9:
        on_front = pareto.add_to_front(session, study, trial, values)
    emit(
        session,
        study.id,
        "trial.completed",
        {
            "trial_id": trial.id,
            "number": trial.number,
            "fidelity": trial.fidelity,
            "values": values,
            "cost_s": cost_s,
            "on_front": on_front,
            "hypervolume": study.hypervolume,
            "total_cost_s": study.total_cost_s,
            "n_completed": study.n_completed,
        },
    )
    return Recorded(trial_id, False, on_front)


def fail_attempt(
    session: Session,
    trial_id: int,
    token: str | None,
    reason: str,
    *,
    retryable: bool,
    max_attempts: int,
) -> str | None:
    """End the current attempt of a running trial.

    Retryable (worker lost, lease expired) and attempts left: back to ``queued`` with
    ``attempt + 1``. Otherwise ``failed`` with ``reason``. Returns the new state, or ``None`` when
    the token no longer matches (someone else already moved the trial).
    """
    trial = session.get(Trial, trial_id)
    if trial is None or trial.state != "running" or (token and trial.lease_token != token):
        return None
    if retryable and trial.attempt + 1 < max_attempts:
        trial.state = "queued"
        trial.attempt += 1
        trial.lease_token = None
        trial.lease_expires_at = None
        trial.worker = None
        trial.error = reason
        emit(session, trial.study_id, "trial.requeued", {"trial_id": trial.id, "reason": reason})
        return "queued"
    trial.state = "failed"
    trial.error = reason
    trial.completed_at = utcnow()
    trial.lease_token = None
    session.execute(
        update(Study)
        .where(Study.id == trial.study_id)
        .values(n_failed=Study.n_failed + 1)
        .execution_options(synchronize_session=False)
    )
    emit(session, trial.study_id, "trial.failed", {"trial_id": trial.id, "reason": reason})
    return "failed"


def requeue_expired(session: Session, now: datetime, max_attempts: int) -> int:
    """The reaper: running trials whose lease expired go back to the queue (or fail)."""
    rows = session.execute(
        select(Trial.id, Trial.lease_token).where(
            Trial.state == "running", Trial.lease_expires_at < now
        )
    ).all()
    for trial_id, token in rows:
        fail_attempt(
            session,
            trial_id,
            token,
            "lease expired (worker or driver lost)",
            retryable=True,
            max_attempts=max_attempts,
        )
    return len(rows)
