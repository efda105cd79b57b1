r"""IR drop: column currents of a crossbar with resistive word and bit lines.

Circuit (the same in every solver here and in the ngspice netlist of ``simulator.spice``):

* Row ``i`` (word line) is driven at its left end by an ideal voltage source ``v_i`` [V].
  A wire segment of ``r_wire_ohm`` [Ω] joins the source to the first cell, and one segment
  joins each pair of neighbouring cells along the row. The right end of a row is open.
* Cell ``(i, j)`` is a conductance ``g_ij`` [S] between word-line node ``u_ij`` and bit-line
  node ``w_ij``.
* Column ``j`` (bit line) is read at its bottom: one segment joins neighbouring cells down
  the column and one more joins the last cell (row ``R - 1``) to the sense amplifier, which
  holds its input at virtual ground (0 V, transimpedance sensing). The top end is open.
* The column current ``y_j`` is the current into the sense amplifier.

So a row has ``C`` segments and a column has ``R`` segments, each ``r_wire_ohm``. With
``r_wire_ohm = 0`` every method returns the ideal ``v @ g``.

Because the network is linear, ``y = v @ G_eff`` for an effective conductance matrix
``G_eff(g, r)`` that does not depend on ``v``. The methods differ in how they get there:

``"ideal"``
    ``v @ g``.
``"first_order"``
    Expand the node voltages to first order in ``r``. With the ideal cell currents
    ``I0_ij = g_ij v_i``, the word-line drop at cell ``(i, j)`` is
    ``r v_i Σ_m (min(j, m) + 1) g_im`` (segments ``0..j`` carry the current of every cell at
    or beyond them) and the bit-line voltage is ``r Σ_k (R - max(i, k)) g_kj v_k``. Summing
    ``g_ij (v_i - drop_ij - w_ij)`` over ``i`` gives

    .. math:: y = v\,\bigl[g \odot (1 - r\,(S_U + S_W))\bigr],

    where ``S_U = cumsum_j(revcumsum_j(g))`` and ``S_W = revcumsum_i(cumsum_i(g))``. Both are
    O(rows·cols) prefix sums computed once per programmed array; each input then costs one
    matmul, as in aihwkit's ``applyIrDrop`` (derived here for this circuit). The Taylor form
    goes negative once the drop nears 100 %, so we use its resummation
    ``G_eff = g / (1 + r (S_U + S_W))``, which agrees to first order in ``r`` and is about
    ten times closer to the exact solution (measured in ``bench/simulator_ir.py``).
``"relaxation"``
    Damped fixed-point iteration on the cell currents (CrossSim's ``solve_mvm`` style): from
    the cell currents, the word- and bit-line node voltages follow exactly by prefix sums;
    from the node voltages, new cell currents follow from Ohm's law. The update is
    ``I ← (1 - γ) I + γ g ⊙ (v - K I)`` with ``K`` the (symmetric positive semi-definite)
    wire operator, whose spectrum is bounded by ``λ = max_ij g_ij r (a_j + b_i)``; the
    damping ``γ = 2 / (2 + λ)`` makes the iteration a contraction with rate ``λ / (2 + λ)``.
    Fully vectorized over every batch dimension.
``"solved"`` (inference only, :func:`effective_conductance`)
    Conjugate gradients on the same network, one probe per driven word line
    (:mod:`simulator.nonideal.ir_cg`); within 0.2 % of ``"exact"`` at 128x128, 100 µS, 2 Ω,
    where ``"first_order"`` misses by 4-7 %.
``"exact"``
    Nodal analysis: the ``2·rows·cols`` node voltages solve a sparse symmetric linear system
    (``scipy.sparse``, LU factorization in float64). For validation, not for inference.

In inference the simulator reads arrays through :func:`effective_conductance` (in µS): the
``"first_order"`` matrix per programmed draw, optionally corrected towards ``"solved"`` or
``"relaxation"`` by the difference of the two on the nominal arrays plus that difference's
own-cell derivative times each cell's programming deviation (:func:`drop_correction`,
:mod:`simulator.nonideal.ir_transfer`), computed once per layer (and cached by nominal array
content) by probing the driven word lines with conjugate gradients (the derivative's adjoint
field in closed form). The correction is solved and the draws' matrices are formed a chunk
of arrays at a time (:data:`_SOLVE_ELEMENTS`, :data:`_APPLY_ELEMENTS`; in the draws' own
buffer with ``inplace``), so the temporaries stay small beside the programmed conductances.

References:
    .. [Rasch2023] M. J. Rasch et al., "Hardware-aware training for large-scale and diverse
       deep learning inference workloads using in-memory computing-based accelerators",
       Nature Communications 14, 5282 (2023) (aihwkit, first-order IR-drop model).
    .. [Xiao2022] T. P. Xiao et al., "On the accuracy of analog neural network inference
       accelerators", IEEE Circuits and Systems Magazine 22(4), 2022 (CrossSim, parasitic
       resistance solved by iterative relaxation).
"""

from __future__ import annotations

import logging
import math
import warnings

import torch
from torch import Tensor

from simulator.nonideal.ir_cg import (
    ADJOINT_FIELDS,
    SOLVED_TOL,
    probe_block_arrays,
    resolve_adjoint,
    solved_conductance,
    solved_response,
    wire_operator,
)
from simulator.nonideal.ir_exact import exact_column_currents, exact_currents
from simulator.nonideal.ir_transfer import DropCorrection, cached_correction, first_order_slope

logger = logging.getLogger(__name__)

__all__ = [
    "IR_DROP_METHODS",
    "IR_DROP_MODES",
    "column_currents",
    "drop_correction",
    "effective_conductance",
    "exact_column_currents",
    "first_order_conductance",
    "relaxation_correction",
]

IR_DROP_METHODS: tuple[str, ...] = ("ideal", "first_order", "relaxation", "exact")
"""Names accepted by :func:`column_currents`, cheapest first."""

DEFAULT_TOL = 1e-7
"""Relaxation stops when the largest current update is below ``tol`` times the largest
cell current (relative, dimensionless)."""

DEFAULT_MAX_ITER = 2000
"""Relaxation iteration cap."""

IR_DROP_MODES: tuple[str, ...] = ("ideal", "first_order", "solved", "relaxation")
"""IR-drop models usable in inference. ``"solved"`` and ``"relaxation"`` solve each nominal
array once by conjugate gradients (:mod:`simulator.nonideal.ir_cg`), to
:data:`~simulator.nonideal.ir_cg.SOLVED_TOL` and to :data:`RELAXATION_TOL`, and add the
difference to the per-draw first-order model (see :func:`drop_correction`). ``"relaxation"``
keeps its name from the damped relaxation it used to run (``column_currents(...,
"relaxation")``, the same network): that reached the same tolerance at 4x the CPU time of
conjugate gradients on VGG8's arrays, on top of the gradients the slope needs anyway."""

RELAXATION_TOL = 1e-6
"""Relative residual of the nominal arrays' solve in the ``"relaxation"`` mode (float32: the
column currents agree with a float64 relaxation to 2e-6 on VGG8's arrays, 7e-6 at 256x256,
1-100 µS, 2 Ω)."""

_APPLY_ELEMENTS = 1 << 20
"""Cells whose effective conductance :func:`effective_conductance` forms at once (the
first-order matrix and the correction take several temporaries of that size, not of every
programmed draw's: 0.5 GB per temporary for two draws of VGG8's first linear layer)."""

_SOLVE_ELEMENTS = 1 << 20
"""Cells whose correction :func:`drop_correction` solves at once (rounded to whole blocks of
the solve, :func:`~simulator.nonideal.ir_cg.probe_block_arrays`, so the pieces give the
one-piece values bit for bit): the solve's fields, the adjoint field and the first-order
terms are temporaries of a piece's size, not of the layer's (VGG8's first linear layer has
67 M cells, 268 MB per float32 temporary)."""


def column_currents(
    v: Tensor,
    g: Tensor,
    r_wire_ohm: float,
    method: str = "first_order",
    *,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> Tensor:
    r"""Bit-line currents of a crossbar with wire resistance.

    Args:
        v: A `(batch) x B x rows`-dim Tensor of word-line drive voltages [V].
        g: A `(batch) x rows x cols`-dim Tensor of cell conductances [S], all >= 0.
            Leading batch dimensions of ``v`` and ``g`` broadcast (e.g. ``S`` Monte-Carlo
            draws of ``g`` against one input batch).
        r_wire_ohm: Wire resistance per cell segment [Ω], >= 0 (see the module docstring for
            the circuit).
        method: One of :data:`IR_DROP_METHODS`.
        tol: Relative convergence tolerance of ``"relaxation"``.
        max_iter: Iteration cap of ``"relaxation"``; a warning is issued if it is reached.

    Returns:
        A `(batch) x B x cols`-dim Tensor of column currents [A] into the virtual-ground sense
        amplifiers, in the promoted dtype of ``v`` and ``g``.

    Raises:
        ValueError: If ``method`` is unknown, ``r_wire_ohm`` is negative or not finite,
            ``v`` and ``g`` disagree on ``rows``, or ``tol``/``max_iter`` are not positive.
    """
    if method not in IR_DROP_METHODS:
        raise ValueError(f"method must be one of {IR_DROP_METHODS}, got {method!r}.")
    if not math.isfinite(r_wire_ohm) or r_wire_ohm < 0:
        raise ValueError(f"r_wire_ohm must be a finite value >= 0, got {r_wire_ohm!r}.")
    if v.dim() < 2 or g.dim() < 2:
        raise ValueError(
            f"v must be (batch) x B x rows and g (batch) x rows x cols; got v.shape="
            f"{tuple(v.shape)}, g.shape={tuple(g.shape)}."
        )
    if v.shape[-1] != g.shape[-2]:
        raise ValueError(
            f"v has {v.shape[-1]} rows (last dim) but g has {g.shape[-2]} rows (dim -2)."
        )
    dtype = torch.promote_types(v.dtype, g.dtype)
    v, g = v.to(dtype), g.to(dtype)
    if method == "ideal" or r_wire_ohm == 0.0:
        return v @ g
    if method == "first_order":
        return v @ first_order_conductance(g, r_wire_ohm)
    if method == "relaxation":
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol!r}.")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter!r}.")
        return _relaxation(v, g, r_wire_ohm, tol=tol, max_iter=max_iter)
    return exact_currents(v, g, r_wire_ohm)


def first_order_conductance(g: Tensor, r_wire_ohm: float) -> Tensor:
    r"""Effective conductance matrix of the first-order IR-drop model.

    Args:
        g: A `(batch) x rows x cols`-dim Tensor of cell conductances [S].
        r_wire_ohm: Wire resistance per cell segment [Ω].

    Returns:
        A `(batch) x rows x cols`-dim Tensor ``g / (1 + r (S_U + S_W))`` [S]; ``v @`` it gives
        the column currents, exact to first order in ``r``. Compute it once per programmed
        array and reuse it for every input.
    """
    return g / (1.0 + wire_operator(g, r_wire_ohm))


def _relaxation(v: Tensor, g: Tensor, r: float, *, tol: float, max_iter: int) -> Tensor:
    r"""Damped fixed-point iteration on cell currents; returns `(batch) x B x cols` [A]."""
    rows, cols = g.shape[-2], g.shape[-1]
    g4 = g.unsqueeze(-3)  # (batch) x 1 x rows x cols
    v4 = v.unsqueeze(-1)  # (batch) x B x rows x 1
    # Row sums of K (shared segments between cells) bound the spectrum of diag(g) K.
    j = torch.arange(cols, dtype=g.dtype, device=g.device)
    i = torch.arange(rows, dtype=g.dtype, device=g.device)
    a = (j + 1) * (j + 2) / 2 + (j + 1) * (cols - 1 - j)  # word line, per column index
    b = (rows - i) * (rows - i + 1) / 2 + (rows - i) * i  # bit line, per row index
    lam = float((g * r * (a.unsqueeze(0) + b.unsqueeze(1))).amax())
    gamma = 2.0 / (2.0 + lam)
    current = g4 * v4  # (batch) x B x rows x cols, ideal start
    scale = float(current.abs().amax().clamp_min(torch.finfo(g.dtype).tiny))
    for step in range(1, max_iter + 1):
        # Current through word-line segment j is the sum of cell currents at columns >= j.
        seg_u = torch.flip(torch.cumsum(torch.flip(current, (-1,)), -1), (-1,))
        u = v4 - r * seg_u.cumsum(-1)
        # Current through bit-line segment below row i is the sum of cell currents at rows <= i.
        seg_w = current.cumsum(-2)
        w = r * torch.flip(torch.cumsum(torch.flip(seg_w, (-2,)), -2), (-2,))
        update = gamma * (g4 * (u - w) - current)
        current = current + update
        if float(update.abs().amax()) <= tol * scale:
            logger.debug("IR-drop relaxation converged in %d iterations (gamma=%.3g)", step, gamma)
            break
    else:
        warnings.warn(
            f"IR-drop relaxation did not reach tol={tol:g} in max_iter={max_iter} iterations "
            f"(contraction rate {lam / (2 + lam):.4f}); raise max_iter.",
            RuntimeWarning,
            stacklevel=3,
        )
    return current.sum(-2)


# -- effective conductance of programmed arrays [µS] ---------------------------------------


def effective_conductance(
    g_us: Tensor,
    r_wire_ohm: float,
    mode: str,
    correction: DropCorrection | None = None,
    *,
    inplace: bool = False,
) -> Tensor:
    r"""The conductance matrix an input sees through the wires: ``I = v @ G_eff``.

    Args:
        g_us: A `... x rows x cols`-dim Tensor of programmed conductances [µS].
        r_wire_ohm: Wire resistance per cell segment [Ω].
        mode: One of :data:`IR_DROP_MODES`.
        correction: For ``"solved"`` and ``"relaxation"``: the nominal arrays' correction
            (from :func:`drop_correction`, broadcast against ``g_us``), applied to the
            first-order matrix of each draw (:class:`~simulator.nonideal.ir_transfer.
            DropCorrection`); ``None`` solves ``g_us`` itself (costly: every draw is solved).
        inplace: Write the result into ``g_us`` where the draws are formed a chunk at a time
            (a caller whose draws are a scratch buffer saves a buffer of their size: 0.5 GB
            for two draws of VGG8's first linear layer).

    Returns:
        A Tensor shaped like ``g_us`` [µS] (``g_us`` itself with ``inplace`` when it is
        contiguous and the draws match the correction's shape).

    Raises:
        ValueError: If ``mode`` is not one of :data:`IR_DROP_MODES`.
    """
    if mode not in IR_DROP_MODES:
        raise ValueError(f"ir_drop must be one of {IR_DROP_MODES}, got {mode!r}.")
    if mode == "ideal" or r_wire_ohm == 0.0:
        return g_us
    if mode != "first_order" and correction is None:
        return _model_conductance(g_us, r_wire_ohm, mode)
    fix = None if mode == "first_order" else correction
    rows, cols = g_us.shape[-2:]
    nominal = g_us.shape[:-2] if fix is None else fix.slope.shape[:-2]
    if fix is not None and tuple(g_us.shape[g_us.dim() - len(nominal) - 2 :]) != tuple(
        fix.slope.shape
    ):  # another broadcast: in one piece
        return fix.apply(first_order_conductance(g_us * 1e-6, r_wire_ohm) * 1e6, g_us)
    # Draw by draw, a chunk of arrays at a time: the temporaries are a chunk's size.
    arrays = math.prod(nominal)
    g3 = g_us.reshape(-1, arrays, rows, cols)
    # In place: a chunk is read before it is written (never into a view that aliases itself).
    out = g3 if inplace and g_us.is_contiguous() else torch.empty_like(g3)
    parts = None if fix is None else fix.flat(arrays)
    step = max(1, _APPLY_ELEMENTS // max(1, rows * cols))
    for s in range(g3.shape[0]):
        for a0 in range(0, arrays, step):
            g = g3[s, a0 : a0 + step]
            g_fo = first_order_conductance(g * 1e-6, r_wire_ohm) * 1e6
            if parts is not None:
                g_fo = DropCorrection(*(t[a0 : a0 + step] for t in parts)).apply(g_fo, g)
            out[s, a0 : a0 + step] = g_fo
    return out.reshape(g_us.shape)


def _model_conductance(
    g_us: Tensor, r_wire_ohm: float, mode: str, active_rows: int | None = None
) -> Tensor:
    """``G_eff`` [µS] of ``"solved"`` or ``"relaxation"`` arrays (conjugate gradients to
    :data:`~simulator.nonideal.ir_cg.SOLVED_TOL` or :data:`RELAXATION_TOL`)."""
    tol = RELAXATION_TOL if mode == "relaxation" else SOLVED_TOL
    return solved_conductance(g_us, r_wire_ohm, active_rows, tol=tol)


def drop_correction(
    g_nominal_us: Tensor,
    r_wire_ohm: float,
    mode: str,
    active_rows: int | None = None,
    *,
    adjoint: str = "auto",
) -> DropCorrection:
    r"""What first order misses on the nominal arrays, for ``mode`` ``"solved"`` or
    ``"relaxation"``: the cached per-layer correction of :func:`effective_conductance`.

    The programmed draws differ from the nominal arrays by programming noise; the first-order
    model follows that difference (it is exact to first order in ``r``), the solved nominal
    arrays supply what first order misses (``G_model - G_fo``), and that miss follows each
    cell's own deviation through its derivative (:mod:`simulator.nonideal.ir_transfer`). At
    128x128, g 1-100 µS, 2 Ω, ``wan2022`` programming noise: 0.32 % column-current error,
    against 1.2 % for the additive correction alone and 3.6 % for a ratio
    (``bench/simulator_ir.py``). Both modes solve by conjugate gradients (to
    :data:`~simulator.nonideal.ir_cg.SOLVED_TOL` or :data:`RELAXATION_TOL`), which give the
    model and the slope's forward field; the adjoint field per ``adjoint``. The arrays are
    solved :data:`_SOLVE_ELEMENTS` cells at a time (the temporaries are a piece's size); the
    result holds two values per cell (:class:`~simulator.nonideal.ir_transfer.
    DropCorrection`) and is cached by nominal array content (a hit returns the same object).

    Args:
        g_nominal_us: A `... x rows x cols`-dim Tensor of nominal conductances [µS].
        r_wire_ohm: Wire resistance per cell segment [Ω].
        mode: ``"solved"`` or ``"relaxation"``.
        active_rows: Word lines that inputs drive (the correction is 0 on the others, which
            never carry input and whose ``G_eff`` rows are never read).
        adjoint: How the slope's adjoint field is obtained, one of
            :data:`~simulator.nonideal.ir_cg.ADJOINT_FIELDS` (see
            :func:`~simulator.nonideal.ir_cg.solved_response`).

    Returns:
        A :class:`~simulator.nonideal.ir_transfer.DropCorrection` shaped like the input.

    Raises:
        ValueError: If ``mode`` is not ``"solved"`` or ``"relaxation"``, or ``adjoint`` is
            unknown.
    """
    if mode not in ("solved", "relaxation"):
        raise ValueError(f"mode must be 'solved' or 'relaxation', got {mode!r}.")
    if adjoint not in ADJOINT_FIELDS:
        raise ValueError(f"adjoint must be one of {ADJOINT_FIELDS}, got {adjoint!r}.")

    def solve() -> DropCorrection:
        if r_wire_ohm == 0.0:
            zero = torch.zeros_like(g_nominal_us)
            return DropCorrection(intercept_us=zero, slope=zero)
        tol = RELAXATION_TOL if mode == "relaxation" else SOLVED_TOL
        field = resolve_adjoint(g_nominal_us, r_wire_ohm, adjoint)  # once for every piece
        rows, cols = g_nominal_us.shape[-2:]
        flat = g_nominal_us.reshape(-1, rows, cols)
        intercept, slope = torch.empty_like(flat), torch.empty_like(flat)
        block = probe_block_arrays(rows, cols, active_rows)
        step = block * max(1, _SOLVE_ELEMENTS // max(1, block * rows * cols))
        for a0 in range(0, flat.shape[0], step):
            g = flat[a0 : a0 + step]
            model, own = solved_response(g, r_wire_ohm, active_rows, tol=tol, adjoint=field)
            offset = model - first_order_conductance(g * 1e-6, r_wire_ohm) * 1e6
            own -= first_order_slope(g, r_wire_ohm)
            if active_rows is not None and active_rows < rows:
                offset[..., active_rows:, :] = 0.0
                own[..., active_rows:, :] = 0.0
            intercept[a0 : a0 + step] = offset - own * g
            slope[a0 : a0 + step] = own
        shape = g_nominal_us.shape
        return DropCorrection(intercept_us=intercept.reshape(shape), slope=slope.reshape(shape))

    parts = (mode, float(r_wire_ohm), active_rows, adjoint)
    return cached_correction(g_nominal_us, parts, solve)


def relaxation_correction(
    g_nominal_us: Tensor, r_wire_ohm: float, active_rows: int | None = None
) -> DropCorrection:
    r""":func:`drop_correction` with ``"relaxation"`` (the nominal arrays solved to
    :data:`RELAXATION_TOL`)."""
    return drop_correction(g_nominal_us, r_wire_ohm, "relaxation", active_rows)
