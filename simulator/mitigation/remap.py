r"""SRS and DRS: sensitivity-driven re-mapping of crossbar rows and columns against IR drop.

With the circuit of :mod:`simulator.nonideal.ir_drop` (word lines driven at column 0, bit
lines sensed below the last row) a cell's IR-drop error grows with its column index (word-line
drop) and with its distance from the bottom row (bit-line drop). Moving the weights that
matter most to the bottom rows and left columns of their arrays lowers the network's error
without changing the mapped function: a row permutation is a re-routing of the inputs, a
column permutation a re-ordering of the outputs, both undone digitally.

* **Sensitivity** (:func:`weight_sensitivity`): per weight, the first-order Taylor saliency
  ``|Σ_batches ∂L/∂w · w|`` (``"taylor"``) or the diagonal Fisher/Gauss-Newton proxy of the
  Hessian ``E[(∂L/∂w)²] · w²`` (``"hessian"``), over training data.
* **SRS** (static re-mapping scheme): rows ranked by their summed sensitivity go to the
  physical rows nearest the sense amplifiers (bottom first, round-robin over row tiles);
  outputs ranked likewise go to the columns nearest the drivers. One permutation per layer,
  from the weights alone, before programming.
* **DRS** (dynamic re-mapping scheme), our reading: the ranking is re-evaluated against the
  IR-drop field that the placement itself creates on each tile. Starting from SRS, we compute
  each physical cell's first-order attenuation ``a = 1 - G_eff/G`` on the placed nominal
  arrays, then re-assign rows (given the columns) and outputs (given the rows) by exact
  linear assignment minimizing ``Σ S_ij · a(slot_i, slot_j)``, recompute the field, and keep
  the best of a few rounds. It uses the activation statistics (through ``S``) and the
  per-tile conductance loading that SRS ignores, and is still a one-time programming step.

:func:`remap_model` returns a functionally identical model whose crossbar layers are wrapped in
:class:`RemappedLinear` / :class:`RemappedConv2d` (a convolution becomes unfold + a linear
layer applied per position), which the analog simulator maps like any other layer.

References:
    .. [Molchanov2017] P. Molchanov et al., "Pruning convolutional neural networks for
       resource efficient inference", ICLR 2017 (Taylor saliency).
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from simulator.config import REMAP_SCHEMES, CrossbarConfig
from simulator.mapping import crossbar_layers, map_weight, unrolled_weight
from simulator.nonideal import level_conductance
from simulator.nonideal.ir_drop import first_order_conductance
from simulator.tiling import layout_for

logger = logging.getLogger(__name__)

__all__ = [
    "SCHEMES",
    "SENSITIVITIES",
    "Placement",
    "RemappedConv2d",
    "RemappedLinear",
    "drs_placement",
    "placement_cost",
    "remap_model",
    "srs_placement",
    "weight_sensitivity",
]

SCHEMES: tuple[str, ...] = REMAP_SCHEMES
"""Re-mapping schemes of :func:`remap_model`: the values of the ``remap`` knob."""

SENSITIVITIES: tuple[str, ...] = ("taylor", "hessian")
"""Sensitivity measures of :func:`weight_sensitivity`."""


@dataclass(frozen=True)
class Placement:
    """Physical positions of a layer's logical rows and outputs."""

    row_slot: Tensor
    """A `in_features`-dim int64 Tensor: physical row (``tile·rows + row``) of each input."""
    col_slot: Tensor
    """A `out_features`-dim int64 Tensor: output slot (packing order of the mapping) of each
    output."""
    n_row_slots: int
    """Physical rows available (``row_tiles · rows``)."""


def weight_sensitivity(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    kind: str = "taylor",
    batch_size: int = 128,
) -> dict[str, Tensor]:
    r"""Per-weight sensitivity of the loss, for every crossbar layer.

    Args:
        model: The float model.
        x: A `N x *in_shape`-dim Tensor of training inputs.
        y: A `N`-dim Tensor of their classes.
        kind: ``"taylor"`` or ``"hessian"`` (see the module docstring).
        batch_size: Mini-batch size of the gradient passes.

    Returns:
        An `out x in`-dim (unrolled) non-negative Tensor per layer name.

    Raises:
        ValueError: On an unknown ``kind``.
    """
    if kind not in SENSITIVITIES:
        raise ValueError(f"kind must be one of {SENSITIVITIES}, got {kind!r}.")
    model = copy.deepcopy(model).eval()  # frozen workload models included
    for p in model.parameters():
        p.requires_grad_(True)
    layers = crossbar_layers(model)
    acc = {name: torch.zeros_like(unrolled_weight(m)) for name, m in layers}
    n_batches = 0
    for i in range(0, x.shape[0], batch_size):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[i : i + batch_size]), y[i : i + batch_size]).backward()
        for name, module in layers:
            g = module.weight.grad.detach().reshape(acc[name].shape)
            w = unrolled_weight(module)
            acc[name] += g * w if kind == "taylor" else (g * g) * (w * w)
        n_batches += 1
    return {name: (a / n_batches).abs() for name, a in acc.items()}


def _row_slot_order(in_features: int, rows: int) -> Tensor:
    """Physical row slots, best first: bottom rows first, round-robin over row tiles."""
    tiles = math.ceil(in_features / rows)
    depth = torch.arange(rows - 1, -1, -1).repeat_interleave(tiles)  # rows-1, rows-1, ...
    tile = torch.arange(tiles).repeat(rows)
    return tile * rows + depth


def _col_slot_order(out_features: int, per_tile: int) -> Tensor:
    """Output slots, best first: left-most positions first, round-robin over column tiles."""
    tiles = math.ceil(out_features / per_tile)
    pos = torch.arange(per_tile).repeat_interleave(tiles)
    tile = torch.arange(tiles).repeat(per_tile)
    slots = tile * per_tile + pos
    return slots[slots < out_features]


def _outputs_per_tile(config: CrossbarConfig, layout_cols_per_weight: int, ref: int) -> int:
    return (config.cols - ref) // layout_cols_per_weight


def srs_placement(sensitivity: Tensor, config: CrossbarConfig) -> Placement:
    r"""Static re-mapping: most sensitive rows to the bottom, outputs to the left.

    Args:
        sensitivity: A `out x in`-dim non-negative Tensor (:func:`weight_sensitivity`).
        config: The crossbar configuration (array size, encoding).

    Returns:
        The :class:`Placement`.
    """
    out_f, in_f = sensitivity.shape
    layout = layout_for("layer", "linear", in_f, out_f, config)
    row_rank = torch.argsort(sensitivity.sum(0), descending=True, stable=True)
    col_rank = torch.argsort(sensitivity.sum(1), descending=True, stable=True)
    row_slots = _row_slot_order(in_f, config.rows)[:in_f]
    per_tile = _outputs_per_tile(config, layout.cols_per_weight, layout.ref_cols)
    col_slots = _col_slot_order(out_f, per_tile)
    row_slot = torch.empty(in_f, dtype=torch.int64)
    row_slot[row_rank] = row_slots
    col_slot = torch.empty(out_f, dtype=torch.int64)
    col_slot[col_rank] = col_slots
    return Placement(row_slot, col_slot, layout.row_tiles * config.rows)


def identity_placement(out_features: int, in_features: int, config: CrossbarConfig) -> Placement:
    """The mapping's own order (rows and outputs in index order)."""
    tiles = math.ceil(in_features / config.rows)
    return Placement(torch.arange(in_features), torch.arange(out_features), tiles * config.rows)


def _physical_weight(weight: Tensor, placement: Placement) -> Tensor:
    """`out x n_row_slots` weight in physical order (zero rows in empty slots)."""
    out_f = weight.shape[0]
    phys = weight.new_zeros(out_f, placement.n_row_slots)
    phys[:, placement.row_slot] = weight
    return phys[torch.argsort(placement.col_slot)]


def _attenuation(weight_phys: Tensor, config: CrossbarConfig) -> Tensor:
    r"""First-order relative IR-drop loss ``1 - G_eff / G`` per (physical row, output slot).

    Returns:
        A `n_row_slots x out`-dim Tensor: the mean over the output's columns.
    """
    mapped = map_weight("layer", "linear", weight_phys, config)
    g = level_conductance(mapped.levels, config.g_off_us, config.g_on_us, config.levels)
    g_eff = first_order_conductance(g.double() * 1e-6, config.wire_r_ohm) * 1e6
    atten = 1.0 - g_eff / g.double()  # T_r x T_c x rows x cols
    t_r, t_c, rows, cols = atten.shape
    flat = atten.permute(0, 2, 1, 3).reshape(t_r * rows, t_c * cols)
    used = flat[:, mapped.used_index]
    # Average over each output's weight columns (combine != 0 rows of the layout).
    owner = (mapped.combine.abs() > 0).double()  # n_used x out
    if mapped.layout.ref_cols:
        owner = owner * (mapped.combine > 0).double()
    return (used @ owner) / owner.sum(0).clamp_min(1)


def placement_cost(
    sensitivity: Tensor, placement: Placement, weight: Tensor, config: CrossbarConfig
) -> float:
    """``Σ_ij S_ij · a(row_slot_i, output_j)``: the sensitivity-weighted first-order IR loss."""
    atten = _attenuation(_physical_weight(weight, placement), config)  # slots x out(phys)
    a = atten[placement.row_slot][:, placement.col_slot]  # in x out
    return float((sensitivity.t().double() * a).sum())


def drs_placement(
    sensitivity: Tensor, weight: Tensor, config: CrossbarConfig, *, rounds: int = 3
) -> Placement:
    r"""Dynamic re-mapping (see the module docstring): SRS refined by linear assignment
    against the placement's own first-order IR-drop field.

    Args:
        sensitivity: A `out x in`-dim non-negative Tensor.
        weight: The `out x in` unrolled float weight.
        config: The crossbar configuration (``wire_r_ohm`` sets the field).
        rounds: Alternating row/column assignment rounds, >= 1.

    Returns:
        The best :class:`Placement` found (never worse than SRS in :func:`placement_cost`).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds!r}.")
    best = srs_placement(sensitivity, config)
    best_cost = placement_cost(sensitivity, best, weight, config)
    current = best
    s = sensitivity.double().numpy()  # out x in
    for _ in range(rounds):
        atten = _attenuation(_physical_weight(weight, current), config).numpy()  # slots x out
        a_cols = atten[:, current.col_slot.numpy()]  # slots x out(logical)
        row_cost = s.T @ a_cols.T  # in x slots
        r_idx, slot_idx = linear_sum_assignment(row_cost)
        row_slot = torch.from_numpy(slot_idx[np.argsort(r_idx)]).to(torch.int64)
        a_rows = atten[row_slot.numpy()]  # in x out_slots
        col_cost = s @ a_rows  # out x out_slots
        c_idx, cslot = linear_sum_assignment(col_cost)
        col_slot = torch.from_numpy(cslot[np.argsort(c_idx)]).to(torch.int64)
        current = Placement(row_slot, col_slot, current.n_row_slots)
        cost = placement_cost(sensitivity, current, weight, config)
        logger.debug("DRS round cost %.6g (best %.6g)", cost, best_cost)
        if cost < best_cost:
            best, best_cost = current, cost
    return best


class RemappedLinear(nn.Module):
    r"""A linear map whose crossbar rows/columns are permuted: `... x in -> ... x out`.

    ``linear`` holds the weight in physical order (`out x n_row_slots`, zero rows in empty
    slots); inputs are routed to their rows and outputs restored to logical order digitally.
    """

    def __init__(self, weight: Tensor, bias: Tensor | None, placement: Placement) -> None:
        super().__init__()
        out_f = weight.shape[0]
        order = torch.argsort(placement.col_slot)  # physical output slot -> logical output
        self.linear = nn.Linear(placement.n_row_slots, out_f, bias=bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(_physical_weight(weight, placement))
            if bias is not None:
                self.linear.bias.copy_(bias[order])
        source = torch.full((placement.n_row_slots,), weight.shape[1], dtype=torch.int64)
        source[placement.row_slot] = torch.arange(weight.shape[1])
        self.register_buffer("in_index", source)  # physical row -> logical input (or pad)
        self.register_buffer("out_index", placement.col_slot.clone())  # logical -> slot

    def forward(self, x: Tensor) -> Tensor:
        padded = F.pad(x, (0, 1))
        return self.linear(padded[..., self.in_index])[..., self.out_index]


class RemappedConv2d(nn.Module):
    r"""A Conv2d computed as unfold + :class:`RemappedLinear` per output position:
    `N x C x H x W -> N x O x H' x W'`."""

    def __init__(self, conv: nn.Conv2d, placement: Placement) -> None:
        super().__init__()
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation = conv.padding, conv.dilation
        bias = None if conv.bias is None else conv.bias.detach()
        self.body = RemappedLinear(unrolled_weight(conv), bias, placement)

    def forward(self, x: Tensor) -> Tensor:
        cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        y = self.body(cols.transpose(1, 2))  # N x P x O
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        (ph, pw), (dh, dw) = self.padding, self.dilation
        h_out = (x.shape[-2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        w_out = (x.shape[-1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        return y.transpose(1, 2).reshape(x.shape[0], -1, h_out, w_out)


def remap_model(
    model: nn.Module,
    config: CrossbarConfig,
    sensitivity: dict[str, Tensor],
    *,
    scheme: str = "srs",
    rounds: int = 3,
) -> nn.Module:
    r"""A functionally identical copy of ``model`` with re-mapped crossbar layers.

    Args:
        model: The float model (not modified).
        config: The crossbar configuration.
        sensitivity: Per-layer `out x in` sensitivities (:func:`weight_sensitivity`).
        scheme: ``"none"`` (a deep copy), ``"srs"`` or ``"drs"``.
        rounds: DRS rounds.

    Returns:
        The re-mapped model; ``Linear``/``Conv2d`` layers become :class:`RemappedLinear` /
        :class:`RemappedConv2d`.

    Raises:
        ValueError: On an unknown ``scheme`` or a layer missing from ``sensitivity``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}.")
    new = copy.deepcopy(model)
    if scheme == "none":
        return new
    for name, module in crossbar_layers(new):
        if name not in sensitivity:
            raise ValueError(f"sensitivity has no entry for layer {name!r}.")
        w = unrolled_weight(module)
        if scheme == "srs":
            placement = srs_placement(sensitivity[name], config)
        else:
            placement = drs_placement(sensitivity[name], w, config, rounds=rounds)
        if isinstance(module, nn.Conv2d):
            wrapped: nn.Module = RemappedConv2d(module, placement)
        else:
            bias = None if module.bias is None else module.bias.detach()
            wrapped = RemappedLinear(w, bias, placement)
        parent, _, child = name.rpartition(".")
        setattr(new.get_submodule(parent) if parent else new, child, wrapped)
    return new
