"""Tests of ``optimizer.encoding``: observations and pending points as training tensors."""

from __future__ import annotations

import statistics

import pytest
import torch

from optimizer.encoding import (
    OVERHEAD_WINDOW,
    encode_observations,
    encode_pending,
    ref_point_max,
)
from optimizer.space import SearchSpace
from optimizer.types import Objective, Observation, Suggestion

SPACE = SearchSpace.from_spec({
    "params": [{"name": "x", "type": "float", "low": 0.0, "high": 2.0},
               {"name": "k", "type": "int", "low": 0, "high": 3}],
    "fidelity_range": [0.5, 1.0],
})
OBJ = [Objective(name="area", direction="minimize"),
       Objective(name="acc", direction="maximize", ref_point=0.5)]
OBS = [
    Observation(params={"x": 1.0, "k": 0}, fidelity=1.0, values={"area": 2.0, "acc": 0.9},
                cost_s=3.0),
    Observation(params={"x": 0.5, "k": 3}, fidelity=0.5, values={"area": 1.0, "acc": 0.7},
                cost_s=1.0),
    Observation(params={"x": 2.0, "k": 1}, fidelity=1.0,
                values={"area": float("nan"), "acc": 0.8}),
]


def test_encode_observations_signs_units_and_filters() -> None:
    """X is the unit encoding (fidelity mapped from [0.5, 1] to [0, 1] when appended), Y is
    sign-flipped to maximization, NaN rows are dropped, full_fidelity_only keeps z = 1."""
    d = encode_observations(SPACE, OBJ, OBS, with_fidelity=True)
    assert d.X.shape == torch.Size([2, 3]) and d.n == 2
    assert d.X[0].tolist() == pytest.approx([0.5, 0.125, 1.0])
    assert d.X[1].tolist() == pytest.approx([0.25, 0.875, 0.0])
    assert d.Y.tolist() == [[-2.0, 0.9], [-1.0, 0.7]]
    assert d.fidelity.tolist() == [1.0, 0.5] and d.cost_s.tolist() == [3.0, 1.0]
    full = encode_observations(SPACE, OBJ, OBS, full_fidelity_only=True)
    assert full.X.shape == torch.Size([1, 2]) and full.Y.tolist() == [[-2.0, 0.9]]
    empty = encode_observations(SPACE, OBJ, [])
    assert empty.X.shape == torch.Size([0, 2]) and empty.Y.shape == torch.Size([0, 2])


def test_encode_pending_and_ref_point() -> None:
    """Pending points encode like observations; the reference point uses the objective's own
    ref_point (sign-flipped) and the data-derived default for the others."""
    P = encode_pending(SPACE, [Suggestion(params={"x": 2.0, "k": 2}, fidelity=0.75)],
                       with_fidelity=True)
    assert P.tolist() == [pytest.approx([1.0, 0.625, 0.5])]
    Y = torch.tensor([[-2.0, 0.9], [-1.0, 0.7]], dtype=torch.double)
    # default for area: worst -2.0 minus 10% of range 1.0 -> -2.1 (maximization form)
    assert ref_point_max(OBJ, Y).tolist() == pytest.approx([-2.1, 0.5])


def test_overhead_is_the_median_of_the_latest_known() -> None:
    """``TrainingData.overhead_s`` is the median ``overhead_s`` of the last
    ``OVERHEAD_WINDOW`` observations giving one (unknown ones skipped, 0 when none is
    known): the suggest time of a call grows with the history, so old calls do not count."""
    assert encode_observations(SPACE, OBJ, OBS).overhead_s == 0.0
    given = [0.1, None, 50.0, 50.0] + [float(k) for k in range(1, OVERHEAD_WINDOW + 1)]
    obs = [Observation(params={"x": 1.0, "k": 0}, values={"area": 1.0, "acc": 0.9},
                       overhead_s=o) for o in given]
    latest = list(range(1, OVERHEAD_WINDOW + 1))
    assert encode_observations(SPACE, OBJ, obs).overhead_s == pytest.approx(
        statistics.median(latest))
    assert encode_observations(SPACE, OBJ, obs[:3]).overhead_s == pytest.approx(25.05)
