r"""Read-path gate delays of a 1T1R sub-array as DNN+NeuroSim V1.4 computes them (commit ac828e6).

NeuroSim's synchronous chip clock is the slowest sub-array's sensing cycle
(``SubArray::CalculateLatency``, RRAM, ``conventionalParallel``, ``CalculateclkFreq``;
``ProcessingUnit.cpp`` keeps the maximum, ``main.cpp`` prints it as ``clkPeriod``):

``β·(max(t_WL, t_mux + t_mux_decoder) + t_ADC + t_encoder)``

* ``t_WL``: the word-line switch matrix's transmission gate charging the word line
  (``NewSwitchMatrix::CalculateLatency``, Elmore ``R_tg·(C_out + C_WL) + R_WL·C_WL/2``);
* ``t_mux``: the column-mux pass gate, ``2.3·R_tg·C`` (``Mux::CalculateLatency``), and
  ``t_mux_decoder`` the chain of its 2-bit-predecoded decoder (``RowDecoder``, ``MUX``
  mode: INV, NAND2, NOR, then the NAND + two-INV enable driver sized by
  ``sizingfactor_MUX``, unsized at 45 nm);
* ``t_encoder``: the MLSA's INV -> NAND2 -> large-NAND encoder (``MultilevelSAEncoder``);
  a SAR ADC has none.

Each stage is a ``horowitz`` step (``formula.cpp``, CACTI's β = 0.5, the input ramp of the
previous stage). Not ported: the repeaters NeuroSim inserts at 2 nm and 1 nm
(``buffernumber``). Capacitances in F, resistances in Ω, times in s.
"""

from __future__ import annotations

import math

from simulator.cost.capacitance import (
    IR_DROP_TOLERANCE,
    MIN_NMOS_WIDTH_F,
    effective_on_resistance_ohm,
    gate_cap_f,
    inverter_caps_f,
    nand2_caps_f,
    nor_caps_f,
)
from simulator.cost.digital import switch_gate_caps
from simulator.cost.gates import (
    CPP_F,
    STD_HEIGHT_F,
    enlarge_size,
    on_resistance_ohm,
    pass_gate_area,
)
from simulator.cost.sensing import word_line_cap_f
from simulator.cost.technology import CELL_WIDTH_F, segment_resistance_ohm, technology

__all__ = [
    "encoder_delay_s",
    "horowitz_s",
    "mux_decoder_delay_s",
    "mux_delay_s",
    "word_line_delay_s",
]

def horowitz_s(tr_s: float, ramp_in: float = 1e20) -> tuple[float, float]:
    """(delay [s], output ramp [1/s]) of one stage with time constant ``tr_s`` driven by an
    input ramp ``ramp_in`` (``formula.cpp`` ``horowitz``: ``v_s = 0.5``, ``β = 0.5``)."""
    alpha = 1 / ramp_in / tr_s
    delay = tr_s * math.sqrt(math.log(0.5) ** 2 + 2 * alpha * 0.5 * 0.5)
    return delay, 0.5 / delay


def word_line_delay_s(node_nm: int, rows: int, cols: int, r_on_ohm: float) -> float:
    """Word-line switch-matrix delay [s] (``NewSwitchMatrix::CalculateLatency``, step input):
    ``horowitz(R_tg·(2·C_d + (C_gN + C_gP)/2 + C_WL) + R_WL·C_WL/2)``, the gate sized
    ``newswitchmatrixsizeratio`` x minimum, its PMOS on-resistance taken with the NMOS
    current as NeuroSim does, ``R_WL`` = ``cols`` 12 F segments of minimum wire."""
    tech = technology(node_nm)
    f = tech.feature_m
    w_n = MIN_NMOS_WIDTH_F * f * tech.wl_switch_size_ratio
    w_p = tech.pn_size_ratio * w_n
    r_tg = 1 / (1 / on_resistance_ohm(w_n, tech.vdd_v, tech.ion_nmos_a_per_m)
                + 1 / on_resistance_ohm(w_p, tech.vdd_v, tech.ion_nmos_a_per_m))
    c_gate, c_drain = switch_gate_caps(node_nm, rows, tech.wl_switch_size_ratio)
    c_wl = word_line_cap_f(node_nm, cols, r_on_ohm)
    r_wl = cols * segment_resistance_ohm(node_nm, CELL_WIDTH_F)
    tr = r_tg * (2 * c_drain + 0.5 * c_gate + c_wl) + r_wl * c_wl / 2
    return horowitz_s(tr)[0]


def _mux_gate(node_nm: int, rows: int, cols: int, cols_per_adc: int, r_on_ohm: float,
              r_off_ohm: float) -> tuple[float, float, float, float]:
    """(R_tg [Ω], C_gN, C_gP, C_drain [F]) of one analog column-mux pass gate
    (``Mux::Initialize`` / ``CalculateArea``): sized for ``0.25·R_avg/rows`` with
    ``R_avg`` NeuroSim's ``resMemCellAvg`` (half the cells on, half off, each with its
    ``0.25·R_on`` access transistor), folded to fit the array width ``cols·12F``."""
    tech = technology(node_nm)
    f = tech.feature_m
    r_access = IR_DROP_TOLERANCE * r_on_ohm
    r_avg = 2 / (1 / (r_on_ohm + r_access) + 1 / (r_off_ohm + r_access))
    r_target = r_avg / rows * IR_DROP_TOLERANCE
    w_n = max(on_resistance_ohm(f, tech.vdd_v, tech.ion_nmos_a_per_m) * f / (2 * r_target), f)
    w_p = max(on_resistance_ohm(f, tech.vdd_v, tech.ion_pmos_a_per_m) * f / (2 * r_target), f)
    r_tg = 1 / (1 / on_resistance_ohm(w_n, tech.vdd_v, tech.ion_nmos_a_per_m)
                + 1 / on_resistance_ohm(w_p, tech.vdd_v, tech.ion_pmos_a_per_m))
    width = cols * CELL_WIDTH_F * f
    min_cell = 2 * CPP_F * f
    n_tg = math.ceil(cols / cols_per_adc) * cols_per_adc
    per_row = int(width / min_cell)
    n_rows = math.ceil(n_tg / per_row)
    per_row = math.ceil(n_tg / n_rows)
    folds = max(1, int(width / per_row / (0.5 * min_cell)) - 1)
    h_tg, _ = pass_gate_area(w_n, w_p, folds, f)
    c_drain = inverter_caps_f(node_nm, w_n, w_p, h_tg / f)[1]
    return r_tg, gate_cap_f(node_nm, w_n), gate_cap_f(node_nm, w_p), c_drain


def mux_delay_s(node_nm: int, rows: int, cols: int, cols_per_adc: int, r_on_ohm: float,
                r_off_ohm: float) -> float:
    """Column-mux pass-gate delay [s]: ``2.3·R_tg·(C_d + (C_gN + C_gP)/2)``
    (``Mux::CalculateLatency``, no load); 0 without a mux (``cols_per_adc`` = 1)."""
    if cols_per_adc <= 1:
        return 0.0
    r_tg, c_gn, c_gp, c_d = _mux_gate(node_nm, rows, cols, cols_per_adc, r_on_ohm, r_off_ohm)
    return 2.3 * r_tg * (c_d + 0.5 * c_gn + 0.5 * c_gp)


def mux_decoder_delay_s(node_nm: int, rows: int, cols: int, cols_per_adc: int,
                        r_on_ohm: float, r_off_ohm: float) -> float:
    """Delay of the decoder selecting one of ``cols_per_adc`` mux inputs [s]
    (``RowDecoder::CalculateLatency``, ``MUX`` mode, step input): its output drives the
    NMOS and PMOS gates of the ``ceil(cols / cols_per_adc)`` pass gates it enables; 0
    without a mux."""
    if cols_per_adc <= 1:
        return 0.0
    tech = technology(node_nm)
    f = tech.feature_m
    height = STD_HEIGHT_F * f
    address = math.ceil(math.log2(cols_per_adc))
    pn = tech.pn_size_ratio
    unit = MIN_NMOS_WIDTH_F * f
    inv_n, inv_p = enlarge_size(unit, pn * unit, height, f)
    nand_n, nand_p = enlarge_size(2 * unit, pn * unit, height, f)
    nor_inputs = math.ceil(address / 2)
    nor_n, nor_p = enlarge_size(unit, nor_inputs * pn * unit, height, f)
    drv_n = 2 * unit * tech.mux_driver_sizing
    drv_p = pn * drv_n
    c_inv_in, c_inv_out = inverter_caps_f(node_nm, inv_n, inv_p)
    c_nand_in, c_nand_out = nand2_caps_f(node_nm, nand_n, nand_p)
    c_nor_in, c_nor_out = nor_caps_f(node_nm, nor_inputs, nor_n, nor_p)
    c_drv_in, c_drv_out = inverter_caps_f(node_nm, drv_n, drv_p)
    _, c_tg_n, c_tg_p, _ = _mux_gate(node_nm, rows, cols, cols_per_adc, r_on_ohm, r_off_ohm)
    enabled = math.ceil(cols / cols_per_adc)
    load_n, load_p = c_tg_n * enabled, c_tg_p * enabled
    n_nand = 4 * (address // 2)
    n_nor = 2**address if address > 2 else 0

    def r_n(w: float) -> float:
        return effective_on_resistance_ohm(node_nm, w, nmos=True)

    def r_p(w: float) -> float:
        return effective_on_resistance_ohm(node_nm, w, nmos=False)

    total = 0.0
    load = c_inv_out + (2 * c_nand_in if n_nand else load_n)
    t, ramp_inv = horowitz_s(r_n(inv_n) * load)
    total += t
    ramp_nor = 1e20
    if n_nand:
        load = c_nand_out + (c_nor_in * n_nor / 4 if n_nor else load_n)
        t, ramp_nand = horowitz_s(2 * r_n(nand_n) * load, ramp_inv)
        total += t
        if n_nor:
            t, ramp_nor = horowitz_s(2 * r_p(nor_p) * (c_nor_out + c_nand_in), ramp_nand)
            total += t
    # enable circuit: NAND, then the sized driver INV pair into the pass-gate gates
    t, ramp_nand = horowitz_s(r_n(nand_n) * (c_nand_out + c_inv_in), ramp_nor)
    total += t
    t, ramp_inv = horowitz_s(r_p(drv_p) * (c_drv_out + c_drv_in + load_n), ramp_nand)
    total += t
    total += horowitz_s(r_n(drv_n) * (c_drv_out + load_p), ramp_inv)[0]
    return total


def encoder_delay_s(node_nm: int, adc_bits: int) -> float:
    """MLSA encoder delay [s] (``MultilevelSAEncoder::CalculateLatency``, step input): an
    inverter driving two NAND2 inputs, then a NAND2 (``8F`` NMOS) driving ``L/2`` inputs
    of the large NAND, ``L = 2^adc_bits``."""
    tech = technology(node_nm)
    f = tech.feature_m
    unit = MIN_NMOS_WIDTH_F * f
    inv_n, inv_p = unit, tech.pn_size_ratio * unit
    nand_n, nand_p = 4 * unit, 2 * tech.pn_size_ratio * unit
    c_inv_out = inverter_caps_f(node_nm, inv_n, inv_p)[1]
    c_nand_in, c_nand_out = nand2_caps_f(node_nm, nand_n, nand_p)
    inputs = math.ceil(2**adc_bits / 2)
    t1, ramp = horowitz_s(effective_on_resistance_ohm(node_nm, inv_n)
                          * (c_inv_out + 2 * c_nand_in))
    t2, _ = horowitz_s(2 * effective_on_resistance_ohm(node_nm, nand_n)
                       * (c_nand_out + c_nand_in * inputs), ramp)
    return t1 + t2
