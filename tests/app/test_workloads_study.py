"""Studies on an uploaded workload, end to end: a small ONNX CNN and ``.npz`` data uploaded
over REST, a sobol study naming the upload runs on a process-based Dask LocalCluster and
completes with accuracies; another key cannot name it (422, like an unknown name); the bytes
reach the worker as scattered task arguments (no database URL in the evaluator spec or any task
argument), scattered once for the study; a deleted or tampered blob fails the study with a
clear error instead of trials failing one by one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from distributed import Future
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.execution.engine import DaskEngine
from app.execution.tasks import evaluate_task
from app.main import create_app
from app.models import Study, WorkloadBlob
from tests.app.conftest import make_settings
from tests.app.helpers import wait_for
from tests.app.test_auth import _bearer, _key
from tests.app.test_workloads_upload import _files, tiny_npz, tiny_onnx_cnn

API = "/api/v1"
pytestmark = pytest.mark.slow

STUDY = {
    "name": "own-model",
    "problem": {
        "name": "crossbar", "workload": "tiny",
        "search_space": {
            "params": [{"name": "adc_bits", "type": "int", "low": 3, "high": 6}],
            "fidelity_range": [0.0, 0.02]},  # the analytic tier: the cheapest evaluation
        "fixed": {"rows": 64, "cols": 64},
    },
    "optimizer": {"method": "sobol"},
    "budget": {"max_trials": 3},
    "parallelism": 2,
    "seed": 5,
}


@pytest.fixture(scope="module")
def process_engine() -> Iterator[DaskEngine]:
    """One worker process: task arguments really cross a process boundary."""
    eng = DaskEngine(None, n_workers=1, processes=True)
    yield eng
    eng.close()


@pytest.fixture
def live(migrated_url, process_engine, monkeypatch) -> Iterator[tuple]:
    """The API with auth on and a driver on the process cluster; every ``engine.submit``
    call, and each call of an ``engine.submit_many``, is recorded as ``(fn, args)``."""
    calls: list[tuple] = []
    submit = process_engine.submit

    def recording(fn, *args, key=None):
        calls.append((fn, args))
        return submit(fn, *args, key=key)

    monkeypatch.setattr(process_engine, "submit", recording)
    submit_many = process_engine.submit_many

    def recording_many(fn, many):
        calls.extend((fn, args) for args in many)
        return submit_many(fn, many)

    monkeypatch.setattr(process_engine, "submit_many", recording_many)
    app = create_app(make_settings(migrated_url, auth="on"), engine=process_engine)
    with TestClient(app) as c:
        yield app, c, calls


def _upload(c: TestClient, key: str, name: str = "tiny") -> dict:
    r = c.post(f"{API}/workloads", data={"name": name},
               files=_files(tiny_onnx_cnn(), tiny_npz()), headers=_bearer(key))
    assert r.status_code == 201, r.text
    return r.json()


def _final(c: TestClient, key: str, sid: int) -> dict:
    wait_for(lambda: c.get(f"{API}/studies/{sid}", headers=_bearer(key)).json()["state"]
             in ("completed", "failed"), timeout=240, interval=0.2)
    return c.get(f"{API}/studies/{sid}", headers=_bearer(key)).json()


def test_study_on_an_upload_runs_on_dask(live, migrated_url) -> None:
    app, c, calls = live
    db = app.state.db
    a, b = _key(db, "a"), _key(db, "b")
    up = _upload(c, a)
    # another key's upload is invisible: the same 422 as an unknown name, nothing stored
    for key, workload in ((b, "tiny"), (a, "nothing-here")):
        for path in ("/studies", "/studies:validate"):
            r = c.post(f"{API}{path}", headers=_bearer(key),
                       json={**STUDY, "problem": {**STUDY["problem"], "workload": workload}})
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["loc"] == ["body", "problem", "workload"]
            assert "unknown workload" in r.json()["errors"][0]["msg"]
    # file workloads take no options
    r = c.post(f"{API}/studies", headers=_bearer(a), json={
        **STUDY, "problem": {**STUDY["problem"], "workload_options": {"epochs": 1}}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "problem", "workload_options", "epochs"]
    with db.session() as s:
        assert s.scalars(select(Study)).all() == []

    r = c.post(f"{API}/studies", json=STUDY, headers=_bearer(a))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert c.delete(f"{API}/workloads/tiny", headers=_bearer(a)).status_code == 409
    study = _final(c, a, sid)
    assert study["state"] == "completed", study["error"]
    trials = c.get(f"{API}/studies/{sid}/trials", headers=_bearer(a)).json()["data"]
    assert len(trials) == 3
    for t in trials:
        assert t["state"] == "completed"
        assert 0.0 <= t["values"]["accuracy"] <= 1.0 and t["values"]["area_mm2"] > 0
    # the stored spec names the blobs by digest, never a path or the database
    with db.session() as s:
        evaluator = s.get(Study, sid).definition["evaluator"]
    assert evaluator["workload_files"] == {
        "source": "uploaded", "model_sha256": up["model_sha256"],
        "data_sha256": up["data_sha256"], "model_format": "onnx", "data_format": "npz",
        "architecture": None}
    evals = [args for fn, args in calls if fn is evaluate_task]
    assert len(evals) == 3
    scheme = migrated_url.split("://")[0].split("+")[0]
    for args in evals:
        assert args[0] == evaluator
        assert all(isinstance(x, str | int | float | dict) for x in args[:4])
        text = json.dumps(args[:4])
        assert migrated_url not in text and scheme not in text and "xbar.db" not in text
        model, data = args[4:]  # the scattered bytes, the same two futures for every trial
        assert isinstance(model, Future) and isinstance(data, Future)
    assert len({(args[4].key, args[5].key) for args in evals}) == 1
    assert app.state.driver._content.scatters == 1
    # once the study is final, the upload may go
    assert c.delete(f"{API}/workloads/tiny", headers=_bearer(a)).status_code == 204


def test_study_fails_clearly_when_its_blob_is_corrupted(live) -> None:
    """Bytes that cannot be had (here: a blob altered behind the service's back) fail the
    study once, naming the workload, and no trial is submitted."""
    app, c, calls = live
    db = app.state.db
    a = _key(db, "a")
    up = _upload(c, a)
    with db.session() as s:
        s.get(WorkloadBlob, up["data_sha256"]).content = b"tampered"
    r = c.post(f"{API}/studies", json=STUDY, headers=_bearer(a))
    assert r.status_code == 201, r.text  # creation checks names and digests, not bytes
    study = _final(c, a, r.json()["id"])
    assert study["state"] == "failed"
    assert "workload 'tiny'" in study["error"] and "corrupted" in study["error"]
    assert not [1 for fn, _ in calls if fn is evaluate_task]
