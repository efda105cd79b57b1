r"""Read noise: fluctuation of each cell's conductance on every read.

Model: on each read every cell conducts ``g + σ_r · (g_on - g_off) · ε_ij`` with ``ε_ij``
i.i.d. ``N(0, 1)`` per cell *and per read* (aihwkit's additive-constant ``w_noise``, ~1 % for
the Wan et al. ReRAM chip; see :data:`simulator.params.READ_SIGMA`). A column current
``Σ_i v_i g_ij`` then carries the Gaussian error ``σ · ||v||_2 · ε_j``, which is what we
sample: exactly the same distribution, at the cost of one random number per column and read
instead of one per cell and read.
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor

from simulator.nonideal.base import BaseNonIdeality

__all__ = ["ReadNoise"]


class ReadNoise(BaseNonIdeality):
    """Per-read additive Gaussian conductance noise, applied to column currents."""

    def __init__(self, sigma_us: float) -> None:
        """
        Args:
            sigma_us: Standard deviation of a cell's conductance on one read [µS], >= 0
                (``read_sigma * (g_on_us - g_off_us)`` for a :class:`CrossbarConfig`).
        """
        super().__init__()
        if not sigma_us >= 0:
            raise ValueError(f"sigma_us must be >= 0, got {sigma_us!r}.")
        self.sigma_us = float(sigma_us)
        self._eps: Tensor | None = None

    @property
    def active(self) -> bool:
        return self.sigma_us > 0

    def apply_to_currents(
        self,
        currents: Tensor,
        v_norm: Tensor,
        generator: Generator | None = None,
        *,
        inplace: bool = False,
    ) -> Tensor:
        if not self.active:
            return currents
        scale = (self.sigma_us * v_norm).unsqueeze(-1)
        if inplace:  # reuse the noise buffer across calls of the same shape
            if self._eps is None or self._eps.shape != currents.shape:
                self._eps = torch.empty_like(currents)
            eps = torch.randn(currents.shape, generator=generator, out=self._eps)
            return currents.addcmul_(eps, scale)
        eps = torch.randn(
            currents.shape, generator=generator, dtype=currents.dtype, device=currents.device
        )
        return torch.addcmul(currents, eps, scale)
