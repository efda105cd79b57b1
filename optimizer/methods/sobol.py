"""``sobol``: a scrambled Sobol sequence that successive calls continue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from optimizer.context import SuggestContext
from optimizer.errors import InfeasibleSpaceError
from optimizer.methods.common import pick_distinct
from optimizer.methods.options import DeclaredOptions
from optimizer.space import SearchSpace
from optimizer.types import Suggestion

_CHUNK = 1024


def feasible_sobol(space: SearchSpace, seed: int, start: int, count: int,
                   max_draws: int = 2**20) -> Tensor:
    """Points ``start .. start + count - 1`` of the study's feasible Sobol sequence.

    The sequence is the scrambled Sobol sequence of ``space.dim`` dimensions seeded with
    ``seed``, each point rounded to a representable point (``space.round_unit``), with points
    violating the linear constraints removed. It depends on ``seed`` only, so every call of a
    study indexes the same sequence.

    Returns:
        A ``count x d`` double tensor.

    Raises:
        InfeasibleSpaceError: if ``max_draws`` draws yield too few feasible points.
    """
    if space.dim == 0:
        return torch.empty(count, 0, dtype=torch.double)
    engine = SobolEngine(space.dim, scramble=True, seed=seed % 2**31)
    if not space.constraints:
        engine.fast_forward(start)
        return space.round_unit(engine.draw(count, dtype=torch.double))
    kept: list[Tensor] = []
    have = drawn = 0
    while have < start + count:
        if drawn >= max_draws:
            raise InfeasibleSpaceError(
                f"constraints: only {have} of {drawn} Sobol points satisfy the linear "
                f"constraints; the feasible region is empty or too small."
            )
        X = space.round_unit(engine.draw(_CHUNK, dtype=torch.double))
        drawn += _CHUNK
        X = X[space.feasible_unit(X)]
        kept.append(X)
        have += X.shape[0]
    return torch.cat(kept)[start:start + count]


@dataclass(frozen=True, kw_only=True)
class SobolSearch(DeclaredOptions):
    """Scrambled Sobol points (``torch.quasirandom.SobolEngine`` seeded with the study seed).

    Each call skips the ``len(observations) + n_pending`` points earlier calls handed out,
    so a study walks one low-discrepancy sequence. Infeasible points (linear constraints) are
    dropped from the sequence; in finite spaces points already observed or pending are
    skipped while unseen ones remain. Always at full fidelity.
    """

    COUNTS_PENDING_ONLY: ClassVar[bool] = True
    """Reads how many points are pending, not which (outside finite spaces)."""

    def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
        start = len(ctx.observations) + ctx.n_pending
        taken = ctx.taken_keys()
        out: list[dict] = []
        count = ctx.n
        while len(out) < ctx.n:
            X = feasible_sobol(ctx.space, ctx.seed, start, count)
            out += pick_distinct(ctx, ctx.space.from_unit_batch(X), ctx.n - len(out), taken)
            start += count
            count = max(count, 64)
            if start > 2**16 + ctx.n:  # finite space exhausted: accept repeats
                X = feasible_sobol(ctx.space, ctx.seed, start, ctx.n - len(out))
                out += ctx.space.from_unit_batch(X)
        return [ctx.suggestion(p) for p in out]
