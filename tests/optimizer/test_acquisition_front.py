"""Tests of ``optimizer.acquisition.front_truncation``: Gaussians truncated by a sampled Pareto
front, and CF-MESMO's information gain with that truncation."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import norm, truncnorm

from optimizer.acquisition.cf_mesmo import CFMESMO, gibbon_information_gain
from optimizer.acquisition.front_truncation import (
    front_boxes,
    front_information_gain,
    thin_front,
    truncated_covariance,
)
from optimizer.errors import OptimizerError
from optimizer.suggest import suggest
from optimizer.surrogates import fit_objective_model
from tests.optimizer.cases import MIXED_FIDELITY, OBJ, mixed_observations

FRONT = torch.tensor([[1.0, 0.2], [0.6, 0.5], [0.2, 0.8]], dtype=torch.double)


def test_single_point_front_is_mesmo_box() -> None:
    """A one-point front truncates each objective at that point: the diagonal is
    1 - r (gamma + r), the off-diagonal 0, and the information gain GIBBON's sum."""
    ys = torch.tensor([[1.0, 0.5]], dtype=torch.double)
    mu = torch.tensor([[0.3, 0.2], [0.9, 0.6]], dtype=torch.double)
    sd = torch.tensor([[0.5, 0.2], [0.3, 0.1]], dtype=torch.double)
    cov = truncated_covariance(mu, sd, front_boxes([ys]))[:, 0]
    g = (ys - mu) / sd
    r = torch.tensor(norm.pdf(g.numpy()) / norm.cdf(g.numpy()))
    assert torch.allclose(torch.diagonal(cov, dim1=-2, dim2=-1), 1 - r * (g + r), atol=1e-10)
    assert cov[:, 0, 1].abs().max() < 1e-12
    rho = torch.tensor([[0.9, 0.8], [0.99, 0.5]], dtype=torch.double)
    ig = front_information_gain(rho, cov.unsqueeze(1))[:, 0]
    assert torch.allclose(ig, gibbon_information_gain(g, rho**2).sum(-1), atol=1e-10)
    assert ig.tolist() == [ig[0].item(), ig[1].item()] and abs(ig[0].item() - 0.1941) < 1e-3


def test_three_point_front_moments_match_scipy() -> None:
    """The mixture over the front's boxes has scipy's truncated-normal moments: the boxes
    cover P(f dominated by the front) = 0.5152 of N((0.5, 0.4), diag(0.4, 0.3)^2)."""
    boxes = front_boxes([FRONT])[0]
    mu, sd = torch.tensor([0.5, 0.4], dtype=torch.double), torch.tensor([0.4, 0.3],
                                                                       dtype=torch.double)
    lo = ((boxes[0] - mu) / sd).clamp_min(-40).numpy()
    hi = ((boxes[1] - mu) / sd).numpy()
    mass = (norm.cdf(hi) - norm.cdf(lo)).prod(1)
    assert abs(mass.sum() - 0.5152) < 1e-4
    w = mass / mass.sum()
    m1 = truncnorm.mean(lo, hi)
    m2 = truncnorm.var(lo, hi) + m1**2
    mean = (w[:, None] * m1).sum(0)
    want = torch.tensor([[(w * m2[:, 0]).sum() - mean[0]**2,
                          (w * m1[:, 0] * m1[:, 1]).sum() - mean[0] * mean[1]],
                         [0.0, (w * m2[:, 1]).sum() - mean[1]**2]], dtype=torch.double)
    want[1, 0] = want[0, 1]
    cov = truncated_covariance(mu[None], sd[None], front_boxes([FRONT]))[0, 0]
    assert torch.allclose(cov, want, atol=1e-9)
    assert abs(cov[0, 1].item() - (-0.2509)) < 1e-3  # the staircase couples the objectives


def test_thin_front_keeps_extremes_and_spread() -> None:
    """Thinning a 50-point concave front to 6 keeps both extremes and 6 distinct points."""
    t = torch.linspace(0, math.pi / 2, 50, dtype=torch.double)
    front = torch.stack([t.cos(), t.sin()], -1)
    thin = thin_front(front, 6)
    assert thin.shape == (6, 2)
    assert torch.isclose(thin[:, 0].max(), torch.tensor(1.0, dtype=torch.double))
    assert torch.isclose(thin[:, 1].max(), torch.tensor(1.0, dtype=torch.double))
    assert torch.unique(thin, dim=0).shape[0] == 6


def test_front_truncation_values_the_front_interior() -> None:
    """At a design whose predicted objectives (0.50, 0.59, sd ~0.01) sit just below the middle
    of the front, far below both maxima, MESMO's box sees no information (< 1e-6 nats) and the
    front's truncation 0.21 nats."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(8, 2, generator=g, dtype=torch.double)
    Y = torch.stack([X[:, 0], 1 - X[:, 0] + 0.1 * X[:, 1]], -1)
    model = fit_objective_model(X, Y)
    front = torch.stack([torch.linspace(0, 1.0, 11, dtype=torch.double),
                         1.1 - torch.linspace(0, 1.0, 11, dtype=torch.double)], -1)
    y_star = front.max(0).values.unsqueeze(0)
    x = torch.tensor([[[0.5, 0.9]]], dtype=torch.double)  # predicted ~(0.5, 0.59)
    box = CFMESMO(model, y_star)
    pf = CFMESMO(model, y_star, front_boxes=front_boxes([front]))
    with torch.no_grad():
        a, b = float(box(x)), float(pf(x))
    assert a < 1e-6 and 0.15 < b < 0.3


def test_cf_mesmo_truncation_option_reaches_the_acquisition() -> None:
    """``options.truncation = "front"`` gives valid suggestions whose information gains differ
    from the default's on the same data and seed (the front boxes are used); an unknown value
    is refused naming the option."""
    obs = mixed_observations(16)
    base = {"num_samples": 4, "raw_samples": 64, "num_restarts": 1}
    runs = {t: suggest(MIXED_FIDELITY, OBJ, obs, [], 1, "cf-mesmo", seed=3,
                       options={**base, "truncation": t}) for t in ("max-values", "front")}
    for out in runs.values():
        MIXED_FIDELITY.validate_params(out[0].params)
        assert math.isfinite(out[0].info_gain_per_cost) and out[0].info_gain_per_cost >= 0
    assert runs["front"][0].info_gain_per_cost != runs["max-values"][0].info_gain_per_cost
    with pytest.raises(OptimizerError, match="truncation"):
        suggest(MIXED_FIDELITY, OBJ, obs, [], 1, "cf-mesmo", seed=0,
                options={"truncation": "x"})
