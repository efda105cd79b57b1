"""The per-problem study schema published in ``/openapi.json`` (issue 11,
:mod:`app.schemas.study_schema`): written from the declarations the creation checks apply,
agreeing with ``POST /studies:validate`` on the bodies below, and admitting only bodies creation
accepts (generated bodies are all 204); what it leaves out is still accepted."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.problems.benchmarks import BENCHMARK_OPTIONS
from app.schemas.crossbar_space import published_fields
from simulator.config import FIELD_CONSTRAINTS, Choice, FloatRange, IntRange
from tests.app.conftest import BRANIN, make_settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    settings = make_settings("sqlite://", run_driver=False, max_parallelism=8,
                             max_trials_per_study=500)
    return copy.deepcopy(create_app(settings).openapi())


@pytest.fixture(scope="module")
def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"]


def _without_patterns(schema: Any) -> Any:
    """``schema`` without its string ``pattern``s (the name rule's ``\\u`` escapes are not in
    this validator's regex dialect; the bodies below use plain names)."""
    if isinstance(schema, dict):
        return {k: _without_patterns(v) for k, v in schema.items()
                if not (k == "pattern" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_without_patterns(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def is_valid(spec: dict[str, Any]) -> Any:
    components = _without_patterns(copy.deepcopy(spec["components"]))
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/StudyCreate", "components": components})

    return validator.is_valid


@pytest.fixture
def api(migrated_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(migrated_url, run_driver=False, max_parallelism=8,
                                   max_trials_per_study=500))
    with TestClient(app) as c:
        yield c


def test_fixed_fields_carry_the_config_constraints(schemas: dict[str, Any]) -> None:
    fixed = schemas["CrossbarFixed"]["properties"]
    assert set(fixed) == set(published_fields()) < set(FIELD_CONSTRAINTS)
    # a cross-field rule's fields are left out, but one whose every value holds by default
    assert {"dac_bits", "cols", "cols_per_adc", "g_on_us", "g_off_us"}.isdisjoint(fixed)
    assert "input_bits" in fixed
    for name, c in FIELD_CONSTRAINTS.items():
        if name not in fixed:
            continue
        if isinstance(c, IntRange):
            assert (fixed[name]["type"], fixed[name]["minimum"], fixed[name]["maximum"]) == (
                "integer", c.low, c.high), name
        elif isinstance(c, FloatRange):
            low_key = "exclusiveMinimum" if c.low_open else "minimum"
            assert fixed[name][low_key] == c.low, name
        else:
            assert isinstance(c, Choice) and fixed[name]["enum"] == list(c.values), name
    assert fixed["adc_bits"] == {"type": "integer", "minimum": 2, "maximum": 10}


def test_benchmark_options_and_caps_come_from_their_declarations(
        schemas: dict[str, Any]) -> None:
    dims = [o for o in BENCHMARK_OPTIONS["zdt1"] if o.name == "dim"][0]
    zdt1 = schemas["Problem_zdt1"]["properties"]["options"]["properties"]["dim"]
    assert (zdt1["minimum"], zdt1["maximum"]) == (dims.low, dims.high)
    assert schemas["StudyCreate"]["properties"]["parallelism"]["maximum"] == 8
    trials = schemas["BudgetIn"]["properties"]["max_trials"]["anyOf"][0]
    assert trials["maximum"] == 500


def _crossbar(**problem: Any) -> dict[str, Any]:
    return {"name": "x", "problem": {"name": "crossbar", **problem},
            "optimizer": {"method": "sobol"}, "budget": {"max_trials": 4}}


GOOD: list[dict[str, Any]] = [
    BRANIN,
    {**BRANIN, "objectives": [{"name": "f1"}], "reference_point": [-1.0]},
    {**BRANIN, "problem": {"name": "dtlz2", "options": {"num_objectives": 7, "dim": 8}},
     "reference_point": [1.5] * 7},
    {**BRANIN, "optimizer": {"method": "nsga2", "options": {"pop_size": 8.0}}},
    {**BRANIN, "objectives": [{"name": "f1"}, {"name": "f0", "direction": "maximize"}]},
    _crossbar(search_space=[{"name": "cell_bits", "type": "int", "low": 2, "high": 4},
                            {"name": "adc_bits", "type": "ordinal", "values": [3, 5, 10]}]),
    _crossbar(search_space=[{"name": "tech_node_nm", "type": "ordinal", "values": [22, 65]}],
              fixed={"encoding": "offset", "input_bits": 1}),
    _crossbar(workload="vgg8", workload_options={"divisor": 4}),
    {**_crossbar(), "optimizer": {"options": {"min_full_share": 0.5}}},  # cf-mesmo's option
]
"""Bodies the schema admits and creation accepts."""

BAD: list[dict[str, Any]] = [
    {**BRANIN, "reference_point": [1.0]},  # two objectives
    {**BRANIN, "objectives": [{"name": "accuracy"}]},  # a crossbar objective
    {**BRANIN, "problem": {"name": "dtlz2", "options": {"num_objectives": 7}}},  # dim 6 <= 7
    {**BRANIN, "problem": {"name": "zdt1", "options": {"dim": 65}}},
    {**BRANIN, "optimizer": {"method": "cf-mesmo", "options": {"min_full_share": 5}}},
    {**BRANIN, "parallelism": 9},  # the server's cap
    _crossbar(search_space=[{"name": "adc_bits", "type": "int", "low": 3, "high": 11}]),
    _crossbar(search_space=[{"name": "adc_bits", "type": "int", "low": 5, "high": 4}]),
    _crossbar(search_space=[{"name": "tech_node_nm", "type": "ordinal", "values": [65, 22]}]),
    _crossbar(search_space=[{"name": "adc_bits", "type": "float", "low": 3, "high": 8}]),
    _crossbar(search_space=[{"name": "encoding", "type": "categorical", "choices": ["x"]}]),
    _crossbar(fixed={"rows": 16}),
    _crossbar(workload_options={"epochs": 3}),  # digits-cnn takes only retrain
    _crossbar(workload="vgg8", workload_options={"divisor": 3}),
    _crossbar(options={"dim": 3}),
    {**BRANIN, "objectives": [{"name": "f1"}, {"name": "f1", "direction": "maximize"}]},
    _crossbar(search_space=[{"name": "encoding", "type": "categorical", "choices": ["offset"]},
                            {"name": "encoding", "type": "categorical",
                             "choices": ["differential"]}]),  # searched twice
    {**BRANIN, "optimizer": {"options": {"min_full_share": 0.5}}},  # sobol takes none
]
"""Bodies the schema refuses and creation refuses (422)."""


@pytest.mark.parametrize("body", GOOD)
def test_schema_valid_bodies_are_accepted(body: dict[str, Any], is_valid: Any,
                                          api: TestClient) -> None:
    assert is_valid(body)
    r = api.post("/api/v1/studies:validate", json=body)
    assert r.status_code == 204, r.text


@pytest.mark.parametrize("body", BAD)
def test_schema_invalid_bodies_are_refused(body: dict[str, Any], is_valid: Any,
                                           api: TestClient) -> None:
    assert not is_valid(body)
    assert api.post("/api/v1/studies:validate", json=body).status_code == 422


UNPUBLISHED: list[dict[str, Any]] = [
    _crossbar(search_space=[{"name": "prog_sigma", "type": "float", "low": 0.0, "high": 0.1}]),
    _crossbar(search_space={"params": [{"name": "cell_bits", "type": "int", "low": 1,
                                        "high": 2}], "fidelity_range": [0.2, 1.0]}),
    _crossbar(fixed={"dac_bits": 2}),
    _crossbar(search_space=[{"name": "rows", "type": "int", "low": 64, "high": 512}]),
]
"""Bodies creation accepts that the schema leaves out (a float range, the object form, a field
of a cross-field rule, a wide int range): the published schema is a subset."""


@pytest.mark.parametrize("body", UNPUBLISHED)
def test_bodies_outside_the_schema_are_still_accepted(body: dict[str, Any], is_valid: Any,
                                                      api: TestClient) -> None:
    assert not is_valid(body)
    r = api.post("/api/v1/studies:validate", json=body)
    assert r.status_code == 204, r.text


def test_every_generated_body_is_accepted(spec: dict[str, Any], api: TestClient) -> None:
    """Bodies Schemathesis draws from the published schema (derandomized) all validate: the
    schema admits nothing creation refuses."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    operation = schemathesis.openapi.from_dict(spec)["/api/v1/studies:validate"]["POST"]
    refused: list[str] = []
    problems: set[str] = set()

    @settings(max_examples=20, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(operation.as_strategy())
    def post(case: Any) -> None:
        problems.add(case.body["problem"]["name"])
        r = api.post("/api/v1/studies:validate", json=case.body)
        if r.status_code != 204:
            refused.append(f"{case.body}: {r.text}")

    post()
    assert refused == []
    assert len(problems) >= 3  # the draws reach several problems' branches


def test_cli_schema_is_a_standalone_document_that_checks_study_files(tmp_path: Any) -> None:
    """``xbar study schema -o FILE`` writes a JSON Schema document whose own ``$ref`` resolves:
    a valid study file passes it, one with a reference point of the wrong length does not."""
    import json

    from typer.testing import CliRunner

    from app.cli.main import app as cli

    out = tmp_path / "study.schema.json"
    result = CliRunner().invoke(cli, ["study", "schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["$ref"] == "#/components/schemas/StudyCreate"
    assert "oneOf" in doc["components"]["schemas"]["StudyCreate"]
    validator = jsonschema_rs.Draft202012Validator(_without_patterns(doc))
    assert validator.is_valid(BRANIN)
    bad = {**BRANIN, "reference_point": [0.0, 0.0, 0.0]}  # branin-currin has 2 objectives
    assert not validator.is_valid(bad)
