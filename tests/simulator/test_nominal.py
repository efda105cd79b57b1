"""The ADC-range search on nominal arrays (simulator.nominal.nominal_current_range): the
bounds prune reads, never the extremes, so the range equals, bit for bit, that of multiplying
every read."""

from __future__ import annotations

import math

import pytest
import torch

from simulator.nominal import KERNELS, NominalArrays, _int_digits, nominal_current_range
from simulator.readout import ReadPlan


def _every_read(q: torch.Tensor, arrays: NominalArrays, plan: ReadPlan) -> tuple[float, float]:
    """The range over every read and column, the currents in the same float64 expression."""
    t_r, rows_used, _ = arrays.levels.shape
    v = _int_digits(q[0], plan, rows_used).long()
    lo, hi = math.inf, -math.inf
    for t in range(t_r):
        prod = v[t] @ arrays.levels[t].long()
        base = v[t].sum(-1, keepdim=True).double() * arrays.g_off_us
        cur = (base + arrays.dg_us * prod.double()) * plan.v_unit
        lo, hi = min(lo, float(cur.min())), max(hi, float(cur.max()))
    return lo, hi


def _case(signed: bool, dense: bool, seed: int) -> tuple[torch.Tensor, NominalArrays, ReadPlan]:
    gen = torch.Generator().manual_seed(seed)
    m, k, rows, n = 300, 200, 64, 40
    q = torch.randint(0, 256, (1, m, k), generator=gen).float()
    # Activations of very different sizes (the bounds then prune most reads) ...
    q = (q * torch.rand(1, m, 1, generator=gen) ** 3).round()
    if not dense:  # ... and zero inputs (ReLU), which leave some reads all zero
        q = q * (torch.rand(1, m, k, generator=gen) < 0.3)
    if signed:
        q = q * torch.where(torch.rand(1, m, k, generator=gen) < 0.5, -1.0, 1.0)
    else:
        q = q.clamp_min(17.0) if dense else q  # no read all zero
    levels = torch.randint(0, 4, (math.ceil(k / rows), rows, n), dtype=torch.int8, generator=gen)
    levels[-1, k % rows :] = 0  # the rows past K of the last tile
    plan = ReadPlan(v_unit=0.2 / 15, dac_bits=4, cycles=2, signed=signed, rows=rows,
                    row_tiles=levels.shape[0])
    return q, NominalArrays(levels=levels, g_off_us=1.5, dg_us=2.0), plan


@pytest.mark.parametrize(("signed", "dense"), [(False, False), (False, True), (True, False)])
@pytest.mark.parametrize("kernel", KERNELS)
def test_pruned_range_equals_the_range_of_every_read(
        signed: bool, dense: bool, kernel: str, monkeypatch) -> None:
    """Same (lo, hi) as every read multiplied, on either product kernel, with and without
    all-zero reads (lo = 0 or lo > 0), while multiplying a fraction of the reads."""
    if kernel == "onednn" and not hasattr(torch.ops.onednn, "qlinear_pointwise"):
        pytest.skip("torch built without oneDNN")
    monkeypatch.setattr("simulator.nominal._kernel", lambda device_type: kernel)
    q, arrays, plan = _case(signed, dense, seed=int(signed) + 2 * int(dense))
    multiplied = []
    product = NominalArrays.tile_currents

    def counting(self, v, t):  # the rows each product multiplies
        multiplied.append(v.shape[0])
        return product(self, v, t)

    monkeypatch.setattr(NominalArrays, "tile_currents", counting)
    got = nominal_current_range(q, arrays, plan)
    want = _every_read(q, arrays, plan)
    assert got == want
    assert (want[0] > 0.0) == dense  # dense inputs: no zero read, the bottom is searched too
    every = q.shape[1] * plan.passes * arrays.levels.shape[0]
    assert 0 < sum(multiplied) < every / 2, (sum(multiplied), every)


def test_range_of_no_reads_and_of_all_zero_reads() -> None:
    """No input vectors: (0, 0); inputs all zero: every current is 0."""
    q, arrays, plan = _case(False, False, seed=5)
    assert nominal_current_range(q[:, :0], arrays, plan) == (0.0, 0.0)
    assert nominal_current_range(torch.zeros_like(q), arrays, plan) == (0.0, 0.0)
