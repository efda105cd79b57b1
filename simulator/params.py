r"""Default device and circuit parameters, one constant per value, each with its source.

The defaults describe a 22 nm 1T1R HfOx ReRAM macro in the configuration of DNN+NeuroSim
V1.4 [Peng2019]_ (128x128 sub-arrays, 1-bit cells, bit-serial 8-bit inputs, 5-bit SAR ADCs
shared by 8 columns), with the programming/read noise of the Wan et al. ReRAM chip as fitted
in aihwkit [Wan2022]_ [Rasch2023]_ and the stuck-at-fault rates of MNSIM 2.0 [Zhu2023]_.

Conductance noise is expressed as a fraction of the programming window ``g_on - g_off``,
**per cell** (one device): a weight stored on a differential pair of cells carries
``sqrt(2)`` times the per-cell read noise. Device presets (:data:`DEVICE_PRESETS`, field
``CrossbarConfig.device``) give the shape of the programming noise versus the programmed
state and the recommended per-cell ``prog_sigma`` / ``read_sigma``.

References:
    .. [Peng2019] X. Peng, S. Huang, Y. Luo, X. Sun, S. Yu, "DNN+NeuroSim: an end-to-end
       benchmarking framework for compute-in-memory accelerators with versatile device
       technologies", IEDM 2019 (defaults of ``Param.cpp`` in DNN_NeuroSim_V1.4).
    .. [Wan2022] W. Wan et al., "A compute-in-memory chip based on resistive random-access
       memory", Nature 608, 504-512 (2022).
    .. [Rasch2023] M. J. Rasch et al., "Hardware-aware training for large-scale and diverse
       deep learning inference workloads using in-memory computing-based accelerators",
       Nature Communications 14, 5282 (2023) (aihwkit ``ReRamWan2022NoiseModel``).
    .. [Zhu2023] Z. Zhu et al., "MNSIM 2.0: a behavior-level modeling tool for processing-in-
       memory architectures", IEEE TCAD 42(11), 2023 (``SimConfig.ini`` defaults).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ADC_BITS",
    "DEVICE",
    "DEVICE_PRESETS",
    "DevicePreset",
    "WAN2022_G_MAX_US",
    "WAN2022_PROG_COEFF_US",
    "CELL_BITS",
    "CLOCK_GHZ",
    "COLS",
    "COLS_PER_ADC",
    "DAC_BITS",
    "ENCODING",
    "G_OFF_US",
    "G_ON_US",
    "INPUT_BITS",
    "PROG_SIGMA",
    "READ_SIGMA",
    "READ_VOLTAGE_V",
    "ROWS",
    "SAF_SA0",
    "SAF_SA1",
    "TECH_NODE_NM",
    "WEIGHT_BITS",
    "WIRE_R_OHM",
    "wire_r_ohm_for",
]

ROWS: int = 128
"""Rows per array. NeuroSim V1.4 ``Param.cpp``: ``numRowSubArray = 128``."""

COLS: int = 128
"""Columns per array. NeuroSim V1.4 ``Param.cpp``: ``numColSubArray = 128``."""

CELL_BITS: int = 1
"""Bits stored per cell. NeuroSim V1.4 ``Param.cpp``: ``cellBit = 1``."""

WEIGHT_BITS: int = 8
"""Weight precision [bit]. NeuroSim V1.4 inference default ``--wl_weight 8``."""

INPUT_BITS: int = 8
"""Activation precision [bit]. NeuroSim V1.4 inference default ``--wl_activate 8``."""

DAC_BITS: int = 1
"""Input bits applied per read cycle (1 = bit-serial). NeuroSim drives inputs bit-serially."""

ADC_BITS: int = 5
"""ADC resolution [bit]. NeuroSim V1.4 ``Param.cpp``: ``levelOutput = 32``."""

COLS_PER_ADC: int = 8
"""Columns sharing one ADC. NeuroSim V1.4 ``Param.cpp``: ``numColMuxed = 8``."""

G_ON_US: float = 10.0
"""Low-resistance-state conductance [µS]. NeuroSim V1.4 ``Param.cpp``: ``resistanceOn =
100e3`` Ω."""

G_OFF_US: float = 1.0 / 1.7
"""High-resistance-state conductance [µS]. NeuroSim V1.4 ``Param.cpp``: ``resistanceOff =
1.7e6`` Ω (on/off ratio 17)."""

WAN2022_PROG_COEFF_US: tuple[float, ...] = (0.348, 16.030, -43.853, 45.393, -16.815)
"""Programming-noise σ [µS] of the Wan et al. chip as aihwkit 1.2.0 codes it:
``σ(x) = Σ_i c_i x^i`` with ``x = g_target / g_max`` (constant term first). aihwkit
``inference/noise/reram.py``, ``ReRamWan2022NoiseModel``, ``coeff_dic[1.0]`` (t = 1 s, the
key ``apply_programming_noise_to_conductance`` uses), listed there highest power first. The
``self.g_max / self.coeff_g_max_reference`` factor is 1 as coded (the reference is set to
``g_max``; the 40 µS ``prog_coeff_g_max_reference`` is stored but never used), so σ is these
µS at any ``g_max``: 1.103 µS at ``x = 1``, 2.023 µS at ``x = 1/2``, 0.348 µS at 0."""

WAN2022_G_MAX_US: float = 25.0
"""``g_max`` [µS] of that model by default: aihwkit's ``SinglePairConductanceConverter``
(``g_max = 25.0``, ``g_min = 0.0``). σ(1) / g_max = 4.41 %, σ(1/2) / g_max = 8.09 %."""


@dataclass(frozen=True)
class DevicePreset:
    """A device noise model: the state dependence of programming noise and the per-cell
    defaults of ``prog_sigma`` and ``read_sigma`` (fractions of ``g_on - g_off``)."""

    name: str
    """Preset key (``CrossbarConfig.device``)."""
    prog_shape: tuple[float, ...]
    """Polynomial ``s(x) = Σ_i a_i x^i`` (constant first, dimensionless) of the programmed
    state ``x = (g - g_off) / (g_on - g_off)`` in [0, 1], normalized so ``s(1) = 1``: a cell
    programmed to state ``x`` has σ = ``prog_sigma · s(x) · (g_on - g_off)`` [µS]."""
    prog_sigma: float
    """Default programming σ of an on-state (``x = 1``) cell, per cell, fraction of the
    window (dimensionless)."""
    read_sigma: float
    """Default read-noise σ per cell and read, fraction of the window (dimensionless)."""
    source: str
    """Where the numbers come from."""


_WAN_AT_1 = sum(WAN2022_PROG_COEFF_US)

DEVICE_PRESETS: dict[str, DevicePreset] = {
    "wan2022": DevicePreset(
        name="wan2022",
        prog_shape=tuple(c / _WAN_AT_1 for c in WAN2022_PROG_COEFF_US),
        prog_sigma=round(_WAN_AT_1 / WAN2022_G_MAX_US, 9),
        read_sigma=0.01 / 2**0.5,
        source=(
            "IBM aihwkit 1.2.0 ReRamWan2022NoiseModel as coded (fit of Wan et al., Nature 608, "
            "2022): sigma(g) = WAN2022_PROG_COEFF_US polynomial in g/g_max [uS] at g_max = 25 "
            "uS, i.e. 4.41 % of the window at the on-state, 8.09 % at mid-window, 1.39 % at "
            "g_off; read noise: the model's docstring recommends forward.w_noise = 0.01 "
            "(additive constant, per weight, relative to the largest weight), i.e. "
            "0.01 / sqrt(2) per cell of a differential pair."
        ),
    ),
    "generic": DevicePreset(
        name="generic",
        prog_shape=(1.0,),
        prog_sigma=0.03,
        read_sigma=0.01,
        source=(
            "Level-independent simplification (the model before issue 12): 3 % of the window "
            "at every level (between the 2.8 % and 5 % of a 40 uS reading of the Wan et al. "
            "fit), 1 % read noise per cell."
        ),
    ),
}
"""Device presets, by name."""

DEVICE: str = "wan2022"
"""Default device preset (``docs/decisions.md``, 2026-12-02: it reproduces aihwkit's own
Wan2022 model on the digits MLP; ``generic`` at 3 % is optimistic there)."""

PROG_SIGMA: float = DEVICE_PRESETS[DEVICE].prog_sigma
"""Default programming σ of an on-state cell, per cell, fraction of ``g_on - g_off``: the
default preset's (``wan2022``: 1.103 µS / 25 µS = 0.0441)."""

READ_SIGMA: float = DEVICE_PRESETS[DEVICE].read_sigma
"""Default read noise σ per cell and read, fraction of ``g_on - g_off``: the default
preset's (``wan2022``: 0.01 / sqrt(2) = 0.00707 per cell, 1 % per weight)."""

SAF_SA0: float = 0.001
"""Stuck-at-0 (stuck at ``g_off``) cell fraction. MNSIM 2.0 ``SimConfig.ini`` default 0.1 %."""

SAF_SA1: float = 0.001
"""Stuck-at-1 (stuck at ``g_on``) cell fraction. MNSIM 2.0 ``SimConfig.ini`` default 0.1 %."""

def wire_r_ohm_for(node_nm: int) -> float:
    r"""Wire resistance per cell segment [Ω] of a 1T1R array at ``node_nm``, one value for
    both wires: the mean of the row segment (``CELL_WIDTH_F`` = 12F) and the column segment
    (``CELL_HEIGHT_F`` = 4F) of the cost model's cell, each from
    :func:`simulator.cost.technology.segment_resistance_ohm` (NeuroSim V1.4's minimum wire,
    barrier-corrected resistivity). The IR-drop solvers take one resistance per segment; on a
    square array with uniform conductances the first-order drop is
    ``r_row·S_U + r_col·S_W`` with ``S_U ≈ S_W``, so the mean gives the same first-order drop.
    22 nm: (3.063 + 1.021) / 2 = 2.042 Ω.

    Raises:
        ValueError: If ``node_nm`` has no technology table.
    """
    from simulator.cost.technology import CELL_HEIGHT_F, CELL_WIDTH_F, segment_resistance_ohm

    return 0.5 * (segment_resistance_ohm(node_nm, CELL_WIDTH_F)
                  + segment_resistance_ohm(node_nm, CELL_HEIGHT_F))


TECH_NODE_NM: int = 22
"""CMOS technology node [nm]. NeuroSim V1.4 ``Param.cpp``: ``technode = 22``."""

CLOCK_GHZ: float = 1.0
"""Periphery clock [GHz]. NeuroSim V1.4 ``Param.cpp``: ``clkFreq = 1e9``."""

ENCODING: str = "differential"
"""Signed-weight encoding. A differential column pair per weight slice cancels the ``g_off``
background (as in the chip of [Wan2022]_); NeuroSim's inference wrapper instead stores
offset weights and subtracts one dummy (reference) column per array ("offset")."""

READ_VOLTAGE_V: float = 0.55
"""Word-line read voltage [V]. NeuroSim V1.4 ``Param.cpp``: ``readVoltage = 0.55`` at 22 nm."""

WIRE_R_OHM: float = wire_r_ohm_for(TECH_NODE_NM)
"""Default wire resistance per cell segment [Ω]: :func:`wire_r_ohm_for` at the default node
(2.042 Ω at 22 nm; it was 0.93 Ω, a 2F crossbar pitch, before issue 12)."""
