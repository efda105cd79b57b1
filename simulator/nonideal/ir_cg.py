r"""Effective conductance of programmed arrays by conjugate gradients on the wire network.

The circuit is that of :mod:`simulator.nonideal.ir_drop`. With cell currents ``I`` (one per
cell, `rows x cols`), the word-line node voltages are ``u = v - r·A_U(I)`` and the bit-line
node voltages ``w = r·A_W(I)``, where ``A_U(I)[i, j] = Σ_m (min(j, m) + 1) I[i, m]`` (a
word-line segment carries the current of every cell at or beyond it) and
``A_W(I)[i, j] = Σ_k (R - max(i, k)) I[k, j]`` (likewise down a bit line). Ohm's law at every
cell, ``I = g ⊙ (u - w)``, gives the linear system

.. math:: (\mathbb{1} + r\,D_g\,(A_U + A_W))\,I = g \odot v\,\mathbf{1}^\top .

``A_U + A_W`` is symmetric positive semi-definite, so with ``I = D_g^{1/2} z`` the system
``(1 + r D_g^{1/2} (A_U + A_W) D_g^{1/2}) z = D_g^{1/2} v 1ᵀ`` is symmetric positive definite
with eigenvalues in ``[1, 1 + λ]`` (``λ`` as in the relaxation of ``ir_drop``), and conjugate
gradients converge at the rate ``(√(1+λ) - 1) / (√(1+λ) + 1)``: about 0.35 per iteration at
128x128, 100 µS and 2 Ω (λ ≈ 3.3), against 0.62 for the damped relaxation. Every ``A``
application is two prefix sums along each axis, vectorized over every batch dimension.

The network is linear, so row ``k`` of the effective conductance ``G_eff`` (``y = v @ G_eff``)
is the column-current response to 1 V on word line ``k`` alone: one probe per driven row,
solved together as a batch.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

__all__ = ["PROBE_ELEMENTS", "SOLVED_MAX_ITER", "SOLVED_TOL", "solved_conductance",
           "solved_response", "wire_operator"]

SOLVED_TOL = 1e-4
"""Relative residual ``||b - A z|| / ||b||`` (per probe) at which the solve stops, from the
first-order start. Measured in
``bench/simulator_ir.py``: column-current error below 0.1 % of the exact nodal solution at
128x128, g up to 100 µS, 2 Ω per segment."""

SOLVED_MAX_ITER = 60
"""Iteration cap (the contraction above needs about 8 iterations for ``SOLVED_TOL`` at
λ ≈ 3.3; the cap only guards pathological inputs)."""

PROBE_ELEMENTS = 1 << 23
"""Largest probe batch (elements of the `probes x rows x cols` current tensor) solved at once."""


def wire_operator(current: Tensor, r_wire_ohm: float) -> Tensor:
    r"""``r (A_U + A_W) I``: the wire drops [V] that cell currents ``I`` [A] cause.

    Args:
        current: A `... x rows x cols`-dim Tensor of cell currents [A].
        r_wire_ohm: Wire resistance per segment [Ω].

    Returns:
        A Tensor of the same shape [V]: word-line drop from the driver plus bit-line rise
        above the sense amplifier at every cell, ``(v - u) + w``.
    """
    # Without flips: with c = cumsum_j I, the word-line term Σ_m (min(j, m) + 1) I_m is
    # (j + 1) c_last - cumsum_j(c) + c; with d = cumsum_i I, the bit-line term
    # Σ_k (R - max(i, k)) I_k is Σ_i d - cumsum_i(d) + d.
    c = current.cumsum(-1)
    d = current.cumsum(-2)
    out = c - c.cumsum(-1)
    out += d
    out -= d.cumsum(-2)
    weight = torch.arange(1, current.shape[-1] + 1, dtype=current.dtype, device=current.device)
    out += c[..., -1:] * weight
    out += d.sum(-2, keepdim=True)
    return out.mul_(r_wire_ohm)


def _solve_probes(
    g_s: Tensor, rows: Tensor, r: float, tol: float, max_iter: int
) -> tuple[Tensor, Tensor]:
    r"""Column currents [A] and driven-row cell voltages [V] for 1 V on each word line of
    ``rows``.

    Args:
        g_s: A `A x 1 x R x C`-dim Tensor of conductances [S] (``A`` arrays).
        rows: Indices of the probed word lines, `P`-dim.

    Returns:
        Two `A x P x C`-dim Tensors: the column currents [A], and the voltage ``u - w``
        [V] across each cell of the driven word line (row ``rows[p]`` of probe ``p``).
    """
    tiny = torch.finfo(g_s.dtype).tiny
    sqrt_g = g_s.sqrt()
    probe = torch.arange(rows.numel(), device=g_s.device)
    shape = (g_s.shape[0], rows.numel(), *g_s.shape[-2:])
    z = torch.zeros(shape, dtype=g_s.dtype, device=g_s.device)
    z[:, probe, rows, :] = 1.0
    # Start from the first-order currents I1 = g ⊙ (v 1ᵀ - r(A_U + A_W)(g ⊙ v 1ᵀ)), so that
    # the iteration only adds what first order misses (in z = D^{-1/2} I: sqrt(g) ⊙ (...)).
    z.sub_(wire_operator(z * g_s, r)).mul_(sqrt_g)
    res = torch.zeros(shape, dtype=g_s.dtype, device=g_s.device)
    res[:, probe, rows, :] = sqrt_g[:, 0, rows, :]  # right-hand side D^{1/2} v 1^T
    stop = (tol * tol) * g_s[:, 0, rows, :].sum(-1)[..., None, None].clamp_min(tiny)
    res.sub_(z).sub_(wire_operator(sqrt_g * z, r).mul_(sqrt_g))
    p = res.clone()
    rr = (res * res).sum((-2, -1), keepdim=True)
    if bool((rr <= stop).all()):
        return _currents_and_row_voltages(z.mul_(sqrt_g), rows, r)
    for step in range(1, max_iter + 1):
        ap = wire_operator(sqrt_g * p, r).mul_(sqrt_g).add_(p)
        alpha = rr / (p * ap).sum((-2, -1), keepdim=True).clamp_min(tiny)
        z.addcmul_(p, alpha)
        res.addcmul_(ap, alpha, value=-1.0)
        del ap
        rr_new = (res * res).sum((-2, -1), keepdim=True)
        if bool((rr_new <= stop).all()):
            logger.debug("IR-drop CG converged in %d iterations", step)
            break
        p.mul_(rr_new / rr.clamp_min(tiny)).add_(res)
        rr = rr_new
    else:
        logger.warning("IR-drop CG reached max_iter=%d before tol=%g", max_iter, tol)
    return _currents_and_row_voltages(z.mul_(sqrt_g), rows, r)


def _currents_and_row_voltages(
    current: Tensor, rows: Tensor, r: float
) -> tuple[Tensor, Tensor]:
    r"""Column sums [A] of `A x P x R x C` cell currents [A], and the cell voltages
    ``1 - r (A_U + A_W)(I)`` [V] along each probe's driven row (`A x P x C` each).

    Only the driven row of the wire drop is formed: the word-line term needs that row's
    currents, the bit-line term ``Σ_i (R - max(i, k)) I[i, j]`` one weighted column sum.
    """
    n_rows, cols = current.shape[-2:]
    probe = torch.arange(rows.numel(), device=current.device)
    row_current = current[:, probe, rows, :]  # A x P x C
    seg_u = torch.flip(torch.cumsum(torch.flip(row_current, (-1,)), -1), (-1,)).cumsum(-1)
    i = torch.arange(n_rows, device=current.device)
    weight = (n_rows - torch.maximum(i.unsqueeze(0), rows.unsqueeze(1))).to(current.dtype)
    seg_w = torch.einsum("pi,apij->apj", weight, current)
    return current.sum(-2), 1.0 - r * (seg_u + seg_w)


def solved_conductance(
    g_us: Tensor,
    r_wire_ohm: float,
    active_rows: int | None = None,
    *,
    tol: float = SOLVED_TOL,
    max_iter: int = SOLVED_MAX_ITER,
) -> Tensor:
    r"""Effective conductance of every array, solved by conjugate gradients (see module).

    Args:
        g_us: A `... x rows x cols`-dim Tensor of programmed conductances [µS], >= 0.
        r_wire_ohm: Wire resistance per cell segment [Ω], > 0.
        active_rows: Solve only word lines ``0..active_rows-1`` (the ones inputs drive); the
            other rows of the result are 0 (never read).
        tol: Relative residual per probe at which the iteration stops.
        max_iter: Iteration cap (a warning is logged if it is reached).

    Returns:
        A Tensor shaped like ``g_us`` [µS], in its dtype: ``v @`` it gives the column
        currents [µA] for word-line voltages ``v`` [V].

    Raises:
        ValueError: If ``r_wire_ohm`` is not > 0, ``tol`` not > 0 or ``max_iter`` < 1.
    """
    return _solve_arrays(g_us, r_wire_ohm, active_rows, tol, max_iter)[0]


def solved_response(
    g_us: Tensor,
    r_wire_ohm: float,
    active_rows: int | None = None,
    *,
    tol: float = SOLVED_TOL,
    max_iter: int = SOLVED_MAX_ITER,
) -> tuple[Tensor, Tensor]:
    r"""Effective conductance and its derivative in each cell's own conductance.

    ``∂G_eff[k, j] / ∂g[k, j]`` is, by reciprocity (adjoint network), the product of the
    voltage across cell ``(k, j)`` with 1 V on word line ``k`` and the one with 1 V at the
    sense amplifier of bit line ``j`` (every other port at 0 V). Rotating the array by
    transposing it and reversing both axes turns bit lines into driven word lines with the
    same circuit, so the second field is a forward probe of the rotated array: the cost is
    ``rows + cols`` probes instead of ``rows``.

    Args:
        g_us: A `... x rows x cols`-dim Tensor of conductances [µS], >= 0.
        r_wire_ohm: Wire resistance per cell segment [Ω], > 0.
        active_rows: As in :func:`solved_conductance` (both results are 0 on other rows).
        tol: Relative residual per probe at which the iteration stops.
        max_iter: Iteration cap (a warning is logged if it is reached).

    Returns:
        ``(G_eff, slope)``: Tensors shaped like ``g_us``, ``G_eff`` [µS] as in
        :func:`solved_conductance` and ``slope`` the dimensionless derivative [µS/µS].

    Raises:
        ValueError: As :func:`solved_conductance`.
    """
    g_eff, v_row = _solve_arrays(g_us, r_wire_ohm, active_rows, tol, max_iter)
    rotated = g_us.flip(-2, -1).transpose(-2, -1)
    _, v_col = _solve_arrays(rotated, r_wire_ohm, None, tol, max_iter)
    return g_eff, v_row * v_col.flip(-2, -1).transpose(-2, -1)


def _solve_arrays(
    g_us: Tensor, r_wire_ohm: float, active_rows: int | None, tol: float, max_iter: int
) -> tuple[Tensor, Tensor]:
    """``G_eff`` [µS] and the driven-row cell voltages [V] (per probed row), shaped like
    ``g_us``; rows at or past ``active_rows`` are 0."""
    if not r_wire_ohm > 0:
        raise ValueError(f"r_wire_ohm must be > 0, got {r_wire_ohm!r}.")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}.")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}.")
    rows, cols = g_us.shape[-2:]
    active = rows if active_rows is None else max(1, min(rows, active_rows))
    flat = (g_us.reshape(-1, 1, rows, cols) * 1e-6).clamp_min(0.0)
    out = torch.zeros(flat.shape[0], rows, cols, dtype=g_us.dtype, device=g_us.device)
    volts = torch.zeros_like(out)
    per_array = active * rows * cols
    arrays = max(1, PROBE_ELEMENTS // per_array)
    probes = active if arrays > 1 else max(1, PROBE_ELEMENTS // (rows * cols))
    for a0 in range(0, flat.shape[0], arrays):
        block = flat[a0 : a0 + arrays]
        for i0 in range(0, active, probes):
            idx = torch.arange(i0, min(i0 + probes, active), device=g_us.device)
            currents, row_volts = _solve_probes(block, idx, r_wire_ohm, tol, max_iter)
            out[a0 : a0 + block.shape[0], idx] = currents * 1e6
            volts[a0 : a0 + block.shape[0], idx] = row_volts
    return out.reshape(g_us.shape), volts.reshape(g_us.shape)
