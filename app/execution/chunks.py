"""Evaluations sent to Dask several per task, and the outcomes they come back as.

Dask's own cost per task (scheduler, worker and client: a few ms of CPU) dominates an
evaluation that takes a millisecond, so once a study's evaluations are known to be that fast
the driver sends several in one ``tasks.evaluate_chunk`` task (:func:`chunk_size`). Each trial
of a chunk keeps its own lease token and is recorded, failed or re-queued on its own; a chunk
lost as a whole (worker killed, timeout) costs each of its trials the attempt, as separate
tasks would have.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from distributed import Future
from sqlalchemy.orm import Session

from app.execution.engine import DaskEngine
from app.execution.tasks import evaluate_chunk
from app.services import leases, lifecycle

RETRYABLE = ("KilledWorker", "CancelledError", "CommClosedError", "FutureCancelledError")
"""Exceptions that cost an attempt but are retried (the infrastructure's, not the trial's)."""

CHUNK_TARGET_S = 0.05
"""Evaluations whose measured time is far below this [s] go to Dask several per task, about
this long in all (:func:`chunk_size`): Dask's own cost per task is a few ms."""
MAX_CHUNK = 32
"""Most evaluations in one Dask task."""
PACE_WEIGHT = 0.3
"""Weight of the newest step's mean evaluation time in a study's running estimate."""


def chunk_size(pace_s: float | None, n: int, threads: int) -> int:
    """Evaluations per Dask task when ``n`` are submitted at once to ``threads`` worker
    threads, for evaluations taking about ``pace_s`` seconds (``None``: not known yet, one
    per task). A chunk runs about ``CHUNK_TARGET_S`` at most, and there are at least as many
    chunks as threads (while there are trials for them), so chunking never idles a worker
    that one-per-task would have kept busy for longer than that."""
    if pace_s is None or n <= 1:
        return 1
    k = min(MAX_CHUNK, int(CHUNK_TARGET_S / max(pace_s, 1e-6)), -(-n // max(1, threads)))
    return max(1, k)


@dataclass
class InFlight:
    study_id: int
    token: str
    future: Future
    index: int | None = None
    """Position of the trial's outcome in the result of a chunk (``evaluate_chunk``);
    ``None``: the future is this trial's alone (``evaluate_task``)."""
    submitted: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` at submission [s], for ``Settings.trial_timeout_s``."""


@dataclass
class Suggesting:
    future: Future
    n: int
    start: int | None = None
    """First trial number asked of a model-free method (its answer goes to ``AheadBuffers``);
    ``None``: a model-based call, inserted as trials on arrival."""
    submitted: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` at submission [s], for ``Settings.suggest_timeout_s``."""


def pace(old: float | None, outcomes: list[dict[str, Any]]) -> float | None:
    """A study's running estimate of its evaluation time [s] after ``outcomes`` (successful
    evaluations, with their measured ``elapsed_s``); ``old``: the estimate before."""
    elapsed = [o["elapsed_s"] for o in outcomes if "elapsed_s" in o]
    if not elapsed:
        return old
    mean = sum(elapsed) / len(elapsed)
    return mean if old is None else (1 - PACE_WEIGHT) * old + PACE_WEIGHT * mean


def sort_outcomes(finished: list[tuple[int, Any, Future, int | None]], results: dict[int, Any]
                  ) -> tuple[list[tuple[int, Any, dict[str, Any]]],
                             list[tuple[int, Any, dict[str, Any] | None]]]:
    """``(trial id, in-flight record, future, index in its chunk or None)`` of finished
    futures, and ``results`` (gathered result by ``id()`` of each future that finished), as
    ``(ok, failed)``: ``(trial id, record, outcome)``; a failed outcome is the chunk's error
    report, or ``None`` when the future itself did not finish (error, cancelled)."""
    ok, failed = [], []
    for trial_id, rec, fut, index in finished:
        if id(fut) not in results:
            failed.append((trial_id, rec, None))
            continue
        out = results[id(fut)] if index is None else results[id(fut)][index]
        (failed if "error" in out else ok).append((trial_id, rec, out))
    return ok, failed


def record_failure(s: Session, trial_id: int, token: str, fut: Future,
                   out: dict[str, Any] | None, max_attempts: int) -> int:
    """Record one evaluation that did not succeed in session ``s``: its future did not finish
    (error: an attempt spent; cancelled by Dask, connection lost: re-queued unspent), or,
    ``out``, its chunk reported the evaluation's exception.

    Returns:
        1 when the trial was re-queued as interrupted, else 0.
    """
    if out is not None:
        name, reason = out["error"], f"{out['error']}: {out.get('message', '')}"
    elif fut.status != "error":  # cancelled by Dask (connection lost), not by us
        return int(lifecycle.requeue_unspent(s, trial_id, token, leases.INTERRUPTED_REASON))
    else:
        exc = fut.exception()
        name = type(exc).__name__
        reason = f"{name}: {exc}"
    lifecycle.fail_attempt(s, trial_id, token, reason[:2000], retryable=name in RETRYABLE,
                           max_attempts=max_attempts)
    return 0


def submit(engine: DaskEngine, one: Any, evaluator: dict[str, Any], content: tuple[Any, ...],
           won: list[tuple[Any, str]], pace_s: float | None
           ) -> list[tuple[int, str, Future, int | None]]:
    """Send the claimed trials ``won`` (``(trial, token)``) of one study to Dask in one
    message: ``one`` (``tasks.evaluate_task``) per trial, or several per ``evaluate_chunk``
    task when ``pace_s`` says they are fast; ``content``: the file workload's scattered bytes.

    Returns:
        Per trial ``(trial id, token, future, index in its chunk or None)``.
    """
    if not won:
        return []
    k = chunk_size(pace_s, len(won), engine.n_threads())
    if k == 1:
        futures = engine.submit_many(one, [
            (evaluator, t.params, t.fidelity, t.seed, *content) for t, _ in won])
        return [(t.id, token, f, None) for (t, token), f in zip(won, futures, strict=True)]
    n_chunks = -(-len(won) // k)  # as even as possible: ceil(len / k) chunks
    parts = [won[i::n_chunks] for i in range(n_chunks)]
    futures = engine.submit_many(evaluate_chunk, [
        (evaluator, [(t.params, t.fidelity, t.seed) for t, _ in part], *content)
        for part in parts])
    return [(t.id, token, f, index) for part, f in zip(parts, futures, strict=True)
            for index, (t, token) in enumerate(part)]
