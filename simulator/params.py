r"""Default device and circuit parameters, one constant per value, each with its source.

The defaults describe a 22 nm 1T1R HfOx ReRAM macro in the configuration of DNN+NeuroSim
V1.4 [Peng2019]_ (128x128 sub-arrays, 1-bit cells, bit-serial 8-bit inputs, 5-bit SAR ADCs
shared by 8 columns), with the programming/read noise of the Wan et al. ReRAM chip as fitted
in aihwkit [Wan2022]_ [Rasch2023]_ and the stuck-at-fault rates of MNSIM 2.0 [Zhu2023]_.

Conductance noise is expressed as a fraction of the programming window ``g_on - g_off``.

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

__all__ = [
    "ADC_BITS",
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

PROG_SIGMA: float = 0.03
"""Programming variation, std of the programmed conductance as a fraction of ``g_on - g_off``.
The aihwkit fit of [Wan2022]_ (``ReRamWan2022NoiseModel`` at t = 1 s) gives σ ≈ 1.1 µS at
g_max = 40 µS (2.8 %) and ≈ 2.0 µS at g_max/2 (5 %); we use a level-independent 3 %."""

READ_SIGMA: float = 0.01
"""Read (short-term) noise, std per read as a fraction of ``g_on - g_off``. aihwkit's
``ReRamWan2022NoiseModel`` docstring recommends ~1 % short-term read noise
(``forward.w_noise = 0.01``, additive constant)."""

SAF_SA0: float = 0.001
"""Stuck-at-0 (stuck at ``g_off``) cell fraction. MNSIM 2.0 ``SimConfig.ini`` default 0.1 %."""

SAF_SA1: float = 0.001
"""Stuck-at-1 (stuck at ``g_on``) cell fraction. MNSIM 2.0 ``SimConfig.ini`` default 0.1 %."""

WIRE_R_OHM: float = 0.93
"""Wire resistance per cell segment [Ω]. NeuroSim's wire model at 22 nm (40 nm wide copper,
aspect ratio 1.9, barrier-corrected resistivity) over a 2F cell pitch: 0.93 Ω (1.86 Ω over
the 4F side of a 1T1R cell). aihwkit uses 0.15-0.35 Ω."""

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
