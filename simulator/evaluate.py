r"""``evaluate(config, workload, fidelity, seed)``: noisy accuracy plus hardware cost.

Accuracy is estimated by the estimator the plan names (:mod:`simulator.estimators`):
Monte-Carlo by default, where ``S`` chips are programmed at once (programming variation and
stuck-at faults drawn per chip), the test subset is read through every one of them (read
noise drawn per read), and the accuracy of each chip is averaged; analytic moment
propagation below ``CrossbarConfig.analytic_below``. Hardware area, latency and energy come
from :func:`simulator.cost.estimate` on the same configuration.

Fidelity ``z`` in [0, 1] picks the plan (:func:`fidelity_plan`): more draws, a larger
stratified test subset and a more faithful IR-drop model as ``z`` grows; cost grows with it.
Everything random derives from ``seed`` through one ``torch.Generator``, and the test subset
does not depend on the seed, so two configurations evaluated with the same seed see the same
images and, where shapes agree, the same random numbers (common random numbers).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from simulator import cost
from simulator.config import CrossbarConfig
from simulator.errors import ConfigError
from simulator.estimators.registry import ESTIMATORS
from simulator.mapping import layer_shapes
from simulator.workloads import Workload, get_workload

__all__ = [
    "Evaluation",
    "FidelityPlan",
    "MAX_DRAWS",
    "MIN_DRAWS",
    "evaluate",
    "fidelity_plan",
]

MIN_DRAWS = 2
"""Monte-Carlo draws at fidelity 0 (2 so that a spread can be estimated)."""
MAX_DRAWS = 16
"""Monte-Carlo draws at fidelity 1."""
MIN_TEST_FRACTION = 0.2
"""Fraction of the test split used at fidelity 0 (all of it at fidelity 1)."""
MIN_TEST_SAMPLES = 100
"""Smallest test subset (unless the split is smaller)."""
FIRST_ORDER_FROM = 0.25
"""Fidelity from which IR drop is modelled (below: ideal wires): first-order per programmed
draw plus the correction of the nominal arrays solved by conjugate gradients (``"solved"``,
within 1 % of the exact solver at 128x128, g <= 100 µS, 2 Ω; ``bench/simulator_ir.py``)."""
RELAXATION_FROM = 0.9
"""Fidelity from which IR drop is corrected by the nominal arrays solved to 1e-6
(``"relaxation"``, :data:`simulator.nonideal.ir_drop.RELAXATION_TOL`; conjugate gradients,
like ``"solved"``, only tighter)."""

@dataclass(frozen=True, kw_only=True)
class FidelityPlan:
    """What an evaluation at a given fidelity does."""

    fidelity: float
    """The requested fidelity in [0, 1]."""
    tier: str
    """``"screen"`` (ideal wires), ``"standard"`` (first-order IR drop corrected by the
    CG-solved nominal arrays) or ``"full"`` (corrected by the nominal arrays solved to
    1e-6)."""
    estimator: str
    """Accuracy estimator: ``"moments"`` (analytic moment propagation) below the
    ``analytic_below`` fidelity, ``"montecarlo_column_sum"`` (Monte-Carlo with the column-sum
    ADC tier) below ``column_sum_below``, else ``"montecarlo"`` (a key of
    :data:`simulator.estimators.registry.ESTIMATORS`)."""
    n_draws: int
    """Monte-Carlo draws ``S``, MIN_DRAWS..MAX_DRAWS."""
    test_fraction: float
    """Fraction of the test split evaluated (a stratified prefix)."""
    ir_drop: str
    """IR-drop model, one of :data:`simulator.nonideal.ir_drop.IR_DROP_MODES`."""

    def test_size(self, n_available: int) -> int:
        """Test samples used out of ``n_available``."""
        wanted = max(MIN_TEST_SAMPLES, math.ceil(self.test_fraction * n_available))
        return min(n_available, wanted)


def fidelity_plan(
    fidelity: float, analytic_below: float = 0.0, column_sum_below: float = 0.0
) -> FidelityPlan:
    """The evaluation plan for ``fidelity`` in [0, 1].

    Draws grow linearly from :data:`MIN_DRAWS` to :data:`MAX_DRAWS` and the test subset from
    :data:`MIN_TEST_FRACTION` to the whole split; IR drop is ideal below
    :data:`FIRST_ORDER_FROM`, CG-corrected first-order up to :data:`RELAXATION_FROM`,
    corrected by the nominal arrays solved to 1e-6 above. A cheaper estimator (e.g. analytic
    moment propagation) plugs in here by returning another ``estimator`` at the bottom of the
    range and registering it in
    :data:`simulator.estimators.registry.ESTIMATORS`: fidelities below ``analytic_below``
    (``CrossbarConfig.analytic_below``, default 0 = never) use ``"moments"``, the analytic
    moment model of :mod:`simulator.estimators.analytic`; the Monte-Carlo fidelities below
    ``column_sum_below`` (``CrossbarConfig.column_sum_below``) use the column-sum read-out
    (:mod:`simulator.readout`).

    Raises:
        ConfigError: If ``fidelity`` is not a number in [0, 1].
    """
    if isinstance(fidelity, bool) or not isinstance(fidelity, int | float):
        raise ConfigError(f"fidelity must be a number in [0, 1], got {fidelity!r}.")
    z = float(fidelity)
    if not 0.0 <= z <= 1.0:
        raise ConfigError(f"fidelity must be in [0, 1], got {fidelity!r}.")
    if z < FIRST_ORDER_FROM:
        tier, ir_drop = "screen", "ideal"
    elif z < RELAXATION_FROM:
        tier, ir_drop = "standard", "solved"
    else:
        tier, ir_drop = "full", "relaxation"
    return FidelityPlan(
        fidelity=z,
        tier=tier,
        estimator=("moments" if z < analytic_below
                   else "montecarlo_column_sum" if z < column_sum_below else "montecarlo"),
        n_draws=MIN_DRAWS + round(z * (MAX_DRAWS - MIN_DRAWS)),
        test_fraction=MIN_TEST_FRACTION + z * (1.0 - MIN_TEST_FRACTION),
        ir_drop=ir_drop,
    )


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`."""

    accuracy: float
    """Top-1 accuracy, fraction in [0, 1], mean over Monte-Carlo draws."""
    accuracy_std: float
    """Standard deviation of the per-draw accuracy (chip-to-chip spread)."""
    accuracy_stderr: float
    """Standard error of ``accuracy`` as an estimate of the full-test-set expectation:
    ``sqrt(std²/S + p(1-p)/n · (1 - n/N))`` (draws, plus test subsampling)."""
    area_mm2: float
    """Chip area [mm²]."""
    latency_us: float
    """Latency of one inference [µs]."""
    energy_uj: float
    """Energy of one inference [µJ]: dynamic plus leakage (``HardwareCost.total_energy_uj``,
    as NeuroSim V1.4's energy efficiency counts it), plus what mitigations charge."""
    cost_s: float
    """Measured wall time of the evaluation [s]."""
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serializable breakdown (plan, per-layer mapping and cost, per-draw accuracy...)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    config: CrossbarConfig, workload: Workload | str, fidelity: float, seed: int
) -> Evaluation:
    """Noisy accuracy and hardware cost of ``workload`` on ``config``.

    Args:
        config: The crossbar configuration.
        workload: A :class:`Workload` or a registry name (loaded with default options).
        fidelity: In [0, 1]; see :func:`fidelity_plan`.
        seed: Seed of every random draw (>= 0).

    Returns:
        An :class:`Evaluation`; identical for identical arguments except ``cost_s``.

    Raises:
        ConfigError: On a bad fidelity or seed, or a config that is not a CrossbarConfig.
        MappingError: If a layer of the workload cannot be mapped.
        WorkloadError: On an unknown workload name.
    """
    start = time.perf_counter()
    if not isinstance(config, CrossbarConfig):
        raise ConfigError(f"config must be a CrossbarConfig, got {type(config).__name__}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}.")
    plan = fidelity_plan(fidelity, config.analytic_below, config.column_sum_below)
    if isinstance(workload, str):
        workload = get_workload(workload)
    estimate = ESTIMATORS[plan.estimator](config, workload, plan, seed)
    hardware = cost.estimate(config, layer_shapes(workload.model, workload.input_shape))

    draws = torch.tensor(estimate.per_draw, dtype=torch.float64)
    mean = float(draws.mean())
    std = float(draws.std()) if draws.numel() > 1 else 0.0
    n, n_all = estimate.n_test, int(workload.y_test.shape[0])
    sampling = mean * (1.0 - mean) / n * (1.0 - n / n_all)
    stderr = math.sqrt(std**2 / draws.numel() + sampling)

    layers = estimate.details.pop("layers", [])
    for entry, hw in zip(layers, hardware.breakdown.get("layers", []), strict=False):
        entry.update({k: hw[k] for k in ("area_mm2", "energy_uj", "latency_us") if k in hw})
    details = {
        "workload": workload.name,
        "fidelity": plan.fidelity,
        "tier": plan.tier,
        "estimator": plan.estimator,
        "ir_drop": plan.ir_drop,
        "n_draws": int(draws.numel()),
        "n_test": n,
        "n_test_available": n_all,
        "seed": seed,
        "accuracy_per_draw": estimate.per_draw,
        "accuracy_stderr_draws": math.sqrt(std**2 / draws.numel()),
        "accuracy_stderr_sampling": math.sqrt(sampling),
        **estimate.details,
        "layers": layers,
        "tiles": sum(entry["arrays"] for entry in layers),
        "config": config.to_dict(),
        "hardware": hardware.breakdown,
        "latency_pipelined_us": hardware.latency_pipelined_us,
    }
    extra = details.get("mitigation", {})  # per-inference changes charged by mitigations
    return Evaluation(
        accuracy=mean,
        accuracy_std=std,
        accuracy_stderr=stderr,
        area_mm2=float(hardware.area_mm2),
        latency_us=float(hardware.latency_us) + extra.get("latency_us", 0.0),
        energy_uj=float(hardware.total_energy_uj) + extra.get("energy_uj", 0.0),
        cost_s=time.perf_counter() - start,
        details=details,
    )
