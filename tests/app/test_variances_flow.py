"""Known noise variances flow from a stored trial result (``details["variances"]``) through
``services.trials.history`` and ``tasks.suggest_task`` into cf-mesmo's GP."""

from __future__ import annotations

import pytest
import torch

import optimizer.methods.cfmesmo as cfmesmo_module
from app.execution.tasks import suggest_task
from app.models import Study
from app.services import lifecycle, trials
from optimizer.surrogates import fit_objective_model
from tests.app.helpers import add_trial, claim, new_study


def test_stored_variances_reach_the_gp(database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten results, f0 with a stored variance (plus a key that is no objective, dropped):
    the fitted likelihood's noise of f0 equals the stored variances."""
    sid = new_study(database)
    g = torch.Generator().manual_seed(2)
    for i, (x0, x1) in enumerate(torch.rand(10, 2, generator=g, dtype=torch.double).tolist()):
        tid = add_trial(database, sid, params={"x0": x0, "x1": x1},
                        fidelity=1.0 if i % 3 == 0 else 0.4)
        token = claim(database, tid)
        with database.session() as s:
            lifecycle.record_result(s, tid, token, {"f0": 10 * x0 + x1, "f1": x1 - x0 ** 2},
                                    1.0, {"variances": {"f0": 0.1 * (i + 1), "other": 1.0}})
    with database.session() as s:
        study = s.get(Study, sid)
        observations, pending = trials.history(s, sid)
        space, objectives = study.search_space, study.objectives
    assert [o["variances"]["f0"] for o in observations] == pytest.approx(
        [0.1 * (i + 1) for i in range(10)])
    seen = []

    def spy(*args, **kw):
        seen.append(fit_objective_model(*args, **kw))
        return seen[-1]

    monkeypatch.setattr(cfmesmo_module, "fit_objective_model", spy)
    out = suggest_task(space, objectives, observations, pending, 1, "cf-mesmo", 0,
                       {"num_samples": 2, "raw_samples": 32, "num_restarts": 0}, 20)
    assert len(out) == 1 and out[0]["extras"]["phase"].startswith("cf-mesmo")
    (model,) = seen
    std = model.outcome_transform.stdvs.reshape(-1)
    torch.testing.assert_close(model.likelihood.noise.detach()[0] * std[0] ** 2,
                               torch.tensor([0.1 * (i + 1) for i in range(10)],
                                            dtype=torch.double))
