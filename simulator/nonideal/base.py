r"""The base class of device and circuit non-idealities.

A non-ideality acts at one (or both) of two points of an analog matrix-vector multiply:

* :meth:`BaseNonIdeality.apply_to_conductance`: once per *programmed instance* of the arrays
  (programming variation, stuck-at faults, level quantization). Input and output are
  `S x ... x rows x cols`-dim conductance Tensors [µS]; ``S`` indexes Monte-Carlo draws (or
  is 1), so one call programs ``S`` independent chips at once.
* :meth:`BaseNonIdeality.apply_to_currents`: on every read (read noise). Inputs are the
  `... x B x cols`-dim column currents [µA] and the `... x B`-dim Euclidean norm of the
  word-line voltages of each read [V].

Both are differentiable in their tensor inputs (noise is additive, masks select values), so
the same modules serve noise-injection during training. With ``generator=None`` they draw
from torch's global generator.
"""

from __future__ import annotations

from torch import Generator, Tensor, nn

__all__ = ["BaseNonIdeality"]


class BaseNonIdeality(nn.Module):
    """One physical effect; subclasses override one or both hooks (defaults: identity)."""

    def apply_to_conductance(self, g: Tensor, generator: Generator | None = None) -> Tensor:
        r"""Effect on programmed conductances.

        Args:
            g: A `S x ... x rows x cols`-dim Tensor of conductances [µS].
            generator: Source of randomness (``None``: torch's global generator).

        Returns:
            A Tensor of the same shape [µS].
        """
        return g

    def apply_to_currents(
        self,
        currents: Tensor,
        v_norm: Tensor,
        generator: Generator | None = None,
        *,
        inplace: bool = False,
    ) -> Tensor:
        r"""Effect on one read of the column currents.

        Args:
            currents: A `... x B x cols`-dim Tensor of column currents [µA].
            v_norm: A `... x B`-dim Tensor, the 2-norm of each read's word-line voltages [V].
            generator: Source of randomness (``None``: torch's global generator).
            inplace: Allowed to overwrite ``currents`` (saves a large allocation; only for
                tensors outside autograd).

        Returns:
            A Tensor shaped like ``currents`` [µA].
        """
        return currents

    def forward(self, g: Tensor) -> Tensor:
        """``apply_to_conductance`` with the global generator (for use in ``nn.Sequential``)."""
        return self.apply_to_conductance(g)

    @property
    def active(self) -> bool:
        """Whether the effect changes anything (a zero-rate effect can be skipped)."""
        return True
