"""Non-idealities: seeded statistics of each effect, and their chain for a config."""

from __future__ import annotations

import math

import pytest
import torch

from simulator import CrossbarConfig
from simulator.nonideal import (
    ConductanceQuantization,
    ProgrammingVariation,
    ReadNoise,
    StuckAtFaults,
    device_nonidealities,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_programming_variation_statistics() -> None:
    """Mean is preserved and the std equals sigma (within 1 %); negative draws clip to 0."""
    g = torch.full((4, 250, 200), 5.0)
    out = ProgrammingVariation(0.4).apply_to_conductance(g, _gen())
    assert out.shape == g.shape
    assert float(out.mean()) == pytest.approx(5.0, abs=0.01)
    assert float(out.std()) == pytest.approx(0.4, rel=0.01)
    low = ProgrammingVariation(1.0).apply_to_conductance(torch.zeros(10_000), _gen(1))
    assert float(low.min()) == 0.0
    assert float((low == 0).float().mean()) == pytest.approx(0.5, abs=0.02)


def test_programming_variation_is_seeded() -> None:
    """The same generator seed gives the same programmed instance; another seed does not."""
    g = torch.full((1000,), 3.0)
    pv = ProgrammingVariation(0.1)
    assert torch.equal(pv.apply_to_conductance(g, _gen(3)), pv.apply_to_conductance(g, _gen(3)))
    assert not torch.equal(pv.apply_to_conductance(g, _gen(3)), pv.apply_to_conductance(g, _gen(4)))


def test_read_noise_matches_per_cell_model() -> None:
    """Column-current noise has the std of independent per-cell noise: sigma·||v||_2."""
    v = torch.rand(1, 64, generator=_gen(5))  # 1 read x 64 rows [V]
    currents = torch.zeros(50_000, 1, 1)
    out = ReadNoise(0.2).apply_to_currents(currents, v.norm(dim=-1).expand(50_000, 1), _gen(6))
    assert float(out.std()) == pytest.approx(0.2 * float(v.norm()), rel=0.02)
    # Reference: sample the per-cell noise explicitly.
    cells = 0.2 * torch.randn(20_000, 64, generator=_gen(7))
    assert float((cells @ v.t()).std()) == pytest.approx(0.2 * float(v.norm()), rel=0.03)
    same = ReadNoise(0.0).apply_to_currents(currents, torch.ones(50_000, 1), _gen())
    assert same is currents


@pytest.mark.parametrize(("p0", "p1"), [(0.05, 0.1), (0.001, 0.001), (0.3, 0.0)])
def test_stuck_at_rates(p0: float, p1: float) -> None:
    """SA0/SA1 fractions match the requested rates within 5 binomial std; stuck cells sit
    exactly at g_off / g_on; the two masks are disjoint."""
    n = 1_000_000
    saf = StuckAtFaults(p0, p1, g_off_us=0.5, g_on_us=10.0)
    g = torch.full((n,), 4.0)
    out = saf.apply_to_conductance(g, _gen(8))
    f0, f1 = float((out == 0.5).float().mean()), float((out == 10.0).float().mean())
    for f, p in ((f0, p0), (f1, p1)):
        assert abs(f - p) <= 5 * math.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-9
    sa0, sa1 = saf.masks(torch.Size([n]), _gen(8))
    assert not bool((sa0 & sa1).any())


def test_stuck_at_rejects_bad_rates() -> None:
    """Rates outside [0, 1] or summing over 1 raise ValueErrors naming them."""
    with pytest.raises(ValueError, match="p_sa0"):
        StuckAtFaults(-0.1, 0.0, 0.5, 10.0)
    with pytest.raises(ValueError, match="p_sa0 \\+ p_sa1"):
        StuckAtFaults(0.6, 0.6, 0.5, 10.0)


def test_conductance_quantization_levels_and_gradient() -> None:
    """Targets snap to the nearest of 2**bits levels within [g_off, g_on], with a
    straight-through gradient of 1 inside the window and 0 outside."""
    q = ConductanceQuantization(4, g_off_us=1.0, g_on_us=10.0)  # levels 1, 4, 7, 10
    g = torch.tensor([0.0, 1.2, 2.6, 5.4, 8.9, 12.0], requires_grad=True)
    out = q.apply_to_conductance(g)
    assert out.tolist() == pytest.approx([1.0, 1.0, 4.0, 4.0, 10.0, 10.0])
    out.sum().backward()
    assert g.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_device_chain_order_and_pruning() -> None:
    """Effects come in physical order and zero-strength ones are left out."""
    names = [type(e).__name__ for e in device_nonidealities(CrossbarConfig())]
    assert names == ["ConductanceQuantization", "ProgrammingVariation", "StuckAtFaults",
                     "ReadNoise"]
    quiet = CrossbarConfig(prog_sigma=0.0, read_sigma=0.0, saf_sa0=0.0, saf_sa1=0.0)
    assert [type(e).__name__ for e in device_nonidealities(quiet)] == ["ConductanceQuantization"]
    pv = next(e for e in device_nonidealities(CrossbarConfig(prog_sigma=0.1))
              if isinstance(e, ProgrammingVariation))
    assert pv.sigma_us == pytest.approx(0.1 * (10.0 - 1 / 1.7))
