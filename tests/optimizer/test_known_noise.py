"""Known observation noise (``Observation.variances``): fixed where given, learned elsewhere,
through ``suggest()`` and the service's stored results."""

from __future__ import annotations

import math

import pytest
import torch

import optimizer.methods.cfmesmo as cfmesmo_module
from optimizer.acquisition.pair_moments import PairMoments
from optimizer.errors import ObservationError
from optimizer.known_noise import MIN_FIXED_NOISE, KnownNoiseLikelihood
from optimizer.methods.cfmesmo import kriging_believer
from optimizer.problems import get_problem
from optimizer.suggest import suggest
from optimizer.surrogates import fit_objective_model
from optimizer.types import Observation


def _data(n: int = 30) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(n, 3, generator=g, dtype=torch.double)
    Y = torch.stack([torch.sin(3 * X[:, 0]) + X[:, 2], X[:, 1] ** 2], -1)
    Yvar = torch.full_like(Y, math.nan)
    Yvar[:, 0] = 0.01 * (2.0 - X[:, 2])  # noise shrinks with the fidelity (column 2)
    return X, Y, Yvar


def test_fitted_noise_equals_the_given_variances() -> None:
    """Output 0 (variances given): the fitted likelihood's noise is exactly the given variances
    in standardized units; output 1 (none given): learned, homoscedastic, above the floor."""
    X, Y, Yvar = _data()
    model = fit_objective_model(X, Y, Yvar, fidelity_dim=2)
    lik = model.likelihood
    assert isinstance(lik, KnownNoiseLikelihood)
    std = model.outcome_transform.stdvs.reshape(-1)
    noise = lik.noise.detach()
    assert noise.shape == (2, 30)
    torch.testing.assert_close(noise[0] * std[0] ** 2, Yvar[:, 0], rtol=1e-9, atol=0.0)
    assert float(noise[1].std()) < 1e-12 and float(noise[1, 0]) > MIN_FIXED_NOISE
    # prospective noise: ln v = a + b z fitted to 0.01 (2 - z), within 10% at both ends
    z = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 1.0]], dtype=torch.double)
    v = lik.known_noise_at(z)[0] * std[0] ** 2
    assert float(v[0]) == pytest.approx(0.02, rel=0.1)
    assert float(v[1]) == pytest.approx(0.01, rel=0.1)


def test_pair_moments_and_kriging_believer_with_known_noise() -> None:
    """PairMoments matches the posterior of the known-noise model and reports the prospective
    noise per point; a kriging-believer fantasy shrinks the variance there."""
    X, Y, Yvar = _data()
    model = fit_objective_model(X, Y, Yvar, fidelity_dim=2)
    Xq = torch.rand(5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.double)
    pm = PairMoments.from_model(model)
    assert pm is not None
    mo = pm(Xq, Xq)
    with torch.no_grad():
        post = model.posterior(Xq.unsqueeze(-2))
    torch.testing.assert_close(mo.mean_a, post.mean[:, 0, :])
    torch.testing.assert_close(mo.var_a, post.variance[:, 0, :])
    assert mo.noise.shape == (5, 2)
    expected = 0.01 * (2.0 - Xq[:, 2])
    torch.testing.assert_close(mo.noise[:, 0].detach(), expected, rtol=0.1, atol=0.0)
    fantasy = kriging_believer(model, Xq[:2])
    with torch.no_grad():
        after = fantasy.posterior(Xq[:2].unsqueeze(-2)).variance[:, 0, :]
    assert (after < post.variance[:2, 0, :]).all()


def test_suggest_passes_variances_to_the_gp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through ``suggest()``, cf-mesmo's GP gets the observations' variances (f0 given, f1
    not); bad variances are refused naming the field."""
    prob = get_problem("branin-currin")
    g = torch.Generator().manual_seed(4)
    obs = []
    for i, x in enumerate(torch.rand(10, 2, generator=g, dtype=torch.double).tolist()):
        params = {p.name: v for p, v in zip(prob.space.params, x, strict=True)}
        z = 1.0 if i % 3 == 0 else 0.3
        values, cost = prob.evaluate(params, z)
        obs.append(Observation(params=params, fidelity=z, values=values, cost_s=cost,
                               variances={"f0": 0.5 + i}))
    seen = []

    def spy(*args, **kw):
        model = fit_objective_model(*args, **kw)
        seen.append(model)
        return model

    monkeypatch.setattr(cfmesmo_module, "fit_objective_model", spy)
    suggest(prob.space, prob.objectives, obs, [], 1, "cf-mesmo", seed=0,
            options={"num_samples": 2, "raw_samples": 32, "num_restarts": 0})
    (model,) = seen
    std = model.outcome_transform.stdvs.reshape(-1)
    given = torch.tensor([0.5 + i for i in range(10)], dtype=torch.double)
    torch.testing.assert_close(model.likelihood.noise.detach()[0] * std[0] ** 2, given)
    bad = [Observation(params=obs[0].params, values=obs[0].values, variances={"f0": -1.0})]
    with pytest.raises(ObservationError, match=r"observations\[0\]\.variances"):
        suggest(prob.space, prob.objectives, bad, [], 1, "cf-mesmo", seed=0)
    bad = [Observation(params=obs[0].params, values=obs[0].values, variances={"zz": 1.0})]
    with pytest.raises(ObservationError, match="not an objective"):
        suggest(prob.space, prob.objectives, bad, [], 1, "cf-mesmo", seed=0)
