"""Objective thresholds: a design worse than an objective's ``threshold`` never enters the
evaluated Pareto front, and a threshold must be a finite number."""

from __future__ import annotations

import pytest
import torch
from sqlalchemy import select

from app.models import Study, Trial
from app.services import pareto
from optimizer.pareto import hypervolume, pareto_mask
from tests.app.conftest import BRANIN
from tests.app.helpers import complete, new_study

API = "/api/v1"
THRESHOLDED = {**BRANIN, "objectives": [{"name": "f0", "threshold": 0.5}, {"name": "f1"}]}


def test_meets_thresholds_per_direction() -> None:
    """maximize: values below the threshold fail; minimize: values above it fail; equal
    passes; objectives without a threshold always pass."""
    objs = [{"name": "acc", "direction": "maximize", "threshold": 0.5},
            {"name": "area_mm2", "direction": "minimize", "threshold": 2.0},
            {"name": "energy_uj", "direction": "minimize", "threshold": None}]
    assert pareto.meets_thresholds(objs, {"acc": 0.5, "area_mm2": 2.0, "energy_uj": 1e9})
    assert not pareto.meets_thresholds(objs, {"acc": 0.49, "area_mm2": 1.0, "energy_uj": 0.0})
    assert not pareto.meets_thresholds(objs, {"acc": 0.9, "area_mm2": 2.01, "energy_uj": 0.0})


def test_threshold_keeps_designs_out_of_the_front(database) -> None:
    """With ``f0 >= 0.5``, the flags equal a batch non-dominated sort of only the results that
    meet it: (0.3, 0.99) is non-dominated but below the threshold and stays out, and the
    hypervolume is that of the feasible front."""
    sid = new_study(database, **{k: v for k, v in THRESHOLDED.items() if k != "name"})
    g = torch.Generator().manual_seed(1)
    Y = torch.rand(30, 2, generator=g, dtype=torch.double)
    Y[0] = torch.tensor([0.3, 0.99], dtype=torch.double)  # would be on the front otherwise
    ids = [complete(database, sid, {"f0": float(y[0]), "f1": float(y[1])}).trial_id for y in Y]
    feasible = Y[:, 0] >= 0.5
    expected = torch.zeros(len(Y), dtype=torch.bool)
    expected[feasible] = pareto_mask(Y[feasible], ["maximize", "maximize"])
    with database.session() as s:
        flags = dict(s.execute(select(Trial.id, Trial.is_pareto)
                               .where(Trial.study_id == sid)).all())
        study = s.get(Study, sid)
        assert [flags[i] for i in ids] == expected.tolist()
        assert flags[ids[0]] is False
        assert study.objectives[0]["threshold"] == 0.5
        assert study.hypervolume == pytest.approx(
            hypervolume(Y[expected], ["maximize", "maximize"], study.ref_point))


def test_threshold_in_the_study_resource(idle_client) -> None:
    """A given threshold is stored and shown; others are null."""
    r = idle_client.post(f"{API}/studies", json=THRESHOLDED)
    assert r.status_code == 201, r.text
    assert [o["threshold"] for o in r.json()["objectives"]] == [0.5, None]


@pytest.mark.parametrize("bad", ["0.5", True, 1e308, None])
def test_bad_threshold_is_422(idle_client, bad) -> None:
    """A threshold that is not a finite number is refused with problem+json naming the field,
    and nothing is stored (``None`` stands for a JSON NaN, sent as raw text)."""
    if bad is None:
        body = ('{"name": "bc", "problem": {"name": "branin-currin"}, "budget": '
                '{"max_trials": 8}, "objectives": [{"name": "f0", "threshold": NaN}]}')
        r = idle_client.post(f"{API}/studies", content=body,
                             headers={"content-type": "application/json"})
    else:
        r = idle_client.post(f"{API}/studies", json={
            **BRANIN, "objectives": [{"name": "f0", "threshold": bad}]})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "threshold" in r.text
    assert idle_client.get(f"{API}/studies").json()["data"] == []
