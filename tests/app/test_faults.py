"""Fault injection on loopback: a Dask scheduler killed and restarted mid-study, `xbar worker`
stopped by signals or killed, `/readyz` with no scheduler. Every wait is bounded."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from distributed import Client
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.db import Database
from app.execution.engine import DaskEngine
from app.main import create_app
from app.models import Event, Study, StudyState, Trial
from app.services import leases, lifecycle
from tests.app.conftest import make_settings
from tests.app.helpers import add_trial, claim, free_port, new_study, wait_for

API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]
ZDT1 = {"name": "faults", "problem": {"name": "zdt1"}, "optimizer": {"method": "random"},
        "parallelism": 2, "seed": 1}


def _scheduler(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wait_for(lambda: _accepts(port), 30)
    return proc


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _worker(addr: str, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli.main", "worker", addr, "--name", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                            env={**os.environ, "XBAR_DASK_HOST": "127.0.0.1"})


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _workers(addr: str) -> set[str]:
    with Client(addr, timeout=5, set_as_default=False) as c:
        return {w["name"] for w in c.scheduler_info(n_workers=-1)["workers"].values()}


@pytest.fixture
def scheduler_port() -> Iterator[int]:
    yield free_port()


def test_worker_waits_stops_on_sigterm_and_leaves_no_orphan(scheduler_port: int) -> None:
    """`xbar worker` started before its scheduler waits for it and registers; SIGTERM stops it
    (exit 0, deregistered); it has no child process, so kill -9 leaves nothing running."""
    addr = f"tcp://127.0.0.1:{scheduler_port}"
    w1 = _worker(addr, "w1")
    sched = None
    try:
        time.sleep(1.0)
        assert w1.poll() is None, "the worker must wait for a missing scheduler"
        sched = _scheduler(scheduler_port)
        wait_for(lambda: "w1" in _workers(addr), 30, 0.3)
        assert psutil.Process(w1.pid).children(recursive=True) == []
        w1.send_signal(signal.SIGTERM)
        assert w1.wait(20) == 0
        wait_for(lambda: "w1" not in _workers(addr), 20, 0.3)

        w2 = _worker(addr, "w2")
        try:
            wait_for(lambda: "w2" in _workers(addr), 30, 0.3)
            assert psutil.Process(w2.pid).children(recursive=True) == []
            w2.kill()
            w2.wait(10)
            assert not psutil.pid_exists(w2.pid) or psutil.Process(w2.pid).status() == "zombie"
        finally:
            _kill(w2)
    finally:
        _kill(w1)
        if sched is not None:
            _kill(sched)


def test_scheduler_restart_mid_study(tmp_path: Path, scheduler_port: int,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Kill -9 the Dask scheduler mid-study and start it again on the same port: the API keeps
    serving, /readyz answers 503 problem+json within about a second during the outage and
    `ready` with the workers once back; the `xbar worker` reconnects, the engine makes a new
    client, and the study completes with every trial completed once and no attempt spent
    (interrupted evaluations are re-queued for free). The loss and the return are logged once
    each."""
    caplog.set_level(logging.WARNING, logger="app.execution")
    addr = f"tcp://127.0.0.1:{scheduler_port}"
    n = 30
    sched = _scheduler(scheduler_port)
    worker = _worker(addr, "w-restart")
    url = f"sqlite:///{tmp_path / 'xbar.db'}"
    from app.migrate import upgrade

    upgrade(url)
    engine = DaskEngine(addr, connect_timeout_s=2.0)
    try:
        wait_for(lambda: engine.readiness()[0], 30, 0.2)
        app = create_app(make_settings(url, lease_s=30.0), engine=engine)
        with TestClient(app) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["engine"] == "ok (1 workers)"
            body = {**ZDT1, "budget": {"max_trials": n}}
            sid = client.post(f"{API}/studies", json=body).json()["id"]
            wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["n_completed"] >= 4, 60,
                     0.05)

            sched.kill()
            sched.wait(10)
            wait_for(lambda: not engine.check(), 10, 0.05)
            t0 = time.monotonic()
            r = client.get("/readyz")
            took = time.monotonic() - t0
            assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
            assert r.json()["status"] == 503 and r.json()["checks"]["engine"].startswith("error")
            assert took < 3.0, f"/readyz took {took:.1f} s"
            mid = client.get(f"{API}/studies/{sid}")  # the API keeps serving
            assert mid.status_code == 200 and mid.json()["state"] == "running"
            time.sleep(3.0)  # past the client's own reconnect window: Dask closes it

            sched = _scheduler(scheduler_port)
            wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed",
                     90, 0.2)
            wait_for(lambda: client.get("/readyz").status_code == 200, 30, 0.3)
            assert client.get("/readyz").json()["checks"]["engine"] == "ok (1 workers)"
            study = client.get(f"{API}/studies/{sid}").json()
    finally:
        engine.close()
        _kill(worker)
        _kill(sched)
    db = Database(url)
    with db.session() as s:
        trials = list(s.scalars(select(Trial).where(Trial.study_id == sid).order_by(Trial.number)))
        assert s.get(Study, sid).state == StudyState.COMPLETED
    db.dispose()
    assert [t.number for t in trials] == list(range(n))
    assert study["n_completed"] == n and study["n_failed"] == 0
    assert all(t.state == "completed" and t.attempt == 0 for t in trials)
    lost = [r for r in caplog.records if "lost the Dask scheduler" in r.getMessage()]
    back = [r for r in caplog.records if "reachable again" in r.getMessage()]
    steps = [r for r in caplog.records if "driver step failed" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1, [r.getMessage() for r in caplog.records]
    assert len(steps) <= 1, "a failing step is logged once, not every poll"


def test_interrupted_trial_is_requeued_without_spending_an_attempt(database) -> None:
    """``requeue_unspent``: running -> queued at the same attempt, token cleared, an event
    says why; a stale token moves nothing."""
    sid = new_study(database)
    tid = add_trial(database, sid)
    token = claim(database, tid)
    with database.session() as s:
        assert not lifecycle.requeue_unspent(s, tid, "stale", leases.INTERRUPTED_REASON)
        assert lifecycle.requeue_unspent(s, tid, token, leases.INTERRUPTED_REASON)
        assert not lifecycle.requeue_unspent(s, tid, token, leases.INTERRUPTED_REASON)
    with database.session() as s:
        t = s.get(Trial, tid)
        assert (t.state, t.attempt, t.lease_token, t.error) == (
            "queued", 0, None, leases.INTERRUPTED_REASON)
        ev = s.scalars(select(Event).where(Event.study_id == sid)).all()
        assert [e.payload for e in ev if e.type == "trial.requeued"] == [
            {"trial_id": tid, "reason": leases.INTERRUPTED_REASON}]


def test_readyz_without_workers_is_503(tmp_path: Path, scheduler_port: int) -> None:
    """A scheduler with no worker: /readyz is 503 problem+json saying so."""
    addr = f"tcp://127.0.0.1:{scheduler_port}"
    sched = _scheduler(scheduler_port)
    url = f"sqlite:///{tmp_path / 'xbar.db'}"
    from app.migrate import upgrade

    upgrade(url)
    engine = DaskEngine(addr, connect_timeout_s=2.0)
    try:
        with TestClient(create_app(make_settings(url), engine=engine)) as client:
            r = client.get("/readyz")
    finally:
        engine.close()
        _kill(sched)
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "engine": "error: no workers"}
    assert "engine: error: no workers" in r.json()["detail"]


CROSSBAR = {"name": "faults-xbar",
            "problem": {"name": "crossbar", "workload": "digits-mlp",
                        "search_space": {"params": [{"name": "adc_bits", "type": "int",
                                                     "low": 4, "high": 8}],
                                         "fidelity_range": [0.0, 0.3]},
                        "fixed": {"rows": 64, "cols": 64}},
            "optimizer": {"method": "sobol"}, "parallelism": 2, "seed": 3}


def test_worker_killed_mid_study(tmp_path: Path, scheduler_port: int) -> None:
    """Two `xbar worker`s; kill -9 one while it holds a running crossbar evaluation: Dask moves
    the work to the other worker and the study completes with every trial completed once, none
    failed, no attempt spent, and the survivor named on the trials run after the kill."""
    addr = f"tcp://127.0.0.1:{scheduler_port}"
    n = 8
    sched = _scheduler(scheduler_port)
    workers = {name: _worker(addr, name) for name in ("w-doomed", "w-survivor")}
    url = f"sqlite:///{tmp_path / 'xbar.db'}"
    from app.migrate import upgrade

    upgrade(url)
    engine = DaskEngine(addr, connect_timeout_s=2.0)
    try:
        wait_for(lambda: _workers(addr) == set(workers), 60, 0.3)
        with TestClient(create_app(make_settings(url, lease_s=30.0), engine=engine)) as client, \
                Client(addr, timeout=5, set_as_default=False) as probe:
            body = {**CROSSBAR, "budget": {"max_trials": n}}
            r = client.post(f"{API}/studies", json=body)
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            names = {a: w["name"] for a, w in probe.scheduler_info(n_workers=-1)["workers"].items()}

            def doomed_busy() -> bool:
                return any(names.get(a) == "w-doomed" and tasks
                           for a, tasks in probe.processing().items())

            wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["n_completed"] >= 1, 240,
                     0.2)
            wait_for(doomed_busy, 120, 0.02)
            killed_at = client.get(f"{API}/studies/{sid}").json()["n_completed"]
            workers["w-doomed"].kill()
            workers["w-doomed"].wait(10)
            wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed",
                     300, 0.3)
            study = client.get(f"{API}/studies/{sid}").json()
    finally:
        engine.close()
        for proc in workers.values():
            _kill(proc)
        _kill(sched)
    db = Database(url)
    with db.session() as s:
        trials = list(s.scalars(select(Trial).where(Trial.study_id == sid).order_by(Trial.number)))
    db.dispose()
    assert killed_at < n
    assert [t.number for t in trials] == list(range(n))
    assert study["n_completed"] == n and study["n_failed"] == 0
    assert all(t.state == "completed" and t.attempt == 0 for t in trials)
    late = sorted(trials, key=lambda t: t.completed_at)[killed_at + 1:]
    assert late and all(t.worker and "w-survivor" in t.worker for t in late), \
        [t.worker for t in trials]
