r"""ReRAM crossbar simulator: noisy accuracy of torch models on crossbar tiles, plus area,
latency and energy.

>>> from simulator import CrossbarConfig, evaluate
>>> ev = evaluate(CrossbarConfig(adc_bits=6), "digits-mlp", fidelity=0.5, seed=0)  # doctest: +SKIP

See ``docs/simulator.md`` for the model, the fidelity tiers and the parameter sources.
"""

from simulator.config import CrossbarConfig
from simulator.errors import ConfigError, MappingError, SimulatorError, WorkloadError
from simulator.evaluate import Evaluation, FidelityPlan, evaluate, fidelity_plan
from simulator.workloads import (
    Workload,
    get_workload,
    list_workloads,
    register_workload,
    workload_info,
)

__all__ = [
    "ConfigError",
    "CrossbarConfig",
    "Evaluation",
    "FidelityPlan",
    "MappingError",
    "SimulatorError",
    "Workload",
    "WorkloadError",
    "evaluate",
    "fidelity_plan",
    "get_workload",
    "list_workloads",
    "register_workload",
    "workload_info",
]
