r"""Technology parameters of the hardware cost model, one table per node, each value sourced.

Nodes 22/32/45/65 nm use the low-power (LP) PTM transistor models, as in the default
configuration of DNN+NeuroSim V1.4 (``deviceroadmap = 2``). Values marked "NeuroSim" are
re-stated from the published NeuroSim V1.4 model (its ``Technology.cpp``, ``Param.cpp`` and
``SarADC.cpp``, documented in [Lu2021]_ and the V1.4 user manual); the formulas that use them
are re-implemented in :mod:`simulator.cost.components`, not copied.

References:
    .. [Lu2021] A. Lu, X. Peng, W. Li, H. Jiang, S. Yu, "NeuroSim simulator for
       compute-in-memory hardware accelerator: validation and benchmark", Frontiers in
       Artificial Intelligence 4, 659060 (2021).
    .. [Peng2019] X. Peng, S. Huang, Y. Luo, X. Sun, S. Yu, "DNN+NeuroSim: an end-to-end
       benchmarking framework for compute-in-memory accelerators with versatile device
       technologies", IEDM 2019.
    .. [PTM] Predictive Technology Model, http://ptm.asu.edu/ (22/32/45/65 nm LP cards).
    .. [Weste2010] N. Weste, D. Harris, "CMOS VLSI Design", 4th ed., 2010 (24-transistor
       transmission-gate master-slave flip-flop).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CELL_HEIGHT_F",
    "CELL_WIDTH_F",
    "CPP_F",
    "DFF_TRANSISTORS",
    "INPUT_ACTIVITY",
    "MLSA_BREAKS_OHM",
    "MLSA_COLUMN_LATENCY_S",
    "INTERCONNECT_BUS_BITS",
    "INTERCONNECT_TOGGLE",
    "NODES",
    "STD_CELL_HEIGHT_F",
    "TechnologyNode",
    "WIRE_CAP_F_PER_M",
    "ADDER_ACTIVITY",
    "SAR_BIT_CYCLE_S",
    "DFF_ACTIVITY",
    "WIRE_TABLE",
    "segment_resistance_ohm",
    "wire_resistivity_ohm_m",
    "technology",
]


@dataclass(frozen=True, kw_only=True)
class TechnologyNode:
    """Per-node constants (LP CMOS)."""

    node_nm: int
    """Feature size F [nm]; NeuroSim uses the node name as F."""
    vdd_v: float
    """Logic supply [V]. PTM LP cards via NeuroSim ``Technology.cpp``."""
    gate_cap_f_per_m: float
    """Gate capacitance per transistor width, ideal + fringe [F/m]. PTM LP via NeuroSim."""
    sar_power_per_bit_w: float
    """SAR ADC power slope a in ``P = a·log2(L) + b`` [W]. NeuroSim ``SarADC.cpp`` (LP fit)."""
    sar_power_offset_w: float
    """SAR ADC power offset b [W]. NeuroSim ``SarADC.cpp`` (LP fit)."""
    sar_column_coeff_w: float
    """Column-current term c in ``c·exp(-d·log10 R_col')`` [W]. NeuroSim ``SarADC.cpp`` (LP)."""
    sar_column_exp: float
    """Column-current exponent d (dimensionless). NeuroSim ``SarADC.cpp`` (LP)."""
    wire_width_nm: float
    """Minimum metal width [nm]. NeuroSim ``Param.cpp``."""
    mlsa_fit: tuple[float, float, float, float, float, float]
    """Multi-level sense-amp column power per reference level, piecewise in the column
    resistance R' [Ω]: ``a0·R' + b0`` below 4832 Ω, ``a1·ln R' + b1`` below 379269 Ω,
    ``a2·ln R' + b2`` above [W] (NeuroSim ``MultilevelSenseAmp.cpp`` ``GetColumnPower``, LP,
    current mode)."""
    gate_cap_ideal_f_per_m: float
    """Ideal gate capacitance per width [F/m], the first term of :attr:`gate_cap_f_per_m`
    (NeuroSim ``capIdealGate``; its overlap capacitance is 0.2x this)."""
    ion_nmos_a_per_m: float
    """NMOS on current per width at 300 K [A/m] (µA/µm). PTM LP via NeuroSim ``Technology.cpp``
    (``currentOnNmos[0]``, ``deviceRoadmap = LSTP``)."""
    ion_pmos_a_per_m: float
    """PMOS on current per width at 300 K [A/m]. PTM LP via NeuroSim ``Technology.cpp``."""
    i_off_nmos_a_per_m: float = 100.0e-6
    """NMOS off (subthreshold) current per width at 300 K [A/m]. PTM LP via NeuroSim
    ``Technology.cpp`` (``currentOffNmos[0]``, ``deviceRoadmap = LSTP``)."""
    i_off_pmos_a_per_m: float = 100.0e-6
    """PMOS off current per width at 300 K [A/m]. PTM LP via NeuroSim ``Technology.cpp``."""
    switch_matrix_size_ratio: float = 0.1
    """Sizing of the column switch matrix's transmission gates (NeuroSim ``Param.cpp``
    ``switchmatrixsizeratio``: 0.2 at 22 nm, 0.1 elsewhere)."""
    wl_switch_size_ratio: float = 6.0
    """Width of the 1T1R word-line switch matrix's gates in minimum widths (NeuroSim
    ``newswitchmatrixsizeratio``: 14 at 22 nm, 6 elsewhere)."""
    mux_driver_sizing: float = 1.0
    """Output-driver sizing of the column-mux decoder (NeuroSim ``sizingfactor_MUX``: 110 at
    22 nm, 1 elsewhere)."""

    @property
    def pn_size_ratio(self) -> float:
        """PMOS/NMOS width ratio for equal drive, ``I_on,n / I_on,p`` (NeuroSim
        ``pnSizeRatio``)."""
        return self.ion_nmos_a_per_m / self.ion_pmos_a_per_m

    @property
    def feature_m(self) -> float:
        """Feature size F [m]."""
        return self.node_nm * 1e-9


NODES: dict[int, TechnologyNode] = {
    22: TechnologyNode(
        node_nm=22,
        i_off_nmos_a_per_m=100.00e-6,
        i_off_pmos_a_per_m=100.00e-6,
        vdd_v=0.85,
        gate_cap_f_per_m=5.245e-10 + 8.004e-10,
        sar_power_per_bit_w=0.538e-6,
        sar_power_offset_w=4.3753e-6,
        sar_column_coeff_w=0.072341,
        sar_column_exp=2.303,
        wire_width_nm=40.0,
        mlsa_fit=(-2.85373e-11, 9.16744e-07, -1.63133e-07, 2.1687e-06, -5.8712e-08, 8.64648e-07),
        gate_cap_ideal_f_per_m=5.245e-10,
        ion_nmos_a_per_m=791.9,
        ion_pmos_a_per_m=600.2,
        switch_matrix_size_ratio=0.2,
        wl_switch_size_ratio=14.0,
        mux_driver_sizing=110.0,
    ),
    32: TechnologyNode(
        node_nm=32,
        i_off_nmos_a_per_m=100.10e-6,
        i_off_pmos_a_per_m=100.10e-6,
        vdd_v=0.9,
        gate_cap_f_per_m=8.375279e-10 + 6.856677e-10,
        sar_power_per_bit_w=1.1294e-6,
        sar_power_offset_w=8.8998e-6,
        sar_column_coeff_w=0.079449,
        sar_column_exp=2.297,
        wire_width_nm=56.0,
        mlsa_fit=(-6.72783e-12, 4.19847e-07, -7.28881e-08, 1.02677e-06, -4.35333e-08, 6.4697e-07),
        gate_cap_ideal_f_per_m=8.375279e-10,
        ion_nmos_a_per_m=600.2,
        ion_pmos_a_per_m=400.0,
    ),
    45: TechnologyNode(
        node_nm=45,
        i_off_nmos_a_per_m=100.00e-6,
        i_off_pmos_a_per_m=100.20e-6,
        vdd_v=1.0,
        gate_cap_f_per_m=8.930709e-10 + 8.849901e-10,
        sar_power_per_bit_w=2.1691e-6,
        sar_power_offset_w=16.693e-6,
        sar_column_coeff_w=0.100225,
        sar_column_exp=2.303,
        wire_width_nm=80.0,
        mlsa_fit=(-3.96471e-12, 3.44344e-07, -5.66235e-08, 8.27849e-07, -4.32673e-08, 6.46111e-07),
        gate_cap_ideal_f_per_m=8.930709e-10,
        ion_nmos_a_per_m=500.2,
        ion_pmos_a_per_m=300.0,
    ),
    65: TechnologyNode(
        node_nm=65,
        i_off_nmos_a_per_m=100.20e-6,
        i_off_pmos_a_per_m=100.20e-6,
        vdd_v=1.1,
        gate_cap_f_per_m=1.1926e-9 + 9.62148e-10,
        sar_power_per_bit_w=3.7506e-6,
        sar_power_offset_w=25.844e-6,
        sar_column_coeff_w=0.121272,
        sar_column_exp=2.303,
        wire_width_nm=105.0,
        mlsa_fit=(-6.08647e-12, 4.82814e-07, -8.03449e-08, 1.16437e-06, -6.01171e-08, 8.9355e-07),
        gate_cap_ideal_f_per_m=1.1926e-9,
        ion_nmos_a_per_m=400.0,
        ion_pmos_a_per_m=238.7,
    ),
}
"""Supported nodes [nm] -> constants."""

CELL_HEIGHT_F = 4.0
"""1T1R cell height in F (NeuroSim ``Param.cpp``: ``heightInFeatureSize1T1R = 4``)."""
CELL_WIDTH_F = 12.0
"""1T1R cell width in F (NeuroSim ``Param.cpp``: ``widthInFeatureSize1T1R = 12``)."""
STD_CELL_HEIGHT_F = 28.0
"""Standard-cell height in F (NeuroSim ``constant.h``: ``MAX_TRANSISTOR_HEIGHT = 28``)."""
CPP_F = 1.0 + 2.8
"""Contacted poly pitch in F: poly width 1 + gate-poly gap 2.8 (NeuroSim ``constant.h``)."""
DFF_TRANSISTORS = 24
"""Transmission-gate master-slave D flip-flop with local clock inverters [Weste2010]."""
WIRE_CAP_F_PER_M = 0.2e-15 / 1e-6
"""Wire capacitance, 0.2 fF/µm (NeuroSim ``SubArray.cpp`` row/column wires)."""
ADDER_ACTIVITY = 0.15
"""Switching activity of adders (NeuroSim ``Param.cpp`` calibration ``delta``)."""
DFF_ACTIVITY = 0.5
"""Switching activity of flip-flops in shift-add/accumulators (NeuroSim calibration
``gamma``)."""
SAR_BIT_CYCLE_S = 1e-9
"""Duration of one SAR bit cycle in the ADC energy fit [s] (NeuroSim ``SarADC.cpp``)."""
MLSA_BREAKS_OHM = (4832.0, 379269.0)
"""Column-resistance breakpoints of the MLSA power fit [Ω] (NeuroSim ``GetColumnPower``)."""
MLSA_COLUMN_LATENCY_S = 1e-9
"""Sensing time of one MLSA column [s]: NeuroSim clamps its per-column latency to 1-10 ns;
the lower bound (1 ns) is used for the column energy ``P·t``."""
INPUT_ACTIVITY = 0.5
"""Fraction of input bits that are 1 (assumption; NeuroSim measures it on real traces)."""
INTERCONNECT_TOGGLE = 0.18
"""Toggle rate of data bits on the interconnect (NeuroSim ``Param.cpp`` ``inputtoggle``)."""
INTERCONNECT_BUS_BITS = 128
"""Width of the buffer port and of the on-chip bus [bits] (assumption, one transfer per
clock)."""


WIRE_TABLE: dict[int, tuple[float, float, float]] = {
    22: (1.9, 2.97e-8, 2.5e-9),
    32: (1.8, 2.63e-8, 4.0e-9),
    45: (1.7, 2.37e-8, 5.0e-9),
    65: (1.7, 2.21e-8, 7.0e-9),
}
"""Node [nm] -> (aspect ratio, bulk resistivity [Ω·m], barrier thickness [m]) of the minimum
metal wire (NeuroSim ``Param.cpp`` ``AR``, ``Rho``, ``barrierthickness``)."""


def wire_resistivity_ohm_m(node_nm: int) -> float:
    """Barrier-corrected resistivity of the node's minimum wire [Ω·m], NeuroSim's
    ``Rho / (1 - (2·AR·w + w)·t_b / (AR·w²))``."""
    ar, rho, barrier = WIRE_TABLE[technology(node_nm).node_nm]
    w = technology(node_nm).wire_width_nm * 1e-9
    return rho / (1.0 - (2.0 * ar * w + w) * barrier / (ar * w * w))


def segment_resistance_ohm(node_nm: int, length_f: float) -> float:
    """Resistance of one minimum-width wire segment ``length_f`` feature sizes long [Ω]:
    ``rho · L / (w · AR·w)``. A 1T1R cell (4F x 12F) has a ``CELL_WIDTH_F`` row segment and a
    ``CELL_HEIGHT_F`` column segment.

    Raises:
        ValueError: If ``node_nm`` is not one of :data:`NODES` or ``length_f <= 0``.
    """
    if not length_f > 0:
        raise ValueError(f"length_f must be > 0, got {length_f!r}.")
    tech = technology(node_nm)
    ar = WIRE_TABLE[tech.node_nm][0]
    w = tech.wire_width_nm * 1e-9
    return wire_resistivity_ohm_m(node_nm) * length_f * tech.feature_m / (w * ar * w)


def technology(node_nm: int) -> TechnologyNode:
    """Constants of a node.

    Raises:
        ValueError: If ``node_nm`` is not one of :data:`NODES`.
    """
    try:
        return NODES[int(node_nm)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"tech_node_nm must be one of {sorted(NODES)}, got {node_nm!r}.") from None
