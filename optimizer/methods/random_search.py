"""``random``: uniform sampling of the search space (a baseline and an initial design)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from optimizer.context import SuggestContext
from optimizer.methods.common import pick_distinct
from optimizer.methods.options import DeclaredOptions
from optimizer.types import Suggestion

_MAX_ROUNDS = 20


@dataclass(frozen=True, kw_only=True)
class RandomSearch(DeclaredOptions):
    """Independent uniform draws, rejected until they satisfy the linear constraints.

    Uniform means uniform in the unit-cube encoding: linear in ``float`` parameters, log-uniform
    in ``log`` ones, equal probability per level otherwise. The generator is seeded from
    ``(seed, #observations, #pending)``, so successive calls of a study draw new points and
    the same call repeats exactly. In finite spaces, already observed or pending points are
    skipped while unseen ones remain. Always at full fidelity.
    """

    COUNTS_PENDING_ONLY: ClassVar[bool] = True
    """Reads how many points are pending, not which (outside finite spaces)."""

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        gen = ctx.generator()
        taken = ctx.taken_keys()
        out: list[dict] = []
        for _ in range(_MAX_ROUNDS):
            cand = ctx.space.sample(max(4 * ctx.n, 16), gen)
            out += pick_distinct(ctx, cand, ctx.n - len(out), taken)
            if len(out) == ctx.n:
                break
        else:  # only reachable in tiny finite spaces: accept repeats
            out += ctx.space.sample(ctx.n - len(out), gen)
        return [ctx.suggestion(p) for p in out]
