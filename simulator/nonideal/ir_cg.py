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
with eigenvalues in ``[1, 1 + ρ]``, ``ρ = max r (A_U + A_W)(g)`` the largest first-order drop
(:func:`_spectral_bound`), and conjugate gradients converge at least at the rate
``(√(1+ρ) - 1) / (√(1+ρ) + 1)``: 0.26 per iteration at 128x128, 1-100 µS, 2 Ω (ρ ≈ 1.9),
against 0.62 for the damped relaxation. Every ``A`` application is two prefix sums along each
axis, vectorized over every batch dimension.

The network is linear, so row ``k`` of the effective conductance ``G_eff`` (``y = v @ G_eff``)
is the column-current response to 1 V on word line ``k`` alone: one probe per driven row.
What a probe set costs is a few passes over its `probes x rows x cols` fields, so the solve
saves passes: the first-order start is formed in closed form (no operator application), the
last iteration is replaced by one Richardson step whenever the bound ``ρ`` guarantees the
tolerance after it (the digits workloads' arrays at 2 Ω, ρ ≈ 0.1, then need one operator
application per probe), and probes are solved in blocks of :data:`PROBE_ELEMENTS` that stay
in cache (a 4x difference per pass on the 2-core machine of ``bench/simulator_ir.py``).
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

__all__ = [
    "ADJOINT_FIELDS",
    "AUTO_ADJOINT_RHO",
    "PROBE_ELEMENTS",
    "SOLVED_MAX_ITER",
    "SOLVED_TOL",
    "adjoint_cell_voltage",
    "largest_drop",
    "probe_block_arrays",
    "resolve_adjoint",
    "solved_conductance",
    "solved_response",
    "wire_operator",
]

SOLVED_TOL = 1e-4
"""Relative residual ``||b - A z|| / ||b||`` (per probe) at which the solve stops, from the
first-order start. Measured in
``bench/simulator_ir.py``: column-current error below 0.1 % of the exact nodal solution at
128x128, g up to 100 µS, 2 Ω per segment."""

SOLVED_MAX_ITER = 60
"""Iteration cap (3-4 iterations reach ``SOLVED_TOL`` at ρ ≈ 1.9; the cap only guards
pathological inputs)."""

PROBE_ELEMENTS = 1 << 18
"""Largest probe batch (elements of the `probes x rows x cols` current tensor) solved at once:
16 probes of a 128x128 array, 1 MiB per float32 field (an L2 cache's worth)."""


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
    n_rows = g_s.shape[-2]
    sqrt_g = g_s.sqrt()
    probe = torch.arange(rows.numel(), device=g_s.device)
    # Start from the first-order currents I1 = g ⊙ (v 1ᵀ - K(g ⊙ v 1ᵀ)), K = r(A_U + A_W).
    # With 1 V on row k alone the ideal currents are row k of g, so K of them is closed form:
    # row k's own word-line drop r Σ_m (min(j, m) + 1) g[k, m] on row k, and the bit-line
    # rise r (R - max(i, k)) g[k, j] at every cell (i, j).
    g_row = g_s[:, 0, rows, :]  # A x P x C
    i = torch.arange(n_rows, device=g_s.device)
    n_k = (n_rows - torch.maximum(i.unsqueeze(0), rows.unsqueeze(1))).to(g_s.dtype)  # P x R
    drop = (r * n_k)[None, :, :, None] * g_row.unsqueeze(-2)  # K(I0): A x P x R x C
    # (wire_operator of a one-row array is that row's word-line term plus r g itself.)
    drop[:, probe, rows, :] += wire_operator(g_row.unsqueeze(-2), r).squeeze(-2) - r * g_row
    # In z = D^{-1/2} I the residual of that start is D^{1/2} K(g ⊙ K(I0)) (the second-order
    # term), and the start itself D^{1/2} (v 1ᵀ - K(I0)).
    res = wire_operator(drop * g_s, r).mul_(sqrt_g)
    z = drop.neg_()
    z[:, probe, rows, :] += 1.0
    z.mul_(sqrt_g)
    stop = (tol * tol) * g_row.sum(-1)[..., None, None].clamp_min(tiny)
    # The spectrum of the system lies in [1, 1 + ρ], ρ the largest first-order drop (see
    # _spectral_bound), so one Richardson step z + ω res with ω = 2 / (2 + ρ) shrinks any
    # residual at least by q = ρ / (2 + ρ): the solve ends with it as soon as that is enough,
    # without the operator application a CG iteration would take.
    rho = _spectral_bound(g_s, r)
    omega, q2 = 2.0 / (2.0 + rho), (rho / (2.0 + rho)).square()
    p = res.clone()
    rr = rr_old = (res * res).sum((-2, -1), keepdim=True)
    for step in range(max_iter + 1):
        if bool((rr * q2 <= stop).all()):
            z.addcmul_(res, omega)  # also when rr <= stop already: the residual is at hand
            break
        if step == max_iter:
            logger.warning("IR-drop CG reached max_iter=%d before tol=%g", max_iter, tol)
            break
        if step:
            p.mul_(rr / rr_old.clamp_min(tiny)).add_(res)
        ap = wire_operator(sqrt_g * p, r).mul_(sqrt_g).add_(p)
        alpha = rr / (p * ap).sum((-2, -1), keepdim=True).clamp_min(tiny)
        z.addcmul_(p, alpha)
        res.addcmul_(ap, alpha, value=-1.0)
        del ap
        rr_old, rr = rr, (res * res).sum((-2, -1), keepdim=True)
    logger.debug("IR-drop CG: %d iterations", step)
    return _currents_and_row_voltages(z.mul_(sqrt_g), rows, r)


def _spectral_bound(g_s: Tensor, r: float) -> Tensor:
    r"""Upper bound ``ρ`` on the eigenvalues of ``D^{1/2} K D^{1/2}`` per array (`A x 1 x 1 x 1`
    for `A x 1 x R x C` conductances [S]): the largest first-order drop ``K(g)`` over cells.

    ``D^{1/2} K D^{1/2}`` has non-negative entries, so by the Collatz-Wielandt bound with the
    positive vector ``√g`` its spectral radius is at most ``max (D^{1/2} K g) / √g = max K(g)``
    (cells with ``g = 0`` have zero rows and eigenvalue 0). It is about 0.1 on the digits
    workloads' arrays at 2 Ω, 1.9 at 128x128, 1-100 µS, 2 Ω: tighter than the Gershgorin bound
    ``λ`` of the relaxation (0.33 and 3.3).
    """
    return wire_operator(g_s, r).amax((-2, -1), keepdim=True)


def _currents_and_row_voltages(current: Tensor, rows: Tensor, r: float) -> tuple[Tensor, Tensor]:
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


ADJOINT_FIELDS: tuple[str, ...] = ("auto", "resummed", "solved")
"""How :func:`solved_response` gets the adjoint field (cell voltages with 1 V on one bit line's
sense amplifier): in closed form (:func:`adjoint_cell_voltage`), by conjugate gradients, or
(``"auto"``) the first unless the largest first-order drop exceeds :data:`AUTO_ADJOINT_RHO`."""

AUTO_ADJOINT_RHO = 3.0
"""Largest first-order drop ``ρ`` (:func:`_spectral_bound`, over every array of the call) up to
which ``"auto"`` resums the adjoint field. Measured (``bench/simulator_ir.py`` draws, max
column-current error, resummed / solved): 128x128 at 100 µS, ρ 1.9 (2 Ω): 0.32 / 0.34 %, ρ 3.8
(4 Ω): 0.73 / 0.71 %; 192x192 at 2 Ω, ρ 4.0: 0.59 / 0.47 %; 256x256 at 1 Ω, ρ 3.6:
0.62 / 0.46 %, at 2 Ω, ρ 7.6: 1.09 / 0.84 %."""


def solved_response(
    g_us: Tensor,
    r_wire_ohm: float,
    active_rows: int | None = None,
    *,
    tol: float = SOLVED_TOL,
    max_iter: int = SOLVED_MAX_ITER,
    adjoint: str = "auto",
) -> tuple[Tensor, Tensor]:
    r"""Effective conductance and its derivative in each cell's own conductance.

    ``∂G_eff[k, j] / ∂g[k, j]`` is, by reciprocity (adjoint network), the product of the
    voltage across cell ``(k, j)`` with 1 V on word line ``k`` and the one with 1 V at the
    sense amplifier of bit line ``j`` (every other port at 0 V). The first comes with the
    forward probes. The second, with ``adjoint="solved"``, is a forward probe of the array
    rotated by transposing it and reversing both axes (bit lines become driven word lines with
    the same circuit): ``rows + cols`` probes instead of ``rows``. With ``adjoint="resummed"``
    it is the resummed first-order voltage of :func:`adjoint_cell_voltage`, at no probe cost;
    ``"auto"`` (default) takes that up to ``ρ =`` :data:`AUTO_ADJOINT_RHO`. Measured at
    128x128, g 1-100 µS, 2 Ω on a ``wan2022`` draw (``bench/simulator_ir.py``): 0.32 % max
    column-current error against the exact solver with the resummed field, 0.34 % with the
    solved one (what the own-cell transfer leaves out dominates either way); on a 48x48 array
    at 10 Ω with 8 µS noise the resummed field is the worse, 0.28 % against 0.20 %
    (``tests/simulator/test_ir_drop.py``), and on larger arrays (see the threshold).

    Args:
        g_us: A `... x rows x cols`-dim Tensor of conductances [µS], >= 0.
        r_wire_ohm: Wire resistance per cell segment [Ω], > 0.
        active_rows: As in :func:`solved_conductance` (both results are 0 on other rows).
        tol: Relative residual per probe at which the iteration stops.
        max_iter: Iteration cap (a warning is logged if it is reached).
        adjoint: One of :data:`ADJOINT_FIELDS`.

    Returns:
        ``(G_eff, slope)``: Tensors shaped like ``g_us``, ``G_eff`` [µS] as in
        :func:`solved_conductance` and ``slope`` the dimensionless derivative [µS/µS].

    Raises:
        ValueError: As :func:`solved_conductance`, or if ``adjoint`` is unknown.
    """
    adjoint = resolve_adjoint(g_us, r_wire_ohm, adjoint)
    g_eff, v_row = _solve_arrays(g_us, r_wire_ohm, active_rows, tol, max_iter)
    if adjoint == "resummed":
        return g_eff, v_row * adjoint_cell_voltage(g_us, r_wire_ohm)
    rotated = g_us.flip(-2, -1).transpose(-2, -1)
    _, v_col = _solve_arrays(rotated, r_wire_ohm, None, tol, max_iter)
    return g_eff, v_row * v_col.flip(-2, -1).transpose(-2, -1)


def resolve_adjoint(g_us: Tensor, r_wire_ohm: float, adjoint: str) -> str:
    """The adjoint field (``"resummed"`` or ``"solved"``) that ``adjoint`` stands for on the
    arrays ``g_us`` [µS]: ``"auto"`` by :func:`largest_drop` over every array against
    :data:`AUTO_ADJOINT_RHO` (a caller that solves the arrays in pieces resolves it once for
    all of them).

    Raises:
        ValueError: If ``adjoint`` is not one of :data:`ADJOINT_FIELDS`.
    """
    if adjoint not in ADJOINT_FIELDS:
        raise ValueError(f"adjoint must be one of {ADJOINT_FIELDS}, got {adjoint!r}.")
    if adjoint != "auto":
        return adjoint
    return "resummed" if largest_drop(g_us, r_wire_ohm) <= AUTO_ADJOINT_RHO else "solved"


def largest_drop(g_us: Tensor, r_wire_ohm: float) -> float:
    """``ρ = max r (A_U + A_W)(g)`` (dimensionless; 0 for no cells) over every array of
    ``g_us`` [µS], formed :data:`PROBE_ELEMENTS` cells at a time (the maximum is exact in
    any order; the prefix sums are per array)."""
    rows, cols = g_us.shape[-2:]
    flat = g_us.reshape(-1, rows, cols)
    step = max(1, PROBE_ELEMENTS // max(1, rows * cols))
    rho = 0.0
    for a0 in range(0, flat.shape[0], step):
        block = wire_operator(flat[a0 : a0 + step] * 1e-6, r_wire_ohm)
        rho = max(rho, float(block.amax())) if block.numel() else rho
    return rho


def probe_block_arrays(rows: int, cols: int, active_rows: int | None = None) -> int:
    """Arrays of `rows x cols` that one block of the solve holds (with ``active_rows``
    probes each; 1 unless the arrays are small). The blocks stop together, so pieces of a
    multiple of this many arrays solve to the same values bit for bit as the whole."""
    active = rows if active_rows is None else max(1, min(rows, active_rows))
    return max(1, PROBE_ELEMENTS // (active * rows * cols))


def adjoint_cell_voltage(g_us: Tensor, r_wire_ohm: float) -> Tensor:
    r"""Voltage [V] across cell ``(k, j)`` with 1 V at bit line ``j``'s sense amplifier and
    every other port at 0 V, resummed from first order in ``r``.

    To first order, cell ``(k, j)`` loses the bit-line drop of its column's ideal currents
    ``r Σ_i (R - max(i, k)) g[i, j]`` and its own word-line rise ``r (j + 1) g[k, j]`` (the
    rotated-array image of the forward probe's start); as in the first-order matrix the sum
    ``x`` enters as ``1 / (1 + x)`` rather than ``1 - x``.

    Args:
        g_us: A `... x rows x cols`-dim Tensor of conductances [µS].
        r_wire_ohm: Wire resistance per cell segment [Ω].

    Returns:
        A Tensor shaped like ``g_us`` [V].
    """
    g_s = g_us * 1e-6
    d = g_s.cumsum(-2)
    bit_line = d.sum(-2, keepdim=True) - d.cumsum(-2) + d  # Σ_i (R - max(i, k)) g[i, j]
    j = torch.arange(1, g_us.shape[-1] + 1, dtype=g_us.dtype, device=g_us.device)
    return 1.0 / (1.0 + r_wire_ohm * (bit_line + j * g_s))


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
    arrays = probe_block_arrays(rows, cols, active)
    probes = active if arrays > 1 else max(1, PROBE_ELEMENTS // (rows * cols))
    for a0 in range(0, flat.shape[0], arrays):
        block = flat[a0 : a0 + arrays]
        for i0 in range(0, active, probes):
            idx = torch.arange(i0, min(i0 + probes, active), device=g_us.device)
            currents, row_volts = _solve_probes(block, idx, r_wire_ohm, tol, max_iter)
            out[a0 : a0 + block.shape[0], idx] = currents * 1e6
            volts[a0 : a0 + block.shape[0], idx] = row_volts
    return out.reshape(g_us.shape), volts.reshape(g_us.shape)
