"""Trial listing (cursor pagination, filters) and the Pareto endpoint's ETag."""

from __future__ import annotations

from tests.app.conftest import BRANIN
from tests.app.helpers import add_trial, complete, wait_for

API = "/api/v1"


def test_pagination_stable_while_trials_are_added(idle_client) -> None:
    """Pages follow trial numbers: trials added between page requests appear at the end, and no
    trial is skipped or repeated."""
    db = idle_client.app.state.db
    sid = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    for _ in range(5):
        add_trial(db, sid)
    p1 = idle_client.get(f"{API}/studies/{sid}/trials", params={"limit": 3}).json()
    for _ in range(4):
        add_trial(db, sid)
    seen = [t["number"] for t in p1["data"]]
    cursor = p1["next_cursor"]
    while cursor:
        page = idle_client.get(f"{API}/studies/{sid}/trials",
                               params={"limit": 3, "cursor": cursor}).json()
        seen += [t["number"] for t in page["data"]]
        cursor = page["next_cursor"]
    assert seen == list(range(9))


def test_state_filter(idle_client) -> None:
    """?state= returns only trials in that state; an unknown state is a 422."""
    db = idle_client.app.state.db
    sid = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    add_trial(db, sid, state="queued")
    add_trial(db, sid, state="failed")
    add_trial(db, sid, state="queued")
    r = idle_client.get(f"{API}/studies/{sid}/trials", params={"state": "queued"}).json()
    assert [t["number"] for t in r["data"]] == [0, 2]
    assert idle_client.get(f"{API}/studies/{sid}/trials",
                           params={"state": "weird"}).status_code == 422
    assert idle_client.get(f"{API}/studies/{sid}/trials/1").json()["state"] == "failed"
    assert idle_client.get(f"{API}/studies/{sid}/trials/77").status_code == 404


def test_pareto_etag_and_304(idle_client) -> None:
    """The front carries a weak ETag naming its version; sent back in If-None-Match it answers
    304 with no body and the same ETag while the front is unchanged (a dominated result), and
    200 with a different ETag once the front changed."""
    db = idle_client.app.state.db
    sid = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    url = f"{API}/studies/{sid}/pareto"
    complete(db, sid, {"f0": 1.0, "f1": 1.0})
    r = idle_client.get(url)
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag == f'W/"study-{sid}-pareto-1"' and r.json()["pareto_version"] == 1
    same = idle_client.get(url, headers={"If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    assert idle_client.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200

    assert complete(db, sid, {"f0": 2.0, "f1": 0.5}).on_front  # the front changes
    changed = idle_client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    new_etag = changed.headers["etag"]
    assert new_etag == f'W/"study-{sid}-pareto-2"' != etag
    assert [p["values"] for p in changed.json()["points"]] == [{"f0": 1.0, "f1": 1.0},
                                                               {"f0": 2.0, "f1": 0.5}]

    assert not complete(db, sid, {"f0": 0.5, "f1": 0.5}).on_front  # dominated: unchanged
    again = idle_client.get(url, headers={"If-None-Match": f'W/"x", {new_etag}'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", new_etag)


def test_events_stream(client) -> None:
    """The SSE feed of a finished study replays its events in id order and ends; resuming from
    an id returns only later events."""
    sid = client.post(f"{API}/studies", json=BRANIN).json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed", 60)
    text = client.get(f"{API}/studies/{sid}/events").text
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    kinds = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert ids == sorted(ids) and len(ids) >= 8
    assert kinds.count("trial.completed") == 8 and kinds[-1] == "study.state"
    later = client.get(f"{API}/studies/{sid}/events", headers={"Last-Event-ID": str(ids[3])}).text
    assert [int(x[4:]) for x in later.splitlines() if x.startswith("id: ")] == ids[4:]
    # An id beyond every storable id (PostgreSQL integer) resumes after everything: no events,
    # no storage error.
    beyond = client.get(f"{API}/studies/{sid}/events", headers={"Last-Event-ID": "9999999999"})
    assert beyond.status_code == 200
    assert [x for x in beyond.text.splitlines() if x.startswith("id: ")] == []
