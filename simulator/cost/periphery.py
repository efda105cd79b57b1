r"""Layout area of NeuroSim V1.4's periphery blocks (commit ac828e6), one function per block.

Each function ports the ``Initialize`` sizing and ``CalculateArea`` of the NeuroSim class it
names, for the bulk nodes (22-65 nm) and the options NeuroSim's RRAM defaults use. A block is
either placed against a side of given length -- ``width=`` (below the array, spanning its
columns) or ``height=`` (beside it, spanning its rows), as NeuroSim passes ``_newWidth`` /
``_newHeight`` -- and returns ``(height, width)`` [m], or has no placement and returns its area
[m²]. Gates come from :mod:`simulator.cost.gates`; ``F`` is the feature size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.cost.gates import (
    STD_HEIGHT_F,
    enlarge_size,
    gate_area,
    gate_cell,
    on_resistance_ohm,
    pass_gate_area,
)
from simulator.cost.technology import TechnologyNode

__all__ = [
    "LEVEL_SHIFTER_WIRING",
    "adder_area",
    "adder_tree",
    "bit_shifter_area",
    "buffer_area",
    "column_decoder",
    "column_mux_height",
    "column_switch_matrix",
    "dff",
    "dff_cell",
    "level_shifter_area",
    "max_pool_area",
    "mlsa_area",
    "mlsa_encoder",
    "row_decoder_area",
    "sar_adc_area",
    "shift_add",
    "wl_switch_matrix",
]

LEVEL_SHIFTER_WIRING = 1.44
"""NeuroSim's calibrated wiring-area factor of the write level shifters (``Param.cpp``
``alpha``, ``validated = true``)."""
_M3_PITCH_F = 2.8  # constant.h M3_PITCH: metal-3 pitch along the decoder's height [F]
_LINEAR_REGION_RATIO = 0.2  # constant.h LINEAR_REGION_RATIO


def _std(tech: TechnologyNode) -> float:
    return STD_HEIGHT_F * tech.feature_m


def _min_widths(tech: TechnologyNode, scale: float = 1.0) -> tuple[float, float]:
    """Minimum inverter widths ``(2F, pn·2F)·scale`` [m] (``MIN_NMOS_SIZE = 2``)."""
    w = 2.0 * tech.feature_m * scale
    return w, tech.pn_size_ratio * w


def dff_cell(tech: TechnologyNode) -> tuple[float, float]:
    """``(height, width)`` [m] of one flip-flop: 12 minimum inverters side by side
    (``DFF.cpp``)."""
    wn, wp = _min_widths(tech)
    h, w = gate_area("inv", 1, wn, wp, _std(tech), tech.feature_m)
    return h, 12 * w


def dff(tech: TechnologyNode, count: int, *, height: float | None = None,
        width: float | None = None) -> tuple[float, float]:
    """``count`` flip-flops (``DFF::CalculateArea``): in columns filling ``height``, in rows
    filling ``width``, or one row when neither is given; ``(height, width)`` [m]."""
    h, w = dff_cell(tech)
    if height:
        per_col = max(1, min(count, int(height / h)))
        return height, w * math.ceil(count / per_col)
    if width:
        per_row = max(1, min(count, int(width / w)))
        return h * math.ceil(count / per_row), width
    return h, w * count


def adder_area(tech: TechnologyNode, bits: int, count: int) -> float:
    """``count`` ripple adders of ``bits`` bits, 9 NAND2 per bit (``Adder.cpp``; NAND widths
    enlarged to the cell) [m²]."""
    f = tech.feature_m
    wn, wp = enlarge_size(4 * f, tech.pn_size_ratio * 2 * f, _std(tech), f)
    return 9 * bits * count * gate_cell("nand", 2, wn, wp, f)


def shift_add(tech: TechnologyNode, units: int, adder_bits: int, pulses: int,
              width: float) -> tuple[float, float]:
    """``units`` shift-and-add circuits below an array ``width`` wide (``ShiftAdd.cpp``,
    non-spiking): an adder of ``adder_bits``, ``adder_bits + pulses`` flip-flops each, and one
    cell row of INV/NAND control; ``(height, width)`` [m]."""
    adder_h = adder_area(tech, adder_bits, units) / width
    dff_h, _ = dff(tech, (adder_bits + pulses) * units, width=width)
    return adder_h + _std(tech) + dff_h, width


def adder_tree(tech: TechnologyNode, inputs: int, bits: int, trees: int) -> float:
    """``trees`` adder trees summing ``inputs`` operands of ``bits`` bits (``AdderTree.cpp``):
    stage ``s`` has ``floor(n/2)`` adders, one bit wider than the stage before [m²]."""
    full_adders, width_bits, n = 0, bits, inputs
    for _ in range(math.ceil(math.log2(inputs)) if inputs > 1 else 0):
        full_adders += width_bits * (n // 2)
        width_bits += 1
        n //= 2
    return adder_area(tech, full_adders, trees)


def mlsa_area(tech: TechnologyNode, adcs: int, levels: int, rows: int) -> float:
    """``adcs`` current-mode multi-level sense amplifiers of ``levels`` levels
    (``MultilevelSenseAmp.cpp``): per level 9 single-NMOS cells plus a share ``1/levels``
    (``dumcolshared``) of a reference column of ``rows`` 1T1R cells. NeuroSim sizes that column
    with the *wire width* as feature size (``cell.featureSize = param->featuresize``) [m²]."""
    f = tech.feature_m
    n_cell = gate_cell("inv", 1, 2 * f, 0.0, f)
    w_f = tech.wire_width_nm * 1e-9
    dummy = rows * 4 * w_f * 12 * w_f  # heightInFeatureSize1T1R, widthInFeatureSize1T1R
    return adcs * (levels - 1) * (9 * n_cell + dummy / levels)


def sar_adc_area(tech: TechnologyNode, adcs: int, levels: int) -> float:
    """``adcs`` SAR ADCs (``SarADC.cpp``): ``269 + 109 (B - 1)`` NMOS and ``209 + 73 (B - 1)``
    PMOS single-transistor cells, ``B = log2 levels`` [m²]."""
    f = tech.feature_m
    bits = math.log2(levels)
    n_cell = gate_cell("inv", 1, 2 * f, 0.0, f)
    p_cell = gate_cell("inv", 1, 0.0, tech.pn_size_ratio * 2 * f, f)
    return adcs * (n_cell * (269 + (bits - 1) * 109) + p_cell * (209 + (bits - 1) * 73))


def mlsa_encoder(tech: TechnologyNode, levels: int, count: int,
                 width: float) -> tuple[float, float]:
    """``count`` thermometer-to-binary encoders (``MultilevelSAEncoder.cpp``): per level an INV
    and a NAND2, ``log2 levels`` NAND gates of ``levels/2`` inputs; ``(height, width)`` [m]."""
    f = tech.feature_m
    wn, wp = 8 * f, 2 * tech.pn_size_ratio * 2 * f
    h_nand, w_nand = gate_area("nand", 2, wn, wp, _std(tech), f)
    h_inv, w_inv = gate_area("inv", 1, *_min_widths(tech), _std(tech), f)
    h_lg, w_lg = gate_area("nand", math.ceil(levels // 2), wn, wp, _std(tech), f)
    w_enc = w_inv + w_nand + w_lg
    h_enc = ((w_inv * h_inv + w_nand * h_nand) * (levels - 1)
             + w_lg * math.ceil(math.log2(levels)) * h_lg) / w_enc
    per_row = max(1, min(count, math.ceil(width / w_enc)))
    return h_enc * math.ceil(count / per_row), max(width, w_enc)


def level_shifter_area(tech: TechnologyNode, count: int) -> float:
    """``count`` write-voltage level shifters (``LevelShifter.cpp``, ``validated``): low-side,
    latch and high-side inverters at twice the size in a 2.5x cell, the latch and pull-up as
    I/O devices (x2.5 width), times the wiring factor :data:`LEVEL_SHIFTER_WIRING` [m²]."""
    f = tech.feature_m
    wn, wp = _min_widths(tech)
    h = _std(tech) * 2.5
    h_lo, w_lo = gate_area("inv", 1, wn * 30, wp * 40, h, f)
    h_la, w_la = gate_area("inv", 1, wn * 64, wp * 20, h, f)
    h_hi, w_hi = gate_area("inv", 1, wn * 128, wp * 164, h, f)
    unit = max(h_lo, h_la, h_hi) * (w_lo + (2 * w_la + w_hi) * 2.5)
    return unit * count * LEVEL_SHIFTER_WIRING


def wl_switch_matrix(tech: TechnologyNode, rows: int, height: float) -> tuple[float, float]:
    """Word-line switch matrix of a 1T1R array ``height`` tall (``NewSwitchMatrix.cpp``):
    per row a transmission gate ``wl_switch_size_ratio`` minimum widths wide (4 cell widths
    per gate column) and a flip-flop; ``(height, width)`` [m]."""
    f = tech.feature_m
    wn, wp = _min_widths(tech, tech.wl_switch_size_ratio)
    per_col = int(height / _std(tech))
    n_cols = math.ceil(rows / per_col)
    per_col = math.ceil(rows / n_cols)
    _, w_tg = gate_area("inv", 1, wn, wp, height / per_col, f)
    _, dff_w = dff(tech, rows, height=height)
    return height, w_tg * 4 * n_cols + dff_w


def _tg_width(tech: TechnologyNode, resistance_ohm: float,
              scale: float = 1.0) -> tuple[float, float]:
    """Transmission-gate widths ``(wn, wp)`` [m] for a target on resistance: each side
    ``R_on(F)·F·scale / (2R)``, at least F (``SwitchMatrix.cpp`` with ``scale`` =
    ``LINEAR_REGION_RATIO`` = 0.2, ``Mux.cpp`` with 1; bulk)."""
    f = tech.feature_m
    wn = on_resistance_ohm(f, tech.vdd_v, tech.ion_nmos_a_per_m) * f * scale / (2 * resistance_ohm)
    wp = on_resistance_ohm(f, tech.vdd_v, tech.ion_pmos_a_per_m) * f * scale / (2 * resistance_ohm)
    return max(wn, f), max(wp, f)


def column_switch_matrix(tech: TechnologyNode, cols: int, resistance_ohm: float,
                         width: float) -> tuple[float, float]:
    """Source-line switch matrix below an array ``width`` wide (``SwitchMatrix.cpp``,
    ``COL_MODE``): a transmission-gate pair per column, sized for ``resistance_ohm`` x
    ``switch_matrix_size_ratio``, plus a row of scan flip-flops; ``(height, width)`` [m]."""
    f = tech.feature_m
    wn, wp = _tg_width(tech, resistance_ohm * tech.switch_matrix_size_ratio,
                       _LINEAR_REGION_RATIO)
    min_cell = 2 * 3.8 * f
    per_row = int(width / (min_cell * 2))
    n_rows = math.ceil(cols / per_row)
    per_row = math.ceil(cols / n_rows)
    folds = int(width / per_row / 2 / (0.5 * min_cell)) - 1
    h_tg, _ = pass_gate_area(wn, wp, folds, f)
    dff_h, _ = dff(tech, cols, width=width)
    return h_tg * n_rows + dff_h, width


@dataclass(frozen=True)
class _DecoderGates:
    """Gate counts and NAND2 / NOR sizes [m] of a ``RowDecoder.cpp`` decoder: pre-decoding
    NAND2s, one NOR per output, metal-3 tracks between them."""

    n_nand: int
    n_nor: int
    metal: int
    h_nand: float
    w_nand: float
    h_nor: float
    w_nor: float


def _decoder_gates(tech: TechnologyNode, address_bits: int) -> _DecoderGates:
    f = tech.feature_m
    std = _std(tech)
    pn = tech.pn_size_ratio
    n_nand = 4 * (address_bits // 2)
    n_nor = 2**address_bits if address_bits > 2 else 0
    metal = n_nand + (address_bits % 2) * 2 if address_bits > 2 else 0
    nor_in = math.ceil(address_bits / 2)
    h_nand, w_nand = gate_area("nand", 2, *enlarge_size(4 * f, pn * 2 * f, std, f), std, f)
    h_nor, w_nor = gate_area("nor", nor_in, *enlarge_size(2 * f, nor_in * pn * 2 * f, std, f),
                             std, f)
    return _DecoderGates(n_nand, n_nor, metal, h_nand, w_nand, h_nor, w_nor)


def column_decoder(tech: TechnologyNode, address_bits: int) -> tuple[float, float]:
    """Decoder selecting one of ``2^address_bits`` muxed columns (``RowDecoder.cpp``,
    ``REGULAR_ROW``, ``MUX = true``, no placement): NAND2 pre-decode, NOR outputs, and per
    output a NAND enable plus two drivers ``mux_driver_sizing`` x the minimum size;
    ``(height, width)`` [m]."""
    f = tech.feature_m
    std = _std(tech)
    pn = tech.pn_size_ratio
    g = _decoder_gates(tech, address_bits)
    _, w_inv = gate_area("inv", 1, *enlarge_size(2 * f, pn * 2 * f, std, f), std, f)
    drive = 2 * 2 * f * tech.mux_driver_sizing
    _, w_drv = gate_area("inv", 1, drive, pn * drive, std, f)
    height = max(g.h_nor * g.n_nor, g.h_nand * g.n_nand)
    width = w_inv + g.w_nand + _M3_PITCH_F * g.metal * f + g.w_nor + g.w_nand + 2 * w_drv
    return height, width


def column_mux_height(tech: TechnologyNode, decoder_height: float, width: float,
                      inputs: int, selections: int, resistance_ohm: float) -> float:
    """Height [m] of the analog column mux below an array ``width`` wide (``Mux.cpp``): one
    row of ``inputs x selections`` transmission gates sized for ``resistance_ohm`` x 0.25
    (``IR_DROP_TOLERANCE``), stretched to the decoder's height (``OVERRIDE``)."""
    f = tech.feature_m
    wn, wp = _tg_width(tech, resistance_ohm * 0.25)
    min_cell = 2 * 3.8 * f
    count = inputs * selections
    per_row = int(width / min_cell)
    n_rows = math.ceil(count / per_row)
    per_row = math.ceil(count / n_rows)
    folds = int(width / per_row / (0.5 * min_cell)) - 1
    h_tg, _ = pass_gate_area(wn, wp, folds, f)
    return max(decoder_height, h_tg * n_rows)


def row_decoder_area(tech: TechnologyNode, address_bits: int, height: float) -> float:
    """Word-line decoder of a register-file buffer, placed beside ``height``
    (``RowDecoder.cpp``, ``REGULAR_ROW``, ``MUX = false``): NAND2/NOR columns and two
    minimum drivers per NOR column. As in NeuroSim, its inverters are not counted (the column
    count is tested before it is computed) [m²]."""
    f = tech.feature_m
    std = _std(tech)
    pn = tech.pn_size_ratio
    g = _decoder_gates(tech, address_bits)
    _, w_drv = gate_area("inv", 1, 4 * f, pn * 4 * f, std, f)

    def columns(count: int, h_gate: float) -> int:
        per_col = min(int(height / h_gate), count)
        return math.ceil(count / per_col) if per_col > 0 else 0

    n_col_nor, n_col_nand = columns(g.n_nor, g.h_nor), columns(g.n_nand, g.h_nand)
    width = g.w_nand * n_col_nand + _M3_PITCH_F * g.metal * f + g.w_nor * n_col_nor
    width += 2 * w_drv * n_col_nor
    return height * width


def buffer_area(tech: TechnologyNode, bits: int, interface_bits: int) -> float:
    """Register-file buffer of ``bits`` flip-flops read ``interface_bits`` at a time
    (``Buffer.cpp``, ``SRAM = false``): the flip-flops in one row plus a decoder of
    ``ceil(log2(rows))`` address bits beside ``rows`` flip-flop heights [m²]."""
    h, w = dff(tech, bits)
    lines = math.ceil(bits / interface_bits)
    address = math.ceil(math.log2(lines)) if lines > 1 else 0
    decoder = row_decoder_area(tech, address, dff_cell(tech)[0] * lines) if address else 0.0
    return h * w + decoder


def bit_shifter_area(tech: TechnologyNode, units: int, bits: int) -> float:
    """ReLU units as ``bits``-bit shift registers, ``units`` of them (``BitShifter.cpp``) [m²]."""
    h, w = dff(tech, bits * units)
    return h * w


def max_pool_area(tech: TechnologyNode, bits: int, window: int, units: int) -> float:
    """``units`` max-pooling units over ``window`` inputs of ``bits`` bits (``MaxPooling.cpp``
    with ``Comparator.cpp``): a tree of ``window - 1`` N-bit comparators [m²]."""
    f = tech.feature_m
    std = _std(tech)
    pn = tech.pn_size_ratio

    def cell(kind, n_in: int, wn: float, wp: float) -> float:
        return gate_cell(kind, n_in, *enlarge_size(wn, wp, std, f), f)

    inv = cell("inv", 1, 2 * f, pn * 2 * f)
    comparator = (inv * 4 + cell("nand", 2, 4 * f, pn * 2 * f) * 4
                  + cell("nand", 3, 6 * f, pn * 2 * f) * 3)
    n, comparators = window, 0
    while n:
        comparators += n // 2
        n //= 2
    comparators += window % 2
    unit = (comparator + inv * 5) * bits
    unit += inv * 6 + cell("nand", 2, 4 * f, pn * 2 * f) + inv
    unit += cell("nor", 2, 8 * f, pn * 2 * f) + cell("nor", bits, bits * 4 * f, pn * 2 * f)
    return unit * comparators * units
