"""API keys: 401 without or with a bad key or once revoked, 404 on another key's study (as on
a missing one), admin keys see every study, keys stored hashed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.security import generate_key, key_prefix
from app.main import create_app
from app.models import ApiKey, Study, StudyState, utcnow
from app.services.lifecycle import transition_study
from tests.app.conftest import BRANIN, make_settings

API = "/api/v1"


def _key(db, name: str, admin: bool = False) -> str:
    key, prefix, key_hash = generate_key()
    with db.session() as s:
        s.add(ApiKey(name=name, prefix=prefix, key_hash=key_hash, is_admin=admin))
    return key


def _revoke(db, key: str) -> None:
    with db.session() as s:
        s.scalars(select(ApiKey).where(ApiKey.prefix == key_prefix(key))).one().revoked_at = (
            utcnow())


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_auth_on(migrated_url) -> None:
    """With XBAR_AUTH=on each key sees only its own studies."""
    app = create_app(make_settings(migrated_url, auth="on", run_driver=False))
    with TestClient(app) as c:
        db = app.state.db
        a, b = _key(db, "a"), _key(db, "b")
        r = c.post(f"{API}/studies", json=BRANIN)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="xbar"'
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": f"Bearer {a}"}).status_code == 200
        assert r.headers["content-type"].startswith("application/problem+json")
        assert c.get(f"{API}/studies", headers={"Authorization": "Bearer xbar_nope"}
                     ).status_code == 401
        assert c.get(f"{API}/studies", headers={"Authorization": "Basic abc"}).status_code == 401
        ha, hb = {"Authorization": f"Bearer {a}"}, {"Authorization": f"Bearer {b}"}
        sid = c.post(f"{API}/studies", json=BRANIN, headers=ha).json()["id"]
        assert c.get(f"{API}/studies/{sid}", headers=ha).status_code == 200
        r = c.get(f"{API}/studies/{sid}", headers=hb)
        missing = c.get(f"{API}/studies/{sid + 1000}", headers=hb)
        assert r.status_code == missing.status_code == 404
        assert r.json()["detail"] == f"No study with id {sid}."  # same words as a missing id
        assert c.post(f"{API}/studies/{sid}:cancel", headers=hb).status_code == 404
        assert c.get(f"{API}/studies/{sid}/pareto", headers=hb).status_code == 404
        assert c.get(f"{API}/studies", headers=hb).json()["data"] == []
        assert [s["id"] for s in c.get(f"{API}/studies", headers=ha).json()["data"]] == [sid]
        with db.session() as s:
            rows = list(s.scalars(select(ApiKey)))
        assert all(a not in (r.key_hash, r.prefix) and len(r.key_hash) == 64 for r in rows)


def test_revoked_key_is_refused_at_once(migrated_url) -> None:
    """A key revoked while the app runs gets 401 on its very next request, /metrics too."""
    app = create_app(make_settings(migrated_url, auth="on", run_driver=False))
    with TestClient(app) as c:
        db = app.state.db
        a, b = _key(db, "a"), _key(db, "b")
        sid = c.post(f"{API}/studies", json=BRANIN, headers=_bearer(a)).json()["id"]
        assert c.get(f"{API}/studies/{sid}", headers=_bearer(a)).status_code == 200
        _revoke(db, a)
        for r in (c.get(f"{API}/studies/{sid}", headers=_bearer(a)),
                  c.get(f"{API}/studies", headers=_bearer(a)),
                  c.get("/metrics", headers=_bearer(a))):
            assert r.status_code == 401
            assert r.json()["detail"] == "The API key is unknown or revoked."
            assert r.headers["www-authenticate"] == 'Bearer realm="xbar"'
        assert c.get(f"{API}/studies", headers=_bearer(b)).status_code == 200  # others unaffected


def _set_running(db, study_id: int) -> None:
    with db.session() as s:
        transition_study(s, s.get(Study, study_id), StudyState.RUNNING)


def test_admin_sees_and_acts_on_every_study(migrated_url) -> None:
    """An admin key lists, reads, pauses, resumes and cancels studies of other keys, also of a
    revoked key (running or created); a plain key still gets 404 on them and lists only its
    own."""
    app = create_app(make_settings(migrated_url, auth="on", run_driver=False))
    with TestClient(app) as c:
        db = app.state.db
        a, b, root = _key(db, "a"), _key(db, "b"), _key(db, "root", admin=True)
        run_a, new_a = (c.post(f"{API}/studies", json=BRANIN, headers=_bearer(a)).json()["id"]
                        for _ in range(2))
        sb = c.post(f"{API}/studies", json=BRANIN, headers=_bearer(b)).json()["id"]
        s_root = c.post(f"{API}/studies", json=BRANIN, headers=_bearer(root)).json()["id"]
        _set_running(db, run_a)
        _revoke(db, a)
        listed = c.get(f"{API}/studies", headers=_bearer(root)).json()["data"]
        assert [s["id"] for s in listed] == [run_a, new_a, sb, s_root]
        mine = c.get(f"{API}/studies", headers=_bearer(b)).json()["data"]
        assert [s["id"] for s in mine] == [sb]
        for sid in (run_a, s_root):
            assert c.get(f"{API}/studies/{sid}", headers=_bearer(b)).status_code == 404
            assert c.post(f"{API}/studies/{sid}:cancel", headers=_bearer(b)).status_code == 404
        r = c.get(f"{API}/studies/{run_a}", headers=_bearer(root))
        assert r.status_code == 200 and r.json()["state"] == "running"
        assert c.get(f"{API}/studies/{run_a}/pareto", headers=_bearer(root)).status_code == 200
        for action, state in (("pause", "paused"), ("resume", "running"),
                              ("cancel", "cancelled")):
            r = c.post(f"{API}/studies/{run_a}:{action}", headers=_bearer(root))
            assert r.status_code == 200 and r.json()["state"] == state
        r = c.post(f"{API}/studies/{new_a}:cancel", headers=_bearer(root))
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        r = c.post(f"{API}/studies/{sb}:cancel", headers=_bearer(root))
        assert r.status_code == 200
        assert c.get(f"{API}/studies/{sb}", headers=_bearer(b)).json()["state"] == "cancelled"
        created = c.get(f"{API}/studies", params={"state": "created"},
                        headers=_bearer(root)).json()["data"]
        assert [s["id"] for s in created] == [s_root]
