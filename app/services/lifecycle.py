"""The one module that changes study and trial states.

Study: ``created -> running -> (paused <-> running) -> completed | failed | cancelled``.
Trial: ``queued -> running -> completed | failed``; ``running -> queued`` when its lease expires
or its worker is lost (attempt + 1, bounded), then ``failed`` with the reason.

Every trial transition is a conditional UPDATE on the expected current state (and lease token),
so two actors racing on one trial cannot both win; the loser gets ``None`` back (see
``services.leases`` for the convention). Final states never change. Leases (who may move a
trial, until when) live in ``services.leases``, which calls in here for the state changes.
Recording a result (``running -> completed`` with its counters, front and events) lives in
``services.recording`` and is re-exported here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.core.errors import ConflictError, NotFoundError
from app.models import (
    STUDY_ACTIVE,
    STUDY_FINAL,
    TRIAL_OPEN,
    Study,
    StudyState,
    Trial,
    TrialState,
    utcnow,
)
from app.services.events import emit
from app.services.recording import Outcome, Recorded, record_result, record_results

__all__ = ["ACTIONS", "DELETE_ATTEMPTS", "STUDY_TRANSITIONS", "Outcome", "Recorded", "apply_action",
           "delete_study", "fail_attempt", "finish_study", "first_error", "record_result",
           "record_results", "requeue_unspent", "start_queued", "start_trial",
           "transition_study"]

STUDY_TRANSITIONS: dict[StudyState, set[StudyState]] = {
    StudyState.CREATED: {StudyState.RUNNING, StudyState.CANCELLED, StudyState.FAILED},
    StudyState.RUNNING: {StudyState.PAUSED, StudyState.COMPLETED, StudyState.FAILED,
                         StudyState.CANCELLED},
    StudyState.PAUSED: {StudyState.RUNNING, StudyState.CANCELLED, StudyState.FAILED},
    StudyState.COMPLETED: set(),
    StudyState.FAILED: set(),
    StudyState.CANCELLED: set(),
}

ACTIONS: dict[str, tuple[StudyState, tuple[StudyState, ...]]] = {
    "pause": (StudyState.PAUSED, (StudyState.RUNNING,)),
    "resume": (StudyState.RUNNING, (StudyState.PAUSED,)),
    "cancel": (StudyState.CANCELLED, STUDY_ACTIVE),
}
"""User actions: target state and the states they apply to (``resume`` only un-pauses; the
driver, not the user, starts a created study)."""


def transition_study(
    session: Session, study: Study, target: StudyState | str, *, error: str | None = None
) -> None:
    """Move ``study`` to ``target``.

    Raises:
        ConflictError: the transition is not allowed from the study's current state.
    """
    previous, target = StudyState(study.state), StudyState(target)
    allowed = STUDY_TRANSITIONS[previous]
    if target not in allowed:
        raise ConflictError(
            f"Study {study.id} is {previous.value!r}; it cannot become {target.value!r}. "
            f"Allowed from {previous.value!r}: {sorted(s.value for s in allowed) or 'none'}."
        )
    study.state = target
    now = utcnow()
    if target == StudyState.RUNNING and study.started_at is None:
        study.started_at = now
    if target in STUDY_FINAL:
        study.finished_at = now
        study.driver_id = None
        study.driver_lease_expires_at = None
        if error:
            study.error = error
        if target in (StudyState.CANCELLED, StudyState.FAILED):
            _close_open_trials(session, study, f"study {target.value}")
    emit(session, study.id, "study.state",
         {"from": previous.value, "to": target.value, "error": error})


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
            f"Study {study.id} is {StudyState(study.state).value!r}; {action} applies only to "
            f"{' or '.join(repr(x.value) for x in sources)} studies."
        )
    transition_study(session, study, target)
    session.commit()  # before the response: a GET right after it must see the new state


DELETE_ATTEMPTS = 5
"""Tries of a study delete that PostgreSQL aborted as a deadlock victim."""


def delete_study(session: Session, study: Study) -> None:
    """Delete ``study`` with its trials, results and events (``ON DELETE CASCADE``; SQLite
    enforces it through ``PRAGMA foreign_keys=ON`` in ``core.db``).

    An active study is cancelled first, in its own commit: its open trials fail, and a driver
    racing with the delete finds a final study and submits nothing more for it. Results that
    arrive later find no trial and are dropped as stale (``record_result`` returns None).
    """
    if study.state in STUDY_ACTIVE:
        transition_study(session, study, StudyState.CANCELLED)
        session.commit()
    study_id = study.id
    for attempt in range(DELETE_ATTEMPTS):
        try:
            session.execute(delete(Study).where(Study.id == study_id))
            session.commit()  # before the 204: a GET right after it must answer 404
            break
        except OperationalError as exc:
            # PostgreSQL aborts one side of a lock cycle with a driver recording a result
            # (trial row, then study row; the cascade takes them the other way): retry.
            session.rollback()
            if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == DELETE_ATTEMPTS - 1:
                raise
    session.expunge_all()


def finish_study(session: Session, study: Study) -> StudyState:
    """End a running study whose budget is spent and which has no open trial: ``completed``,
    or ``failed`` (with the first trial's error) when every one of its trials failed.

    Returns:
        The state the study ended in.
    """
    if study.n_completed == 0 and study.n_failed > 0:
        transition_study(
            session, study, StudyState.FAILED,
            error=f"all {study.n_failed} trials failed; first error: "
                  f"{first_error(session, study.id)}"[:2000],
        )
        return StudyState.FAILED
    transition_study(session, study, StudyState.COMPLETED)
    return StudyState.COMPLETED


def first_error(session: Session, study_id: int) -> str | None:
    """The error of the lowest-numbered failed trial of the study (None when none failed)."""
    return session.scalar(
        select(Trial.error)
        .where(Trial.study_id == study_id, Trial.state == TrialState.FAILED)
        .order_by(Trial.number)
        .limit(1)
    )


def _close_open_trials(session: Session, study: Study, reason: str) -> None:
    """Fail every open trial of ``study`` with ``reason``, counting them in ``n_failed``."""
    res = session.execute(
        update(Trial)
        .where(Trial.study_id == study.id, Trial.state.in_(TRIAL_OPEN))
        .values(state=TrialState.FAILED, error=reason, completed_at=utcnow(), lease_token=None,
                lease_expires_at=None)
    )
    if res.rowcount:
        study.n_failed = Study.n_failed + res.rowcount  # an SQL increment: no lost update
        session.flush()  # writes it; the attribute reloads on next access


def start_trial(
    session: Session, trial: Trial, *, token: str, worker: str, now: datetime, expires: datetime
) -> bool:
    """``queued -> running`` under the lease ``token`` held by ``worker`` until ``expires``
    (naive UTC), if the trial is still queued at the attempt ``trial`` was read at.

    Returns:
        False when someone else moved the trial first. Call it through
        ``leases.claim_trial``, which makes the token and the expiry.
    """
    res = session.execute(
        update(Trial)
        .where(Trial.id == trial.id, Trial.state == TrialState.QUEUED,
               Trial.attempt == trial.attempt)
        .values(
            state=TrialState.RUNNING,
            lease_token=token,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            lease_expires_at=expires,
        )
        .execution_options(synchronize_session=False)
    )
    return res.rowcount == 1


def start_queued(session: Session, study_id: int, *, prefix: str, worker: str, now: datetime,
                 expires: datetime, skip: list[int]) -> list[Any]:
    """``queued -> running`` for every queued trial of the study but the ids in ``skip``, in
    one statement, each under the lease token ``prefix`` + its id, held by ``worker`` until
    ``expires`` (naive UTC). A trial is won if it is still queued when its row is written (at
    whatever attempt); one another actor moved first is not.

    Returns:
        ``(id, number, params, fidelity, seed, lease_token)`` rows of the trials won, by
        number. Call it through ``leases.claim_queued``, which makes the prefix and expiry.
    """
    return sorted(session.execute(_START, {
        "b_study": study_id, "b_skip": skip, "b_prefix": prefix, "b_worker": worker,
        "b_now": now, "b_expires": expires}).all(), key=lambda r: r.number)


_TRIALS = Trial.__table__
_START = (
    _TRIALS.update()
    .where(_TRIALS.c.state == TrialState.QUEUED, _TRIALS.c.id.in_(
        select(_TRIALS.c.id).where(_TRIALS.c.study_id == bindparam("b_study"),
                                   _TRIALS.c.state == TrialState.QUEUED,
                                   _TRIALS.c.id.not_in(bindparam("b_skip", expanding=True)))))
    .values(state=TrialState.RUNNING,
            lease_token=bindparam("b_prefix", type_=String) + _TRIALS.c.id.cast(String),
            worker=bindparam("b_worker"), started_at=bindparam("b_now"),
            heartbeat_at=bindparam("b_now"), lease_expires_at=bindparam("b_expires"))
    .returning(_TRIALS.c.id, _TRIALS.c.number, _TRIALS.c.params, _TRIALS.c.fidelity,
               _TRIALS.c.seed, _TRIALS.c.lease_token)
)
"""A study's queue claimed in one statement: the rows won come back (compiled once)."""


def fail_attempt(
    session: Session,
    trial_id: int,
    token: str | None,
    reason: str,
    *,
    retryable: bool,
    max_attempts: int,
) -> TrialState | None:
    """End the current attempt of a running trial.

    Retryable (worker lost, lease expired) and attempts left: back to ``queued`` with
    ``attempt + 1``. Otherwise ``failed`` with ``reason``. Returns the new state, or ``None`` when
    the token no longer matches (someone else already moved the trial).
    """
    trial = session.get(Trial, trial_id)
    if trial is None or trial.state != TrialState.RUNNING or (
        token and trial.lease_token != token
    ):
        return None
    if retryable and trial.attempt + 1 < max_attempts:
        trial.state = TrialState.QUEUED
        trial.attempt += 1
        trial.lease_token = None
        trial.lease_expires_at = None
        trial.worker = None
        trial.error = reason
        emit(session, trial.study_id, "trial.requeued", {"trial_id": trial.id, "reason": reason})
        return TrialState.QUEUED
    trial.state = TrialState.FAILED
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
    return TrialState.FAILED


def requeue_unspent(session: Session, trial_id: int, token: str | None, reason: str) -> bool:
    """``running -> queued`` without spending an attempt, for evaluations interrupted by the
    infrastructure (scheduler connection lost, owning driver gone) rather than by their own
    failure. ``token=None`` matches any token.

    Returns:
        False when the trial is no longer running under ``token`` (someone moved it first).
    """
    cond = [Trial.id == trial_id, Trial.state == TrialState.RUNNING]
    if token is not None:
        cond.append(Trial.lease_token == token)
    study_id = session.scalar(select(Trial.study_id).where(*cond))
    if study_id is None:
        return False
    res = session.execute(
        update(Trial)
        .where(*cond)
        .values(state=TrialState.QUEUED, lease_token=None, lease_expires_at=None, worker=None,
                error=reason)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        return False
    emit(session, study_id, "trial.requeued", {"trial_id": trial_id, "reason": reason})
    return True
