"""``SuggestContext``: everything one ``suggest()`` call hands its method.

It lives apart from ``optimizer.suggest`` so that the methods (``optimizer.methods``) and the
entry point that dispatches to them do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from optimizer.space import SearchSpace
from optimizer.types import Objective, Observation, Suggestion


@dataclass(frozen=True, kw_only=True)
class SuggestContext:
    """Everything one ``suggest()`` call knows; methods read it, never mutate it.

    Attributes:
        space: The search space.
        objectives: Objectives, in the order of the ``m`` columns of every objective tensor.
        observations: Completed evaluations, params in canonical form.
        pending: Points suggested earlier and not completed yet, params in canonical form.
        n: Number of suggestions to return, ``>= 1``.
        seed: The caller's seed.
        method: The method name the call asked for.
        options: The method options as passed (already consumed by the factory).
        max_evaluations: The study's evaluation budget (trials in all: completed, pending and
            still to come), or ``None`` when the study has none; methods size their initial
            design by it.
        n_unlisted_pending: Pending points counted but not listed in ``pending``: a caller of
            a method that reads only how many points are pending (``COUNTS_PENDING_ONLY``)
            over a space without finite cardinality passes the count instead of the rows, so
            a call costs the same at trial 100k as at trial 1.
        budget_per_trial_s: Seconds of the study's time budget (wall time times parallelism,
            or evaluation cost) per trial of its trial budget still to hand out, or ``None``
            when the study lacks either budget. An evaluation shorter than this still uses up
            a trial, so the cost-aware methods price none below it
            (``optimizer.surrogates.CostModel`` ``floor_s``).
    """

    space: SearchSpace
    objectives: list[Objective]
    observations: list[Observation]
    pending: list[Suggestion]
    n: int
    seed: int
    method: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    max_evaluations: int | None = None
    n_unlisted_pending: int = 0
    budget_per_trial_s: float | None = None

    @property
    def n_pending(self) -> int:
        """Pending points, listed or only counted."""
        return len(self.pending) + self.n_unlisted_pending

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def target_fidelity(self) -> float:
        """Fidelity of a full evaluation (upper end of the range, or 1.0)."""
        return self.space.target_fidelity

    def is_full_fidelity(self, fidelity: float) -> bool:
        """``space.is_target(fidelity)``."""
        return self.space.is_target(fidelity)

    @property
    def full_fidelity_observations(self) -> list[Observation]:
        return [o for o in self.observations if self.is_full_fidelity(o.fidelity)]

    def rng_seed(self, *salt: int) -> int:
        """A 63-bit seed derived from ``(seed, #observations, n_pending, *salt)``."""
        entropy = [self.seed % 2**63, len(self.observations), self.n_pending,
                   *(int(s) % 2**63 for s in salt)]
        return int(np.random.SeedSequence(entropy).generate_state(2, np.uint64)[0] >> 1)

    def generator(self, *salt: int) -> torch.Generator:
        """A CPU ``torch.Generator`` seeded with ``rng_seed(*salt)``."""
        return torch.Generator().manual_seed(self.rng_seed(*salt))

    def taken_keys(self) -> set[tuple[Any, ...]]:
        """Keys (``space.key``) of every observed or pending point."""
        return {self.space.key(o.params) for o in self.observations} | {
            self.space.key(p.params) for p in self.pending
        }

    def can_avoid_duplicates(self, extra: int = 0) -> bool:
        """Whether enough unseen points remain to suggest ``n + extra`` new ones."""
        card = self.space.cardinality
        if card is None:
            return True
        return card >= len(self.taken_keys()) + self.n + extra

    def suggestion(self, params: dict[str, Any], **kw: Any) -> Suggestion:
        """A full-fidelity suggestion for a single-fidelity method."""
        return Suggestion(params=params, fidelity=self.target_fidelity, **kw)


__all__ = ["SuggestContext"]
