"""The study driver on a real Dask engine: completes studies within budget and parallelism,
resumes after a crash with no trial lost or counted twice, pause/cancel take effect."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

import app.execution.chunks as chunks_module
import app.execution.driver as driver_module
import app.execution.tasks as tasks_module
from app.execution.driver import MAX_CHUNK, StudyDriver, chunk_size
from app.execution.tasks import evaluate_chunk, evaluate_task
from app.models import TRIAL_OPEN, Event, Study, StudyState, Trial, TrialResult, TrialState
from app.services import leases, lifecycle
from optimizer.suggest import suggest as optimizer_suggest
from tests.app.conftest import BRANIN, make_settings
from tests.app.helpers import new_study, wait_for

API = "/api/v1"


def _run(driver: StudyDriver, until, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not until():
        driver.step()
        assert time.monotonic() - t0 < timeout, "driver did not get there in time"
        time.sleep(0.02)


def _study(db, sid) -> Study:
    with db.session() as s:
        return s.get(Study, sid)


def test_study_completes_through_api(client) -> None:
    """POST a branin-currin study of 8 trials, parallelism 2: it completes with 8 completed
    trials numbered 0..7, a non-empty front and a positive hypervolume."""
    sid = client.post(f"{API}/studies", json=BRANIN).json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed", 60)
    s = client.get(f"{API}/studies/{sid}").json()
    assert s["n_completed"] == 8 and s["n_trials"] == 8 and s["n_failed"] == 0
    trials = client.get(f"{API}/studies/{sid}/trials").json()["data"]
    assert [t["number"] for t in trials] == list(range(8))
    assert all(t["state"] == "completed" and t["values"] is not None for t in trials)
    front = client.get(f"{API}/studies/{sid}/pareto")
    assert front.status_code == 200
    body = front.json()
    assert len(body["points"]) >= 1
    assert body["hypervolume"] is not None and body["hypervolume"] > 0
    assert all(t["is_pareto"] == (t["number"] in {p["number"] for p in body["points"]})
               for t in trials)


def test_parallelism_is_respected(database, engine) -> None:
    """No step ever leaves more than `parallelism` trials open."""
    sid = new_study(database, parallelism=3, budget={"max_trials": 12})
    driver = StudyDriver(database, engine, make_settings(database.url))
    peak = 0

    def done() -> bool:
        nonlocal peak
        with database.session() as s:
            open_n = s.scalar(select(func.count()).where(
                Trial.study_id == sid, Trial.state.in_(TRIAL_OPEN)))
        peak = max(peak, open_n)
        return _study(database, sid).state == StudyState.COMPLETED

    _run(driver, done)
    assert 1 <= peak <= 3
    assert _study(database, sid).n_completed == 12


def test_cost_budget_stops_the_study(database, engine) -> None:
    """A max_cost_s budget stops new trials once the summed cost reaches it."""
    sid = new_study(database, budget={"max_cost_s": 3.0}, parallelism=1)
    driver = StudyDriver(database, engine, make_settings(database.url))
    _run(driver, lambda: _study(database, sid).state == StudyState.COMPLETED)
    st = _study(database, sid)
    assert st.total_cost_s >= 3.0
    with database.session() as s:
        costs = [c for (c,) in s.execute(select(TrialResult.cost_s)).all()]
    # the last trial started before the budget ran out; without it, the budget was not reached
    assert sum(costs) - costs[-1] < 3.0


def test_crash_mid_study_resumes_without_loss(database, engine) -> None:
    """A driver that dies mid-study (no clean release) leaves running trials behind; a new
    driver takes the study over once its ownership lease expired, re-queues those trials, and
    the study completes with every number 0..N-1 completed exactly once."""
    n = 10
    sid = new_study(database, parallelism=3, budget={"max_trials": n})
    settings = make_settings(database.url, lease_s=30.0, driver_lease_s=1.0)
    first = StudyDriver(database, engine, settings)

    def running() -> int:
        with database.session() as s:
            return s.scalar(select(func.count()).where(Trial.study_id == sid,
                                                       Trial.state == TrialState.RUNNING))

    # step until some trials completed and others are claimed: then the driver "dies"
    _run(first, lambda: _study(database, sid).n_completed >= 3 and running() >= 1)
    for f in first._trials.values():  # a crash: the results never arrive
        f.future.cancel()
    left = running()
    assert left >= 1, "the crash should leave running trials behind"
    time.sleep(settings.driver_lease_s + 0.1)  # the dead driver's ownership lease runs out
    second = StudyDriver(database, engine, settings)
    _run(second, lambda: _study(database, sid).state == StudyState.COMPLETED, timeout=60)
    with database.session() as s:
        trials = list(s.scalars(select(Trial).where(Trial.study_id == sid)
                                .order_by(Trial.number)))
        n_results = s.scalar(select(func.count()).select_from(TrialResult))
        st = s.get(Study, sid)
        requeued = [e.payload["reason"] for e in s.scalars(
            select(Event).where(Event.study_id == sid, Event.type == "trial.requeued"))]
    assert [t.number for t in trials] == list(range(n))
    assert all(t.state == TrialState.COMPLETED for t in trials)
    assert n_results == n == st.n_completed
    # taken over from a driver whose ownership lapsed: re-queued at once, attempt unspent
    assert requeued.count(leases.ORPHAN_REASON) == left
    assert all(t.attempt == 0 for t in trials)
    assert all(t.worker for t in trials)


def test_takeover_does_not_wait_for_the_trial_lease(database, engine) -> None:
    """With a trial lease far longer than the test (600 s) a driver taking over from a
    crashed one still completes the study: the orphans are re-queued as soon as the old
    driver's 1 s ownership lease expired, not when their trial lease would."""
    n = 6
    sid = new_study(database, parallelism=2, budget={"max_trials": n})
    settings = make_settings(database.url, lease_s=600.0, driver_lease_s=1.0)
    first = StudyDriver(database, engine, settings)
    _run(first, lambda: bool(first._trials))
    for f in first._trials.values():
        f.future.cancel()
    second = StudyDriver(database, engine, settings)
    second.step()  # the first driver's ownership is still valid: nothing taken over
    with database.session() as s:
        assert s.get(Study, sid).driver_id == first.driver_id
    _run(second, lambda: _study(database, sid).state == StudyState.COMPLETED, timeout=30)
    st = _study(database, sid)
    assert st.n_completed == n and st.n_failed == 0
    with database.session() as s:
        reasons = [e.payload["reason"] for e in s.scalars(
            select(Event).where(Event.study_id == sid, Event.type == "trial.requeued"))]
    assert reasons and set(reasons) == {leases.ORPHAN_REASON}


def test_pause_and_resume(database, engine) -> None:
    """A paused study starts no new trials: once the work in flight at the pause has been
    collected, further steps submit nothing and add no trial; resumed, it completes."""
    sid = new_study(database, parallelism=1, budget={"max_trials": 6})
    driver = StudyDriver(database, engine, make_settings(database.url))
    _run(driver, lambda: _study(database, sid).n_completed >= 2)
    with database.session() as s:
        lifecycle.transition_study(s, s.get(Study, sid), StudyState.PAUSED)

    def idle() -> bool:
        return not driver._trials and sid not in driver._suggest

    _run(driver, idle)  # what was in flight at the pause lands
    n_paused = _study(database, sid).next_number
    for _ in range(10):
        driver.step()
        assert idle(), "a paused study got work submitted"
    with database.session() as s:
        running = s.scalar(select(func.count()).where(Trial.study_id == sid,
                                                      Trial.state == TrialState.RUNNING))
    assert _study(database, sid).next_number == n_paused and running == 0
    with database.session() as s:
        lifecycle.transition_study(s, s.get(Study, sid), StudyState.RUNNING)
    _run(driver, lambda: _study(database, sid).state == StudyState.COMPLETED)
    assert _study(database, sid).n_completed == 6


def test_failing_evaluations_fail_the_study(database, engine) -> None:
    """An evaluator that raises fails its trials (no retry for a deterministic error), and the
    study fails once too many trials failed, with the reason stored."""
    sid = new_study(database, parallelism=2, budget={"max_trials": 30})
    with database.session() as s:
        st = s.get(Study, sid)
        st.definition = {**st.definition, "evaluator": {"kind": "no-such-kind"}}
    driver = StudyDriver(database, engine, make_settings(database.url))
    _run(driver, lambda: _study(database, sid).state == StudyState.FAILED)
    st = _study(database, sid)
    assert "trials failed" in st.error
    with database.session() as s:
        failed = list(s.scalars(select(Trial).where(Trial.state == TrialState.FAILED)))
    # trials still open when the study failed are closed with "study failed" (load-dependent)
    evaluated = [t for t in failed if t.error != "study failed"]
    assert evaluated and all("unknown evaluator kind" in t.error for t in evaluated)
    assert all(t.attempt == 0 for t in failed)


_HANG = {"started": 0, "returned": 0, "release": threading.Event()}
"""State of the hung evaluations (Dask thread workers run in this process)."""
_HANG_LOCK = threading.Lock()


def _hang(evaluator, params, fidelity, seed):  # an evaluation that outlives the timeout
    with _HANG_LOCK:
        _HANG["started"] += 1
    try:
        _HANG["release"].wait(30.0)
        return evaluate_task(evaluator, params, fidelity, seed)
    finally:
        with _HANG_LOCK:
            _HANG["returned"] += 1


def test_trial_timeout_requeues_then_fails_hung_evaluations(database, engine,
                                                           monkeypatch) -> None:
    """With XBAR_TRIAL_TIMEOUT_S, an evaluation running longer is abandoned: its trial is
    re-queued with attempt + 1 (reason stored), fails after max_attempts, and the late result
    of an abandoned attempt is never recorded; a study whose every trial failed ends failed."""
    monkeypatch.setattr(driver_module, "evaluate_task", _hang)
    monkeypatch.setitem(_HANG, "started", 0)
    monkeypatch.setitem(_HANG, "returned", 0)
    monkeypatch.setitem(_HANG, "release", threading.Event())
    sid = new_study(database, parallelism=1, budget={"max_trials": 1})
    driver = StudyDriver(database, engine, make_settings(database.url, trial_timeout_s=0.3,
                                                         max_attempts=2))

    def trial() -> Trial | None:
        with database.session() as s:
            return s.scalars(select(Trial).where(Trial.study_id == sid)).first()

    _run(driver, lambda: (t := trial()) is not None and t.state == TrialState.FAILED, timeout=30)
    t = trial()
    assert t is not None
    assert t.attempt == 1 and "TrialTimeout" in t.error and "0.3 s" in t.error
    _HANG["release"].set()  # the abandoned evaluations return now
    wait_for(lambda: _HANG["returned"] == _HANG["started"] >= 1, timeout=30, interval=0.02)
    for _ in range(5):
        driver.step()
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(TrialResult)
                        .join(Trial, Trial.id == TrialResult.trial_id)
                        .where(Trial.study_id == sid)) == 0
    st = _study(database, sid)  # its only trial failed: the study failed, saying why
    assert st.state == StudyState.FAILED
    assert st.error.startswith("all 1 trials failed; first error: TrialTimeout")


_SLOW = {"hang": 0, "calls": 0, "release": threading.Event()}
"""The first ``hang`` suggest calls wait for ``release``; later ones run the real optimizer."""


def _slow_suggest(*args, **kwargs):
    with _HANG_LOCK:
        _SLOW["calls"] += 1
        hang = _SLOW["calls"] <= _SLOW["hang"]
    if hang:
        _SLOW["release"].wait(30.0)
    return optimizer_suggest(*args, **kwargs)


def _slow_optimizer(monkeypatch, hang: int) -> None:
    """The optimizer entry the worker-side tasks call (``suggest_task``, ``suggest_numbers``)
    counts its calls and hangs the first ``hang`` of them."""
    monkeypatch.setattr(tasks_module, "suggest", _slow_suggest)
    monkeypatch.setitem(_SLOW, "hang", hang)
    monkeypatch.setitem(_SLOW, "calls", 0)
    monkeypatch.setitem(_SLOW, "release", threading.Event())


def test_a_slow_suggest_is_abandoned_and_asked_again(database, engine, monkeypatch) -> None:
    """A suggest call running past XBAR_SUGGEST_TIMEOUT_S is abandoned and asked again: with
    the first call hung, the study still completes its 3 trials, and the abandoned call's
    late answer adds nothing."""
    _slow_optimizer(monkeypatch, hang=1)
    sid = new_study(database, parallelism=1, budget={"max_trials": 3})
    driver = StudyDriver(database, engine, make_settings(database.url, suggest_timeout_s=0.3))
    try:
        _run(driver, lambda: _SLOW["calls"] >= 2, timeout=30)  # abandoned, asked again
    finally:
        _SLOW["release"].set()  # the hung call returns: its worker thread is free again
    _run(driver, lambda: _study(database, sid).state == StudyState.COMPLETED, timeout=30)
    st = _study(database, sid)
    assert (st.n_completed, st.n_failed, st.next_number, st.error) == (3, 0, 3, None)
    assert _SLOW["calls"] >= 4  # the hung one, then one per trial


def test_suggest_timeouts_in_a_row_fail_the_study(database, engine, monkeypatch) -> None:
    """SUGGEST_TRIES suggest calls in a row past the timeout fail the study with a clear
    error, before any trial exists."""
    _slow_optimizer(monkeypatch, hang=100)
    sid = new_study(database, parallelism=1, budget={"max_trials": 3})
    driver = StudyDriver(database, engine, make_settings(database.url, suggest_timeout_s=0.2))
    try:
        _run(driver, lambda: _study(database, sid).state == StudyState.FAILED, timeout=30)
    finally:
        _SLOW["release"].set()
    st = _study(database, sid)
    assert st.error == (f"optimizer failed: {driver_module.SUGGEST_TRIES} suggest calls in a "
                        "row were abandoned; last: SuggestTimeout: the optimizer ran longer "
                        "than 0.2 s")
    assert st.next_number == 0 and sid not in driver._suggest


def test_chunk_size_follows_the_evaluation_time() -> None:
    """One evaluation per Dask task until the study's evaluation time is known and while it
    is not far below CHUNK_TARGET_S (50 ms); fast ones go several per task, at least one
    task per worker thread and at most MAX_CHUNK per task."""
    assert chunk_size(None, 64, 4) == 1
    assert chunk_size(1.0, 64, 4) == chunk_size(0.04, 64, 4) == 1
    assert chunk_size(0.01, 64, 4) == 5
    assert chunk_size(0.001, 64, 4) == 16
    assert chunk_size(0.001, 64, 1) == chunk_size(0.0, 64, 1) == MAX_CHUNK == 32
    assert chunk_size(0.001, 1, 4) == chunk_size(0.001, 3, 4) == 1


def _flaky_evaluation(evaluator, params, fidelity, seed, model=None, data=None):
    if params["x0"] < 0.15:
        raise ValueError("x0 below 0.15")
    return evaluate_task(evaluator, params, fidelity, seed, model, data)


def test_fast_evaluations_go_in_chunks_each_trial_counted_once(database, engine,
                                                              monkeypatch) -> None:
    """Once the evaluations are known to be fast, several go to Dask in one task
    (``evaluate_chunk``): every trial still completes or fails on its own, exactly once, a
    trial whose evaluation raised inside a chunk fails alone with its reason, unretried, and
    its chunk's other trials complete."""
    monkeypatch.setattr(chunks_module, "CHUNK_TARGET_S", 60.0)  # whatever the machine's load
    monkeypatch.setattr(driver_module, "evaluate_task", _flaky_evaluation)  # one per task
    monkeypatch.setattr(tasks_module, "evaluate_task", _flaky_evaluation)  # inside chunks
    calls: list[tuple] = []
    submit_many = engine.submit_many

    def recording(fn, many):
        calls.append((fn, [len(args[1]) if fn is evaluate_chunk else 1 for args in many]))
        return submit_many(fn, many)

    monkeypatch.setattr(engine, "submit_many", recording)
    n = 48
    sid = new_study(database, parallelism=8, optimizer={"method": "random"},
                    budget={"max_trials": n})
    driver = StudyDriver(database, engine, make_settings(database.url))
    _run(driver, lambda: _study(database, sid).state in (StudyState.COMPLETED,
                                                         StudyState.FAILED))
    chunked = [sizes for fn, sizes in calls if fn is evaluate_chunk]
    assert chunked and max(max(sizes) for sizes in chunked) >= 2
    assert calls[0][0] is _flaky_evaluation  # nothing known of the evaluations yet
    assert sum(sum(sizes) for _, sizes in calls) == n  # each trial submitted once
    with database.session() as s:
        trials = list(s.scalars(select(Trial).where(Trial.study_id == sid)
                                .order_by(Trial.number)))
        results = s.scalar(select(func.count()).select_from(TrialResult))
    st = _study(database, sid)
    failed = [t for t in trials if t.state == TrialState.FAILED]
    assert [t.number for t in trials] == list(range(n))
    assert st.state == StudyState.COMPLETED and st.n_completed == results == n - len(failed)
    assert failed and st.n_failed == len(failed)
    assert all(t.params["x0"] < 0.15 and t.error == "ValueError: x0 below 0.15"
               and t.attempt == 0 for t in failed)
    assert all(t.params["x0"] >= 0.15 for t in trials if t.state == TrialState.COMPLETED)


def test_wait_for_work_returns_when_a_submission_finishes(database, engine) -> None:
    """The driver's loop waits for the next poll only while nothing it submitted finished:
    a finished suggest call (here the study's first) cuts the wait short."""
    new_study(database, parallelism=1, budget={"max_trials": 1})
    driver = StudyDriver(database, engine, make_settings(database.url))
    driver.step()  # takes the study and asks for its first suggestion
    assert driver._suggest
    t0 = time.monotonic()
    driver.wait_for_work(60.0)
    assert time.monotonic() - t0 < 30.0
    assert next(iter(driver._suggest.values())).future.done()
