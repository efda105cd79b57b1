"""``DELETE /api/v1/studies/{id}``: 204, then 404 everywhere; trials, results and events go
with it; owner only; a running study is cancelled first and its driver carries on cleanly.

Every test runs on each backend (``db_url`` is parametrized over SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.core.db import Database
from app.core.errors import PROBLEM_JSON
from app.core.security import generate_key
from app.main import create_app
from app.models import ApiKey, Event, Study, Trial, TrialResult, TrialState
from tests.app.conftest import BRANIN, make_settings
from tests.app.helpers import add_trial, complete, new_study, wait_for

API = "/api/v1"


def _rows(db: Database, study_id: int) -> dict[str, int]:
    """How many rows of each table belong to ``study_id``."""
    with db.session() as s:
        return {
            "studies": s.scalar(select(func.count()).where(Study.id == study_id)),
            "trials": s.scalar(select(func.count()).where(Trial.study_id == study_id)),
            "results": s.scalar(select(func.count()).select_from(TrialResult)
                                .join(Trial, Trial.id == TrialResult.trial_id)
                                .where(Trial.study_id == study_id)),
            "events": s.scalar(select(func.count()).where(Event.study_id == study_id)),
        }


def test_sqlite_enforces_foreign_keys(database: Database) -> None:
    """The cascade needs ``PRAGMA foreign_keys=ON`` on every SQLite connection."""
    with database.session() as s:
        if database.engine.dialect.name == "sqlite":
            assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        orphan = s.scalar(select(func.count()).select_from(TrialResult).where(
            ~TrialResult.trial_id.in_(select(Trial.id))))
        assert orphan == 0


def test_delete_takes_trials_results_and_events(idle_client: TestClient) -> None:
    """204 with no body; afterwards the study, its trials, pareto and events answer 404 and no
    row of it is left, while another study keeps all of its rows."""
    db = idle_client.app.state.db
    sid, other = new_study(db), new_study(db)
    for sid_ in (sid, other):
        complete(db, sid_, {"f0": 1.0, "f1": 2.0})
        complete(db, sid_, {"f0": 2.0, "f1": 1.0})
        add_trial(db, sid_)
    before_other = _rows(db, other)
    rows = _rows(db, sid)
    assert (rows["studies"], rows["trials"], rows["results"]) == (1, 3, 2)
    assert rows["events"] >= 3  # created + two trial.completed

    r = idle_client.delete(f"{API}/studies/{sid}")
    assert r.status_code == 204 and r.content == b""
    assert _rows(db, sid) == {"studies": 0, "trials": 0, "results": 0, "events": 0}
    assert _rows(db, other) == before_other
    for path in ("", "/trials", "/trials/0", "/pareto", "/events?follow=false"):
        r = idle_client.get(f"{API}/studies/{sid}{path}")
        assert r.status_code == 404, path
        assert r.headers["content-type"] == PROBLEM_JSON
    again = idle_client.delete(f"{API}/studies/{sid}")
    assert again.status_code == 404 and again.json()["detail"] == f"No study with id {sid}."
    assert [s["id"] for s in idle_client.get(f"{API}/studies").json()["data"]] == [other]


def test_delete_cancels_an_active_study_first(idle_client: TestClient) -> None:
    """Open trials of a running study are closed before the rows go (no trial is left
    running for a driver to lease); a study in a final state is deleted as is."""
    db = idle_client.app.state.db
    sid = new_study(db)
    add_trial(db, sid)
    add_trial(db, sid, state=TrialState.RUNNING)
    assert idle_client.delete(f"{API}/studies/{sid}").status_code == 204
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Trial)) == 0
    done = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    assert idle_client.post(f"{API}/studies/{done}:cancel").status_code == 200
    assert idle_client.delete(f"{API}/studies/{done}").status_code == 204
    assert idle_client.get(f"{API}/studies/{done}").status_code == 404


def test_delete_is_owner_only(migrated_url: str) -> None:
    """Another key gets the 404 of a missing study and the study stays; its owner deletes
    it; an admin key may delete any study (the only way to clear a revoked key's)."""
    app = create_app(make_settings(migrated_url, auth="on", run_driver=False))
    with TestClient(app) as c:
        db = app.state.db
        keys = {}
        for name, admin in (("a", False), ("b", False), ("ops", True)):
            key, prefix, key_hash = generate_key()
            with db.session() as s:
                s.add(ApiKey(name=name, prefix=prefix, key_hash=key_hash, is_admin=admin))
            keys[name] = {"Authorization": f"Bearer {key}"}
        sid = c.post(f"{API}/studies", json=BRANIN, headers=keys["a"]).json()["id"]
        second = c.post(f"{API}/studies", json=BRANIN, headers=keys["a"]).json()["id"]
        assert c.delete(f"{API}/studies/{sid}").status_code == 401
        r = c.delete(f"{API}/studies/{sid}", headers=keys["b"])
        assert r.status_code == 404 and r.json()["detail"] == f"No study with id {sid}."
        assert c.get(f"{API}/studies/{sid}", headers=keys["a"]).status_code == 200
        assert c.delete(f"{API}/studies/{sid}", headers=keys["a"]).status_code == 204
        assert c.get(f"{API}/studies/{sid}", headers=keys["a"]).status_code == 404
        assert c.delete(f"{API}/studies/{second}", headers=keys["ops"]).status_code == 204
        assert c.get(f"{API}/studies", headers=keys["a"]).json()["data"] == []


def test_delete_while_trials_run(client: TestClient) -> None:
    """Deleting a study the driver is working on: 204, no row of it is left once the driver
    had further steps, and the same driver runs the next study to completion without a
    failed step (the next study is created first: SQLite may hand a deleted highest id out
    again)."""
    app = client.app
    driver, db = app.state.driver, app.state.db
    sid = client.post(f"{API}/studies", json={**BRANIN, "budget": {"max_trials": 400}}).json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["n_completed"] >= 4, timeout=60)
    assert client.get(f"{API}/studies/{sid}").json()["state"] == "running"
    errors = driver.errors
    nxt = client.post(f"{API}/studies", json=BRANIN).json()["id"]
    assert client.delete(f"{API}/studies/{sid}").status_code == 204
    wait_for(lambda: client.get(f"{API}/studies/{nxt}").json()["state"] == "completed",
             timeout=60)
    assert client.get(f"{API}/studies/{sid}").status_code == 404
    assert _rows(db, sid) == {"studies": 0, "trials": 0, "results": 0, "events": 0}
    assert client.get(f"{API}/studies/{nxt}").json()["n_completed"] == BRANIN["budget"][
        "max_trials"]
    assert driver.errors == errors


def test_delete_is_documented(idle_client: TestClient) -> None:
    """OpenAPI lists 204 and the problem+json errors of the other study routes."""
    op = idle_client.get("/openapi.json").json()["paths"]["/api/v1/studies/{study_id}"]["delete"]
    assert {"204", "401", "404", "422", "500", "503"} <= set(op["responses"])
    assert "content" not in op["responses"]["204"]
    for code in ("401", "404", "422", "500", "503"):
        assert list(op["responses"][code]["content"]) == [PROBLEM_JSON]


def test_deleted_ids_are_never_reused(idle_client: TestClient) -> None:
    """After deleting the newest study (with its trial and events) the next study, trial and
    event get larger ids, so an old URL or ETag cannot name the new rows (SQLite AUTOINCREMENT,
    PostgreSQL sequences)."""
    db = idle_client.app.state.db
    sid = new_study(db)
    tid = add_trial(db, sid)
    with db.session() as s:
        eid = s.scalar(select(func.max(Event.id)).where(Event.study_id == sid))
    assert idle_client.delete(f"{API}/studies/{sid}").status_code == 204
    sid2 = new_study(db)
    tid2 = add_trial(db, sid2)
    with db.session() as s:
        eid2 = s.scalar(select(func.max(Event.id)).where(Event.study_id == sid2))
    assert (sid2 > sid, tid2 > tid, eid2 > eid) == (True, True, True), (sid, sid2, tid, tid2)
    assert idle_client.get(f"{API}/studies/{sid}").status_code == 404
