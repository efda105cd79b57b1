r"""Surrogate models over the design and the fidelity: objective GPs and a cost model.

Inputs follow ``optimizer.encoding``: ``X`` is ``n x D`` in the unit cube, with the unit fidelity
``z`` as the last column when the space has a fidelity range (``D = d + 1``), so the target
fidelity is ``z = 1``. Objective values ``Y`` (``n x m``) are in maximization form.

Objective model
---------------
One independent GP per objective, batched in a single multi-output ``SingleTaskGP`` (each output
has its own hyperparameters). The kernel is BoTorch's default ARD RBF kernel with dimension-
scaled log-normal lengthscale priors [Hvarfner2024]_. An ARD RBF kernel over ``(x, z)`` factorizes
as

.. math::

    k((x, z), (x', z')) = k_x(x, x')\, k_z(z, z'),\qquad
    k_z(z, z') = \exp\!\left(-\frac{(z - z')^2}{2 \ell_z^2}\right),

the product (design kernel) x (fidelity kernel) of the iMOCA/CF-MESMO model [Belakaria2020]_,
with the fidelity lengthscale :math:`\ell_z` learned instead of grid-searched: a long
:math:`\ell_z` says that cheap evaluations predict the full one well. Observation noise is
learned per objective (accuracy is noisy; the log-normal noise prior of ``SingleTaskGP``),
inputs pass through ``Normalize`` (the unit-cube bounds, so it documents rather than rescales)
and outputs through ``Standardize``. Hyperparameters are fit by ``fit_gpytorch_mll`` (MAP,
at most ``FIT_MAXITER`` L-BFGS-B iterations).

Above ``FIT_SUBSET`` observations the hyperparameters are fit on a random subset of that many
(a generator seeded with 0, so the same data gives the same subset) and the GP is then
conditioned on *all* observations with them: the marginal likelihood and its gradient cost
:math:`O(n^3)` per L-BFGS-B step, and the fit is most of a stateless ``suggest()`` call (at 200
observations and 4 objectives, 6.3 s of 12 s measured). Hyperparameters estimated from ~100
points of a 5-7 dimensional space are close to the full-data MAP, while the posterior still
uses every point (the subset-of-data estimator for hyperparameters; see docs/decisions.md).

Cost model
----------
A GP on :math:`\log c` (``c`` = measured ``cost_s`` [s]) over ``(x, z)`` with a *linear* mean
function, so that it extrapolates the dominant trend (cost growing with fidelity, e.g.
:math:`\log c = 4.8 z` in the BoTorch multi-fidelity tutorial) instead of reverting to a constant
away from the data. Predictions are :math:`\exp` of the posterior mean (the median cost),
divided by ``scale``: the geometric mean of the predicted full-fidelity cost over the observed
designs, so one *normalized cost unit* is roughly one full evaluation (as in iMOCA's
:math:`C(z)/C(z^*)`).

References:
    .. [Hvarfner2024] C. Hvarfner, E. O. Hellsten, L. Nardi. Vanilla Bayesian optimization
       performs great in high dimensions. ICML 2024.
    .. [Belakaria2020] S. Belakaria, A. Deshwal, J. R. Doppa. Multi-fidelity multi-objective
       Bayesian optimization: an output space entropy search approach. AAAI 2020.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable

import torch
from botorch.exceptions.warnings import InputDataWarning, OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.means import LinearMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from optimizer.errors import OptimizerError

logger = logging.getLogger(__name__)

FIT_MAXITER = 100
"""L-BFGS-B iterations of the hyperparameter fit: the MAP estimate is usually reached well
before; the cap bounds the time of a ``suggest()`` call (the fit dominates it)."""

FIT_SUBSET = 100
"""Most observations the hyperparameter fit sees (see the module docstring)."""

MIN_COST = 1e-9
"""Floor on measured costs [s] before taking the log (a zero ``cost_s`` is allowed)."""


def _check_xy(X: Tensor, Y: Tensor, what: str) -> None:
    if X.dim() != 2 or Y.dim() != 2 or X.shape[0] != Y.shape[0]:
        raise OptimizerError(
            f"{what}: X must be n x D and Y n x m with the same n, got {tuple(X.shape)} and "
            f"{tuple(Y.shape)}."
        )
    if X.shape[0] < 1:
        raise OptimizerError(f"{what}: need at least one observation to fit a model.")
    if not torch.isfinite(X).all() or not torch.isfinite(Y).all():
        raise OptimizerError(f"{what}: X and Y must be finite.")


def _fit(model: SingleTaskGP) -> None:
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=OptimizationWarning)
        warnings.simplefilter("ignore", category=InputDataWarning)
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": FIT_MAXITER}})
        except Exception as e:  # fall back to the initial (prior-mode) hyperparameters
            logger.warning("GP hyperparameter fit failed (%s); using the initial values", e)
    model.eval()


def fit_subset(n: int, limit: int = FIT_SUBSET) -> Tensor | None:
    """Indices of the observations the hyperparameter fit uses: ``None`` (all) for
    ``n <= limit``, else ``limit`` indices drawn without replacement by a generator seeded
    with 0, sorted."""
    if n <= limit:
        return None
    g = torch.Generator().manual_seed(0)
    return torch.randperm(n, generator=g)[:limit].sort().values


def _fit_on_subset(make: Callable[[Tensor, Tensor], SingleTaskGP], X: Tensor, Y: Tensor,
                   limit: int) -> SingleTaskGP:
    """``make(X, Y)`` with hyperparameters fit on ``fit_subset`` of the rows; the outcome
    transform keeps the statistics of all of ``Y``."""
    model = make(X, Y)
    idx = fit_subset(X.shape[0], limit)
    if idx is None:
        _fit(model)
        return model
    sub = make(X[idx], Y[idx])
    _fit(sub)
    state = {k: v for k, v in sub.state_dict().items()
             if not k.startswith("outcome_transform")}
    model.load_state_dict(state, strict=False)
    model.eval()
    return model


def fit_objective_model(X: Tensor, Y: Tensor, fit_limit: int = FIT_SUBSET) -> SingleTaskGP:
    r"""Fit the per-objective GP over ``(x, z)`` (see the module docstring).

    Args:
        X: ``n x D`` unit-cube inputs (fidelity last when modelled).
        Y: ``n x m`` objective values in maximization form.
        fit_limit: Most observations the hyperparameter fit sees (``FIT_SUBSET``).

    Returns:
        A fitted ``SingleTaskGP`` with ``m`` outputs, in eval mode; ``model.posterior(X')``
        for ``X'`` of shape ``batch x q x D`` has mean ``batch x q x m``.

    Raises:
        OptimizerError: for mismatched, empty or non-finite data.
    """
    _check_xy(X, Y, "fit_objective_model")
    D, m = X.shape[-1], Y.shape[-1]

    def make(Xs: Tensor, Ys: Tensor) -> SingleTaskGP:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=InputDataWarning)
            return SingleTaskGP(Xs, Ys, input_transform=Normalize(d=D, bounds=_unit_bounds(D)),
                                outcome_transform=Standardize(m=m))

    return _fit_on_subset(make, X.double(), Y.double(), fit_limit)


def _unit_bounds(D: int) -> Tensor:
    return torch.stack([torch.zeros(D, dtype=torch.double), torch.ones(D, dtype=torch.double)])


def fit_objective_model_list(X: Tensor, Y: Tensor) -> ModelListGP:
    r"""Like ``fit_objective_model`` but as a ``ModelListGP`` of ``m`` single-output GPs (for
    acquisition functions that require a model list, e.g. HVKG); same kernel, priors and
    transforms, each output fitted on its own.

    Args:
        X: ``n x D`` unit-cube inputs (fidelity last when modelled).
        Y: ``n x m`` objective values in maximization form.
    """
    _check_xy(X, Y, "fit_objective_model_list")
    return ModelListGP(*[fit_objective_model(X, Y[:, j:j + 1]) for j in range(Y.shape[-1])])


class CostModel:
    r"""Predicted evaluation cost :math:`C(x, z)` in normalized units (see the module docstring).

    Attributes:
        scale: Cost [s] of one normalized unit: the geometric mean of the predicted cost at the
            target fidelity over the training designs.
        constant: Whether the model is a constant (fewer than 2 observations or all costs equal).
    """

    def __init__(self, X: Tensor, cost_s: Tensor, fidelity_dim: int | None) -> None:
        r"""Fit the cost model.

        Args:
            X: ``n x D`` unit-cube inputs (fidelity in column ``fidelity_dim``).
            cost_s: ``n`` measured costs [s], ``>= 0``.
            fidelity_dim: Column of the unit fidelity in ``X``, or ``None``.

        Raises:
            OptimizerError: for mismatched shapes or negative / non-finite costs.
        """
        cost_s = torch.as_tensor(cost_s, dtype=torch.double).reshape(-1)
        _check_xy(X, cost_s.unsqueeze(-1), "CostModel")
        if (cost_s < 0).any():
            raise OptimizerError("CostModel: cost_s must be >= 0.")
        self.fidelity_dim = fidelity_dim
        logc = cost_s.clamp_min(MIN_COST).log()
        self._model: SingleTaskGP | None = None
        self._const = float(logc.mean())
        self.constant = X.shape[0] < 2 or float(logc.max() - logc.min()) < 1e-9
        if not self.constant:
            D = X.shape[-1]

            def make(Xs: Tensor, Ys: Tensor) -> SingleTaskGP:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", category=InputDataWarning)
                    return SingleTaskGP(Xs, Ys, mean_module=LinearMean(input_size=D),
                                        input_transform=Normalize(d=D, bounds=_unit_bounds(D)),
                                        outcome_transform=Standardize(m=1))

            self._model = _fit_on_subset(make, X.double(), logc.unsqueeze(-1), FIT_SUBSET)
        X_full = X.double().clone()
        if fidelity_dim is not None:
            X_full[:, fidelity_dim] = 1.0
        with torch.no_grad():
            self.scale = math.exp(float(self.log_cost_s(X_full).mean()))

    def log_cost_s(self, X: Tensor) -> Tensor:
        r"""Predicted :math:`\log` cost [log s] (posterior mean), shape ``X.shape[:-1]``."""
        if self._model is None:
            return torch.full(X.shape[:-1], self._const, dtype=X.dtype)
        return self._model.posterior(X).mean.squeeze(-1)

    def __call__(self, X: Tensor) -> Tensor:
        r"""Predicted normalized cost :math:`C(x, z)` (> 0), shape ``X.shape[:-1]``.

        Args:
            X: ``batch x q x D`` (or ``n x D``) unit-cube inputs.
        """
        return (self.log_cost_s(X) - math.log(self.scale)).exp()

    def as_deterministic_model(self) -> object:
        """The normalized cost as a BoTorch ``GenericDeterministicModel`` (one output), for
        ``InverseCostWeightedUtility``."""
        from botorch.models.deterministic import GenericDeterministicModel

        return GenericDeterministicModel(lambda X: self(X).unsqueeze(-1), num_outputs=1)


__all__ = ["FIT_SUBSET", "CostModel", "fit_objective_model", "fit_objective_model_list",
           "fit_subset"]
