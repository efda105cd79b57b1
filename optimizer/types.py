"""Plain data that crosses the ``suggest()`` contract.

The optimizer is stateless: the service passes every observation and every pending suggestion on
each call and stores what comes back. These classes are deliberately plain (frozen dataclasses of
builtins) so that they serialize to JSON rows without a mapping layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True, kw_only=True)
class Objective:
    """One objective of a study.

    Attributes:
        name: Key of the objective in ``Observation.values`` (e.g. ``"accuracy"``, ``"area_mm2"``).
        direction: ``"minimize"`` or ``"maximize"``.
        ref_point: Reference value for the hypervolume in the objective's own units and
            direction (a worst acceptable value). ``None`` lets the service derive one from data.
        threshold: Worst acceptable value in the objective's units (e.g. accuracy ``0.5``
            with ``"maximize"``): a design worse than it never enters a Pareto front.
            ``None``: no threshold.
    """

    name: str
    direction: Direction = "minimize"
    ref_point: float | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(
                f"Objective {self.name!r}: direction must be 'minimize' or 'maximize', "
                f"got {self.direction!r}."
            )

    @property
    def sign(self) -> float:
        """+1 for maximize, -1 for minimize: multiply a value by it to get a maximization value."""
        return 1.0 if self.direction == "maximize" else -1.0


@dataclass(frozen=True, kw_only=True)
class Observation:
    """A completed evaluation.

    Attributes:
        params: Parameter values by name, in the search space's own (not unit-cube) units.
        fidelity: Fidelity z in [0, 1] the evaluation ran at; 1 is the full evaluation.
        values: Objective values by objective name, raw (not sign-flipped).
        cost_s: Measured wall time of the evaluation [s].
        variances: Known noise variance of some values, by objective name, in the value's
            units squared (e.g. ``{"accuracy": accuracy_stderr**2}``); ``None`` or a missing
            name: the noise is learned (``optimizer.known_noise``).
        overhead_s: Time spent proposing this evaluation besides running it [s]: its share
            of the wall time of the ``suggest()`` call that proposed it (the service fills it
            in); cost-aware methods add it to every predicted cost
            (``optimizer.surrogates.CostModel``). ``None``: unknown.
    """

    params: dict[str, Any]
    fidelity: float = 1.0
    values: dict[str, float]
    cost_s: float = 1.0
    variances: dict[str, float] | None = None
    overhead_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """A point the optimizer proposes to evaluate next.

    Attributes:
        params: Parameter values by name, in the search space's own units.
        fidelity: Fidelity z in [0, 1] to evaluate at.
        info_gain_per_cost: Predicted information gain per unit cost of this point [nats per
            normalized cost unit], for display; ``None`` for methods that do not compute one.
        extras: Method-specific details worth storing with the trial (JSON-serializable).
    """

    params: dict[str, Any]
    fidelity: float = 1.0
    info_gain_per_cost: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)
