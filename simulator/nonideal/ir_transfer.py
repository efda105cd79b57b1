r"""Transfer of the nominal arrays' IR-drop correction to programmed draws.

Inference reads every programmed draw through the first-order matrix
``G_fo(g) = g / (1 + r (S_U + S_W))`` (:mod:`simulator.nonideal.ir_drop`) plus a correction
``C(g) = G_model(g) - G_fo(g)`` that is solved only on the nominal arrays ``g_n``. A draw
``g = g_n + Δg`` gets the correction to first order in ``Δg``, keeping only each cell's own
term of the Jacobian:

.. math:: G(g) ≈ G_{fo}(g) + C(g_n) + \Bigl(\frac{∂G_{model}[k, j]}{∂g[k, j]}
          - \frac{∂G_{fo}[k, j]}{∂g[k, j]}\Bigr)\Big|_{g_n} ⊙ Δg .

The model's own-cell derivative is the product of two cell voltages by reciprocity: the
forward field from conjugate gradients on the nominal arrays, the adjoint field resummed in
closed form (:func:`simulator.nonideal.ir_cg.solved_response`); the first-order one is in
closed form too (:func:`first_order_slope`). Measured at 128x128, g 1-100 µS, 2 Ω per segment,
``wan2022`` programming noise (``bench/simulator_ir.py``): the additive correction alone
misses the exact column currents by 1.2 %, with the own-cell slope by 0.32 % (0.34 % with the
adjoint field solved by conjugate gradients as well, at three times the probes on the digits
MLP), the full cross (row and column of the cell, `rows·cols·(rows + cols)` stored values) by
0.03 %.

Corrections are cached per nominal array content (:func:`cached_correction`): configurations
that differ only in periphery or noise settings program the same nominal arrays.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from simulator.nonideal.ir_cg import wire_operator

__all__ = [
    "CACHE_ELEMENTS",
    "DropCorrection",
    "cached_correction",
    "clear_correction_cache",
    "first_order_slope",
]

CACHE_ELEMENTS = 1 << 24
"""Largest total size (tensor elements, two per cell) of the cached corrections."""


@dataclass(frozen=True)
class DropCorrection:
    r"""What first order misses on the nominal arrays, and how that changes per cell.

    Stored as the line ``C(g) ≈ intercept + slope ⊙ g`` through the nominal point: with the
    miss ``offset = G_model(g_n) - G_fo(g_n)``, ``intercept = offset - slope ⊙ g_n``, so
    :meth:`apply` is ``G_fo(g) + offset + slope ⊙ (g - g_n)`` without the nominal arrays (two
    stored values per cell, not three: 0.83 GB instead of 1.25 GB of float32 on VGG8's 104 M
    cells). The two forms differ by rounding only: 0.65 units in the last place of the
    largest ``G`` at most, in float32 and float64 alike, on 128x128 draws at 2 Ω
    (``tests/simulator/test_ir_transfer.py``).
    """

    intercept_us: Tensor
    """`... x rows x cols`: ``G_model - G_fo - slope ⊙ g`` of the nominal arrays [µS]."""
    slope: Tensor
    """`... x rows x cols`: ``∂(G_model - G_fo)[k, j] / ∂g[k, j]`` at the nominal arrays
    (dimensionless, µS per µS)."""

    def apply(self, g_fo_us: Tensor, g_us: Tensor) -> Tensor:
        r"""Corrected effective conductance [µS] of draws ``g_us`` (`(S) x ...`, broadcast
        against the nominal shape) whose first-order matrix is ``g_fo_us``."""
        return g_fo_us + self.intercept_us + self.slope * g_us

    def offset(self, nominal_us: Tensor) -> Tensor:
        """``G_model - G_fo`` [µS] on the nominal arrays ``nominal_us`` the correction was
        solved on (the additive part alone, ``intercept + slope ⊙ g_n``)."""
        return self.intercept_us + self.slope * nominal_us

    def flat(self, arrays: int) -> tuple[Tensor, Tensor]:
        """``(intercept_us, slope)`` as `arrays x rows x cols` views (``arrays`` the product
        of the leading dimensions), in the field order of the constructor."""
        rows, cols = self.slope.shape[-2:]
        return tuple(  # type: ignore[return-value]
            t.reshape(arrays, rows, cols) for t in (self.intercept_us, self.slope)
        )

    def numel(self) -> int:
        """Stored elements (for the cache budget)."""
        return 2 * self.slope.numel()


def first_order_slope(g_us: Tensor, r_wire_ohm: float) -> Tensor:
    r"""``∂G_fo[k, j] / ∂g[k, j]`` (dimensionless) of the first-order matrix.

    With ``d = 1 + r (S_U + S_W)`` and the own-cell weights ``j + 1`` (word-line segments
    from the driver) and ``R - k`` (bit-line segments to the sense amplifier):
    ``1 / d - r g (j + 1 + R - k) / d²``.

    Args:
        g_us: A `... x rows x cols`-dim Tensor of conductances [µS].
        r_wire_ohm: Wire resistance per cell segment [Ω].

    Returns:
        A Tensor shaped like ``g_us``.
    """
    rows, cols = g_us.shape[-2:]
    g_s = g_us * 1e-6
    den = 1.0 + wire_operator(g_s, r_wire_ohm)
    j = torch.arange(1, cols + 1, dtype=g_us.dtype, device=g_us.device)
    k = torch.arange(rows, 0, -1, dtype=g_us.dtype, device=g_us.device)
    own = j.unsqueeze(0) + k.unsqueeze(1)  # rows x cols
    return 1.0 / den - r_wire_ohm * g_s * own / (den * den)


_CACHE: OrderedDict[tuple, DropCorrection] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _key(g_us: Tensor, *parts: object) -> tuple:
    data = g_us.detach().cpu().contiguous()
    digest = hashlib.blake2b(data.view(torch.uint8).numpy().tobytes(), digest_size=16)
    return (digest.hexdigest(), tuple(data.shape), str(data.dtype), str(g_us.device), *parts)


def cached_correction(
    g_nominal_us: Tensor, parts: tuple, solve: Callable[[], DropCorrection]
) -> DropCorrection:
    """``solve()``, or the correction cached for the same nominal arrays and ``parts``.

    Args:
        g_nominal_us: The nominal conductances [µS] (hashed by content).
        parts: The other inputs of the solve (mode, wire resistance, driven rows).
        solve: Computes the correction on a miss.

    Returns:
        The correction (shared between hits: never modify it in place).
    """
    key = _key(g_nominal_us, *parts)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    correction = solve()
    with _CACHE_LOCK:
        _CACHE[key] = correction
        total = sum(c.numel() for c in _CACHE.values())
        while total > CACHE_ELEMENTS and len(_CACHE) > 1:
            _, old = _CACHE.popitem(last=False)
            total -= old.numel()
    return correction


def clear_correction_cache() -> None:
    """Forget every cached correction (benchmarks time the cold solve with this)."""
    with _CACHE_LOCK:
        _CACHE.clear()
