r"""Conductance quantization: a cell holds one of ``2**cell_bits`` evenly spaced levels.

Model: level ``l`` in ``0..L-1`` is programmed to ``g_off + l · (g_on - g_off) / (L - 1)``;
a target conductance is snapped to the nearest level (program-and-verify targets discrete
states, NeuroSim's ``cellBit`` levels). The simulator's weight mapping already produces
integer levels, so on its targets this is exact; it matters for continuous targets (e.g.
noise-aware training, or a mitigation that programs non-grid values). The rounding uses a
straight-through gradient, so it can sit inside a training forward pass.
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor

from simulator.nonideal.base import BaseNonIdeality

__all__ = ["ConductanceQuantization", "level_conductance"]


def level_conductance(levels: Tensor, g_off_us: float, g_on_us: float, n_levels: int) -> Tensor:
    r"""Conductance of integer levels [µS].

    Args:
        levels: A Tensor of integer levels in ``0..n_levels-1`` (any shape).
        g_off_us: Level 0 [µS].
        g_on_us: Level ``n_levels - 1`` [µS].
        n_levels: Number of levels, >= 2.

    Returns:
        A float32 Tensor shaped like ``levels`` [µS].
    """
    step = (g_on_us - g_off_us) / (n_levels - 1)
    return g_off_us + levels.to(torch.float32) * step


class ConductanceQuantization(BaseNonIdeality):
    """Snap conductances to the nearest of ``n_levels`` levels in ``[g_off, g_on]``."""

    def __init__(self, n_levels: int, g_off_us: float, g_on_us: float) -> None:
        """
        Args:
            n_levels: Levels per cell, >= 2 (``2**cell_bits``).
            g_off_us: Lowest level [µS].
            g_on_us: Highest level [µS], > ``g_off_us``.
        """
        super().__init__()
        if n_levels < 2:
            raise ValueError(f"n_levels must be >= 2, got {n_levels!r}.")
        if not g_on_us > g_off_us:
            raise ValueError(f"g_on_us must exceed g_off_us, got {g_on_us!r} <= {g_off_us!r}.")
        self.n_levels = int(n_levels)
        self.g_off_us, self.g_on_us = float(g_off_us), float(g_on_us)

    def apply_to_conductance(self, g: Tensor, generator: Generator | None = None) -> Tensor:
        step = (self.g_on_us - self.g_off_us) / (self.n_levels - 1)
        level = ((g - self.g_off_us) / step).clamp(0, self.n_levels - 1)
        snapped = self.g_off_us + torch.round(level) * step
        clipped = self.g_off_us + level * step
        return clipped + (snapped - clipped).detach()
