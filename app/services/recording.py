"""Recording finished evaluations: a trial's ``running -> completed`` with its result, the
study's counters, Pareto front and events, exactly once per lease token.

Part of the state changes of ``services.lifecycle`` (which re-exports these names): the
same conditional-UPDATE rule holds, a result under a stale token is dropped (``None``), and
a batch ends where recording its results one by one ends. A batch's rows are written in a
fixed number of statements whatever its size (``services.bulk`` on PostgreSQL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.models import Event, Study, Trial, TrialResult, TrialState, utcnow
from app.services import bulk, pareto

_TRIALS = Trial.__table__
_COMPLETE = (
    _TRIALS.update()
    .where(_TRIALS.c.id == bindparam("b_id"), _TRIALS.c.state == TrialState.RUNNING,
           _TRIALS.c.lease_token == bindparam("b_token"))
    .values(state=TrialState.COMPLETED, completed_at=bindparam("b_now"),
            lease_expires_at=None, error=None,
            worker=func.coalesce(bindparam("b_worker", type_=String), _TRIALS.c.worker))
)
"""``running -> completed`` under the lease token; ``b_worker`` None keeps the worker."""
_COMPLETE_PG = text(
    "UPDATE trials SET state = :done, completed_at = :now, updated_at = :now, "
    "lease_expires_at = NULL, error = NULL, worker = COALESCE(x.worker, trials.worker) "
    "FROM json_to_recordset(CAST(:rows AS json)) AS x(id integer, token text, worker text) "
    "WHERE trials.id = x.id AND trials.state = :running AND trials.lease_token = x.token "
    "RETURNING trials.id")
"""``_COMPLETE`` for a whole batch on PostgreSQL: ``:rows`` a JSON array of ``{"id",
"token", "worker"}``; the ids of the trials won come back."""


@dataclass(frozen=True)
class Recorded:
    """Outcome of :func:`record_result`: ``duplicate`` when the same token had already recorded."""

    trial_id: int
    duplicate: bool
    on_front: bool


@dataclass(frozen=True)
class Outcome:
    """A finished evaluation to record: its trial, lease token, objective values, cost [s],
    details and the worker that ran it (``None``: leave the trial's ``worker`` as it is)."""

    trial_id: int
    token: str
    values: dict[str, float]
    cost_s: float
    details: dict[str, Any]
    worker: str | None = None


def record_result(
    session: Session,
    trial_id: int,
    token: str,
    values: dict[str, float],
    cost_s: float,
    details: dict[str, Any],
    *,
    worker: str | None = None,
) -> Recorded | None:
    """Record a trial's result (``cost_s`` in seconds) exactly once; ``worker`` names who ran it.

    The same token sent again returns the stored outcome without counting twice. The result
    joins the Pareto front when the trial ran at the study's target fidelity.

    Returns:
        None when the token is stale (the trial was re-queued, re-run or closed since, or
        another attempt already recorded): the race is lost and nothing is written.
    """
    (out,) = record_results(session, [Outcome(trial_id, token, values, cost_s, details, worker)])
    return out


def record_results(session: Session, outcomes: list[Outcome]) -> list[Recorded | None]:
    """:func:`record_result` for many trials (distinct ids) in a fixed number of statements
    per study, whatever the batch size: the same outcome as recording them one by one, in
    order (counters, front, hypervolume and events as each result arrived).

    Returns:
        Per outcome, ``Recorded`` or ``None`` (stale token), as :func:`record_result`.
    """
    ids = [o.trial_id for o in outcomes]
    rows = {r.id: r for r in session.execute(
        select(Trial.id, Trial.study_id, Trial.number, Trial.fidelity, Trial.attempt,
               Trial.state, Trial.lease_token, Trial.is_pareto,
               TrialResult.lease_token.label("stored_token"))
        .outerjoin(TrialResult, TrialResult.trial_id == Trial.id)
        .where(Trial.id.in_(ids)))} if ids else {}
    done: dict[int, Recorded | None] = {}
    fresh = []
    for o in outcomes:
        r = rows.get(o.trial_id)
        if r is not None and r.stored_token is not None:  # recorded before
            done[o.trial_id] = (Recorded(o.trial_id, True, bool(r.is_pareto))
                                if r.stored_token == o.token else None)
        elif r is not None and r.state == TrialState.RUNNING and r.lease_token == o.token:
            fresh.append(o)
        else:  # gone, or moved on under another token: the race is lost, nothing written
            done[o.trial_id] = None
    won = _complete_trials(session, fresh, rows) if fresh else {}
    by_study: dict[int, list[Outcome]] = {}
    for o in fresh:
        if o.trial_id in won:
            by_study.setdefault(won[o.trial_id].study_id, []).append(o)
        else:
            done[o.trial_id] = None
    for study_id, batch in by_study.items():
        done.update(_record_study_batch(session, study_id, batch, won))
    return [done[i] for i in ids]


def _complete_trials(session: Session, outcomes: list[Outcome],
                     rows: dict[int, Any]) -> dict[int, Any]:
    """``running -> completed`` for every outcome whose lease token still matches (``rows``:
    as read before), in one statement (PostgreSQL: the outcomes as one JSON document, the
    trials won read back; elsewhere an executemany). Returns trial id -> row of those won."""
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        won = set(session.scalars(_COMPLETE_PG, {
            "rows": json.dumps([{"id": o.trial_id, "token": o.token, "worker": o.worker or None}
                                for o in outcomes]),
            "now": now, "done": TrialState.COMPLETED.value,
            "running": TrialState.RUNNING.value}))
    else:
        res = session.execute(_COMPLETE, [
            {"b_id": o.trial_id, "b_token": o.token, "b_now": now,
             "b_worker": o.worker or None} for o in outcomes])
        won = {o.trial_id for o in outcomes}
        if res.rowcount != len(outcomes):  # lost a race since the read: which ones were won
            won = set(session.scalars(select(Trial.id).where(
                Trial.id.in_(list(won)), Trial.state == TrialState.COMPLETED,
                Trial.lease_token.in_([o.token for o in outcomes]))))
    for tid in won:  # a trial loaded in this session reloads its new state on next access
        if (loaded := session.identity_map.get(identity_key(Trial, tid))) is not None:
            session.expire(loaded)
    return {tid: rows[tid] for tid in won}


def _record_study_batch(session: Session, study_id: int, batch: list[Outcome],
                        won: dict[int, Any]) -> dict[int, Recorded]:
    """The results, counters, front and events of one study's completed ``batch``."""
    session.execute(
        update(Study)
        .where(Study.id == study_id)
        .values(n_completed=Study.n_completed + len(batch),
                total_cost_s=Study.total_cost_s + sum(o.cost_s for o in batch))
        .execution_options(synchronize_session=False)
    )
    study = session.get(Study, study_id, populate_existing=True)  # the counters just set
    assert study is not None
    fronts = pareto.add_to_front(session, study, [
        (o.trial_id, won[o.trial_id].fidelity, o.values) for o in batch])
    bulk.insert_rows(session, TrialResult.__table__, [
        {"trial_id": o.trial_id, "attempt": won[o.trial_id].attempt, "lease_token": o.token,
         "values": o.values, "cost_s": o.cost_s, "details": o.details} for o in batch])
    n0 = study.n_completed - len(batch)
    cost = study.total_cost_s - sum(o.cost_s for o in batch)
    out, events = {}, []
    for k, (o, (on_front, hv)) in enumerate(zip(batch, fronts, strict=True)):
        row = won[o.trial_id]
        cost += o.cost_s
        events.append({"study_id": study_id, "type": "trial.completed", "payload": {
            "trial_id": o.trial_id, "number": row.number, "fidelity": row.fidelity,
            "values": o.values, "cost_s": o.cost_s, "on_front": on_front, "hypervolume": hv,
            "total_cost_s": cost, "n_completed": n0 + k + 1,
        }})
        out[o.trial_id] = Recorded(o.trial_id, False, on_front)
    bulk.insert_rows(session, Event.__table__, events)  # ids in batch order
    return out
