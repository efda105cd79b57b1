r"""Column read of a 1T1R sub-array as DNN+NeuroSim V1.4 accounts it (RRAM, parallel read).

* The cell current flows through the access transistor, sized to ``0.25·R_on``
  (``SubArray.cpp`` ``Initialize``; ``ProcessingUnit.cpp`` ``GetColumnResistance``).
* Bit-line and word-line capacitances hold the wire (0.2 fF/µm) and the access transistors'
  drain / gate capacitance (``SubArray.cpp``: ``capCol``, ``capRow2``).
* The multi-level sense amplifier senses for the time its fit gives at the two ends of the
  reference ladder (``MultilevelSenseAmp.cpp`` ``ColumnLatency_Table``) and switches its
  column interface, current mirrors, latch and encoder interface once per reference level
  (``CalculatePower``, current mode).

Capacitances in F, energies in J, times in s, resistances in Ω, conductances in S.
"""

from __future__ import annotations

import math

from simulator.cost.capacitance import (
    IR_DROP_TOLERANCE,
    MIN_NMOS_WIDTH_F,
    access_transistor_width_m,
    drain_cap_f,
    gate_cap_f,
    inverter_caps_f,
)
from simulator.cost.technology import CELL_HEIGHT_F, CELL_WIDTH_F, WIRE_CAP_F_PER_M, technology

__all__ = [
    "column_cap_f",
    "column_resistance_ohm",
    "mlsa_sensing_time_s",
    "mlsa_switching_energy_j",
    "word_line_cap_f",
]

_LATENCY_FIT: dict[int, tuple[float, float, float, float, float, float, float]] = {
    22: (-1.32118e-10, 1.7552e-09, 8.02517e-15, 8.51803e-10, 4.5e-15, 0.31e-9, 12.7e3),
    32: (-1.31777e-10, 2.03151e-09, 1.15509e-14, 1.19475e-09, 6.55e-15, 0.55e-9, 4.83e3),
    45: (-1.12976e-10, 2.16762e-09, 1.54619e-14, 1.60263e-09, 9.21e-15, 0.81e-9, 4.83e3),
    65: (-8.11436e-11, 2.2554e-09, 2.12366e-14, 2.14339e-09, 13.3e-15, 1.2e-9, 4.83e3),
}
"""Node -> (a, b, c, d, C_ref [F], dC [s], R_th [Ω]) of ``ColumnLatency_Table`` (current
mode): ``a·ln R + b`` below 4832 Ω, ``c·R + d`` above, plus
``dC·(R - R_th)/(R2 - R_th)·(C - C_ref)/C_ref`` above ``R_th`` (R2 = 100 kΩ)."""
_LATENCY_R2_OHM = 0.1e6


def column_resistance_ohm(active_rows: float, g_on_s: float, g_off_s: float,
                          ones_fraction: float = 0.5) -> float:
    """Resistance of a column with ``active_rows`` driven rows [Ω]: each cell in series with
    its access transistor (``0.25/g_on``), ``ones_fraction`` of the cells at ``g_on``
    (NeuroSim ``GetColumnResistance``; wire resistance, < 1 % here, is left out)."""
    r_access = IR_DROP_TOLERANCE / g_on_s
    g_cell = ones_fraction / (1 / g_on_s + r_access)
    if g_off_s > 0:
        g_cell += (1 - ones_fraction) / (1 / g_off_s + r_access)
    return 1.0 / (active_rows * g_cell)


def column_cap_f(node_nm: int, rows: int, r_on_ohm: float) -> float:
    """Bit-line capacitance of a ``rows``-cell 1T1R column [F]: wire ``rows·4F·0.2 fF/µm``
    plus one access-transistor drain per row (``SubArray.cpp`` ``capCol``)."""
    f = technology(node_nm).feature_m
    wire = rows * CELL_HEIGHT_F * f * WIRE_CAP_F_PER_M
    return wire + rows * drain_cap_f(node_nm, access_transistor_width_m(node_nm, r_on_ohm))


def word_line_cap_f(node_nm: int, cols: int, r_on_ohm: float) -> float:
    """Word-line capacitance of a ``cols``-cell row [F]: wire ``cols·12F·0.2 fF/µm`` plus
    one access-transistor gate per column (``SubArray.cpp`` ``capRow2``)."""
    f = technology(node_nm).feature_m
    wire = cols * CELL_WIDTH_F * f * WIRE_CAP_F_PER_M
    return wire + cols * gate_cap_f(node_nm, access_transistor_width_m(node_nm, r_on_ohm))


def _sense_amp_caps(node_nm: int) -> tuple[float, float, float, float]:
    """(gate N, junction N, gate P, junction P) of the sense amplifier's minimum
    transistors [F] (``MultilevelSenseAmp::Initialize``)."""
    f = technology(node_nm).feature_m
    w_n = MIN_NMOS_WIDTH_F * f
    w_p = technology(node_nm).pn_size_ratio * w_n
    gate_n, junction_n = inverter_caps_f(node_nm, w_n, 0.0)
    gate_p, junction_p = inverter_caps_f(node_nm, 0.0, w_p)
    return gate_n, junction_n, gate_p, junction_p


def mlsa_sensing_time_s(node_nm: int, bits: int, rows: int, r_on_ohm: float,
                        column_cap: float) -> float:
    """Sensing time of one MLSA conversion [s]: the longer of ``ColumnLatency_Table`` at the
    reference ladder's ``Rref[1]`` and ``Rref[L-2]`` (``R_i = R_on/rows / (1 - i/L)``),
    with the column-capacitance correction ``C = C_col + C_gN·(L - 3)``."""
    a, b, c, d, c_ref, dc, r_th = _LATENCY_FIT[technology(node_nm).node_nm]
    levels = 2**bits
    gate_n = _sense_amp_caps(node_nm)[0]
    cap = column_cap + gate_n * (levels - 3)
    r_start = r_on_ohm / rows

    def fit(r: float) -> float:
        t = a * math.log(r) + b if r < 4832 else c * r + d
        if r > r_th:
            t += dc / (_LATENCY_R2_OHM - r_th) * (r - r_th) * ((cap - c_ref) / c_ref)
        return t

    ends = (r_start / (1 - 1 / levels), r_start / (1 - (levels - 2) / levels))
    return max(fit(r) for r in ends)


def mlsa_switching_energy_j(node_nm: int, bits: int, column_cap: float,
                            read_voltage_v: float) -> float:
    r"""Capacitive switching energy of one MLSA conversion [J] (``CalculatePower``, current
    mode, no reference-column term for RRAM): per reference level,

    ``2·C_col·(1/(L-1) + 1/L)/2·V_r² + (2·C_gN + (C_jN + C_gN)(1/(L-1) + 1/L))·V_r²
    + (2·C_gP + C_gN)·Vdd² + (3·C_gP + 3·C_gN + 3·(C_jP + C_jN) + C_jP)·Vdd²
    + (C_gP + C_gN)·Vdd²``, times ``L - 1`` levels (``L = 2^bits``; the dummy column is
    shared by ``L`` sense amplifiers, NeuroSim ``dumcolshared``)."""
    levels = 2**bits
    vdd2 = technology(node_nm).vdd_v ** 2
    vr2 = read_voltage_v**2
    g_n, j_n, g_p, j_p = _sense_amp_caps(node_nm)
    share = 1 / (levels - 1) + 1 / levels
    per_level = (
        column_cap * 2 * share / 2 * vr2
        + (g_n * 2 + (j_n + g_n) * share) * vr2
        + (g_p * 2 + g_n) * vdd2
        + (g_p * 3 + g_n * 3 + (j_p + j_n) * 3 + j_p) * vdd2
        + (g_p + g_n) * vdd2
    )
    return per_level * (levels - 1)
