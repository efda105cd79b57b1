"""Trial listing (cursor pagination, filters) and the Pareto endpoint's ETag."""

from __future__ import annotations

from tests.app.conftest import BRANIN
from tests.app.helpers import add_trial, wait_for

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


def test_pareto_etag_and_304(client) -> None:
    """The front carries a weak ETag; sending it back answers 304 with no body until the front
    changes."""
    sid = client.post(f"{API}/studies", json=BRANIN).json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] == "completed", 60)
    r = client.get(f"{API}/studies/{sid}/pareto")
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag.startswith('W/"') and str(r.json()["pareto_version"]) in etag
    r2 = client.get(f"{API}/studies/{sid}/pareto", headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b""
    r3 = client.get(f"{API}/studies/{sid}/pareto", headers={"If-None-Match": 'W/"other"'})
    assert r3.status_code == 200


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
