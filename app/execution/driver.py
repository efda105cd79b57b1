"""The study driver: keeps up to ``parallelism`` trials in flight per study.

Each loop it (1) re-queues trials whose lease expired, (2) takes or renews the ownership lease
of active studies (these two at most every ``HOUSEKEEPING_S``, four times per lease), and for
each study it owns (3) starts it, (4) records finished evaluations, (5) stops it at its budget,
(6) submits queued trials and (7) asks the optimizer, on the engine, for new suggestions when a
slot is free. In-flight work is tracked in memory only as a cache of futures: everything needed
to resume lives in the database, so a restarted driver re-queues what it finds and carries on.
The loop steps again as soon as something it submitted finished (``wait_for_work``), and at
least every poll period.

Wall-time bounds: an evaluation running longer than ``Settings.trial_timeout_s`` is abandoned
and its trial re-queued (an attempt spent); a suggest call running longer than
``Settings.suggest_timeout_s`` is abandoned and asked again, and the study fails after
``SUGGEST_TRIES`` abandoned or lost calls in a row. Dask cannot interrupt a running Python
function: an abandoned task keeps its worker thread busy until it returns, and its result is
dropped.

Outages: when the engine reports the Dask scheduler lost (``DaskEngine.check``) every
in-flight evaluation is re-queued at once without spending an attempt (the outage is not the
evaluation's fault) and nothing is submitted until it is back; a future Dask cancelled (its
connection dropped) is treated the same way. A failing step (database unreachable) is retried
with exponential backoff up to ``STEP_BACKOFF_MAX_S``. Each change of state is logged once.
A driver taking over a study from a driver whose ownership lease expired re-queues the old
owner's running trials at once (``leases.requeue_orphans``), without waiting for their lease.

Model-free methods (``trials.MODEL_FREE_METHODS``) are suggested number by number
(``tasks.suggest_numbers``), so their trials do not depend on timing; see
``services.trials``. They are asked ahead of free slots (``execution.ahead``): a step fills
every slot that freed from suggestions already there, while the next ones are computed. The
evaluations a step submits go to Dask in one message (``DaskEngine.submit_many``), several
per task once they are known to be fast (``execution.chunks``). A
model-based study's last ``confirm_top_k`` trials are confirmation trials (``confirm``): a
batch stops short of them, and they are asked of ``confirm_task``.

The driver handles futures; rows are read and written by ``app.services``: ``leases`` (study
ownership, trial claims, heartbeats, the reaper), ``trials`` (the queue, history, new trials)
and ``lifecycle`` (every state change).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from distributed import Future
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import XbarError
from app.execution import chunks, confirm
from app.execution.ahead import AheadBuffers, budget_exhausted, budget_per_trial_s
from app.execution.chunks import MAX_CHUNK, RETRYABLE, InFlight, Suggesting, chunk_size
from app.execution.content import ContentUnavailable, StudyContent
from app.execution.engine import DaskEngine
from app.execution.tasks import evaluate_task, suggest_numbers, suggest_task
from app.models import STUDY_ACTIVE, Study, StudyState, utcnow
from app.services import leases, lifecycle, trials

log = logging.getLogger(__name__)
__all__ = ["MAX_CHUNK", "StudyDriver", "chunk_size"]

MAX_FAILED_DEFAULT = 10
"""A study fails once this many of its trials failed for good (unless its budget sets more)."""

SUGGEST_TRIES = 3
"""A study fails after this many suggest calls in a row timed out or were lost."""

STEP_BACKOFF_MAX_S = 5.0
"""Longest wait between two failing driver steps [s] (the wait doubles from the poll period)."""

HOUSEKEEPING_S = 1.0
"""Longest interval between two reaper passes (``leases.requeue_expired``), and between two
renewals of the study ownership lease, which also picks up new studies [s]; shorter when a
quarter of the lease is shorter. Other steps only drive the studies already owned."""


class StudyDriver:
    """Owns studies through a lease row and drives them on a :class:`DaskEngine`."""

    def __init__(self, db: Database, engine: DaskEngine, settings: Settings) -> None:
        self.db = db
        self.engine = engine
        self.settings = settings
        self.driver_id = f"driver-{uuid.uuid4().hex[:12]}"
        self._trials: dict[int, InFlight] = {}
        self._suggest: dict[int, Suggesting] = {}
        self._suggest_lost: dict[int, int] = {}
        """Study id -> suggest calls in a row that timed out or were lost."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Set when a submitted evaluation or suggest call finishes (or on stop)."""
        self._thread: threading.Thread | None = None
        self._last_renew = utcnow()
        self._owned: set[int] = set()
        """Studies owned after the last step (to spot the ones taken over)."""
        self._generation = engine.generation
        """``engine.generation`` the in-flight futures were submitted under."""
        self.errors = 0
        self.interrupted = 0
        """Evaluations re-queued, attempt unspent, because the scheduler connection was lost."""
        self._content = StudyContent(engine, settings)
        """Scattered bytes of file workloads (uploads, operator workloads), per study."""
        self._ahead = AheadBuffers()
        """Model-free suggestions asked ahead of free slots, per study."""
        self._pace: dict[int, float] = {}
        """Study id -> running mean of its evaluations' measured time [s] (chunk sizes)."""
        self._next_reap = 0.0
        self._next_acquire = 0.0
        """``time.monotonic()`` of the next reaper pass and ownership renewal (each at most
        every ``HOUSEKEEPING_S``, and four times per lease)."""

    # -- thread -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.driver_id, daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop the loop. ``release=True`` hands owned studies and in-flight trials back at once
        (clean shutdown); ``False`` leaves them to lease expiry, as a crash would."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if release:
            self._release()

    def _run(self) -> None:
        failing: str | None = None  # the error of the last step, logged once per change
        wait = self.settings.poll_interval_s
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as e:  # the loop must survive a bad study or a database outage
                self.errors += 1
                if failing != type(e).__name__:
                    failing = type(e).__name__
                    log.exception("driver step failed; retrying with backoff")
                wait = min(2 * wait, max(STEP_BACKOFF_MAX_S, self.settings.poll_interval_s))
            else:
                if failing is not None:
                    log.warning("driver step succeeded again after %s", failing)
                    failing = None
                wait = self.settings.poll_interval_s
                self.wait_for_work(wait)
                continue
            self._stop.wait(wait)  # backing off: finished evaluations do not cut it short

    def wait_for_work(self, timeout_s: float) -> None:
        """Wait until a submitted evaluation or suggest call finishes, the driver stops, or
        ``timeout_s`` passes; a completion during a step makes the next wait return at once."""
        self._wake.wait(timeout_s)
        self._wake.clear()

    def _watch(self, futures: list[Future]) -> None:
        for fut in futures:  # the callback runs in a Dask callback thread
            fut.add_done_callback(lambda _: self._wake.set())

    # -- one loop ---------------------------------------------------------------------------
    def step(self) -> None:
        up = self.engine.check()
        if self.engine.generation != self._generation:
            self._interrupt_all()
        now, tick = utcnow(), time.monotonic()
        if tick >= self._next_reap:  # a trial lease lasts `lease_s`: no need to look each step
            self._next_reap = tick + min(HOUSEKEEPING_S, self.settings.lease_s / 4)
            with self.db.session() as s:
                leases.requeue_expired(s, now, self.settings.max_attempts)
        if not up:  # nothing can run: let the ownership lapse for a driver that can
            self._owned.clear()
            self._next_acquire = 0.0
            return
        if tick >= self._next_acquire or not self._owned:
            self._next_acquire = tick + min(HOUSEKEEPING_S, self.settings.driver_lease_s / 4)
            owned = self._acquire(now)
        else:  # between renewals: the studies owned, each re-checked by `_step_study`
            owned = sorted(self._owned)
        for study_id in owned:
            try:
                self._step_study(study_id)
            except XbarError:
                log.exception("study %s step failed", study_id)
        if (utcnow() - self._last_renew).total_seconds() > self.settings.lease_s / 4:
            self._renew()

    def _acquire(self, now: datetime) -> list[int]:
        with self.db.session() as s:
            owned = leases.claim_studies(s, self.driver_id, now, self.settings.driver_lease_s)
            new = [i for i in owned if i not in self._owned]
            if new and (n := leases.requeue_orphans(s, self.driver_id, new)):
                log.warning("re-queued %d trials of studies %s left running by a lost driver",
                            n, new)
        for gone in self._owned - set(owned):  # cancelled, deleted or taken over
            self._forget(gone)
        self._owned = set(owned)
        return owned

    def _interrupt_all(self) -> None:
        """The scheduler connection was lost: every in-flight future is gone. Re-queue their
        trials without spending an attempt and forget the suggest calls (not counted as
        lost: the optimizer did not fail)."""
        self._generation = self.engine.generation
        if not self._trials and not self._suggest:
            return
        with self.db.session() as s:
            n = sum(lifecycle.requeue_unspent(s, tid, f.token, leases.INTERRUPTED_REASON)
                    for tid, f in self._trials.items())
        self.interrupted += n
        log.warning("re-queued %d interrupted evaluations, dropped %d suggest calls", n,
                    len(self._suggest))
        self._trials.clear()
        self._suggest.clear()

    def _renew(self) -> None:
        self._last_renew = utcnow()
        tokens = {tid: f.token for tid, f in self._trials.items() if not f.future.done()}
        if tokens:
            with self.db.session() as s:
                leases.renew_leases(s, tokens, self.settings.lease_s)

    def _release(self) -> None:
        with self.db.session() as s:
            for trial_id, f in list(self._trials.items()):
                lifecycle.fail_attempt(s, trial_id, f.token, "driver shut down",
                                       retryable=True, max_attempts=self.settings.max_attempts)
            leases.release_studies(s, self.driver_id)
        for f in self._trials.values():
            f.future.cancel()
        self._trials.clear()
        self._suggest.clear()
        self._ahead.clear()

    # -- per study --------------------------------------------------------------------------
    def _step_study(self, study_id: int) -> None:
        self._collect(study_id)
        with self.db.session() as s:
            study = s.get(Study, study_id)
            if study is None or study.state not in STUDY_ACTIVE \
                    or study.driver_id != self.driver_id:  # final, deleted or taken over
                self._forget(study_id)
                self._owned.discard(study_id)
                return
            if study.state == StudyState.CREATED:
                lifecycle.transition_study(s, study, StudyState.RUNNING)
            if study.state == StudyState.PAUSED:
                return
            open_n = trials.count_open(s, study_id)
            max_failed = max(MAX_FAILED_DEFAULT, (study.max_trials or 0) // 2)
            if study.n_failed >= max_failed:
                lifecycle.transition_study(
                    s, study, StudyState.FAILED,
                    error=f"{study.n_failed} trials failed (limit {max_failed}); first error: "
                          f"{lifecycle.first_error(s, study_id)}"[:2000],
                )
                self._forget(study_id)
                return
            exhausted = budget_exhausted(study)
            if exhausted and open_n == 0 and study_id not in self._suggest:
                lifecycle.finish_study(s, study)
                self._forget(study_id)
                return
            evaluator = study.definition["evaluator"]
            try:  # a file workload's bytes: read here, scattered once per study
                content = self._content.args(s, study_id, evaluator)
            except ContentUnavailable as e:
                lifecycle.transition_study(s, study, StudyState.FAILED, error=str(e)[:2000])
                self._forget(study_id)
                return
            free = study.parallelism - open_n
            model_free = trials.is_model_free(study)
            if model_free and not exhausted:  # fill the free slots from what was asked ahead
                free -= self._ahead.take(s, study, free)
            mine = [tid for tid, f in self._trials.items() if f.study_id == study_id]
            won = leases.claim_queued(s, study_id, self.driver_id, self.settings.lease_s, mine)
            self._submit_evaluations(study_id, evaluator, content, won)
            if exhausted or study_id in self._suggest:
                return
            if model_free:  # asked ahead: up to `parallelism` wait for the next free slots
                n = self._ahead.want(study)
            else:
                n = free
                if study.max_trials is not None:
                    n = confirm.batch_size(study, min(n, study.max_trials - study.next_number))
            if n > 0:
                self._submit_suggest(s, study, n)

    def _submit_evaluations(self, study_id: int, evaluator: dict[str, Any],
                            content: tuple[Any, ...], won: list[tuple[Any, str]]) -> None:
        """Send the claimed trials ``won`` to Dask in one message (``chunks.submit``)."""
        sent = chunks.submit(self.engine, evaluate_task, evaluator, content, won,
                             self._pace.get(study_id))
        for trial_id, token, fut, index in sent:
            self._trials[trial_id] = InFlight(study_id, token, fut, index)
        self._watch(list({id(f): f for _, _, f, _ in sent}.values()))

    def _submit_suggest(self, s: Session, study: Study, n: int) -> None:
        options = study.definition.get("optimizer", {}).get("options", {})
        start = None
        if confirm.in_confirm_phase(study):
            fut = confirm.submit_confirm(self.engine, s, study, n)
        elif trials.is_model_free(study):
            start, handed_out = self._ahead.handed_out(s, study)
            fut = self.engine.submit(
                suggest_numbers, study.search_space, study.objectives, handed_out, n,
                study.method, trials.sequence_seed(study), options,
            )
        else:
            observations, pending = trials.history(s, study.id)
            fut = self.engine.submit(
                suggest_task, study.search_space, study.objectives, observations, pending, n,
                study.method, trials.suggest_seed(study), options, study.max_trials,
                0, budget_per_trial_s(study),  # n_unlisted_pending, budget_per_trial_s
            )
        self._suggest[study.id] = Suggesting(fut, n, start)
        self._watch([fut])

    def _collect(self, study_id: int) -> None:
        """Record finished evaluations and suggestions of one study: their results are
        fetched from Dask in one round trip, and recorded in one transaction."""
        timeout = self.settings.trial_timeout_s
        finished: list[tuple[int, InFlight]] = []
        for trial_id, f in list(self._trials.items()):
            if f.study_id != study_id:
                continue
            if not f.future.done():
                if timeout is not None and time.monotonic() - f.submitted > timeout:
                    del self._trials[trial_id]
                    self._abandon(trial_id, f, timeout)
                continue
            finished.append((trial_id, f))
        entry = self._suggest.get(study_id)
        entry_done = entry is not None and entry.future.done()  # one reading for this step
        suggested = entry_done and entry.future.status == "finished"
        futures = list({id(f.future): f.future for _, f in finished
                        if f.future.status == "finished"}.values())
        if suggested:
            futures.append(entry.future)
        results = dict(zip((id(fut) for fut in futures), self.engine.gather(futures),
                           strict=True))
        if finished:
            self._record(study_id, finished, results)
        if entry is None:
            return
        if entry_done:
            self._insert_suggestions(study_id, entry,
                                     results.get(id(entry.future)) if suggested else None)
            if self._suggest.get(study_id) is entry:
                del self._suggest[study_id]
        elif time.monotonic() - entry.submitted > self.settings.suggest_timeout_s:
            del self._suggest[study_id]
            entry.future.cancel()
            self._lost_suggest(study_id, "SuggestTimeout: the optimizer ran longer than "
                                         f"{self.settings.suggest_timeout_s:g} s")

    def _record(self, study_id: int, finished: list[tuple[int, InFlight]],
                results: dict[int, Any]) -> None:
        """Record the ``finished`` futures' trials in one transaction (``results``: the
        gathered result by ``id()`` of each finished future); the study's pace estimate
        follows their measured evaluation time."""
        ok, failed = chunks.sort_outcomes(
            [(tid, f, f.future, f.index) for tid, f in finished], results)
        self._pace[study_id] = chunks.pace(self._pace.get(study_id), [o for *_, o in ok])
        with self.db.session() as s:
            recorded = lifecycle.record_results(s, [
                lifecycle.Outcome(tid, f.token, out["values"], out["cost_s"],
                                  out.get("details", {}), out.get("worker"))
                for tid, f, out in ok]) if ok else []
            for (trial_id, _, _), r in zip(ok, recorded, strict=True):
                if r is None:
                    log.warning("dropping result of trial %s: its lease token is stale",
                                trial_id)
            for trial_id, f, out in failed:
                self.interrupted += chunks.record_failure(
                    s, trial_id, f.token, f.future, out, self.settings.max_attempts)
        for trial_id, _ in finished:  # kept in flight until recorded: a database outage
            self._trials.pop(trial_id, None)  # retries them next step (idempotent)

    def _abandon(self, trial_id: int, f: InFlight, timeout: float) -> None:
        """Give up on an evaluation that outlived ``timeout``: cancel its future and re-queue
        the trial (one attempt spent; failed after ``max_attempts``). Dask cannot interrupt a
        running Python function, so the worker thread stays busy until it returns; its late
        result is never recorded (the token is spent)."""
        f.future.cancel()
        log.warning("trial %s: evaluation exceeded %.0f s, abandoned", trial_id, timeout)
        with self.db.session() as s:
            lifecycle.fail_attempt(s, trial_id, f.token,
                                   f"TrialTimeout: evaluation exceeded {timeout:g} s",
                                   retryable=True, max_attempts=self.settings.max_attempts)

    def _insert_suggestions(self, study_id: int, entry: Suggesting, result: Any) -> None:
        """Handle a suggest call that is done; ``result``: its gathered result (a list), or
        ``None`` when it did not finish (failed, or cancelled by Dask)."""
        fut = entry.future
        if result is None and fut.status != "error":  # cancelled by Dask: ask again, uncounted
            return
        if result is None:
            exc = fut.exception()
            name = type(exc).__name__
            reason = f"{name}: {exc}"
            log.error("suggest failed for study %s: %s", study_id, reason)
            if name in RETRYABLE:
                self._lost_suggest(study_id, reason)
            else:
                self._fail_study(study_id, f"optimizer failed: {reason}")
            return
        self._suggest_lost.pop(study_id, None)
        if entry.start is not None:  # model-free: inserted as slots free up (`_step_study`)
            self._ahead.add(study_id, entry.start, result)
            return
        with self.db.session() as s:
            study = s.get(Study, study_id)
            if study is not None and study.state in (StudyState.RUNNING, StudyState.PAUSED):
                trials.add_suggestions(s, study, result)

    def _lost_suggest(self, study_id: int, reason: str) -> None:
        """Count a suggest call that timed out or was lost; the next step asks again, and the
        study fails after ``SUGGEST_TRIES`` in a row."""
        tries = self._suggest_lost.get(study_id, 0) + 1
        self._suggest_lost[study_id] = tries
        log.warning("study %s: suggest call %d/%d abandoned: %s", study_id, tries,
                    SUGGEST_TRIES, reason)
        if tries >= SUGGEST_TRIES:
            self._fail_study(study_id, f"optimizer failed: {tries} suggest calls in a row were "
                                       f"abandoned; last: {reason}")

    def _fail_study(self, study_id: int, error: str) -> None:
        """Fail a still-active study with ``error`` (cut to 2000 characters) and forget it."""
        with self.db.session() as s:
            study = s.get(Study, study_id)
            if study is not None and study.state in STUDY_ACTIVE:
                lifecycle.transition_study(s, study, StudyState.FAILED, error=error[:2000])
        self._forget(study_id)

    def _forget(self, study_id: int) -> None:
        self._content.forget(study_id)
        self._ahead.forget(study_id)
        self._pace.pop(study_id, None)
        for trial_id, f in list(self._trials.items()):
            if f.study_id == study_id:
                f.future.cancel()
                del self._trials[trial_id]
        self._suggest_lost.pop(study_id, None)
        entry = self._suggest.pop(study_id, None)
        if entry is not None:
            entry.future.cancel()
