"""What the API returns agrees with the rows: a 201 or an action's answer is committed before it
is sent, counters equal the trial rows (cancel included), final trials carry no stale error, a
study whose every trial failed ends failed, timestamps are ISO 8601 UTC, per-study caps hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.errors import ValidationFailed
from app.execution.driver import StudyDriver
from app.main import create_app
from app.models import Study, StudyState, Trial, TrialState, utcnow
from app.schemas.study import StudyCreate
from app.services import leases, lifecycle
from app.services.studies import create_study
from tests.app.conftest import BRANIN, make_settings
from tests.app.helpers import add_trial, claim, complete, new_study, wait_for

API = "/api/v1"


class _SeeAtResponseStart:
    """ASGI wrapper: when a response starts, run ``look`` on a fresh database connection (the
    handler's session may not have committed yet) and keep what it returns."""

    def __init__(self, app: Any, db: Database, look: Callable[[Any], Any]) -> None:
        self.app, self.db, self.look = app, db, look
        self.seen: list[tuple[int, Any]] = []

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def spy(message: dict) -> None:
            if message["type"] == "http.response.start":
                with self.db.session() as s:
                    self.seen.append((message["status"], self.look(s)))
            await send(message)

        await self.app(scope, receive, spy)


def _counts(db: Database, sid: int) -> tuple[int, int, int, int]:
    """``(n_completed, completed rows, n_failed, failed rows)`` of study ``sid``."""
    with db.session() as s:
        st = s.get(Study, sid)

        def rows(state: TrialState) -> int:
            return s.scalar(select(func.count()).where(Trial.study_id == sid,
                                                       Trial.state == state))

        return (st.n_completed, rows(TrialState.COMPLETED), st.n_failed,
                rows(TrialState.FAILED))


def test_created_study_and_action_are_committed_before_the_response(migrated_url) -> None:
    """When the 201 of POST /studies starts going out, another connection already sees the
    study; when the 200 of :cancel starts, it sees the study cancelled. Right after the POST
    returns, a fresh session and a GET find it too."""
    db = Database(migrated_url)
    try:
        def latest(s: Any) -> tuple[int, str] | None:
            row = s.execute(select(Study.id, Study.state).order_by(Study.id.desc())).first()
            return (row[0], StudyState(row[1]).value) if row else None

        wrapped = _SeeAtResponseStart(create_app(make_settings(migrated_url, run_driver=False)),
                                      db, latest)
        with TestClient(wrapped) as c:
            r = c.post(f"{API}/studies", json=BRANIN)
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            assert wrapped.seen[-1] == (201, (sid, "created"))
            with db.session() as s:
                assert s.get(Study, sid) is not None
            assert c.get(f"{API}/studies/{sid}").status_code == 200
            r = c.post(f"{API}/studies/{sid}:cancel")
            assert r.status_code == 200 and r.json()["state"] == "cancelled"
            assert wrapped.seen[-1] == (200, (sid, "cancelled"))
    finally:
        db.dispose()


def test_cancel_counts_the_trials_it_closes(database) -> None:
    """Cancelling a study with 1 completed, 1 running and 2 queued trials fails the 3 open ones
    and counts them: n_completed 1 and n_failed 3, equal to the rows."""
    sid = new_study(database)
    complete(database, sid, {"f0": 1.0, "f1": 1.0})
    claim(database, add_trial(database, sid))
    add_trial(database, sid)
    add_trial(database, sid)
    with database.session() as s:
        st = s.get(Study, sid)
        lifecycle.apply_action(s, st, "cancel")
        assert (st.n_completed, st.n_failed) == (1, 3)  # the answer's counts are current
    assert _counts(database, sid) == (1, 1, 3, 3)
    with database.session() as s:
        errors = {t.error for t in s.scalars(select(Trial).where(
            Trial.study_id == sid, Trial.state == TrialState.FAILED))}
    assert errors == {"study cancelled"}


def test_counters_match_rows_after_cancelling_a_running_study(client, database) -> None:
    """A study cancelled through the API while the driver runs it: once it has settled,
    n_completed and n_failed equal the completed and failed rows, and no trial is open."""
    body = {**BRANIN, "budget": {"max_trials": 40}, "parallelism": 2}
    sid = client.post(f"{API}/studies", json=body).json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["n_completed"] >= 2, 60)
    r = client.post(f"{API}/studies/{sid}:cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    n_completed, completed, n_failed, failed = _counts(database, sid)
    with database.session() as s:
        n_trials = s.get(Study, sid).next_number
        total = s.scalar(select(func.count()).where(Trial.study_id == sid))
    assert (n_completed, n_failed) == (completed, failed)
    assert completed + failed == total == n_trials
    got = client.get(f"{API}/studies/{sid}").json()
    assert (got["n_completed"], got["n_failed"]) == (completed, failed)


def test_a_requeued_trial_that_completes_has_no_error(database) -> None:
    """A trial whose first lease expired (error: lease expired) and whose second attempt
    completes ends completed with attempt 1 and error None, counted once."""
    sid = new_study(database)
    tid = add_trial(database, sid)
    claim(database, tid, lease_s=0.01)
    with database.session() as s:
        assert leases.requeue_expired(s, utcnow() + timedelta(seconds=1), max_attempts=3) == 1
    with database.session() as s:
        assert s.get(Trial, tid).error == leases.REQUEUE_REASON
    token = claim(database, tid)
    with database.session() as s:
        assert lifecycle.record_result(s, tid, token, {"f0": 1.0, "f1": 2.0}, 1.0, {})
    with database.session() as s:
        t = s.get(Trial, tid)
        assert (t.state, t.attempt, t.error) == (TrialState.COMPLETED, 1, None)
    assert _counts(database, sid) == (1, 1, 0, 0)


def test_a_study_whose_trials_all_failed_ends_failed(database, engine) -> None:
    """4 trials that all fail (unknown evaluator): the study ends failed, not completed, with
    'all 4 trials failed; first error: ...' and n_failed 4 equal to the rows."""
    sid = new_study(database, parallelism=2, budget={"max_trials": 4})
    with database.session() as s:
        st = s.get(Study, sid)
        st.definition = {**st.definition, "evaluator": {"kind": "no-such-kind"}}
    driver = StudyDriver(database, engine, make_settings(database.url))

    def finished() -> bool:
        driver.step()
        with database.session() as s:
            return s.get(Study, sid).state in (StudyState.FAILED, StudyState.COMPLETED)

    wait_for(finished, 60, interval=0.02)
    with database.session() as s:
        st = s.get(Study, sid)
        first = s.scalar(select(Trial.error).where(Trial.study_id == sid, Trial.number == 0))
    assert st.state == StudyState.FAILED
    assert st.error == f"all 4 trials failed; first error: {first}"
    assert "unknown evaluator kind" in first
    assert _counts(database, sid) == (0, 0, 4, 4)


def _parse_utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    parsed = datetime.fromisoformat(text[:-1] + "+00:00")
    assert parsed.tzinfo == UTC
    return parsed


def test_timestamps_are_iso_utc_with_z(client) -> None:
    """Every datetime of a study and its trials ends in Z, parses as UTC, and lies between
    just before the POST and just after the study finished."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    sid = client.post(f"{API}/studies", json=BRANIN).json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed", 60)
    after = datetime.now(UTC) + timedelta(seconds=5)
    st = client.get(f"{API}/studies/{sid}").json()
    stamps = [st["created_at"], st["started_at"], st["finished_at"]]
    for t in client.get(f"{API}/studies/{sid}/trials").json()["data"]:
        stamps += [t["created_at"], t["started_at"], t["completed_at"]]
    assert len(stamps) == 3 + 3 * 8
    times = [_parse_utc(x) for x in stamps]
    assert all(before <= t <= after for t in times)
    assert _parse_utc(st["created_at"]) <= _parse_utc(st["finished_at"])


def test_per_study_caps(database) -> None:
    """max_trials above XBAR_MAX_TRIALS_PER_STUDY and parallelism above XBAR_MAX_PARALLELISM
    are one ValidationFailed naming both fields; nothing is stored. At the caps it is fine."""
    caps = Settings(database_url=database.url, max_trials_per_study=50, max_parallelism=4)
    body = StudyCreate(**{**BRANIN, "budget": {"max_trials": 51}, "parallelism": 5})
    with database.session() as s, pytest.raises(ValidationFailed) as err:
        create_study(s, body, None, caps)
    assert [e["loc"] for e in err.value.errors] == [["body", "budget", "max_trials"],
                                                   ["body", "parallelism"]]
    assert "at most 50" in err.value.errors[0]["msg"]
    assert "at most 4" in err.value.errors[1]["msg"]
    assert {e["type"] for e in err.value.errors} == {"value_error"}
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Study)) == 0
        ok = StudyCreate(**{**BRANIN, "budget": {"max_trials": 50}, "parallelism": 4})
        assert create_study(s, ok, None, caps).max_trials == 50


def test_caps_through_the_api(migrated_url, monkeypatch) -> None:
    """POST /studies enforces the caps of the environment: a 422 naming budget.max_trials."""
    monkeypatch.setenv("XBAR_MAX_TRIALS_PER_STUDY", "20")
    get_settings.cache_clear()
    try:
        app = create_app(make_settings(migrated_url, run_driver=False))
        with TestClient(app) as c:
            r = c.post(f"{API}/studies", json={**BRANIN, "budget": {"max_trials": 21}})
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert [e["loc"] for e in r.json()["errors"]] == [["body", "budget", "max_trials"]]
            assert c.get(f"{API}/studies").json()["data"] == []
    finally:
        get_settings.cache_clear()


def test_default_bounds() -> None:
    """Documented defaults: caps 100000 trials and parallelism 64, 3600 s per evaluation,
    600 s per suggest call."""
    defaults = {k: f.default for k, f in Settings.model_fields.items()}
    assert (defaults["max_trials_per_study"], defaults["max_parallelism"]) == (100_000, 64)
    assert (defaults["trial_timeout_s"], defaults["suggest_timeout_s"]) == (3600.0, 600.0)
