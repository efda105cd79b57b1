r"""Nominal arrays: the noise-free chip read through ideal wires from exact integer products.

On nominal arrays (programmed levels, no device effects, ideal wires) the current of column
``j`` is ``V_unit · (g_off Σ_i v_i + Δg Σ_i v_i L_ij)`` with integer DAC digits ``v`` and
cell levels ``L``: both sums are exact integer products (:class:`NominalArrays`). They give
the ADC-range calibration (:func:`nominal_current_range`, which multiplies only the reads
that can hold an extreme) and the noise-free read of the deterministic errors
(:func:`nominal_read`), the same numbers as :func:`simulator.readout.current_range` and
:func:`simulator.readout.read_layer` on the nominal conductances.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from simulator.readout import BLOCK_ELEMENTS, ReadPlan

__all__ = ["NominalArrays", "nominal_current_range", "nominal_read"]


@dataclass(frozen=True, kw_only=True)
class NominalArrays:
    r"""Noise-free arrays at their programmed levels, read through ideal wires: the current
    of column ``j`` is ``V_unit · (g_off Σ_i v_i + Δg Σ_i v_i L_ij)`` with integer digits
    ``v`` and levels ``L``, so both sums are exact integer products, on the fastest exact
    kernel of the machine (:func:`_kernel`)."""

    levels: Tensor
    r"""A `row_tiles x rows_used x n`-dim int8 Tensor of cell levels (read columns)."""
    g_off_us: float
    """Conductance of level 0 [µS]."""
    dg_us: float
    """Conductance of one level step [µS]."""

    @staticmethod
    def supported(plan: ReadPlan, max_level: int) -> bool:
        """Whether digits and levels fit int8 (``dac_bits <= 7``, levels <= 127)."""
        return 2**plan.dac_bits - 1 <= 127 and max_level <= 127

    def tile_operand(self, t: int) -> tuple[Tensor, ...]:
        """Row tile ``t``'s levels prepared once for :meth:`tile_currents`' kernel."""
        return _operand(self.levels[t], _kernel(self.levels.device.type))

    def tile_currents(
        self, v: Tensor, t: int, operand: tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""``(Σ_i v_i L_ij, Σ_i v_i)`` of row tile ``t`` for `B x rows_used` int8 digits:
        a `B x n` Tensor of the exact integer sums (int32, or float32 holding them: every
        partial sum is below 2**24) and a `B x 1` int32 Tensor. ``operand``:
        :meth:`tile_operand` of ``t``, when the caller holds it."""
        vsum = v.sum(-1, keepdim=True, dtype=torch.int32)
        kernel = _kernel(v.device.type)
        operand = self.tile_operand(t) if operand is None else operand
        return _product(v, operand, kernel), vsum


KERNELS = ("int_mm", "onednn", "float")
"""Exact products of int8 digits and levels: :func:`torch._int_mm` (int32 sums), oneDNN's
quantized linear (``torch.ops.onednn.qlinear_pointwise``: uint8 x int8 with unit scales, the
int32 sums returned in float32, exactly) and a float32 product (exact below 2**24)."""


def _operand(levels: Tensor, kernel: str) -> tuple[Tensor, ...]:
    """A `rows x n` int8 level matrix prepared for ``kernel`` (oneDNN: prepacked, once)."""
    if kernel == "int_mm":
        return (levels,)
    if kernel == "float":
        return (levels.to(torch.float32),)
    n = levels.shape[1]
    packed = torch.ops.onednn.qlinear_prepack(levels.t().contiguous(), None)
    return packed, torch.ones(n), torch.zeros(n, dtype=torch.int64)


def _product(v: Tensor, operand: tuple[Tensor, ...], kernel: str) -> Tensor:
    """``v @ L`` of `B x rows` int8 digits (non-negative) and an :func:`_operand`."""
    if kernel == "int_mm":
        return torch._int_mm(v, operand[0])
    if kernel == "float":
        return torch.mm(v.to(torch.float32), operand[0])
    packed, scale, zero = operand  # u8 x s8 pairs stay below int16's limit: 2·127·127
    return torch.ops.onednn.qlinear_pointwise(
        v.view(torch.uint8), 1.0, 0, packed, scale, zero, None, 1.0, 0, torch.float32,
        "none", [], "",
    )


@functools.cache
def _kernel(device_type: str) -> str:
    """The fastest of :data:`KERNELS` here, measured once per process on a 512 x 128 x 512
    product in CPU seconds (CUDA: ``"int_mm"``). On AVX-512 VNNI :func:`torch._int_mm` runs
    at 4x the float32 rate; on AVX2 alone it is a reference loop, 40-60x slower, and
    oneDNN's u8 x s8 kernel runs at 1.5-2.7x the float32 rate (VGG8 tile shapes)."""
    if device_type != "cpu":
        return "int_mm"
    v = torch.randint(0, 16, (512, 128), dtype=torch.int8)
    levels = torch.randint(0, 4, (128, 512), dtype=torch.int8)
    want = v.long() @ levels.long()
    times = {}
    for kernel in KERNELS:
        try:
            operand = _operand(levels, kernel)
            t0 = time.process_time()
            exact = torch.equal(_product(v, operand, kernel).long(), want)
            times[kernel] = time.process_time() - t0  # int_mm: one call tells a slow loop
        except (RuntimeError, AttributeError):  # not built in (oneDNN off x86)
            continue
        if not exact:
            del times[kernel]
        elif kernel != "int_mm":  # warm: the mean of five calls
            t0 = time.process_time()
            for _ in range(5):
                _product(v, operand, kernel)
            times[kernel] = (time.process_time() - t0) / 5
    return min(times, key=times.__getitem__)


def _int_digits(q: Tensor, plan: ReadPlan, rows_used: int) -> Tensor:
    """`row_tiles x B·P·C x rows_used` int8 digits of `B x K` integer inputs, tile-major (each
    tile's operand contiguous), row ``b·P·C + p`` as in :func:`input_digits`."""
    b, k = q.shape
    t_r = plan.row_tiles
    out = torch.zeros(t_r, b, plan.passes, rows_used, dtype=torch.int8, device=q.device)
    qi = q.to(torch.int32)
    parts = [qi.clamp_min(0), (-qi).clamp_min(0)] if plan.signed else [qi]
    mask, i = 2**plan.dac_bits - 1, 0
    for part in parts:
        part = F.pad(part, (0, t_r * rows_used - k)).view(b, t_r, rows_used).transpose(0, 1)
        for c in range(plan.cycles):
            out[:, :, i] = (part >> (c * plan.dac_bits)) & mask
            i += 1
    return out.view(t_r, b * plan.passes, rows_used)


def _int_block(n: int, plan: ReadPlan) -> int:
    return max(1, (BLOCK_ELEMENTS << 2) // max(1, plan.passes * n))


def nominal_current_range(q: Tensor, arrays: NominalArrays, plan: ReadPlan) -> tuple[float, float]:
    r""":func:`current_range` on nominal arrays from exact integer products [µA], multiplying
    only the reads that can hold an extreme.

    A read's currents are ``V_unit (g_off Σ_i v_i + Δg Σ_i v_i L_ij)`` over its columns ``j``.
    One matrix-vector product per tile bounds ``max_j Σ_i v_i L_ij`` by the integers
    ``Σ_i v_i max_j L_ij`` and ``floor(||v|| max_j ||L_j||)``, and ``min_j`` by ``Σ_i v_i
    min_j L_ij``. Each tile first multiplies its :data:`_PROBE_READS` reads of highest and of
    lowest bound, which gives candidate extremes; then only the reads whose bound passes a
    candidate. The result is the extreme over every read, bit for bit (the float64 current
    is monotone in the integer sum), for 0.5-14 % of the products on VGG8's calibration
    reads.

    Args:
        q: A `1 x M x K`-dim Tensor of signed integer inputs.
        arrays: The nominal arrays.
        plan: The read plan (digits and tiles).
    """
    t_r, rows_used, _ = arrays.levels.shape
    if not q.shape[1]:
        return 0.0, 0.0
    v = _int_digits(q[0], plan, rows_used)  # T x R x rows
    reads = v.shape[1]
    base, upper, lower = (torch.empty(t_r, reads, dtype=torch.float64) for _ in range(3))
    for t in range(t_r):  # integer sums below 2**24: exact in float32
        vt, lv = v[t].to(torch.float32), arrays.levels[t].to(torch.float32)
        col_sq = float(lv.square().sum(0).max())  # max_j ||L_j||², an exact integer
        base[t], lower[t] = vt.sum(-1).double() * arrays.g_off_us, vt @ lv.amin(-1)
        schwarz = (vt.square().sum(-1).double() * col_sq).sqrt_().floor_()  # >= isqrt
        upper[t] = torch.minimum((vt @ lv.amax(-1)).double(), schwarz)
    hi_key = (base + arrays.dg_us * upper) * plan.v_unit  # >= every current of the read
    lo_key = (base + arrays.dg_us * lower) * plan.v_unit  # <= every current of the read
    k = min(_PROBE_READS, reads)
    probe = torch.cat([hi_key.topk(k).indices, lo_key.topk(k, largest=False).indices], 1)
    lo, hi = _read_extremes(v, arrays, base, plan.v_unit, list(probe), math.inf, -math.inf)
    rest = [((hi_key[t] > hi) | (lo_key[t] < lo)).nonzero()[:, 0] for t in range(t_r)]
    return _read_extremes(v, arrays, base, plan.v_unit, rest, lo, hi)


_PROBE_READS = 8
"""Reads of highest and of lowest bound multiplied per tile for the candidate extremes."""


def _read_extremes(
    v: Tensor,
    arrays: NominalArrays,
    base: Tensor,
    v_unit: float,
    rows: list[Tensor],
    lo: float,
    hi: float,
) -> tuple[float, float]:
    r"""``(lo, hi)`` widened by the currents [µA] of the reads ``rows[t]`` of every tile ``t``
    (``v`` the `T x R x rows_used` int8 digits, ``base`` the `T x R` float64 ``g_off Σ v``)."""
    for t, idx in enumerate(rows):
        if not idx.numel():
            continue
        if v.is_cuda and idx.numel() <= 16:  # CUDA's int8 product needs m > 16: repeat a read
            idx = torch.cat([idx, idx[:1].expand(17 - idx.numel())])
        prod, _ = arrays.tile_currents(v[t].index_select(0, idx), t)
        ends = torch.stack([prod.amin(-1), prod.amax(-1)]).double()
        cur = (base[t, idx] + arrays.dg_us * ends) * v_unit
        lo, hi = min(lo, float(cur[0].min())), max(hi, float(cur[1].max()))
    return lo, hi


def nominal_read(
    q: Tensor, arrays: NominalArrays, plan: ReadPlan, combine: Tensor | None, dtype: torch.dtype
) -> Tensor:
    r""":func:`read_layer` of one noise-free draw on nominal arrays (``plan.sigma_us`` and
    ``plan.effects`` are not applied): the currents from exact integer products, then the
    same ADC codes and shift-and-add.

    Args:
        q: A `1 x M x K`-dim Tensor of signed integer inputs.
        arrays: The nominal arrays.
        plan: The read plan.
        combine: An optional `n x out`-dim Tensor applied per block.
        dtype: Floating dtype of the codes and of the result.

    Returns:
        A `1 x M x out`-dim Tensor, as :func:`read_layer`.
    """
    m_total = q.shape[1]
    t_r, rows_used, n = arrays.levels.shape
    pc = plan.passes
    weights = plan.cycle_weights(dtype, q.device)
    if plan.adc is not None:
        lo, step, top = plan.adc
        scale, start = plan.v_unit / step, -lo / step
    else:
        scale, start, top = plan.v_unit, 0.0, 0
    a_l, a_s = scale * arrays.dg_us, scale * arrays.g_off_us  # per unit of Σ v L, of Σ v
    combine = None if combine is None else combine.to(dtype)
    mb = _int_block(n, plan)
    v = _int_digits(q[0], plan, rows_used)  # T x M·P·C x rows
    acc = torch.zeros(m_total, n, dtype=dtype)
    cur = torch.empty(min(mb, m_total) * pc, n, dtype=dtype)
    for t in range(t_r):  # tiles outside the blocks: each tile's operand converted once
        levels = arrays.tile_operand(t)
        for m0 in range(0, m_total, mb):
            m1 = min(m_total, m0 + mb)
            prod, vsum = arrays.tile_currents(v[t, m0 * pc : m1 * pc], t, levels)
            c = cur[: (m1 - m0) * pc]
            if dtype == torch.float32:  # int32 -> float32 in the same pass as the scaling
                torch.mul(prod, a_l, out=c)
            else:  # a float64 result (reference checks) computes in float64
                c.copy_(prod).mul_(a_l)
            c.add_(vsum.to(dtype).mul_(a_s).add_(start))
            if plan.adc is not None:
                c.round_().clamp_(0, top)
            acc[m0:m1].add_(torch.matmul(weights, c.view(m1 - m0, pc, n)))
    if combine is None:
        return acc.unsqueeze(0)
    out = torch.empty(1, m_total, combine.shape[1], dtype=dtype)
    for m0 in range(0, m_total, mb):  # per block, as read_layer combines
        out[0, m0 : m0 + mb] = acc[m0 : m0 + mb] @ combine
    return out
