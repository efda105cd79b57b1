r"""Dynamic energy of NeuroSim V1.4's digital blocks (commit ac828e6), one event each.

Ported from ``DFF.cpp``, ``Adder.cpp``, ``ShiftAdd.cpp``, ``AdderTree.cpp`` (``CalculateArea``
capacitances, ``CalculatePower``) and ``NewSwitchMatrix.cpp`` (the 1T1R word-line switch
matrix: a DFF and a transmission gate per row, gates ``newswitchmatrixsizeratio`` x minimum,
stacked along the array's height). ``validated`` applies NeuroSim's calibrated switching
activities (``Param.cpp``: δ = 0.15 for adders, γ = 0.5 for DFFs), as its defaults do.
Energies in J, capacitances in F.
"""

from __future__ import annotations

import math

from simulator.cost.capacitance import MIN_NMOS_WIDTH_F, gate_cap_f, inverter_caps_f, nand2_caps_f
from simulator.cost.gates import STD_HEIGHT_F, enlarge_size
from simulator.cost.technology import ADDER_ACTIVITY, CELL_HEIGHT_F, DFF_ACTIVITY, technology

__all__ = [
    "ACCESS_VOLTAGE_V",
    "adder_energy_j",
    "adder_tree_energy_j",
    "dff_energy_j",
    "shift_add_energy_j",
    "switch_gate_caps",
    "wl_switch_matrix_energy_j",
]

ACCESS_VOLTAGE_V = 1.1
"""Gate voltage of the 1T1R access transistor [V] (NeuroSim ``Param.cpp`` ``accessVoltage``)."""


def dff_energy_j(node_nm: int, *, validated: bool = True) -> float:
    r"""Energy of one D flip-flop clocked once with its data switching [J] (``DFF.cpp``
    ``CalculatePower`` for one DFF, ``numDffPerOperation = numDff``):
    ``[4(C_in + C_out) + 2(C_gN + C_gP) + (3·C_d + C_in) + (C_d + C_out) + (C_in + C_out)]·Vdd²``
    with minimum inverters / transmission gates in a 28 F cell; ``validated`` applies
    NeuroSim's calibrated activity γ = 0.5 (shift-adders, accumulators, buffers)."""
    tech = technology(node_nm)
    w_n = MIN_NMOS_WIDTH_F * tech.feature_m
    w_p = tech.pn_size_ratio * w_n
    c_in, c_out = inverter_caps_f(node_nm, w_n, w_p)
    c_drain = c_out  # transmission-gate drains: same widths and cell as the inverter's
    c_gate = gate_cap_f(node_nm, w_n) + gate_cap_f(node_nm, w_p)
    caps = (4 * (c_in + c_out) + 2 * c_gate + (3 * c_drain + c_in) + (c_drain + c_out)
            + (c_in + c_out))
    return caps * tech.vdd_v**2 * (DFF_ACTIVITY if validated else 1.0)


def switch_gate_caps(node_nm: int, rows: int, size_ratio: float) -> tuple[float, float]:
    """(gate N + gate P, drain) capacitance of one switch-matrix transmission gate [F]: the
    ``rows`` gates stack in columns along the array height ``rows·4F``, each in a cell of
    ``height / ceil(rows / columns)`` (``NewSwitchMatrix::CalculateArea``)."""
    f = technology(node_nm).feature_m
    w_n = MIN_NMOS_WIDTH_F * f * size_ratio
    w_p = technology(node_nm).pn_size_ratio * w_n
    array_height_f = rows * CELL_HEIGHT_F
    per_col = max(1, int(array_height_f // STD_HEIGHT_F))
    n_cols = math.ceil(rows / per_col)
    tg_height_f = array_height_f / math.ceil(rows / n_cols)
    c_drain = inverter_caps_f(node_nm, w_n, w_p, tg_height_f)[1]
    return gate_cap_f(node_nm, w_n) + gate_cap_f(node_nm, w_p), c_drain


def wl_switch_matrix_energy_j(node_nm: int, rows: int, active_rows: float, reads: int,
                              read_voltage_v: float) -> float:
    r"""Energy of a ``rows``-row word-line switch matrix over ``reads`` read steps (the
    column-mux steps of one input cycle) with ``active_rows`` rows driven [J]
    (``NewSwitchMatrix::CalculatePower``):
    ``reads·[active·(2·C_d·V_acc² + 3·C_d·V_r² + 3·(C_gN + C_gP)·Vdd²) + rows·E_DFF]``,
    the DFFs without NeuroSim's activity factor."""
    tech = technology(node_nm)
    c_gate, c_drain = switch_gate_caps(node_nm, rows, tech.wl_switch_size_ratio)
    per_row = (2 * c_drain * ACCESS_VOLTAGE_V**2 + 3 * c_drain * read_voltage_v**2
               + 3 * c_gate * tech.vdd_v**2)
    return reads * (active_rows * per_row + rows * dff_energy_j(node_nm, validated=False))


def adder_energy_j(node_nm: int, bits: int, *, validated: bool = True) -> float:
    r"""Energy of one ``bits``-bit ripple-carry addition [J] (``Adder.cpp``: 9 NAND2 per bit,
    NANDs widened by ``EnlargeSize``): ``[6 C_i + 2 C_o + (7 C_i + 3 C_o)(n-1)
    + 2(C_o + C_i) + (C_o + 2 C_i) + 2(C_o + 3 C_i) + (C_o + C_i)
    + (C_o + 3 C_i)(n-1) + (C_o + C_i)(n-1) + 2 (C_o + C_i)(n-1)]·Vdd²``, times δ."""
    tech = technology(node_nm)
    f = tech.feature_m
    w_n, w_p = enlarge_size(2 * MIN_NMOS_WIDTH_F * f, tech.pn_size_ratio * MIN_NMOS_WIDTH_F * f,
                            STD_HEIGHT_F * f, f)
    c_i, c_o = nand2_caps_f(node_nm, w_n, w_p)
    n = bits
    caps = (c_i * 6 + c_o * 2 + (c_i * 7 + c_o * 3) * (n - 1) + (c_o + c_i) * 2
            + (c_o + c_i * 2) + (c_o + c_i * 3) + (c_o + c_i) + (c_o + c_i * 3) * (n - 1)
            + (c_o + c_i) * (n - 1) + (c_o + c_i) * 2 * (n - 1))
    return caps * tech.vdd_v**2 * (ADDER_ACTIVITY if validated else 1.0)


def shift_add_energy_j(node_nm: int, adder_bits: int, pulses: int) -> float:
    """Energy of one step of one shift-add unit [J] (``ShiftAdd.cpp``, non-spiking): an
    ``adder_bits`` adder plus ``adder_bits + 1 + pulses - 1`` DFFs clocked, with NeuroSim's
    activities."""
    dffs = adder_bits + 1 + pulses - 1
    return adder_energy_j(node_nm, adder_bits) + dffs * dff_energy_j(node_nm)


def adder_tree_energy_j(node_nm: int, inputs: int, bits: int) -> float:
    """Energy of one reduction of ``inputs`` operands of ``bits`` bits by one adder tree [J]
    (``AdderTree::CalculatePower``): ``ceil(log2 inputs)`` stages of ``j // 2`` adders (NeuroSim
    halves the count with integer division), the operand width growing a bit per stage."""
    energy, j, width = 0.0, inputs, bits
    for _ in range(math.ceil(math.log2(inputs)) if inputs > 1 else 0):
        energy += (j // 2) * adder_energy_j(node_nm, width)
        width += 1
        j = math.ceil(j // 2)
    return energy
