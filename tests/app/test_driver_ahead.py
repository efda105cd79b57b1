"""Model-free suggestions asked ahead of free slots (``execution.ahead``): they become the
same trials, under the same numbers, as suggestions asked slot by slot; a buffer that no
longer continues the study's numbers is dropped, never inserted."""

from __future__ import annotations

import time
from dataclasses import asdict

from sqlalchemy import select

from app.execution.ahead import AheadBuffers
from app.execution.driver import StudyDriver
from app.execution.tasks import suggest_numbers
from app.models import TRIAL_OPEN, Study, StudyState, Trial
from app.problems import resolve
from app.schemas.study import StudyCreate
from app.services import lifecycle, trials
from tests.app.conftest import BRANIN, make_settings
from tests.app.helpers import new_study


def _expected(method: str, seed: int, n: int) -> list[tuple[int, dict, float]]:
    """Trials 0..n-1 of a ``method`` study with ``seed``, asked in one call."""
    resolved = resolve(StudyCreate(**{**BRANIN, "optimizer": {"method": method}}))
    out = suggest_numbers(resolved.search_space, [asdict(o) for o in resolved.objectives], [],
                          n, method, seed, resolved.options)
    return [(k, s["params"], s["fidelity"]) for k, s in enumerate(out)]


def test_asked_ahead_trials_are_the_slot_by_slot_trials(database, engine) -> None:
    """A random study of 11 trials at parallelism 3 (suggestions asked ahead, inserted as
    slots free up) has exactly the trials of one call for numbers 0..10, never more than 3
    open, and completes."""
    sid = new_study(database, parallelism=3, seed=5, optimizer={"method": "random"},
                    budget={"max_trials": 11})
    driver = StudyDriver(database, engine, make_settings(database.url))
    peak, t0 = 0, time.monotonic()
    while True:
        driver.step()
        with database.session() as s:
            study = s.get(Study, sid)
            peak = max(peak, trials.count_open(s, sid))
        if study.state == StudyState.COMPLETED:
            break
        assert time.monotonic() - t0 < 60, "the study did not complete in time"
        time.sleep(0.02)
    with database.session() as s:
        got = [(t.number, t.params, t.fidelity) for t in s.scalars(
            select(Trial).where(Trial.study_id == sid).order_by(Trial.number))]
    assert got == _expected("random", 5, 11)
    assert peak <= 3
    assert (study.n_completed, study.next_number) == (11, 11)


def _suggestion(x: float) -> dict:
    return {"params": {"x0": x, "x1": 0.5}, "fidelity": 1.0}


def test_take_fills_free_slots_and_drops_a_stale_buffer(database) -> None:
    """``take`` inserts at most ``free`` buffered suggestions under the next numbers and keeps
    the rest; once the study's numbers moved on without it, the buffer is dropped."""
    sid = new_study(database, optimizer={"method": "random"}, budget={"max_trials": 20},
                    parallelism=4)
    ahead = AheadBuffers()
    ahead.add(sid, 0, [_suggestion(0.1), _suggestion(0.2), _suggestion(0.3)])
    with database.session() as s:
        study = s.get(Study, sid)
        assert ahead.want(study) == 1  # up to `parallelism` wait
        assert ahead.take(s, study, 2) == 2
        assert study.next_number == 2 and ahead.n_buffered(study) == 1
        assert ahead.handed_out(s, study) == (3, 3)  # the next ask starts after the buffer
    with database.session() as s:
        study = s.get(Study, sid)
        study.next_number = 5  # trials added by someone else: the buffer is stale
        assert ahead.take(s, study, 4) == 0 and ahead.n_buffered(study) == 0
        s.rollback()
    with database.session() as s:
        rows = s.scalars(select(Trial).where(Trial.study_id == sid).order_by(Trial.number))
        assert [(t.number, t.params["x0"], t.state in TRIAL_OPEN) for t in rows] == [
            (0, 0.1, True), (1, 0.2, True)]


def test_a_cancelled_study_drops_its_buffer(database) -> None:
    """Nothing asked ahead is inserted once the study is cancelled; the buffer goes."""
    sid = new_study(database, optimizer={"method": "random"}, budget={"max_trials": 20})
    ahead = AheadBuffers()
    ahead.add(sid, 0, [_suggestion(0.1)])
    with database.session() as s:
        study = s.get(Study, sid)
        with database.session() as api:
            lifecycle.transition_study(api, api.get(Study, sid), StudyState.CANCELLED)
        assert ahead.take(s, study, 4) == 0
        assert ahead.n_buffered(study) == 0
    with database.session() as s:
        assert s.scalars(select(Trial).where(Trial.study_id == sid)).all() == []
