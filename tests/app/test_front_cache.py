"""The serialized-front cache of ``GET /pareto``: keyed by study, creation time and front
version; never stale, never a mix of two versions."""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter

import app.services.studies as studies
from app.models import Study
from app.schemas.trial import ParetoPublic, PredictedParetoPublic
from app.services.studies import FrontBodies, front_json, pareto_front
from tests.app.conftest import BRANIN
from tests.app.helpers import complete

API = "/api/v1"
T0, T1 = datetime(2026, 1, 1), datetime(2026, 1, 2)


def test_front_bodies_key_and_bound() -> None:
    """A body is found only under its study, creation time and version; an older version
    never replaces a newer one; the least recently asked study goes first."""
    bodies = FrontBodies(max_studies=2)
    bodies.put(1, T0, 3, b"v3")
    assert bodies.get(1, T0, 3) == b"v3"
    assert bodies.get(1, T0, 2) is None and bodies.get(1, T1, 3) is None
    bodies.put(1, T0, 2, b"v2")  # a slow reader of an older version
    assert bodies.get(1, T0, 3) == b"v3"
    bodies.put(1, T1, 0, b"new study")  # the id reused by a newer study
    assert bodies.get(1, T1, 0) == b"new study" and bodies.get(1, T0, 3) is None
    bodies.put(2, T0, 1, b"two")
    assert bodies.get(1, T1, 0) == b"new study"  # study 1 is now the most recent
    bodies.put(3, T0, 1, b"three")
    assert bodies.get(2, T0, 1) is None
    assert (bodies.get(1, T1, 0), bodies.get(3, T0, 1)) == (b"new study", b"three")


def test_cached_body_is_the_response_model_and_follows_the_front(idle_client) -> None:
    """Each answer is byte for byte what the ``ParetoPublic`` response model serializes from
    the database, before and after the front changes; a dominated result keeps it."""
    db = idle_client.app.state.db
    sid = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    url = f"{API}/studies/{sid}/pareto"
    adapter = TypeAdapter(ParetoPublic | PredictedParetoPublic)

    def expected() -> bytes:
        with db.session() as s:
            return adapter.dump_json(pareto_front(s, s.get(Study, sid)))

    empty = idle_client.get(url)
    assert (empty.content, empty.json()["points"]) == (expected(), [])
    complete(db, sid, {"f0": 1.0, "f1": 1.0})
    first, again = idle_client.get(url), idle_client.get(url)
    assert first.content == again.content == expected()
    assert first.headers["content-type"] == "application/json"
    assert (first.headers["cache-control"], first.headers["etag"]) == \
        ("no-cache", f'W/"study-{sid}-pareto-1"')
    complete(db, sid, {"f0": 2.0, "f1": 0.5})
    changed = idle_client.get(url)
    assert changed.content == expected() != first.content
    assert [p["values"] for p in changed.json()["points"]] == [{"f0": 1.0, "f1": 1.0},
                                                               {"f0": 2.0, "f1": 0.5}]
    complete(db, sid, {"f0": 0.5, "f1": 0.5})  # dominated: same version, same body
    assert idle_client.get(url).content == changed.content


def test_deleted_study_leaves_no_body_behind(idle_client) -> None:
    """A study created after a deletion (SQLite may give it the same id) gets its own front,
    not the deleted study's cached one."""
    db = idle_client.app.state.db
    sid = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    complete(db, sid, {"f0": 1.0, "f1": 1.0})
    assert len(idle_client.get(f"{API}/studies/{sid}/pareto").json()["points"]) == 1
    assert idle_client.delete(f"{API}/studies/{sid}").status_code == 204
    assert idle_client.get(f"{API}/studies/{sid}/pareto").status_code == 404
    new = idle_client.post(f"{API}/studies", json={**BRANIN, "name": "again"}).json()["id"]
    front = idle_client.get(f"{API}/studies/{new}/pareto").json()
    assert (front["study_id"], front["pareto_version"], front["points"]) == (new, 0, [])


def test_a_front_read_during_an_update_is_not_cached(database, monkeypatch) -> None:
    """When the front's version moves while its points are read, the body is read again, and
    only a body whose version did not move is stored."""
    with database.session() as s:
        sid = studies.create_study(s, studies.StudyCreate(**BRANIN), None).id
    complete(database, sid, {"f0": 1.0, "f1": 1.0})
    calls = []

    def racing(session, study):  # the first read sees an update land right after it
        front = pareto_front(session, study)
        if not calls:
            complete(database, sid, {"f0": 2.0, "f1": 0.5})
        calls.append(study.pareto_version)
        return front

    monkeypatch.setattr(studies, "pareto_front", racing)
    bodies = FrontBodies()
    with database.session() as s:
        version, body = front_json(s, sid, bodies)
    assert calls == [1, 2] and version == 2
    assert bodies.get(sid, _created_at(database, sid), 1) is None
    assert bodies.get(sid, _created_at(database, sid), 2) == body
    assert ParetoPublic.model_validate_json(body).pareto_version == 2
    assert len(ParetoPublic.model_validate_json(body).points) == 2


def _created_at(database, sid: int) -> datetime:
    with database.session() as s:
        return s.get(Study, sid).created_at
