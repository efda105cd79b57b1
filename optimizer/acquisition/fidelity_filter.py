r"""BOCA-style fidelity filter: a lower fidelity is worth buying only while it is uncertain.

Information gain per unit cost favours the cheapest fidelity whenever the model believes it
correlates with the target; with costs like ``exp(4.8 z)`` the search can then stay at
``z = 0`` long after cheap evaluations stopped teaching anything new. BOCA [Kandasamy2017]_
queries a lower fidelity ``z`` only where the posterior there is still uncertain relative to a
threshold that grows with the distance from the target and with the relative cost; iMOCA's
reference implementation [Belakaria2020]_ applies the same rule to each objective:

.. math::

    \text{drop } (x, z),\ z < z^*, \text{ if } \tilde\sigma_j(x, z) < \gamma_j(z)
    \text{ for every objective } j,\qquad
    \gamma_j(z) = \xi_j(z) \left(\frac{C(x, z)}{C(x, z^*)}\right)^{q},\quad
    \xi_j(z) = \frac{|z^* - z|}{\ell_{z,j}},\quad q = \frac{1}{d + 3},

with :math:`\tilde\sigma_j` the posterior standard deviation of objective ``j`` in standardized
units, :math:`\ell_{z,j}` its kernel's fidelity lengthscale (unit-cube units) and ``d`` the
number of design dimensions. A dropped point's acquisition value is 0, so the search moves
up in fidelity as the model grows confident at the cheap end. (iMOCA drops a fidelity when any
objective falls below its threshold; keeping it while any objective is still uncertain is the
conservative choice for one evaluation that returns every objective.)

References:
    .. [Kandasamy2017] K. Kandasamy, G. Dasarathy, J. Schneider, B. Poczos. Multi-fidelity
       Bayesian optimisation with continuous approximations (BOCA). ICML 2017.
    .. [Belakaria2020] S. Belakaria, A. Deshwal, J. R. Doppa. Multi-fidelity multi-objective
       Bayesian optimization: an output space entropy search approach. AAAI 2020.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from botorch.models.model import Model
from torch import Tensor

from optimizer.acquisition.pair_moments import PairMoments
from optimizer.errors import OptimizerError
from optimizer.space import FIDELITY_TOL, UNIT_TARGET


class BOCAFilter:
    """Which ``(x, z)`` points keep their acquisition value (see the module docstring).

    Example:
        >>> filt = BOCAFilter.from_model(model, cost=cost_model, fidelity_dim=d, dim=d)
        >>> keep = filt(X)  # X: b x 1 x (d + 1) -> b booleans
    """

    def __init__(self, model: Model, *, lengthscale: Tensor, scale: Tensor,
                 cost: Callable[[Tensor], Tensor], fidelity_dim: int, dim: int,
                 target_fidelity: float = UNIT_TARGET) -> None:
        """Args:
            model: The objective model (``m`` outputs, raw units).
            lengthscale: ``m`` fidelity lengthscales :math:`\\ell_{z,j}` (unit-cube units).
            scale: ``m`` output standard deviations that standardize the posterior sd.
            cost: Maps ``b x 1 x D`` inputs to ``b x 1`` (or ``b``) positive costs.
            fidelity_dim: Column of the unit fidelity.
            dim: Number of design dimensions ``d`` (for ``q = 1 / (d + 3)``).
            target_fidelity: Unit-scaled fidelity of a full evaluation (``UNIT_TARGET``).
        """
        self.model = model
        self.lengthscale = lengthscale.detach().double().reshape(-1)
        self.scale = scale.detach().double().reshape(-1)
        self.cost = cost
        self.fidelity_dim = fidelity_dim
        self.q = 1.0 / (dim + 3)
        self.target_fidelity = float(target_fidelity)
        self._pairs = PairMoments.from_model(model)  # None: use model.posterior

    @classmethod
    def from_model(cls, model: Model, *, cost: Callable[[Tensor], Tensor], fidelity_dim: int,
                   dim: int) -> BOCAFilter:
        """Read the fidelity lengthscales and output scales of a batched multi-output
        ``SingleTaskGP`` with an ARD kernel and a ``Standardize`` outcome transform.

        Raises:
            OptimizerError: If the model does not expose them.
        """
        try:
            ls = model.covar_module.lengthscale[..., 0, fidelity_dim]  # type: ignore[union-attr]
            scale = model.outcome_transform.stdvs  # type: ignore[union-attr]
        except (AttributeError, IndexError) as e:
            raise OptimizerError("the BOCA filter needs a GP with an ARD kernel and a "
                                 f"Standardize outcome transform ({e}).") from e
        return cls(model, lengthscale=ls, scale=scale, cost=cost, fidelity_dim=fidelity_dim,
                   dim=dim)

    def thresholds(self, X: Tensor) -> Tensor:
        r"""``b x m`` thresholds :math:`\gamma_j(z)` for ``b x 1 x D`` points."""
        z = X[..., 0, self.fidelity_dim]  # b
        xi = (self.target_fidelity - z).abs().unsqueeze(-1) / self.lengthscale  # b x m
        Xt = X.clone()
        Xt[..., self.fidelity_dim] = self.target_fidelity
        ratio = (self.cost(X).reshape(z.shape) / self.cost(Xt).reshape(z.shape)).clamp(0, 1)
        return xi * ratio.pow(self.q).unsqueeze(-1)

    def __call__(self, X: Tensor) -> Tensor:
        """``b`` booleans: keep ``X[i]`` (target fidelity, or some objective still uncertain).

        Args:
            X: ``b x 1 x D`` points, fidelity in column ``fidelity_dim``.
        """
        with torch.no_grad():
            if self._pairs is not None:
                var = self._pairs.point(X[..., 0, :])[1]
            else:
                var = self.model.posterior(X).variance[..., 0, :]
            sd = var.clamp_min(0).sqrt() / self.scale
            low = X[..., 0, self.fidelity_dim] < self.target_fidelity - FIDELITY_TOL
            return ~low | (sd >= self.thresholds(X)).any(dim=-1)


__all__ = ["BOCAFilter"]
