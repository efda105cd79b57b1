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
at most ``fit_maxiter(n)`` L-BFGS-B iterations) on ``CholeskyMarginalLogLikelihood``: GPyTorch's
exact marginal log likelihood with the closed-form gradient of its Gaussian term (the same
value and gradient, a third less time per step).

Every L-BFGS-B step costs :math:`O(n^3)`, and the fit is most of a stateless ``suggest()``
call, so the iteration cap shrinks with the data: ``FIT_MAXITER`` up to ``FIT_FULL_UNTIL``
observations, then :math:`\max(20,\ 100\,(100/n)^2)` (25 at 200 observations), which keeps
the fit's time near that of 100 observations (the cost model's fit follows the same rule).
Measured on the 4-objective DTLZ2 timing case with 200 observations: full convergence 3.7 s,
held-out normalized RMSE (0.109, 0.073, 0.035, 0.023); 25-30 iterations 1.2-1.6 s, (0.128,
0.078, 0.043, 0.026). (Fitting the hyperparameters on a 100-point subset instead was as fast
but worse, (0.175, 0.185, 0.054, 0.028), and stayed so after 25 more iterations on all data;
see docs/decisions.md.)

Cost model
----------
A GP on :math:`\log c` (``c`` = measured ``cost_s`` [s]) over ``(x, z)`` with a *linear* mean
function, so that it extrapolates the dominant trend (cost growing with fidelity, e.g.
:math:`\log c = 4.8 z` in the BoTorch multi-fidelity tutorial) instead of reverting to a constant
away from the data; with a fidelity, the mean is the least-squares fit of :math:`\log c` on
``z``, held fixed while the kernel's hyperparameters are fitted (``_freeze_trend``). Predictions are
:math:`\exp` of the posterior mean (the median cost),
divided by ``scale``: the geometric mean of the predicted full-fidelity cost over the observed
designs, so one *normalized cost unit* is roughly one full evaluation (as in iMOCA's
:math:`C(z)/C(z^*)`).

Every evaluation also costs the time spent proposing it, the same at any fidelity: a fixed
``overhead_s`` (``TrainingData.overhead_s``: the service's measured ``suggest()`` time per
trial) is added to the predicted cost and to ``scale``. In README's crossbar study it is
comparable to an evaluation (cf-mesmo's median suggest call 1.2-2.6 s, its low-fidelity
evaluations 0.16-0.34 s, full ones 2.4-14.6 s; docs/decisions.md), so a low fidelity is less of
a bargain than the evaluation times alone say; benchmark problems with synthetic costs report
none (0).

A study can also run out of *trials* before it runs out of time. Then an evaluation shorter
than the time the study can afford per trial it has left (``floor_s``:
``SuggestContext.budget_per_trial_s``) still uses up one trial, so every predicted cost (and
``scale``) is at least ``floor_s``: with a trial budget that binds, cheap and full evaluations
cost the same and the acquisition weighs information alone.

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
from typing import Any

import torch
from botorch.exceptions.warnings import InputDataWarning, OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.deterministic import GenericDeterministicModel
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch import settings
from gpytorch.means import LinearMean
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.utils.warnings import NumericalWarning
from torch import Tensor

from optimizer.errors import OptimizerError
from optimizer.known_noise import KnownNoiseLikelihood, known_outputs

logger = logging.getLogger(__name__)

FIT_MAXITER = 100
"""L-BFGS-B iterations of the hyperparameter fit up to ``FIT_FULL_UNTIL`` observations: the
MAP estimate is usually reached well before."""

FIT_FULL_UNTIL = 100
"""Observations up to which the fit gets ``FIT_MAXITER`` iterations (see ``fit_maxiter``)."""

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


def fit_maxiter(n: int) -> int:
    """L-BFGS-B iteration cap of a fit on ``n`` observations: ``FIT_MAXITER`` up to
    ``FIT_FULL_UNTIL``, then ``max(20, round(FIT_MAXITER (FIT_FULL_UNTIL / n)^2))``."""
    if n <= FIT_FULL_UNTIL:
        return FIT_MAXITER
    return max(20, round(FIT_MAXITER * (FIT_FULL_UNTIL / n) ** 2))


class _GaussianLogDensity(torch.autograd.Function):
    r"""Batched :math:`\log\mathcal{N}(r; 0, K)` from a given Cholesky factor ``L`` of ``K``,
    with the closed-form gradient :math:`\partial/\partial K = \frac12(\alpha\alpha^\top -
    K^{-1})`, :math:`\partial/\partial r = -\alpha`, :math:`\alpha = K^{-1} r`: one
    ``cholesky_inverse`` (:math:`\approx n^3` flops) where autograd through ``cholesky``
    costs about :math:`4 n^3`."""

    @staticmethod
    def forward(ctx: Any, K: Tensor, r: Tensor, L: Tensor) -> Tensor:  # noqa: N803
        """``K``: ``... x n x n``, ``r``: ``... x n``, ``L``: the lower factor of ``K``;
        returns the ``...`` log densities."""
        alpha = torch.cholesky_solve(r.unsqueeze(-1), L)  # ... x n x 1
        quad = (r.unsqueeze(-1) * alpha).sum((-2, -1))
        logdet = 2.0 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        ctx.save_for_backward(L, alpha)
        return -0.5 * (quad + logdet + r.shape[-1] * math.log(2.0 * math.pi))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        L, alpha = ctx.saved_tensors
        g = grad[..., None, None]
        grad_K = 0.5 * g * (alpha * alpha.transpose(-1, -2) - torch.cholesky_inverse(L))
        return grad_K, -grad.unsqueeze(-1) * alpha.squeeze(-1), None


class CholeskyMarginalLogLikelihood(ExactMarginalLogLikelihood):
    """``ExactMarginalLogLikelihood`` (same value, priors and scaling) whose Gaussian term has
    the closed-form gradient of ``_GaussianLogDensity``: the same fit at about two thirds of
    the cost per L-BFGS-B step (200 observations, 4 outputs: 15.7 -> 10.6 ms, gradients equal
    to 1e-14 relative). A covariance whose Cholesky factorization fails, or a NaN policy
    other than ``"ignore"``, takes GPyTorch's own path (jitter retries, masking)."""

    def forward(self, function_dist: Any, target: Tensor, *params: Any, **kwargs: Any
                ) -> Tensor:
        if settings.observation_nan_policy.value() != "ignore":
            return super().forward(function_dist, target, *params, **kwargs)
        output = self.likelihood(function_dist, *params, **kwargs)
        K = output.lazy_covariance_matrix.to_dense()
        L, info = torch.linalg.cholesky_ex(K.detach())
        if bool((info != 0).any()):
            return super().forward(function_dist, target, *params, **kwargs)
        res = _GaussianLogDensity.apply(K, target - output.mean, L)
        res = self._add_other_terms(res, params)
        return res.div_(function_dist.event_shape.numel())


def _freeze_trend(model: SingleTaskGP, X: Tensor, logc: Tensor, fidelity_dim: int) -> None:
    r"""Set the cost GP's ``LinearMean`` to the least-squares fit of :math:`\log c = a + b z`
    (``X``: ``n x D`` unit cube, fidelity in column ``fidelity_dim``; no slope in the design
    columns) and hold it fixed, so the kernel models the rest. Fitted with the mean free, the
    kernel could absorb the fidelity trend of data at low fidelities only: on Branin-Currin (20
    observations at z <= 0.33, true full cost 121.5 s) eight fits from different random states
    predicted 1.5-126 s at the target. A least-squares slope in every design column as well
    extrapolates wildly with few observations of many parameters (crossbar, 10 parameters)."""
    A = torch.stack([X[:, fidelity_dim], torch.ones_like(X[:, fidelity_dim])], dim=-1)
    sol = torch.linalg.lstsq(A, logc.reshape(-1, 1)).solution.reshape(-1)
    tf = model.outcome_transform  # Standardize: the mean acts on standardized targets
    mu, sd = tf.means.reshape(()), tf.stdvs.reshape(())  # type: ignore[union-attr]
    mm = model.mean_module
    w = torch.zeros(X.shape[-1], dtype=X.dtype)
    w[fidelity_dim] = sol[0] / sd
    with torch.no_grad():
        mm.weights.copy_(w.reshape(mm.weights.shape))
        mm.bias.copy_(((sol[1] - mu) / sd).reshape(mm.bias.shape))
    mm.weights.requires_grad_(False)
    mm.bias.requires_grad_(False)


def _fit(model: SingleTaskGP) -> None:
    mll = CholeskyMarginalLogLikelihood(model.likelihood, model)
    maxiter = fit_maxiter(model.train_targets.shape[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=OptimizationWarning)
        warnings.simplefilter("ignore", category=InputDataWarning)
        try:
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
        except Exception as e:  # fall back to the initial (prior-mode) hyperparameters
            logger.warning("GP hyperparameter fit failed (%s); using the initial values", e)
    model.eval()


def fit_objective_model(X: Tensor, Y: Tensor, Yvar: Tensor | None = None,
                        fidelity_dim: int | None = None) -> SingleTaskGP:
    r"""Fit the per-objective GP over ``(x, z)`` (see the module docstring).

    Args:
        X: ``n x D`` unit-cube inputs (fidelity last when modelled).
        Y: ``n x m`` objective values in maximization form.
        Yvar: ``n x m`` known noise variances of ``Y`` (NaN where not given), or ``None``:
            outputs whose every row is given get that fixed noise, the others learned noise
            (``optimizer.known_noise.KnownNoiseLikelihood``).
        fidelity_dim: Column of the unit fidelity in ``X`` (the prospective noise of the known
            outputs is fitted against it), or ``None``.

    Returns:
        A fitted ``SingleTaskGP`` with ``m`` outputs, in eval mode; ``model.posterior(X')``
        for ``X'`` of shape ``batch x q x D`` has mean ``batch x q x m``.

    Raises:
        OptimizerError: for mismatched, empty or non-finite data.
    """
    _check_xy(X, Y, "fit_objective_model")
    D, m = X.shape[-1], Y.shape[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=InputDataWarning)
        known = known_outputs(Yvar)
        # unknown outputs' 0 (replaced below) would be rounded up to 1e-6 with a warning
        warnings.simplefilter("ignore", category=NumericalWarning)
        model = SingleTaskGP(X.double(), Y.double(),
                             train_Yvar=(None if known is None
                                         else torch.nan_to_num(Yvar.double(), nan=0.0)),
                             input_transform=Normalize(d=D, bounds=_unit_bounds(D)),
                             outcome_transform=Standardize(m=m))
        if known is not None and m > 1:  # BoTorch's likelihood is all fixed: mix (m = 1:
            # the one output is known, and BoTorch's fixed-noise likelihood is the model)
            model.likelihood = KnownNoiseLikelihood(
                model.likelihood.noise_covar.noise.detach().reshape(m, -1), known,
                X.double(), fidelity_dim)
    _fit(model)
    return model


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
        scale: Cost [s] of one normalized unit: the geometric mean of the predicted evaluation
            cost at the target fidelity over the training designs, plus ``overhead_s``, at
            least ``floor_s``.
        overhead_s: Fixed cost added to every evaluation [s] (module docstring).
        floor_s: Least cost of any evaluation [s] (module docstring; 0: none).
        constant: Whether the model is a constant (fewer than 2 observations or all costs equal).
    """

    def __init__(self, X: Tensor, cost_s: Tensor, fidelity_dim: int | None,
                 overhead_s: float = 0.0, floor_s: float = 0.0) -> None:
        r"""Fit the cost model.

        Args:
            X: ``n x D`` unit-cube inputs (fidelity in column ``fidelity_dim``).
            cost_s: ``n`` measured costs [s], ``>= 0``.
            fidelity_dim: Column of the unit fidelity in ``X``, or ``None``.
            overhead_s: Fixed cost of every evaluation beside ``cost_s`` [s], ``>= 0``.
            floor_s: Least cost of an evaluation [s], ``>= 0``: predictions below it are
                raised to it (a study whose trial budget binds before its time budget pays
                a trial whatever its time).

        Raises:
            OptimizerError: for mismatched shapes, negative / non-finite costs, overhead or
                floor.
        """
        cost_s = torch.as_tensor(cost_s, dtype=torch.double).reshape(-1)
        _check_xy(X, cost_s.unsqueeze(-1), "CostModel")
        if (cost_s < 0).any():
            raise OptimizerError("CostModel: cost_s must be >= 0.")
        for name, value in (("overhead_s", overhead_s), ("floor_s", floor_s)):
            if not (math.isfinite(value) and value >= 0):
                raise OptimizerError(f"CostModel: {name} must be finite and >= 0, "
                                     f"got {value!r}.")
        self.fidelity_dim = fidelity_dim
        self.overhead_s = float(overhead_s)
        self.floor_s = float(floor_s)
        logc = cost_s.clamp_min(MIN_COST).log()
        self._model: SingleTaskGP | None = None
        self._alpha: Tensor | None = None
        self._const = float(logc.mean())
        self.constant = X.shape[0] < 2 or float(logc.max() - logc.min()) < 1e-9
        if not self.constant:
            D = X.shape[-1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=InputDataWarning)
                self._model = SingleTaskGP(
                    X.double(), logc.unsqueeze(-1), mean_module=LinearMean(input_size=D),
                    input_transform=Normalize(d=D, bounds=_unit_bounds(D)),
                    outcome_transform=Standardize(m=1),
                )
            if fidelity_dim is not None:
                _freeze_trend(self._model, X.double(), logc, fidelity_dim)
            _fit(self._model)
            self._alpha = self._mean_weights(self._model)
        X_full = X.double().clone()
        if fidelity_dim is not None:
            X_full[:, fidelity_dim] = 1.0
        with torch.no_grad():
            self.scale = max(math.exp(float(self.log_cost_s(X_full).mean())) + self.overhead_s,
                             self.floor_s)

    @staticmethod
    def _mean_weights(model: SingleTaskGP) -> Tensor | None:
        r""":math:`\alpha = (K + \sigma^2 I)^{-1} (y - m(X))` (``n``, standardized) of the
        fitted cost GP, or ``None`` when its covariance does not factorize (then
        ``model.posterior`` predicts)."""
        with torch.no_grad():
            Xt = model.train_inputs[0]
            K = model.covar_module(Xt).to_dense()
            K = K + model.likelihood.noise.reshape(-1)[0] * torch.eye(K.shape[-1], dtype=K.dtype)
            L, info = torch.linalg.cholesky_ex(K)
            if int(info) != 0:
                return None
            r = model.train_targets - model.mean_module(Xt)
            return torch.cholesky_solve(r.unsqueeze(-1), L).squeeze(-1)

    def log_cost_s(self, X: Tensor) -> Tensor:
        r"""Predicted :math:`\log` evaluation cost [log s] (posterior mean, without
        ``overhead_s``), shape ``X.shape[:-1]``.

        The mean :math:`m(x) + k(x, X)\,\alpha` is computed directly from the cached
        :math:`\alpha` (``model.posterior``'s value to rounding, at a third of its cost per
        call inside the acquisition search)."""
        if self._model is None:
            return torch.full(X.shape[:-1], self._const, dtype=X.dtype)
        if self._alpha is None:
            return self._model.posterior(X).mean.squeeze(-1)
        m = self._model
        xt = m.transform_inputs(X)
        kx = m.covar_module(xt, m.train_inputs[0]).to_dense()  # ... x n
        mean = m.mean_module(xt) + kx.matmul(self._alpha)
        tf = m.outcome_transform
        return mean * tf.stdvs.reshape(()) + tf.means.reshape(())

    def __call__(self, X: Tensor) -> Tensor:
        r"""Predicted normalized cost :math:`C(x, z)` (> 0), shape ``X.shape[:-1]``.

        Args:
            X: ``batch x q x D`` (or ``n x D``) unit-cube inputs.
        """
        if not (self.overhead_s or self.floor_s):
            return (self.log_cost_s(X) - math.log(self.scale)).exp()
        return (self.log_cost_s(X).exp() + self.overhead_s).clamp_min(self.floor_s) / self.scale

    def as_deterministic_model(self) -> object:
        """The normalized cost as a BoTorch ``GenericDeterministicModel`` (one output), for
        ``InverseCostWeightedUtility``."""
        return GenericDeterministicModel(lambda X: self(X).unsqueeze(-1), num_outputs=1)


__all__ = ["CholeskyMarginalLogLikelihood", "CostModel", "fit_maxiter", "fit_objective_model",
           "fit_objective_model_list"]
