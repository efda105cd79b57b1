r"""Mapping of torch layers onto crossbar tiles.

A ``nn.Linear`` (``out x in`` weight) or ``nn.Conv2d`` (unrolled with ``unfold`` to an
``out x (C_in·kh·kw)`` weight applied at every output position) becomes an ``in x out``
matrix of signed integers, then a grid of ``row_tiles x col_tiles`` arrays of
``rows x cols`` cells holding integer conductance levels:

1. **Weight quantization**: symmetric, per layer, ``q = round(w / s_w)`` with
   ``s_w = max|w| / (2**(weight_bits-1) - 1)``.
2. **Signed encoding**: ``"differential"`` stores ``max(q, 0)`` and ``max(-q, 0)`` in a column
   pair (``weight_bits - 1`` magnitude bits); ``"offset"`` stores ``q + 2**(weight_bits-1) - 1``
   (``weight_bits`` bits) and reserves column 0 of every array as a reference column of
   ``g_off`` cells, subtracted after the ADC; the offset times the input sum is removed
   digitally.
3. **Bit slicing**: the magnitude is split LSB-first into ``slices`` cells of ``cell_bits``
   bits; cell ``s`` has weight ``2**(s·cell_bits)`` in the shift-and-add.
4. **Tiling**: rows of the unrolled weight fill arrays ``rows`` at a time (the last row tile is
   padded with unused ``g_off`` cells that see 0 V); the physical columns (``out · slices`` or
   ``2 · out · slices``) fill the usable columns of arrays ``cols`` at a time. Partial sums
   of row tiles are added digitally, after the ADC.

:class:`~simulator.tiling.TileLayout` (from :func:`~simulator.tiling.layout_for`) records the
geometry; :func:`map_weight` returns the levels and the digital combination matrix that turns
per-column ADC readings back into output values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from simulator.config import CrossbarConfig
from simulator.cost import LayerShape
from simulator.errors import MappingError
from simulator.tiling import TileLayout, layout_for

__all__ = [
    "DigitalModule",
    "LayerShape",
    "MappedWeight",
    "crossbar_layers",
    "layer_shapes",
    "map_weight",
    "quantize_symmetric",
    "slice_magnitude",
    "unrolled_weight",
]

class DigitalModule(nn.Module):
    """Base of modules computed in the digital periphery (e.g. an error compensator): their
    own parameters never go onto crossbars; layers they hold as children still do."""


_DIGITAL_MODULES: tuple[type[nn.Module], ...] = (
    DigitalModule,
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.PReLU,
)
"""Modules with parameters that stay in the digital periphery (normalization, activation,
:class:`DigitalModule`)."""


def quantize_symmetric(x: Tensor, bits: int) -> tuple[Tensor, float]:
    r"""Symmetric uniform quantization to signed ``bits``-bit integers.

    Args:
        x: Any float Tensor.
        bits: Precision including sign, >= 2: integers in ``[-(2**(bits-1)-1), 2**(bits-1)-1]``.

    Returns:
        ``(q, scale)``: an int64 Tensor shaped like ``x`` and the float step with
        ``x ≈ q · scale`` (``scale = 1`` for an all-zero ``x``).
    """
    q_max = 2 ** (bits - 1) - 1
    peak = float(x.abs().max()) if x.numel() else 0.0
    scale = peak / q_max if peak > 0 else 1.0
    q = torch.clamp(torch.round(x / scale), -q_max, q_max).to(torch.int64)
    return q, scale


def slice_magnitude(m: Tensor, slices: int, cell_bits: int) -> Tensor:
    r"""Split non-negative integers into ``slices`` digits of ``cell_bits`` bits, LSB first.

    Args:
        m: A `...`-dim integer Tensor, ``0 <= m < 2**(slices·cell_bits)``.
        slices: Number of digits.
        cell_bits: Bits per digit.

    Returns:
        A `... x slices`-dim Tensor of ``m``'s dtype with
        ``m = Σ_s digit_s · 2**(s·cell_bits)``.
    """
    shifts = torch.arange(slices, dtype=m.dtype) * cell_bits
    return (m.unsqueeze(-1) >> shifts) & (2**cell_bits - 1)


@dataclass(frozen=True, kw_only=True)
class MappedWeight:
    """A layer's weight as programmed levels plus its digital read-out."""

    layout: TileLayout
    levels: Tensor
    r"""A `row_tiles x col_tiles x rows x cols`-dim uint8 Tensor of cell levels
    (``0 = g_off``); unused cells are 0."""
    used_index: Tensor
    r"""A `n_used`-dim int64 Tensor: flat column indices ``tile·cols + col`` that are read."""
    combine: Tensor
    r"""A `n_used x out_features`-dim float Tensor: shift-and-add and sign/reference weights
    turning per-column readings (in level units) into the integer dot product."""
    weight_scale: float
    """Weight quantization step ``s_w``."""
    offset: int
    """Weight offset removed digitally (``2**(weight_bits-1) - 1`` for offset encoding, else 0)."""


def map_weight(
    name: str, kind: str, weight: Tensor, config: CrossbarConfig
) -> MappedWeight:
    r"""Quantize, encode, slice and tile an unrolled weight.

    Args:
        name: Layer name (for errors and reports).
        kind: ``"linear"`` or ``"conv"``.
        weight: A `out_features x in_features`-dim float Tensor.
        config: The crossbar configuration.

    Returns:
        The :class:`MappedWeight`.
    """
    out_features, in_features = weight.shape
    layout = layout_for(name, kind, in_features, out_features, config)
    q, scale = quantize_symmetric(weight.detach().to(torch.float32).cpu(), config.weight_bits)
    q = q.t().to(torch.int16)  # in x out; |q| <= 127 (slices in int16: a quarter of int64)
    cb = config.cell_bits
    digit_weight = 2.0 ** (torch.arange(layout.slices, dtype=torch.float64) * cb)
    if config.encoding == "differential":
        offset = 0
        pos = slice_magnitude(q.clamp_min(0), layout.slices, cb)  # in x out x slices
        neg = slice_magnitude((-q).clamp_min(0), layout.slices, cb)
        cells = torch.cat([pos, neg], dim=-1)  # in x out x 2·slices
        col_weight = torch.cat([digit_weight, -digit_weight])
    else:
        offset = 2 ** (config.weight_bits - 1) - 1
        cells = slice_magnitude(q + offset, layout.slices, cb)  # in x out x slices
        col_weight = digit_weight
    cells = cells.reshape(in_features, layout.weight_cols)  # output-major column order
    out_of_col = torch.arange(layout.weight_cols) // layout.cols_per_weight
    weight_of_col = col_weight.repeat(out_features)

    usable = config.cols - layout.ref_cols
    tile_of_col = torch.arange(layout.weight_cols) // usable
    within = torch.arange(layout.weight_cols) % usable
    flat_col = tile_of_col * config.cols + layout.ref_cols + within

    padded_rows = layout.row_tiles * config.rows
    grid = torch.zeros(padded_rows, layout.col_tiles, config.cols, dtype=torch.uint8)
    # Column i goes to tile i // usable, column ref_cols + i % usable (= flat_col): a view.
    fill = grid[:in_features, :, layout.ref_cols :].reshape(in_features, -1)
    fill[:, : layout.weight_cols] = cells.to(torch.uint8)
    grid[:in_features, :, layout.ref_cols :] = fill.view(in_features, layout.col_tiles, usable)
    grid = grid.view(padded_rows, layout.col_tiles * config.cols)
    levels = grid.reshape(layout.row_tiles, config.rows, layout.col_tiles, config.cols)
    levels = levels.permute(0, 2, 1, 3).contiguous()

    combine_full = torch.zeros(layout.col_tiles * config.cols, out_features, dtype=torch.float64)
    combine_full[flat_col, out_of_col] = weight_of_col
    if layout.ref_cols:
        ref_col = torch.arange(layout.col_tiles) * config.cols
        # Each weight column subtracts the reference column of its own array.
        combine_full.index_put_(
            (ref_col[tile_of_col], out_of_col), -weight_of_col, accumulate=True
        )
        used = torch.cat([ref_col, flat_col]).sort().values
    else:
        used = flat_col.sort().values
    return MappedWeight(
        layout=layout,
        levels=levels,
        used_index=used,
        combine=combine_full[used].to(torch.float32),
        weight_scale=scale,
        offset=offset,
    )


def unrolled_weight(module: nn.Linear | nn.Conv2d) -> Tensor:
    r"""The `out x in`-dim matrix of a layer (``out x C_in·kh·kw`` for a convolution)."""
    return module.weight.detach().reshape(module.weight.shape[0], -1)


def crossbar_layers(model: nn.Module) -> list[tuple[str, nn.Linear | nn.Conv2d]]:
    """The ``(name, module)`` pairs of ``model`` that go onto crossbars, in module order.

    The one definition of "a crossbar layer": the analog model, the cost model, the moment
    model and every mitigation ask this function. ``nn.Linear`` and zero-padded, ungrouped
    ``nn.Conv2d`` layers are mapped; normalization, activation and :class:`DigitalModule`
    parameters stay digital.

    Raises:
        MappingError: Naming the first layer that holds weights but cannot be mapped (a
            grouped or non-zero-padded convolution, a 1-D/3-D or transposed convolution,
            an embedding, a recurrent layer...), or if no layer can be mapped.
    """
    found: list[tuple[str, nn.Linear | nn.Conv2d]] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            found.append((name, module))
        elif isinstance(module, nn.Conv2d):
            if module.groups != 1:
                raise MappingError(
                    f"layer {name!r}: grouped convolution (groups={module.groups}) cannot be "
                    "mapped onto crossbars."
                )
            if module.padding_mode != "zeros":
                raise MappingError(
                    f"layer {name!r}: padding_mode={module.padding_mode!r} is not supported "
                    "(only 'zeros')."
                )
            if isinstance(module.padding, str):
                raise MappingError(
                    f"layer {name!r}: string padding {module.padding!r} is not supported."
                )
            found.append((name, module))
        elif isinstance(module, _DIGITAL_MODULES):
            continue
        elif any(True for _ in module.parameters(recurse=False)):
            raise MappingError(
                f"layer {name!r} ({type(module).__name__}) holds weights but cannot be mapped "
                "onto crossbars (only nn.Linear and nn.Conv2d are)."
            )
    if not found:
        raise MappingError("the model has no nn.Linear or nn.Conv2d layer to map.")
    return found


def layer_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerShape]:
    r"""The crossbar layers of ``model`` as the cost model sees them.

    Args:
        model: A torch model; its ``nn.Linear`` and ``nn.Conv2d`` layers go onto crossbars.
        input_shape: The shape of one input sample (without batch), e.g. ``(1, 8, 8)``.

    Returns:
        One :class:`simulator.cost.LayerShape` per mapped layer, in execution order, with
        ``positions = H_out·W_out`` for convolutions (and the product of the extra leading
        dimensions for a linear layer applied per position, 1 otherwise).

    Raises:
        MappingError: If a layer cannot be mapped (see :func:`crossbar_layers`).
    """
    layers = dict(crossbar_layers(model))
    order: list[LayerShape] = []
    handles = []

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            w = unrolled_weight(module)  # type: ignore[arg-type]
            if isinstance(module, nn.Conv2d):
                kind, positions = "conv", int(output.shape[-2] * output.shape[-1])
            else:
                kind, positions = "linear", int(math.prod(output.shape[1:-1]))
            order.append(LayerShape(name or "layer", kind, int(w.shape[1]), int(w.shape[0]),
                                    positions))

        return record

    for name, module in layers.items():
        handles.append(module.register_forward_hook(hook(name)))
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            param = next(model.parameters())
            model(torch.zeros(1, *input_shape, dtype=param.dtype, device=param.device))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return order
