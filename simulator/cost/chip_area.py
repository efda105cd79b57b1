r"""Chip area as DNN+NeuroSim V1.4 (commit ac828e6) books it: sub-array, PE, tile and chip
bounding boxes and the four printed groups (CIM array, ADC, accumulation, other periphery)
plus interconnect.

Hierarchy (RRAM 1T1R, parallel read, ``novelMapping``, ``chipActivation``, register-file
buffers and an X-Y global bus, NeuroSim's defaults):

* **Sub-array** (``SubArray::CalculateArea``, conventionalParallel): the cell array with the
  word-line level shifters and switch matrix beside it and, below it, the source-line level
  shifters and switch matrix, the column mux, the ADCs (MLSA + encoder, or SAR) and the
  weight/input shift-adders; its area is the bounding box ``height x width``.
* **PE** (``ProcessingUnitCalculateArea``): ``n x n`` sub-arrays, an adder tree over the
  ``n`` row blocks, input/output flip-flop buffers; a square of the summed area.
* **Tile** (``TileCalculateArea``): ``numPE`` PEs, an adder tree over the PEs, input/output
  buffer cores and the PE H-tree; a square of the summed area.
* **Chip** (``ChipCalculateArea``): the novel- and conventionally-mapped tiles of
  :func:`~simulator.cost.floorplan.floorplan`, the X-Y bus, the global buffer, max-pool, ReLU
  and the global accumulator. The groups sum the blocks' own areas; the chip area is the sum of
  the tiles' bounding boxes plus the chip-level blocks, so it exceeds the sum of the groups by
  the layout slack (``whitespace_um2``).

Every area here is in m² internally and µm² in :class:`ChipArea`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from simulator.cost import periphery as pp
from simulator.cost.floorplan import Floorplan, LayerShape, floorplan, ifm_side
from simulator.cost.technology import TechnologyNode, technology
from simulator.cost.wires import h_tree_area, xy_bus_area

__all__ = [
    "AreaParts",
    "ChipArea",
    "SubArrayDesign",
    "chip_area",
    "buffer_core_bits",
    "component_areas",
    "pe_parts",
    "sub_array_design",
    "sub_array_parts",
]

_UM2 = 1e12
_BUFFER_CORE_BITS = 32 * 32  # tileBufferCoreSizeRow x Col (Param.cpp)
_GLOBAL_CORE_BITS = 128 * 128  # globalBufferCoreSizeRow x Col
_MAX_BUS_BITS = 2048  # maxGlobalBusWidth
_TILE_HTREE_FOLD, _CHIP_BUS_FOLD = 16, 4  # HTree fold in TileCalculateArea, treeFoldedRatio
_ACCESS_R = 0.25  # IR_DROP_TOLERANCE: access transistor = 0.25 x R_on


@dataclass(frozen=True, kw_only=True)
class SubArrayDesign:
    """What NeuroSim's sub-array area reads of a configuration."""

    rows: int
    cols: int
    cols_per_adc: int
    adc_levels: int
    """ADC output levels ``2^adc_bits`` (``levelOutput``)."""
    sar: bool
    cols_per_weight: int
    """Cells per weight (``numColPerSynapse``)."""
    cell_bits: int
    input_cycles: int
    """Input pulses per input (``numReadPulse``; ``numBitInput`` when bit-serial)."""
    input_bits: int
    r_on_ohm: float
    r_off_ohm: float
    extra_row_driver_m2: float = 0.0
    """Row-driver area beyond NeuroSim's bit-serial switch matrix (multi-bit DACs) [m²]."""

    @property
    def output_bits(self) -> int:
        """Bits of a sub-array's partial sum (``numBitSubarrayOutput``, parallel read)."""
        return (int(math.log2(self.adc_levels)) + self.input_bits
                + (self.cols_per_weight - 1) * self.cell_bits + 1)


@dataclass(frozen=True)
class AreaParts:
    """Areas of one block [m²]: its bounding box and NeuroSim's groups (``row_side`` and
    ``col_side`` split the sub-array periphery that NeuroSim books as "other")."""

    box: float
    array: float = 0.0
    adc: float = 0.0
    shift_add: float = 0.0
    accumulation: float = 0.0
    row_side: float = 0.0
    col_side: float = 0.0
    buffer: float = 0.0
    interconnect: float = 0.0

    def scaled(self, n: float, box: float | None = None, **extra: float) -> AreaParts:
        """``n`` copies with the bounding box ``box`` (default ``n·box``) and ``extra`` added."""
        fields = {k: getattr(self, k) * n + extra.get(k, 0.0) for k in _GROUPS}
        return AreaParts(self.box * n if box is None else box, **fields)

    def __add__(self, other: AreaParts) -> AreaParts:
        return AreaParts(**{k: getattr(self, k) + getattr(other, k) for k in ("box", *_GROUPS)})


_GROUPS = ("array", "adc", "shift_add", "accumulation", "row_side", "col_side", "buffer",
           "interconnect")
"""The group fields of :class:`AreaParts`."""


@dataclass(frozen=True, kw_only=True)
class ChipArea:
    """The chip's area in NeuroSim's printed categories [µm²]."""

    chip_um2: float
    array_um2: float
    adc_um2: float
    shift_add_um2: float
    """Sub-array shift-adders (part of NeuroSim's accumulation group)."""
    accumulation_um2: float
    """PE, tile and global adder trees (the rest of the accumulation group)."""
    row_side_um2: float
    """Word-line level shifters and switch matrix, multi-bit row drivers (other periphery)."""
    col_side_um2: float
    """Source-line level shifters and switch matrix, column mux and its decoder (other)."""
    buffer_um2: float
    """PE/tile/global buffers, max-pool and ReLU units (other periphery)."""
    interconnect_um2: float
    """PE H-trees and the global X-Y bus (NeuroSim's "IC area")."""
    whitespace_um2: float
    """Bounding-box slack: ``chip_um2`` minus every group above."""
    tile_area_um2: dict[str, float]
    """Bounding box of one tile by mapping, ``{"novel": ..., "conventional": ...}``."""
    tile_parts: dict[str, AreaParts]
    """Per tile kind, the groups of one tile [m²] (for the per-layer split)."""


@functools.lru_cache(maxsize=256)
def sub_array_parts(tech: TechnologyNode, d: SubArrayDesign) -> tuple[AreaParts, float, float]:
    """One sub-array: its :class:`AreaParts`, height and width [m] (see the module docstring;
    cached, the area and the leakage model both lay it out)."""
    f = tech.feature_m
    h_arr, w_arr = d.rows * 4 * f, d.cols * 12 * f  # 1T1R cell 4F x 12F
    wl_ls = pp.level_shifter_area(tech, d.rows)
    sl_ls = pp.level_shifter_area(tech, d.cols)
    _, wl_sm_w = pp.wl_switch_matrix(tech, d.rows, h_arr)
    r_acc = _ACCESS_R * d.r_on_ohm
    half = d.rows / 2
    r_avg = d.rows / (half / (d.r_on_ohm + r_acc) + half / (d.r_off_ohm + r_acc))
    r_tg = r_avg / d.rows  # resMemCellAvg / numRowParallel
    sl_sm_h, _ = pp.column_switch_matrix(tech, d.cols, r_tg * d.rows, w_arr)
    mux_h = dec_h = dec_w = 0.0
    if d.cols_per_adc > 1:
        dec_h, dec_w = pp.column_decoder(tech, math.ceil(math.log2(d.cols_per_adc)))
        mux_h = pp.column_mux_height(tech, dec_h, w_arr, d.cols // d.cols_per_adc,
                                     d.cols_per_adc, r_tg)
    adcs = d.cols // d.cols_per_adc
    if d.sar:
        adc = pp.sar_adc_area(tech, adcs, d.adc_levels)
    else:
        enc_h, enc_w = pp.mlsa_encoder(tech, d.adc_levels, adcs, w_arr)
        adc = pp.mlsa_area(tech, adcs, d.adc_levels, d.rows) + enc_h * enc_w
    adc_bits = int(math.log2(d.adc_levels))
    shift_h = 0.0
    if d.cols_per_weight > 1:
        shift_h += pp.shift_add(tech, adcs, adc_bits, d.cols_per_weight, w_arr)[0]
    if d.input_cycles > 1:
        shift_h += pp.shift_add(tech, adcs, adc_bits + d.cols_per_weight, d.input_cycles,
                                w_arr)[0]
    row_w = (2 * wl_ls + d.extra_row_driver_m2) / h_arr + wl_sm_w
    height = sl_ls / w_arr + sl_sm_h + h_arr + mux_h + adc / w_arr + shift_h
    width = max(row_w, dec_w) + w_arr
    parts = AreaParts(
        height * width,
        array=h_arr * w_arr,
        adc=adc,
        shift_add=shift_h * w_arr,
        row_side=2 * wl_ls + d.extra_row_driver_m2 + h_arr * wl_sm_w,
        col_side=sl_ls + sl_sm_h * w_arr + mux_h * w_arr + dec_h * dec_w,
    )
    return parts, height, width


def pe_parts(tech: TechnologyNode, d: SubArrayDesign, sub: AreaParts, sub_h: float,
             sub_w: float, pe_side: float) -> tuple[AreaParts, int]:
    """One PE of side ``pe_side`` cells and its sub-array grid side ``n``."""
    n = math.ceil(math.sqrt(math.ceil(pe_side / d.rows) * math.ceil(pe_side / d.cols)))
    tree = pp.adder_tree(tech, n, d.output_bits, math.ceil(n * d.cols / d.cols_per_adc))
    in_h, in_w = pp.dff(tech, d.input_bits * d.rows, height=n * sub_h)
    stages = math.ceil(math.log2(n)) if n > 1 else 0
    out_h, out_w = pp.dff(tech, d.cols // d.cols_per_adc * (d.output_bits + stages),
                          width=n * sub_w)
    buffers = in_h * in_w + out_h * out_w
    return sub.scaled(n * n, box=sub.box * n * n + tree + buffers, accumulation=tree,
                      buffer=buffers), n


def buffer_core_bits(bits: float, interface: float) -> tuple[int, int, int]:
    """``(bits, interface bits, cores)`` of a tile buffer of ``bits`` read ``interface`` at a
    time: one core of its own size below 32x32 bits, else 32x32-bit cores read 32 bits at a
    time (Tile.cpp:136-170)."""
    cores = math.ceil(bits / _BUFFER_CORE_BITS)
    if bits < _BUFFER_CORE_BITS:
        return int(bits), int(interface), cores
    return _BUFFER_CORE_BITS, 32, cores


def _buffer_cores(tech: TechnologyNode, bits: float, interface: float) -> float:
    """Tile buffer of ``bits`` in register-file cores (:func:`buffer_core_bits`) [m²]."""
    core, width, cores = buffer_core_bits(bits, interface)
    return cores * pp.buffer_area(tech, core, width)


def _tile(tech: TechnologyNode, d: SubArrayDesign, sub: tuple[AreaParts, float, float],
          pe_side: float, pe_per_side: int, num_pe: int, tree_inputs: int,
          trees: int) -> AreaParts:
    """One tile of ``num_pe`` PEs (Tile.cpp ``TileInitialize`` / ``TileCalculateArea``);
    ``pe_per_side`` is the H-tree grid side, ``tree_inputs`` the tile adder trees' inputs
    (also the buffers' PE count) and ``trees`` their number."""
    pe, n_sub = pe_parts(tech, d, *sub, pe_side)
    pe_h = math.sqrt(pe.box)
    pe_bits = d.output_bits + n_sub  # numBitPEOutput = numBitSubarrayOutput + ceil(sqrt(n²))
    acc = pp.adder_tree(tech, tree_inputs, pe_bits, trees)
    out_bits = pe_bits + (math.ceil(math.log2(tree_inputs)) if tree_inputs > 1 else 0)
    buf_in = _buffer_cores(tech, tree_inputs * d.input_bits * d.rows, tree_inputs * d.rows)
    buf_out = _buffer_cores(tech, out_bits * tree_inputs * d.cols / d.cols_per_adc,
                            out_bits * tree_inputs)
    tree = h_tree_area(tech, pe_per_side, tree_inputs * pe_side, pe_h, pe_h, _TILE_HTREE_FOLD)
    return pe.scaled(num_pe, box=pe.box * num_pe + acc + buf_in + buf_out + tree,
                     accumulation=acc, buffer=buf_in + buf_out, interconnect=tree)


def chip_area(tech: TechnologyNode, d: SubArrayDesign, layers: list[LayerShape],
              plan: Floorplan, pipeline: bool) -> ChipArea:
    """The chip area of ``layers`` laid out by ``plan`` (see the module docstring)."""
    sub = sub_array_parts(tech, d)
    kinds: dict[str, tuple[AreaParts, int]] = {}
    if plan.tiles_nm:
        k = plan.num_pe_nm
        nm = _tile(tech, d, sub, plan.pe_nm, math.ceil(math.sqrt(k)), k, k,
                   math.ceil(plan.pe_nm / d.cols_per_adc))
        kinds["novel"] = (nm, plan.tiles_nm)
    if plan.tiles_cm:
        per_side = math.ceil(plan.tile_cm / plan.pe_cm)
        cm = _tile(tech, d, sub, plan.pe_cm, per_side, per_side**2, per_side,
                   math.ceil(per_side * plan.pe_cm / d.cols_per_adc))
        kinds["conventional"] = (cm, plan.tiles_cm)
    total = AreaParts(0.0)
    for parts, count in kinds.values():
        total = total + parts.scaled(count)
    tile_side = max(math.sqrt(p.box) for p, _ in kinds.values())
    n_tiles = plan.tiles_nm + plan.tiles_cm
    grid_rows = math.ceil(math.sqrt(n_tiles))
    grid_cols = math.ceil(n_tiles / grid_rows)

    nm_bus = plan.pe_nm * math.ceil(math.sqrt(plan.num_pe_nm)) if plan.num_pe_nm else 0.0
    bus = 0.0  # ChipInitialize, Chip.cpp: globalBusWidth
    for (r, c), novel in zip(plan.tiles, plan.novel, strict=True):
        side = nm_bus if novel else plan.tile_cm
        bus += (side + side / d.cols_per_adc) * (r * c if pipeline else 1)
    while bus > _MAX_BUS_BITS:
        bus /= 2
    maps = [ifm_side(layer) ** 2 * (layer.in_features // (layer.kernel_area or 1))
            for layer in layers]
    max_input = sum(m / 2 for m in maps) if pipeline else max(maps)
    cores = math.ceil(d.input_bits * max_input / _GLOBAL_CORE_BITS)
    g_buffer = cores * pp.buffer_area(tech, _GLOBAL_CORE_BITS, 128)
    g_bus = xy_bus_area(tech, grid_rows, grid_cols, bus, tile_side, tile_side, _CHIP_BUS_FOLD)
    stages = len(layers) + 1 if pipeline else 1
    throughput = max(plan.tile_cm, plan.pe_nm) * stages
    adds = max(math.ceil(plan.pe_cm / d.rows), math.ceil(plan.pe_nm / d.rows))
    adds *= max(math.ceil(plan.tile_cm / plan.pe_cm) if plan.pe_cm else 0,
                math.ceil(math.sqrt(plan.num_pe_nm)))
    adds *= stages
    lanes = math.ceil(throughput / d.cols_per_adc)
    g_acc = pp.adder_tree(tech, max(r for r, _ in plan.tiles),
                          d.output_bits + math.ceil(math.log2(max(adds, 1))), lanes)
    relu = pp.bit_shifter_area(tech, lanes, d.input_bits)
    pool = pp.max_pool_area(tech, d.input_bits, 4,
                            int(max(plan.tile_cm, plan.pe_nm) / d.cols_per_adc))
    chip = total.box + g_bus + relu + g_buffer + pool + g_acc
    groups = total.scaled(1.0, accumulation=g_acc, buffer=g_buffer + pool + relu,
                          interconnect=g_bus)
    named = {k: getattr(groups, k) * _UM2 for k in _GROUPS}
    return ChipArea(
        chip_um2=chip * _UM2,
        **{f"{k}_um2": v for k, v in named.items()},
        whitespace_um2=chip * _UM2 - sum(named.values()),
        tile_area_um2={name: p.box * _UM2 for name, (p, _) in kinds.items()},
        tile_parts={name: p for name, (p, _) in kinds.items()},
    )


_COMPONENT_FIELDS = {"array": "array", "adc": "adc", "dac_driver": "row_side",
                     "mux": "col_side", "shift_add": "shift_add",
                     "accumulation": "accumulation", "buffer": "buffer",
                     "interconnect": "interconnect"}
"""Cost-model component -> :class:`AreaParts` field (``whitespace`` is the bounding boxes'
slack)."""


def sub_array_design(config: Any, cols_per_weight: int, input_cycles: int,
                     extra_row_driver_um2: float = 0.0) -> SubArrayDesign:
    """The :class:`SubArrayDesign` of a configuration (the fields of
    :class:`simulator.cost.model.CrossbarLike`)."""
    return SubArrayDesign(
        rows=config.rows, cols=config.cols, cols_per_adc=config.cols_per_adc,
        adc_levels=2**config.adc_bits, sar=config.adc_type == "sar",
        cols_per_weight=cols_per_weight, cell_bits=config.cell_bits,
        input_cycles=input_cycles, input_bits=config.input_bits,
        r_on_ohm=1e6 / config.g_on_us,
        r_off_ohm=1e6 / config.g_off_us if config.g_off_us > 0 else math.inf,
        extra_row_driver_m2=extra_row_driver_um2 / _UM2)


def component_areas(config: Any, layers: list[LayerShape], cols_per_weight: int,
                    input_cycles: int, extra_row_driver_um2: float
                    ) -> tuple[ChipArea, dict[str, float], list[dict[str, float]]]:
    """The cost model's area: the :class:`ChipArea`, the chip area per component and per layer
    per component [µm²] (a layer holds its tiles: their groups, and their bounding-box slack as
    ``whitespace``; chip-level blocks belong to no layer).

    ``config`` has the fields of :class:`simulator.cost.model.CrossbarLike`;
    ``extra_row_driver_um2`` is the per-array row-driver area beyond NeuroSim's bit-serial
    switch matrix (multi-bit DACs, our extension)."""
    tech = technology(config.tech_node_nm)
    design = sub_array_design(config, cols_per_weight, input_cycles, extra_row_driver_um2)
    pipeline = config.speed_up_degree > 1
    plan = floorplan(layers, config.speed_up_degree, config.rows, config.cols, cols_per_weight)
    chip = chip_area(tech, design, layers, plan, pipeline)
    totals = {c: getattr(chip, f"{f}_um2") for c, f in _COMPONENT_FIELDS.items()}
    totals["whitespace"] = chip.whitespace_um2
    per_layer = []
    for (r, c), novel in zip(plan.tiles, plan.novel, strict=True):
        parts = chip.tile_parts["novel" if novel else "conventional"]
        entry = {comp: getattr(parts, f) * r * c * _UM2 for comp, f in _COMPONENT_FIELDS.items()}
        entry["whitespace"] = parts.box * r * c * _UM2 - sum(entry.values())
        per_layer.append(entry)
    return chip, totals, per_layer
