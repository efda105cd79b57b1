"""Hostile and malformed bodies on every write endpoint, on both backends.

Each bad body gets a 4xx ``application/problem+json`` whose ``errors`` name the field, nothing
is stored, and it is answered quickly even when it asks for something huge (``dim: 10**7``):
the bound below is a guard against work proportional to a hostile number, not a speed goal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.main import create_app
from app.migrate import upgrade
from app.schemas.study import NAME_MAX, NAME_PATTERN, StudyCreate, _check_name
from tests.app.conftest import make_settings
from tests.conftest import _postgres_db

API = "/api/v1"
PATHOLOGICAL_BOUND_S = 1.0
"""Most seconds a bad body may take to be refused."""

BENCH: dict[str, Any] = {"name": "bb", "problem": {"name": "zdt1"},
                         "optimizer": {"method": "sobol"}, "budget": {"max_trials": 4}}
XBAR: dict[str, Any] = {"name": "xb", "problem": {"name": "crossbar", "workload": "digits-mlp"},
                        "optimizer": {"method": "sobol"}, "budget": {"max_trials": 2}}


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with the dotted ``path`` set to ``value``."""
    body = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return body


def _space(*params: dict[str, Any]) -> dict[str, Any]:
    return _with(XBAR, "problem.search_space", list(params))


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


Case = tuple[str, Any, tuple[Any, ...]]
"""(id, body: a JSON-able value or raw bytes, loc the errors must name)."""

MALFORMED: list[Case] = [
    ("json-open-brace", b"{", ("body",)),
    ("json-missing-value", b'{"name": }', ("body",)),
    ("json-trailing-comma", b'{"name": "x",}', ("body",)),
    ("json-not-json", b"not json at all", ("body",)),
    ("json-single-quotes", b"{'name': 'x'}", ("body",)),
    ("json-unclosed-list", b"[1, 2", ("body",)),
    ("json-raw-nul-in-string", b'{"name": "a\x00b"}', ("body",)),
    ("json-invalid-utf8", b'{"name": "\xff\xfe"}', ("body",)),
    ("json-empty", b"", ("body",)),
    ("json-nan", b'{"name": "x", "budget": {"max_cost_s": NaN}}',
     ("body", "budget", "max_cost_s")),
    ("json-infinity", b'{"reference_point": [1, Infinity]}', ("body", "reference_point", 1)),
    ("json-minus-infinity", b'{"problem": {"fixed": {"wire_r_ohm": -Infinity}}}',
     ("body", "problem", "fixed", "wire_r_ohm")),
    ("json-nan-deep-option", b'{"problem": {"workload_options": {"x": [NaN]}}}',
     ("body", "problem", "workload_options", "x", 0)),
    ("json-deep-lists", b"[" * 200 + b"]" * 200, ("body",)),
    ("json-deep-objects", json.dumps(_with(XBAR, "problem.workload_options",
                                           _nested(40))).encode(), ("body",)),
    ("json-huge-exponent", b'{"budget": {"max_cost_s": 1e999}}', ("body", "budget", "max_cost_s")),
]

WRONG_TYPES: list[Case] = [
    ("body-list", [], ("body",)),
    ("body-string", "study", ("body",)),
    ("body-number", 3, ("body",)),
    ("body-null", None, ("body",)),
    ("unknown-top-field", {**BENCH, "colour": "red"}, ("body", "colour")),
    ("name-number", _with(BENCH, "name", 3), ("body", "name")),
    ("name-null", _with(BENCH, "name", None), ("body", "name")),
    ("name-list", _with(BENCH, "name", ["a"]), ("body", "name")),
    ("problem-string", _with(BENCH, "problem", "zdt1"), ("body", "problem")),
    ("problem-missing", {k: v for k, v in BENCH.items() if k != "problem"}, ("body", "problem")),
    ("budget-number", _with(BENCH, "budget", 5), ("body", "budget")),
    ("budget-empty", _with(BENCH, "budget", {}), ("body", "budget")),
    ("max-trials-true", _with(BENCH, "budget.max_trials", True), ("body", "budget", "max_trials")),
    ("max-trials-string", _with(BENCH, "budget.max_trials", "5"),
     ("body", "budget", "max_trials")),
    ("max-trials-float", _with(BENCH, "budget.max_trials", 5.5),
     ("body", "budget", "max_trials")),
    ("max-trials-zero", _with(BENCH, "budget.max_trials", 0), ("body", "budget", "max_trials")),
    ("max-cost-string", _with(BENCH, "budget.max_cost_s", "10"),
     ("body", "budget", "max_cost_s")),
    ("max-cost-true", _with(BENCH, "budget.max_cost_s", True), ("body", "budget", "max_cost_s")),
    ("max-cost-negative", _with(BENCH, "budget.max_cost_s", -1.0),
     ("body", "budget", "max_cost_s")),
    ("max-wall-zero", _with(BENCH, "budget.max_wall_s", 0), ("body", "budget", "max_wall_s")),
    ("parallelism-true", _with(BENCH, "parallelism", True), ("body", "parallelism")),
    ("seed-negative", _with(BENCH, "seed", -1), ("body", "seed")),
    ("seed-string", _with(BENCH, "seed", "7"), ("body", "seed")),
    ("objectives-string", _with(BENCH, "objectives", "f0"), ("body", "objectives")),
    ("objectives-number-item", _with(BENCH, "objectives", [3]), ("body", "objectives", 0)),
    ("objective-bad-direction", _with(BENCH, "objectives", [{"name": "f0", "direction": "up"}]),
     ("body", "objectives", 0, "direction")),
    ("reference-point-string", _with(BENCH, "reference_point", "x"),
     ("body", "reference_point")),
    ("reference-point-bool", _with(BENCH, "reference_point", [True, 1.0]),
     ("body", "reference_point", 0)),
    ("optimizer-string", _with(BENCH, "optimizer", "sobol"), ("body", "optimizer")),
    ("method-number", _with(BENCH, "optimizer.method", 5), ("body", "optimizer", "method")),
    ("workload-options-list", _with(XBAR, "problem.workload_options", []),
     ("body", "problem", "workload_options")),
    ("fixed-list", _with(XBAR, "problem.fixed", [1]), ("body", "problem", "fixed")),
    ("search-space-string", _with(XBAR, "problem.search_space", "default"),
     ("body", "problem", "search_space")),
]

HUGE: list[Case] = [
    ("max-trials-10e30", _with(BENCH, "budget.max_trials", 10**30),
     ("body", "budget", "max_trials")),
    ("max-cost-1e308", _with(BENCH, "budget.max_cost_s", 1e308),
     ("body", "budget", "max_cost_s")),
    ("max-wall-1e308", _with(BENCH, "budget.max_wall_s", 1e308),
     ("body", "budget", "max_wall_s")),
    ("parallelism-10e30", _with(BENCH, "parallelism", 10**30), ("body", "parallelism")),
    ("seed-10e30", _with(BENCH, "seed", 10**30), ("body", "seed")),
    ("reference-point-1e308", _with(BENCH, "reference_point", [1e308, 1e308]),
     ("body", "reference_point", 0)),
    ("objective-ref-1e308", _with(BENCH, "objectives", [{"name": "f0", "ref_point": -1e308}]),
     ("body", "objectives", 0, "ref_point")),
    ("zdt1-dim-10e7", _with(BENCH, "problem.options", {"dim": 10**7}),
     ("body", "problem", "options", "dim")),
    ("zdt1-dim-10e30", _with(BENCH, "problem.options", {"dim": 10**30}),
     ("body", "problem", "options", "dim")),
    ("dtlz2-objectives-10e7", {**BENCH, "problem": {"name": "dtlz2", "options": {
        "dim": 12, "num_objectives": 10**7}}}, ("body", "problem", "options", "num_objectives")),
    ("dtlz2-dim-1e308", {**BENCH, "problem": {"name": "dtlz2", "options": {"dim": 1e308}}},
     ("body", "problem", "options", "dim")),
    ("fixed-rows-10e30", _with(XBAR, "problem.fixed", {"rows": 10**30}),
     ("body", "problem", "fixed", "rows")),
    ("fixed-float-1e308", _with(XBAR, "problem.fixed", {"wire_r_ohm": 1e308}),
     ("body", "problem", "fixed", "wire_r_ohm")),
    ("space-high-10e30", _space({"name": "rows", "type": "int", "low": 32, "high": 10**30}),
     ("body", "problem", "search_space", 0, "high")),
    ("space-float-1e308", _space({"name": "prog_sigma", "type": "float", "low": 0.0,
                                  "high": 1e308}),
     ("body", "problem", "search_space", 0, "high")),
    ("cifar10-epochs-10e7", _with(XBAR, "problem", {"name": "crossbar", "workload": "cifar10",
                                                    "workload_options": {"epochs": 10**7}}),
     ("body", "problem", "workload_options", "epochs")),
    ("name-10000-chars", _with(BENCH, "name", "n" * 10_000), ("body", "name")),
]

NAMES: list[Case] = [
    ("name-nul", _with(BENCH, "name", "a\u0000b"), ("body", "name")),
    ("name-bell", _with(BENCH, "name", "ring\u0007"), ("body", "name")),
    ("name-ansi-escape", _with(BENCH, "name", "\u001b[31mred"), ("body", "name")),
    ("name-newline", _with(BENCH, "name", "two\nlines"), ("body", "name")),
    ("name-bidi-override", _with(BENCH, "name", "abc\u202edcba"), ("body", "name")),
    ("name-lone-surrogate", b'{"name": "x\\ud800", "problem": {"name": "zdt1"}, '
                            b'"budget": {"max_trials": 1}}', ("body", "name")),
    ("name-empty", _with(BENCH, "name", ""), ("body", "name")),
    ("name-blank", _with(BENCH, "name", "   "), ("body", "name")),
    ("name-201-chars", _with(BENCH, "name", "n" * 201), ("body", "name")),
    ("problem-name-nul", _with(BENCH, "problem.name", "zdt1\u0000"), ("body", "problem", "name")),
    ("workload-nul", _with(XBAR, "problem.workload", "digits\u0000"),
     ("body", "problem", "workload")),
    ("method-nul", _with(BENCH, "optimizer.method", "sobol\u0000"),
     ("body", "optimizer", "method")),
    ("objective-name-nul", _with(BENCH, "objectives", [{"name": "f0\u0000"}]),
     ("body", "objectives", 0, "name")),
    ("option-key-nul", _with(BENCH, "optimizer.options", {"a\u0000": 1}),
     ("body", "optimizer", "options")),
    ("fixed-string-nul", _with(XBAR, "problem.fixed", {"encoding": "offset\u0000"}),
     ("body", "problem", "fixed")),
    ("problem-name-sql", _with(BENCH, "problem.name", "zdt1'; DROP TABLE studies;--"),
     ("body", "problem", "name")),
    ("objective-name-sql", _with(BENCH, "objectives", [{"name": "f0' OR '1'='1"}]),
     ("body", "objectives", 0, "name")),
    ("problem-name-unicode", _with(BENCH, "problem.name", "クロスバー"),
     ("body", "problem", "name")),
    ("workload-fullwidth", _with(XBAR, "problem.workload", "ｄｉｇｉｔｓ-ｍｌｐ"),
     ("body", "problem", "workload")),
]

SEMANTIC: list[Case] = [
    ("unknown-problem", _with(BENCH, "problem.name", "rosenbrock"), ("body", "problem", "name")),
    ("unknown-method", _with(BENCH, "optimizer.method", "gradient-descent"),
     ("body", "optimizer", "method")),
    ("unknown-optimizer-option", _with(BENCH, "optimizer.options", {"flux": 1}),
     ("body", "optimizer", "options", "flux")),
    ("unknown-objective", _with(BENCH, "objectives", [{"name": "speed"}]),
     ("body", "objectives", 0, "name")),
    ("reference-point-length", _with(BENCH, "reference_point", [1.0]),
     ("body", "reference_point")),
    ("zdt1-dim-1", _with(BENCH, "problem.options", {"dim": 1}),
     ("body", "problem", "options", "dim")),
    ("zdt1-dim-true", _with(BENCH, "problem.options", {"dim": True}),
     ("body", "problem", "options", "dim")),
    ("zdt1-unknown-option", _with(BENCH, "problem.options", {"colour": "red"}),
     ("body", "problem", "options", "colour")),
    ("branin-any-option", {**BENCH, "problem": {"name": "branin-currin", "options": {"dim": 3}}},
     ("body", "problem", "options", "dim")),
    ("benchmark-with-workload", _with(BENCH, "problem.workload", "digits-mlp"),
     ("body", "problem", "workload")),
    ("unknown-workload", _with(XBAR, "problem.workload", "imagenet"),
     ("body", "problem", "workload")),
    ("unknown-workload-option", _with(XBAR, "problem.workload_options", {"colour": "red"}),
     ("body", "problem", "workload_options", "colour")),
    ("workload-option-wrong-type", _with(XBAR, "problem.workload_options", {"retrain": "yes"}),
     ("body", "problem", "workload_options", "retrain")),
    ("cifar10-without-data", _with(XBAR, "problem.workload", "cifar10"),
     ("body", "problem", "workload")),
    ("option-data-dir", _with(XBAR, "problem.workload_options", {"data_dir": "/tmp"}),
     ("body", "problem", "workload_options", "data_dir")),
    ("option-cache-dir", _with(XBAR, "problem.workload_options", {"cache_dir": "/tmp/c"}),
     ("body", "problem", "workload_options", "cache_dir")),
    ("option-named-path", _with(XBAR, "problem.workload_options", {"model_path": 3}),
     ("body", "problem", "workload_options", "model_path")),
    ("option-named-file", _with(XBAR, "problem.workload_options", {"weights_file": "w"}),
     ("body", "problem", "workload_options", "weights_file")),
    ("option-value-path", _with(XBAR, "problem.workload_options", {"mode": "../../etc/passwd"}),
     ("body", "problem", "workload_options", "mode")),
    ("option-value-home", _with(XBAR, "problem.workload_options", {"mode": "~root"}),
     ("body", "problem", "workload_options", "mode")),
    ("option-value-url", _with(XBAR, "problem.workload_options", {"mode": "file:x.pkl"}),
     ("body", "problem", "workload_options", "mode")),
    ("crossbar-options", _with(XBAR, "problem.options", {"dim": 2}),
     ("body", "problem", "options")),
    ("fixed-unknown-field", _with(XBAR, "problem.fixed", {"flux": 1}),
     ("body", "problem", "fixed", "flux")),
    ("fixed-adc-bits-0", _with(XBAR, "problem.fixed", {"adc_bits": 0}),
     ("body", "problem", "fixed", "adc_bits")),
    ("fixed-rows-negative", _with(XBAR, "problem.fixed", {"rows": -64}),
     ("body", "problem", "fixed", "rows")),
    ("fixed-rows-string", _with(XBAR, "problem.fixed", {"rows": "128"}),
     ("body", "problem", "fixed", "rows")),
    ("fixed-unknown-encoding", _with(XBAR, "problem.fixed", {"encoding": "quantum"}),
     ("body", "problem", "fixed", "encoding")),
    ("fixed-relation", _with(XBAR, "problem.fixed", {"dac_bits": 4, "input_bits": 2}),
     ("body", "problem", "fixed")),
    ("space-empty", _with(XBAR, "problem.search_space", []), ("body", "problem", "search_space")),
    ("space-unknown-param", _space({"name": "flux", "type": "int", "low": 1, "high": 2}),
     ("body", "problem", "search_space", 0, "name")),
    ("space-unknown-choice", _space({"name": "encoding", "type": "categorical",
                                     "choices": ["differential", "quantum"]}),
     ("body", "problem", "search_space", 0, "choices", 1)),
    ("space-rows-negative-values", _space({"name": "rows", "type": "ordinal",
                                           "values": [-64, 0]}),
     ("body", "problem", "search_space", 0, "values", 0)),
    ("space-rows-negative-range", _space({"name": "rows", "type": "int", "low": -64, "high": 0}),
     ("body", "problem", "search_space", 0, "low")),
    ("space-adc-bits-0-100", _space({"name": "adc_bits", "type": "int", "low": 0, "high": 100}),
     ("body", "problem", "search_space", 0, "high")),
    ("space-float-on-int-field", _space({"name": "rows", "type": "float", "low": 32.0,
                                         "high": 64.0}),
     ("body", "problem", "search_space", 0, "type")),
    ("space-unknown-node", _space({"name": "tech_node_nm", "type": "ordinal", "values": [7, 22]}),
     ("body", "problem", "search_space", 0, "values", 0)),
    ("space-fixed-param", _space({"name": "cell_bits", "type": "fixed", "value": 9}),
     ("body", "problem", "search_space", 0, "value")),
    ("space-duplicate", _space({"name": "adc_bits", "type": "int", "low": 3, "high": 5},
                               {"name": "adc_bits", "type": "int", "low": 4, "high": 6}),
     ("body", "problem", "search_space", 1, "name")),
    ("space-dict-form", _with(XBAR, "problem.search_space", {"params": [
        {"name": "cols", "type": "ordinal", "values": [128, 4096]}]}),
     ("body", "problem", "search_space", "params", 0, "values", 1)),
    ("space-low-above-high", _space({"name": "adc_bits", "type": "int", "low": 6, "high": 3}),
     ("body", "problem", "search_space")),
    ("space-fidelity-range", _with(XBAR, "problem.search_space", {
        "params": [{"name": "adc_bits", "type": "int", "low": 3, "high": 6}],
        "fidelity_range": [0.0, 5.0]}), ("body", "problem", "search_space")),
    ("space-param-not-object", _space("rows"), ("body", "problem", "search_space", 0)),
]

PAIRS: list[tuple[str, dict[str, Any], list[tuple[Any, ...]]]] = [
    # (id, body, the loc of each parameter the 422 must name)
    ("pair-dac-above-searched-input",
     _space({"name": "dac_bits", "type": "ordinal", "values": [1, 4]},
            {"name": "input_bits", "type": "int", "low": 2, "high": 8}),
     [("body", "problem", "search_space", 0), ("body", "problem", "search_space", 1)]),
    ("pair-dac-above-fixed-input",
     _with(_space({"name": "dac_bits", "type": "ordinal", "values": [1, 2, 4]}),
           "problem.fixed", {"input_bits": 2}),
     [("body", "problem", "search_space", 0), ("body", "problem", "fixed", "input_bits")]),
    ("pair-dac-range-above-input-values",
     _space({"name": "dac_bits", "type": "int", "low": 1, "high": 8},
            {"name": "input_bits", "type": "ordinal", "values": [4, 8]}),
     [("body", "problem", "search_space", 0), ("body", "problem", "search_space", 1)]),
    ("pair-cols-per-adc-not-dividing",
     _space({"name": "cols", "type": "int", "low": 64, "high": 96},
            {"name": "cols_per_adc", "type": "ordinal", "values": [1, 32]}),
     [("body", "problem", "search_space", 0), ("body", "problem", "search_space", 1)]),
    ("pair-cols-per-adc-with-default-cols",  # cols keeps its default (128): no loc
     _space({"name": "cols_per_adc", "type": "ordinal", "values": [1, 3]}),
     [("body", "problem", "search_space", 0)]),
    ("pair-g-on-below-g-off",
     _space({"name": "g_on_us", "type": "float", "low": 1.0, "high": 20.0},
            {"name": "g_off_us", "type": "float", "low": 0.5, "high": 2.0}),
     [("body", "problem", "search_space", 0), ("body", "problem", "search_space", 1)]),
    ("pair-saf-sum-above-1", _with(
        _space({"name": "saf_sa0", "type": "float", "low": 0.0, "high": 0.7}),
        "problem.fixed", {"saf_sa1": 0.5}),
     [("body", "problem", "search_space", 0), ("body", "problem", "fixed", "saf_sa1")]),
]
"""Search spaces whose values are each allowed but some combination breaks a cross-field
rule of CrossbarConfig."""

PAIR_FIELDS = {"pair-dac-above-searched-input": ("dac_bits", "input_bits"),
               "pair-dac-above-fixed-input": ("dac_bits", "input_bits"),
               "pair-dac-range-above-input-values": ("dac_bits", "input_bits"),
               "pair-cols-per-adc-with-default-cols": ("cols_per_adc", "cols"),
               "pair-cols-per-adc-not-dividing": ("cols_per_adc", "cols"),
               "pair-g-on-below-g-off": ("g_on_us", "g_off_us"),
               "pair-saf-sum-above-1": ("saf_sa0", "saf_sa1")}

SEMANTIC += [(case, body, locs[0]) for case, body, locs in PAIRS]

CASES: list[Case] = MALFORMED + WRONG_TYPES + HUGE + NAMES + SEMANTIC


def test_there_are_enough_cases() -> None:
    """The brief asks for at least 80 distinct bad bodies."""
    assert len(CASES) >= 80
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, int]]:
    """One idle app (no driver) per backend for the module, and one stored study."""
    postgres = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bad-bodies') / 'xbar.db'}"
    else:
        postgres = _postgres_db()
        url = next(postgres)
    try:
        upgrade(url)
        app = create_app(make_settings(url, run_driver=False))
        with TestClient(app) as client:
            r = client.post(f"{API}/studies", json=BENCH)
            assert r.status_code == 201, r.text
            yield client, r.json()["id"]
    finally:
        if postgres is not None:
            postgres.close()


def _count(client: TestClient) -> int:
    return len(client.get(f"{API}/studies", params={"limit": 500}).json()["data"])


def _post(client: TestClient, path: str, body: Any) -> tuple[Any, float]:
    """POST ``body`` (raw bytes as JSON text, else JSON-encoded); the response and seconds."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    t0 = time.perf_counter()
    r = client.post(path, content=content, headers={"content-type": "application/json"})
    return r, time.perf_counter() - t0


def _assert_refused(r: Any, elapsed: float, loc: tuple[Any, ...] | None) -> None:
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert elapsed < PATHOLOGICAL_BOUND_S, elapsed
    problem = r.json()
    errors = problem.get("errors", [])
    assert errors, problem
    if loc is not None:
        assert any(tuple(e["loc"][:len(loc)]) == loc for e in errors), (loc, errors)


@pytest.mark.parametrize(("case", "body", "loc"), CASES, ids=[c[0] for c in CASES])
def test_create_refuses_bad_body(api, case, body, loc) -> None:
    """POST /studies: 4xx problem+json naming the field; the study count is unchanged."""
    client, _ = api
    before = _count(client)
    r, elapsed = _post(client, f"{API}/studies", body)
    _assert_refused(r, elapsed, loc)
    assert _count(client) == before


def test_too_large_body_is_413(api) -> None:
    """A body over XBAR_MAX_BODY_BYTES is refused while it streams in; nothing is stored."""
    client, _ = api
    before = _count(client)
    r, _ = _post(client, f"{API}/studies", _with(BENCH, "name", "n" * 2_000_000))
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _count(client) == before


def test_every_bad_field_is_listed_at_once(api) -> None:
    """One body with many bad crossbar fields: one 422 with an entry at each field's loc."""
    client, _ = api
    body = {"name": "many", "problem": {
        "name": "crossbar", "workload": "digits-mlp",
        "workload_options": {"data_dir": "/tmp", "colour": 1},
        "fixed": {"adc_bits": 0, "rows": -1, "flux": 2},
        "search_space": [{"name": "rows", "type": "ordinal", "values": [-64, 0]},
                         {"name": "adc_bits", "type": "int", "low": 0, "high": 100},
                         {"name": "encoding", "type": "categorical", "choices": ["quantum"]},
                         {"name": "nope", "type": "int", "low": 1, "high": 2}]},
        "optimizer": {"method": "sobol", "options": {"flux": 1}}, "budget": {"max_trials": 2}}
    r, _ = _post(client, f"{API}/studies", body)
    assert r.status_code == 422, r.text
    locs = {".".join(str(p) for p in e["loc"][1:]) for e in r.json()["errors"]}
    assert locs == {
        "problem.workload_options.data_dir", "problem.workload_options.colour",
        "problem.fixed.adc_bits", "problem.fixed.rows", "problem.fixed.flux",
        "problem.search_space.0.values.0", "problem.search_space.0.values.1",
        "problem.search_space.1.low", "problem.search_space.1.high",
        "problem.search_space.2.choices.0", "problem.search_space.3.name",
        "optimizer.options.flux"}, locs


def test_pydantic_level_errors_are_all_listed(api) -> None:
    """Structural errors in several places come back together too."""
    client, _ = api
    body = {"name": "a\u0000", "problem": {"name": "zdt1"}, "parallelism": True,
            "budget": {"max_trials": True, "max_cost_s": 1e308}, "reference_point": [1e308]}
    r, _ = _post(client, f"{API}/studies", body)
    assert r.status_code == 422
    locs = {".".join(str(p) for p in e["loc"][1:]) for e in r.json()["errors"]}
    assert {"name", "parallelism", "budget.max_trials", "budget.max_cost_s",
            "reference_point.0"} <= locs


@pytest.mark.parametrize("name", ["x'; DROP TABLE studies;--", "Robert'); --",
                                  "设计 空间 ✓ 👩‍🔬", "tab-free \"quotes\" and \\backslash"])
def test_printable_names_are_stored_literally(api, name) -> None:
    """SQL-looking or non-ASCII printable names are valid: stored and returned unchanged."""
    client, _ = api
    before = _count(client)
    r = client.post(f"{API}/studies", json=_with(BENCH, "name", name))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name
    assert client.get(f"{API}/studies/{r.json()['id']}").json()["name"] == name
    assert _count(client) == before + 1


NO_BODY = {"json-empty", "body-null"}
"""Cases that are a valid "no body" for an action."""


@pytest.mark.parametrize("action", ["pause", "resume", "cancel", "frobnicate"])
def test_actions_refuse_bad_bodies(api, action) -> None:
    """POST /studies/{id}:<action> with each bad body (an action takes none, or ``{}``): 4xx
    problem+json with errors at ``body...``, nothing stored, the study's state unchanged."""
    client, sid = api
    state = client.get(f"{API}/studies/{sid}").json()["state"]
    before = _count(client)
    for case, body, _ in CASES:
        if case not in NO_BODY:
            r, elapsed = _post(client, f"{API}/studies/{sid}:{action}", body)
            _assert_refused(r, elapsed, ("body",))
    assert _count(client) == before
    assert client.get(f"{API}/studies/{sid}").json()["state"] == state


@pytest.mark.parametrize(("case", "body", "locs"), PAIRS, ids=[c[0] for c in PAIRS])
def test_cross_field_rules_name_both_parameters(api, case, body, locs) -> None:
    """A space one of whose combinations breaks a pairwise config rule is a 422 naming both
    parameters (by loc, and by name in the message); nothing is stored."""
    client, _ = api
    before = _count(client)
    r, _ = _post(client, f"{API}/studies", body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "/problems/validation"
    assert sorted(tuple(e["loc"]) for e in problem["errors"]) == sorted(locs)
    a, b = PAIR_FIELDS[case]
    for e in problem["errors"]:
        assert f"{a}=" in e["msg"] and f"{b}=" in e["msg"], e["msg"]
    assert _count(client) == before


def test_a_linear_constraint_can_keep_a_pair_valid(api) -> None:
    """``dac_bits - input_bits <= 0`` as a linear constraint of the space means the bad
    combinations are never produced: the study is created."""
    client, _ = api
    body = _with(XBAR, "problem.search_space", {
        "params": [{"name": "dac_bits", "type": "int", "low": 1, "high": 4},
                   {"name": "input_bits", "type": "int", "low": 2, "high": 8}],
        "constraints": [{"coefficients": {"dac_bits": 1.0, "input_bits": -1.0}, "upper": 0.0}]})
    before = _count(client)
    r, _ = _post(client, f"{API}/studies", body)
    assert r.status_code == 201, r.text
    assert _count(client) == before + 1
    without = _with(body, "problem.search_space.constraints", [])
    assert _post(client, f"{API}/studies", without)[0].status_code == 422


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda s: 1 <= len(s) <= NAME_MAX))
def test_published_name_pattern_is_the_name_rule(name: str) -> None:
    """Every name the published ``pattern`` admits is accepted at creation (what Schemathesis
    generates), and control, format and blank names stay refused."""
    assert _check_name(name) == name
    for bad in ("   ", "a\x00b", "x\u202ey", "\ufeffz", "\x85", "\u2028"):
        with pytest.raises(ValueError):
            _check_name(bad)
    assert StudyCreate.model_json_schema()["properties"]["name"]["pattern"] == NAME_PATTERN
