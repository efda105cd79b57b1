r"""Read-out kernels of the analog forward pass: currents, read noise, ADC and shift-and-add.

One layer read by ``S`` programmed chips (:class:`simulator.analog.AnalogLayer`) is, per draw
``s``, row tile ``t``, sign pass and input cycle ``p`` (``P·C`` of them) and input row vector
``m``: word-line voltages ``v`` (a DAC digit of the quantized input times ``V_unit``), column
currents ``I = v @ G[s, t]`` [µA], read noise ``σ ||v||_2 ε`` per column, an ADC code
``clamp(round((I + noise - lo) / step), 0, top)``, and the shift-and-add
``Σ_{t,p} w_p code`` (``w_p = ±2**(dac_bits·cycle)``). That is ``P·C`` matrix products of the
clean layer's size per column of a weight (``cycles x columns-per-weight`` in all): the bound
the kernel is measured against (``bench/simulator.py``).

:func:`read_layer` computes exactly that, in blocks of input vectors sized to stay in cache
(:data:`BLOCK_ELEMENTS`): per block one matrix product accumulates into a buffer that already
holds the scaled read noise minus the ADC offset (the ADC's ``- lo`` and ``/ step`` are folded
into the conductances), then the codes are rounded and clipped in place and shift-added over
cycles by one matrix-vector product, and the digital combination (slices, differential pairs,
reference columns) is applied per block, so no tensor of every read is ever materialized.

**Column-sum tier** (``combine`` folded into the conductances, :func:`column_sum_conductance`):
the slice-weighted column currents of one output are summed in the analog domain and
digitized once per cycle (aihwkit's abstraction: one ADC reading per output and read), so a
layer costs ``cycles`` clean-size products instead of ``cycles x columns-per-weight``. The
read noise of the summed current is exactly that of the weighted sum of independent column
noises (``σ ||v|| · ||combine[:, o]||_2``); what changes is the ADC: one conversion of the sum
instead of one per slice column, so per-slice clipping and rounding are not modelled. The
summed current is signed (differential pairs, reference columns), so its ADC grid has zero
current on a code (:func:`zero_code_grid`, as aihwkit's symmetric ``out_res``/``out_bound``
quantizer): with the grid's offset left wherever ``lo`` puts it, every read near zero current
is rounded to up to half an LSB off zero, a bias that the shift-and-add multiplies by
``Σ_p 2**(dac_bits·p)`` and the row tiles (up to a full output standard deviation, measured on
a 1152-input layer at 64x64). Used for the lowest Monte-Carlo fidelities
(``CrossbarConfig.column_sum_below``).

The noise-free nominal chip on ideal wires (calibration, deterministic errors) is read from
exact integer products in :mod:`simulator.nominal`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Generator, Tensor

__all__ = [
    "BLOCK_ELEMENTS",
    "ReadPlan",
    "column_sum_conductance",
    "current_range",
    "input_digits",
    "read_layer",
    "zero_code_grid",
]

BLOCK_ELEMENTS = 1 << 18
"""Column readings (elements) per block of the read loop: 1 MiB of float32, cache-sized."""

CurrentEffect = Callable[[Tensor, Tensor, Generator | None], Tensor]
"""A read-time effect other than read noise: ``(currents [µA], v_norm [V], generator) ->
currents`` on a `B x cols` block (applied before the ADC)."""


@dataclass(frozen=True, kw_only=True)
class ReadPlan:
    """How the input vectors of a layer become word-line voltages and ADC codes."""

    v_unit: float
    """Word-line voltage of one DAC step [V]."""
    dac_bits: int
    """Input bits per cycle."""
    cycles: int
    """Cycles per input integer, ``ceil(input_bits / dac_bits)``."""
    signed: bool
    """Negative inputs are read in a second sign pass."""
    rows: int
    """Rows per array (the row-tile height)."""
    row_tiles: int
    """Arrays along the input dimension."""
    adc: tuple[float, float, int] | None = None
    """``(lo [µA], step [µA], top code)``, or ``None`` for an ideal read-out (currents)."""
    sigma_us: float = 0.0
    """Read-noise σ of one cell on one read [µS]."""
    col_noise: Tensor | None = None
    r"""A `cols`-dim Tensor scaling the read noise of each column (column-sum tier), or
    ``None`` (1)."""
    effects: tuple[CurrentEffect, ...] = ()
    """Other read-time effects (applied per block, before the ADC)."""

    @property
    def passes(self) -> int:
        """Sign passes times cycles, ``P·C``."""
        return (2 if self.signed else 1) * self.cycles

    def cycle_weights(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> Tensor:
        r"""The `P·C`-dim shift-and-add weights ``±2**(dac_bits·cycle)``."""
        w = [float(2 ** (self.dac_bits * c)) for c in range(self.cycles)]
        if self.signed:
            w = w + [-x for x in w]
        return torch.tensor(w, dtype=dtype, device=device)


def input_digits(q: Tensor, plan: ReadPlan, out: Tensor | None = None) -> Tensor:
    r"""DAC digits of every cycle for a block of quantized inputs (word-line voltages in
    units of ``v_unit``).

    Args:
        q: A `B x K`-dim Tensor of signed integer inputs (float dtype).
        plan: The read plan.
        out: Optional buffer of at least `P·C x B x width` elements whose padding is zero.

    Returns:
        A `P·C x B x row_tiles x rows`-dim Tensor of digits (rows past ``K`` are 0; with one
        row tile the last dimension is ``K``), cycle ``c`` of pass ``p`` at index
        ``p·C + c`` (least significant digit first): cycle-major, so the shift-and-add over
        cycles is one matrix-vector product of contiguous slabs.
    """
    b, k = q.shape
    width = plan.rows * plan.row_tiles if plan.row_tiles > 1 else k
    if out is None:
        v = q.new_zeros(plan.passes, b, width)
    else:
        v = out.view(-1)[: b * plan.passes * width].view(plan.passes, b, width)
    qi = q.to(torch.int32)
    parts = torch.stack([qi.clamp_min(0), (-qi).clamp_min(0)]) if plan.signed else qi[None]
    # Every cycle's digit in one broadcast shift: passes x cycles x B x K.
    shifts = _shifts(plan, q.device)
    v[:, :, :k].unflatten(0, (parts.shape[0], plan.cycles)).copy_(
        (parts[:, None] >> shifts).bitwise_and_(2**plan.dac_bits - 1)
    )
    return v.view(plan.passes, b, plan.row_tiles, -1)


def _shifts(plan: ReadPlan, device: torch.device | str) -> Tensor:
    """The `cycles x 1 x 1` int32 bit offsets ``dac_bits·cycle`` of the digits."""
    shifts = torch.arange(plan.cycles, dtype=torch.int32, device=device) * plan.dac_bits
    return shifts.view(-1, 1, 1)


def _block(n_cols: int, plan: ReadPlan) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, plan.passes * n_cols))


def read_layer(
    q: Tensor,
    g: Tensor,
    plan: ReadPlan,
    combine: Tensor | None = None,
    generator: Generator | None = None,
) -> Tensor:
    r"""Shift-added ADC codes of every input vector on every draw (module docstring).

    Args:
        q: A `S x M x K`-dim Tensor of signed integer inputs (float dtype).
        g: A `S x row_tiles x rows_used x n`-dim Tensor of read conductances [µS].
        plan: The read plan (ADC, noise, digits).
        combine: An optional `n x out`-dim Tensor applied to the shift-added codes (the
            digital combination of columns), per block.
        generator: Random source of the read noise.

    Returns:
        A `S x M x out`-dim Tensor (``out = n`` without ``combine``):
        ``Σ_{t,p} w_p code[s, t, p, m, :] @ combine`` with codes in ADC LSBs, or currents [µA]
        for an ideal read-out (``plan.adc is None``).
    """
    s_draws, m_total, _ = q.shape
    t_r, rows_used, n = g.shape[1], g.shape[2], g.shape[3]
    pc = plan.passes
    weights = plan.cycle_weights(g.dtype, g.device)
    # Digits in, currents out: v_unit goes into the conductances, and with an ADC so does the
    # LSB (currents in LSBs; the offset -lo/step starts every accumulation).
    if plan.adc is not None:
        lo, step, top = plan.adc
        g = g * (plan.v_unit / step)
        noise_scale, start = plan.sigma_us * plan.v_unit / step, -lo / step
    else:
        g = g * plan.v_unit
        noise_scale, start, top = plan.sigma_us * plan.v_unit, 0.0, 0
    folded = not plan.effects  # fallback: plain currents, effects, then the ADC
    out_cols = n if combine is None else combine.shape[1]
    out = g.new_empty(s_draws, m_total, out_cols)
    mb = _block(n, plan)
    buf = g.new_empty(mb * pc, n)
    acc = g.new_empty(mb, n)
    width = plan.rows * t_r if t_r > 1 else q.shape[-1]
    v_buf = g.new_zeros(mb * pc * width)
    col_noise = None if plan.col_noise is None else plan.col_noise.to(g)
    for s in range(s_draws):
        for m0 in range(0, m_total, mb):
            m1 = min(m_total, m0 + mb)
            b = m1 - m0
            v = input_digits(q[s, m0:m1], plan, v_buf)[..., :rows_used]  # PC x b x T_r x rows
            noisy = plan.sigma_us > 0
            v_norm = torch.linalg.vector_norm(v, dim=-1) if noisy or plan.effects else None
            a = acc[:b]
            a.zero_()
            for t in range(t_r):
                vt = v[:, :, t].reshape(b * pc, rows_used)
                cur = buf[: b * pc]
                if folded:
                    if noisy:
                        torch.randn(cur.shape, generator=generator, out=cur)
                        cur.mul_(v_norm[:, :, t].reshape(-1, 1) * noise_scale)
                        if col_noise is not None:
                            cur.mul_(col_noise)
                        if start:  # 0 when the ADC range starts at 0 (non-negative inputs)
                            cur.add_(start)
                    else:
                        cur.fill_(start)
                    cur.addmm_(vt, g[s, t])
                else:
                    torch.mm(vt, g[s, t] * (step if plan.adc else 1.0), out=cur)
                    volts = v_norm[:, :, t].reshape(-1, 1) * plan.v_unit
                    if noisy:
                        eps = torch.randn(
                            cur.shape, generator=generator, dtype=cur.dtype, device=cur.device
                        )
                        scale = volts * plan.sigma_us
                        cur.addcmul_(eps, scale if col_noise is None else scale * col_noise)
                    for effect in plan.effects:
                        cur.copy_(effect(cur, volts.reshape(-1), generator))
                    if plan.adc is not None:
                        cur.sub_(lo).div_(step)
                if plan.adc is not None:
                    cur.round_().clamp_(0, top)
                # Shift-and-add over the P·C cycles (rows p·b + m): one matrix-vector product.
                a.view(1, -1).addmm_(weights[None], cur.view(pc, b * n))
            out[s, m0:m1] = a if combine is None else a @ combine
    return out


def current_range(q: Tensor, g: Tensor, plan: ReadPlan) -> tuple[float, float]:
    r"""``(min, max)`` of the noise-free column currents of every read [µA].

    Args:
        q: A `1 x M x K`-dim Tensor of signed integer inputs.
        g: A `1 x row_tiles x rows_used x n`-dim Tensor of conductances [µS].
        plan: The read plan (digits and tiles; ADC and noise are ignored).
    """
    lo, hi = math.inf, -math.inf
    t_r, rows_used, n = g.shape[1:]
    mb = _block(n, plan)
    g = g * plan.v_unit
    for m0 in range(0, q.shape[1], mb):
        v = input_digits(q[0, m0 : m0 + mb], plan)[..., :rows_used]
        for t in range(t_r):
            cur = v[:, :, t].reshape(-1, rows_used) @ g[0, t]
            lo, hi = min(lo, float(cur.min())), max(hi, float(cur.max()))
    return (lo, hi) if math.isfinite(lo) else (0.0, 0.0)


def zero_code_grid(lo: float, hi: float, top: int) -> tuple[float, float, int]:
    r"""``(offset [µA], step [µA], top)`` of the finest ADC grid with zero current on a code
    that covers ``[min(lo, 0), max(hi, 0)]`` [µA] with codes ``0..top``: the zero code
    ``k`` next to where the plain grid ``lo + code·(hi - lo)/top`` puts zero, and the smallest
    step for which codes ``-k..top-k`` (times the step) reach both ends (the column-sum tier's
    signed summed current, module docstring)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi <= lo:
        return 0.0, 1.0, top
    plain = -lo / ((hi - lo) / top)  # where zero falls on the plain grid [codes]
    best = math.inf, 0
    for k in {min(top, max(0, math.floor(plain))), min(top, max(0, math.ceil(plain)))}:
        below = -lo / k if k else (0.0 if lo == 0.0 else math.inf)
        above = hi / (top - k) if k < top else (0.0 if hi == 0.0 else math.inf)
        best = min(best, (max(below, above), k))
    step, k = best
    return -k * step, step, top


def column_sum_conductance(g: Tensor, combine: Tensor) -> tuple[Tensor, Tensor]:
    r"""Conductances of the column-sum tier: slice columns summed with their digital weights.

    Args:
        g: A `S x row_tiles x rows_used x n`-dim Tensor of read conductances [µS].
        combine: The `n x out`-dim combination matrix (level-unit weights of each column).

    Returns:
        ``(g_sum, col_noise)``: the `S x row_tiles x rows_used x out`-dim Tensor
        ``g @ combine`` [µS, weighted] and the `out`-dim noise factor
        ``||combine[:, o]||_2`` of each summed column.
    """
    combine = combine.to(g)
    return g @ combine, torch.linalg.vector_norm(combine, dim=0)
