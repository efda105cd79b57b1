"""What the accuracy estimators share (simulator.estimators.base, registry): the stratified
test subset and the estimator names a fidelity plan can give."""

from __future__ import annotations

import torch

from simulator import Workload, fidelity_plan
from simulator.estimators.base import stratified_subset
from simulator.estimators.registry import ESTIMATORS


def test_stratified_subset_is_a_balanced_seed_free_prefix(digits_mlp: Workload) -> None:
    """The subset has the plan's size, holds every class in proportion (within one sample of
    n·p_c), is the same on every call, and grows as a prefix with the fidelity."""
    n_all = int(digits_mlp.y_test.shape[0])
    small, large = fidelity_plan(0.0), fidelity_plan(0.5)
    x, y = stratified_subset(digits_mlp, small)
    assert x.shape == (small.test_size(n_all), *digits_mlp.input_shape)
    assert y.shape == (small.test_size(n_all),)
    share = torch.bincount(digits_mlp.y_test, minlength=10).double() / n_all
    counts = torch.bincount(y, minlength=10).double()
    assert float((counts - share * y.shape[0]).abs().max()) <= 1.0
    x2, y2 = stratified_subset(digits_mlp, small)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x_large, y_large = stratified_subset(digits_mlp, large)
    assert y_large.shape[0] > y.shape[0]
    assert torch.equal(x_large[: y.shape[0]], x) and torch.equal(y_large[: y.shape[0]], y)


def test_every_planned_estimator_is_registered() -> None:
    """fidelity_plan names "moments" strictly below analytic_below and "montecarlo" from it
    on (and always with the default 0), and both names are registered estimators."""
    named = {
        fidelity_plan(z / 20, below).estimator
        for z in range(21)
        for below in (0.0, 0.05, 0.5, 1.0)
    }
    assert named == {"moments", "montecarlo"} and named <= set(ESTIMATORS)
    assert fidelity_plan(0.0).estimator == "montecarlo"
    assert fidelity_plan(0.01, 0.05).estimator == "moments"
    assert fidelity_plan(0.05, 0.05).estimator == "montecarlo"
