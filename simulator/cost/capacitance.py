r"""Transistor capacitances as DNN+NeuroSim V1.4 computes them (commit ac828e6), for energy.

Ported from NeuroSim's ``formula.cpp`` (``CalculateGateCap``, the output side of
``CalculateGateCapacitance`` for an inverter, ``CalculateOnResistance``) and the bulk-CMOS
junction constants of ``Technology.cpp`` (PTM LP, 300 K) for the nodes of
:data:`simulator.cost.technology.NODES`. Gate layout (areas) is in
:mod:`simulator.cost.gates`. Widths in m, capacitances in F, resistances in Ω.
"""

from __future__ import annotations

import math

from simulator.cost.gates import STD_HEIGHT_F, max_widths
from simulator.cost.technology import technology

__all__ = [
    "IR_DROP_TOLERANCE",
    "MIN_NMOS_WIDTH_F",
    "access_transistor_width_m",
    "drain_cap_f",
    "effective_on_resistance_ohm",
    "gate_cap_f",
    "inverter_caps_f",
    "nand2_caps_f",
    "nor_caps_f",
]

MIN_NMOS_WIDTH_F = 2.0
"""Minimum NMOS width in F (NeuroSim ``constant.h`` ``MIN_NMOS_SIZE``)."""
IR_DROP_TOLERANCE = 0.25
"""Access-transistor resistance as a fraction of the cell's ``R_on`` (``constant.h``)."""
LINEAR_REGION_RATIO = 0.20
"""``constant.h``: linear-region factor sizing the 1T1R access transistor."""
_R_MULTIPLIER = 1.77  # effectiveResistanceMultiplier (from CACTI), LP bulk nodes
_DIFFUSION_F = 2.8  # MIN_GAP_BET_GATE_POLY: width of a drain/source diffusion
_CJ_BOTTOM, _CJ_SIDEWALL, _CJ_GATE_EDGE = 1e-3, 2.5e-10, 0.5e-10  # cjd F/m², cjswd, cjswgd F/m
_BUILT_IN_V = 0.9  # buildInPotential [V]


def gate_cap_f(node_nm: int, width_m: float) -> float:
    """Gate capacitance of a transistor ``width_m`` wide [F]: ``(C_ideal + 0.2·C_ideal +
    C_fringe)·W`` (``CalculateGateCap``; NeuroSim's poly-wire term is 0)."""
    tech = technology(node_nm)
    return (tech.gate_cap_f_per_m + 0.2 * tech.gate_cap_ideal_f_per_m) * width_m


def _junction_caps(node_nm: int) -> tuple[float, float, float]:
    """(bottom [F/m²], isolation sidewall [F/m], gate-edge sidewall [F/m]) at ``Vdd``
    (``Technology.cpp``: ``c / (1 + Vdd/φ)^m`` with m = 0.5, 0.33, 0.33)."""
    v = technology(node_nm).vdd_v / _BUILT_IN_V
    return (_CJ_BOTTOM / (1 + v) ** 0.5, _CJ_SIDEWALL / (1 + v) ** 0.33,
            _CJ_GATE_EDGE / (1 + v) ** 0.33)


def inverter_caps_f(node_nm: int, width_n_m: float, width_p_m: float,
                    height_f: float = STD_HEIGHT_F) -> tuple[float, float]:
    """(input, output) capacitance of an inverter with NMOS/PMOS widths ``width_n_m`` /
    ``width_p_m`` in a ``height_f``-F cell [F] (``CalculateGateCapacitance(INV, ...)``,
    bulk); a width of 0 leaves that transistor out (a lone NMOS or PMOS)."""
    f = technology(node_nm).feature_m
    height = height_f * f
    c_in = gate_cap_f(node_nm, width_n_m) + gate_cap_f(node_nm, width_p_m)
    max_n, max_p = max_widths(width_n_m, width_p_m, height, f)

    def diffusion(width: float, max_width: float) -> tuple[float, float, int]:
        """(drain diffusion width, drain height, fingers) of one transistor."""
        if width <= 0:
            return 0.0, 0.0, 1
        if width <= max_width:
            return _DIFFUSION_F * f, width, 1
        folds = math.ceil(width / max_width)
        return math.ceil((folds + 1) / 2) * _DIFFUSION_F * f, max_width, folds

    wd_p, hd_p, folds_p = diffusion(width_p_m, max_p)
    wd_n, hd_n, folds_n = diffusion(width_n_m, max_n)
    side = 1 + (folds_p + 1) % 2  # NeuroSim uses the PMOS finger count for both (case INV)
    side_p = wd_p * 2 + hd_p * side if width_p_m > 0 else 0.0
    side_n = wd_n * 2 + hd_n * side if width_n_m > 0 else 0.0
    cj, csw, cdc = _junction_caps(node_nm)
    c_out = ((wd_n * hd_n + wd_p * hd_p) * cj + (side_n + side_p) * csw
             + (folds_n * hd_n + folds_p * hd_p) * cdc)
    return c_in, c_out


def nand2_caps_f(node_nm: int, width_n_m: float, width_p_m: float,
                 height_f: float = STD_HEIGHT_F) -> tuple[float, float]:
    """(input, output) capacitance of an unfolded 2-input NAND [F]
    (``CalculateGateCapacitance(NAND, 2, ...)``, bulk; NeuroSim's adders first widen their
    NANDs to the widest unfolded size, ``EnlargeSize``, so folding does not occur): the two
    parallel PMOS share one drain, the series NMOS stack exposes two drain widths.

    Raises:
        ValueError: If a transistor would be folded in a ``height_f``-F cell.
    """
    f = technology(node_nm).feature_m
    max_n, max_p = max_widths(width_n_m, width_p_m, height_f * f, f)
    if width_n_m > max_n * (1 + 1e-9) or width_p_m > max_p * (1 + 1e-9):
        raise ValueError("nand2_caps_f: folded NAND transistors are not supported.")
    c_in = gate_cap_f(node_nm, width_n_m) + gate_cap_f(node_nm, width_p_m)
    unit = _DIFFUSION_F * f
    wd_p, wd_n = unit, 2 * unit  # floor((2 + 1)/2) PMOS drains, 2 NMOS drain widths
    side_p = wd_p * 2  # heightDrainP · (1 - (numInput + 1) % 2) = 0
    side_n = wd_n * 2 + width_n_m
    cj, csw, cdc = _junction_caps(node_nm)
    c_out = ((wd_n * width_n_m + wd_p * width_p_m) * cj + (side_n + side_p) * csw
             + (width_n_m + width_p_m) * cdc)
    return c_in, c_out


def nor_caps_f(node_nm: int, inputs: int, width_n_m: float, width_p_m: float,
               height_f: float = STD_HEIGHT_F) -> tuple[float, float]:
    """(input, output) capacitance of an unfolded ``inputs``-input NOR [F]
    (``CalculateGateCapacitance(NOR, ...)``, bulk): the series PMOS share diffusions
    (``inputs`` drain widths), the parallel NMOS share drains (``floor((inputs + 1)/2)``).

    Raises:
        ValueError: If a transistor would be folded in a ``height_f``-F cell.
    """
    f = technology(node_nm).feature_m
    max_n, max_p = max_widths(width_n_m, width_p_m, height_f * f, f)
    if width_n_m > max_n * (1 + 1e-9) or width_p_m > max_p * (1 + 1e-9):
        raise ValueError("nor_caps_f: folded NOR transistors are not supported.")
    c_in = gate_cap_f(node_nm, width_n_m) + gate_cap_f(node_nm, width_p_m)
    unit = _DIFFUSION_F * f
    wd_p, wd_n = unit * inputs, unit * ((inputs + 1) // 2)
    side_p = wd_p * 2 + width_p_m
    side_n = wd_n * 2 + width_n_m * (1 - (inputs + 1) % 2)
    cj, csw, cdc = _junction_caps(node_nm)
    c_out = ((wd_n * width_n_m + wd_p * width_p_m) * cj + (side_n + side_p) * csw
             + (width_n_m + width_p_m) * cdc)
    return c_in, c_out


def drain_cap_f(node_nm: int, width_m: float, nmos: bool = True) -> float:
    """Drain capacitance of one transistor ``width_m`` wide [F] (``CalculateDrainCap``)."""
    if nmos:
        return inverter_caps_f(node_nm, width_m, 0.0)[1]
    return inverter_caps_f(node_nm, 0.0, width_m)[1]


def effective_on_resistance_ohm(node_nm: int, width_m: float, nmos: bool = True) -> float:
    """Switching on-resistance ``1.77·Vdd / (I_on·W)`` [Ω] (``CalculateOnResistance``, 300 K;
    :func:`simulator.cost.gates.on_resistance_ohm` is the linear-region one without 1.77)."""
    tech = technology(node_nm)
    current = tech.ion_nmos_a_per_m if nmos else tech.ion_pmos_a_per_m
    return _R_MULTIPLIER * tech.vdd_v / (current * width_m)


def access_transistor_width_m(node_nm: int, r_on_ohm: float) -> float:
    """Width of the 1T1R access transistor [m]: ``R(F)·0.2 / (0.25·R_on)`` feature sizes
    (``SubArray.cpp`` ``Initialize``, 1T1R)."""
    f = technology(node_nm).feature_m
    multiple = (effective_on_resistance_ohm(node_nm, f) * LINEAR_REGION_RATIO
                / (IR_DROP_TOLERANCE * r_on_ohm))
    return multiple * f
