r"""Exact nodal analysis of a crossbar with resistive word and bit lines (the validation
solver of :mod:`simulator.nonideal.ir_drop`, method ``"exact"``).

The circuit is the one of :mod:`simulator.nonideal.ir_drop`: the ``2·rows·cols`` node voltages
solve a sparse symmetric positive-definite system (``scipy.sparse``, LU factorization in
float64), one factorization per array serving every input vector. For validation, not for
inference.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import splu
from torch import Tensor

__all__ = ["exact_column_currents", "exact_currents"]


def exact_currents(v: Tensor, g: Tensor, r: float) -> Tensor:
    r"""Sparse nodal analysis per leading-batch element; returns `(batch) x B x cols` [A]."""
    batch = torch.broadcast_shapes(v.shape[:-2], g.shape[:-2])
    vb = v.expand(*batch, *v.shape[-2:]).reshape(-1, *v.shape[-2:])
    gb = g.expand(*batch, *g.shape[-2:]).reshape(-1, *g.shape[-2:])
    out = np.empty((gb.shape[0], v.shape[-2], g.shape[-1]), dtype=np.float64)
    g_np = gb.detach().cpu().to(torch.float64).numpy()
    v_np = vb.detach().cpu().to(torch.float64).numpy()
    for n in range(g_np.shape[0]):
        out[n] = exact_column_currents(v_np[n], g_np[n], r)
    return torch.from_numpy(out).reshape(*batch, v.shape[-2], g.shape[-1]).to(v.dtype).to(v.device)


def exact_column_currents(v: np.ndarray, g: np.ndarray, r_wire_ohm: float) -> np.ndarray:
    r"""Solve the crossbar's nodal equations exactly (float64).

    Unknowns are the word-line node voltages ``u`` (indices ``i·C + j``) and the bit-line node
    voltages ``w`` (indices ``R·C + i·C + j``). Kirchhoff's current law at every node gives a
    symmetric positive-definite system ``A x = b``; ``b`` holds the sources ``v_i / r`` at the
    first node of each row. One LU factorization serves every input vector.

    Args:
        v: A `B x rows` array of drive voltages [V].
        g: A `rows x cols` array of conductances [S], >= 0.
        r_wire_ohm: Wire resistance per segment [Ω], > 0.

    Returns:
        A `B x cols` array of column currents [A].

    Raises:
        ValueError: If ``g`` has a negative entry or ``r_wire_ohm`` is not > 0.
    """
    if r_wire_ohm <= 0:
        raise ValueError(f"r_wire_ohm must be > 0 for the nodal solve, got {r_wire_ohm!r}.")
    if np.any(g < 0):
        raise ValueError("g must be non-negative (conductances in S).")
    rows, cols = g.shape
    gw = 1.0 / r_wire_ohm
    n = rows * cols
    idx = np.arange(n).reshape(rows, cols)
    u_idx, w_idx = idx, idx + n
    ii, jj, vals = [], [], []

    def couple(a: np.ndarray, b: np.ndarray, cond: np.ndarray | float) -> None:
        cond = np.broadcast_to(cond, a.shape).ravel()
        a, b = a.ravel(), b.ravel()
        ii.extend((a, b, a, b))
        jj.extend((a, b, b, a))
        vals.extend((cond, cond, -cond, -cond))

    def ground(a: np.ndarray, cond: float) -> None:
        ii.append(a.ravel())
        jj.append(a.ravel())
        vals.append(np.full(a.size, cond))

    couple(u_idx[:, :-1], u_idx[:, 1:], gw)  # word-line segments between cells
    couple(w_idx[:-1, :], w_idx[1:, :], gw)  # bit-line segments between cells
    couple(u_idx, w_idx, g)  # the cells
    ground(u_idx[:, 0], gw)  # driver segment (source is on the right-hand side)
    ground(w_idx[-1, :], gw)  # segment into the virtual-ground sense amplifier
    a_mat = coo_matrix(
        (np.concatenate(vals), (np.concatenate(ii), np.concatenate(jj))), shape=(2 * n, 2 * n)
    ).tocsc()
    rhs = np.zeros((2 * n, v.shape[0]))
    rhs[u_idx[:, 0], :] = gw * v.T
    x = splu(a_mat).solve(rhs)
    w_bottom = x[w_idx[-1, :], :]  # cols x B
    return (gw * w_bottom).T
