r"""Area of NeuroSim V1.4's repeated buses (commit ac828e6): repeater sizing, the H-tree that
links the PEs of a tile (``HTree.cpp``) and the X-Y bus that links the tiles (``XYBus.cpp``).

A bus of ``B`` bits is a bundle of repeated minimum-pitch wires; NeuroSim books its area as
the repeaters' footprint along the wire: ``B·w_rep / fold`` per unit length on vertical runs
(``w_rep`` the repeater cell width) and ``B·h_rep / fold`` on horizontal ones (``h_rep`` the
28 F cell height), ``fold`` the assumed layout folding. The repeater size and spacing come from
the classic optimum ``sqrt(R_drv·c_w / (C_in·r_w))`` and ``sqrt(2 R_drv (C_in + C_out) /
(r_w c_w))``, then are halved (spacing x 0.9) until the delay per length exceeds the optimum by
the delay tolerance (0.1, NeuroSim ``localBusDelayTolerance`` / ``globalBusDelayTolerance``).
Lengths in metres, capacitances in farads, resistances in ohms.
"""

from __future__ import annotations

import functools
import math

from simulator.cost.capacitance import effective_on_resistance_ohm, inverter_caps_f
from simulator.cost.gates import STD_HEIGHT_F, gate_area
from simulator.cost.technology import WIRE_TABLE, TechnologyNode

__all__ = [
    "BUS_DELAY_TOLERANCE",
    "h_tree_area",
    "h_tree_length",
    "repeater",
    "repeater_cell",
    "xy_bus_area",
]

BUS_DELAY_TOLERANCE = 0.1
"""Delay relaxation of the tile and chip buses (NeuroSim ``Param.cpp``)."""
_C_WIRE = 0.2e-15 / 1e-6  # wire capacitance [F/m]


def _wire_r_per_m(tech: TechnologyNode) -> float:
    """``Rho / (w²·AR)`` [Ω/m], NeuroSim's ``unitLengthWireResistance`` (no barrier term)."""
    ar, rho, _ = WIRE_TABLE[tech.node_nm]
    w = tech.wire_width_nm * 1e-9
    return rho / (w * w * ar)


def _r_on(tech: TechnologyNode, wn: float, wp: float) -> float:
    """Mean effective on resistance of an inverter's two transistors [Ω]
    (``CalculateOnResistance`` with CACTI's multiplier); infinite for a zero width."""
    if wn <= 0 or wp <= 0:
        return math.inf
    return (effective_on_resistance_ohm(tech.node_nm, wn, nmos=True)
            + effective_on_resistance_ohm(tech.node_nm, wp, nmos=False)) / 2


@functools.cache
def repeater(tech: TechnologyNode, tolerance: float = BUS_DELAY_TOLERANCE) -> tuple[int, float]:
    """``(size, spacing)`` of a bus repeater (``HTree``/``Bus::Initialize``): the optimal size
    [minimum inverters] and spacing [m]; with a ``tolerance`` the size is halved (spacing
    x 0.9) until the delay per length is ``1 + tolerance`` x the optimum's (``HTree.cpp``; the
    PE buses, ``Bus.cpp``, use no tolerance). The size is at least 1."""
    f = tech.feature_m
    pn = tech.pn_size_ratio
    r_w = _wire_r_per_m(tech)
    c_in, c_out = inverter_caps_f(tech.node_nm, 2 * f, pn * 2 * f)
    r_drv = _r_on(tech, 2 * f, pn * 2 * f)
    size = math.floor(math.sqrt(r_drv * _C_WIRE / c_in / r_w))
    dist = math.sqrt(2 * r_drv * (c_out + c_in) / (r_w * _C_WIRE))

    def delay(size: int, dist: float) -> float:
        wn = 2 * f * size
        cin, cout = inverter_caps_f(tech.node_nm, wn, pn * wn)
        r = _r_on(tech, wn, pn * wn)
        return 0.7 * (r * (cin + cout + _C_WIRE * dist) + 0.54 * r_w * dist * _C_WIRE * dist
                      + r_w * dist * cin) / dist

    if tolerance:
        target = delay(size, dist) * (1 + tolerance)
        d = 0.0
        while d < target:
            size //= 2
            dist *= 0.9
            d = delay(size, dist)
    return max(1, size), dist


def repeater_cell(tech: TechnologyNode) -> tuple[float, float]:
    """``(height, width)`` [m] of the H-tree / X-Y bus repeater (:func:`repeater` with the
    bus delay tolerance) in a 28 F cell."""
    f = tech.feature_m
    wn = repeater(tech)[0] * 2 * f
    return gate_area("inv", 1, wn, tech.pn_size_ratio * wn, STD_HEIGHT_F * f, f)


def h_tree_length(units: int, unit_h: float, unit_w: float) -> float:
    """Wire length of one bit of an H-tree over a ``units x units`` grid of blocks
    ``unit_h x unit_w`` [m] (``HTree::CalculateArea``'s ``totalWireLength``): the runs of the
    inner levels plus the trunk from the centre to the nearest edge."""
    half_levels = math.ceil(math.log2(units)) if units > 1 else 0
    side = 2**half_levels
    centre = side // 2
    if side - centre < 1:
        centre -= 1
    len_v, len_h = unit_h * side / 2, unit_w * side / 2
    total = 0.0
    for _ in range(1, half_levels):
        len_v /= 2
        len_h /= 2
        total += len_v + len_h
    return total + min(side - centre, centre) * unit_w


def h_tree_area(tech: TechnologyNode, units: int, bus_bits: float, unit_h: float,
                unit_w: float, fold: float) -> float:
    """H-tree over a ``units x units`` grid of blocks ``unit_h x unit_w`` [m] carrying
    ``bus_bits`` (``HTree::CalculateArea``): the grid is padded to ``2^k``, each level halves
    the run length and adds a branch; the last level overlaps the blocks and the trunk runs from
    the centre to the nearest edge [m²]."""
    h_inv, w_inv = repeater_cell(tech)
    half_levels = math.ceil(math.log2(units)) if units > 1 else 0
    side = 2**half_levels
    centre = side // 2
    if side - centre < 1:  # HTree::Initialize's over-routing constraint
        centre -= 1
    len_v, len_h = unit_h * side / 2, unit_w * side / 2
    wid_v = wid_h = area = 0.0
    for _ in range(1, half_levels):
        len_v /= 2
        wid_v += bus_bits * w_inv / fold
        area += wid_v * len_v / 2
        len_h /= 2
        wid_h += bus_bits * h_inv / fold
        area += wid_h * len_h / 2
    return area + bus_bits * h_inv / fold * min(side - centre, centre) * unit_w


def xy_bus_area(tech: TechnologyNode, rows: int, cols: int, bus_bits: float, unit_h: float,
                unit_w: float, fold: float) -> float:
    """X-Y bus over a ``rows x cols`` grid of tiles ``unit_h x unit_w`` [m]
    (``XYBus::CalculateArea``): one vertical run ``rows·unit_h`` and one horizontal run
    ``cols·unit_w`` of ``bus_bits`` repeated wires [m²]."""
    h_inv, w_inv = repeater_cell(tech)
    return (bus_bits * w_inv / fold * unit_h * rows
            + bus_bits * h_inv / fold * unit_w * cols)

