"""Leases: who may work on a study or a trial right now, and until when.

A driver owns a study while ``studies.driver_id`` names it and ``driver_lease_expires_at`` is in
the future; it renews that lease every step and hands it back on a clean shutdown. A running
trial belongs to whoever holds its ``lease_token`` until ``lease_expires_at``; heartbeats renew
it, and the reaper sends trials whose lease ran out back to the queue (or to ``failed`` once
their attempts are spent). State changes go through ``services.lifecycle``, the only writer of
states; this module only makes tokens and expiries and asks it.

Losing a race is not an error, here and in ``lifecycle``: a claim, renewal, result or requeue
that another actor got to first returns ``None`` (or counts only the rows it won) and writes
nothing; the caller decides whether that matters. ``ConflictError`` is kept for requests that
are wrong whatever the timing (a user asking for a transition the study's state forbids).

All times are naive UTC (``models.utcnow``); lease lengths are in seconds.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from app.models import STUDY_ACTIVE, Study, Trial, TrialState, utcnow
from app.services import lifecycle

REQUEUE_REASON = "lease expired (worker or driver lost)"
ORPHAN_REASON = "its driver's ownership lease expired (server lost)"
INTERRUPTED_REASON = "evaluation interrupted (Dask scheduler connection lost)"


def claim_studies(session: Session, driver_id: str, now: datetime, lease_s: float) -> list[int]:
    """Take (or renew) the ownership lease of every active study that is free, already ours,
    or whose owner's lease expired before ``now``; the lease runs ``lease_s`` seconds.

    Returns:
        Ids of the active studies ``driver_id`` owns afterwards, ascending.
    """
    session.execute(
        update(Study)
        .where(
            Study.state.in_(STUDY_ACTIVE),
            or_(
                Study.driver_id.is_(None),
                Study.driver_id == driver_id,
                Study.driver_lease_expires_at < now,
            ),
        )
        .values(driver_id=driver_id, driver_lease_expires_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(Study.id)
            .where(Study.driver_id == driver_id, Study.state.in_(STUDY_ACTIVE))
            .order_by(Study.id)
        )
    )


def release_studies(session: Session, driver_id: str) -> int:
    """Hand back every study ``driver_id`` owns, for another driver to take at once.

    Returns:
        The number of studies released.
    """
    res = session.execute(
        update(Study)
        .where(Study.driver_id == driver_id)
        .values(driver_id=None, driver_lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return res.rowcount


def claim_trial(session: Session, trial: Trial, worker: str, lease_s: float) -> str | None:
    """``queued -> running`` under a fresh lease token valid for ``lease_s`` seconds.

    Returns:
        The token, or ``None`` if someone else moved the trial first.
    """
    token = uuid.uuid4().hex
    now = utcnow()
    won = lifecycle.start_trial(session, trial, token=token, worker=worker, now=now,
                                expires=now + timedelta(seconds=lease_s))
    return token if won else None


def claim_queued(session: Session, study_id: int, worker: str, lease_s: float,
                 skip: list[int]) -> list[tuple[Any, str]]:
    """``queued -> running`` for every queued trial of the study but the ids in ``skip``, in
    one statement that also reads them (``claim_trial`` for a whole queue), each under its own
    lease token (a fresh random prefix and the trial id) valid for ``lease_s`` seconds.

    Returns:
        ``(row, token)`` of the trials won, by number; a row has the trial's ``id``,
        ``number``, ``params``, ``fidelity`` and ``seed``.
    """
    now = utcnow()
    rows = lifecycle.start_queued(session, study_id, prefix=f"{uuid.uuid4().hex}-",
                                  worker=worker, now=now,
                                  expires=now + timedelta(seconds=lease_s), skip=skip)
    return [(r, r.lease_token) for r in rows]


def renew_leases(session: Session, tokens: dict[int, str], lease_s: float) -> int:
    """Heartbeat: extend by ``lease_s`` seconds from now the lease of each running trial (id ->
    token) whose token still matches.

    Returns:
        The number of leases renewed (a trial moved on by someone else is skipped).
    """
    if not tokens:
        return 0
    now = utcnow()
    res = session.execute(
        update(Trial)
        .where(Trial.id.in_(list(tokens)), Trial.state == TrialState.RUNNING,
               Trial.lease_token == case(tokens, value=Trial.id))
        .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return res.rowcount


def requeue_expired(session: Session, now: datetime, max_attempts: int) -> int:
    """The reaper: running trials whose lease expired before ``now`` go back to the queue
    (attempt + 1), or fail once ``max_attempts`` attempts are spent.

    Returns:
        The number of trials this call moved.
    """
    rows = session.execute(
        select(Trial.id, Trial.lease_token).where(
            Trial.state == TrialState.RUNNING, Trial.lease_expires_at < now
        )
    ).all()
    moved = 0
    for trial_id, token in rows:
        state = lifecycle.fail_attempt(session, trial_id, token, REQUEUE_REASON,
                                       retryable=True, max_attempts=max_attempts)
        moved += state is not None
    return moved


def requeue_orphans(session: Session, driver_id: str, study_ids: list[int]) -> int:
    """Trials of ``study_ids`` (studies ``driver_id`` just took over) still running under a
    claim of another driver go back to the queue at once, attempt unspent: their owner's
    ownership lease expired, so nobody will record them, and waiting for the (longer) trial
    lease would only delay the study. A late result of the old owner is dropped (stale token).

    Returns:
        The number of trials re-queued.
    """
    if not study_ids:
        return 0
    rows = session.execute(
        select(Trial.id, Trial.lease_token).where(
            Trial.study_id.in_(study_ids), Trial.state == TrialState.RUNNING,
            or_(Trial.worker.is_(None), Trial.worker != driver_id),
        )
    ).all()
    return sum(lifecycle.requeue_unspent(session, tid, token, ORPHAN_REASON)
               for tid, token in rows)
