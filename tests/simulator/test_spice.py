"""Tests of simulator.spice: the exact nodal solver against ngspice on the same circuit."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from simulator import spice
from simulator.nonideal.ir_drop import exact_column_currents

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")


@pytest.mark.ngspice
@needs_ngspice
@pytest.mark.parametrize(
    ("size", "r_wire", "min_drop"),
    [
        (16, 1.0, 0.0),
        (16, 5.0, 0.0),
        (32, 2.5, 0.0),
        (32, 5.0, 0.0),
        (16, 60.0, 0.01),
        (32, 40.0, 0.01),
    ],
)
def test_exact_solver_matches_ngspice(size: int, r_wire: float, min_drop: float) -> None:
    """Exact nodal currents agree with ngspice to < 0.1 % on every column (g in 1-40 µS);
    the stressed cases have a visible IR drop (> 1 % below the ideal current somewhere)."""
    rng = np.random.default_rng(size * 1000 + int(r_wire))
    g = rng.uniform(1e-6, 40e-6, (size, size))
    v = rng.uniform(0.0, 0.3, size)
    y_spice = spice.ngspice_column_currents(v, g, r_wire)
    y_exact = exact_column_currents(v[None, :], g, r_wire)[0]
    assert np.all(y_spice > 0)
    assert np.max(np.abs(y_exact - y_spice) / np.abs(y_spice)) < 1e-3
    drop = np.max(1 - y_exact / (v @ g))
    assert drop > min_drop


@pytest.mark.ngspice
@needs_ngspice
def test_zero_conductance_cells_and_negative_inputs() -> None:
    """Cells with g = 0 are left out of the netlist and negative inputs give negative currents."""
    rng = np.random.default_rng(7)
    g = rng.uniform(1e-6, 40e-6, (8, 8))
    g[:, 3] = 0.0
    v = -rng.uniform(0.05, 0.3, 8)
    y_spice = spice.ngspice_column_currents(v, g, 10.0)
    y_exact = exact_column_currents(v[None, :], g, 10.0)[0]
    assert y_spice[3] == pytest.approx(0.0, abs=1e-15)
    assert np.all(np.delete(y_spice, 3) < 0)
    np.testing.assert_allclose(y_spice, y_exact, rtol=1e-3, atol=1e-15)


def test_netlist_has_one_element_per_segment_and_cell() -> None:
    """A 3x2 array gives 3 sources, 3x2 row segments, 6 cells, 3x2 column segments, 2 senses."""
    g = np.full((3, 2), 10e-6)
    g[0, 1] = 0.0
    text = spice.crossbar_netlist(np.array([0.1, 0.2, 0.3]), g, 2.0)
    lines = text.splitlines()
    assert sum(ln.startswith("VIN") for ln in lines) == 3
    assert sum(ln.startswith(("RD", "RU")) for ln in lines) == 3 * 2
    assert sum(ln.startswith("RC") for ln in lines) == 5  # the zero cell is left out
    assert sum(ln.startswith(("RW", "RS")) for ln in lines) == 3 * 2
    assert sum(ln.startswith("VS") for ln in lines) == 2
    assert "RC1_0 u1_0 w1_0 100000" in text


def test_missing_ngspice_raises_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ngspice on PATH the runner says how to install it."""
    monkeypatch.setattr(spice.shutil, "which", lambda name: None)
    with pytest.raises(spice.NgspiceNotFoundError, match="apt-get install ngspice"):
        spice.ngspice_column_currents(np.ones(2), np.full((2, 2), 1e-5), 1.0)


@pytest.mark.parametrize(
    ("v", "g", "r", "match"),
    [
        (np.ones(3), np.ones((2, 2)), 1.0, "v must have shape"),
        (np.ones(2), -np.ones((2, 2)), 1.0, "non-negative"),
        (np.ones(2), np.ones((2, 2)), 0.0, "r_wire_ohm"),
    ],
)
def test_bad_netlist_inputs_raise(v: np.ndarray, g: np.ndarray, r: float, match: str) -> None:
    """Mismatched shapes, negative g and non-positive wire resistance are ValueErrors."""
    with pytest.raises(ValueError, match=match):
        spice.crossbar_netlist(v, g, r)
