"""Exceptions raised by the simulator.

Every error a user can cause with bad input is a :class:`ValueError` subclass whose message
names the offending field, layer or workload, so callers (the service maps them to HTTP 422)
can catch ``ValueError`` alone.
"""

from __future__ import annotations

__all__ = ["ConfigError", "MappingError", "SimulatorError", "WorkloadError"]


class SimulatorError(Exception):
    """Base class of the simulator's own errors."""


class ConfigError(SimulatorError, ValueError):
    """A :class:`~simulator.config.CrossbarConfig` field (or fidelity, seed) is invalid."""


class MappingError(SimulatorError, ValueError):
    """A layer of a model cannot be mapped onto crossbar tiles."""


class WorkloadError(SimulatorError, ValueError):
    """A workload is unknown, misconfigured, or its data cannot be found."""
