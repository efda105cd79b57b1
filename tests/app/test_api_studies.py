"""REST API of studies: statuses, problem+json errors, nothing stored on bad input."""

from __future__ import annotations

import copy

import pytest

from tests.app.conftest import BRANIN

API = "/api/v1"


def _problem(r) -> dict:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body = r.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == r.status_code
    return body


def _locs(body: dict) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in body.get("errors", [])]


def test_create_get_list(idle_client) -> None:
    """A valid study is stored as 'created' with the problem's objectives and reference point."""
    r = idle_client.post(f"{API}/studies", json=BRANIN)
    assert r.status_code == 201, r.text
    s = r.json()
    assert r.headers["location"] == f"{API}/studies/{s['id']}"
    assert s["state"] == "created"
    assert s["method"] == "sobol"
    assert s["objectives"] == [
        {"name": "f0", "direction": "maximize", "ref_point": 0.0, "threshold": None},
        {"name": "f1", "direction": "maximize", "ref_point": 0.0, "threshold": None}]
    assert s["reference_point"] == [0.0, 0.0]
    assert s["search_space"]["fidelity_range"] == [0.0, 1.0]
    g = idle_client.get(f"{API}/studies/{s['id']}")
    assert g.status_code == 200 and g.json()["id"] == s["id"]
    lst = idle_client.get(f"{API}/studies").json()
    assert [x["id"] for x in lst["data"]] == [s["id"]]
    assert lst["next_cursor"] is None


def test_list_pagination(idle_client) -> None:
    """Studies page by id with an opaque cursor; a bad cursor is a 422 naming 'cursor'."""
    ids = [idle_client.post(f"{API}/studies", json={**BRANIN, "name": f"s{i}"}).json()["id"]
           for i in range(5)]
    p1 = idle_client.get(f"{API}/studies", params={"limit": 2}).json()
    p2 = idle_client.get(f"{API}/studies", params={"limit": 2, "cursor": p1["next_cursor"]}).json()
    p3 = idle_client.get(f"{API}/studies", params={"limit": 2, "cursor": p2["next_cursor"]}).json()
    got = [s["id"] for p in (p1, p2, p3) for s in p["data"]]
    assert got == ids and p3["next_cursor"] is None
    bad = idle_client.get(f"{API}/studies", params={"cursor": "!!notacursor"})
    assert bad.status_code == 422
    assert "cursor" in _locs(_problem(bad))


def test_unknown_study_is_404(idle_client) -> None:
    """Every per-study route answers 404 problem+json for an id that does not exist."""
    for path in ("/studies/999", "/studies/999/trials", "/studies/999/pareto"):
        r = idle_client.get(API + path)
        assert r.status_code == 404
        assert "999" in _problem(r)["detail"]
    r = idle_client.post(f"{API}/studies/999:pause")
    assert r.status_code == 404


def test_transitions(idle_client) -> None:
    """created -> cancelled is allowed; pausing a created study or acting on a cancelled one
    is a 409 that names the current state; an unknown action is 404."""
    sid = idle_client.post(f"{API}/studies", json=BRANIN).json()["id"]
    r = idle_client.post(f"{API}/studies/{sid}:pause")
    assert r.status_code == 409 and "'created'" in _problem(r)["detail"]
    r = idle_client.post(f"{API}/studies/{sid}:resume")
    assert r.status_code == 409
    r = idle_client.post(f"{API}/studies/{sid}:cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    for action in ("cancel", "pause", "resume"):
        r = idle_client.post(f"{API}/studies/{sid}:{action}")
        assert r.status_code == 409, action
        assert "'cancelled'" in _problem(r)["detail"]
    r = idle_client.post(f"{API}/studies/{sid}:explode")
    assert r.status_code == 404


BAD_INPUTS = [
    ("malformed json", b'{"name": "x", "problem": ', ["body"]),
    ("unknown problem", {**BRANIN, "problem": {"name": "rosenbrock-xyz"}}, ["problem.name"]),
    ("negative budget", {**BRANIN, "budget": {"max_trials": -3}}, ["budget.max_trials"]),
    ("no budget", {**BRANIN, "budget": {}}, ["budget"]),
    ("ref point length", {**BRANIN, "reference_point": [0.0, 0.0, 0.0]}, ["reference_point"]),
    ("unknown method", {**BRANIN, "optimizer": {"method": "gradient-descent"}},
     ["optimizer.method"]),
    ("unknown objective", {**BRANIN, "objectives": [{"name": "speed"}]}, ["objectives.0.name"]),
    ("bad parallelism", {**BRANIN, "parallelism": 0}, ["parallelism"]),
    ("extra field", {**BRANIN, "colour": "red"}, ["colour"]),
    ("benchmark options", {**BRANIN, "problem": {"name": "dtlz2", "options": {"dim": -1}}},
     ["problem.options"]),
]


@pytest.mark.parametrize(("case", "body", "fields"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_422_and_stores_nothing(idle_client, case, body, fields) -> None:
    """Each bad definition gets a 422 problem+json whose errors name the field; no row is
    written."""
    if isinstance(body, bytes):
        r = idle_client.post(f"{API}/studies", content=body,
                             headers={"content-type": "application/json"})
    else:
        r = idle_client.post(f"{API}/studies", json=body)
    assert r.status_code == 422, r.text
    p = _problem(r)
    locs = _locs(p)
    for f in fields:
        assert any(loc == f or loc.startswith(f) or (f == "body" and loc in ("", "body"))
                   or loc.startswith(f + ".") for loc in locs) or f in p["detail"], (case, locs)
    assert idle_client.get(f"{API}/studies").json()["data"] == []


def test_many_errors_reported_at_once(idle_client) -> None:
    """A definition with several semantic errors lists all of them in one response."""
    body = copy.deepcopy(BRANIN)
    body["reference_point"] = [1.0]
    body["optimizer"] = {"method": "nope"}
    r = idle_client.post(f"{API}/studies", json=body)
    assert r.status_code == 422
    assert {"reference_point", "optimizer.method"} <= set(_locs(_problem(r)))


def test_health(idle_client) -> None:
    """/healthz is always ok; /readyz reports the database at head."""
    assert idle_client.get("/healthz").json() == {"status": "ok"}
    r = idle_client.get("/readyz")
    assert r.json()["checks"]["database"] == "ok"


def test_metrics(idle_client) -> None:
    """/metrics exposes request counts by route and studies by state in Prometheus format."""
    idle_client.post(f"{API}/studies", json=BRANIN)
    idle_client.get(f"{API}/studies/12345")
    text = idle_client.get("/metrics").text
    assert 'xbar_studies{state="created"} 1.0' in text
    lines = [x for x in text.splitlines() if x.startswith("xbar_http_requests_total{")]
    assert any('method="GET"' in x and '/studies/{study_id}",status="404"} 1.0' in x
               for x in lines), lines


def test_problems_catalog(idle_client) -> None:
    """/problems lists crossbar, the benchmark functions and the optimizer methods."""
    body = idle_client.get(f"{API}/problems").json()
    assert body["problems"][0] == "crossbar"
    assert {"branin-currin", "momf-park", "dtlz2", "zdt1"} <= set(body["problems"])
    assert {"random", "sobol"} <= set(body["methods"])


def test_schema_names_registered_problems_and_methods(idle_client) -> None:
    """The published body schema takes its enums from the registries, requires one budget
    bound and types the search space (a list of specs discriminated by ``type``)."""
    schemas = idle_client.get("/openapi.json").json()["components"]["schemas"]
    catalog = idle_client.get(f"{API}/problems").json()
    assert schemas["ProblemIn"]["properties"]["name"]["enum"] == catalog["problems"]
    method = schemas["OptimizerIn"]["properties"]["method"]["anyOf"][0]
    assert method["enum"] == sorted(catalog["methods"])
    assert [b["required"] for b in schemas["BudgetIn"]["anyOf"]] == [
        ["max_trials"], ["max_cost_s"], ["max_wall_s"]]
    space = schemas["ProblemIn"]["properties"]["search_space"]["anyOf"][0]
    kinds = [v["properties"]["type"]["const"] for v in space["items"]["oneOf"]]
    assert kinds == ["float", "int", "ordinal", "categorical", "fixed"]


@pytest.mark.parametrize(("field", "value", "stored"), [
    ("parallelism", 2.0, 2), ("seed", 7.0, 7), ("budget", {"max_trials": 3.0}, {"max_trials": 3}),
])
def test_integral_floats_are_integers(idle_client, field, value, stored) -> None:
    """JSON Schema's ``integer`` admits ``2.0``, so the service does: stored as an int."""
    r = idle_client.post(f"{API}/studies", json={**BRANIN, field: value})
    assert r.status_code == 201, r.text
    got = r.json()[field]
    if isinstance(stored, dict):
        got = {k: v for k, v in got.items() if v is not None}
        assert type(got["max_trials"]) is int
    assert got == stored and type(got) is type(stored)


@pytest.mark.parametrize(("field", "value"), [
    ("parallelism", 2.5), ("seed", True), ("parallelism", "2"), ("seed", 1e300),
])
def test_non_integers_stay_refused(idle_client, field, value) -> None:
    before = len(idle_client.get(f"{API}/studies").json()["data"])
    r = idle_client.post(f"{API}/studies", json={**BRANIN, field: value})
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/validation"
    assert [e["loc"] for e in r.json()["errors"]] == [["body", field]]
    assert len(idle_client.get(f"{API}/studies").json()["data"]) == before
