r"""Standard-cell layout of DNN+NeuroSim V1.4 (commit ac828e6, ``formula.cpp``) for bulk CMOS.

NeuroSim lays every logic gate out in a cell of fixed height (28 F by default): a transistor
wider than the diffusion strip that fits is *folded* into ``ceil(W / W_max)`` fingers, each
finger adding one contacted poly pitch (``CPP = 1 F poly + 2.8 F gap``) to the cell width;
gates with several inputs share source/drain regions when nothing is folded. These functions
port ``CalculateGateArea``, ``CalculatePassGateArea``, ``EnlargeSize`` and
``CalculateOnResistance_normal`` for the planar nodes this model supports (22-65 nm; NeuroSim's
FinFET/GAA branches below 22 nm are not ported). Lengths are in metres, areas in m².
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = [
    "CPP_F",
    "GAP_P_N_F",
    "GateKind",
    "OUTER_F",
    "STD_HEIGHT_F",
    "enlarge_size",
    "gate_area",
    "gate_cell",
    "max_widths",
    "on_resistance_ohm",
    "pass_gate_area",
]

GateKind = Literal["inv", "nand", "nor"]

STD_HEIGHT_F = 28.0
"""Standard-cell height [F] (``constant.h`` ``MAX_TRANSISTOR_HEIGHT``)."""
CPP_F = 1.0 + 2.8
"""Contacted poly pitch [F]: ``POLY_WIDTH`` + ``MIN_GAP_BET_GATE_POLY`` (``constant.h``)."""
GAP_P_N_F = 3.5
"""Gap between the P and N diffusions [F] (``MIN_GAP_BET_P_AND_N_DIFFS``)."""
OUTER_F = (1.0 + 1.6 / 2) * 2
"""Poly extension plus half the field-poly gap, top and bottom [F]
(``(MIN_POLY_EXT_DIFF + MIN_GAP_BET_FIELD_POLY/2)·2``)."""


def max_widths(wn: float, wp: float, height: float, f: float) -> tuple[float, float]:
    """Widest NMOS / PMOS diffusion that fits in a cell ``height`` tall, split in the ratio of
    the requested widths (``formula.cpp`` ``CalculateGateArea``, bulk branch) [m]."""
    ratio = wp / (wp + wn)
    if ratio == 0:
        return height - OUTER_F * f, 0.0
    if ratio == 1:
        return 0.0, height - OUTER_F * f
    max_p = ratio * (height - GAP_P_N_F * f - OUTER_F * f)
    return max_p / ratio * (1 - ratio), max_p


def gate_area(kind: GateKind, inputs: int, wn: float, wp: float, height: float,
              f: float) -> tuple[float, float]:
    """``(height, width)`` [m] of a gate with NMOS width ``wn`` and PMOS width ``wp`` [m] in a
    cell ``height`` tall, NeuroSim's ``CalculateGateArea`` (bulk): an unfolded transistor takes
    ``2·CPP``, one folded into ``n`` fingers ``(n + 1)·CPP``; an unfolded NAND/NOR of ``k``
    inputs shares ``k - 1`` diffusions (``k·2·CPP - (k - 1)·CPP``)."""
    max_n, max_p = max_widths(wn, wp, height, f)

    def region(w: float, w_max: float) -> tuple[float, int]:
        if w <= 0:
            return 0.0, 1
        if w <= w_max:
            return 2 * CPP_F * f, 1
        folds = math.ceil(w / w_max)
        return (folds + 1) * CPP_F * f, folds

    unit_p, fold_p = region(wp, max_p)
    unit_n, fold_n = region(wn, max_n)
    if kind == "inv":
        width_p, width_n = unit_p, unit_n
    elif fold_p == 1 and fold_n == 1:
        width_p = unit_p * inputs - (inputs - 1) * f * CPP_F
        width_n = unit_n * inputs - (inputs - 1) * f * CPP_F
    else:
        width_p, width_n = unit_p * inputs, unit_n * inputs
    return height, max(width_n, width_p)


def gate_cell(kind: GateKind, inputs: int, wn: float, wp: float, f: float) -> float:
    """Area [m²] of a gate in the standard 28 F cell (``gate_area`` height x width)."""
    h, w = gate_area(kind, inputs, wn, wp, STD_HEIGHT_F * f, f)
    return h * w


def enlarge_size(wn: float, wp: float, height: float, f: float) -> tuple[float, float]:
    """NeuroSim's ``EnlargeSize`` (bulk): transistors narrower than the cell allows are widened
    to the widest unfolded size, keeping the P/N split [m]."""
    max_n, max_p = max_widths(wn, wp, height, f)
    ratio = wp / (wp + wn)
    if ratio == 0 and wn < max_n:
        return max_n, wp
    if ratio == 1 and wp < max_p:
        return wn, max_p
    if 0 < wp < max_p and 0 < wn < max_n:
        return max_n, max_p
    return wn, wp


def pass_gate_area(wn: float, wp: float, folds: int, f: float) -> tuple[float, float]:
    """``(height, width)`` [m] of a transmission gate whose fingers stack ``folds`` times
    (``CalculatePassGateArea``, bulk): width ``(folds + 1)·CPP``, height
    ``(wp + wn) / folds`` plus the P-N gap and the outer margins."""
    width = (folds + 1) * CPP_F * f
    height = wp / folds + wn / folds + GAP_P_N_F * f + OUTER_F * f
    return height, width


def on_resistance_ohm(width_m: float, vdd_v: float, i_on_a_per_m: float) -> float:
    """On resistance ``Vdd / (I_on·W)`` [Ω] of a transistor ``width_m`` wide
    (``CalculateOnResistance_normal``, bulk, 300 K)."""
    return vdd_v / (i_on_a_per_m * width_m)
