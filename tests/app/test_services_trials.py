"""services.trials: suggestions become numbered, seeded queued trials within the trial budget;
open counts, the queue and the optimizer's history read the rows back."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import Study, StudyState, Trial, TrialState
from app.services import leases, lifecycle, trials
from tests.app.helpers import add_trial, claim, complete, new_study


def _suggestion(x: float, fidelity: float = 1.0) -> dict:
    return {"params": {"x0": x, "x1": 0.5}, "fidelity": fidelity, "info_gain_per_cost": x,
            "extras": {"k": x}}


def test_add_suggestions_numbers_seeds_and_caps(database) -> None:
    """Trials are numbered from next_number, seeded from the study seed and number, carry the
    suggestion, and never go past max_trials (budget 8 with 6 taken: 2 of 3 are added)."""
    sid = new_study(database, seed=3, budget={"max_trials": 8})
    with database.session() as s:
        study = s.get(Study, sid)
        study.next_number = 6
        added = trials.add_suggestions(s, study, [_suggestion(0.1), _suggestion(0.2, 0.3),
                                                  _suggestion(0.3)])
        assert study.next_number == 8
        assert trials.add_suggestions(s, study, [_suggestion(0.4)]) == []
    assert added == [6, 7]
    with database.session() as s:
        rows = list(s.scalars(select(Trial).where(Trial.study_id == sid).order_by(Trial.number)))
        assert [t.number for t in rows] == [6, 7]
        assert [t.seed for t in rows] == [3 * 7919 + 6, 3 * 7919 + 7]
        assert [(t.state, t.fidelity, t.info_gain_per_cost) for t in rows] == [
            (TrialState.QUEUED, 1.0, 0.1), (TrialState.QUEUED, 0.3, 0.2)]
        assert rows[0].suggestion == {"extras": {"k": 0.1}, "method": "sobol"}


def test_no_trial_is_added_to_a_study_cancelled_after_it_was_read(database) -> None:
    """A driver holding a study it read as running adds nothing once another session has
    cancelled it (the numbers are reserved by a statement that re-checks the state)."""
    sid = new_study(database, budget={"max_trials": 8})
    with database.session() as s:
        s.get(Study, sid).state = StudyState.RUNNING
        s.commit()
    with database.session() as driver:
        study = driver.get(Study, sid)
        assert study.state == StudyState.RUNNING
        with database.session() as api:
            lifecycle.transition_study(api, api.get(Study, sid), StudyState.CANCELLED)
            api.commit()
        assert trials.add_suggestions(driver, study, [_suggestion(0.1)]) == []
        driver.commit()
    with database.session() as s:
        assert s.get(Study, sid).next_number == 0
        assert s.scalar(select(func.count()).where(Trial.study_id == sid)) == 0


def test_seeds_stay_below_the_modulus(database) -> None:
    """Seeds of a large study seed wrap into [0, 2**31 - 1); the suggest seed follows
    next_number."""
    sid = new_study(database, seed=2**31 - 2)
    with database.session() as s:
        study = s.get(Study, sid)
        seeds = [trials.trial_seed(study, n) for n in range(3)]
        first = trials.suggest_seed(study)
        study.next_number += 1
        second = trials.suggest_seed(study)
    assert seeds == [((2**31 - 2) * 7919 + n) % (2**31 - 1) for n in range(3)]
    assert (first, second) == tuple(((2**31 - 2) * 1_000_003 + n) % (2**31 - 1)
                                    for n in (0, 1))
    assert all(0 <= x < trials.SEED_MODULUS for x in [*seeds, first, second])


def test_open_queue_and_history(database) -> None:
    """Open = queued + running; the queue is claimed by number; history has the completed
    results as observations and the open trials as pending."""
    sid = new_study(database)
    done = complete(database, sid, {"f0": 1.0, "f1": 2.0}, fidelity=0.5, cost_s=3.0)
    running = add_trial(database, sid, params={"x0": 0.2, "x1": 0.2})
    claim(database, running)
    add_trial(database, sid, params={"x0": 0.3, "x1": 0.3})
    add_trial(database, sid, state=TrialState.FAILED)
    with database.session() as s:
        assert trials.count_open(s, sid) == 2
        assert [t.number for t, _ in leases.claim_queued(s, sid, "d", 30.0, [])] == [2]
        s.rollback()  # the claim was only a way to read the queue
        observations, pending = trials.history(s, sid)
        done_params = s.get(Trial, done.trial_id).params
    assert observations == [{"params": done_params, "fidelity": 0.5,
                             "values": {"f0": 1.0, "f1": 2.0}, "cost_s": 3.0,
                             "variances": None, "overhead_s": None}]
    assert sorted(p["params"]["x0"] for p in pending) == [0.2, 0.3]
    assert all(p.keys() == {"params", "fidelity"} for p in pending)


def test_handed_out_lists_every_trial_by_number(database) -> None:
    """The pending list of a model-free suggest holds every trial, failed ones included, by
    number, so its length is the next trial number; the sequence seed is the study seed."""
    sid = new_study(database, seed=5)
    complete(database, sid, {"f0": 1.0, "f1": 2.0})
    add_trial(database, sid, params={"x0": 0.2, "x1": 0.2}, state=TrialState.FAILED)
    add_trial(database, sid, params={"x0": 0.3, "x1": 0.3}, fidelity=0.5)
    with database.session() as s:
        study = s.get(Study, sid)
        got = trials.handed_out(s, sid)
        assert len(got) == study.next_number == 3
        assert (trials.is_model_free(study), trials.sequence_seed(study)) == (True, 5)
    assert not trials.is_model_free(Study(method="qnehvi"))
    assert got[1:] == [{"params": {"x0": 0.2, "x1": 0.2}, "fidelity": 1.0},
                       {"params": {"x0": 0.3, "x1": 0.3}, "fidelity": 0.5}]
