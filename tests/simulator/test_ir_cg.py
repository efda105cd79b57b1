"""Tests of simulator.nonideal.ir_cg: the spectral bound, the Richardson finish, probe blocks
and the resummed adjoint field."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from simulator.nonideal import ir_cg
from simulator.nonideal.ir_cg import (
    _spectral_bound,
    adjoint_cell_voltage,
    solved_conductance,
    solved_response,
    wire_operator,
)
from simulator.nonideal.ir_drop import (
    drop_correction,
    exact_column_currents,
    first_order_conductance,
)


def _uniform(rows: int, cols: int, g_max_us: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (1.0 + (g_max_us - 1.0) * torch.rand(rows, cols, generator=gen)).double()  # µS


def test_spectral_bound_covers_the_largest_eigenvalue() -> None:
    """ρ = max K(g) bounds the spectrum of D^{1/2} K D^{1/2} (dense, by eigvalsh) from above,
    and is within 2x of it on a random array (tighter than the Gershgorin row-sum bound)."""
    rows, cols, r = 6, 5, 300.0
    g_s = _uniform(rows, cols, 100.0, 0) * 1e-6
    n = rows * cols
    basis = torch.eye(n, dtype=torch.float64).reshape(n, rows, cols)
    k_mat = wire_operator(basis, r).reshape(n, n)  # column c: K applied to unit current c
    sqrt_g = g_s.reshape(-1).sqrt()
    eig = torch.linalg.eigvalsh(sqrt_g[:, None] * k_mat * sqrt_g[None, :])
    rho = float(_spectral_bound(g_s.reshape(1, 1, rows, cols), r))
    j, i = torch.arange(cols, dtype=torch.float64), torch.arange(rows, dtype=torch.float64)
    a = (j + 1) * (j + 2) / 2 + (j + 1) * (cols - 1 - j)
    b = (rows - i) * (rows - i + 1) / 2 + (rows - i) * i
    gershgorin = float((g_s * r * (a[None, :] + b[:, None])).max())
    assert float(eig.max()) <= rho * (1 + 1e-12)
    assert rho < 2 * float(eig.max())
    assert rho < gershgorin


def test_richardson_finish_meets_the_tolerance(caplog: pytest.LogCaptureFixture) -> None:
    """On an easy array (ρ ≈ 0.06) the solve ends after the start and one Richardson step
    (no CG iteration), and its G_eff is within 1e-5 per entry of the exact solver (2.3e-6),
    where the start (unresummed first order) misses by 2.6e-4 and the resummed first order by
    1.3e-4."""
    g = _uniform(32, 32, 10.0, 1)
    r = 2.0
    with caplog.at_level(logging.DEBUG, logger="simulator.nonideal.ir_cg"):
        g_eff = solved_conductance(g, r, tol=1e-4)
    assert any("0 iterations" in m for m in caplog.messages)
    exact = exact_column_currents(np.eye(32), g.numpy() * 1e-6, r) * 1e6
    rel = np.abs(g_eff.numpy() - exact) / exact
    g_fo = first_order_conductance(g * 1e-6, r).numpy() * 1e6
    start = (g * (1.0 - wire_operator(g * 1e-6, r))).numpy()  # unresummed first order
    assert rel.max() < 1e-5
    assert rel.max() < (np.abs(g_fo - exact) / exact).max() / 10
    assert (np.abs(start - exact) / exact).max() > 1e-4


def test_probe_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Solving 3 probes at a time gives the same G_eff and slope as one block of all (to the
    solver tolerance: the blocks stop after different iteration counts)."""
    g = _uniform(20, 12, 100.0, 2).reshape(2, 10, 12)
    whole = solved_response(g, 5.0, tol=1e-8)
    monkeypatch.setattr(ir_cg, "PROBE_ELEMENTS", 3 * 10 * 12)
    blocks = solved_response(g, 5.0, tol=1e-8)
    for a, b in zip(whole, blocks, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)  # to the tolerance


def test_resummed_adjoint_field_by_hand_and_against_the_solved_one() -> None:
    """1x1: the cell sees 1 V through two segments, 1 / (1 + 2 r g) exactly; on a 24x24 array
    at ρ ≈ 0.33 the resummed field is within 1 % of the solved one (measured 0.5 %), where
    the unresummed first order 1 - x misses by 3.9 %."""
    g = torch.tensor([[50.0]], dtype=torch.float64)
    r = 100.0
    expected = 1.0 / (1.0 + 2 * r * 50e-6)
    torch.testing.assert_close(adjoint_cell_voltage(g, r), torch.tensor([[expected]]).double())
    g = _uniform(24, 24, 100.0, 3)
    r = 10.0
    _, v_row = ir_cg._solve_arrays(g, r, None, 1e-10, 200)
    _, solved = solved_response(g, r, tol=1e-10, max_iter=200, adjoint="solved")
    field = solved / v_row
    resummed = adjoint_cell_voltage(g, r)
    assert float(((resummed - field) / field).abs().max()) < 0.01
    linear = 2.0 - 1.0 / resummed  # 1 - x
    assert float(((linear - field) / field).abs().max()) > 0.03


def test_unknown_adjoint_field_is_named() -> None:
    g = _uniform(4, 4, 10.0, 4)
    with pytest.raises(ValueError, match="adjoint"):
        drop_correction(g, 2.0, "solved", adjoint="exact")
    with pytest.raises(ValueError, match="adjoint"):
        solved_response(g, 2.0, adjoint="exact")


def test_auto_adjoint_resums_below_the_threshold_and_solves_above() -> None:
    """``"auto"`` equals ``"resummed"`` at ρ ≈ 0.6 and ``"solved"`` at ρ ≈ 6 (> 3)."""
    g = _uniform(8, 8, 100.0, 5)
    for r, expected in ((100.0, "resummed"), (1000.0, "solved")):
        rho = float(wire_operator(g * 1e-6, r).max())
        assert (rho <= ir_cg.AUTO_ADJOINT_RHO) == (expected == "resummed")
        _, auto = solved_response(g, r, tol=1e-8)
        _, other = solved_response(g, r, tol=1e-8, adjoint=expected)
        _, rival = solved_response(
            g, r, tol=1e-8, adjoint="solved" if expected == "resummed" else "resummed"
        )
        torch.testing.assert_close(auto, other, rtol=0, atol=0)
        assert float((auto - rival).abs().max()) > 1e-6
