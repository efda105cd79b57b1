"""API keys: 401 without or with a bad key, 404 on another key's study (as on a missing one),
keys stored hashed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.security import generate_key
from app.main import create_app
from app.models import ApiKey
from tests.app.conftest import BRANIN, make_settings

API = "/api/v1"


def _key(db, name: str) -> str:
    key, prefix, key_hash = generate_key()
    with db.session() as s:
        s.add(ApiKey(name=name, prefix=prefix, key_hash=key_hash))
    return key


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
