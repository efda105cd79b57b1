"""The crossbar problem definition: its default space parses in the optimizer and every value
builds a valid CrossbarConfig; its objectives are the simulator's Evaluation fields and the
keys a crossbar trial reports."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from app.execution.evaluators import run_evaluation
from app.problems import resolve
from app.problems.crossbar import (
    CROSSBAR,
    CROSSBAR_DEFAULTS,
    FIDELITY_RANGE,
    OBJECTIVE_NAMES,
    OBJECTIVES,
    default_params,
    default_space_spec,
    objectives_public,
)
from app.schemas.study import StudyCreate
from optimizer.space import SearchSpace
from simulator import CrossbarConfig, Evaluation, fidelity_plan
from simulator.config import FIELD_CONSTRAINTS, Choice


def _levels(spec: dict[str, Any]) -> list[Any]:
    """The values of a spec that bound its domain: every choice, or an int range's ends."""
    kind = spec["type"]
    if kind == "ordinal":
        return spec["values"]
    if kind == "categorical":
        return spec["choices"]
    if kind == "fixed":
        return [spec["value"]]
    return [spec["low"], spec["high"]]


def test_spec_format_and_names() -> None:
    """Each spec has exactly the optimizer's keys for its type and names a distinct
    CrossbarConfig field; the optimizer parses the space with the problem's fidelity range."""
    params = default_params()
    required = {"ordinal": {"values"}, "int": {"low", "high"}, "categorical": {"choices"},
                "float": {"low", "high", "log"}, "fixed": {"value"}}
    names = [s["name"] for s in params]
    assert len(names) == len(set(names))
    assert set(names) <= set(CrossbarConfig.__dataclass_fields__)
    for spec in params:
        assert set(spec) == {"name", "type"} | required[spec["type"]], spec
    space = SearchSpace.from_spec(default_space_spec())
    assert [p.name for p in space.params] == names
    assert space.fidelity_range == FIDELITY_RANGE
    assert space.target_fidelity == FIDELITY_RANGE[1]


INTERACTING = {"cols", "cols_per_adc", "cell_bits", "weight_bits", "input_bits", "dac_bits",
               "encoding"}
"""Fields tied by cross-field rules (ADC sharing divides cols, DAC <= input bits, a weight's
cells fit in a row); the others are checked one at a time."""


def test_every_corner_is_a_valid_config() -> None:
    """Every combination of the interacting fields' values (int ranges at their ends) builds
    a config, and so does every value of the other fields."""
    params = default_params()
    tied = [s for s in params if s["name"] in INTERACTING]
    assert {s["name"] for s in tied} == INTERACTING
    for values in itertools.product(*[_levels(s) for s in tied]):
        CrossbarConfig.from_params({s["name"]: v for s, v in zip(tied, values, strict=True)})
    for spec in params:
        for value in _levels(spec):
            CrossbarConfig.from_params({spec["name"]: value})


def test_choice_fields_offer_every_allowed_value() -> None:
    """A searched field the config restricts to a set (technology node, encoding) offers the
    whole set, so a value added to the config is searched without editing the space."""
    searched = 0
    for spec in default_params():
        constraint = FIELD_CONSTRAINTS[spec["name"]]
        if isinstance(constraint, Choice):
            assert sorted(_levels(spec), key=str) == sorted(constraint.values, key=str)
            searched += 1
    assert searched >= 2


def test_copies_are_independent() -> None:
    """Mutating a returned space does not change the next one."""
    a = default_params()
    a[0]["values"].append(1024)
    assert 1024 not in default_params()[0]["values"]
    b = default_space_spec()
    b["fidelity_range"][1] = 0.5
    assert default_space_spec()["fidelity_range"][1] == FIDELITY_RANGE[1]


def test_fidelity_range_is_the_simulators() -> None:
    """Both ends of the range are fidelities the simulator plans for."""
    for z in FIDELITY_RANGE:
        assert fidelity_plan(z).fidelity == z


def test_objectives_are_evaluation_fields() -> None:
    """Each objective names a float field of ``simulator.Evaluation``; the served list says
    the same names and directions."""
    floats = {f.name for f in dataclasses.fields(Evaluation) if f.type in (float, "float")}
    assert OBJECTIVE_NAMES and set(OBJECTIVE_NAMES) <= floats
    assert len(set(OBJECTIVE_NAMES)) == len(OBJECTIVE_NAMES)
    assert [(o["name"], o["direction"]) for o in objectives_public()] == [
        (o.name, o.direction) for o in OBJECTIVES]


def test_crossbar_trial_reports_every_objective() -> None:
    """A crossbar trial evaluated from the spec a study stores reports one finite value per
    objective, equal to the simulator's Evaluation fields (analytic tier: about a second)."""
    body = {"name": "x", "problem": {"name": CROSSBAR, "workload": "digits-mlp",
                                     "fixed": {"rows": 64, "cols": 64}},
            "optimizer": {"method": "sobol"}, "budget": {"max_trials": 1}}
    resolved = resolve(StudyCreate(**body))
    assert resolved.evaluator["fixed"] == {**CROSSBAR_DEFAULTS, "rows": 64, "cols": 64}
    out = run_evaluation(resolved.evaluator, {"adc_bits": 5}, 0.0, 0)
    assert list(out["values"]) == list(OBJECTIVE_NAMES)
    assert 0.0 < out["values"]["accuracy"] <= 1.0
    assert all(v > 0 for k, v in out["values"].items() if k != "accuracy")
    assert out["details"]["estimator"] == "moments"
    assert out["details"]["config"]["adc_bits"] == 5 and out["cost_s"] > 0
