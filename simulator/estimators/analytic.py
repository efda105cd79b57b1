r"""The analytic accuracy estimator (``"moments"``): accuracy predicted by moment propagation,
without Monte-Carlo.

The configuration's noise is referred to every crossbar layer
(:func:`~simulator.estimators.referral.layer_noise`), the moment model
(:func:`~simulator.estimators.moments.propagate_moments`) gives every test sample's logit mean
and covariance, and the accuracy estimate is the probability that the true logit is the
largest (:func:`~simulator.estimators.moments.accuracy_from_moments`).
:func:`analytic_estimate` is this estimator as :func:`simulator.evaluate.evaluate` calls it,
on the prepared (mitigated) model of the plan's stratified test subset.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from simulator.config import CrossbarConfig
from simulator.estimators.base import AccuracyEstimate, EstimatorPlan, stratified_subset
from simulator.estimators.moments import LayerNoise, accuracy_from_moments, propagate_moments
from simulator.estimators.referral import layer_noise
from simulator.mapping import layer_shapes
from simulator.mitigation.apply import overhead, prepare
from simulator.mitigation.correctnet import without_compensators
from simulator.tiling import layout_for
from simulator.workloads import Workload

__all__ = [
    "FULL_COVARIANCE_MAX_UNITS",
    "AnalyticAccuracy",
    "analytic_accuracy",
    "analytic_estimate",
]

FULL_COVARIANCE_MAX_UNITS = 256
"""Largest layer (units per sample) for which ``mode="auto"`` keeps the full covariance."""

_COV_ELEMENTS = 1 << 24
"""Covariance elements held at once (batch chunking of the full mode)."""


@dataclass(frozen=True, kw_only=True)
class AnalyticAccuracy:
    """Result of :func:`analytic_accuracy`."""

    accuracy: float
    """Predicted mean accuracy under noise, in [0, 1]."""
    accuracy_std: float
    """Predicted standard deviation of the accuracy over noise draws (lower bound)."""
    clean_accuracy: float
    """Accuracy of the float model on the same samples."""
    mode: str
    """Covariance mode used (``"full"`` or ``"diag"``)."""
    cost_s: float
    """Wall time [s]."""
    details: dict[str, Any] = field(default_factory=dict)
    """Per-layer referred noise (JSON-serializable)."""


def _max_units(model: nn.Module, x: Tensor) -> int:
    sizes = [math.prod(x.shape[1:])]
    handles = [
        m.register_forward_hook(lambda mod, inp, out: sizes.append(math.prod(out.shape[1:])))
        for m in model.modules()
        if not list(m.children())
    ]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in handles:
            h.remove()
    return max(sizes)



def analytic_accuracy(
    config: CrossbarConfig,
    model: nn.Module,
    x: Tensor,
    labels: Tensor,
    *,
    calib_x: Tensor | None = None,
    ir_drop: str = "ideal",
    mode: str = "auto",
    noise: dict[str, LayerNoise] | None = None,
    n_samples: int = 256,
    seed: int = 0,
) -> AnalyticAccuracy:
    r"""Accuracy of ``model`` on ``config`` predicted by moment propagation (no Monte-Carlo).

    Args:
        config: The crossbar configuration.
        model: The trained float model (leaf modules in execution order, see
            :func:`~simulator.estimators.moments.propagate_moments`).
        x: A `N x *in_shape`-dim Tensor of test inputs.
        labels: A `N`-dim integer Tensor of their classes.
        calib_x: Calibration inputs (default: ``x``).
        ir_drop: IR-drop model of the deterministic-error run.
        mode: ``"full"``, ``"diag"`` or ``"auto"`` (full covariance when every layer has at
            most :data:`FULL_COVARIANCE_MAX_UNITS` units).
        noise: Pre-computed referred noise (default:
            :func:`~simulator.estimators.referral.layer_noise`).
        n_samples: Logit draws per test sample.
        seed: Seed of the logit draws.

    Returns:
        An :class:`AnalyticAccuracy`.

    Raises:
        ValueError: On an unknown ``mode`` or mismatched ``x``/``labels``.
    """
    if mode not in ("auto", "full", "diag"):
        raise ValueError(f"mode must be 'auto', 'full' or 'diag', got {mode!r}.")
    if x.shape[0] != labels.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but labels has {labels.shape[0]}.")
    start = time.perf_counter()
    model = model.eval()
    if noise is None:
        noise = layer_noise(config, model, x if calib_x is None else calib_x, ir_drop=ir_drop)
    units = _max_units(model, x)
    if mode == "auto":
        mode = "full" if units <= FULL_COVARIANCE_MAX_UNITS else "diag"
    chunk = max(1, _COV_ELEMENTS // (units * units)) if mode == "full" else x.shape[0]
    means, covs = [], []
    for i in range(0, x.shape[0], chunk):
        trace = propagate_moments(model, x[i : i + chunk], noise, mode=mode)
        means.append(trace.logit_mean)
        covs.append(trace.logit_cov)
    mean, cov = torch.cat(means), torch.cat(covs)
    acc, std, _ = accuracy_from_moments(mean, cov, labels, n_samples=n_samples, seed=seed)
    with torch.no_grad():
        clean = float((model(x).argmax(-1) == labels).float().mean())
    details = {
        name: {
            "additive_std": n.additive_std,
            "read_std": n.read_std,
            "read_factor": n.read_factor,
            "output_var": n.output_var,
        }
        for name, n in noise.items()
    }
    return AnalyticAccuracy(
        accuracy=acc,
        accuracy_std=std,
        clean_accuracy=clean,
        mode=mode,
        cost_s=time.perf_counter() - start,
        details={"layers": details, "max_units": units},
    )


def analytic_estimate(
    config: CrossbarConfig, workload: Workload, plan: EstimatorPlan, seed: int
) -> AccuracyEstimate:
    r"""The ``"moments"`` estimator: accuracy from analytic moment propagation on the plan's
    stratified test subset (one value, no Monte-Carlo draws; the predicted chip-to-chip spread
    is in the details).

    Args:
        config: The crossbar configuration (its mitigation knobs are applied first).
        workload: The workload.
        plan: The fidelity plan (fine-tuning fidelity, IR-drop model, test subset size).
        seed: Seed of the training-time knobs and of the logit draws.

    Returns:
        An :class:`~simulator.estimators.base.AccuracyEstimate` with one "draw".
    """
    x, y = stratified_subset(workload, plan)
    prepared = prepare(config, workload, plan.fidelity, seed)
    model = without_compensators(prepared.model)
    layers = [
        layout_for(s.name, s.kind, s.in_features, s.out_features, config).to_dict()
        | {"positions": s.positions}
        for s in layer_shapes(model, workload.input_shape)
    ]
    result = analytic_accuracy(
        config, model, x, y, calib_x=workload.x_calib, ir_drop=plan.ir_drop, seed=seed
    )
    return AccuracyEstimate(
        per_draw=[result.accuracy],
        n_test=int(y.shape[0]),
        details={
            "software_accuracy": result.clean_accuracy,
            "predicted_accuracy_std": result.accuracy_std,
            "moment_mode": result.mode,
            "layers": layers,
            "mitigation": overhead(config, workload, prepared),
        },
    )
