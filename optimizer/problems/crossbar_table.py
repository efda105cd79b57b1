r"""``crossbar-digits``: the crossbar design problem as a table of real simulator evaluations.

The optimizer benchmark needs the crossbar problem evaluated thousands of times (8 methods x
5 seeds x budgets), at about 6 s per full-fidelity evaluation of digits-cnn on one core; it
also needs the true full-fidelity front to score inference regret. So the problem is
*tabulated*: every design of the grid below was evaluated once by ``simulator.evaluate`` at
each fidelity of :data:`TABLE_FIDELITIES` (``bench/crossbar_table.py`` writes
``data/crossbar_digits_cnn.json``, with the commit, date and machine it ran on). A lookup
returns the recorded objective values and charges the recorded wall time (``cost_s``), so
costs are *measured*, not synthetic, and differ per design.

The table is the truth of this problem: its full-fidelity rows define the Pareto front and
``max_hv`` exactly (the grid is exhaustive). Accuracy is one Monte-Carlo estimate per
(design, fidelity) with seed :data:`TABLE_SEED` (common random numbers across designs).

Fidelity is continuous for the optimizer; a request is evaluated at the *nearest* tabulated
fidelity (``realized_fidelity``), which the benchmark records as the observation's fidelity.

Objectives: ``accuracy`` (maximize), ``area_mm2``, ``latency_us``, ``energy_uj`` (minimize).
Reference point: each objective's worst full-fidelity value in the table moved outwards by
10% of its full-fidelity range.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from optimizer.pareto import hypervolume
from optimizer.problems.base import BenchmarkProblem
from optimizer.space import SearchSpace
from optimizer.types import Objective

TABLE_NAME = "crossbar-digits"
TABLE_WORKLOAD = "digits-cnn"
TABLE_SEED = 0
TABLE_PARAMS: list[dict[str, Any]] = [
    {"name": "rows", "type": "ordinal", "values": [64, 128, 256]},
    {"name": "cols", "type": "ordinal", "values": [64, 128, 256]},
    {"name": "cell_bits", "type": "ordinal", "values": [1, 2]},
    {"name": "weight_bits", "type": "ordinal", "values": [3, 4, 6]},
    {"name": "adc_bits", "type": "ordinal", "values": [4, 5, 6, 8]},
]
"""The tabulated grid (216 designs); other config fields stay at :data:`TABLE_FIXED` and the
``simulator.params`` defaults."""
TABLE_FIXED: dict[str, Any] = {"analytic_below": 0.05}
"""Config fields fixed as a ``crossbar`` study fixes them: fidelity 0 is the analytic tier."""
TABLE_FIDELITIES: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
"""Tabulated fidelities: analytic moments; Monte-Carlo with ideal wires; Monte-Carlo with
first-order IR drop; full (16 draws, whole test split, relaxation IR drop)."""
OBJECTIVE_DIRECTIONS: dict[str, str] = {
    "accuracy": "maximize", "area_mm2": "minimize", "latency_us": "minimize",
    "energy_uj": "minimize",
}
COLUMNS = ("fidelity", "accuracy", "area_mm2", "latency_us", "energy_uj", "cost_s",
           "accuracy_stderr")
"""Columns of each row of the table's ``data`` after the design's parameter values."""
DATA_PATH = Path(__file__).resolve().parent / "data" / "crossbar_digits_cnn.json"


def table_space() -> SearchSpace:
    """The grid as a search space with fidelity range [0, 1]."""
    return SearchSpace.from_spec({"params": TABLE_PARAMS, "fidelity_range": [0.0, 1.0]})


def table_designs() -> list[dict[str, Any]]:
    """Every design of the grid, in row-major order of :data:`TABLE_PARAMS`."""
    designs: list[dict[str, Any]] = [{}]
    for p in TABLE_PARAMS:
        designs = [{**d, p["name"]: v} for d in designs for v in p["values"]]
    return designs


class TabulatedCrossbarProblem(BenchmarkProblem):
    """A :class:`BenchmarkProblem` whose function and per-design costs are table lookups."""

    def __init__(self, table: dict[str, Any]) -> None:
        space = table_space()
        names = [p["name"] for p in TABLE_PARAMS]
        if [p["name"] for p in table["params"]] != names or tuple(table["columns"]) != (
                *names, *COLUMNS):
            raise ValueError(f"{DATA_PATH.name} does not match the grid of this module; "
                             "regenerate it with bench/crossbar_table.py.")
        levels = [p["values"] for p in TABLE_PARAMS]
        fids = [float(z) for z in table["fidelities"]]
        shape = (*(len(v) for v in levels), len(fids))
        values = torch.full((*shape, len(OBJECTIVE_DIRECTIONS)), float("nan"),
                            dtype=torch.double)
        cost = torch.full(shape, float("nan"), dtype=torch.double)
        k = len(names)
        for row in table["data"]:
            idx = (*(levels[i].index(row[i]) for i in range(k)), fids.index(float(row[k])))
            values[idx] = torch.tensor(row[k + 1:k + 5], dtype=torch.double)
            cost[idx] = float(row[k + 5])
        if torch.isnan(cost).any():
            raise ValueError(f"{DATA_PATH.name} misses {int(torch.isnan(cost).sum())} of "
                             f"{cost.numel()} (design, fidelity) rows.")
        full = values[..., -1, :].reshape(-1, values.shape[-1])
        lo, hi = full.min(0).values, full.max(0).values
        ref = []
        objectives = []
        for j, (name, direction) in enumerate(OBJECTIVE_DIRECTIONS.items()):
            pad = 0.1 * float(hi[j] - lo[j])
            r = float(lo[j]) - pad if direction == "maximize" else float(hi[j]) + pad
            ref.append(r)
            objectives.append(Objective(name=name, direction=direction,  # type: ignore[arg-type]
                                        ref_point=r))
        directions = list(OBJECTIVE_DIRECTIONS.values())
        super().__init__(
            name=TABLE_NAME, space=space, objectives=objectives,
            max_hv=hypervolume(full, directions, ref),
            function=self._lookup, cost_function=self._level_cost,
            description=(f"{len(full)} crossbar designs x {len(fids)} fidelities of "
                         f"{table['workload']}, tabulated simulator evaluations, measured cost"),
        )
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_cost", cost)
        object.__setattr__(self, "_median_cost",
                           cost.reshape(-1, cost.shape[-1]).median(dim=0).values)
        object.__setattr__(self, "_fids", torch.tensor(fids, dtype=torch.double))
        object.__setattr__(self, "_levels", [len(v) for v in levels])
        object.__setattr__(self, "metadata", table.get("generated", {}))

    # ------------------------------------------------------------------ lookups
    @property
    def cost_kind(self) -> str:
        return "tabulated"

    def _level(self, z: Tensor) -> Tensor:
        """Index of the tabulated fidelity nearest to each ``z`` (any shape; ties go up)."""
        d = (z.reshape(-1, 1) - self._fids).abs()
        # the last index attaining the minimum, so a tie picks the higher fidelity
        last = d.shape[-1] - 1 - d.flip(-1).argmin(dim=-1)
        return last.reshape(z.shape)

    def realized_fidelity(self, fidelity: float) -> float:
        """The tabulated fidelity nearest to ``fidelity`` (ties go up)."""
        return float(self._fids[self._level(torch.tensor(float(fidelity)))])

    def _index(self, X: Tensor) -> tuple[Tensor, ...]:
        """Grid indices of ``n x (d + 1)`` unit-cube points (fidelity column last)."""
        cols = [(X[:, i] * k).floor().clamp(0, k - 1).long() for i, k in
                enumerate(self._levels)]
        return (*cols, self._level(X[:, -1]))

    def _lookup(self, X: Tensor) -> Tensor:
        return self._values[self._index(X)]

    def _level_cost(self, z: Tensor) -> Tensor:
        """Median measured cost over designs at the tabulated fidelity nearest to each
        ``z`` [s] (the per-design cost is what ``evaluate`` charges)."""
        return self._median_cost[self._level(z)]

    def evaluate(self, params: Any, fidelity: float = 1.0) -> tuple[dict[str, float], float]:
        """Recorded values of ``params`` at the tabulated fidelity nearest to ``fidelity``,
        and the recorded wall time of that evaluation [s]."""
        x = self.space.to_unit(params)
        z = torch.tensor([float(fidelity)], dtype=torch.double)
        self._check_fidelity(z)
        idx = self._index(torch.cat([x, z]).unsqueeze(0))
        y = self._values[idx][0]
        return ({o.name: float(v) for o, v in zip(self.objectives, y, strict=True)},
                float(self._cost[idx][0]))


@lru_cache(maxsize=1)
def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def crossbar_digits(**options: Any) -> BenchmarkProblem:
    """Build ``crossbar-digits`` from the packaged table (no options).

    Raises:
        ValueError: On options, or a missing or mismatched table file.
    """
    if options:
        raise ValueError(f"options: {TABLE_NAME} does not take {sorted(options)}.")
    if not DATA_PATH.is_file():
        raise ValueError(f"{TABLE_NAME}: the table {DATA_PATH} is missing; generate it with "
                         "`python bench/crossbar_table.py`.")
    return TabulatedCrossbarProblem(_load(str(DATA_PATH)))


__all__ = [
    "COLUMNS",
    "DATA_PATH",
    "TABLE_FIDELITIES",
    "TABLE_FIXED",
    "TABLE_NAME",
    "TABLE_PARAMS",
    "TABLE_SEED",
    "TABLE_WORKLOAD",
    "TabulatedCrossbarProblem",
    "crossbar_digits",
    "table_designs",
    "table_space",
]
