r"""Amplification/power trade-off: how many reads (or how much read power) each layer gets,
solved in closed form from the KKT conditions.

Formulation. Layer ``l``'s per-read noise (read noise and ADC quantization) adds ``u_l`` to
the network's output variance at unit amplification (measured with the moment model,
:func:`read_noise_contributions`). Amplifying the layer by ``a_l`` (averaging ``a_l`` repeated
reads, or raising the read signal power ``a_l``-fold against a fixed noise floor) divides that
contribution by ``a_l`` and multiplies the layer's read energy ``c_l`` by ``a_l``:

.. math::
    \min_a \sum_l u_l / a_l \quad \text{s.t.} \quad \sum_l c_l a_l \le P, \quad a_l \ge a_{min}.

The objective is convex for ``a > 0``. The KKT conditions give, on the layers whose lower
bound is not active, ``u_l / a_l² = λ c_l``, so ``a_l = \sqrt{u_l / (λ c_l)}`` and, with the
budget active, ``a_l = P_free \sqrt{u_l / c_l} / \sum_m \sqrt{u_m c_m}``; layers that would fall
below ``a_min`` are pinned there and the rest re-solved (:func:`allocate_amplification`). The
optimum noise is ``(\sum_l \sqrt{u_l c_l})² / P`` when no bound binds, against
``(\sum_l u_l)(\sum_l c_l) / P`` for a uniform ``a``; equality holds only when ``u_l / c_l`` is the
same for every layer (Cauchy-Schwarz).

This module is an optional knob for studies (not wired into ``evaluate``).

References:
    .. [Dupraz2023] E. Dupraz, L. R. Varshney, F. Leduc-Primeau, "Power-efficient deep neural
       networks with noisy memristor implementation", arXiv:2301.08780.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from simulator.estimators.moments import LayerNoise, propagate_moments

__all__ = ["Allocation", "allocate_amplification", "read_noise_contributions"]


@dataclass(frozen=True, kw_only=True)
class Allocation:
    """Result of :func:`allocate_amplification`."""

    amplification: dict[str, float]
    """``a_l`` per layer (>= ``a_min``)."""
    noise: float
    """Objective ``Σ u_l / a_l`` at the optimum [output units²]."""
    uniform_noise: float
    """Objective with the same budget spread uniformly (``a_l = P / Σ c``)."""
    multiplier: float
    """KKT multiplier ``λ`` of the budget."""


def read_noise_contributions(
    model: nn.Module, x: Tensor, noise: dict[str, LayerNoise], *, mode: str = "diag"
) -> dict[str, float]:
    r"""``u_l``: mean output (logit) variance caused by layer ``l``'s per-read noise alone.

    Args:
        model: As in :func:`~simulator.estimators.moments.propagate_moments`.
        x: A `batch x *in_shape`-dim Tensor of inputs.
        noise: Referred noise per layer; only ``read_std``/``read_factor``/``output_var`` count.
        mode: Covariance mode.

    Returns:
        ``u_l`` per layer [output units²], mean over samples and logits.
    """
    out = {}
    for name, n in noise.items():
        only = {
            name: LayerNoise(
                read_std=n.read_std, read_factor=n.read_factor, output_var=n.output_var
            )
        }
        trace = propagate_moments(model, x, only, mode=mode)
        out[name] = float(trace.logit_cov.diagonal(dim1=-2, dim2=-1).mean())
    return out


def allocate_amplification(
    contribution: dict[str, float],
    cost: dict[str, float],
    budget: float,
    *,
    a_min: float = 1.0,
) -> Allocation:
    r"""Minimize ``Σ u_l / a_l`` subject to ``Σ c_l a_l <= budget``, ``a_l >= a_min``.

    Args:
        contribution: ``u_l`` per layer, >= 0.
        cost: ``c_l`` per layer (read energy at unit amplification), > 0, same keys.
        budget: ``P``, >= ``a_min · Σ c_l`` (same unit as ``cost``).
        a_min: Lower bound of every ``a_l``, > 0.

    Returns:
        An :class:`Allocation`.

    Raises:
        ValueError: On mismatched keys, a non-positive cost, or an infeasible budget.
    """
    if set(contribution) != set(cost):
        raise ValueError("contribution and cost must have the same layers.")
    if any(c <= 0 for c in cost.values()) or any(u < 0 for u in contribution.values()):
        raise ValueError("cost must be > 0 and contribution >= 0 for every layer.")
    if not a_min > 0:
        raise ValueError(f"a_min must be > 0, got {a_min!r}.")
    total_cost = sum(cost.values())
    if budget < a_min * total_cost:
        raise ValueError(
            f"budget={budget!r} is below the minimum a_min·Σc = {a_min * total_cost!r}."
        )
    pinned: set[str] = set()
    while True:
        free = [n for n in cost if n not in pinned]
        p_free = budget - a_min * sum(cost[n] for n in pinned)
        norm = sum(math.sqrt(contribution[n] * cost[n]) for n in free)
        if norm == 0:
            alloc = dict.fromkeys(pinned, a_min) | {
                n: p_free / sum(cost[m] for m in free) for n in free
            }
            lam = 0.0
            break
        alloc = dict.fromkeys(pinned, a_min)
        alloc |= {n: p_free * math.sqrt(contribution[n] / cost[n]) / norm for n in free}
        low = [n for n in free if alloc[n] < a_min]
        if not low:
            lam = (norm / p_free) ** 2
            break
        pinned.update(low)
    uniform = budget / total_cost
    return Allocation(
        amplification=alloc,
        noise=sum(contribution[n] / alloc[n] for n in cost),
        uniform_noise=sum(contribution[n] / uniform for n in cost),
        multiplier=lam,
    )
