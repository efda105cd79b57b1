r"""A programmed chip's deterministic errors as the float weights it applies.

With linear wires and ideal periphery (no ADC, no read noise) a crossbar layer is linear in its
quantized input ``q`` (`M x K`):

.. math::

    y = \left(q \, G_\mathrm{eff} C / \Delta g - o \textstyle\sum_k q_k\right) s_w s_x + b,

with ``G_eff`` the draw's conductances through the layer's IR-drop model [µS], ``C`` the
slice/pair combination (``mapped.combine``), ``Δg`` one level step [µS], ``o`` the offset of
the encoding, ``s_w`` the weight step and ``s_x`` the input step. Dividing out ``s_x`` gives the
weight the chip applies to float inputs,

.. math::

    W_\mathrm{chip} = (G_\mathrm{eff} C / \Delta g - o) \, s_w ,

which holds weight quantization, the draw's programming errors and stuck-at faults, and the
IR drop of its wires. :class:`ChipWeightInjector` puts it into noise-aware training, so that a
digital correction (CorrectNet+ compensators, :mod:`simulator.mitigation.compensation`) learns
the errors of the chip it will run on, not only random device noise; compensators trained on
device noise alone do not undo the systematic current loss of long lines (VGG8 at 512x512,
``docs/decisions.md``).
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor, nn

from simulator.analog import AnalogLayer
from simulator.analog_model import AnalogModel
from simulator.config import CrossbarConfig
from simulator.mapping import crossbar_layers
from simulator.mitigation.resna import NoiseInjector

__all__ = ["ChipWeightInjector", "chip_weights", "effective_matrix", "noiseless_chip_weights"]


def effective_matrix(layer: AnalogLayer, draw: int = 0) -> Tensor:
    r"""A `K x out`-dim float64 Tensor ``G_eff C / Δg`` of a programmed layer [levels per input
    step]: row ``k`` is what input ``k`` adds to each output column, in conductance levels
    (``K`` = ``layout.in_features``). Needs ``layer.g_eff`` (set by
    :meth:`AnalogModel.program`)."""
    if layer.g_eff is None:
        raise ValueError("the layer is not programmed: call AnalogModel.program() first.")
    g = layer.g_eff[draw].double()  # row_tiles x rows_used x n_used [µS]
    combine = layer.mapped.combine.double()  # n_used x out (one nonzero per column)
    flat = g.reshape(-1, g.shape[-1])
    w = torch.sparse.mm(combine.t().to_sparse(), flat.t()).t() / layer._dg
    return w[: layer.layout.in_features]


@torch.no_grad()
def chip_weights(analog: AnalogModel, draw: int = 0) -> dict[str, Tensor]:
    r"""``W_chip`` of every layer of a programmed ``analog`` model (module docstring), shaped
    like the layer's ``weight`` (`out x in` or `out x C_in x kh x kw`), float32, keyed by the
    layer names of ``analog.layers``."""
    out: dict[str, Tensor] = {}
    for name, layer in analog.layers.items():
        w = (effective_matrix(layer, draw) - layer.mapped.offset) * layer.mapped.weight_scale
        out[name] = w.t().reshape(_weight_shape(layer)).to(torch.float32).contiguous()
    return out


def noiseless_chip_weights(model: nn.Module, config: CrossbarConfig) -> dict[str, Tensor]:
    r"""``W_chip`` of ``config``'s noiseless chip for ``model`` (ideal periphery, no device
    effects, first-order wires): weight quantization and IR drop only, by ``model``'s crossbar
    layer names. The input steps play no part, so no calibration is needed."""
    analog = AnalogModel(model, config, ir_drop="first_order", nonidealities=[], adc=False)
    analog.program(1)
    return chip_weights(analog)


def _weight_shape(layer: AnalogLayer) -> tuple[int, ...]:
    """Shape of the float layer's ``weight`` (`out x in` or `out x C_in x kh x kw`)."""
    out, k = layer.mapped.combine.shape[1], layer.layout.in_features
    if not layer.is_conv:
        return (out, k)
    kh, kw = layer.kernel_size
    return (out, k // (kh * kw), kh, kw)


class ChipWeightInjector:
    r"""A :class:`~simulator.mitigation.resna.NoiseInjector` whose weights are a chip's
    ``W_chip`` (:func:`chip_weights`), with ``base``'s random noise (if any) on top.

    ``weight(name, w)`` returns ``W_chip + (base.weight(name, w) - w)``, ``w`` detached in
    the difference: ``W_chip`` plus ``base``'s noise, with the gradient of ``w``
    (straight-through, as the other injectors); ``output`` is ``base``'s read noise.
    """

    def __init__(self, weights: dict[str, Tensor], base: NoiseInjector | None = None) -> None:
        """
        Args:
            weights: ``W_chip`` per layer name of the network being trained.
            base: Random device noise added on top (``None``: the chip alone).
        """
        self.weights = weights
        self.base = base

    @classmethod
    def for_model(
        cls, weights: dict[str, Tensor], model: nn.Module, base: NoiseInjector | None = None
    ) -> ChipWeightInjector:
        """Re-key ``weights`` (in crossbar-layer order, e.g. :func:`chip_weights` of the plain
        network) to the crossbar layers of ``model`` (the same network with wrappers such as
        compensators, whose layer names differ).

        Raises:
            ValueError: If the layer count or a weight shape differs.
        """
        layers = crossbar_layers(model)
        if len(layers) != len(weights):
            raise ValueError(f"{len(weights)} chip weights for {len(layers)} crossbar layers.")
        keyed = {}
        for (name, module), (src, w) in zip(layers, weights.items(), strict=True):
            if tuple(w.shape) != tuple(module.weight.shape):
                raise ValueError(f"chip weight {src!r} is {tuple(w.shape)}, layer {name!r} "
                                 f"is {tuple(module.weight.shape)}.")
            keyed[name] = w
        return cls(keyed, base)

    def weight(self, name: str, w: Tensor, generator: Generator) -> Tensor:
        noisy = w if self.base is None else self.base.weight(name, w, generator)
        return self.weights[name].to(w.dtype) + (noisy - w.detach())

    def output(
        self, name: str, y: Tensor, x: Tensor, module: nn.Module, generator: Generator
    ) -> Tensor:
        return y if self.base is None else self.base.output(name, y, x, module, generator)
