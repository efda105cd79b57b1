"""IR drop inside the analog forward pass (simulator.analog with the IR-drop modes)."""

from __future__ import annotations

import torch
from torch import nn

from simulator import CrossbarConfig
from simulator.analog import AnalogModel


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
