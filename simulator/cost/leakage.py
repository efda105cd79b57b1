r"""Leakage power and energy as DNN+NeuroSim V1.4 (commit ac828e6) books them.

Every gate leaks ``CalculateGateLeakage`` (``formula.cpp``, bulk, 300 K) times ``Vdd``: an
inverter ``(W_n·I_off,n + W_p·I_off,p) / 2``, a k-input NAND ``0.48 (k = 2) or 0.31 (k > 2) ·
k·W_p·I_off,p``, a k-input NOR ``0.95 or 0.62 · k·W_n·I_off,n`` (``constant.h``
``AVG_RATIO_LEAK_*``), with the off currents per width of :mod:`simulator.cost.technology`.
Blocks sum their gates the way their ``CalculatePower`` does:

* a DFF is 8 minimum inverters (``DFF.cpp``), an adder bit 9 NAND2 (``Adder.cpp``), a
  shift-adder its adder plus flip-flops (``ShiftAdd.cpp``), an adder tree its stages' adders
  (``AdderTree.cpp``), a register-file buffer its flip-flops plus its word-line decoder
  (``Buffer.cpp``, ``RowDecoder.cpp``), the MLSA encoder its NAND/INV gates
  (``MultilevelSAEncoder.cpp``); the MLSA itself, the analog mux, the SAR ADC and the
  transmission gates book none;
* a repeated bus leaks ``leak(repeater) / spacing`` per bit and metre (``Bus.cpp`` for the
  PE buses, no delay tolerance; ``HTree.cpp`` for a tile's H-tree, tolerance 0.1).

Hierarchy (``SubArray.cpp`` conventionalParallel RRAM 1T1R, ``ProcessingUnit.cpp``,
``Tile.cpp``): a sub-array leaks through its word-line and source-line switch matrices'
flip-flops, the column-mux decoder, the MLSA encoders and the shift-adders; a PE through all
its ``n x n`` sub-arrays, its adder tree, its input/output flip-flop buffers and its two buses;
a tile through all its PEs, its accumulation tree, one input and one output buffer core and its
H-tree. Chip-level blocks (global buffer, X-Y bus, pooling, activation) book no leakage.

Energy (``main.cpp``): with the pipeline, a layer's tiles leak while the layer waits for the
slowest stage, ``P_l = n_l·P_tile·(T - t_l) / T`` with ``T`` the running maximum of the layer
latencies, and ``E_l = P_l·T_final``; layer by layer, every *other* layer's tiles leak while
layer ``l`` runs, ``E_l = (Σ_{j≠l} n_j)·P_tile,l·t_l``. Powers in W, energies in J, lengths
in m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from simulator.cost.chip_area import (
    SubArrayDesign,
    buffer_core_bits,
    pe_parts,
    sub_array_design,
    sub_array_parts,
)
from simulator.cost.floorplan import Floorplan, LayerShape
from simulator.cost.gates import STD_HEIGHT_F, enlarge_size
from simulator.cost.technology import TechnologyNode, technology
from simulator.cost.wires import h_tree_length, repeater

__all__ = [
    "adder_tree_leakage_w",
    "buffer_leakage_w",
    "decoder_leakage_w",
    "dff_leakage_w",
    "gate_leakage_w",
    "layer_leakage",
    "leakage_breakdown",
    "sub_array_leakage_w",
    "tile_leakage_w",
]

_NAND_2, _NAND_MORE = 0.48, 0.31  # AVG_RATIO_LEAK_2INPUT_NAND, _3INPUT_NAND
_NOR_2, _NOR_MORE = 0.95, 0.62  # AVG_RATIO_LEAK_2INPUT_NOR, _3INPUT_NOR


def gate_leakage_w(
    tech: TechnologyNode, kind: Literal["inv", "nand", "nor"], inputs: int, wn: float, wp: float
) -> float:
    """Leakage power of one gate [W] (``CalculateGateLeakage`` · ``Vdd``)."""
    if kind == "inv":
        current = (wn * tech.i_off_nmos_a_per_m + wp * tech.i_off_pmos_a_per_m) / 2
    elif kind == "nand":
        ratio = _NAND_2 if inputs == 2 else _NAND_MORE
        current = ratio * wp * tech.i_off_pmos_a_per_m * inputs
    else:
        ratio = _NOR_2 if inputs == 2 else _NOR_MORE
        current = ratio * wn * tech.i_off_nmos_a_per_m * inputs
    return current * tech.vdd_v


def _min_inv_w(tech: TechnologyNode, scale: float = 1.0) -> float:
    w = 2 * tech.feature_m * scale
    return gate_leakage_w(tech, "inv", 1, w, tech.pn_size_ratio * w)


def _enlarged(
    tech: TechnologyNode, kind: Literal["inv", "nand", "nor"], inputs: int, wn: float, wp: float
) -> float:
    f = tech.feature_m
    return gate_leakage_w(tech, kind, inputs, *enlarge_size(wn, wp, STD_HEIGHT_F * f, f))


def dff_leakage_w(tech: TechnologyNode, count: float) -> float:
    """``count`` flip-flops, 8 minimum inverters each (``DFF.cpp``) [W]."""
    return 8 * count * _min_inv_w(tech)


def _adder_w(tech: TechnologyNode, bits: int, count: int) -> float:
    """``count`` ripple adders of ``bits`` bits, 9 enlarged NAND2 per bit (``Adder.cpp``)."""
    f = tech.feature_m
    return 9 * bits * count * _enlarged(tech, "nand", 2, 4 * f, tech.pn_size_ratio * 2 * f)


def adder_tree_leakage_w(tech: TechnologyNode, inputs: int, bits: int, trees: int) -> float:
    """``trees`` adder trees reducing ``inputs`` operands of ``bits`` bits
    (``AdderTree::CalculatePower``: ``ceil(log2 inputs)`` stages of ``j // 2`` adders) [W]."""
    total, j, width = 0.0, inputs, bits
    for _ in range(math.ceil(math.log2(inputs)) if inputs > 1 else 0):
        total += _adder_w(tech, width, j // 2)
        width += 1
        j //= 2
    return total * trees


def _shift_add_w(tech: TechnologyNode, units: int, adder_bits: int, pulses: int) -> float:
    """``units`` shift-adders: an adder plus ``adder_bits + pulses`` DFFs each."""
    return _adder_w(tech, adder_bits, units) + dff_leakage_w(tech, (adder_bits + pulses) * units)


def _encoder_w(tech: TechnologyNode, levels: int, count: int) -> float:
    """``count`` MLSA thermometer encoders (``MultilevelSAEncoder.cpp``)."""
    f = tech.feature_m
    wn, wp = 8 * f, 2 * tech.pn_size_ratio * 2 * f
    per = (
        gate_leakage_w(tech, "nand", 2, wn, wp) * (levels - 1)
        + gate_leakage_w(tech, "nand", levels // 2, wn, wp) * math.ceil(math.log2(levels))
        + _min_inv_w(tech) * 5 * (levels - 1)
    )
    return per * count


def decoder_leakage_w(tech: TechnologyNode, address_bits: int, mux: bool) -> float:
    """A ``RowDecoder`` of ``address_bits`` (``REGULAR_ROW``, not parallel; gates enlarged):
    inverters, NAND2 pre-decode, one NOR per output and, per output, a NAND and two
    inverters (``MUX``, the column-mux decoder) or two drivers of twice the minimum size
    (``sizingfactor_WLdecoder = 1``) [W]."""
    f, pn, n = tech.feature_m, tech.pn_size_ratio, address_bits
    nor_in = math.ceil(n / 2)
    n_nor = 2**n if n > 2 else 0
    inv = _enlarged(tech, "inv", 1, 2 * f, pn * 2 * f)
    nand = _enlarged(tech, "nand", 2, 4 * f, pn * 2 * f)
    total = inv * n + nand * 4 * (n // 2)
    if nor_in:
        total += _enlarged(tech, "nor", nor_in, 2 * f, nor_in * pn * 2 * f) * n_nor
    if mux:
        return total + (nand + 2 * inv) * n_nor
    return total + 2 * n_nor * gate_leakage_w(tech, "inv", 1, 4 * f, pn * 4 * f)


def buffer_leakage_w(tech: TechnologyNode, bits: int, interface_bits: int) -> float:
    """A register-file buffer (``Buffer.cpp``, ``SRAM = false``): ``bits`` flip-flops and the
    decoder of its ``ceil(bits / interface)`` lines [W]."""
    lines = math.ceil(bits / interface_bits)
    address = math.ceil(math.log2(lines)) if lines > 1 else 0
    return dff_leakage_w(tech, bits) + decoder_leakage_w(tech, address, mux=False)


def _bus_w(tech: TechnologyNode, length: float, bits: float, tolerance: float) -> float:
    """``bits`` repeated wires ``length`` long (``Bus.cpp`` / ``HTree.cpp``)."""
    size, spacing = repeater(tech, tolerance)
    return _min_inv_w(tech, size) / spacing * length * bits


def sub_array_leakage_w(tech: TechnologyNode, d: SubArrayDesign) -> float:
    """One sub-array (``SubArray::CalculatePower``, conventionalParallel, 1T1R) [W]."""
    total = dff_leakage_w(tech, d.rows) + dff_leakage_w(tech, d.cols)  # WL / SL switch DFFs
    if d.cols_per_adc > 1:
        total += decoder_leakage_w(tech, math.ceil(math.log2(d.cols_per_adc)), mux=True)
    units = math.ceil(d.cols / d.cols_per_adc)
    adc_bits = int(math.log2(d.adc_levels))
    if not d.sar:  # NeuroSim books no SAR leakage
        total += _encoder_w(tech, d.adc_levels, d.cols // d.cols_per_adc)
    if d.cols_per_weight > 1:
        total += _shift_add_w(tech, units, adc_bits, d.cols_per_weight)
    if d.input_cycles > 1:
        total += _shift_add_w(tech, units, adc_bits + d.cols_per_weight, d.input_cycles)
    return total


def tile_leakage_w(
    tech: TechnologyNode, d: SubArrayDesign, plan: Floorplan, novel: bool, pe_rows: int
) -> float:
    """One tile of ``plan`` (novel-mapped or conventional) whose last-computed PE holds
    ``pe_rows`` weight rows [W]. NeuroSim's adder trees leak only over the inputs their last
    ``CalculatePower`` reduced: the PE's over ``ceil(pe_rows / rows)`` sub-arrays, the tile's
    over its PEs (its own call; with duplication NeuroSim may reuse an earlier layer's value,
    not ported: the tile leakage of its six saved runs is matched within 0.1 % anyway)."""
    sub = sub_array_parts(tech, d)
    _, sub_h, sub_w = sub
    if novel:
        k = plan.num_pe_nm
        pe_side, per_side, num_pe, tree_in = plan.pe_nm, math.ceil(math.sqrt(k)), k, k
        trees = math.ceil(plan.pe_nm / d.cols_per_adc)
    else:
        per_side = math.ceil(plan.tile_cm / plan.pe_cm)
        pe_side, num_pe, tree_in = plan.pe_cm, per_side**2, per_side
        trees = math.ceil(per_side * plan.pe_cm / d.cols_per_adc)
    pe, n = pe_parts(tech, d, *sub, pe_side)
    stages = math.ceil(math.log2(n)) if n > 1 else 0
    pe_w = (
        sub_array_leakage_w(tech, d) * n * n
        + adder_tree_leakage_w(
            tech, math.ceil(pe_rows / d.rows), d.output_bits, math.ceil(n * d.cols / d.cols_per_adc)
        )
        + dff_leakage_w(tech, d.input_bits * d.rows)
        + dff_leakage_w(tech, d.cols // d.cols_per_adc * (d.output_bits + stages))
        + _bus_w(tech, sub_w * (n - 1), d.rows, 0.0)
        + _bus_w(tech, sub_h * (n - 1), n * d.cols, 0.0)
    )
    pe_bits = d.output_bits + n
    out_bits = pe_bits + (math.ceil(math.log2(tree_in)) if tree_in > 1 else 0)
    core_in = buffer_core_bits(tree_in * d.input_bits * d.rows, tree_in * d.rows)
    core_out = buffer_core_bits(out_bits * tree_in * d.cols / d.cols_per_adc, out_bits * tree_in)
    pe_h = math.sqrt(pe.box)
    return (
        pe_w * num_pe
        + adder_tree_leakage_w(tech, tree_in, pe_bits, trees)
        + buffer_leakage_w(tech, *core_in[:2])
        + buffer_leakage_w(tech, *core_out[:2])
        + _bus_w(tech, h_tree_length(per_side, pe_h, pe_h), tree_in * pe_side, 0.1)
    )


def _last_pe_rows(layer: LayerShape, plan: Floorplan, novel: bool) -> int:
    """Weight rows of the PE NeuroSim computes last for a layer (its last tile's last PE):
    the row block left over by the tiles, then by the PEs of a conventional tile."""
    rows = layer.in_features
    if novel:
        block = int(plan.pe_nm * plan.num_pe_nm)
        last = rows - (math.ceil(rows / block) - 1) * block
        return last // plan.num_pe_nm
    tile, pe = int(plan.tile_cm), int(plan.pe_cm)
    last_tile = rows - (math.ceil(rows / tile) - 1) * tile
    return last_tile - (math.ceil(last_tile / pe) - 1) * pe


def layer_leakage(
    tech: TechnologyNode,
    d: SubArrayDesign,
    layers: Sequence[LayerShape],
    plan: Floorplan,
    latencies_s: Sequence[float],
    pipeline: bool,
) -> tuple[list[float], list[float]]:
    """Per layer, NeuroSim's printed leakage power [W] and leakage energy per image [J]
    (see the module docstring); ``latencies_s`` are the layers' latencies [s]."""
    cache: dict[tuple[bool, int], float] = {}
    tiles = [r * c for r, c in plan.tiles]
    tile_w = []
    for layer, novel in zip(layers, plan.novel, strict=True):
        key = (novel, _last_pe_rows(layer, plan, novel))
        if key not in cache:
            cache[key] = tile_leakage_w(tech, d, plan, *key)
        tile_w.append(cache[key])
    powers, energies = [], []
    if pipeline:
        running = 0.0
        for n, p_tile, t in zip(tiles, tile_w, latencies_s, strict=True):
            running = max(running, t)
            powers.append(n * p_tile * (running - t) / running if running > 0 else 0.0)
        final = max(latencies_s)
        energies = [p * final for p in powers]
    else:
        total = sum(tiles)
        for n, p_tile, t in zip(tiles, tile_w, latencies_s, strict=True):
            powers.append(n * p_tile)
            energies.append((total - n) * p_tile * t)
    return powers, energies


def leakage_breakdown(
    config: Any,
    layers: Sequence[LayerShape],
    plan: Floorplan,
    cols_per_weight: int,
    input_cycles: int,
    extra_row_driver_um2: float,
    latencies_us: Sequence[float],
) -> dict[str, Any]:
    """The cost model's leakage: ``energy_uj`` and ``power_uw`` of the chip per image and
    ``layers`` (per layer ``power_uw`` as NeuroSim prints it, ``energy_uj``), for a
    configuration with the fields of :class:`simulator.cost.model.CrossbarLike` laid out by
    ``plan``, the layers taking ``latencies_us`` [µs] each."""
    tech = technology(config.tech_node_nm)
    design = sub_array_design(config, cols_per_weight, input_cycles, extra_row_driver_um2)
    powers, energies = layer_leakage(
        tech,
        design,
        layers,
        plan,
        [t * 1e-6 for t in latencies_us],
        pipeline=config.speed_up_degree > 1,
    )
    return {
        "energy_uj": sum(energies) * 1e6,
        "power_uw": sum(powers) * 1e6,
        "layers": [
            {"power_uw": p * 1e6, "energy_uj": e * 1e6}
            for p, e in zip(powers, energies, strict=True)
        ],
    }
