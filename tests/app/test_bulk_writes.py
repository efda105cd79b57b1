"""Rows written in one statement (``services.bulk``; PostgreSQL: one JSON document) are the
rows an executemany writes: values, defaults, ids in batch order, and values JSON cannot
carry; a batch completion (``recording``) wins exactly the trials whose token matches."""

from __future__ import annotations

import math

from sqlalchemy import select

from app.models import Event, Trial, TrialResult, TrialState, utcnow
from app.services import bulk, lifecycle
from tests.app.helpers import add_trial, claim, new_study


def test_insert_rows_keeps_values_defaults_and_order(database) -> None:
    sid = new_study(database)
    payloads = [{"k": k, "values": {"f0": 0.1 * k, "f1": -2.5e-7}, "on_front": k % 2 == 0,
                 "hypervolume": None, "name": f"tr\u00e9s \"{k}\"\n"} for k in range(7)]
    before = utcnow().replace(microsecond=0)
    with database.session() as s:
        bulk.insert_rows(s, Event.__table__, [
            {"study_id": sid, "type": "trial.completed", "payload": p} for p in payloads])
        bulk.insert_rows(s, Event.__table__, [])  # nothing to write: no statement
    with database.session() as s:
        rows = s.scalars(select(Event).where(Event.study_id == sid,
                                             Event.type == "trial.completed")
                         .order_by(Event.id)).all()
        assert [e.payload for e in rows] == payloads  # ids follow the batch order
        assert len({e.id for e in rows}) == 7
        assert all(before <= e.created_at <= utcnow() for e in rows)  # the default


def test_insert_rows_takes_values_json_cannot_carry(database) -> None:
    """An infinite cost (no JSON number) goes in through the executemany, on both backends;
    a JSON column keeps an empty dict as ``{}`` (the column default when left out)."""
    sid = new_study(database)
    tids = [add_trial(database, sid) for _ in range(2)]
    with database.session() as s:
        bulk.insert_rows(s, TrialResult.__table__, [
            {"trial_id": tid, "attempt": 0, "lease_token": f"t{i}", "values": {"f0": 1.0},
             "cost_s": math.inf if i == 0 else 0.25} for i, tid in enumerate(tids)])
    with database.session() as s:
        got = s.execute(select(TrialResult.trial_id, TrialResult.cost_s, TrialResult.details,
                               TrialResult.lease_token)
                        .where(TrialResult.trial_id.in_(tids))
                        .order_by(TrialResult.trial_id)).all()
    assert [tuple(r) for r in got] == [(tids[0], math.inf, {}, "t0"),
                                       (tids[1], 0.25, {}, "t1")]


def test_a_batch_completes_only_the_trials_whose_token_matches(database) -> None:
    """Three running trials recorded in one batch, one under a stale token: the two others
    complete (a missing worker keeps the claim's worker), the stale one stays running."""
    sid = new_study(database)
    tids = [add_trial(database, sid) for _ in range(3)]
    tokens = [claim(database, t) for t in tids]
    with database.session() as s:
        got = lifecycle.record_results(s, [
            lifecycle.Outcome(tids[0], tokens[0], {"f0": 1.0, "f1": 2.0}, 0.5, {}, "w7"),
            lifecycle.Outcome(tids[1], "stale", {"f0": 3.0, "f1": 1.0}, 0.5, {}, "w8"),
            lifecycle.Outcome(tids[2], tokens[2], {"f0": 2.0, "f1": 3.0}, 0.5, {}, None)])
    assert [r.trial_id if r else None for r in got] == [tids[0], None, tids[2]]
    with database.session() as s:
        rows = s.execute(select(Trial.state, Trial.worker, Trial.lease_token)
                         .where(Trial.id.in_(tids)).order_by(Trial.id)).all()
        results = s.scalars(select(TrialResult.trial_id).order_by(TrialResult.trial_id)).all()
    assert [tuple(r) for r in rows] == [(TrialState.COMPLETED, "w7", tokens[0]),
                                        (TrialState.RUNNING, "w", tokens[1]),
                                        (TrialState.COMPLETED, "w", tokens[2])]
    assert results == [tids[0], tids[2]]
