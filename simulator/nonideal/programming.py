r"""Programming (write) variation: the conductance a cell ends at after program-and-verify.

Model: ``g' = max(g + σ(g) · ε, 0)``, ``ε ~ N(0, 1)`` i.i.d. per cell, drawn once per
programmed instance and fixed for every inference on it, with

.. math:: σ(g) = σ_{on} \, s(x), \qquad x = \mathrm{clip}((g - g_{off}) / (g_{on} - g_{off}), 0, 1),

``σ_on = prog_sigma · (g_on - g_off)`` [µS] the σ of an on-state cell and ``s`` the device
preset's shape polynomial (:data:`simulator.params.DEVICE_PRESETS`, ``s(1) = 1``): ``s ≡ 1``
for ``generic`` (level-independent), and for ``wan2022`` the polynomial of aihwkit's
``ReRamWan2022NoiseModel`` as coded (4.41 % of the window at the on-state, 8.09 % at
mid-window, 1.39 % at ``g_off`` with the preset's default ``prog_sigma``). Conductances are
clipped at 0 (physical, as aihwkit does), not at ``g_on`` (a programmed cell can overshoot the
nominal on-state). σ is per cell (one device); a differential pair carries two draws.
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor

from simulator.nonideal.base import BaseNonIdeality

__all__ = ["ProgrammingVariation"]


class ProgrammingVariation(BaseNonIdeality):
    """Additive Gaussian programming error with state-dependent σ, fixed per programmed
    instance."""

    def __init__(
        self,
        sigma_us: float,
        *,
        shape: tuple[float, ...] = (1.0,),
        g_off_us: float = 0.0,
        window_us: float = 1.0,
    ) -> None:
        """
        Args:
            sigma_us: σ of an on-state cell [µS], >= 0 (``prog_sigma · (g_on_us - g_off_us)``
                for a :class:`CrossbarConfig`).
            shape: Coefficients ``a_i`` (constant first) of ``s(x) = Σ_i a_i x^i``, the σ of a
                cell at state ``x`` relative to the on-state (``(1.0,)``: level-independent).
            g_off_us: Off conductance [µS] (``x = 0``).
            window_us: ``g_on - g_off`` [µS], > 0 (``x = 1`` at ``g_off + window``).
        """
        super().__init__()
        if not sigma_us >= 0:
            raise ValueError(f"sigma_us must be >= 0, got {sigma_us!r}.")
        if not shape:
            raise ValueError("shape must have at least one coefficient.")
        if not window_us > 0:
            raise ValueError(f"window_us must be > 0, got {window_us!r}.")
        self.sigma_us = float(sigma_us)
        self.shape = tuple(float(a) for a in shape)
        self.g_off_us = float(g_off_us)
        self.window_us = float(window_us)

    @property
    def active(self) -> bool:
        return self.sigma_us > 0

    @property
    def state_dependent(self) -> bool:
        """Whether σ depends on the programmed state (a non-constant shape)."""
        return any(a != 0.0 for a in self.shape[1:])

    def sigma_of(self, g: Tensor) -> Tensor | float:
        r"""σ(g) [µS] of cells with target conductances ``g`` [µS] (any shape); a float when
        level-independent."""
        if not self.state_dependent:
            return self.sigma_us * self.shape[0]
        x = (g - self.g_off_us).div_(self.window_us).clamp_(0.0, 1.0)
        s = torch.full_like(x, self.shape[-1])
        for a in reversed(self.shape[:-1]):  # Horner, in place (full-size tensors)
            s.mul_(x).add_(a)
        return s.mul_(self.sigma_us)

    def landing_error(self, g: Tensor, generator: Generator | None = None) -> Tensor:
        r"""Standardized error ``ε`` of each cell's write, one ``N(0, 1)`` draw per cell.

        Args:
            g: A `S x ... x rows x cols`-dim Tensor of target conductances [µS].
            generator: Source of randomness (``None``: torch's global generator).

        Returns:
            A Tensor shaped like ``g`` (dimensionless; ``σ`` units).
        """
        return torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device)

    def apply_to_conductance(
        self, g: Tensor, generator: Generator | None = None, *, inplace: bool = False
    ) -> Tensor:
        """See :class:`BaseNonIdeality`; ``inplace`` overwrites ``g`` (outside autograd; the
        same values, without a full-size temporary per step)."""
        if not self.active:
            return g
        if inplace:
            error = self.landing_error(g, generator).mul_(self.sigma_of(g))
            return g.add_(error).clamp_min_(0.0)
        return (g + self.sigma_of(g) * self.landing_error(g, generator)).clamp_min(0.0)
