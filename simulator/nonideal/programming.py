r"""Programming (write) variation: the conductance a cell ends at after program-and-verify.

Model: ``g' = max(g + σ_p · (g_on - g_off) · ε, 0)``, ``ε ~ N(0, 1)`` i.i.d. per cell, drawn
once per programmed instance and fixed for every inference on it. A level-independent σ is
the additive simplification of the state-dependent fit of the Wan et al. ReRAM chip in
aihwkit (``ReRamWan2022NoiseModel``: 2.8 % of g_max at g_max, 5 % at g_max/2; see
:data:`simulator.params.PROG_SIGMA`). Conductances are clipped at 0 (physical), not at
``g_on`` (a programmed cell can overshoot the nominal on-state).
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor

from simulator.nonideal.base import BaseNonIdeality

__all__ = ["ProgrammingVariation"]


class ProgrammingVariation(BaseNonIdeality):
    """Additive Gaussian programming error, fixed per programmed instance."""

    def __init__(self, sigma_us: float) -> None:
        """
        Args:
            sigma_us: Standard deviation of the programmed conductance [µS], >= 0
                (``prog_sigma * (g_on_us - g_off_us)`` for a :class:`CrossbarConfig`).
        """
        super().__init__()
        if not sigma_us >= 0:
            raise ValueError(f"sigma_us must be >= 0, got {sigma_us!r}.")
        self.sigma_us = float(sigma_us)

    @property
    def active(self) -> bool:
        return self.sigma_us > 0

    def landing_error(self, g: Tensor, generator: Generator | None = None) -> Tensor:
        r"""Standardized error ``ε`` of each cell's write, one ``N(0, 1)`` draw per cell.

        Args:
            g: A `S x ... x rows x cols`-dim Tensor of target conductances [µS].
            generator: Source of randomness (``None``: torch's global generator).

        Returns:
            A Tensor shaped like ``g`` (dimensionless; ``σ`` units).
        """
        return torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device)

    def apply_to_conductance(self, g: Tensor, generator: Generator | None = None) -> Tensor:
        if not self.active:
            return g
        return (g + self.sigma_us * self.landing_error(g, generator)).clamp_min(0.0)
