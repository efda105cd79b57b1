r"""A float model whose ``nn.Linear``/``nn.Conv2d`` layers run on crossbars
(:class:`simulator.analog.AnalogLayer`), vectorized over ``S`` Monte-Carlo draws: programming,
calibration, the `N x ...` -> `S x N x ...` forward pass and the memory plan of a read
(draws per pass, chunks of samples)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import Generator, Tensor, nn

from simulator.analog import AnalogLayer
from simulator.config import CrossbarConfig
from simulator.mapping import crossbar_layers
from simulator.nonideal import BaseNonIdeality

__all__ = ["PROGRAM_BUDGET_BYTES", "AnalogModel"]

PROGRAM_BUDGET_BYTES = 1 << 30
"""Most memory of programmed conductances held at once [bytes]: draws beyond it are
programmed and read in successive passes (:meth:`AnalogModel.draw_passes`); one draw of
NeuroSim's VGG8 with the defaults holds ~0.7 GB."""


class AnalogModel(nn.Module):
    r"""A copy of a float model whose ``nn.Linear``/``nn.Conv2d`` layers run on crossbars.

    ``forward`` maps `N x ...` inputs to `S x N x ...` outputs, one per programmed draw.
    """

    def __init__(
        self,
        model: nn.Module,
        config: CrossbarConfig,
        *,
        ir_drop: str = "ideal",
        nonidealities: list[BaseNonIdeality] | None = None,
        adc: bool = True,
        readout: str = "per_slice",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """
        Args:
            model: The trained float model (not modified).
            config: The crossbar configuration.
            ir_drop: One of :data:`~simulator.nonideal.ir_drop.IR_DROP_MODES`.
            nonidealities: Effects for every layer (default: those of ``config``).
            adc: ``False`` bypasses ADC quantization.
            readout: One of :data:`simulator.analog.READOUTS` (every layer).
            dtype: Floating dtype of the analog layers and of the digital modules between
                them (float64 for reference checks).

        Raises:
            MappingError: If a layer cannot be mapped.
        """
        super().__init__()
        if any(name == "" for name, _ in crossbar_layers(model)):
            model = nn.Sequential(model)  # a bare layer as the root has no parent to swap it in
        self.float_model = copy.deepcopy(model).eval()
        self.network = copy.deepcopy(model).eval()
        self.dtype = dtype
        self.layers: dict[str, AnalogLayer] = {}
        for name, module in crossbar_layers(self.network):
            layer = AnalogLayer(
                name, module, config, ir_drop=ir_drop, nonidealities=nonidealities, adc=adc,
                readout=readout, dtype=dtype,
            )
            _set_submodule(self.network, name, layer)
            self.layers[name] = layer
        self.network.to(dtype)
        self.n_draws = 0

    @torch.no_grad()
    def layer_inputs(self, x: Tensor) -> dict[str, Tensor]:
        r"""The float model's input to each crossbar layer for `N x ...` inputs, by name."""
        captured: dict[str, Tensor] = {}
        handles = []
        for name, module in crossbar_layers(self.float_model):
            handles.append(module.register_forward_hook(
                lambda mod, inp, out, name=name: captured.__setitem__(name, inp[0].detach())
            ))
        try:
            self.float_model(x)
        finally:
            for h in handles:
                h.remove()
        return captured

    @torch.no_grad()
    def calibrate(self, x: Tensor) -> None:
        r"""Calibrate every layer on the float model's activations for `N x ...` inputs."""
        captured = self.layer_inputs(x)
        for name, layer in self.layers.items():
            layer.calibrate(captured[name])

    @torch.no_grad()
    def program(self, n_draws: int, generator: Generator | None = None) -> None:
        """Program ``n_draws`` independent chips (every layer)."""
        for layer in self.layers.values():
            layer.program(n_draws, generator)
        self.n_draws = n_draws

    def set_generator(self, generator: Generator | None) -> None:
        """Random source of read-time effects."""
        for layer in self.layers.values():
            layer.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        r"""`N x ...` inputs -> `S x N x ...` outputs of the ``S`` programmed draws."""
        if self.n_draws < 1:
            raise RuntimeError("call program() before forward().")
        s = self.n_draws
        x = x.to(self.dtype)
        xs = x.unsqueeze(0).expand(s, *x.shape).reshape(s * x.shape[0], *x.shape[1:])
        out = self.network(xs)
        return out.reshape(s, x.shape[0], *out.shape[1:])

    def draw_passes(self, n_draws: int, budget_bytes: int = PROGRAM_BUDGET_BYTES) -> list[int]:
        """Draws per pass (summing to ``n_draws``) so that the programmed conductances of a
        pass stay within ``budget_bytes`` (at least one draw per pass)."""
        item = torch.finfo(self.dtype).bits // 8
        per_draw = sum(layer.mapped.levels.numel() for layer in self.layers.values()) * item
        step = max(1, min(n_draws, budget_bytes // max(1, per_draw)))
        return [min(step, n_draws - i) for i in range(0, n_draws, step)]

    def elements_per_sample(self) -> int:
        """Largest per-input, per-draw tensor of any layer (its unrolled inputs plus its
        outputs; the reads themselves go through fixed-size blocks, :mod:`simulator.readout`),
        for chunking."""
        total = 0
        for layer in self.layers.values():
            per = layer.layout.in_features + layer.layout.used_cols + layer.layout.out_features
            total = max(total, 2 * per * layer.positions)
        return max(total, 1)

    def chunks(self, n: int, budget: int = 1 << 24) -> Iterator[slice]:
        """Slices of ``n`` samples such that ``S x chunk`` activations stay near ``budget``
        elements."""
        per = max(1, self.n_draws) * self.elements_per_sample()
        step = max(1, budget // per)
        for i in range(0, n, step):
            yield slice(i, min(n, i + step))


def _set_submodule(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, child = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, child, new)
