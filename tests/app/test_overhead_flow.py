"""A trial's share of its ``suggest()`` call's time flows from the stored suggestion
(``extras["overhead_s"]``) through ``services.trials.history`` into cf-mesmo's cost model."""

from __future__ import annotations

import statistics

import pytest
import torch
from sqlalchemy import select

import optimizer.methods.mf_common as mf_common_module
from app.execution.tasks import OVERHEAD_KEY, suggest_task
from app.models import Study, Trial
from app.services import lifecycle, trials
from optimizer.encoding import OVERHEAD_WINDOW
from optimizer.surrogates import CostModel
from tests.app.helpers import claim, new_study

OPTIONS = {"num_samples": 2, "raw_samples": 32, "num_restarts": 0}


def test_suggest_time_reaches_the_cost_model(database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two real ``suggest_task`` batches (sobol, 4 and 6 points) stored as trials, completed:
    each suggestion stores its share of its call's ``suggest_s`` (the call's time over its
    batch size), history hands it over as ``overhead_s``, and cf-mesmo's cost model gets the
    median of the latest (a stored suggestion without it, or with a bad value, gives
    ``None``)."""
    sid = new_study(database, budget={"max_trials": 20})
    with database.session() as s:
        study = s.get(Study, sid)
        space, objectives = study.search_space, study.objectives
    stored = []
    for n in (4, 6):
        batch = suggest_task(space, objectives, [], [], n, "sobol", n, {})
        assert all(sg["extras"][OVERHEAD_KEY] == pytest.approx(sg["extras"]["suggest_s"] / n)
                   for sg in batch)
        stored += batch
    stored[1]["extras"].pop(OVERHEAD_KEY)
    stored[2]["extras"][OVERHEAD_KEY] = "soon"
    with database.session() as s:
        numbers = trials.add_suggestions(s, s.get(Study, sid), stored)
    assert numbers == list(range(10))
    g = torch.Generator().manual_seed(3)
    with database.session() as s:
        ids = list(s.scalars(select(Trial.id).where(Trial.study_id == sid)
                             .order_by(Trial.number)))
    for tid in ids:
        token = claim(database, tid)
        f0, f1 = torch.rand(2, generator=g).tolist()
        with database.session() as s:
            lifecycle.record_result(s, tid, token, {"f0": f0, "f1": f1}, 2.0, {})
    with database.session() as s:
        observations, pending = trials.history(s, sid)
    want = [sg["extras"].get(OVERHEAD_KEY) for sg in stored]
    want[2] = None
    assert [o["overhead_s"] for o in observations] == want
    assert want[1] is None and all(isinstance(w, float) for w in want[3:])
    seen: list[CostModel] = []

    def spy(*args, **kw):
        seen.append(CostModel(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(mf_common_module, "CostModel", spy)
    suggest_task(space, objectives, observations, pending, 1, "cf-mesmo", 0, OPTIONS, 20)
    (cost,) = seen
    assert cost.overhead_s == pytest.approx(
        statistics.median(w for w in want[-OVERHEAD_WINDOW:] if w is not None))
