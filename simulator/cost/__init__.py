"""NeuroSim-style hardware cost model: area, latency and energy of a DNN on ReRAM crossbars.

``estimate(config, layers)`` returns a :class:`HardwareCost` with totals and a per-component,
per-layer breakdown. Per-node constants and their sources live in
:mod:`simulator.cost.technology`, circuit blocks in :mod:`simulator.cost.components`.
"""

from simulator.cost.model import (
    COMPONENTS,
    CrossbarLike,
    HardwareCost,
    LayerShape,
    estimate,
    map_layer,
)
from simulator.cost.technology import NODES

__all__ = [
    "COMPONENTS",
    "NODES",
    "CrossbarLike",
    "HardwareCost",
    "LayerShape",
    "estimate",
    "map_layer",
]
