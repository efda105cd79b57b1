r"""One notion of "a full-fidelity result": the fidelity tolerance and the unit-column target.

A fidelity ``z`` (in the space's own scale, inside ``fidelity_range``) is *at the target* when
``z >= target - FIDELITY_TOL``, where the target is ``SearchSpace.target_fidelity`` (the top of
the range, 1.0 without one); ask ``SearchSpace.is_target(z)``.

Model-based methods append the fidelity to the design as a *unit-scaled* column
(``SearchSpace.fidelity_to_unit``), which maps the target to ``UNIT_TARGET = 1.0`` by
construction; ``unit_at_target`` is the same rule for that column.
"""

from __future__ import annotations

from torch import Tensor

FIDELITY_TOL = 1e-9
"""Absolute tolerance of the target-fidelity test, in fidelity units."""

UNIT_TARGET = 1.0
"""The target fidelity in the unit-scaled fidelity column (``fidelity_to_unit(target)``)."""


def unit_at_target(u: Tensor) -> Tensor:
    """Boolean mask (same shape as ``u``): which unit-scaled fidelities are at the target."""
    return u >= UNIT_TARGET - FIDELITY_TOL


__all__ = ["FIDELITY_TOL", "UNIT_TARGET", "unit_at_target"]
