"""What every problem family hands to :func:`app.problems.resolve`, and the 422 entry format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optimizer.types import Objective


@dataclass(frozen=True)
class ProblemSpec:
    """One problem family's part of a resolved study (before the shared checks)."""

    search_space: dict[str, Any] | None
    """The optimizer's JSON space spec (``params``, ``fidelity_range``...), ``None`` when the
    problem could not be built (its errors are already listed)."""
    objectives: list[Objective] = field(default_factory=list)
    """The problem's objectives with their default directions and reference points."""
    evaluator: dict[str, Any] = field(default_factory=dict)
    """Plain-JSON evaluator spec stored with the study (``kind`` picks the worker code in
    :mod:`app.execution.evaluators`)."""


def field_error(loc: list[str | int], msg: str) -> dict[str, Any]:
    """One entry of a 422 ``errors`` list for the request-body field at ``loc``."""
    return {"loc": ["body", *loc], "msg": msg, "type": "value_error"}
