r"""Known (measured) observation noise in the objective GP: fixed where given, learned elsewhere.

An evaluation may report the noise variance of some of its values (``Observation.variances``;
the crossbar simulator's Monte-Carlo ``accuracy_stderr`` squared). An objective whose every
observation carries one gets *fixed heteroscedastic* noise: observation ``i`` has variance
:math:`\sigma_i^2` exactly, as given. Objectives without (or with only some) variances keep the
learned homoscedastic noise of ``SingleTaskGP`` (log-normal prior, floor ``1e-4`` in
standardized units) on top of a fixed ``MIN_FIXED_NOISE``. ``KnownNoiseLikelihood`` holds
both in one batched likelihood, so the model stays one multi-output ``SingleTaskGP``
(``optimizer.acquisition.pair_moments`` applies).

A *prospective* observation at a new point needs a noise too (the information gain of a
cheap, noisy evaluation is small). For the known outputs it is extrapolated from the given
variances by a least-squares fit of :math:`\ln\sigma^2 = a + b z` on the unit fidelity ``z``
(constant :math:`a` without a fidelity column): Monte-Carlo noise shrinks as the fidelity buys
more draws and test images.

All noise values inside the likelihood are in the GP's standardized units (raw variance
divided by the ``Standardize`` scale squared).
"""

from __future__ import annotations

import torch
from botorch.models.model import Model
from botorch.models.utils.gpytorch_modules import get_gaussian_likelihood_with_lognormal_prior
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood
from linear_operator.operators import DiagLinearOperator
from torch import Tensor

MIN_FIXED_NOISE = 1e-6
"""Floor of every fixed noise [standardized variance]: GPyTorch's ``FixedGaussianNoise`` rounds
smaller values up to it (with a warning). The learned outputs carry it as their fixed part."""


def known_outputs(Yvar: Tensor | None) -> Tensor | None:
    """``m`` mask of the outputs whose every observation has a finite variance >= 0 (``Yvar``
    ``n x m``, NaN where not given); ``None`` when no output qualifies."""
    if Yvar is None or Yvar.numel() == 0:
        return None
    known = (torch.isfinite(Yvar) & (Yvar >= 0)).all(dim=0)
    return known if bool(known.any()) else None


class KnownNoiseLikelihood(FixedNoiseGaussianLikelihood):
    """Batched (``m`` outputs) Gaussian likelihood: given variances for the ``known`` outputs,
    a learned homoscedastic noise for the others (see the module docstring).

    Attributes:
        known: ``m`` boolean buffer, outputs with fixed noise.
        fidelity_dim: Column of the unit fidelity in the model's inputs, or ``None``.
        log_a, log_b: ``m`` buffers, the prospective fit :math:`\\ln\\sigma^2 = a + b z` of the
            known outputs [standardized].
    """

    def __init__(self, noise: Tensor, known: Tensor, X: Tensor,
                 fidelity_dim: int | None) -> None:
        """Build the likelihood.

        Args:
            noise: ``m x n`` given variances [standardized]; ignored for unknown outputs.
            known: ``m`` mask of the outputs with fixed noise.
            X: ``n x D`` training inputs (unit cube), for the prospective fit.
            fidelity_dim: Column of the unit fidelity in ``X``, or ``None``.
        """
        m = noise.shape[0]
        fixed = torch.where(known.unsqueeze(-1), noise, torch.zeros_like(noise)
                            ).clamp_min(MIN_FIXED_NOISE)
        learned = get_gaussian_likelihood_with_lognormal_prior().noise_covar  # SingleTaskGP's
        super().__init__(
            noise=fixed, learn_additional_noise=True, batch_shape=torch.Size([m]),
            noise_prior=learned.noise_prior, noise_constraint=learned.raw_noise_constraint,
        )
        self.register_buffer("known", known.clone())
        self.fidelity_dim = fidelity_dim
        log_v = fixed.log()  # m x n
        if fidelity_dim is not None and X.shape[0] > 1 and float(X[:, fidelity_dim].std()) > 1e-6:
            z = X[:, fidelity_dim].double()
            zc = z - z.mean()
            b = (log_v - log_v.mean(-1, keepdim=True)).matmul(zc) / zc.pow(2).sum()
            a = log_v.mean(-1) - b * z.mean()
        else:
            a, b = log_v.mean(-1), torch.zeros(m, dtype=log_v.dtype)
        zero = torch.zeros_like(a)
        self.register_buffer("log_a", torch.where(known, a, zero))
        self.register_buffer("log_b", torch.where(known, b, zero))

    @property
    def second_noise(self) -> Tensor:  # type: ignore[override]
        """Learned noise, ``m x 1``, 0 for the known outputs [standardized]."""
        return self.second_noise_covar.noise * (~self.known).unsqueeze(-1)  # type: ignore[union-attr]

    def _shaped_noise_covar(self, base_shape: torch.Size, *params: object,
                            **kwargs: object) -> DiagLinearOperator:
        shape = None if params else base_shape
        fixed = self.noise_covar(*params, shape=shape, **kwargs)
        learned = self.second_noise_covar(*params, shape=shape, **kwargs)  # type: ignore[misc]
        mask = (~self.known).to(learned.dtype).unsqueeze(-1)
        return fixed + DiagLinearOperator(learned.diagonal(dim1=-2, dim2=-1) * mask)

    def known_noise_at(self, X: Tensor) -> Tensor:
        """Prospective fixed noise of new observations at ``X`` (``b x D``): ``m x b``
        [standardized], ``MIN_FIXED_NOISE`` for the learned outputs."""
        if self.fidelity_dim is None:
            z = torch.zeros(X.shape[0], dtype=torch.double)
        else:
            z = X[:, self.fidelity_dim].double()
        v = (self.log_a.unsqueeze(-1) + self.log_b.unsqueeze(-1) * z).exp()
        return torch.where(self.known.unsqueeze(-1), v, torch.full_like(v, MIN_FIXED_NOISE))

    def noise_at(self, X: Tensor) -> Tensor:
        """Prospective total noise at ``X`` (``b x D``): ``m x b`` [standardized]."""
        return self.known_noise_at(X) + self.second_noise


def prospective_fixed_noise(model: Model, X: Tensor) -> Tensor | None:
    """The fixed noise of new observations at ``X`` (``b x D``) in raw units, ``b x m``, as
    ``condition_on_observations(X, Y, noise=...)`` takes it (the kriging believer); ``None``
    for a model whose noise is all learned. A fully fixed-noise model (one known output)
    gets its mean training noise."""
    lik = model.likelihood
    if isinstance(lik, KnownNoiseLikelihood):
        v = lik.known_noise_at(X)  # m x b
    elif isinstance(lik, FixedNoiseGaussianLikelihood):
        v = lik.noise.reshape(-1, lik.noise.shape[-1]).mean(-1, keepdim=True).expand(
            -1, X.shape[0])
    else:
        return None
    scale = model.outcome_transform.stdvs.reshape(-1, 1)  # type: ignore[union-attr]
    return (v * scale.pow(2)).T


__all__ = ["KnownNoiseLikelihood", "known_outputs", "prospective_fixed_noise"]
