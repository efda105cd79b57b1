"""KKT amplification/power allocation (simulator.mitigation.amplification)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from simulator.estimators.moments import LayerNoise, propagate_moments
from simulator.mitigation.amplification import allocate_amplification, read_noise_contributions


def test_kkt_amplification_allocation() -> None:
    """Closed-form KKT allocation: the budget is spent, u_l/a_l² = λ c_l on free layers, the
    noise is (Σ sqrt(u c))²/P and beats a uniform split; a tiny contribution is pinned at
    a_min; an infeasible budget raises ValueError naming it."""
    u, c = {"a": 4.0, "b": 1.0, "c": 0.25}, {"a": 1.0, "b": 2.0, "c": 1.0}
    res = allocate_amplification(u, c, budget=20.0, a_min=0.1)
    assert sum(c[n] * res.amplification[n] for n in c) == pytest.approx(20.0)
    for n in c:
        assert u[n] / res.amplification[n] ** 2 == pytest.approx(res.multiplier * c[n])
    assert res.noise == pytest.approx(sum(math.sqrt(u[n] * c[n]) for n in c) ** 2 / 20.0)
    assert res.noise < res.uniform_noise
    pinned = allocate_amplification({"a": 1.0, "b": 1e-6}, {"a": 1.0, "b": 1.0}, 4.0, a_min=1.0)
    assert pinned.amplification["b"] == 1.0 and pinned.amplification["a"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="budget"):
        allocate_amplification(u, c, budget=1.0)


def test_read_noise_contributions_are_additive() -> None:
    """Per-layer read-noise contributions of a linear network sum to the total output
    variance with every layer's read noise on, up to the second-order cross term (layer 2's
    read noise grows with layer 1's noise power): within 1 % and below the total."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3)).eval()
    x = torch.randn(4, 6)
    noise = {"0": LayerNoise(read_std=0.05, output_var=1e-3), "1": LayerNoise(read_std=0.02)}
    parts = read_noise_contributions(model, x, noise, mode="full")
    total = propagate_moments(model, x, noise, mode="full").logit_cov
    total_mean = float(total.diagonal(dim1=-2, dim2=-1).mean())
    assert sum(parts.values()) == pytest.approx(total_mean, rel=0.01)
    assert sum(parts.values()) < total_mean
