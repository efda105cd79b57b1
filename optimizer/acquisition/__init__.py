"""Acquisition functions of the multi-fidelity methods.

- ``max_values``: samples of each objective's maximum at the target fidelity (from pathwise
  posterior samples) and the sampled Pareto fronts they come from.
- ``cf_mesmo``: ``CFMESMO``, the cost-aware, continuous-fidelity output-space entropy search.
- ``fidelity_filter``: ``BOCAFilter``, which zeroes lower fidelities the model is sure about.
"""

from __future__ import annotations

from optimizer.acquisition.cf_mesmo import CFMESMO, mesmo_information_gain
from optimizer.acquisition.fidelity_filter import BOCAFilter
from optimizer.acquisition.max_values import MaxValueSamples, sample_max_values

__all__ = ["CFMESMO", "BOCAFilter", "MaxValueSamples", "mesmo_information_gain",
           "sample_max_values"]
