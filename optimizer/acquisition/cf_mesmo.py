r"""CF-MESMO: continuous-fidelity, cost-aware max-value entropy search for several objectives.

CF-MESMO [Yang2021]_ picks the design *and* the fidelity that maximize the information gained
about the Pareto front at the target fidelity per unit of evaluation cost. It extends MESMO
[Belakaria2019]_ with the fidelity treatment of MF-OSEMO/iMOCA [Belakaria2020]_:

.. math::

    \alpha(x, z) = \frac{\max\!\left(0,\ \frac{1}{S}\sum_{s=1}^{S}\sum_{j=1}^{m}
        \mathrm{IG}_j^s(x, z)\right)}{C(x, z)},

with :math:`y^{*s}_j` sampled maxima at the target fidelity (``optimizer.acquisition.
max_values``) and :math:`C(x, z)` the predicted normalized cost (``optimizer.surrogates.
CostModel``). One evaluation returns every objective, so the cost is counted once, not summed
over objectives as in iMOCA's decoupled setting. Two approximations of :math:`\mathrm{IG}` are
offered:

- ``"tg"`` (iMOCA's default "truncated Gaussian"): the MESMO entropy reduction of a Gaussian
  truncated above at :math:`y^{*s}_j`, with moments at :math:`(x, z)`:

  .. math::

      \gamma = \frac{y^{*s}_j - \mu_j(x, z)}{\sigma_j(x, z)},\qquad
      \mathrm{IG}_j^s = \frac{\gamma\,\phi(\gamma)}{2\,\Phi(\gamma)} - \ln\Phi(\gamma).

  At :math:`z = z^*` (or without a fidelity) this is exactly MESMO.

- ``"gibbon"`` (closed-form correlated variant, a differentiable stand-in for iMOCA's
  numerically integrated "extended truncated Gaussian"): the GIBBON bound [Moss2021]_ for the
  observation :math:`y(x, z) = f(x, z) + \varepsilon` informing :math:`f(x, z^*)`,

  .. math::

      \gamma = \frac{y^{*s}_j - \mu_j(x, z^*)}{\sigma_j(x, z^*)},\quad
      r = \frac{\phi(\gamma)}{\Phi(\gamma)},\quad
      \rho = \frac{\mathrm{cov}(f_j(x, z), f_j(x, z^*))}
                  {\sqrt{(\sigma^2_j(x, z) + \sigma^2_{\varepsilon,j})\,\sigma^2_j(x, z^*)}},

  .. math::

      \mathrm{IG}_j^s = -\tfrac{1}{2}\ln\!\left(1 - \rho^2\, r\,(\gamma + r)\right).

  A cheap fidelity that the model no longer correlates with the target (small :math:`\rho`)
  earns little, however uncertain it is; this is what lets the search move up in fidelity.

The moments come from ``PairMoments`` (one Cholesky factorization per acquisition function,
then ``O(n)`` per point and output) when the model is a batched ``SingleTaskGP``, else from
``model.posterior``; both give the same numbers (tested to 1e-12).

Both terms are non-negative in exact arithmetic; the sum is clamped at 0 before the division
(so ``InverseCostWeightedUtility``'s sign quirk never applies).

References:
    .. [Yang2021] S. Yang, S. Belakaria, ..., J. R. Doppa, H. Li. Multi-objective optimization
       of ReRAM crossbars for robust DNN inferencing under stochastic noise (CF-MESMO).
       ICCAD 2021, arXiv:2109.05437.
    .. [Belakaria2019] S. Belakaria, A. Deshwal, J. R. Doppa. Max-value entropy search for
       multi-objective Bayesian optimization. NeurIPS 2019.
    .. [Belakaria2020] S. Belakaria, A. Deshwal, J. R. Doppa. Multi-fidelity multi-objective
       Bayesian optimization: an output space entropy search approach. AAAI 2020.
    .. [Moss2021] H. B. Moss, D. S. Leslie, J. Gonzalez, P. Rayson. GIBBON: general-purpose
       information-based Bayesian optimisation. JMLR 22(235), 2021.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.models.model import Model
from botorch.utils.transforms import t_batch_mode_transform
from torch import Tensor
from torch.special import log_ndtr

from optimizer.acquisition.front_truncation import front_information_gain, truncated_covariance
from optimizer.acquisition.pair_moments import PairMoments
from optimizer.errors import OptimizerError
from optimizer.space import UNIT_TARGET

Approx = Literal["tg", "gibbon"]

INFO_NOISE_FLOOR = 0.0
"""Default least observation noise variance in the ``"gibbon"`` term [share of each objective's
variance] (module docstring, "Noise floor"); 0: the model's own noise."""

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MIN_STD = 1e-9
_GAMMA_CLIP = 40.0


def _log_phi(g: Tensor) -> Tensor:
    return -0.5 * g * g - _LOG_SQRT_2PI


def mesmo_information_gain(gamma: Tensor) -> Tensor:
    r"""MESMO entropy reduction :math:`\gamma\phi(\gamma)/(2\Phi(\gamma)) - \ln\Phi(\gamma)`
    (elementwise, any shape), computed in log space; ``>= 0``."""
    g = gamma.clamp(-_GAMMA_CLIP, _GAMMA_CLIP)
    log_cdf = log_ndtr(g)
    r = torch.exp(_log_phi(g) - log_cdf)
    return (0.5 * g * r - log_cdf).clamp_min(0.0)


def gibbon_information_gain(gamma: Tensor, rho2: Tensor) -> Tensor:
    r"""GIBBON term :math:`-\frac12\ln(1 - \rho^2 r(\gamma + r))`, :math:`r = \phi/\Phi`
    (elementwise, broadcasting); ``>= 0``."""
    g = gamma.clamp(-_GAMMA_CLIP, _GAMMA_CLIP)
    r = torch.exp(_log_phi(g) - log_ndtr(g))
    # r (g + r) is the variance reduction of a standard normal truncated above at g: in [0, 1)
    shrink = (r * (g + r)).clamp(0.0, 1.0 - 1e-12)
    return -0.5 * torch.log1p(-(rho2.clamp(0.0, 1.0) * shrink))


class CFMESMO(AcquisitionFunction):
    r"""Cost-aware continuous-fidelity MESMO (see the module docstring for the formulas).

    Example:
        >>> acqf = CFMESMO(model, max_values=samples.max_values, cost=cost_model,
        ...                fidelity_dim=d, approx="gibbon")
        >>> values = acqf(X)  # X: b x 1 x (d + 1) -> b
    """

    def __init__(
        self,
        model: Model,
        max_values: Tensor,
        cost: Callable[[Tensor], Tensor] | None = None,
        fidelity_dim: int | None = None,
        approx: Approx = "gibbon",
        target_fidelity: float = UNIT_TARGET,
        fidelity_filter: Callable[[Tensor], Tensor] | None = None,
        front_boxes: Tensor | None = None,
        info_noise_floor: float = INFO_NOISE_FLOOR,
    ) -> None:
        r"""Build the acquisition function.

        Args:
            model: A fitted model with ``m`` outputs in maximization form over ``D`` inputs.
            max_values: ``S x m`` sampled maxima at the target fidelity.
            cost: Maps ``b x 1 x D`` inputs to ``b x 1`` positive normalized costs; ``None``
                for unit cost (then the value is the information gain itself).
            fidelity_dim: Column of the fidelity in ``X``, or ``None`` (single fidelity).
            approx: ``"tg"`` or ``"gibbon"``.
            target_fidelity: Value of the (unit-scaled) fidelity column at the target fidelity
                (``optimizer.space.UNIT_TARGET``).
            fidelity_filter: Maps ``b x 1 x D`` inputs to ``b`` booleans; points it rejects
                score 0 (e.g. ``optimizer.acquisition.fidelity_filter.BOCAFilter``).
            front_boxes: ``S x 2 x J x m`` boxes of the regions the sampled fronts dominate
                (``optimizer.acquisition.front_truncation.front_boxes``) for ``"gibbon"``;
                ``None`` takes ``max_values.front_boxes`` when ``sample_max_values`` attached
                them, else truncates at the max values alone (MESMO's box).
            info_noise_floor: Least observation noise variance of the ``"gibbon"`` term, as
                a share of each objective's variance (``INFO_NOISE_FLOOR``; module
                docstring), ``>= 0``.

        Raises:
            OptimizerError: for a bad ``approx`` or ``max_values`` shape.
        """
        super().__init__(model=model)
        if approx not in ("tg", "gibbon"):
            raise OptimizerError(f"approx must be 'tg' or 'gibbon', got {approx!r}.")
        if max_values.dim() != 2:
            raise OptimizerError(
                f"max_values must be an S x m tensor, got shape {tuple(max_values.shape)}."
            )
        if front_boxes is None:
            front_boxes = getattr(max_values, "front_boxes", None)
        self.front_boxes = None if front_boxes is None else front_boxes.double()
        self.register_buffer("max_values", max_values.double())
        self.cost = cost
        self.fidelity_dim = fidelity_dim
        self.approx: Approx = approx
        self.target_fidelity = float(target_fidelity)
        self.fidelity_filter = fidelity_filter
        self._pairs = PairMoments.from_model(model)  # None: use model.posterior
        self.info_noise_floor = float(info_noise_floor)
        self._floor = self._noise_floor(model)

    def _noise_floor(self, model: Model) -> Tensor:
        """``m`` least noise variances [raw units]: ``info_noise_floor`` times the squared
        ``Standardize`` scale of each output (1 without one)."""
        if self._pairs is not None:
            scale = self._pairs.scale.reshape(-1)
        else:
            tf = getattr(model, "outcome_transform", None)
            stdvs = getattr(tf, "stdvs", None)
            scale = (stdvs.reshape(-1) if stdvs is not None
                     else torch.ones(model.num_outputs, dtype=torch.double))
        return (self.info_noise_floor * scale.pow(2)).detach().double()

    def project(self, X: Tensor) -> Tensor:
        """``X`` with the fidelity column set to the target fidelity (same shape)."""
        if self.fidelity_dim is None:
            return X
        Xp = X.clone()
        Xp[..., self.fidelity_dim] = self.target_fidelity
        return Xp

    def information_gain(self, X: Tensor) -> Tensor:
        r"""Sum over objectives of the mean over samples of :math:`\mathrm{IG}_j^s`.

        Args:
            X: ``b x 1 x D``.

        Returns:
            ``b`` non-negative information gains [nats].
        """
        y_star = self.max_values  # S x m
        if self.approx == "tg":
            if self._pairs is not None:
                mu, var = self._pairs.point(X[..., 0, :])
            else:
                post = self.model.posterior(X)
                mu, var = post.mean[..., 0, :], post.variance[..., 0, :]  # b x m
            sd = var.clamp_min(_MIN_STD**2).sqrt()
            gamma = (y_star - mu.unsqueeze(-2)) / sd.unsqueeze(-2)  # b x S x m
            ig = mesmo_information_gain(gamma)
        elif self._pairs is not None:
            mo = self._pairs(X[..., 0, :], self.project(X)[..., 0, :])
            var_t = mo.var_b.clamp_min(_MIN_STD**2)  # b x m
            var_y = (mo.var_a + torch.maximum(mo.noise, self._floor)).clamp_min(_MIN_STD**2)
            if self.front_boxes is not None:
                rho = mo.cov_ab / (var_y * var_t).sqrt()
                cov = truncated_covariance(mo.mean_b, var_t.sqrt(), self.front_boxes)
                return front_information_gain(rho, cov).mean(dim=-1)
            rho2 = mo.cov_ab.pow(2) / (var_y * var_t)
            gamma = (y_star - mo.mean_b.unsqueeze(-2)) / var_t.sqrt().unsqueeze(-2)
            ig = gibbon_information_gain(gamma, rho2.unsqueeze(-2))
        else:
            X2 = torch.cat([X, self.project(X)], dim=-2)  # b x 2 x D
            post = self.model.posterior(X2)
            m = post.mean.shape[-1]
            cov = post.distribution.covariance_matrix  # b x 2m x 2m
            if getattr(post.distribution, "_interleaved", True):  # index = point * m + task
                idx_z, idx_t = torch.arange(m), torch.arange(m) + m
            else:  # index = task * 2 + point
                idx_z, idx_t = torch.arange(m) * 2, torch.arange(m) * 2 + 1
            var_t = cov[..., idx_t, idx_t].clamp_min(_MIN_STD**2)  # b x m
            cov_zt = cov[..., idx_z, idx_t]
            var_y = self.model.posterior(X, observation_noise=True).variance[..., 0, :]
            var_y = torch.maximum(var_y, post.variance[..., 0, :] + self._floor)
            mu_t = post.mean[..., 1, :]
            if self.front_boxes is not None:
                rho = cov_zt / (var_y.clamp_min(_MIN_STD**2) * var_t).sqrt()
                cov = truncated_covariance(mu_t, var_t.sqrt(), self.front_boxes)
                return front_information_gain(rho, cov).mean(dim=-1)
            rho2 = cov_zt.pow(2) / (var_y.clamp_min(_MIN_STD**2) * var_t)  # b x m
            gamma = (y_star - mu_t.unsqueeze(-2)) / var_t.sqrt().unsqueeze(-2)  # b x S x m
            ig = gibbon_information_gain(gamma, rho2.unsqueeze(-2))
        return ig.mean(dim=-2).sum(dim=-1).clamp_min(0.0)

    @t_batch_mode_transform(expected_q=1)
    def forward(self, X: Tensor) -> Tensor:
        r"""Information gain per unit predicted cost.

        Args:
            X: A ``b x 1 x D``-dim Tensor of ``b`` t-batches with one ``D``-dim design point
                (fidelity in column ``fidelity_dim``) each.

        Returns:
            A ``b``-dim Tensor of values ``>= 0`` [nats per normalized cost unit].
        """
        ig = self.information_gain(X)
        if self.cost is not None:
            ig = ig / self.cost(X).reshape(ig.shape).clamp_min(1e-12)
        if self.fidelity_filter is not None:
            ig = torch.where(self.fidelity_filter(X), ig, torch.zeros_like(ig))
        return ig


__all__ = ["CFMESMO", "INFO_NOISE_FLOOR", "gibbon_information_gain", "mesmo_information_gain"]
