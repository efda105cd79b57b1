"""Tests of ``optimizer.surrogates``: the multi-fidelity objective GP and the cost model."""

from __future__ import annotations

import math

import pytest
import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from optimizer.errors import OptimizerError
from optimizer.surrogates import (
    CholeskyMarginalLogLikelihood,
    CostModel,
    fit_maxiter,
    fit_objective_model,
)


def _data(n: int, seed: int, noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, generator=g, dtype=torch.double)
    f0 = torch.sin(4 * X[:, 0]) + X[:, 1] * X[:, 2]
    f1 = (X[:, :2] ** 2).sum(-1) - 0.5 * X[:, 2]
    Y = torch.stack([f0, f1], dim=-1)
    return X, Y + noise * torch.randn(Y.shape, generator=g, dtype=torch.double)


def test_objective_model_interpolates_noiseless_data() -> None:
    """On noiseless smooth data the posterior mean reproduces held-out values closely and the
    model has one output per objective."""
    X, Y = _data(40, 0)
    model = fit_objective_model(X, Y)
    Xt, Yt = _data(20, 1)
    with torch.no_grad():
        post = model.posterior(Xt.unsqueeze(-2))
    assert post.mean.shape == torch.Size([20, 1, 2])
    rmse = (post.mean.squeeze(-2) - Yt).pow(2).mean(0).sqrt()
    assert (rmse < 0.05 * Yt.std(0)).all()


def test_objective_model_learns_observation_noise() -> None:
    """With Gaussian noise of std 0.2 added, the learned noise std is within a factor 2 of 0.2
    for each objective (noise is learned, not fixed)."""
    X, Y = _data(80, 2, noise=0.2)
    model = fit_objective_model(X, Y)
    Xt = torch.rand(5, 1, 3, dtype=torch.double, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        noisy = model.posterior(Xt, observation_noise=True).variance
        latent = model.posterior(Xt).variance
    noise_sd = (noisy - latent).sqrt()
    assert ((noise_sd > 0.1) & (noise_sd < 0.4)).all()


def test_fidelity_correlation_is_learned() -> None:
    """The fidelity kernel k_z(0, 1) is learned from data: close to 1 (> 0.8) when the objective
    ignores the fidelity column, and lower when the objective changes fast with it."""
    g = torch.Generator().manual_seed(4)
    X = torch.rand(40, 3, generator=g, dtype=torch.double)
    x = torch.tensor([[0.37, 0.61, 0.0], [0.37, 0.61, 1.0]], dtype=torch.double)

    def k01(Y: torch.Tensor) -> float:
        model = fit_objective_model(X, Y)
        with torch.no_grad():
            K = model.covar_module(x).to_dense()
        return float(K[..., 0, 1] / (K[..., 0, 0] * K[..., 1, 1]).sqrt())

    flat = k01(torch.sin(4 * X[:, :1]) + X[:, 1:2])
    steep = k01(torch.sin(4 * X[:, :1]) + torch.sin(9 * X[:, 2:3]))
    assert flat > 0.8
    assert steep < flat - 0.3


def test_cost_model_extrapolates_exponential_fidelity_cost() -> None:
    """Fitted to cost exp(4.8 z) on random z, the normalized prediction is ~1 at z=1 and
    ~exp(-4.8) at z=0 (within 25%), increasing in z."""
    g = torch.Generator().manual_seed(5)
    X = torch.rand(25, 3, generator=g, dtype=torch.double)
    cost = CostModel(X, torch.exp(4.8 * X[:, 2]), fidelity_dim=2)
    assert cost.scale == pytest.approx(math.exp(4.8), rel=0.1)
    z = torch.linspace(0, 1, 11, dtype=torch.double)
    Xq = torch.stack([torch.full_like(z, 0.4), torch.full_like(z, 0.6), z], dim=-1)
    with torch.no_grad():
        c = cost(Xq)
    assert c[-1] == pytest.approx(1.0, rel=0.25)
    assert c[0] == pytest.approx(math.exp(-4.8), rel=0.25)
    assert (c[1:] > c[:-1]).all()


def test_cost_model_constant_and_bad_input() -> None:
    """Equal costs give a constant model (1 normalized unit everywhere); a negative cost or a
    length mismatch raises OptimizerError naming cost_s / shapes."""
    X = torch.rand(6, 2, dtype=torch.double)
    cost = CostModel(X, torch.full((6,), 3.0, dtype=torch.double), fidelity_dim=None)
    assert cost.constant and cost.scale == pytest.approx(3.0)
    assert torch.allclose(cost(X), torch.ones(6, dtype=torch.double))
    with pytest.raises(OptimizerError, match="cost_s"):
        CostModel(X, torch.tensor([1.0, -1.0, 1, 1, 1, 1], dtype=torch.double), None)
    with pytest.raises(OptimizerError, match="same n"):
        CostModel(X, torch.ones(5, dtype=torch.double), None)
    with pytest.raises(OptimizerError, match="finite"):
        fit_objective_model(X, torch.full((6, 1), float("nan"), dtype=torch.double))


def test_fit_iteration_cap_shrinks_with_the_data() -> None:
    """100 L-BFGS-B iterations up to 100 observations, then 100 (100/n)^2 with a floor of 20:
    25 at 200 observations, 20 from 224 on."""
    assert fit_maxiter(10) == fit_maxiter(100) == 100
    assert fit_maxiter(150) == 44
    assert fit_maxiter(200) == 25
    assert fit_maxiter(1000) == 20


def test_capped_fit_still_predicts_well_above_the_limit() -> None:
    """With 160 noiseless observations (a capped fit of 39 iterations) the posterior mean
    still reproduces held-out values within 5% of their spread."""
    X, Y = _data(160, 11)
    model = fit_objective_model(X, Y)
    Xt, Yt = _data(30, 12)
    with torch.no_grad():
        mean = model.posterior(Xt).mean
    rmse = (mean - Yt).pow(2).mean(0).sqrt()
    assert (rmse < 0.05 * Yt.std(0)).all()


def _loss_and_grads(mll_cls: type, model: torch.nn.Module) -> tuple[torch.Tensor, list]:
    mll = mll_cls(model.likelihood, model)
    mll.train()
    params = [p for p in mll.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    X = model.transform_inputs(model.train_inputs[0])
    loss = -mll(model(*model.train_inputs), model.train_targets, X)
    loss.sum().backward()
    grads = [p.grad.clone() for p in params]
    mll.eval()
    return loss.detach(), grads


@pytest.mark.parametrize("known", [False, True])
def test_cholesky_mll_equals_gpytorch_value_and_gradient(known: bool) -> None:
    """``CholeskyMarginalLogLikelihood`` gives GPyTorch's exact MLL per output and its gradient
    in every hyperparameter to 1e-10 relative, with learned noise and with known noise on one
    output (``KnownNoiseLikelihood``), at hyperparameters away from their initial values."""
    X, Y = _data(40, 5, noise=0.05)
    Yvar = None
    if known:
        Yvar = torch.full_like(Y, math.nan)
        Yvar[:, 0] = 0.05**2 * (1.0 + X[:, 2])
    model = fit_objective_model(X, Y, Yvar, fidelity_dim=2)
    with torch.no_grad():  # off the optimum, where the gradient is not ~0
        model.covar_module.lengthscale = model.covar_module.lengthscale * 1.7
        model.mean_module.constant.add_(0.3)
    ref_loss, ref_grads = _loss_and_grads(ExactMarginalLogLikelihood, model)
    loss, grads = _loss_and_grads(CholeskyMarginalLogLikelihood, model)
    assert loss.shape == (2,)
    assert torch.allclose(loss, ref_loss, rtol=1e-10, atol=0)
    assert len(grads) == len(ref_grads) >= 3
    assert max(float(r.abs().max()) for r in ref_grads) > 1e-2
    for g, r in zip(grads, ref_grads, strict=True):
        assert torch.allclose(g, r, rtol=1e-8, atol=1e-12)


def test_cholesky_mll_defers_to_gpytorch_when_the_factorization_fails() -> None:
    """A covariance that is not positive definite in double precision (duplicated inputs,
    noise forced to 1e-30) takes GPyTorch's own path with its jitter: the same value."""
    X, Y = _data(20, 6)
    X = torch.cat([X, X])
    Y = torch.cat([Y, Y])
    model = fit_objective_model(X, Y)
    model.likelihood.noise_covar.raw_noise_constraint.lower_bound.fill_(0.0)
    model.likelihood.noise = torch.full((2, 1), 1e-30, dtype=torch.double)
    K = model.likelihood(model(*model.train_inputs)).lazy_covariance_matrix.to_dense()
    assert bool((torch.linalg.cholesky_ex(K.detach())[1] != 0).any())
    ref_loss, _ = _loss_and_grads(ExactMarginalLogLikelihood, model)
    loss, _ = _loss_and_grads(CholeskyMarginalLogLikelihood, model)
    assert torch.isfinite(loss).all()
    assert torch.allclose(loss, ref_loss, rtol=1e-10, atol=0)


def test_cost_model_mean_equals_the_gp_posterior_mean() -> None:
    """The cost model's direct mean ``m(x) + k(x, X) alpha`` equals the fitted GP's posterior
    mean to 1e-10 for ``n x D``, ``b x 1 x D`` and ``b x q x D`` inputs, and is differentiable."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(60, 4, generator=g, dtype=torch.double)
    c = torch.exp(4.8 * X[:, 3] + 0.3 * torch.sin(5 * X[:, 0]))
    cost = CostModel(X, c, 3)
    assert cost._alpha is not None
    for shape in [(7, 4), (5, 1, 4), (3, 2, 4)]:
        Xq = torch.rand(*shape, generator=g, dtype=torch.double)
        with torch.no_grad():
            ref = cost._model.posterior(Xq).mean.squeeze(-1)
        assert cost.log_cost_s(Xq).shape == shape[:-1]
        assert torch.allclose(cost.log_cost_s(Xq), ref, atol=1e-10, rtol=0)
    Xq = torch.rand(5, 1, 4, generator=g, dtype=torch.double, requires_grad=True)
    cost(Xq).sum().backward()
    assert Xq.grad is not None and float(Xq.grad[..., 3].min()) > 0  # cost grows with z


def test_cost_model_adds_the_proposal_overhead() -> None:
    """A fixed ``overhead_s`` is added to every predicted cost and to the unit: fitted to cost
    exp(4.8 z) with an overhead of one full evaluation, the lowest fidelity costs about
    (e^0 + e^4.8) / (2 e^4.8), i.e. half a unit instead of e^-4.8, the target stays at one
    unit, and a negative or non-finite overhead is refused naming it."""
    g = torch.Generator().manual_seed(5)
    X = torch.rand(25, 3, generator=g, dtype=torch.double)
    plain = CostModel(X, torch.exp(4.8 * X[:, 2]), fidelity_dim=2)
    loaded = CostModel(X, torch.exp(4.8 * X[:, 2]), fidelity_dim=2, overhead_s=math.exp(4.8))
    assert loaded.overhead_s == math.exp(4.8)
    assert loaded.scale == pytest.approx(plain.scale + math.exp(4.8))
    Xq = torch.tensor([[0.4, 0.6, 0.0], [0.4, 0.6, 1.0]], dtype=torch.double)
    with torch.no_grad():
        low, full = loaded(Xq).tolist()
        ref = plain(Xq) * plain.scale  # predicted evaluation cost [s]
    assert low == pytest.approx(float((ref[0] + math.exp(4.8)) / loaded.scale), rel=1e-9)
    assert low == pytest.approx(0.5, rel=0.15)
    assert full == pytest.approx(1.0, rel=0.25)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(OptimizerError, match="overhead_s"):
            CostModel(X, torch.exp(4.8 * X[:, 2]), 2, overhead_s=bad)


def test_cost_model_floor_raises_cheap_costs_only() -> None:
    """``floor_s`` (the study's seconds per remaining trial) raises every prediction below it
    to it and leaves those above it alone: fitted to cost exp(4.8 z) [s], a floor of e^2.4 s
    prices z = 0 (1 s) at e^2.4 s and z = 1 (e^4.8 s) unchanged, so the lowest fidelity costs
    e^-2.4 of a full evaluation instead of e^-4.8; a floor above every cost makes all
    evaluations cost one unit; a negative or non-finite floor is refused naming it."""
    g = torch.Generator().manual_seed(5)
    X = torch.rand(25, 3, generator=g, dtype=torch.double)
    cost = torch.exp(4.8 * X[:, 2])
    plain = CostModel(X, cost, fidelity_dim=2)
    Xq = torch.tensor([[0.4, 0.6, 0.0], [0.4, 0.6, 1.0]], dtype=torch.double)
    with torch.no_grad():
        ref_low, ref_full = (plain(Xq) * plain.scale).tolist()  # predicted cost [s]
        floored = CostModel(X, cost, fidelity_dim=2, floor_s=math.exp(2.4))
        low, full = (floored(Xq) * floored.scale).tolist()
        flat = CostModel(X, cost, fidelity_dim=2, floor_s=1e4)
        flat_costs = flat(Xq).tolist()
    assert ref_low == pytest.approx(1.0, rel=0.3) and ref_low < math.exp(2.4) < ref_full
    assert floored.scale == pytest.approx(plain.scale, rel=1e-12)
    assert low == pytest.approx(math.exp(2.4), rel=1e-9)
    assert full == pytest.approx(ref_full, rel=1e-9)
    assert flat.scale == 1e4 and flat_costs == pytest.approx([1.0, 1.0], rel=1e-12)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(OptimizerError, match="floor_s"):
            CostModel(X, cost, 2, floor_s=bad)
