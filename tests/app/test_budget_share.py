"""The study's time budget per trial it has left (``execution.ahead.budget_per_trial_s``):
its value under each budget, and that the driver hands it to ``suggest()``, where cf-mesmo's
cost model prices no evaluation below it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

import optimizer.methods.mf_common as mf_common_module
from app.execution.ahead import budget_per_trial_s
from app.execution.driver import StudyDriver
from app.execution.tasks import suggest_task
from app.models import Study, utcnow
from optimizer.surrogates import CostModel
from tests.app.conftest import make_settings
from tests.app.helpers import new_study


def _study(**kw) -> Study:
    base = {"max_trials": 20, "max_wall_s": None, "max_cost_s": None, "parallelism": 2,
            "next_number": 5, "total_cost_s": 0.0, "started_at": None}
    return Study(**{**base, **kw})


def test_budget_per_trial_is_the_tighter_time_budget_over_the_trials_left() -> None:
    """Wall budget: parallelism x wall time left over trials left (2 x 150 s / 15 = 20 s);
    with a cost budget too the tighter one (30 s of cost left / 15 = 2 s); a spent budget
    gives 0; the last trial divides by 1; without a trial budget or without a time budget
    there is none."""
    started = utcnow() - timedelta(seconds=50)
    wall = _study(max_wall_s=200.0, started_at=started)
    assert budget_per_trial_s(wall) == pytest.approx(20.0, abs=0.05)
    both = _study(max_wall_s=200.0, started_at=started, max_cost_s=40.0, total_cost_s=10.0)
    assert budget_per_trial_s(both) == pytest.approx(2.0)
    assert budget_per_trial_s(_study(max_wall_s=200.0)) == pytest.approx(2 * 200.0 / 15)
    assert budget_per_trial_s(_study(max_wall_s=10.0, started_at=started)) == 0.0
    assert budget_per_trial_s(_study(max_cost_s=9.0, next_number=20)) == pytest.approx(9.0)
    assert budget_per_trial_s(_study(max_trials=None, max_wall_s=200.0)) is None
    assert budget_per_trial_s(_study()) is None


def test_the_driver_passes_it_and_the_cost_model_floors_at_it(
        database, engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cf-mesmo study of 10 trials, parallelism 2, 300 s wall budget: its first suggest
    call gets about 2 x 300 / 10 = 60 s per trial; a cf-mesmo call past the initial design
    with that value builds a cost model with ``floor_s`` 60 (and ``budget_pricing: "time"``
    with none)."""
    calls: list[float | None] = []
    submit = engine.submit

    def recording(fn, *args, **kw):  # the driver's side of the Dask call
        if fn is suggest_task:
            calls.append(args[10])
        return submit(fn, *args, **kw)

    monkeypatch.setattr(engine, "submit", recording)
    sid = new_study(database, optimizer={"method": "cf-mesmo"},
                    budget={"max_trials": 10, "max_wall_s": 300.0})
    driver = StudyDriver(database, engine, make_settings(database.url))
    t0 = time.monotonic()
    while not calls:
        driver.step()
        assert time.monotonic() - t0 < 30, "no suggest call within 30 s"
        time.sleep(0.02)
    assert calls[0] == pytest.approx(60.0, rel=0.02)
    with database.session() as s:
        study = s.get(Study, sid)
        space, objectives = study.search_space, study.objectives
    observations = [{"params": {"x0": a / 7, "x1": (3 * a % 7) / 7}, "fidelity": 1.0,
                     "values": {"f0": a / 7, "f1": 1 - (a / 7) ** 2}, "cost_s": 1.0 + a}
                    for a in range(8)]
    seen: list[CostModel] = []

    def spy(*args, **kw):
        seen.append(CostModel(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(mf_common_module, "CostModel", spy)
    opts = {"num_samples": 2, "raw_samples": 32, "num_restarts": 0, "n_init": 4}
    suggest_task(space, objectives, observations, [], 1, "cf-mesmo", 0, opts, 10, 0, 60.0)
    suggest_task(space, objectives, observations, [], 1, "cf-mesmo", 0,
                 {**opts, "budget_pricing": "time"}, 10, 0, 60.0)
    assert [c.floor_s for c in seen] == [60.0, 0.0]
