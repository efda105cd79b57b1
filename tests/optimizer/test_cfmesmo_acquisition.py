"""Tests of ``optimizer.acquisition``: sampled max values and the CF-MESMO acquisition."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import norm

from optimizer.acquisition import CFMESMO, sample_max_values
from optimizer.acquisition.max_values import IMOCA_BETA
from optimizer.errors import OptimizerError
from optimizer.surrogates import CostModel, fit_objective_model


def _mf_data(n: int = 30, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=g, dtype=torch.double)
    z = X[:, 2]
    f0 = torch.sin(5 * X[:, 0]) + X[:, 1] - 0.3 * (1 - z)
    f1 = 1 - (X[:, :2] - 0.3).pow(2).sum(-1) - 0.2 * (1 - z) * X[:, 0]
    return X, torch.stack([f0, f1], dim=-1)


@pytest.fixture(scope="module")
def mf_model():
    X, Y = _mf_data()
    return X, Y, fit_objective_model(X, Y)


def _direct_mesmo(model, X: torch.Tensor, y_star: torch.Tensor) -> torch.Tensor:
    """MESMO [Belakaria2019] written out with scipy: sum_j mean_s [g pdf/(2 cdf) - log cdf]."""
    with torch.no_grad():
        post = model.posterior(X)
    mu = post.mean[:, 0, :].numpy()
    sd = post.variance[:, 0, :].sqrt().numpy()
    out = []
    for b in range(X.shape[0]):
        total = 0.0
        for j in range(y_star.shape[1]):
            g = (y_star[:, j].numpy() - mu[b, j]) / sd[b, j]
            total += float((g * norm.pdf(g) / (2 * norm.cdf(g)) - norm.logcdf(g)).mean())
        out.append(total)
    return torch.tensor(out, dtype=torch.double)


def _gibbon_by_hand(model, Xq: torch.Tensor, y_star: torch.Tensor, noisy_var) -> torch.Tensor:
    """GIBBON's value written out for each query ``x`` (``Xq``: ``n x 1 x 3``, fidelity last):
    the joint posterior of ``x`` and ``x`` at fidelity 1, the observation variance at ``x``
    from ``noisy_var(x, cov) -> (2,)``; returns ``n`` values."""
    from optimizer.acquisition.cf_mesmo import gibbon_information_gain

    expected = []
    for x in Xq:
        xt = x.clone()
        xt[0, 2] = 1.0
        post = model.posterior(torch.cat([x, xt]).unsqueeze(0))
        assert post.distribution._interleaved is False  # index: task * 2 + point
        cov = post.distribution.covariance_matrix[0]
        var_y = noisy_var(x, cov)
        var_t = torch.stack([cov[1, 1], cov[3, 3]])
        rho2 = torch.stack([cov[0, 1], cov[2, 3]]).pow(2) / (var_y * var_t)
        gamma = (y_star - post.mean[0, 1]) / var_t.sqrt()
        expected.append(gibbon_information_gain(gamma, rho2.expand_as(gamma)).mean(0).sum())
    return torch.stack(expected)


def test_max_values_shape_and_clamp(mf_model) -> None:
    """Max values are S x m, at least the best observed value (plus the margin when one is
    given: iMOCA's puts every sample at its floor here), and by default close to (within 15%
    of the range above) the true maximum at z = 1 of a well-sampled function."""
    X, Y, model = mf_model
    top = X[:, 2] > 0.0  # every row: clamp against the overall best
    torch.manual_seed(0)
    imoca = sample_max_values(model, dim=2, fidelity_dim=2, num_samples=6,
                              X_observed=X[:, :2], Y_best=Y[top].max(0).values,
                              Y_std=Y.std(0), seed=1, margin=5 / math.sqrt(IMOCA_BETA))
    floor = Y.max(0).values + 5 / math.sqrt(IMOCA_BETA) * Y.std(0)
    assert (imoca.max_values >= floor - 1e-12).all()
    torch.manual_seed(0)
    samples = sample_max_values(model, dim=2, fidelity_dim=2, num_samples=6,
                                X_observed=X[:, :2], Y_best=Y[top].max(0).values,
                                Y_std=Y.std(0), seed=1)
    ms = samples.max_values
    assert ms.shape == torch.Size([6, 2])
    assert (ms >= Y.max(0).values - 1e-12).all()
    # same draws: the default clamp only lowers values the iMOCA margin had raised
    assert (ms <= imoca.max_values + 1e-12).all() and bool((ms < floor - 1e-9).any())
    grid = torch.linspace(0, 1, 101, dtype=torch.double)
    G = torch.cartesian_prod(grid, grid)
    true_max = torch.stack([torch.sin(5 * G[:, 0]) + G[:, 1],
                            1 - (G - 0.3).pow(2).sum(-1)], -1).max(0).values
    span = Y.max(0).values - Y.min(0).values
    assert ((ms.median(0).values - true_max).abs() < 0.15 * span).all()
    assert len(samples.pareto_fronts) == 6 and samples.pareto_fronts[0].shape[-1] == 2


@pytest.mark.parametrize("approx", ["tg", "gibbon"])
def test_values_finite_nonnegative_and_cost_scaled(mf_model, approx: str) -> None:
    """Over random (x, z), values are finite and >= 0; doubling the predicted cost halves
    every value, so a higher cost strictly lowers a positive score."""
    X, Y, model = mf_model
    ms = torch.tensor([[1.6, 1.05], [1.9, 1.1]], dtype=torch.double)
    cost = CostModel(X, torch.exp(4.8 * X[:, 2]), fidelity_dim=2)
    Xq = torch.rand(64, 1, 3, dtype=torch.double, generator=torch.Generator().manual_seed(2))
    a1 = CFMESMO(model, ms, cost=cost, fidelity_dim=2, approx=approx)
    a2 = CFMESMO(model, ms, cost=lambda X: 2 * cost(X), fidelity_dim=2, approx=approx)
    with torch.no_grad():
        v1, v2 = a1(Xq), a2(Xq)
    assert v1.shape == torch.Size([64])
    assert torch.isfinite(v1).all() and (v1 >= 0).all()
    assert (v1 > 0).sum() > 10
    assert torch.allclose(v2, v1 / 2)
    pos = v1 > 0
    assert (v2[pos] < v1[pos]).all()


def test_single_fidelity_tg_is_mesmo() -> None:
    """Without a fidelity column, CF-MESMO ("tg", unit cost) equals a direct scipy
    implementation of MESMO on the same posterior; at z = 1 the fidelity model does too."""
    g = torch.Generator().manual_seed(7)
    X = torch.rand(20, 2, generator=g, dtype=torch.double)
    Y = torch.stack([torch.sin(6 * X[:, 0]), X.sum(-1) - X[:, 0] ** 2], -1)
    model = fit_objective_model(X, Y)
    ms = Y.max(0).values + torch.tensor([[0.05, 0.1], [0.2, 0.02], [0.4, 0.3]],
                                        dtype=torch.double)
    Xq = torch.rand(16, 1, 2, dtype=torch.double, generator=g)
    with torch.no_grad():
        ours = CFMESMO(model, ms, approx="tg")(Xq)
    assert torch.allclose(ours, _direct_mesmo(model, Xq, ms), rtol=1e-6, atol=1e-9)

    X3, Y3 = _mf_data(25, 3)
    mf = fit_objective_model(X3, Y3)
    Xq3 = torch.rand(8, 1, 3, dtype=torch.double, generator=g)
    Xq3[..., 2] = 1.0
    ms3 = Y3.max(0).values + 0.1
    with torch.no_grad():
        ours3 = CFMESMO(mf, ms3.unsqueeze(0), fidelity_dim=2, approx="tg")(Xq3)
    assert torch.allclose(ours3, _direct_mesmo(mf, Xq3, ms3.unsqueeze(0)), rtol=1e-6,
                          atol=1e-9)


def test_gibbon_is_a_lower_bound_at_target_fidelity(mf_model) -> None:
    """At z = 1 the GIBBON term (rho^2 <= 1) never exceeds the exact truncated-Gaussian
    entropy reduction of MESMO, and is strictly positive where MESMO is clearly positive."""
    X, Y, model = mf_model
    ms = Y.max(0).values.unsqueeze(0) + 0.05
    Xq = torch.rand(32, 1, 3, dtype=torch.double, generator=torch.Generator().manual_seed(9))
    Xq[..., 2] = 1.0
    with torch.no_grad():
        tg = CFMESMO(model, ms, fidelity_dim=2, approx="tg")(Xq)
        gb = CFMESMO(model, ms, fidelity_dim=2, approx="gibbon")(Xq)
    assert (gb <= tg + 1e-9).all()
    assert (gb[tg > 0.05] > 0).all()


def test_gibbon_discounts_uncorrelated_low_fidelity() -> None:
    """When low-fidelity data are plentiful but the target fidelity is unobserved near x, the
    GIBBON gain of another z = 0 evaluation is below that of a z = 1 evaluation at the same x
    (rho < 1 between the cheap observation and the target)."""
    g = torch.Generator().manual_seed(11)
    X = torch.rand(40, 3, generator=g, dtype=torch.double)
    X[:30, 2] = 0.0
    X[30:, 2] = 1.0
    X[30:, 0] = 0.8 + 0.2 * X[30:, 0]  # full-fidelity data only at x0 >= 0.8
    Y = (torch.sin(6 * X[:, 0]) + X[:, 1] + torch.cos(5 * X[:, 0]) * (1 - X[:, 2])).unsqueeze(-1)
    model = fit_objective_model(X, Y)
    ms = Y.max(0).values.reshape(1, 1) + 0.2
    x = torch.tensor([[[0.2, 0.5, 0.0]], [[0.2, 0.5, 1.0]]], dtype=torch.double)
    with torch.no_grad():
        gb = CFMESMO(model, ms, fidelity_dim=2, approx="gibbon")(x)
    assert gb[0] < gb[1]


def test_bad_arguments() -> None:
    """An unknown approximation or a max-values tensor of the wrong rank raises
    OptimizerError naming it."""
    X, Y = _mf_data(8, 1)
    model = fit_objective_model(X, Y)
    with pytest.raises(OptimizerError, match="approx"):
        CFMESMO(model, torch.zeros(2, 2, dtype=torch.double), approx="eg")  # type: ignore[arg-type]
    with pytest.raises(OptimizerError, match="max_values"):
        CFMESMO(model, torch.zeros(2, dtype=torch.double))


def test_gibbon_matches_its_formula_with_noise_from_a_second_posterior(mf_model) -> None:
    """The GIBBON value equals -1/2 log(1 - rho^2 r (gamma + r)) summed over objectives and
    averaged over samples, with rho^2 = cov(f(x,z), f(x,1))^2 / (var y(x,z) var f(x,1)) and
    var y taken from a separate ``observation_noise=True`` posterior (the acquisition reads the
    homoskedastic noise once instead)."""
    X, Y, model = mf_model
    y_star = Y.max(0).values.unsqueeze(0) + torch.tensor([[0.01, 0.02], [0.03, 0.005]],
                                                          dtype=torch.double)
    Xq = torch.rand(7, 1, 3, dtype=torch.double, generator=torch.Generator().manual_seed(9))
    acq = CFMESMO(model, y_star, fidelity_dim=2, approx="gibbon")
    with torch.no_grad():
        got = acq(Xq)
        expected = _gibbon_by_hand(model, Xq, y_star, lambda x, cov: model.posterior(
            x.unsqueeze(0), observation_noise=True).variance[0, 0])
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-10)
    assert (got >= 0).all() and float(got.max()) > 1e-2


def test_max_values_respect_a_feasibility_mask() -> None:
    """With ``feasible_fn`` (x0 + x1 <= 0.6) every sampled Pareto design is feasible and each
    sampled maximum of objectives increasing in x0 + x1 lies below the unconstrained one."""
    g = torch.Generator().manual_seed(5)
    X = torch.rand(25, 2, generator=g, dtype=torch.double)
    Y = torch.stack([X.sum(-1), X[:, 0] + 0.5 * X[:, 1]], dim=-1)
    model = fit_objective_model(X, Y)

    def feasible(Z: torch.Tensor) -> torch.Tensor:
        return Z.sum(-1) <= 0.6

    free = sample_max_values(model, dim=2, fidelity_dim=None, num_samples=4, seed=3)
    cons = sample_max_values(model, dim=2, fidelity_dim=None, num_samples=4, seed=3,
                             feasible_fn=feasible)
    for designs in cons.pareto_sets:
        assert feasible(designs).all()
    assert (cons.max_values < free.max_values - 0.2).all()


def test_info_noise_floor_raises_the_noise_of_the_gibbon_term(mf_model) -> None:
    """``info_noise_floor`` = 0 is the default acquisition; with 0.01 the value is the GIBBON
    formula with the observation noise raised to 0.01 of each objective's variance (the
    learned noise here sits at 1e-4-2e-4), which lowers it (or leaves a zero at zero), and at the
    evaluated designs (posterior variance near the noise) to below 5% of its value without
    the floor on average."""
    X, Y, model = mf_model
    y_star = Y.max(0).values.unsqueeze(0) + torch.tensor([[0.0, 0.0], [0.02, 0.01]],
                                                          dtype=torch.double)
    Xq = torch.rand(7, 1, 3, dtype=torch.double, generator=torch.Generator().manual_seed(9))
    base = CFMESMO(model, y_star, fidelity_dim=2, approx="gibbon")
    zero = CFMESMO(model, y_star, fidelity_dim=2, approx="gibbon", info_noise_floor=0.0)
    floored = CFMESMO(model, y_star, fidelity_dim=2, approx="gibbon", info_noise_floor=0.01)
    floor = 0.01 * model.outcome_transform.stdvs.reshape(-1).pow(2)
    noise = model.likelihood.noise.detach().reshape(-1) * model.outcome_transform.stdvs.pow(2)
    assert (noise.reshape(-1) < floor).all()
    with torch.no_grad():
        assert torch.equal(base(Xq), zero(Xq))
        got = floored(Xq)
        expected = _gibbon_by_hand(model, Xq, y_star,
                                   lambda x, cov: torch.stack([cov[0, 0], cov[2, 2]]) + floor)
        assert torch.allclose(got, expected, rtol=1e-6, atol=1e-10)
        assert (got <= base(Xq)).all() and float(got.sum()) < float(base(Xq).sum())
        at_obs, at_obs0 = floored(X.unsqueeze(1)), base(X.unsqueeze(1))
    assert float(at_obs.mean()) < 0.05 * float(at_obs0.mean())
