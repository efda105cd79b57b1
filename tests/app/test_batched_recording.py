"""Batched recording (``lifecycle.record_results``, as the driver records one step's results)
ends exactly where recording the same results one by one ends: counters, front flags, the
reference point, the hypervolume, ``pareto_version`` and every event payload; a study's queue
claimed in one statement (``leases.claim_queued``) gives each trial its own token and skips
trials already taken or held in flight."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.models import Event, Study, Trial, TrialState
from app.services import leases, lifecycle
from tests.app.helpers import add_trial, claim, new_study

# 2 objectives, both maximised (the test study's branin-currin): dominated and non-dominated
# points, a low-fidelity one, and enough full-fidelity ones to fix the reference point mid-batch
VALUES = [(5.0, 5.0), (4.0, 6.0), (6.0, 4.0), (3.0, 3.0), (7.0, 7.0), (2.0, 8.0), (1.0, 1.5),
          (8.0, 0.5), (4.5, 4.5), (0.5, 9.0), (3.0, 3.0), (6.5, 0.4)]
LOW = 4  # this index runs at fidelity 0.5, below the target 1.0 (never on the front)


def _study_with_running_trials(database) -> tuple[int, list[tuple[int, str]]]:
    sid = new_study(database, budget={"max_trials": 20})
    out = []
    for i in range(len(VALUES)):
        tid = add_trial(database, sid, params={"x0": i / 20, "x1": 0.5},
                        fidelity=0.5 if i == LOW else 1.0)
        out.append((tid, claim(database, tid)))
    return sid, out


def _outcomes(running: list[tuple[int, str]]) -> list[lifecycle.Outcome]:
    return [lifecycle.Outcome(tid, tok, {"f0": a, "f1": b}, 0.25 * (i + 1), {"i": i}, f"w{i}")
            for i, ((tid, tok), (a, b)) in enumerate(zip(running, VALUES, strict=True))]


def _state(database, sid: int) -> dict[str, Any]:
    with database.session() as s:
        st = s.get(Study, sid)
        trials = s.scalars(select(Trial).where(Trial.study_id == sid).order_by(Trial.number))
        events = s.scalars(select(Event).where(Event.study_id == sid,
                                               Event.type == "trial.completed")
                           .order_by(Event.id))
        return {
            "study": (st.n_completed, st.total_cost_s, st.pareto_version, st.hypervolume,
                      st.ref_point),
            "trials": [(t.number, t.state, t.is_pareto, t.worker) for t in trials],
            "events": [{k: v for k, v in e.payload.items() if k != "trial_id"}
                       for e in events],
        }


def test_a_batch_records_what_one_by_one_records(database) -> None:
    one_sid, one_running = _study_with_running_trials(database)
    for o in _outcomes(one_running):
        with database.session() as s:
            assert lifecycle.record_result(s, o.trial_id, o.token, o.values, o.cost_s,
                                           o.details, worker=o.worker) is not None
    batch_sid, batch_running = _study_with_running_trials(database)
    outcomes = _outcomes(batch_running)
    with database.session() as s:
        recorded = lifecycle.record_results(s, outcomes)
    assert [r.trial_id for r in recorded] == [o.trial_id for o in outcomes]
    one, batch = _state(database, one_sid), _state(database, batch_sid)
    assert batch == one
    assert one["study"][0] == len(VALUES) and one["study"][4] is not None  # ref point fixed
    on_front = [n for n, _, pareto, _ in one["trials"] if pareto]
    assert on_front == [0, 1, 2, 5, 7, 9]
    assert [e["on_front"] for e in one["events"]] == [
        True, True, True, False, False, True, False, True, False, True, False, False]
    assert [e["n_completed"] for e in one["events"]] == list(range(1, len(VALUES) + 1))
    # the same tokens again: duplicates, nothing counted twice; a stale token: None
    with database.session() as s:
        again = lifecycle.record_results(s, outcomes[:2] + [
            lifecycle.Outcome(outcomes[2].trial_id, "stale", {"f0": 0.0, "f1": 0.0}, 1.0, {})])
    assert [r.duplicate if r else None for r in again] == [True, True, None]
    assert _state(database, batch_sid) == batch


def test_claim_queued_gives_each_its_own_token_and_skips_taken_ones(database) -> None:
    """Of four trials, one is taken by another worker and one is skipped (held in flight by
    the caller): the other two are won, by number, with their params and distinct tokens."""
    sid = new_study(database)
    ids = [add_trial(database, sid, params={"x0": i / 10, "x1": 0.5}) for i in range(4)]
    taken = claim(database, ids[1])
    with database.session() as s:
        won = leases.claim_queued(s, sid, "d1", 30.0, [ids[3]])
    assert [t.id for t, _ in won] == [ids[0], ids[2]]
    assert [t.params["x0"] for t, _ in won] == [0.0, 0.2]
    assert len({tok for _, tok in won} | {taken}) == 3
    with database.session() as s:
        rows = {t.id: (t.state, t.lease_token, t.worker) for t in
                s.scalars(select(Trial).where(Trial.study_id == sid))}
    assert rows[ids[1]] == (TrialState.RUNNING, taken, "w")
    assert rows[ids[3]] == (TrialState.QUEUED, None, None)
    for t, tok in won:
        assert rows[t.id] == (TrialState.RUNNING, tok, "d1")
    with database.session() as s:  # nothing left to claim but the skipped one
        assert leases.claim_queued(s, sid, "d2", 30.0, [ids[3]]) == []
    with database.session() as s:  # heartbeat: only matching tokens renew
        assert leases.renew_leases(s, {ids[0]: won[0][1], ids[1]: "wrong"}, 30.0) == 1
