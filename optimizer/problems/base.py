r"""``BenchmarkProblem``: a search space, objectives and a vectorized test function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from optimizer.pareto import hypervolume
from optimizer.space import FIDELITY_TOL, SearchSpace
from optimizer.types import Objective


@dataclass(frozen=True, kw_only=True)
class BenchmarkProblem:
    r"""A benchmark problem.

    Attributes:
        name: Registry name, e.g. ``"branin-currin"``.
        space: Search space; ``fidelity_range`` is set for multi-fidelity problems.
        objectives: Objectives (names ``f0``, ``f1``, ...) with direction and ``ref_point``
            taken from the BoTorch problem.
        max_hv: Hypervolume of the true Pareto front w.r.t. the objectives' reference point, at
            full fidelity, or ``None`` when unknown: BoTorch's analytic value for DTLZ2/ZDT1,
            a numerical estimate for the MOMF problems (see ``optimizer.problems.reference``).
        function: ``n x (d + 1)`` tensor (unit-cube design, then fidelity in ``[0, 1]``) to
            ``n x m`` raw objective values (each in its own direction).
        cost_function: ``n`` fidelities to ``n`` synthetic costs [s-equivalent].
        description: One line for listings.
        botorch_max_hv: BoTorch's stored maximum hypervolume of the problem, for reference.
    """

    name: str
    space: SearchSpace
    objectives: list[Objective]
    max_hv: float | None
    function: Callable[[Tensor], Tensor]
    cost_function: Callable[[Tensor], Tensor]
    description: str = ""
    botorch_max_hv: float | None = None

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def ref_point(self) -> list[float]:
        return [float(o.ref_point) for o in self.objectives]  # type: ignore[arg-type]

    @property
    def has_fidelity(self) -> bool:
        return self.space.has_fidelity

    def _check_fidelity(self, z: Tensor) -> Tensor:
        if self.has_fidelity:
            lo, hi = self.space.fidelity_range  # type: ignore[misc]
            if ((z < lo - FIDELITY_TOL) | (z > hi + FIDELITY_TOL)).any():
                raise ValueError(f"fidelity must lie in [{lo}, {hi}] for {self.name}.")
        elif ((z - self.space.target_fidelity).abs() > FIDELITY_TOL).any():
            raise ValueError(f"fidelity: {self.name} has a single fidelity, "
                             f"{self.space.target_fidelity}.")
        return z

    @property
    def cost_kind(self) -> str:
        """``"synthetic"``: costs come from ``cost_function``; tabulated problems say
        ``"tabulated"`` (measured wall times recorded with the table)."""
        return "synthetic"

    def realized_fidelity(self, fidelity: float) -> float:
        """The fidelity an evaluation requested at ``fidelity`` actually runs at: the same,
        except for problems tabulated at a few fidelities (see ``crossbar_table``)."""
        return float(fidelity)

    def evaluate_batch(self, X: Tensor) -> Tensor:
        r"""Objective values of ``n`` points.

        Args:
            X: ``n x (d + 1)`` double tensor: unit-cube design columns (``space.dim``) then the
                fidelity; or ``n x d`` for full fidelity.

        Returns:
            ``n x m`` raw objective values (each objective in its own direction).
        """
        X = torch.as_tensor(X, dtype=torch.double)
        d = self.space.dim
        if X.dim() != 2 or X.shape[-1] not in (d, d + 1):
            raise ValueError(f"X must be n x {d} or n x {d + 1}, got {tuple(X.shape)}.")
        if X.shape[-1] == d:
            X = torch.cat([X, torch.full((X.shape[0], 1), self.space.target_fidelity,
                                         dtype=torch.double)], dim=-1)
        self._check_fidelity(X[:, -1])
        return self.function(X)

    def cost_batch(self, fidelity: Tensor) -> Tensor:
        """Synthetic costs [s-equivalent] of ``n`` fidelities (``n`` tensor)."""
        z = self._check_fidelity(torch.as_tensor(fidelity, dtype=torch.double))
        return self.cost_function(z)

    def evaluate(self, params: Mapping[str, Any], fidelity: float = 1.0
                 ) -> tuple[dict[str, float], float]:
        """Evaluate one point.

        Returns:
            ``(values, cost)``: objective values by name, and the synthetic cost
            [s-equivalent] of the evaluation at ``fidelity``.
        """
        x = self.space.to_unit(params)
        z = torch.tensor([float(fidelity)], dtype=torch.double)
        y = self.evaluate_batch(torch.cat([x, z]).unsqueeze(0))[0]
        cost = float(self.cost_batch(z)[0])
        return {o.name: float(v) for o, v in zip(self.objectives, y, strict=True)}, cost

    def hypervolume(self, values: Tensor) -> float:
        """Hypervolume of ``n x m`` raw values w.r.t. the problem's reference point."""
        return hypervolume(values, self.directions, self.ref_point)
