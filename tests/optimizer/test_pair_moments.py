"""Tests of ``optimizer.acquisition.pair_moments``: direct pair moments of a batched GP."""

from __future__ import annotations

import torch

from optimizer.acquisition.pair_moments import PairMoments
from optimizer.methods.cfmesmo import kriging_believer
from optimizer.surrogates import fit_objective_model, fit_objective_model_list


def _model():
    g = torch.Generator().manual_seed(2)
    X = torch.rand(40, 3, generator=g, dtype=torch.double)
    Y = torch.stack([torch.sin(4 * X[:, 0]) + X[:, 2], X[:, 1] ** 2 - X[:, 2],
                     X.sum(-1)], dim=-1)
    Y = Y + 0.05 * torch.randn(Y.shape, generator=g, dtype=torch.double)
    return fit_objective_model(X, Y)


def _check_against_posterior(model) -> None:
    pm = PairMoments.from_model(model)
    assert pm is not None
    g = torch.Generator().manual_seed(3)
    Xa = torch.rand(17, 3, generator=g, dtype=torch.double)
    Xb = Xa.clone()
    Xb[:, -1] = 1.0
    with torch.no_grad():
        mo = pm(Xa, Xb)
        post = model.posterior(torch.stack([Xa, Xb], dim=-2))
        cov = post.distribution.covariance_matrix  # b x 2m x 2m, index task * 2 + point
        noisy = model.posterior(Xa.unsqueeze(-2), observation_noise=True).variance[:, 0]
        mean, var = pm.point(Xa)
    assert post.distribution._interleaved is False
    m = 3
    pick = [(mo.var_a, [cov[:, 2 * j, 2 * j] for j in range(m)]),
            (mo.var_b, [cov[:, 2 * j + 1, 2 * j + 1] for j in range(m)]),
            (mo.cov_ab, [cov[:, 2 * j, 2 * j + 1] for j in range(m)])]
    for got, ref in pick:
        assert torch.allclose(got, torch.stack(ref, -1), rtol=1e-8, atol=1e-12)
    assert torch.allclose(mo.mean_a, post.mean[:, 0], rtol=1e-9, atol=1e-12)
    assert torch.allclose(mo.mean_b, post.mean[:, 1], rtol=1e-9, atol=1e-12)
    assert torch.allclose(mo.var_a + mo.noise, noisy, rtol=1e-8, atol=1e-12)
    assert torch.allclose(mean, mo.mean_a) and torch.allclose(var, mo.var_a)


def test_pair_moments_equal_the_joint_posterior() -> None:
    """Means, variances, the pair covariance and the observation noise equal those of
    ``model.posterior`` on 2-point t-batches, in raw units."""
    _check_against_posterior(_model())


def test_pair_moments_of_a_kriging_believer_model() -> None:
    """The same holds for a model conditioned on fantasies (the batch construction)."""
    model = _model()
    _check_against_posterior(kriging_believer(model, torch.rand(2, 3, dtype=torch.double)))


def test_other_models_fall_back() -> None:
    """A ModelListGP is not handled (``from_model`` returns None; callers use the
    posterior)."""
    g = torch.Generator().manual_seed(4)
    X = torch.rand(10, 2, generator=g, dtype=torch.double)
    assert PairMoments.from_model(fit_objective_model_list(X, X.sum(-1, keepdim=True)
                                                           .repeat(1, 2))) is None
