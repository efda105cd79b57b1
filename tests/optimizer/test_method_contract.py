"""The method contract, checked for every registered method (in the spirit of Optuna's
``BasicSamplerTestCase`` and scikit-learn's ``parametrize_with_checks``).

For each method in ``available_methods()``, on the mixed constrained space of
``tests.optimizer.cases`` with and without a fidelity range, from an empty history (the
initial design) and from a 30-observation one (the model-based phase):

- ``n`` suggestions, each a valid canonical point (every kind of parameter, the fixed one
  filled in) satisfying the linear constraint, with a fidelity inside the range (exactly the
  target for single-fidelity methods), none equal to the pending point;
- the same inputs give the same suggestions; from an empty history another seed differs;

and for its options: the declared table names exactly the method's fields, the defaults pass,
an unknown option and an out-of-range value of every declared option raise ``ValueError``
naming each (all of them at once).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import pytest
import torch

from optimizer.errors import MethodOptionsError
from optimizer.methods import BUILTIN_METHODS
from optimizer.methods.options import Choice, Flag, FloatRange, IntRange, OptionSpec
from optimizer.space import CONSTRAINT_TOL, SearchSpace
from optimizer.suggest import available_methods, suggest, validate_options
from optimizer.types import Suggestion
from tests.optimizer.cases import MIXED, MIXED_FIDELITY, OBJ, mixed_observations

METHODS = available_methods()
MULTI_FIDELITY = {"cf-mesmo", "momf", "mf-hvkg"}
"""Methods that choose the fidelity; every other one suggests the target fidelity."""
MODEL_BASED = {"qnehvi", *MULTI_FIDELITY}
FAST: dict[str, dict[str, Any]] = {
    "nsga2": {"pop_size": 8},
    "optuna-nsga2": {"population_size": 8},
    "qnehvi": {"n_init": 8, "num_restarts": 2, "raw_samples": 64, "mc_samples": 32},
    "cf-mesmo": {"num_samples": 4, "raw_samples": 128, "num_restarts": 1},
    "momf": {"mc_samples": 16, "raw_samples": 64, "num_restarts": 1},
    "mf-hvkg": {"num_fantasies": 2, "num_pareto": 2, "inner_mc_samples": 4,
                "raw_samples": 16, "num_restarts": 1},
}
"""Small options so the model-based phase runs in seconds; 10 of the 30 observations are at
full fidelity, enough for nsga2's population of 8 and qnehvi's ``n_init`` of 8. mf-hvkg's
``raw_samples`` is its smallest allowed value: with 32, the mixed-space case took 24 s of CPU
per call instead of 9."""
SPACES = {"mixed": MIXED, "mixed-fidelity": MIXED_FIDELITY}
N = 3


def _method_class(method: str) -> type:
    module, _, attr = BUILTIN_METHODS[method].partition(":")
    return getattr(importlib.import_module(module), attr)


def _call(method: str, space: SearchSpace, history: int, seed: int = 7) -> dict[str, Any]:
    obs = mixed_observations(history, full=range(0, history, 3),
                             with_fidelity=space.has_fidelity)
    point = MIXED.sample(1, torch.Generator().manual_seed(5))[0] | {"x0": 0.01, "adc_bits": 3}
    pending = [Suggestion(params=point, fidelity=space.target_fidelity)]
    return {"space": space, "objectives": OBJ, "observations": obs, "pending": pending,
            "n": N, "method": method, "seed": seed, "options": FAST.get(method)}


def _cases() -> list[Any]:
    out = []
    for method in METHODS:
        for space in SPACES:
            for history in (0, 30):
                marks = [pytest.mark.slow] if history and method in MODEL_BASED else []
                out.append(pytest.param(method, space, history, marks=marks,
                                        id=f"{method}-{space}-{history}"))
    return out


def test_every_builtin_method_is_registered() -> None:
    """The suite covers every built-in method (all importable here)."""
    assert set(BUILTIN_METHODS) <= set(METHODS)


@pytest.mark.parametrize(("method", "space_name", "history"), _cases())
def test_suggestions_are_valid_feasible_and_deterministic(method: str, space_name: str,
                                                          history: int) -> None:
    """n valid canonical feasible suggestions, fidelity in range (the target for
    single-fidelity methods), not the pending point; same inputs, same suggestions."""
    space = SPACES[space_name]
    kw = _call(method, space, history)
    out = suggest(**kw)
    assert len(out) == N
    pend = kw["pending"][0]
    for s in out:
        p = s.params
        assert list(p) == space.names and space.contains(p)
        assert p["node"] == 22 and isinstance(p["adc_bits"], int)
        assert p["rows"] in (64, 128, 256, 512) and p["enc"] in ("differential", "offset")
        assert p["x0"] + 0.1 * p["adc_bits"] <= 1.0 + CONSTRAINT_TOL
        if method in MULTI_FIDELITY and space.has_fidelity:
            assert 0.1 <= s.fidelity <= 1.0
        else:
            assert s.fidelity == space.target_fidelity == 1.0
        assert (p, s.fidelity) != (pend.params, pend.fidelity)
    assert [(s.params, s.fidelity) for s in suggest(**kw)] == [(s.params, s.fidelity)
                                                               for s in out]
    if history == 0:
        other = suggest(**{**kw, "seed": 8})
        assert [s.params for s in other] != [s.params for s in out]


@pytest.mark.parametrize("method", METHODS)
def test_options_table_matches_the_method(method: str) -> None:
    """The declared options are exactly the method's fields, and the defaults pass:
    ``validate_options(method, {})`` returns every default, and given values override them."""
    cls = _method_class(method)
    fields = {f.name: f.default for f in dataclasses.fields(cls)}
    assert set(cls.OPTIONS) == set(fields)
    assert validate_options(method, {}) == fields
    assert validate_options(method, None) == fields
    assert validate_options(method, FAST.get(method, {})) == fields | FAST.get(method, {})
    cls(**fields)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_option_raises_naming_it(method: str) -> None:
    """An unknown option makes suggest() (and validate_options) raise a ValueError naming the
    method and the option."""
    with pytest.raises(ValueError, match=rf"{method}: unknown option 'bogus_option'"):
        suggest(MIXED, OBJ, [], [], 1, method, 0, {"bogus_option": 1})
    with pytest.raises(MethodOptionsError) as info:
        validate_options(method, {"bogus_option": 1})
    assert info.value.errors == [("bogus_option", "unknown option 'bogus_option'")]


def _bad_value(spec: OptionSpec) -> Any:
    if isinstance(spec, IntRange):
        return spec.low - 1
    if isinstance(spec, FloatRange):
        return float("nan")
    if isinstance(spec, Choice):
        return "not-a-choice"
    assert isinstance(spec, Flag)
    return "yes"


@pytest.mark.parametrize("method", METHODS)
def test_every_bad_option_is_reported_at_once(method: str) -> None:
    """An out-of-range value of every declared option plus an unknown one: one
    MethodOptionsError whose ``errors`` name each, in table order, unknown last; suggest()
    raises it before running the method."""
    table = _method_class(method).OPTIONS
    bad = {name: _bad_value(spec) for name, spec in table.items()} | {"nope": 0}
    with pytest.raises(MethodOptionsError) as info:
        validate_options(method, bad)
    assert [name for name, _ in info.value.errors] == [*table, "nope"]
    for name, msg in info.value.errors:
        assert msg.startswith(f"{name}=") or msg == "unknown option 'nope'"
        assert msg in str(info.value)
    with pytest.raises(MethodOptionsError, match="nope"):
        suggest(MIXED, OBJ, [], [], 1, method, 0, bad)
