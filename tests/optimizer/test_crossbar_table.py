"""Tests of ``optimizer.problems.crossbar_table``: the tabulated crossbar benchmark problem (the
script that tabulates it and the benchmark runs on it: ``tests/bench``)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from optimizer.pareto import hypervolume
from optimizer.problems import get_problem
from optimizer.problems.crossbar_table import (
    DATA_PATH,
    TABLE_FIDELITIES,
    TABLE_PARAMS,
    TabulatedCrossbarProblem,
    table_designs,
)

K = len(TABLE_PARAMS)


@pytest.fixture(scope="module")
def table() -> dict:
    return json.loads(DATA_PATH.read_text())


@pytest.fixture(scope="module")
def problem() -> TabulatedCrossbarProblem:
    p = get_problem("crossbar-digits")
    assert isinstance(p, TabulatedCrossbarProblem)
    return p


def _row(table: dict, design: dict, z: float) -> list:
    key = [*design.values(), z]
    return next(r for r in table["data"] if r[:K + 1] == key)


def test_table_is_complete_and_hardware_cost_ignores_fidelity(table: dict) -> None:
    """Every design of the grid is tabulated at every fidelity, once, with a positive measured
    cost; area, latency and energy of a design do not depend on the fidelity (only the
    accuracy estimate does)."""
    designs = table_designs()
    assert len(designs) == math.prod(len(p["values"]) for p in TABLE_PARAMS) == 216
    assert len(table["data"]) == len(designs) * len(TABLE_FIDELITIES)
    assert len({tuple(r[:K + 1]) for r in table["data"]}) == len(table["data"])
    assert all(r[K + 5] > 0 for r in table["data"])
    for d in designs[::17]:
        rows = [_row(table, d, z) for z in TABLE_FIDELITIES]
        for col in (K + 2, K + 3, K + 4):
            assert len({r[col] for r in rows}) == 1
    assert table["generated"]["commit"] and table["generated"]["wall_s"] > 0


def test_max_hv_is_the_hv_of_the_full_fidelity_rows(problem: TabulatedCrossbarProblem,
                                                   table: dict) -> None:
    """``max_hv`` is the exact HV of the table's full-fidelity rows w.r.t. the problem's
    reference point, which lies beyond the worst full-fidelity value of every objective."""
    full = torch.tensor([r[K + 1:K + 5] for r in table["data"] if r[K] == 1.0],
                        dtype=torch.double)
    assert full.shape == (216, 4)
    assert problem.max_hv == pytest.approx(hypervolume(full, problem.directions,
                                                       problem.ref_point))
    ref = torch.tensor(problem.ref_point, dtype=torch.double)
    assert float(ref[0]) < float(full[:, 0].min())
    assert (ref[1:] > full[:, 1:].max(0).values).all()
    assert [o.name for o in problem.objectives] == ["accuracy", "area_mm2", "latency_us",
                                                    "energy_uj"]


def test_evaluate_returns_the_row_of_the_nearest_tabulated_fidelity(
        problem: TabulatedCrossbarProblem, table: dict) -> None:
    """A request at fidelity 0.3 is served by the 0.25 row: its values and its measured
    cost; ``realized_fidelity`` names that level (ties go up)."""
    design = {"rows": 128, "cols": 64, "cell_bits": 2, "weight_bits": 4, "adc_bits": 6}
    values, cost = problem.evaluate(design, 0.3)
    row = _row(table, design, 0.25)
    assert [values[o.name] for o in problem.objectives] == row[K + 1:K + 5]
    assert cost == row[K + 5]
    assert problem.realized_fidelity(0.3) == 0.25
    assert problem.realized_fidelity(0.1) == 0.0
    assert problem.realized_fidelity(0.75) == 1.0
    tie_values, tie_cost = problem.evaluate(design, 0.75)  # a tie is served by the 1.0 row
    full = _row(table, design, 1.0)
    assert [tie_values[o.name] for o in problem.objectives] == full[K + 1:K + 5]
    assert tie_cost == full[K + 5]
    assert problem.cost_kind == "tabulated"
    with pytest.raises(ValueError, match="fidelity"):
        problem.evaluate(design, 1.5)


def test_batch_lookup_matches_single_evaluations(problem: TabulatedCrossbarProblem) -> None:
    """``evaluate_batch`` on unit-cube points (full fidelity) equals ``evaluate`` per design."""
    designs = table_designs()[::31]
    X = problem.space.to_unit_batch(designs)
    Y = problem.evaluate_batch(X)
    for d, y in zip(designs, Y, strict=True):
        values, _ = problem.evaluate(d, 1.0)
        assert y.tolist() == [values[o.name] for o in problem.objectives]
