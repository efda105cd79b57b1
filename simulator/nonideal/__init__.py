r"""Device and circuit non-idealities, one module per effect.

* :mod:`~simulator.nonideal.quantization`: conductance levels (``2**cell_bits``).
* :mod:`~simulator.nonideal.programming`: programming variation, fixed per programmed array.
* :mod:`~simulator.nonideal.stuck_at`: stuck-at-0/1 faults.
* :mod:`~simulator.nonideal.read_noise`: read noise, drawn on every read.
* :mod:`~simulator.nonideal.ir_drop`: wire resistance (column-current solvers).

:func:`device_nonidealities` builds the programming-time and read-time chains of a
:class:`~simulator.config.CrossbarConfig`, in the order they act.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.nonideal.base import BaseNonIdeality
from simulator.nonideal.programming import ProgrammingVariation
from simulator.nonideal.quantization import ConductanceQuantization, level_conductance
from simulator.nonideal.read_noise import ReadNoise
from simulator.nonideal.stuck_at import StuckAtFaults
from simulator.params import DEVICE_PRESETS

if TYPE_CHECKING:
    from simulator.config import CrossbarConfig

__all__ = [
    "BaseNonIdeality",
    "ConductanceQuantization",
    "ProgrammingVariation",
    "ReadNoise",
    "StuckAtFaults",
    "device_nonidealities",
    "level_conductance",
]


def device_nonidealities(config: CrossbarConfig) -> list[BaseNonIdeality]:
    """The effects of ``config`` in the order they act: level quantization, programming
    variation (state dependence from the ``device`` preset), stuck-at faults (override
    programming), read noise (on every read).
    Effects with zero strength are left out."""
    window = config.g_on_us - config.g_off_us
    chain: list[BaseNonIdeality] = [
        ConductanceQuantization(config.levels, config.g_off_us, config.g_on_us),
        ProgrammingVariation(
            config.prog_sigma * window,
            shape=DEVICE_PRESETS[config.device].prog_shape,
            g_off_us=config.g_off_us,
            window_us=window,
        ),
        StuckAtFaults(config.saf_sa0, config.saf_sa1, config.g_off_us, config.g_on_us),
        ReadNoise(config.read_sigma * window),
    ]
    return [effect for effect in chain if effect.active]
