"""IR drop inside the analog forward pass (simulator.analog with the IR-drop modes)."""

from __future__ import annotations

import torch
from torch import nn

from simulator import CrossbarConfig
from simulator.analog_model import AnalogModel


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


def test_standard_tier_within_one_percent_of_exact_at_128() -> None:
    """Seeded 128x128 array, g uniform in 1-100 µS, 2 Ω per segment: the standard tier's
    model (first order per draw + the CG-solved nominal correction and its own-cell slope)
    is within 1 % of the exact nodal currents on the array as programmed and on a draw with
    the wan2022 programming noise, where plain first order misses by more than 3 %."""
    from simulator.evaluate import fidelity_plan
    from simulator.nonideal import ProgrammingVariation
    from simulator.nonideal.ir_drop import column_currents, drop_correction, effective_conductance
    from simulator.params import DEVICE_PRESETS

    mode = fidelity_plan(0.5).ir_drop
    assert fidelity_plan(0.5).tier == "standard" and mode == "solved"
    gen = torch.Generator().manual_seed(128)
    nominal = (1.0 + 99.0 * torch.rand(128, 128, generator=gen)).double()  # µS
    v = 0.2 * torch.rand(8, 128, generator=gen, dtype=torch.float64)  # V
    corr = drop_correction(nominal, 2.0, mode)
    preset = DEVICE_PRESETS["wan2022"]
    noise = ProgrammingVariation(preset.prog_sigma * 99.0, shape=preset.prog_shape,
                                 g_off_us=1.0, window_us=99.0)
    draw = noise.apply_to_conductance(nominal, gen)
    for g in (nominal, draw):
        exact = column_currents(v, g * 1e-6, 2.0, "exact") * 1e6  # µA
        tier = v @ effective_conductance(g, 2.0, mode, corr)
        first = v @ effective_conductance(g, 2.0, "first_order")
        assert float(((tier - exact).abs() / exact.abs()).max()) < 0.01
        assert float(((first - exact).abs() / exact.abs()).max()) > 0.03
