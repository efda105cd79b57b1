"""Tests of the fast evaluations inside ``optimizer.acquisition.max_values``: they give the
numbers of the BoTorch calls they replace."""

from __future__ import annotations

import torch
from botorch.sampling.pathwise import get_matheron_path_model
from botorch.utils.multi_objective.pareto import is_non_dominated

from optimizer.acquisition.max_values import (
    _diagonal_values,
    non_dominated,
    path_values,
    sample_max_values,
)
from optimizer.surrogates import fit_objective_model


def _model(m: int = 3, n: int = 30) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(n, 3, generator=g, dtype=torch.double)
    Y = torch.stack([torch.sin(3 * X[:, 0] + j) + X[:, 1] * X[:, 2] * j for j in range(m)], -1)
    return fit_objective_model(X, Y, fidelity_dim=2)


def test_path_values_equal_the_path_model() -> None:
    """``path_values`` and ``_diagonal_values`` reproduce ``paths(X)`` and its diagonal to
    1e-10 for the Matheron paths of a 3-output GP; a single-output model falls back to
    ``paths(X)`` (identical)."""
    torch.manual_seed(1)
    with torch.no_grad():
        paths = get_matheron_path_model(_model(), sample_shape=torch.Size([5]))
        X = torch.rand(40, 3, dtype=torch.double)
        ref = paths(X)
        assert ref.shape == (5, 40, 3)
        assert torch.allclose(path_values(paths, X), ref, atol=1e-10, rtol=0)
        Xd = torch.rand(5, 3, 3, dtype=torch.double)
        diag = torch.diagonal(paths(Xd), dim1=-2, dim2=-1)
        assert torch.allclose(_diagonal_values(paths, Xd), diag, atol=1e-10, rtol=0)
        single = get_matheron_path_model(_model(m=1), sample_shape=torch.Size([2]))
        assert torch.equal(path_values(single, X), single(X))


def test_non_dominated_matches_botorch_with_ties_and_nan() -> None:
    """On integer-valued fronts full of ties and duplicates ``non_dominated`` flags exactly the
    points BoTorch's ``is_non_dominated`` does (batched or not); with a NaN it defers to it."""
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        n = int(torch.randint(1, 40, (1,), generator=g))
        m = int(torch.randint(1, 5, (1,), generator=g))
        Y = torch.randint(0, 4, (3, n, m), generator=g).double()
        expected = torch.stack([is_non_dominated(y) for y in Y])
        assert torch.equal(non_dominated(Y), expected)
        assert torch.equal(non_dominated(Y[0]), expected[0])
    Y = torch.tensor([[1.0, 2.0], [2.0, 1.0], [0.0, 0.0], [float("nan"), 3.0], [1.0, 2.0]])
    assert non_dominated(Y).tolist() == is_non_dominated(Y).tolist() == [True, True, False,
                                                                          False, False]


def test_sampled_fronts_are_non_dominated_sets() -> None:
    """Every sampled front holds mutually non-dominated values, and each objective's extreme
    point of a front equals that sample's max value."""
    torch.manual_seed(2)
    res = sample_max_values(_model(), dim=2, fidelity_dim=2, num_samples=4, num_candidates=64)
    for s, F in enumerate(res.pareto_fronts):
        assert F.shape[0] >= 1 and bool(is_non_dominated(F).all())
        assert torch.allclose(F.max(dim=0).values, res.max_values[s])
