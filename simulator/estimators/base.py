r"""What every accuracy estimator shares: its result, the plan it reads and the test subset.

An estimator is a function ``(config, workload, plan, seed) -> AccuracyEstimate``
(:data:`Estimator`), registered by name in :data:`simulator.estimators.registry.ESTIMATORS`;
:attr:`simulator.evaluate.FidelityPlan.estimator` names the one an evaluation uses. Every
estimator evaluates the same images, :func:`stratified_subset` of the test split, which does
not depend on the seed (common random numbers across configurations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor

from simulator.config import CrossbarConfig
from simulator.workloads import Workload, stratified_order

__all__ = ["AccuracyEstimate", "Estimator", "EstimatorPlan", "stratified_subset"]


@dataclass(frozen=True)
class AccuracyEstimate:
    """Per-draw accuracies on a test subset, plus estimator-specific details."""

    per_draw: list[float]
    """Top-1 accuracy of every draw, fractions in [0, 1] (one value for an analytic
    estimate)."""
    n_test: int
    """Test samples evaluated."""
    details: dict[str, Any]
    """JSON-serializable details (``"layers"``, ``"mitigation"``, ``"software_accuracy"``...),
    merged into :attr:`simulator.evaluate.Evaluation.details`."""


class EstimatorPlan(Protocol):
    """What an estimator reads of a :class:`simulator.evaluate.FidelityPlan`."""

    @property
    def fidelity(self) -> float:
        """The requested fidelity in [0, 1]."""
        ...

    @property
    def n_draws(self) -> int:
        """Monte-Carlo draws ``S``."""
        ...

    @property
    def ir_drop(self) -> str:
        """IR-drop model (one of :data:`simulator.nonideal.ir_drop.IR_DROP_MODES`)."""
        ...

    def test_size(self, n_available: int) -> int:
        """Test samples used out of ``n_available``."""
        ...


Estimator = Callable[[CrossbarConfig, Workload, EstimatorPlan, int], AccuracyEstimate]
"""An accuracy estimator: ``(config, workload, plan, seed) -> AccuracyEstimate``."""


def stratified_subset(workload: Workload, plan: EstimatorPlan) -> tuple[Tensor, Tensor]:
    r"""The test samples an evaluation under ``plan`` uses: a stratified prefix of the split.

    Args:
        workload: The workload (its ``x_test``, ``y_test``).
        plan: Gives the subset size (:meth:`EstimatorPlan.test_size`).

    Returns:
        ``(x, y)``: a `n x *input_shape`-dim Tensor of inputs and the `n`-dim Tensor of their
        classes, ``n = plan.test_size(len(workload.y_test))``; the same for every seed.
    """
    n_test = plan.test_size(workload.y_test.shape[0])
    idx = stratified_order(workload.y_test)[:n_test]
    return workload.x_test[idx], workload.y_test[idx]
