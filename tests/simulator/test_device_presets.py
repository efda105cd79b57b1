"""Device presets (simulator.params.DEVICE_PRESETS, CrossbarConfig.device) and the derived
wire resistance: loading, documentation, and values against hand computation."""

from __future__ import annotations

import ast
import inspect
import math

import pytest
import torch

from simulator import CrossbarConfig, params
from simulator.config import DEVICES
from simulator.errors import ConfigError
from simulator.nonideal import ProgrammingVariation, ReadNoise, device_nonidealities


def _effect(config: CrossbarConfig, kind: type) -> object:
    return next(e for e in device_nonidealities(config) if isinstance(e, kind))


def test_presets_load_and_bad_names_are_refused() -> None:
    assert set(DEVICES) == set(params.DEVICE_PRESETS) == {"wan2022", "generic"}
    for name in DEVICES:
        assert CrossbarConfig(device=name).device == name
    assert CrossbarConfig().device == params.DEVICE == "wan2022"
    with pytest.raises(ConfigError, match="device"):
        CrossbarConfig(device="neurosim")
    with pytest.raises(ConfigError, match="device"):
        CrossbarConfig.from_params({"device": 3})


def test_presets_are_documented_with_units_and_sources() -> None:
    """Every DevicePreset field has a docstring stating its unit, every preset a source, and
    the config documents prog_sigma / read_sigma as per cell."""
    tree = ast.parse(inspect.getsource(params.DevicePreset))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr):
            docs[node.target.id] = after.value.value  # type: ignore[union-attr]
    assert set(docs) == set(params.DevicePreset.__dataclass_fields__)
    for field in ("prog_shape", "prog_sigma", "read_sigma"):
        assert "dimensionless" in docs[field] or "[µS]" in docs[field], field
    for preset in params.DEVICE_PRESETS.values():
        assert len(preset.source) > 40 and math.isclose(sum(preset.prog_shape), 1.0)
    source = inspect.getsource(CrossbarConfig)
    assert source.count("**per cell**") >= 2


def test_wan2022_sigma_matches_aihwkit_polynomial_at_hand_computed_points() -> None:
    """aihwkit: σ(x) = 0.348 + 16.030x - 43.853x² + 45.393x³ - 16.815x⁴ µS at g_max 25 µS.
    By hand: σ(1) = 1.103, σ(1/2) = 2.0229375, σ(0) = 0.348 µS; as fractions of the window:
    0.04412, 0.0809175, 0.01392."""
    config = CrossbarConfig(device="wan2022", g_on_us=25.0, g_off_us=0.5)
    window = 24.5
    prog = _effect(config, ProgrammingVariation)
    g = torch.tensor([0.5, 0.5 + window / 2, 25.0], dtype=torch.float64)
    expected = torch.tensor([0.01392, 0.0809175, 0.04412], dtype=torch.float64) * window
    torch.testing.assert_close(prog.sigma_of(g), expected, rtol=1e-9, atol=0)
    # The drawn noise has that spread (200k draws at mid-window: std within 1 %).
    mid = torch.full((200_000,), 0.5 + window / 2, dtype=torch.float64)
    drawn = prog.apply_to_conductance(mid, torch.Generator().manual_seed(0)) - mid
    assert abs(float(drawn.std()) / float(expected[1]) - 1) < 0.01
    # Read noise: 1 % of the largest weight per weight = 0.01 / sqrt(2) per cell of a pair.
    read = _effect(config, ReadNoise)
    assert math.isclose(read.sigma_us * math.sqrt(2), 0.01 * window, rel_tol=1e-12)


def test_generic_preset_is_level_independent() -> None:
    config = CrossbarConfig(device="generic", prog_sigma=0.03)
    prog = _effect(config, ProgrammingVariation)
    assert not prog.state_dependent
    assert math.isclose(prog.sigma_of(torch.tensor([config.g_off_us, config.g_on_us])),
                        0.03 * config.g_range_us)


def test_wire_resistance_is_derived_from_the_cost_models_cell_and_overridable() -> None:
    """22 nm by hand: ρ = 2.97e-8 / (1 - (2·1.9·40 + 40)e-9·2.5e-9 / (1.9·(40e-9)²))
    = 3.526875e-8 Ω·m; a 12F row segment 3.526875e-8·12·22e-9 / (40e-9·1.9·40e-9) =
    3.0628125 Ω, a 4F column segment 1.0209375 Ω, mean 2.041875 Ω."""
    assert math.isclose(params.wire_r_ohm_for(22), 2.041875, rel_tol=1e-9)
    assert math.isclose(CrossbarConfig().wire_r_ohm, 2.041875, rel_tol=1e-9)
    assert params.wire_r_ohm_for(65) < params.wire_r_ohm_for(22)
    assert CrossbarConfig(wire_r_ohm=0.5).wire_r_ohm == 0.5
    with pytest.raises(ValueError, match="tech_node_nm"):
        params.wire_r_ohm_for(7)
