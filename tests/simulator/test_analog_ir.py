"""IR drop inside the analog forward: effective conductances against the exact nodal solve."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from simulator import CrossbarConfig
from simulator.analog import AnalogModel, effective_conductance, relaxation_correction
from simulator.nonideal.ir_drop import column_currents


def _arrays(seed: int, shape=(2, 32, 32)) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return 0.6 + 9.4 * torch.randint(0, 2, shape, generator=gen).to(torch.float64)  # µS


def test_relaxed_effective_conductance_matches_exact_solver() -> None:
    """v @ G_eff (relaxation probing of the nominal arrays) equals the exact nodal currents."""
    g = _arrays(0)
    r = 5.0
    corr = relaxation_correction(g, r)
    g_eff = effective_conductance(g, r, "relaxation", corr)
    v = torch.rand(2, 6, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = column_currents(v, g * 1e-6, r, "exact") * 1e6  # µA
    torch.testing.assert_close(v @ g_eff, exact, rtol=1e-4, atol=1e-6)
    ideal = v @ g
    assert float((ideal - exact).abs().max() / exact.abs().max()) > 0.01  # the drop matters


def test_correction_transfers_to_programmed_draws() -> None:
    """For programmed draws near the nominal arrays, first-order times the nominal
    relaxed/first-order ratio is closer to the exact currents than first-order alone."""
    g = _arrays(2)
    r = 5.0
    corr = relaxation_correction(g, r)
    noisy = (g + 0.3 * torch.randn(g.shape, generator=torch.Generator().manual_seed(3),
                                   dtype=torch.float64)).clamp_min(0)
    v = torch.rand(2, 8, 32, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    exact = column_currents(v, noisy * 1e-6, r, "exact") * 1e6
    err_fo = (v @ effective_conductance(noisy, r, "first_order") - exact).abs().max()
    err_corr = (v @ effective_conductance(noisy, r, "relaxation", corr) - exact).abs().max()
    assert float(err_corr) < 0.5 * float(err_fo)


def test_effective_conductance_modes() -> None:
    """Ideal mode and zero wire resistance return G unchanged; bad modes are named."""
    g = _arrays(5)
    assert effective_conductance(g, 2.0, "ideal") is g
    assert effective_conductance(g, 0.0, "first_order") is g
    assert bool((effective_conductance(g, 2.0, "first_order") < g).all())
    with pytest.raises(ValueError, match="ir_drop"):
        effective_conductance(g, 2.0, "spice")


def test_wire_resistance_degrades_outputs() -> None:
    """Without device noise, output error vs the float model grows with wire resistance,
    and first-order and relaxation-corrected models agree closely on small arrays."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).requires_grad_(False)
    x = torch.rand(32, 64, generator=torch.Generator().manual_seed(6))
    ref = model(x)
    quiet = {"prog_sigma": 0.0, "read_sigma": 0.0, "saf_sa0": 0.0, "saf_sa1": 0.0,
             "adc_bits": 10, "rows": 64, "cols": 64}

    def run(r: float, mode: str) -> torch.Tensor:
        am = AnalogModel(model, CrossbarConfig(**quiet, wire_r_ohm=r), ir_drop=mode)
        am.calibrate(x)
        am.program(1)
        return am(x)[0]

    errors = [float((run(r, "first_order") - ref).norm() / ref.norm()) for r in (0.0, 5.0, 20.0)]
    assert errors[0] < errors[1] < errors[2]
    a, b = run(5.0, "first_order"), run(5.0, "relaxation")
    assert float((a - b).norm() / ref.norm()) < 0.02


def test_correction_probes_only_driven_rows() -> None:
    """Restricting the probes to the driven word lines leaves their correction unchanged
    and sets the ratio of undriven rows to 1."""
    g = _arrays(7)
    full = relaxation_correction(g, 5.0)
    part = relaxation_correction(g, 5.0, active_rows=10)
    torch.testing.assert_close(part[..., :10, :], full[..., :10, :])
    assert bool((part[..., 10:, :] == 1.0).all())
