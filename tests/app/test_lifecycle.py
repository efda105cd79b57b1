"""Trial and study state transitions: leases, idempotent results, re-queueing, final states."""

from __future__ import annotations

from datetime import timedelta

import pytest
import torch
from sqlalchemy import func, select

from app.core.errors import ConflictError
from app.models import Study, Trial, TrialResult, utcnow
from app.services import lifecycle
from optimizer.pareto import pareto_mask
from tests.app.helpers import add_trial, new_study


def _claim(db, trial_id: int, lease_s: float = 30.0) -> str:
    with db.session() as s:
        token = lifecycle.claim_trial(s, s.get(Trial, trial_id), "w", lease_s)
    assert token is not None
    return token


def test_claim_is_exclusive(database) -> None:
    """Two claims of one queued trial: the first wins, the second gets None."""
    sid = new_study(database)
    tid = add_trial(database, sid)
    _claim(database, tid)
    with database.session() as s:
        t = s.get(Trial, tid)
        t.state = "queued"  # a stale in-memory view of the row
        s.expunge(t)
        assert lifecycle.claim_trial(s, t, "other", 30) is None


def test_record_is_idempotent(database) -> None:
    """The same token recorded twice stores one result and counts one completion."""
    sid = new_study(database)
    tid = add_trial(database, sid)
    tok = _claim(database, tid)
    vals = {"f0": 1.0, "f1": 2.0}
    with database.session() as s:
        first = lifecycle.record_result(s, tid, tok, vals, 0.5, {})
    with database.session() as s:
        again = lifecycle.record_result(s, tid, tok, vals, 0.5, {})
    assert not first.duplicate and again.duplicate
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(TrialResult)) == 1
        study = s.get(Study, sid)
        assert study.n_completed == 1 and study.total_cost_s == pytest.approx(0.5)


def test_stale_token_conflicts(database) -> None:
    """After a lease expires and the trial is re-queued and re-claimed, the old token's result
    is refused with ConflictError and the new token's result is stored."""
    sid = new_study(database)
    tid = add_trial(database, sid)
    old = _claim(database, tid, lease_s=0.0)
    with database.session() as s:
        assert lifecycle.requeue_expired(s, utcnow() + timedelta(seconds=1), 3) == 1
    with database.session() as s:
        t = s.get(Trial, tid)
        assert (t.state, t.attempt, t.lease_token) == ("queued", 1, None)
    new = _claim(database, tid)
    with pytest.raises(ConflictError), database.session() as s:
        lifecycle.record_result(s, tid, old, {"f0": 1.0, "f1": 1.0}, 1.0, {})
    with database.session() as s:
        lifecycle.record_result(s, tid, new, {"f0": 1.0, "f1": 1.0}, 1.0, {})
    with pytest.raises(ConflictError), database.session() as s:
        lifecycle.record_result(s, tid, old, {"f0": 9.0, "f1": 9.0}, 1.0, {})
    with database.session() as s:
        r = s.scalar(select(TrialResult))
        assert r.lease_token == new and r.attempt == 1 and r.values["f0"] == 1.0


def test_attempts_are_bounded(database) -> None:
    """A trial whose lease keeps expiring fails after max_attempts with the reason."""
    sid = new_study(database)
    tid = add_trial(database, sid)
    for _ in range(3):
        _claim(database, tid, lease_s=0.0)
        with database.session() as s:
            lifecycle.requeue_expired(s, utcnow() + timedelta(seconds=1), max_attempts=3)
    with database.session() as s:
        t = s.get(Trial, tid)
        assert t.state == "failed" and "lease expired" in t.error and t.attempt == 2
        assert s.get(Study, sid).n_failed == 1


def test_final_states_never_change(database) -> None:
    """A completed trial cannot be failed or re-queued; a failed one cannot complete."""
    sid = new_study(database)
    done = add_trial(database, sid)
    tok = _claim(database, done)
    with database.session() as s:
        lifecycle.record_result(s, done, tok, {"f0": 1.0, "f1": 1.0}, 1.0, {})
    with database.session() as s:
        assert lifecycle.fail_attempt(s, done, tok, "x", retryable=True, max_attempts=3) is None
        assert s.get(Trial, done).state == "completed"
    bad = add_trial(database, sid)
    tok2 = _claim(database, bad)
    with database.session() as s:
        assert lifecycle.fail_attempt(s, bad, tok2, "boom", retryable=False,
                                      max_attempts=3) == "failed"
    with pytest.raises(ConflictError), database.session() as s:
        lifecycle.record_result(s, bad, tok2, {"f0": 1.0, "f1": 1.0}, 1.0, {})


def test_study_transitions_table(database) -> None:
    """Only the documented study transitions are allowed; cancelling closes open trials."""
    sid = new_study(database)
    q = add_trial(database, sid)
    with database.session() as s:
        st = s.get(Study, sid)
        lifecycle.transition_study(s, st, "paused")
        lifecycle.transition_study(s, st, "running")
        with pytest.raises(ConflictError):
            lifecycle.transition_study(s, st, "created")
        lifecycle.transition_study(s, st, "cancelled")
        assert st.finished_at is not None
        with pytest.raises(ConflictError):
            lifecycle.transition_study(s, st, "running")
    with database.session() as s:
        t = s.get(Trial, q)
        assert t.state == "failed" and t.error == "study cancelled"


def test_incremental_front_matches_batch(database) -> None:
    """After many completions, the is_pareto flags equal a batch non-dominated sort of all
    full-fidelity results, low-fidelity results never join, and pareto_version counts changes."""
    sid = new_study(database)
    g = torch.Generator().manual_seed(0)
    Y = torch.rand(40, 2, generator=g, dtype=torch.double)
    ids = []
    for i, y in enumerate(Y):
        fid = 0.5 if i % 5 == 4 else 1.0
        tid = add_trial(database, sid, fidelity=fid)
        tok = _claim(database, tid)
        with database.session() as s:
            lifecycle.record_result(s, tid, tok, {"f0": float(y[0]), "f1": float(y[1])}, 1.0, {})
        ids.append((tid, fid))
    full = [i for i, (_, f) in enumerate(ids) if f == 1.0]
    with database.session() as s:
        study = s.get(Study, sid)
        dirs = [o["direction"] for o in study.objectives]
        expected = pareto_mask(Y[full], dirs)
        flags = {t.id: t.is_pareto for t in s.scalars(select(Trial).where(Trial.study_id == sid))}
        got = torch.tensor([flags[ids[i][0]] for i in full])
        assert torch.equal(got, expected)
        assert not any(flags[t] for t, f in ids if f < 1.0)
        assert study.pareto_version >= int(expected.sum())
        assert study.hypervolume is not None and study.hypervolume > 0
