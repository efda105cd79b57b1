"""The `crossbar` problem in the service: catalog endpoints, validation against
CrossbarConfig, and a small study evaluated by the simulator on Dask workers."""

from __future__ import annotations

import pytest

from app.execution.evaluators import run_evaluation
from app.problems import resolve
from app.problems.crossbar import CROSSBAR_CFMESMO_OPTIONS
from app.schemas.study import StudyCreate
from optimizer.problems import get_problem
from optimizer.suggest import validate_options
from simulator import CrossbarConfig
from tests.app.helpers import wait_for

API = "/api/v1"

SMALL = {
    "name": "xbar-small",
    "problem": {
        "name": "crossbar",
        "workload": "digits-mlp",
        "search_space": {
            "params": [{"name": "adc_bits", "type": "int", "low": 3, "high": 6},
                       {"name": "cols_per_adc", "type": "ordinal", "values": [4, 8]}],
            "fidelity_range": [0.0, 0.02],  # the analytic tier: a quick screening sweep
        },
        "fixed": {"rows": 64, "cols": 64},
    },
    "optimizer": {"method": "sobol"},
    "budget": {"max_trials": 4},
    "parallelism": 2,
}


def test_catalog(idle_client) -> None:
    """/workloads lists the bundled workloads; /search-spaces/default is what a crossbar study
    without ``search_space`` or ``objectives`` resolves to: the same parameter specs (named as
    CrossbarConfig fields), fidelity range and objectives."""
    names = {w["name"] for w in idle_client.get(f"{API}/workloads").json()["data"]}
    assert {"digits-mlp", "digits-cnn", "cifar10"} <= names
    served = idle_client.get(f"{API}/search-spaces/default").json()
    bare = {**SMALL, "problem": {"name": "crossbar"}}
    resolved = resolve(StudyCreate(**bare))
    assert served["params"] == resolved.search_space["params"]
    assert served["fidelity_range"] == resolved.search_space["fidelity_range"]
    assert served["fidelity_range"][1] == resolved.target_fidelity
    assert served["objectives"] == [{"name": o.name, "direction": o.direction}
                                    for o in resolved.objectives]
    fields = set(CrossbarConfig.__dataclass_fields__)
    assert served["params"] and {p["name"] for p in served["params"]} <= fields
    problems = idle_client.get(f"{API}/problems").json()["problems"]
    assert problems[0] == "crossbar" and "branin-currin" in problems


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"search_space": []}, "problem.search_space"),
        ({"workload": "imagenet-resnet"}, "problem.workload"),
        ({"fixed": {"adc_bits": 42}}, "problem.fixed"),
        ({"search_space": [{"name": "flux_capacitor", "type": "int", "low": 1, "high": 2}]},
         "problem.search_space.0.name"),
        ({"search_space": [{"name": "adc_bits", "type": "int", "low": 6, "high": 3}]},
         "problem.search_space"),
    ],
    ids=["empty space", "unknown workload", "bad fixed", "unknown field", "low>high"],
)
def test_crossbar_validation(idle_client, patch, field) -> None:
    """Each bad crossbar definition is a 422 naming the field; nothing is stored."""
    body = {**SMALL, "problem": {**SMALL["problem"], **patch}}
    r = idle_client.post(f"{API}/studies", json=body)
    assert r.status_code == 422, r.text
    locs = [".".join(str(p) for p in e["loc"][1:]) for e in r.json()["errors"]]
    assert any(loc == field or loc.startswith(field + ".") for loc in locs), locs
    assert idle_client.get(f"{API}/studies").json()["data"] == []


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # storage is covered elsewhere
def test_small_crossbar_study(client) -> None:
    """Four designs of digits-mlp evaluated by the simulator: completed with accuracy in
    (0, 1], positive area/latency/energy, and the configured parameters applied."""
    r = client.post(f"{API}/studies", json=SMALL)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    wait_for(lambda: client.get(f"{API}/studies/{sid}").json()["state"] in
             ("completed", "failed"), timeout=600, interval=0.5)
    s = client.get(f"{API}/studies/{sid}").json()
    assert s["state"] == "completed", s["error"]
    trials = client.get(f"{API}/studies/{sid}/trials", params={"details": True}).json()["data"]
    assert len(trials) == 4
    for t in trials:
        v = t["values"]
        assert 0.0 < v["accuracy"] <= 1.0
        assert v["area_mm2"] > 0 and v["latency_us"] > 0 and v["energy_uj"] > 0
        assert t["fidelity"] == pytest.approx(0.02)
        assert 3 <= t["params"]["adc_bits"] <= 6 and t["params"]["cols_per_adc"] in (4, 8)
        assert t["details"]["estimator"] == "moments"  # the service's analytic bottom tier
        assert t["details"]["config"]["rows"] == 64
    front = client.get(f"{API}/studies/{sid}/pareto").json()
    assert front["points"]


def test_tabulated_crossbar_benchmark_reports_the_evaluated_fidelity() -> None:
    """A trial of the ``crossbar-digits`` benchmark asked at fidelity 0.3 is served by the
    table's 0.25 row: its details say so and the cost is the recorded (measured) wall time."""
    design = {"rows": 64, "cols": 128, "cell_bits": 1, "weight_bits": 6, "adc_bits": 5}
    out = run_evaluation({"kind": "benchmark", "name": "crossbar-digits"}, design, 0.3, 0)
    values, cost = get_problem("crossbar-digits").evaluate(design, 0.25)
    assert out["details"]["evaluated_fidelity"] == 0.25
    assert out["details"]["cost_kind"] == "tabulated"
    assert out["values"] == values and out["cost_s"] == cost


def test_crossbar_cf_mesmo_studies_default_to_a_full_fidelity_share() -> None:
    """A crossbar study optimized by cf-mesmo (its default method) holds
    ``min_full_share: 0.2`` unless its options say otherwise; other methods and benchmark
    problems keep exactly the options given."""
    cf = {**SMALL, "optimizer": {}}
    assert resolve(StudyCreate(**cf)).method == "cf-mesmo"
    assert resolve(StudyCreate(**cf)).options == CROSSBAR_CFMESMO_OPTIONS
    assert CROSSBAR_CFMESMO_OPTIONS["min_full_share"] > 0.0
    assert validate_options("cf-mesmo", CROSSBAR_CFMESMO_OPTIONS)["min_full_share"] == (
        CROSSBAR_CFMESMO_OPTIONS["min_full_share"])
    own = {**SMALL, "optimizer": {"method": "cf-mesmo",
                                  "options": {"min_full_share": 0.0, "num_samples": 4}}}
    assert resolve(StudyCreate(**own)).options == {"min_full_share": 0.0, "num_samples": 4}
    assert resolve(StudyCreate(**SMALL)).options == {}
    bench = {"name": "b", "problem": {"name": "branin-currin"},
             "optimizer": {"method": "cf-mesmo"}, "budget": {"max_trials": 4}}
    assert resolve(StudyCreate(**bench)).options == {}
