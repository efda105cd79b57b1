"""Study resolution shared by every problem: optimizer options checked by the optimizer at
creation (a 422 naming each option, nothing stored), and the target fidelity of the space."""

from __future__ import annotations

import pytest

from app.core.errors import ValidationFailed
from app.problems import problem_names, resolve
from app.problems.crossbar import CROSSBAR
from app.schemas.study import StudyCreate
from optimizer.problems import available_problems
from tests.app.conftest import BRANIN

API = "/api/v1"


def _locs(body: dict) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in body.get("errors", [])]


def _count(client) -> int:
    return len(client.get(f"{API}/studies").json()["data"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # storage is covered elsewhere
def test_unknown_optimizer_option_is_422(idle_client) -> None:
    """An option the method does not declare is a 422 whose error names it at
    ``body.optimizer.options.<name>``; no study is added."""
    assert idle_client.post(f"{API}/studies", json=BRANIN).status_code == 201
    before = _count(idle_client)
    body = {**BRANIN, "optimizer": {"method": "sobol", "options": {"flux_capacitor": 3}}}
    r = idle_client.post(f"{API}/studies", json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["loc"] for e in errors] == [["body", "optimizer", "options", "flux_capacitor"]]
    assert "flux_capacitor" in errors[0]["msg"]
    assert _count(idle_client) == before == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_bad_option_is_listed(idle_client) -> None:
    """An out-of-range value and an unknown name are two entries, next to an unrelated bad
    field; the crossbar's own cf-mesmo default is checked like a given option."""
    body = {"name": "x", "problem": {"name": CROSSBAR, "workload": "no-such-workload"},
            "optimizer": {"method": "cf-mesmo",
                          "options": {"min_full_share": 1.5, "colour": "red"}},
            "budget": {"max_trials": 2}}
    r = idle_client.post(f"{API}/studies", json=body)
    assert r.status_code == 422, r.text
    locs = _locs(r.json())
    assert {"problem.workload", "optimizer.options.min_full_share",
            "optimizer.options.colour"} <= set(locs)
    assert _count(idle_client) == 0


def test_valid_options_are_stored_as_given() -> None:
    """Options that pass are kept exactly as given (no defaults filled in)."""
    body = {**BRANIN, "optimizer": {"method": "cf-mesmo", "options": {"min_full_share": 0.5}}}
    assert resolve(StudyCreate(**body)).options == {"min_full_share": 0.5}


def test_unknown_method_is_not_an_options_error() -> None:
    """An unknown method is one error at ``optimizer.method``, its options are not checked."""
    body = {**BRANIN, "optimizer": {"method": "no-such-method", "options": {"x": 1}}}
    with pytest.raises(ValidationFailed) as info:
        resolve(StudyCreate(**body))
    assert [e["loc"] for e in info.value.errors] == [["body", "optimizer", "method"]]


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ({"name": CROSSBAR, "search_space": {
            "params": [{"name": "adc_bits", "type": "int", "low": 3, "high": 6}],
            "fidelity_range": [0.0, 0.02]}}, 0.02),
        ({"name": CROSSBAR, "search_space": [
            {"name": "adc_bits", "type": "int", "low": 3, "high": 6}]}, 1.0),
        ({"name": "branin-currin"}, 1.0),
        ({"name": "zdt1"}, 1.0),
    ],
    ids=["crossbar own range", "crossbar default range", "multi-fidelity benchmark",
         "single-fidelity benchmark"],
)
def test_target_fidelity_is_the_top_of_the_range(problem: dict, expected: float) -> None:
    """The resolved target fidelity is the top of the stored space's fidelity range (1.0 for
    a space without one)."""
    body = {"name": "x", "problem": problem, "optimizer": {"method": "sobol"},
            "budget": {"max_trials": 2}}
    resolved = resolve(StudyCreate(**body))
    fr = resolved.search_space.get("fidelity_range")
    assert resolved.target_fidelity == expected == (fr[1] if fr else 1.0)


def test_problem_names() -> None:
    """``crossbar`` first, then every optimizer benchmark; an unknown name lists them all."""
    assert problem_names() == [CROSSBAR, *available_problems()]
    with pytest.raises(ValidationFailed) as info:
        resolve(StudyCreate(name="x", problem={"name": "nope"}, budget={"max_trials": 1}))
    (error,) = info.value.errors
    assert error["loc"] == ["body", "problem", "name"]
    assert all(name in error["msg"] for name in problem_names())
