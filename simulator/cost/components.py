r"""Circuit blocks of a crossbar tile: energy and latency of one event.

Conventions: F is the feature size (node); a minimum transistor has width ``2F`` and switches
``2·C_gate`` (gate plus drain) at ``Vdd``; a CMOS transistor in a standard cell occupies
``CPP·F × STD_CELL_HEIGHT_F·F`` (used for the multi-bit row driver, the one block whose area
is not NeuroSim's layout, :mod:`simulator.cost.chip_area`). Formulas follow NeuroSim [Lu2021]_
(re-implemented, cited per function).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.cost import sensing
from simulator.cost.technology import (
    CPP_F,
    DFF_ACTIVITY,
    DFF_TRANSISTORS,
    INTERCONNECT_TOGGLE,
    MLSA_BREAKS_OHM,
    SAR_BIT_CYCLE_S,
    STD_CELL_HEIGHT_F,
    WIRE_CAP_F_PER_M,
    TechnologyNode,
)

_UM2 = 1e12  # m² -> µm²
_PJ = 1e12  # J -> pJ
_NS = 1e9  # s -> ns


@dataclass(frozen=True, kw_only=True)
class UnitCost:
    """Cost of one event of a block."""

    energy_pj: float
    """Dynamic energy of one event (read step, conversion, addition, bit moved) [pJ]."""
    latency_ns: float
    """Latency of one event [ns] (0 when it overlaps other blocks)."""


def transistor_area_m2(tech: TechnologyNode) -> float:
    """Area of one CMOS transistor in a standard cell, ``CPP·F × 28F`` [m²]."""
    return CPP_F * STD_CELL_HEIGHT_F * tech.feature_m**2


def transistor_energy_j(tech: TechnologyNode) -> float:
    """Energy to switch one minimum transistor (gate + drain, width 2F) once [J]."""
    return 2.0 * tech.gate_cap_f_per_m * 2.0 * tech.feature_m * tech.vdd_v**2


def word_line_energy_pj(tech: TechnologyNode, cols: int, r_on_ohm: float) -> float:
    """Charging one word line across ``cols`` 12F-wide 1T1R cells to ``Vdd`` [pJ]: wire plus
    access-transistor gates, NeuroSim's ``capRow2·Vdd²`` (:func:`sensing.word_line_cap_f`)."""
    return sensing.word_line_cap_f(tech.node_nm, cols, r_on_ohm) * tech.vdd_v**2 * _PJ


def sar_adc(
    tech: TechnologyNode,
    bits: int,
    column_resistance_ohm: float,
    read_voltage_v: float,
    clock_ghz: float,
) -> UnitCost:
    r"""Current-mode successive-approximation ADC, NeuroSim's model [Lu2021]_ (``SarADC.cpp``;
    its area is :func:`simulator.cost.periphery.sar_adc_area`).

    * Latency: ``B + 1`` clock cycles per conversion (NeuroSim: ``(log2 L + 1)·1 ns``).
    * Energy: ``P·(B + 1)·1 ns`` with ``P = a·B + b + c·exp(-d·log10 R')`` and
      ``R' = R_col·0.5 V / V_read`` (the fit was made at 0.5 V read voltage and a 1 ns bit
      cycle). The column term is the power of the column current the ADC senses, so the
      cells' conduction energy is counted here, not in the array.
    """
    if bits < 1:
        raise ValueError(f"adc_bits must be >= 1, got {bits!r}.")
    r_eff = column_resistance_ohm * 0.5 / read_voltage_v
    power = tech.sar_power_per_bit_w * bits + tech.sar_power_offset_w
    power += tech.sar_column_coeff_w * math.exp(-tech.sar_column_exp * math.log10(r_eff))
    energy = power * (bits + 1) * SAR_BIT_CYCLE_S
    latency = (bits + 1) / (clock_ghz * 1e9)
    return UnitCost(energy_pj=energy * _PJ, latency_ns=latency * _NS)


def mlsa_column_power_w(tech: TechnologyNode, column_resistance_ohm: float) -> float:
    """Power of one MLSA reference level sensing a column of resistance R [W]: NeuroSim's
    piecewise fit at 0.5 V (``GetColumnPower``, LP, current mode), floored at 0."""
    a0, b0, a1, b1, a2, b2 = tech.mlsa_fit
    r = column_resistance_ohm
    if r < MLSA_BREAKS_OHM[0]:
        p = a0 * r + b0
    elif r < MLSA_BREAKS_OHM[1]:
        p = a1 * math.log(r) + b1
    else:
        p = a2 * math.log(r) + b2
    return max(p, 0.0)


def mlsa_adc(
    tech: TechnologyNode,
    bits: int,
    column_resistance_ohm: float,
    read_voltage_v: float,
    rows: int,
    g_on_s: float,
) -> UnitCost:
    r"""Current-mode multi-level sense amplifier ADC (NeuroSim's default, ``SARADC = false``).

    ``L = 2^B`` output levels use ``L - 1`` parallel sense amplifiers against reference
    columns (``MultilevelSenseAmp.cpp``; its area is
    :func:`simulator.cost.periphery.mlsa_area`):

    * Energy per conversion (``CalculatePower``, current mode): ``(L - 1)·(P(R') + P_ref)·t_col
      + E_sw`` with ``R' = R·0.5 V / V_read``, the reference columns' share
      ``P_ref = Σ_{i=1}^{L-3} P(R_i') / L``, ``R_i = 1 / (rows·g_on·(1 - i/L))`` (NeuroSim's
      ``Rref`` ladder, one dummy column shared by ``L`` sense amplifiers), the sensing time
      ``t_col`` of :func:`~simulator.cost.sensing.mlsa_sensing_time_s` and the capacitive
      switching ``E_sw`` of :func:`~simulator.cost.sensing.mlsa_switching_energy_j`. The
      column current's power is in ``P``, so cell conduction is counted here.
    * Latency per conversion: ``t_col`` (all levels compare at once).
    """
    if bits < 1:
        raise ValueError(f"adc_bits must be >= 1, got {bits!r}.")
    levels = 2**bits
    scale = 0.5 / read_voltage_v
    g_start = rows * g_on_s
    p_ref = sum(
        mlsa_column_power_w(tech, scale / (g_start * (1 - i / levels)))
        for i in range(1, levels - 2)
    ) / levels
    p_col = mlsa_column_power_w(tech, column_resistance_ohm * scale)
    c_col = sensing.column_cap_f(tech.node_nm, rows, 1.0 / g_on_s)
    t_col = sensing.mlsa_sensing_time_s(tech.node_nm, bits, rows, 1.0 / g_on_s, c_col)
    energy = (levels - 1) * (p_col + p_ref) * t_col
    energy += sensing.mlsa_switching_energy_j(tech.node_nm, bits, c_col, read_voltage_v)
    return UnitCost(energy_pj=energy * _PJ, latency_ns=t_col * _NS)


def driver(tech: TechnologyNode, dac_bits: int) -> UnitCost:
    r"""Word-line input driver of one row (energy per input cycle).

    ``dac_bits = 1`` (bit-serial): a transmission-gate switch (2 T) plus an input latch
    (DFF), like NeuroSim's word-line switch matrix. ``dac_bits > 1``: a binary-weighted
    driver of ``2^B - 1`` unit transistor pairs plus ``B`` latches (our assumption; NeuroSim
    only models bit-serial inputs). Latency overlaps the array read (0).
    """
    if dac_bits < 1:
        raise ValueError(f"dac_bits must be >= 1, got {dac_bits!r}.")
    units = 2 * (2**dac_bits - 1)
    energy = (units + DFF_ACTIVITY * DFF_TRANSISTORS * dac_bits) * transistor_energy_j(tech)
    return UnitCost(energy_pj=energy * _PJ, latency_ns=0.0)


def driver_area_um2(tech: TechnologyNode, dac_bits: int) -> float:
    """Area of one row's :func:`driver` [µm²]: ``2·(2^B - 1) + 24·B`` standard-cell
    transistors. Only its excess over the bit-serial driver (``B = 1``) enters the chip area,
    beside NeuroSim's word-line switch matrix (:mod:`simulator.cost.chip_area`)."""
    if dac_bits < 1:
        raise ValueError(f"dac_bits must be >= 1, got {dac_bits!r}.")
    transistors = 2 * (2**dac_bits - 1) + DFF_TRANSISTORS * dac_bits
    return transistors * transistor_area_m2(tech) * _UM2


def column_mux(tech: TechnologyNode, cols_per_adc: int) -> UnitCost:
    r"""Column multiplexer sharing one ADC among ``cols_per_adc`` columns (its area is
    NeuroSim's, :func:`simulator.cost.periphery.column_mux_height`).

    Energy per conversion: the selected transmission-gate pair (2 T) and its decoder output
    (4 T) switch. No mux (``cols_per_adc = 1``) costs nothing.
    """
    if cols_per_adc == 1:
        return UnitCost(energy_pj=0.0, latency_ns=0.0)
    return UnitCost(energy_pj=(2 + 4) * transistor_energy_j(tech) * _PJ, latency_ns=0.0)


def register_buffer(tech: TechnologyNode, clock_ghz: float, port_bits: int) -> UnitCost:
    r"""Register-file buffer (NeuroSim's default ``bufferType = false``), per bit.

    Energy per bit moved: a write and a read of a DFF at activity γ. Latency per
    ``port_bits``-wide transfer: one clock.
    """
    return UnitCost(
        energy_pj=2 * DFF_ACTIVITY * DFF_TRANSISTORS * transistor_energy_j(tech) * _PJ,
        latency_ns=1.0 / clock_ghz / port_bits,
    )


def bus_wire(tech: TechnologyNode, length_m: float, clock_ghz: float, bus_bits: int) -> UnitCost:
    r"""One bit lane of the on-chip bus of length ``length_m`` [m].

    Energy per bit moved: ``toggle · C_wire · L · Vdd²`` with toggle 0.18 (NeuroSim
    ``inputtoggle``). Latency per ``bus_bits``-wide transfer: one clock.
    """
    energy = INTERCONNECT_TOGGLE * WIRE_CAP_F_PER_M * length_m * tech.vdd_v**2
    return UnitCost(energy_pj=energy * _PJ, latency_ns=1.0 / clock_ghz / bus_bits)
