"""Fault-aware mapping and read-verify-write."""

from __future__ import annotations

import math

import pytest
import torch

from simulator.analog_model import AnalogModel
from simulator.config import CrossbarConfig
from simulator.mitigation.faults import (
    FaultAwareStuckAt,
    ReadVerifyWrite,
    apply_fault_mitigation,
    programming_cost,
    rvw_expected_pulses,
)
from simulator.nonideal import ProgrammingVariation, StuckAtFaults
from tests.simulator.mitigation_data import digits, trained


def test_fault_aware_rows_put_faults_on_spare_rows() -> None:
    """An array whose bottom 4 rows are unused (g_off) absorbs the faults: with one faulty
    physical row the stuck error vanishes after re-assignment, and the output keeps the
    fault count (faults are moved, not removed)."""
    g = torch.full((1, 8, 4), 1.0)
    g[0, :4] = torch.tensor([5.0, 9.0, 3.0, 7.0])  # rows 0..3 hold weights, 4..7 spare
    effect = FaultAwareStuckAt(0.0, 0.2, 1.0, 10.0)
    gen = torch.Generator().manual_seed(4)
    out = effect.apply_to_conductance(g, gen)
    stuck = out == 10.0
    assert int(stuck.sum()) > 0
    # Every stuck cell landed on a row that needed g_on anyway or on a spare row.
    assert float(((out - g).abs() * (g != 10.0)).sum()) <= float(
        (
            (
                StuckAtFaults(0.0, 0.2, 1.0, 10.0).apply_to_conductance(
                    g, torch.Generator().manual_seed(4)
                )
                - g
            ).abs()
        ).sum()
    )
    assert effect.last_error_reduction is not None and effect.last_error_reduction < 1.0


def test_rvw_narrows_variation_and_counts_pulses() -> None:
    """RVW with a 1σ window: residual σ is that of a Gaussian truncated at ±1σ (0.54σ) and
    the mean pulse count matches (1-(1-q)^8)/q with q = erf(1/√2)."""
    effect = ReadVerifyWrite(0.5, tolerance=1.0, max_pulses=8)
    g = torch.full((200_000,), 5.0)
    out = effect.apply_to_conductance(g, torch.Generator().manual_seed(0))
    q = math.erf(1 / math.sqrt(2))
    truncated = math.sqrt(1 - 2 * math.exp(-0.5) / math.sqrt(2 * math.pi) / q)
    # Cells that never verify keep a full-σ error (probability (1-q)^8 ~ 1e-4).
    assert float((out - 5.0).std()) == pytest.approx(0.5 * truncated, rel=0.02)
    assert effect.last_mean_pulses == pytest.approx(rvw_expected_pulses(1.0, 8), rel=0.01)
    assert rvw_expected_pulses(1.0, 8) == pytest.approx((1 - (1 - q) ** 8) / q)


def test_rvw_with_one_pulse_is_plain_programming_variation() -> None:
    """With a budget of one pulse RVW draws exactly the programming variation's error (same
    generator, same values), and installing RVW twice leaves the first one in place."""
    g = torch.linspace(0.0, 10.0, 64).reshape(8, 8)
    rvw = ReadVerifyWrite(0.5, tolerance=1.0, max_pulses=1)
    plain = ProgrammingVariation(0.5)
    assert torch.equal(rvw.apply_to_conductance(g, torch.Generator().manual_seed(3)),
                       plain.apply_to_conductance(g, torch.Generator().manual_seed(3)))
    assert rvw.last_mean_pulses == 1.0
    with pytest.raises(ValueError, match="sigma_us"):
        ReadVerifyWrite(-1.0)
    analog = AnalogModel(torch.nn.Linear(4, 2), CrossbarConfig(prog_sigma=0.02))
    apply_fault_mitigation(analog, "rvw", tolerance=1.0)
    apply_fault_mitigation(analog, "rvw", tolerance=2.0)
    verified = [e for layer in analog.layers.values() for e in layer.effects
                if isinstance(e, ProgrammingVariation)]
    assert [(type(e), e.tolerance) for e in verified] == [(ReadVerifyWrite, 1.0)]


def test_programming_cost_charges_extra_pulses() -> None:
    """Plain programming: one 2 V, 100 ns pulse per cell at 5 µS = 2 pJ; RVW adds pulses and
    verify reads, and stuck cells take the whole budget."""
    plain = programming_cost(2, 64, 64, 5.0, 0.5)
    assert plain.energy_uj == pytest.approx(2 * 64 * 64 * 4 * 5e-6 * 100e-9 * 1e6)
    assert plain.latency_us == pytest.approx(2 * 64 * 0.1)
    rvw = programming_cost(2, 64, 64, 5.0, 0.5, tolerance=1.0, max_pulses=8)
    assert rvw.pulses_per_cell == pytest.approx(rvw_expected_pulses(1.0, 8))
    assert rvw.energy_uj > plain.energy_uj * rvw.pulses_per_cell
    assert rvw.latency_us > 3 * plain.latency_us
    stuck = programming_cost(2, 64, 64, 5.0, 0.5, tolerance=1.0, max_pulses=8, stuck_fraction=0.01)
    assert stuck.pulses_per_cell == pytest.approx(0.99 * rvw.pulses_per_cell + 0.08)
    with pytest.raises(ValueError, match="rvw_max_pulses"):
        ReadVerifyWrite(0.1, max_pulses=0)


@pytest.mark.slow
def test_fault_aware_mapping_recovers_accuracy() -> None:
    """At 2 % + 2 % stuck cells on 64x64 arrays, fault-aware row assignment raises the tiny
    CNN's mean accuracy over 3 chips (same seed) by > 5 points; RVW does not fix faults."""
    model = trained("cnn")
    x, _, xt, yt = digits()
    cfg = CrossbarConfig(
        rows=64, cols=64, prog_sigma=0.03, read_sigma=0.0, saf_sa0=0.02, saf_sa1=0.02
    )
    acc = {}
    for scheme in ("none", "remap", "rvw"):
        analog = AnalogModel(model, cfg)
        apply_fault_mitigation(analog, scheme)
        analog.calibrate(x[:200])
        gen = torch.Generator().manual_seed(0)
        analog.program(3, gen)
        analog.set_generator(gen)
        with torch.no_grad():
            acc[scheme] = float((analog(xt[:200]).argmax(-1) == yt[:200]).float().mean())
    assert acc["remap"] > acc["none"] + 0.05
    assert acc["rvw"] < acc["remap"]
    with pytest.raises(ValueError, match="fault_mitigation"):
        apply_fault_mitigation(AnalogModel(model, cfg), "pray")
