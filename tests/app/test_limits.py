"""Request limits (``app.api.limits``): body size, JSON depth and non-finite numbers are refused
with problem+json before any route runs, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.api.limits import nests_deeper, non_finite_locs, parse_json
from app.main import create_app
from tests.app.conftest import BRANIN, make_settings

API = "/api/v1"


def _count(c: TestClient) -> int:
    return len(c.get(f"{API}/studies?limit=500").json()["data"])


@pytest.fixture
def small_client(migrated_url: str):
    app = create_app(make_settings(migrated_url, run_driver=False, max_body_bytes=4096))
    with TestClient(app) as c:
        yield c


def test_body_over_the_limit_is_413(small_client: TestClient) -> None:
    """A body one byte over ``max_body_bytes`` gets 413 problem+json; at the limit it is read."""
    body = {**BRANIN, "name": "x" * 5000}
    r = small_client.post(f"{API}/studies", content=json.dumps(body),
                          headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 413 and "4096" in r.json()["detail"]
    assert r.headers["x-request-id"]
    assert _count(small_client) == 0


def test_chunked_body_over_the_limit_is_413(small_client: TestClient) -> None:
    """A body without Content-Length is counted as it streams."""
    def gen():
        for _ in range(10):
            yield b" " * 1000
    r = small_client.post(f"{API}/studies", content=gen(),
                          headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_deep_json_is_422(small_client: TestClient) -> None:
    body = '{"name": "d", "problem": {"name": "branin-currin", "options": ' + "[" * 40 + \
           "]" * 40 + "}}"
    r = small_client.post(f"{API}/studies", content=body,
                          headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "json_too_deep"
    assert _count(small_client) == 0


def test_non_finite_numbers_are_422_with_every_loc(small_client: TestClient) -> None:
    """NaN and Infinity anywhere in a body are refused, each named by its loc."""
    body = ('{"name": "n", "problem": {"name": "branin-currin"}, "budget": {"max_cost_s": '
            'Infinity}, "objectives": [{"name": "f1", "direction": "minimize", '
            '"ref_point": NaN}]}')
    r = small_client.post(f"{API}/studies", content=body,
                          headers={"content-type": "application/json"})
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["errors"]]
    assert locs == [["body", "budget", "max_cost_s"], ["body", "objectives", 0, "ref_point"]]
    assert _count(small_client) == 0


def test_depth_scan_ignores_brackets_in_strings() -> None:
    for text, deep in [('{"a": "[[[[[[[[[[\\"[[[["}', False), ('{"a": [[[1]]]}', True),
                       ('{"a": [[1]]}', False), ("[" * 5000 + "]" * 5000, True)]:
        try:
            parsed, _ = parse_json(text)
        except RecursionError:  # past the interpreter's limit: the middleware says too deep
            assert deep
            continue
        assert nests_deeper(parsed, 3) is deep, text


def test_non_finite_numbers_are_found_in_one_parse_and_walk() -> None:
    parsed, seen = parse_json('{"a": [1.0, -Infinity], "b": {"c": NaN}, "d": "NaN", '
                              '"e": [[Infinity]]}')
    assert seen
    assert non_finite_locs(parsed) == [["body", "a", 1], ["body", "b", "c"], ["body", "e", 0, 0]]
    assert parse_json('{"a": [1.5, "Infinity"]}')[1] is False


def test_per_study_caps_come_from_the_app_settings(migrated_url: str) -> None:
    """The route enforces the app's own caps (not the process environment's)."""
    app = create_app(make_settings(migrated_url, run_driver=False, max_parallelism=2,
                                   max_trials_per_study=5))
    with TestClient(app) as c:
        r = c.post(f"{API}/studies", json={**BRANIN, "parallelism": 3,
                                            "budget": {"max_trials": 6}})
        assert r.status_code == 422
        assert sorted(e["loc"] for e in r.json()["errors"]) == [
            ["body", "budget", "max_trials"], ["body", "parallelism"]]
        assert _count(c) == 0
        assert c.post(f"{API}/studies", json={**BRANIN, "parallelism": 2,
                                               "budget": {"max_trials": 5}}).status_code == 201
