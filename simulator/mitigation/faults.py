r"""Stuck-at faults and programming variation: fault-aware mapping vs read-verify-write.

Two ways to spend resources against the same device defects:

* **Fault-aware mapping** (:class:`FaultAwareStuckAt`): the chip is tested once, so each
  array's stuck cells are known before the weights are written. Within every array the
  logical rows (inputs) are assigned to physical rows by an exact linear assignment that
  minimizes the stuck-cell error ``Σ_cells |g_target - g_stuck| · significance(column)``,
  where a column's significance is its shift-and-add weight (``2**(s·cell_bits)``); the
  unused rows of a partial row tile act as spares. Moving row ``i`` to physical row ``p`` is
  the same as giving row ``i`` the fault pattern of row ``p`` (the inputs are re-routed to
  match), which is what the effect applies. It costs nothing per inference; programming is
  unchanged.
* **Read-verify-write** (:class:`ReadVerifyWrite`): every cell is written, read back and
  re-written until its conductance is within ``tolerance · σ_p`` of the target, or
  ``max_pulses`` are spent; it narrows programming variation to a truncated Gaussian but
  cannot repair stuck cells (it spends all its pulses on them). The extra write and verify
  pulses are charged by :func:`programming_cost` [µJ, µs].

Variation-aware training is :mod:`simulator.mitigation.resna` (same noise, injected while
training). :func:`apply_fault_mitigation` installs either scheme in the layers of a
:class:`simulator.analog_model.AnalogModel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Generator, Tensor

from simulator.config import FAULT_SCHEMES
from simulator.nonideal import ProgrammingVariation, StuckAtFaults

__all__ = [
    "READ_PULSE_S",
    "WRITE_PULSE_S",
    "WRITE_VOLTAGE_V",
    "FaultAwareStuckAt",
    "ProgrammingCost",
    "ReadVerifyWrite",
    "apply_fault_mitigation",
    "column_significance",
    "programming_cost",
    "rvw_expected_pulses",
]

WRITE_VOLTAGE_V = 2.0
"""Write (SET/RESET) pulse amplitude [V]. NeuroSim V1.4 ``Param.cpp``: ``writeVoltage = 2``."""
WRITE_PULSE_S = 100e-9
"""Write pulse width [s]. Typical HfOx ReRAM SET/RESET pulses are 10-100 ns (unverified; we
take the slow end)."""
READ_PULSE_S = 10e-9
"""Verify-read pulse width [s]. NeuroSim V1.4 ``Param.cpp``: ``readPulseWidth = 10e-9``."""


class FaultAwareStuckAt(StuckAtFaults):
    """Stuck-at faults whose rows are re-assigned per array to minimize their error."""

    def __init__(
        self,
        p_sa0: float,
        p_sa1: float,
        g_off_us: float,
        g_on_us: float,
        col_significance: Tensor | None = None,
    ) -> None:
        """
        Args:
            p_sa0: Fraction of cells stuck at ``g_off_us``, in [0, 1].
            p_sa1: Fraction of cells stuck at ``g_on_us``, in [0, 1], sum <= 1.
            g_off_us: Off conductance [µS].
            g_on_us: On conductance [µS].
            col_significance: Optional `col_tiles x cols`-dim Tensor: the shift-and-add
                weight of every physical column (default: all 1).
        """
        super().__init__(p_sa0, p_sa1, g_off_us, g_on_us)
        self.col_significance = col_significance
        self.last_error_reduction: float | None = None
        """Stuck-cell error after / before re-assignment in the last call (diagnostic)."""

    def apply_to_conductance(self, g: Tensor, generator: Generator | None = None) -> Tensor:
        r"""Draw faults per physical cell, re-assign rows per array, apply.

        Args:
            g: A `S x row_tiles x col_tiles x rows x cols`-dim Tensor of programmed
                conductances [µS] (any leading dims; the last two are one array).
            generator: Random source.

        Returns:
            A Tensor shaped like ``g`` [µS].
        """
        if not self.active:
            return g
        u = torch.rand(g.shape, generator=generator, dtype=g.dtype, device=g.device)
        sa0 = u < self.p_sa0
        sa1 = (u >= self.p_sa0) & (u < self.p_sa0 + self.p_sa1)
        rows, cols = g.shape[-2:]
        flat_g = g.reshape(-1, rows, cols)
        flat0, flat1 = sa0.reshape(-1, rows, cols), sa1.reshape(-1, rows, cols)
        weight = torch.ones(flat_g.shape[0], 1, cols, dtype=g.dtype, device=g.device)
        if self.col_significance is not None:
            sig = self.col_significance.to(g.dtype)  # col_tiles x cols
            per_array = sig.expand(*g.shape[:-2][:-1], *sig.shape)  # ... x col_tiles x cols
            weight = per_array.reshape(-1, 1, cols)
        to_off = (flat_g - self.g_off_us).abs() * weight  # error if stuck at g_off
        to_on = (flat_g - self.g_on_us).abs() * weight
        before = after = 0.0
        out = flat_g.clone()
        for a in range(flat_g.shape[0]):
            # cost[i, p]: error of logical row i on physical row p's fault pattern.
            cost = to_off[a] @ flat0[a].to(g.dtype).t() + to_on[a] @ flat1[a].to(g.dtype).t()
            c_np = cost.detach().cpu().double().numpy()
            r_idx, p_idx = linear_sum_assignment(c_np)
            assign = torch.from_numpy(p_idx[np.argsort(r_idx)]).to(g.device)
            before += float(np.trace(c_np))
            after += float(c_np[np.arange(rows), assign.cpu().numpy()].sum())
            m0, m1 = flat0[a][assign], flat1[a][assign]
            out[a] = torch.where(m0, self.g_off_us, torch.where(m1, self.g_on_us, out[a]))
        self.last_error_reduction = after / before if before > 0 else 1.0
        return out.reshape(g.shape)


def rvw_expected_pulses(tolerance: float, max_pulses: int) -> float:
    r"""Expected write pulses per (healthy) cell of read-verify-write.

    Each pulse lands within ``±tolerance·σ`` with probability ``q = erf(t/√2)``; pulses stop at
    the first success or at ``max_pulses``: ``E[n] = (1 - (1-q)**max_pulses) / q``.
    """
    q = math.erf(tolerance / math.sqrt(2.0))
    if q <= 0:
        return float(max_pulses)
    return (1.0 - (1.0 - q) ** max_pulses) / q


class ReadVerifyWrite(ProgrammingVariation):
    """Programming variation narrowed by cell-by-cell read-verify-write: the same write error
    model, re-drawn for every cell still outside the acceptance window."""

    def __init__(self, sigma_us: float, tolerance: float = 1.0, max_pulses: int = 8) -> None:
        """
        Args:
            sigma_us: σ of one write pulse's landing error [µS], >= 0
                (``prog_sigma · (g_on - g_off)``).
            tolerance: Accept a write when ``|g - target| <= tolerance · σ``, > 0.
            max_pulses: Write pulses per cell at most, >= 1 (1 = plain programming).
        """
        super().__init__(sigma_us)
        if not tolerance > 0:
            raise ValueError(f"rvw_tolerance must be > 0, got {tolerance!r}.")
        if max_pulses < 1:
            raise ValueError(f"rvw_max_pulses must be >= 1, got {max_pulses!r}.")
        self.tolerance, self.max_pulses = tolerance, max_pulses
        self.last_mean_pulses: float | None = None
        """Mean write pulses per cell in the last call (diagnostic)."""

    def landing_error(self, g: Tensor, generator: Generator | None = None) -> Tensor:
        """The error of the last write pulse of each cell [σ]: cells re-written while
        ``|ε| > tolerance`` and pulses remain. Records :attr:`last_mean_pulses`."""
        err = super().landing_error(g, generator)
        pulses = torch.ones_like(g)
        done = err.abs() <= self.tolerance
        for _ in range(self.max_pulses - 1):
            if bool(done.all()):
                break
            err = torch.where(done, err, super().landing_error(g, generator))
            pulses = pulses + (~done).to(g.dtype)
            done = done | (err.abs() <= self.tolerance)
        self.last_mean_pulses = float(pulses.mean())
        return err


@dataclass(frozen=True, kw_only=True)
class ProgrammingCost:
    """One-time cost of programming a chip's weights."""

    cells: int
    """Cells written."""
    pulses_per_cell: float
    """Mean write pulses per cell."""
    energy_uj: float
    """Write plus verify-read energy [µJ]."""
    latency_us: float
    """Programming time [µs], rows written one after another, the cells of a row in
    parallel; a row takes as many pulse slots as its slowest cell."""

    def to_dict(self) -> dict[str, float]:
        return {
            "cells": self.cells,
            "pulses_per_cell": self.pulses_per_cell,
            "energy_uj": self.energy_uj,
            "latency_us": self.latency_us,
        }


def programming_cost(
    n_arrays: int,
    rows: int,
    cols: int,
    g_mean_us: float,
    read_voltage_v: float,
    *,
    tolerance: float | None = None,
    max_pulses: int = 1,
    stuck_fraction: float = 0.0,
) -> ProgrammingCost:
    r"""Energy and time to program ``n_arrays`` arrays, with or without read-verify-write.

    Per pulse a cell dissipates ``V_w² · G · t_w`` (write) and, with verification,
    ``V_r² · G · t_r`` (verify read), at the mean conductance ``g_mean_us``. Without RVW
    (``tolerance=None``) every cell takes one write pulse and no verify. With RVW a row
    takes ``E[max over its cols cells of the pulse count]`` slots, computed from the
    per-cell pulse-count distribution.

    Args:
        n_arrays: Arrays programmed, >= 1.
        rows: Rows per array.
        cols: Columns per array.
        g_mean_us: Mean cell conductance [µS].
        read_voltage_v: Verify-read voltage [V].
        tolerance: RVW acceptance window in σ (``None``: plain programming).
        max_pulses: RVW pulse budget per cell.
        stuck_fraction: Fraction of stuck cells (``saf_sa0 + saf_sa1``); with RVW they never
            verify and take all ``max_pulses``.

    Returns:
        A :class:`ProgrammingCost`.
    """
    if n_arrays < 1:
        raise ValueError(f"n_arrays must be >= 1, got {n_arrays!r}.")
    cells = n_arrays * rows * cols
    g_s = g_mean_us * 1e-6
    e_write = WRITE_VOLTAGE_V**2 * g_s * WRITE_PULSE_S
    if tolerance is None:
        energy = cells * e_write
        latency = n_arrays * rows * WRITE_PULSE_S
        return ProgrammingCost(
            cells=cells, pulses_per_cell=1.0, energy_uj=energy * 1e6, latency_us=latency * 1e6
        )
    e_read = read_voltage_v**2 * g_s * READ_PULSE_S
    f = stuck_fraction
    pulses = (1.0 - f) * rvw_expected_pulses(tolerance, max_pulses) + f * max_pulses
    q = math.erf(tolerance / math.sqrt(2.0))
    # P(cell needs > k pulses) = f + (1-f)(1-q)^k for k < max_pulses; the row waits for its
    # slowest cell: E[max] = Σ_k P(max > k) = Σ_k 1 - (1 - P(cell > k))^cols.
    row_slots = sum(1.0 - (1.0 - f - (1.0 - f) * (1.0 - q) ** k) ** cols for k in range(max_pulses))
    energy = cells * pulses * (e_write + e_read)
    latency = n_arrays * rows * row_slots * (WRITE_PULSE_S + READ_PULSE_S)
    return ProgrammingCost(
        cells=cells, pulses_per_cell=pulses, energy_uj=energy * 1e6, latency_us=latency * 1e6
    )


def column_significance(layer: object) -> Tensor:
    r"""Shift-and-add weight of every physical column of an ``AnalogLayer``.

    Returns:
        A `col_tiles x cols`-dim Tensor (0 for unused columns).
    """
    mapped = layer.mapped  # type: ignore[attr-defined]
    t_c = mapped.levels.shape[1]
    cols = mapped.levels.shape[-1]
    sig = torch.zeros(t_c * cols)
    sig[mapped.used_index] = mapped.combine.abs().amax(-1).to(sig.dtype)
    return sig.reshape(t_c, cols)


def apply_fault_mitigation(
    analog: object, scheme: str, *, tolerance: float = 1.0, max_pulses: int = 8
) -> None:
    r"""Install a mitigation in every layer of an ``AnalogModel`` (before ``program``).

    Args:
        analog: A :class:`simulator.analog_model.AnalogModel`.
        scheme: ``"none"``, ``"remap"`` (fault-aware row assignment), ``"rvw"``
            (read-verify-write) or ``"both"``.
        tolerance: RVW acceptance window [σ].
        max_pulses: RVW pulse budget per cell.

    Raises:
        ValueError: On an unknown ``scheme``.
    """
    if scheme not in FAULT_SCHEMES:
        raise ValueError(f"fault_mitigation must be one of {FAULT_SCHEMES}, got {scheme!r}.")
    if scheme == "none":
        return
    for layer in analog.layers.values():  # type: ignore[attr-defined]
        effects = []
        for effect in layer.effects:
            if scheme in ("remap", "both") and isinstance(effect, StuckAtFaults):
                effect = FaultAwareStuckAt(
                    effect.p_sa0,
                    effect.p_sa1,
                    effect.g_off_us,
                    effect.g_on_us,
                    column_significance(layer),
                )
            elif (scheme in ("rvw", "both") and isinstance(effect, ProgrammingVariation)
                  and not isinstance(effect, ReadVerifyWrite)):  # already verified: keep
                effect = ReadVerifyWrite(effect.sigma_us, tolerance, max_pulses)
            effects.append(effect)
        layer.effects = torch.nn.ModuleList(effects)
