"""Helpers shared by the built-in methods."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from optimizer.context import SuggestContext

INIT_BUDGET_SHARE = 1.0 / 3.0
"""Largest share of the study's evaluation budget a default initial design takes, so that a
short study (e.g. 12 trials) keeps most of its trials for model-based suggestions."""


def budget_capped_init(size: int, max_evaluations: int | None) -> int:
    """A default initial design of ``size`` observations capped at ``max(2, floor(
    INIT_BUDGET_SHARE * max_evaluations))`` when the study has an evaluation budget."""
    if max_evaluations is None:
        return size
    return min(size, max(2, math.floor(INIT_BUDGET_SHARE * max_evaluations)))


def pick_distinct(ctx: SuggestContext, candidates: Iterable[dict[str, Any]], k: int,
                  taken: set[tuple[Any, ...]] | None = None) -> list[dict[str, Any]]:
    """Up to ``k`` candidates, in order, skipping points already observed, pending or picked.

    Skipping happens only in finite (all-discrete) spaces with enough unseen points left; in
    other spaces a repeat is as unlikely as a float collision and candidates pass unchanged.
    """
    avoid = ctx.space.cardinality is not None and ctx.can_avoid_duplicates()
    seen = (ctx.taken_keys() if taken is None else taken) if avoid else set()
    out: list[dict[str, Any]] = []
    for params in candidates:
        if len(out) == k:
            break
        if avoid:
            key = ctx.space.key(params)
            if key in seen:
                continue
            seen.add(key)
        out.append(params)
    return out
