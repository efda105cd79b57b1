"""The column-sum tier's ADC grid (simulator.readout.zero_code_grid): zero current on a code,
so a summed current near zero reads as zero instead of a grid offset that the shift-and-add
multiplies into a bias of every output."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from simulator import CrossbarConfig
from simulator.analog import AnalogLayer
from simulator.readout import zero_code_grid

QUIET = {"read_sigma": 0.0, "prog_sigma": 0.0, "saf_sa0": 0.0, "saf_sa1": 0.0}


@pytest.mark.parametrize(
    ("lo", "hi", "top"),
    [(-6496.5, 7102.1, 31), (-10798.1, 12273.4, 31), (-1.0, 1000.0, 15), (-3.0, 0.5, 255),
     (0.0, 85.4, 31), (2.0, 9.0, 31), (-9.0, -2.0, 7)],
)
def test_zero_code_grid_puts_zero_on_a_code_and_covers_the_range(
    lo: float, hi: float, top: int
) -> None:
    offset, step, got_top = zero_code_grid(lo, hi, top)
    assert got_top == top and step > 0
    k = -offset / step  # the code of zero current
    assert k == pytest.approx(round(k), abs=1e-9) and 0 <= round(k) <= top
    assert offset <= min(lo, 0.0) + 1e-9 * step
    assert offset + top * step >= max(hi, 0.0) - 1e-9 * step
    span = max(hi, 0.0) - min(lo, 0.0)
    # at most one code of the plain grid is given up for the alignment
    assert span / top - 1e-12 <= step <= span / (top - 1) + 1e-12
    if lo == 0.0:
        assert (offset, step) == (0.0, pytest.approx(hi / top))


def test_zero_code_grid_of_an_empty_range() -> None:
    assert zero_code_grid(0.0, 0.0, 31) == (0.0, 1.0, 31)


def _layer(
    rows: int, wire_r_ohm: float, readout: str
) -> tuple[AnalogLayer, torch.Tensor, torch.Tensor]:
    """A calibrated noiseless layer, its calibration inputs (`256 x 1152`) and float
    outputs."""
    torch.manual_seed(0)
    linear = nn.Linear(1152, 64)
    x = torch.relu(torch.randn(256, 1152) - 0.5)
    cfg = CrossbarConfig(rows=rows, cols=rows, wire_r_ohm=wire_r_ohm, **QUIET)
    layer = AnalogLayer("fc", linear, cfg, ir_drop="first_order", readout=readout,
                        dtype=torch.float64)
    layer.calibrate(x)
    return layer, x, linear(x).detach().double()


@pytest.mark.parametrize("wire_r_ohm", [0.0, 2.04])
def test_column_sum_tier_is_unbiased_and_tracks_the_per_slice_tier(wire_r_ohm: float) -> None:
    """Noiseless 1152-input layer on 64x64 arrays (18 row tiles, 8 bit-serial cycles, 5-bit
    ADC), first-order wires. On the plain grid its column-sum outputs were off by a constant
    of about one output standard deviation (error 106 % with ideal wires, 96 % at 2.04 Ω;
    zero 0.48 and 0.44 LSB off the grid), against 1.6 % / 4.0 % for the per-slice tier."""
    errors = {}
    for readout in ("per_slice", "column_sum"):
        layer, x, ref = _layer(64, wire_r_ohm, readout)
        diff = layer.nominal_forward(x).double() - ref
        assert abs(float(diff.mean())) < 0.05 * float(ref.std()), readout
        errors[readout] = float(diff.norm() / ref.norm())
    assert errors["per_slice"] < 0.06
    # the coarse ADC of the sum costs accuracy, but not a bias: measured 15.5-15.6 %
    assert errors["column_sum"] < 0.25


@pytest.mark.parametrize("wire_r_ohm", [0.0, 2.04])
def test_column_sum_tier_reads_a_zero_input_as_zero(wire_r_ohm: float) -> None:
    """A zero input drives no current: the layer's output is its bias, in every tier."""
    for readout in ("per_slice", "column_sum"):
        layer, _, _ = _layer(64, wire_r_ohm, readout)
        got = layer.nominal_forward(torch.zeros(3, 1152)).double()
        torch.testing.assert_close(got, layer.bias.double().expand_as(got), rtol=0, atol=1e-9)
        lo, step, _ = layer._adc_step()
        assert math.isfinite(lo) and step > 0
