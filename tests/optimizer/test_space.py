"""Tests of ``optimizer.space``: spec parsing, validation, unit-cube mapping, sampling."""

from __future__ import annotations

import math

import pytest
import torch

from optimizer.errors import InfeasibleSpaceError, SearchSpaceError
from optimizer.space import (
    CONSTRAINT_TOL,
    FIDELITY_TOL,
    UNIT_TARGET,
    SearchSpace,
    unit_at_target,
)

MIXED = {
    "params": [
        {"name": "rows", "type": "ordinal", "values": [64, 128, 256, 512]},
        {"name": "adc_bits", "type": "int", "low": 3, "high": 8},
        {"name": "x0", "type": "float", "low": 0.0, "high": 1.0, "log": False},
        {"name": "g_on", "type": "float", "low": 1e-6, "high": 1e-4, "log": True},
        {"name": "encoding", "type": "categorical", "choices": ["differential", "offset"]},
        {"name": "node", "type": "fixed", "value": 22},
    ],
    "constraints": [{"coefficients": {"x0": 1.0, "adc_bits": 0.1}, "upper": 1.2}],
    "fidelity_range": [0.1, 1.0],
}


def mixed() -> SearchSpace:
    return SearchSpace.from_spec(MIXED)


def test_spec_round_trip() -> None:
    """to_spec reproduces the input spec exactly and from_spec(to_spec()) is an equal space."""
    s = mixed()
    assert s.to_spec() == MIXED
    assert SearchSpace.from_spec(s.to_spec()) == s
    assert s.dim == 5 and s.column_names == ["rows", "adc_bits", "x0", "g_on", "encoding"]
    assert s.fidelity_range == (0.1, 1.0) and s.target_fidelity == 1.0
    assert s.bounds.shape == torch.Size([2, 5])
    assert s.discrete_levels == {0: 4, 1: 6, 4: 2}


def test_list_form_has_no_constraints_or_fidelity() -> None:
    """The list form is the params only: no constraints, target fidelity 1.0."""
    s = SearchSpace.from_spec(MIXED["params"])
    assert s.constraints == [] and s.fidelity_range is None and s.target_fidelity == 1.0
    assert s.to_spec()["params"] == MIXED["params"]


def test_unit_mapping_is_invertible_for_every_kind() -> None:
    """to_unit then from_unit returns the same values for every kind, and known codes."""
    s = mixed()
    p = {"rows": 256, "adc_bits": 8, "x0": 0.25, "g_on": 1e-5, "encoding": "offset",
         "node": 22}
    u = s.to_unit(p)
    assert u.shape == torch.Size([5])
    assert u[0].item() == pytest.approx(2.5 / 4)  # third of four ordinal levels
    assert u[1].item() == pytest.approx(5.5 / 6)  # last of six ints
    assert u[2].item() == pytest.approx(0.25)
    assert u[3].item() == pytest.approx(0.5)  # log midpoint of 1e-6..1e-4
    assert u[4].item() == pytest.approx(0.75)
    back = s.from_unit(u)
    assert back["rows"] == 256 and isinstance(back["rows"], int)
    assert back["adc_bits"] == 8 and isinstance(back["adc_bits"], int)
    assert back["x0"] == pytest.approx(0.25) and back["g_on"] == pytest.approx(1e-5)
    assert back["encoding"] == "offset" and back["node"] == 22
    X = s.sample_unit(200, torch.Generator().manual_seed(0))
    assert torch.allclose(s.to_unit_batch(s.from_unit_batch(X)), X, atol=1e-12)
    assert torch.equal(s.round_unit(X), X)


def test_from_unit_rounds_and_clamps() -> None:
    """Out-of-cube and between-level coordinates decode to valid values."""
    s = mixed()
    p = s.from_unit(torch.tensor([1.0, -0.3, 1.7, 0.0, 0.49], dtype=torch.double))
    assert p == {"rows": 512, "adc_bits": 3, "x0": 1.0, "g_on": pytest.approx(1e-6),
                 "encoding": "differential", "node": 22}


def test_levels_sample_uniformly() -> None:
    """Uniform unit draws give each int level with equal frequency (within 3 sigma)."""
    s = SearchSpace.from_spec([{"name": "k", "type": "int", "low": 0, "high": 3}])
    vals = [p["k"] for p in s.sample(4000, torch.Generator().manual_seed(1))]
    for level in range(4):
        assert abs(vals.count(level) - 1000) < 3 * math.sqrt(4000 * 0.25 * 0.75)


def test_constraints_and_feasibility() -> None:
    """feasible/contains apply the linear constraint; samples all satisfy it."""
    s = mixed()
    ok = {"rows": 64, "adc_bits": 3, "x0": 0.9, "g_on": 1e-5, "encoding": "offset"}
    bad = {**ok, "x0": 0.95, "adc_bits": 3}  # 0.95 + 0.3 = 1.25 > 1.2
    assert s.feasible(ok) and s.contains(ok)
    assert not s.feasible(bad) and not s.contains(bad)
    with pytest.raises(SearchSpaceError, match=r"constraints\[0\]"):
        s.validate_params(bad)
    for p in s.sample(300, torch.Generator().manual_seed(2)):
        assert p["x0"] + 0.1 * p["adc_bits"] <= 1.2 + CONSTRAINT_TOL
    assert s.feasible_unit(s.to_unit_batch([ok, bad])).tolist() == [True, False]


def test_infeasible_constraints_raise() -> None:
    """A constraint no point satisfies makes sampling raise InfeasibleSpaceError."""
    s = SearchSpace.from_spec({"params": [{"name": "x", "type": "float", "low": 0, "high": 1}],
                               "constraints": [{"coefficients": {"x": 1.0}, "upper": -1.0}]})
    with pytest.raises(InfeasibleSpaceError, match="constraints"):
        s.sample(3, torch.Generator().manual_seed(0))


def test_validate_params_names_the_field() -> None:
    """validate_params rejects missing, unknown, off-grid and out-of-range values by name."""
    s = mixed()
    good = {"rows": 64, "adc_bits": 3, "x0": 0.1, "g_on": 1e-5, "encoding": "offset"}
    assert s.validate_params(good)["node"] == 22
    cases = [
        ({k: v for k, v in good.items() if k != "x0"}, "'x0' is missing"),
        ({**good, "bogus": 1}, "bogus"),
        ({**good, "rows": 100}, "'rows'=100"),
        ({**good, "adc_bits": 3.5}, "'adc_bits' must be an integer"),
        ({**good, "adc_bits": 9}, "'adc_bits'=9"),
        ({**good, "x0": 1.5}, "'x0'=1.5"),
        ({**good, "encoding": "twos"}, "'encoding'='twos'"),
        ({**good, "node": 14}, "'node' is fixed"),
        ({**good, "x0": float("nan")}, "'x0' must be a finite"),
    ]
    for params, msg in cases:
        with pytest.raises(SearchSpaceError, match=msg):
            s.validate_params(params)
        assert not s.contains(params)
    assert s.validate_params({**good, "adc_bits": 4.0})["adc_bits"] == 4


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        ([], "no parameters"),
        ({"params": []}, "no parameters"),
        ([{"name": "a", "type": "float", "low": 1.0, "high": 1.0}], r"params\[0\].*'a'.*low"),
        ([{"name": "a", "type": "float", "low": 0.0, "high": 1.0, "log": True}], "log scale"),
        ([{"name": "a", "type": "int", "low": 5, "high": 2}], "'a'.*low"),
        ([{"name": "a", "type": "categorical", "choices": []}], "'a'.*choices must not be empty"),
        ([{"name": "a", "type": "ordinal", "values": [4, 2]}], "'a'.*strictly increasing"),
        ([{"name": "a", "type": "ordinal", "values": []}], "'a'.*values must not be empty"),
        ([{"name": "a", "type": "float", "low": 0, "high": 1},
          {"name": "a", "type": "int", "low": 0, "high": 1}], "duplicate.*'a'"),
        ([{"name": "a", "type": "complex"}], r"params\[0\].*type"),
        ([{"name": "a", "type": "float", "low": 0}], "missing field.*high"),
        ([{"name": "a", "type": "float", "low": 0, "high": 1, "step": 2}], "unknown field.*step"),
        ([{"type": "float", "low": 0, "high": 1}], r"params\[0\].name"),
        ({"params": [{"name": "a", "type": "float", "low": 0, "high": 1}],
          "constraints": [{"coefficients": {"b": 1.0}, "upper": 1}]},
         r"constraints\[0\].*unknown parameter 'b'"),
        ({"params": [{"name": "a", "type": "categorical", "choices": ["x"]}],
          "constraints": [{"coefficients": {"a": 1.0}, "upper": 1}]}, "non-numeric.*'a'"),
        ({"params": [{"name": "a", "type": "float", "low": 0, "high": 1}],
          "constraints": [{"coefficients": {"a": 1.0}}]}, r"constraints\[0\].*bound"),
        ({"params": [{"name": "a", "type": "float", "low": 0, "high": 1}],
          "fidelity_range": [0.5, 0.2]}, "fidelity_range"),
        ({"params": [{"name": "a", "type": "float", "low": 0, "high": 1}], "extra": 1},
         "unknown field.*extra"),
    ],
)
def test_bad_specs_raise_naming_the_field(spec: object, msg: str) -> None:
    """Each malformed spec raises SearchSpaceError (a ValueError) whose text names the field."""
    with pytest.raises(SearchSpaceError, match=msg):
        SearchSpace.from_spec(spec)  # type: ignore[arg-type]
    assert issubclass(SearchSpaceError, ValueError)


def test_cardinality_and_fidelity_mapping() -> None:
    """A finite space knows its size; the fidelity maps affinely onto [0, 1] and back."""
    s = SearchSpace.from_spec({"params": MIXED["params"][:2] + [MIXED["params"][4]],
                               "fidelity_range": [0.2, 0.8]})
    assert s.cardinality == 4 * 6 * 2
    assert mixed().cardinality is None
    assert s.fidelity_to_unit(0.5).item() == pytest.approx(0.5)
    assert s.fidelity_from_unit(torch.tensor(1.0)).item() == pytest.approx(0.8)
    assert s.check_fidelity(0.8) == 0.8
    with pytest.raises(SearchSpaceError, match="fidelity"):
        s.check_fidelity(0.9)
    with pytest.raises(SearchSpaceError, match="fidelity"):
        SearchSpace.from_spec(MIXED["params"]).check_fidelity(0.5)


def test_is_target_is_the_one_full_fidelity_rule() -> None:
    """``is_target`` accepts the top of the range up to ``FIDELITY_TOL`` below it and nothing
    lower; without a range the target is 1.0. The unit-scaled column's target is 1.0 with the
    same tolerance, and ``fidelity_to_unit`` maps the space's target onto it."""
    s = SearchSpace.from_spec({"params": MIXED["params"], "fidelity_range": [0.2, 0.8]})
    assert s.target_fidelity == 0.8
    assert s.is_target(0.8) and s.is_target(0.8 - FIDELITY_TOL / 2)
    assert not s.is_target(0.8 - 2 * FIDELITY_TOL) and not s.is_target(0.5)
    plain = SearchSpace.from_spec(MIXED["params"])
    assert plain.target_fidelity == 1.0 and plain.is_target(1.0) and not plain.is_target(0.9)
    assert s.fidelity_to_unit(s.target_fidelity).item() == pytest.approx(UNIT_TARGET)
    u = torch.tensor([1.0, 1.0 - FIDELITY_TOL / 2, 1.0 - 2 * FIDELITY_TOL, 0.0],
                     dtype=torch.double)
    assert unit_at_target(u).tolist() == [True, True, False, False]
