r"""The accuracy estimators by the name :attr:`simulator.evaluate.FidelityPlan.estimator`
gives them.

A new estimator is a function with the :data:`~simulator.estimators.base.Estimator`
signature, added here under its name and returned by :func:`simulator.evaluate.fidelity_plan`
for the fidelities it serves.
"""

from __future__ import annotations

from simulator.estimators.analytic import analytic_estimate
from simulator.estimators.base import Estimator
from simulator.estimators.montecarlo import column_sum_estimate, monte_carlo_estimate

__all__ = ["ESTIMATORS"]

ESTIMATORS: dict[str, Estimator] = {
    "montecarlo": monte_carlo_estimate,
    "montecarlo_column_sum": column_sum_estimate,
    "moments": analytic_estimate,
}
"""Accuracy estimators by name: Monte-Carlo chips (every slice column digitized, or the
slice-summed current: :mod:`simulator.readout`), or analytic moment propagation."""
