r"""Stuck-at faults: cells that ignore programming.

Model: independently per cell, with probability ``p_sa0`` the cell is stuck at ``g_off``
(stuck-at-0, e.g. a failed forming) and with probability ``p_sa1`` stuck at ``g_on``
(stuck-at-1, e.g. a permanently formed filament). One uniform draw ``u`` per cell decides:
``u < p_sa0`` -> SA0, ``p_sa0 <= u < p_sa0 + p_sa1`` -> SA1. Faults are fixed per programmed
instance and override any programming variation (apply this effect last). Default rates:
MNSIM 2.0 (0.1 % each, :data:`simulator.params.SAF_SA0`).
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor

from simulator.nonideal.base import BaseNonIdeality

__all__ = ["StuckAtFaults"]


class StuckAtFaults(BaseNonIdeality):
    """Stuck-at-0 (``g_off``) and stuck-at-1 (``g_on``) cells at given rates."""

    def __init__(self, p_sa0: float, p_sa1: float, g_off_us: float, g_on_us: float) -> None:
        """
        Args:
            p_sa0: Fraction of cells stuck at ``g_off_us``, in [0, 1].
            p_sa1: Fraction of cells stuck at ``g_on_us``, in [0, 1], ``p_sa0 + p_sa1 <= 1``.
            g_off_us: Off conductance [µS].
            g_on_us: On conductance [µS].
        """
        super().__init__()
        for name, p in (("p_sa0", p_sa0), ("p_sa1", p_sa1)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p!r}.")
        if p_sa0 + p_sa1 > 1.0:
            raise ValueError(f"p_sa0 + p_sa1 must be <= 1, got {p_sa0 + p_sa1!r}.")
        self.p_sa0, self.p_sa1 = float(p_sa0), float(p_sa1)
        self.g_off_us, self.g_on_us = float(g_off_us), float(g_on_us)

    @property
    def active(self) -> bool:
        return self.p_sa0 + self.p_sa1 > 0

    def masks(self, shape: torch.Size, generator: Generator | None = None) -> tuple[Tensor, Tensor]:
        r"""Boolean `shape`-dim masks ``(sa0, sa1)`` (disjoint)."""
        u = torch.rand(shape, generator=generator)
        sa0 = u < self.p_sa0
        sa1 = (u >= self.p_sa0) & (u < self.p_sa0 + self.p_sa1)
        return sa0, sa1

    def apply_to_conductance(
        self, g: Tensor, generator: Generator | None = None, *, inplace: bool = False
    ) -> Tensor:
        """See :class:`BaseNonIdeality`; ``inplace`` overwrites ``g`` (outside autograd)."""
        if not self.active:
            return g
        sa0, sa1 = self.masks(g.shape, generator)
        sa0, sa1 = sa0.to(g.device), sa1.to(g.device)
        if inplace:
            return g.masked_fill_(sa0, self.g_off_us).masked_fill_(sa1, self.g_on_us)
        g = torch.where(sa0, torch.full_like(g, self.g_off_us), g)
        return torch.where(sa1, torch.full_like(g, self.g_on_us), g)
