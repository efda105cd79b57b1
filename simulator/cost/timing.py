r"""Per-layer latency in clock cycles as DNN+NeuroSim V1.4 counts it (``synchronous = true``).

NeuroSim (commit ac828e6) times every block in cycles of one chip clock and multiplies by the
clock period at the end (``main.cpp``). What it counts for one layer (pipelined, default
options, ``ChipCalculatePerformance`` / ``TileCalculatePerformance``):

* **Sensing** (``SubArray::CalculateLatency``): every sub-array senses ``cols_per_adc``
  columns per input bit of every input vector, one cycle each; the layer's weight copies
  split the vectors (divided by the speed-up, ``Tile.cpp``).
* **Tile buffers**: the register-file input buffer takes the tile's input bits and the
  output buffer its partial sums, one line per cycle (``Buffer::CalculateLatency``: half the
  lines written, half read), in ``tileBufferCoreSize`` (32 x 32) cores that work in parallel
  up to the H-tree's width (``Tile.cpp``). These are **not** divided by the speed-up.
* **Global buffer**: the layer's input activations out and its outputs in, 128-bit lines,
  divided by ``min(numBufferCore, ceil(globalBusWidth / 128))`` (``Chip.cpp``).
* **Interconnect**: the tile H-tree carries input and output bits ``busWidth`` at a time,
  the chip X-Y bus input bits ``globalBusWidth`` at a time spread over the tile rows (and
  outputs over the tile columns) (``HTree``/``XYBus::CalculateLatency``).

Not ported (documented lower bounds): the wire delay of a bus transfer is taken as one cycle
(NeuroSim rounds the repeated-wire delay up to whole cycles, 2 at its 22 nm defaults), PE-level
buffers and buses, ReLU / max-pool units (about 1 % of a layer) and the max-pool's 4x fewer
output bits into the global buffer. Sizes follow :class:`simulator.cost.floorplan.Floorplan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from simulator.cost.delays import (
    encoder_delay_s,
    mux_decoder_delay_s,
    mux_delay_s,
    word_line_delay_s,
)
from simulator.cost.floorplan import Floorplan, ifm_side
from simulator.cost.floorplan import LayerShape as _Layer

__all__ = ["BETA_SENSING", "LayerCycles", "clock_period_ns", "layer_cycles"]

BETA_SENSING = 1.4
"""NeuroSim's latency factor of the sensing cycle (``Param.cpp`` ``beta``, ``validated``)."""
TILE_BUFFER_CORE_BITS = 32 * 32
"""``tileBufferCoreSizeRow x tileBufferCoreSizeCol`` (``Param.cpp``)."""
TILE_BUFFER_LINE_BITS = 32
"""``tileBufferCoreSizeCol``: line width of a full tile-buffer core."""
GLOBAL_BUFFER_CORE_BITS = 128 * 128
"""``globalBufferCoreSizeRow x globalBufferCoreSizeCol`` (``Param.cpp``)."""
GLOBAL_BUFFER_LINE_BITS = 128
"""``globalBufferCoreSizeCol``: line width of the global buffer."""
MAX_GLOBAL_BUS_BITS = 2048
"""``maxGlobalBusWidth`` (``Param.cpp``)."""


class _Config(Protocol):
    rows: int
    cols: int
    cell_bits: int
    input_bits: int
    dac_bits: int
    adc_bits: int
    cols_per_adc: int
    clock_ghz: float
    tech_node_nm: int
    g_on_us: float
    g_off_us: float
    adc_type: str


@dataclass(frozen=True)
class LayerCycles:
    """Clock cycles of one layer per image, by what NeuroSim books them as."""

    sensing: float
    """Sub-array sensing cycles after the speed-up."""
    buffer: float
    """Tile and global buffer cycles."""
    interconnect: float
    """Tile H-tree and chip bus transfers (one cycle each)."""


def clock_period_ns(config: _Config, adc_latency_ns: float) -> float:
    """Chip clock [ns]: the configured clock, stretched to NeuroSim's sensing cycle
    ``β·(max(t_WL, t_mux + t_mux_decoder) + t_ADC + t_encoder)`` when that is longer
    (``clkPeriod``, ``SubArray::CalculateLatency``; the delays are
    :mod:`simulator.cost.delays`, ``t_ADC`` = ``adc_latency_ns``, no encoder for a SAR ADC)."""
    node, r_on = config.tech_node_nm, 1e6 / config.g_on_us
    r_off = 1e6 / config.g_off_us if config.g_off_us > 0 else math.inf
    args = (node, config.rows, config.cols, config.cols_per_adc, r_on, r_off)
    select_s = max(word_line_delay_s(node, config.rows, config.cols, r_on),
                   mux_delay_s(*args) + mux_decoder_delay_s(*args))
    encoder_s = encoder_delay_s(node, config.adc_bits) if config.adc_type == "mlsa" else 0.0
    sensing_ns = (select_s + encoder_s) * 1e9 + adc_latency_ns
    return max(1.0 / config.clock_ghz, BETA_SENSING * sensing_ns)


def _partial_sum_bits(config: _Config, cols_per_weight: int) -> int:
    """Bits of a sub-array's shift-added output (``numBitSubarrayOutput``, parallel read)."""
    return config.adc_bits + config.input_bits + (cols_per_weight - 1) * config.cell_bits + 1


def _global_bus_bits(config: _Config, plan: Floorplan) -> float:
    """``globalBusWidth`` (``ChipInitialize``, pipelined): each tile's input + output lanes,
    halved until at most :data:`MAX_GLOBAL_BUS_BITS`."""
    width = 0.0
    for (r, c), nm in zip(plan.tiles, plan.novel, strict=True):
        side = plan.pe_nm * math.ceil(math.sqrt(plan.num_pe_nm)) if nm else plan.tile_cm
        width += (side + side / config.cols_per_adc) * r * c
    while width > MAX_GLOBAL_BUS_BITS:
        width /= 2
    return width


def layer_cycles(config: _Config, layers: list[_Layer], plan: Floorplan, copies: list[int],
                 cols_per_weight: int) -> list[LayerCycles]:
    """NeuroSim's sensing, buffer and interconnect cycles of each layer (module docstring)."""
    cycles_per_vector = math.ceil(config.input_bits / config.dac_bits)
    steps = math.ceil(config.cols / math.ceil(config.cols / config.cols_per_adc))
    out_bits = _partial_sum_bits(config, cols_per_weight)
    bus = _global_bus_bits(config, plan)
    stored = sum(ifm_side(la) ** 2 * la.in_features // (la.kernel_area or 1) for la in layers)
    buffer_cores = math.ceil(config.input_bits * stored / 2 / GLOBAL_BUFFER_CORE_BITS)
    global_parallel = min(buffer_cores, math.ceil(bus / GLOBAL_BUFFER_LINE_BITS))
    n_tiles = sum(r * c for r, c in plan.tiles)
    grid_rows = math.ceil(math.sqrt(n_tiles))
    grid_cols = math.ceil(n_tiles / grid_rows)
    out = []
    for layer, nm, (tile_rows, tile_cols), dup in zip(layers, plan.novel, plan.tiles, copies,
                                                       strict=True):
        vector_bits = layer.positions * cycles_per_vector  # NeuroSim's numInVector
        weight_cols = layer.out_features * cols_per_weight
        kernel = layer.kernel_area or 1
        if nm:
            num_pe, pe = plan.num_pe_nm, plan.pe_nm
            rows_in_tile = min(pe * num_pe, layer.in_features)
            cols_in_tile = min(pe, weight_cols)
            bits_to_tile = rows_in_tile * vector_bits / math.sqrt(num_pe)
            kernel_side = math.isqrt(kernel) if math.isqrt(kernel) ** 2 == kernel else 1
            bits_from_global = layer.in_features * config.input_bits * layer.positions
            bits_from_global /= kernel_side  # the novel mapping reuses a row of the kernel
        else:
            num_pe, pe = round(plan.tile_cm / plan.pe_cm), plan.pe_cm
            rows_in_tile = min(plan.tile_cm, layer.in_features)
            cols_in_tile = min(plan.tile_cm, weight_cols)
            bits_to_tile = rows_in_tile * vector_bits
            bits_from_global = layer.in_features * config.input_bits * layer.positions
        sub_arrays = math.ceil(pe / config.rows) * math.ceil(pe / config.cols)
        pe_out_bits = out_bits + math.ceil(math.sqrt(sub_arrays))
        word = pe_out_bits + math.ceil(math.log2(num_pe)) if num_pe > 1 else pe_out_bits
        h_tree_bits = num_pe * pe
        in_bits = num_pe * config.input_bits * config.rows
        in_line = num_pe * config.rows if in_bits < TILE_BUFFER_CORE_BITS else TILE_BUFFER_LINE_BITS
        in_cores = math.ceil(in_bits / TILE_BUFFER_CORE_BITS)
        out_total = word * num_pe * config.cols / config.cols_per_adc
        out_line = word * num_pe if out_total < TILE_BUFFER_CORE_BITS else TILE_BUFFER_LINE_BITS
        out_cores = math.ceil(out_total / TILE_BUFFER_CORE_BITS)
        bits_from_tile = math.ceil(cols_in_tile / cols_per_weight) * word * layer.positions
        tile_buffer = (bits_to_tile / in_line / min(in_cores, math.ceil(h_tree_bits / in_line))
                       + bits_from_tile / out_line
                       / min(out_cores, math.ceil(h_tree_bits / out_line)))
        bits_to_global = layer.out_features * config.input_bits * layer.positions
        global_buffer = ((bits_from_global + bits_to_global) / GLOBAL_BUFFER_LINE_BITS
                         / global_parallel)
        h_tree = (bits_to_tile + bits_from_tile) / h_tree_bits
        chip_bus = (math.ceil(bits_from_global / bus * grid_rows / tile_rows)
                    + math.ceil(bits_to_global / bus * grid_cols / tile_cols))
        out.append(LayerCycles(sensing=vector_bits * steps / dup,
                               buffer=tile_buffer + global_buffer,
                               interconnect=h_tree + chip_bus))
    return out
