"""Tests of ``optimizer.acquisition.fidelity_filter``: the BOCA-style fidelity filter."""

from __future__ import annotations

import math

import pytest
import torch

from optimizer.acquisition import CFMESMO, BOCAFilter
from optimizer.errors import OptimizerError
from optimizer.suggest import suggest
from optimizer.surrogates import fit_objective_model
from tests.optimizer.cases import MIXED_FIDELITY, OBJ, mixed_observations


def _cheap_heavy_data() -> tuple[torch.Tensor, torch.Tensor]:
    """40 observations at z = 0 on x in [0, 0.5] and 4 at z = 1: the model is sure about
    the cheap fidelity on the left half and knows nothing on the right half."""
    g = torch.Generator().manual_seed(0)
    x_low = 0.5 * torch.rand(40, 1, generator=g, dtype=torch.double)
    x_full = torch.tensor([[0.1], [0.4], [0.7], [0.9]], dtype=torch.double)
    X = torch.cat([torch.cat([x_low, torch.zeros(40, 1, dtype=torch.double)], -1),
                   torch.cat([x_full, torch.ones(4, 1, dtype=torch.double)], -1)])
    Y = torch.stack([torch.sin(6 * X[:, 0]) + 0.3 * X[:, 1], X[:, 0] ** 2], dim=-1)
    return X, Y


def _cost(X: torch.Tensor) -> torch.Tensor:
    return torch.exp(4.8 * (X[..., -1] - 1.0))


def test_thresholds_follow_the_formula() -> None:
    """gamma_j(z) = |1 - z| / l_j * (C(z) / C(1))^(1 / (d + 3)) for each objective."""
    X, Y = _cheap_heavy_data()
    model = fit_objective_model(X, Y)
    ls = torch.tensor([0.5, 2.0], dtype=torch.double)
    filt = BOCAFilter(model, lengthscale=ls, scale=torch.ones(2, dtype=torch.double),
                      cost=_cost, fidelity_dim=1, dim=1)
    Xq = torch.tensor([[[0.3, 0.0]], [[0.3, 0.5]], [[0.3, 1.0]]], dtype=torch.double)
    got = filt.thresholds(Xq)
    q = 1 / 4
    for i, z in enumerate((0.0, 0.5, 1.0)):
        ratio = math.exp(4.8 * (z - 1.0)) ** q
        assert got[i].tolist() == pytest.approx([(1 - z) / 0.5 * ratio, (1 - z) / 2.0 * ratio])


def test_drops_confident_cheap_points_keeps_uncertain_and_target_ones() -> None:
    """With the model's own lengthscales and scales: a cheap point amid 40 cheap observations
    is dropped, a cheap point far from them is kept, every target-fidelity point is kept; the
    acquisition scores dropped points 0 and leaves the others unchanged."""
    X, Y = _cheap_heavy_data()
    model = fit_objective_model(X, Y)
    filt = BOCAFilter.from_model(model, cost=_cost, fidelity_dim=1, dim=1)
    Xq = torch.tensor([[[0.25, 0.0]], [[0.95, 0.0]], [[0.25, 1.0]], [[0.95, 1.0]]],
                      dtype=torch.double)
    assert filt(Xq).tolist() == [False, True, True, True]
    y_star = Y.max(0).values.unsqueeze(0) + 0.5
    plain = CFMESMO(model, y_star, cost=_cost, fidelity_dim=1)
    filtered = CFMESMO(model, y_star, cost=_cost, fidelity_dim=1, fidelity_filter=filt)
    with torch.no_grad():
        a, b = plain(Xq), filtered(Xq)
    assert float(a[0]) > 0 and float(b[0]) == 0.0
    assert torch.allclose(a[1:], b[1:])


def test_from_model_needs_an_ard_gp() -> None:
    """A model without an ARD kernel and a Standardize transform is refused by name."""
    with pytest.raises(OptimizerError, match="BOCA"):
        BOCAFilter.from_model(torch.nn.Linear(2, 2), cost=_cost, fidelity_dim=1, dim=1)  # type: ignore[arg-type]


def test_cf_mesmo_with_the_filter_suggests_valid_points() -> None:
    """``options.fidelity_filter = "boca"`` gives representable, feasible suggestions inside the
    fidelity range; an unknown filter name is rejected naming the option."""
    obs = mixed_observations(16)
    out = suggest(MIXED_FIDELITY, OBJ, obs, [], 2, "cf-mesmo", seed=3,
                  options={"num_samples": 4, "raw_samples": 128, "num_restarts": 1,
                           "fidelity_filter": "boca"})
    for s in out:
        MIXED_FIDELITY.validate_params(s.params)
        assert 0.1 <= s.fidelity <= 1.0
    with pytest.raises(OptimizerError, match="fidelity_filter"):
        suggest(MIXED_FIDELITY, OBJ, obs, [], 1, "cf-mesmo", seed=0,
                options={"fidelity_filter": "x"})
