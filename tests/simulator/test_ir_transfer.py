"""Tests of simulator.nonideal.ir_transfer: the stored form of the nominal arrays' correction
(intercept and slope), its piecewise solve and its in-place application to draws."""

from __future__ import annotations

import pytest
import torch

import simulator.nonideal.ir_drop as ir
from simulator.nonideal.ir_cg import probe_block_arrays, solved_response
from simulator.nonideal.ir_drop import (
    RELAXATION_TOL,
    drop_correction,
    effective_conductance,
    first_order_conductance,
)
from simulator.nonideal.ir_transfer import clear_correction_cache, first_order_slope


def _nominal_and_draws(
    shape: tuple[int, ...], dtype: torch.dtype, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nominal arrays 1-100 µS and two draws with 5 µS programming noise [µS]."""
    gen = torch.Generator().manual_seed(seed)
    nominal = (1.0 + 99.0 * torch.rand(shape, generator=gen, dtype=torch.float64)).to(dtype)
    noise = 5.0 * torch.randn((2, *shape), generator=gen, dtype=torch.float64)
    return nominal, (nominal.double() + noise).clamp_min(0.0).to(dtype)


def _old_form(
    nominal: torch.Tensor, draws: torch.Tensor, r: float, active_rows: int
) -> torch.Tensor:
    """``G_fo(g) + offset + slope ⊙ (g - g_n)``: the correction as stored before, with the
    nominal arrays kept, from the same solve."""
    model, own = solved_response(nominal, r, active_rows, tol=RELAXATION_TOL)
    offset = model - first_order_conductance(nominal * 1e-6, r) * 1e6
    slope = own - first_order_slope(nominal, r)
    offset[..., active_rows:, :] = 0.0
    slope[..., active_rows:, :] = 0.0
    g_fo = first_order_conductance(draws * 1e-6, r) * 1e6
    return g_fo + offset + slope * (draws - nominal)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_intercept_form_matches_the_offset_form(dtype: torch.dtype) -> None:
    """``G_fo + intercept + slope ⊙ g`` equals ``G_fo + offset + slope ⊙ (g - g_n)`` on
    draws of 48x48 arrays at 2 Ω up to rounding: within one unit in the last place of the
    largest ``G`` (measured 0.62 in float32 and float64, 0.65 at 128x128), where the
    correction itself is 8e4 of them in float32; the offset is recovered from the
    intercept."""
    ulps = 1.0
    r, active = 2.0, 40
    nominal, draws = _nominal_and_draws((3, 48, 48), dtype, 1)
    clear_correction_cache()
    corr = drop_correction(nominal, r, "relaxation", active_rows=active)
    new = effective_conductance(draws, r, "relaxation", corr)
    old = _old_form(nominal, draws, r, active)
    ulp = float(torch.finfo(dtype).eps) * float(old.abs().max())
    assert float((new - old).abs().max()) <= ulps * ulp
    g_fo = first_order_conductance(draws * 1e-6, r) * 1e6
    assert float((old - g_fo).abs().max()) > 100 * ulps * ulp  # the correction is not noise
    model, _ = solved_response(nominal, r, active, tol=RELAXATION_TOL)
    offset = model - first_order_conductance(nominal * 1e-6, r) * 1e6
    offset[..., active:, :] = 0.0
    assert float((corr.offset(nominal) - offset).abs().max()) <= ulps * ulp
    assert corr.numel() == 2 * nominal.numel()  # two stored values per cell


@pytest.mark.parametrize("shape", [(5, 128, 128), (70, 16, 16)])
def test_correction_solved_in_pieces_is_bit_exact(
    monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...]
) -> None:
    """Solving the correction a few arrays at a time gives the one-piece values bit for bit,
    for arrays solved one per block (128x128) and many per block (16x16: pieces are rounded
    to whole blocks, which stop together)."""
    nominal, _ = _nominal_and_draws(shape, torch.float32, 2)
    rows, cols = shape[-2:]
    clear_correction_cache()
    whole = drop_correction(nominal, 2.0, "solved", active_rows=rows - 3)
    block = probe_block_arrays(rows, cols, rows - 3)
    assert (block == 1) == (rows == 128)
    monkeypatch.setattr(ir, "_SOLVE_ELEMENTS", 2 * rows * cols)  # two arrays (or one block)
    clear_correction_cache()
    pieces = drop_correction(nominal, 2.0, "solved", active_rows=rows - 3)
    assert pieces is not whole
    assert torch.equal(pieces.intercept_us, whole.intercept_us)
    assert torch.equal(pieces.slope, whole.slope)
    assert float(whole.slope.abs().max()) > 1e-4  # the correction is not trivially zero


def test_in_place_effective_conductance_overwrites_the_draws() -> None:
    """``inplace=True`` returns the draws' own buffer holding exactly the out-of-place result;
    a non-contiguous input is left alone and still gets the right result."""
    nominal, draws = _nominal_and_draws((3, 16, 16), torch.float64, 3)
    corr = drop_correction(nominal, 3.0, "solved")
    want = effective_conductance(draws, 3.0, "solved", corr)
    scratch = draws.clone()
    got = effective_conductance(scratch, 3.0, "solved", corr, inplace=True)
    assert got.data_ptr() == scratch.data_ptr()
    assert torch.equal(got, want)
    strided = draws.transpose(-2, -1).contiguous().transpose(-2, -1)  # same values
    kept = strided.clone()
    assert torch.equal(effective_conductance(strided, 3.0, "solved", corr, inplace=True), want)
    assert torch.equal(strided, kept)
