"""Suggestions of model-free studies asked ahead of their free slots.

A model-free method's trial ``i`` depends only on the study seed and ``i`` (and, in a finite
space, on the points of trials ``0..i-1``: ``services.trials``), never on results, so the
driver can ask for the next trials before slots free up. The answers wait here, in memory, as
the suggestions for trial numbers ``start, start + 1, ...``; when slots free up the driver
turns as many as fit into queued trials at once (``trials.add_suggestions``, which reserves
the same numbers), so a step fills every slot that freed instead of waiting for a suggest
call to come back. At most ``parallelism`` suggestions wait per study.

Nothing here needs to survive the driver: a restarted driver asks again and gets the same
suggestions. A buffer whose ``start`` is not the study's ``next_number`` any more (trials
were added by someone else) is dropped, never inserted under the wrong numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.models import Study, utcnow
from app.services import trials


def budget_exhausted(study: Study) -> bool:
    """Whether the study may ask for no further trial: ``max_trials`` handed out, or
    ``max_cost_s`` spent, or ``max_wall_s`` passed since it started."""
    if study.max_trials is not None and study.next_number >= study.max_trials:
        return True
    if study.max_cost_s is not None and study.total_cost_s >= study.max_cost_s:
        return True
    if study.max_wall_s is not None and study.started_at is not None:
        return _elapsed_s(study) >= study.max_wall_s
    return False


def _elapsed_s(study: Study) -> float:
    """Wall time since the study started [s]; 0 before it starts."""
    return 0.0 if study.started_at is None else (utcnow() - study.started_at).total_seconds()


def budget_per_trial_s(study: Study) -> float | None:
    """Seconds of the study's time budget per trial it has still to hand out
    (``optimizer.suggest``'s ``budget_per_trial_s``), or ``None`` without a trial budget or
    without a time budget.

    The time left is the smaller of ``parallelism x`` the wall time left (``parallelism``
    trials run at once) and the evaluation cost left; divided by ``max_trials`` minus the
    trials handed out. Below this, a shorter evaluation saves nothing: the trials run out first.
    """
    if study.max_trials is None or (study.max_wall_s is None and study.max_cost_s is None):
        return None
    left: list[float] = []
    if study.max_wall_s is not None:
        left.append(study.parallelism * max(study.max_wall_s - _elapsed_s(study), 0.0))
    if study.max_cost_s is not None:
        left.append(max(study.max_cost_s - study.total_cost_s, 0.0))
    return min(left) / max(study.max_trials - study.next_number, 1)


@dataclass
class _Buffer:
    start: int
    """Trial number of ``items[0]``."""
    items: list[dict[str, Any]] = field(default_factory=list)


class AheadBuffers:
    """Per study, the suggestions asked ahead and not yet inserted as trials."""

    def __init__(self) -> None:
        self._bufs: dict[int, _Buffer] = {}

    def _current(self, study: Study) -> _Buffer | None:
        """The study's buffer if it continues from ``study.next_number`` (else dropped)."""
        buf = self._bufs.get(study.id)
        if buf is not None and buf.start != study.next_number:
            del self._bufs[study.id]
            return None
        return buf

    def n_buffered(self, study: Study) -> int:
        buf = self._current(study)
        return len(buf.items) if buf is not None else 0

    def want(self, study: Study) -> int:
        """How many suggestions to ask next: up to ``parallelism`` waiting, never past
        ``max_trials``."""
        have = self.n_buffered(study)
        n = study.parallelism - have
        if study.max_trials is not None:
            n = min(n, study.max_trials - study.next_number - have)
        return max(n, 0)

    def handed_out(self, session: Session, study: Study) -> tuple[int, list[dict[str, Any]] | int]:
        """``(start, handed_out)`` of the next ask: the first trial number it is for, and what
        ``tasks.suggest_numbers`` needs of the trials before it (the stored ones, then the
        buffered ones; a count where the space has no finite cardinality)."""
        buf = self._current(study)
        waiting = buf.items if buf is not None else []
        out = trials.model_free_handed_out(session, study)
        start = study.next_number + len(waiting)
        if isinstance(out, int):
            return start, start
        return start, out + [{"params": w["params"], "fidelity": w["fidelity"]}
                             for w in waiting]

    def add(self, study_id: int, start: int, items: list[dict[str, Any]]) -> None:
        """Keep the answer of an ask for trials ``start, start + 1, ...``; an answer that does
        not continue the buffer (the buffer was dropped meanwhile) replaces it."""
        buf = self._bufs.get(study_id)
        if buf is not None and buf.start + len(buf.items) == start:
            buf.items.extend(items)
        else:
            self._bufs[study_id] = _Buffer(start, list(items))

    def take(self, session: Session, study: Study, free: int) -> int:
        """Insert up to ``free`` buffered suggestions as the study's next queued trials.

        Returns:
            The number of trials added (0 when nothing waits, or the study is no longer
            active: then the buffer is dropped).
        """
        buf = self._current(study)
        if buf is None or free <= 0 or not buf.items:
            return 0
        added = trials.add_suggestions(session, study, buf.items[:free])
        if not added:
            self.forget(study.id)
            return 0
        del buf.items[: len(added)]
        buf.start += len(added)
        return len(added)

    def forget(self, study_id: int) -> None:
        self._bufs.pop(study_id, None)

    def clear(self) -> None:
        self._bufs.clear()
