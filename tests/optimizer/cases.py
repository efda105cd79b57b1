"""Shared inputs of the optimizer tests: one mixed, constrained search space (with and without a
fidelity range), two objectives on it, and observation histories.

The space has one parameter of every kind: ``rows`` (ordinal), ``adc_bits`` (int), ``x0``
(float), ``g`` (log float), ``enc`` (categorical), ``node`` (fixed 22), and the constraint
``x0 + 0.1 adc_bits <= 1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from optimizer.space import SearchSpace
from optimizer.types import Objective, Observation

OBJ = [Objective(name="a"), Objective(name="b", direction="maximize")]
PARAMS: list[dict[str, Any]] = [
    {"name": "rows", "type": "ordinal", "values": [64, 128, 256, 512]},
    {"name": "adc_bits", "type": "int", "low": 3, "high": 8},
    {"name": "x0", "type": "float", "low": 0.0, "high": 1.0},
    {"name": "g", "type": "float", "low": 1e-3, "high": 1.0, "log": True},
    {"name": "enc", "type": "categorical", "choices": ["differential", "offset"]},
    {"name": "node", "type": "fixed", "value": 22},
]
CONSTRAINT = {"coefficients": {"x0": 1.0, "adc_bits": 0.1}, "upper": 1.0}
MIXED = SearchSpace.from_spec({"params": PARAMS, "constraints": [CONSTRAINT]})
MIXED_FIDELITY = SearchSpace.from_spec({"params": PARAMS, "constraints": [CONSTRAINT],
                                        "fidelity_range": [0.1, 1.0]})


def mixed_values(p: dict[str, Any], z: float = 1.0) -> dict[str, float]:
    """Objective values ``a`` (minimized) and ``b`` (maximized) of a point at fidelity ``z``."""
    a = math.log2(p["rows"]) / 9 + 0.1 * p["adc_bits"] - p["x0"] + 0.05 * (1 - z)
    b = p["x0"] ** 2 + math.log10(p["g"]) / 3 + (0.2 if p["enc"] == "offset" else 0.0) - 0.1 * z
    return {"a": a, "b": b}


def mixed_observations(n: int, full: Iterable[int] = (0, 1), *,
                       with_fidelity: bool = True) -> list[Observation]:
    """``n`` observations at uniform feasible points (seed 0) with cost ``exp(3 z)`` [s].

    Args:
        n: Number of observations.
        full: Indices observed at the target fidelity 1.0; the others at uniform fidelities in
            ``[0.1, 1]`` (seed 1).
        with_fidelity: ``False``: every observation at 1.0 (for ``MIXED``).
    """
    if n == 0:
        return []
    pts = MIXED_FIDELITY.sample(n, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    zs = (0.1 + 0.9 * torch.rand(n, generator=g, dtype=torch.double)).tolist()
    for i in full:
        zs[i] = 1.0
    if not with_fidelity:
        zs = [1.0] * n
    return [Observation(params=p, fidelity=z, values=mixed_values(p, z),
                        cost_s=math.exp(3 * z)) for p, z in zip(pts, zs, strict=True)]
