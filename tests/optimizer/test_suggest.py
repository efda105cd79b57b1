"""Tests of ``optimizer.suggest``: input checks, the registry, ``random`` and ``sobol`` (the
contract every method meets: ``test_method_contract.py``)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import torch
from torch.quasirandom import SobolEngine

from optimizer.context import SuggestContext
from optimizer.errors import (
    MethodOptionsError,
    ObservationError,
    OptimizerError,
    UnknownMethodError,
)
from optimizer.problems import get_problem
from optimizer.space import SearchSpace
from optimizer.suggest import (
    available_methods,
    register_method,
    suggest,
    validate_options,
)
from optimizer.types import Observation, Suggestion
from tests.optimizer.cases import MIXED, OBJ

suggest_module = importlib.import_module("optimizer.suggest")
"""The module (``optimizer.suggest`` as an attribute of ``optimizer`` is the function)."""

FINITE = SearchSpace.from_spec([
    {"name": "rows", "type": "ordinal", "values": [64, 128]},
    {"name": "bits", "type": "int", "low": 1, "high": 3},
])


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A private copy of the method registry: methods a test registers are gone after it."""
    copy = dict(suggest_module._REGISTRY)
    monkeypatch.setattr(suggest_module, "_REGISTRY", copy)
    return copy


def observe(space: SearchSpace, sugg: list[Suggestion]) -> list[Observation]:
    return [Observation(params=s.params, fidelity=s.fidelity,
                        values={"a": float(i), "b": -float(i)}) for i, s in enumerate(sugg)]


def test_sobol_continues_the_sequence() -> None:
    """Three calls of 2 (with the earlier points observed or pending) give the same six points
    as one call of 6, and those are SobolEngine's scrambled points for the seed."""
    space = get_problem("zdt1").space
    objs = get_problem("zdt1").objectives
    one = suggest(space, objs, [], [], 6, "sobol", seed=11)
    first = suggest(space, objs, [], [], 2, "sobol", seed=11)
    obs = [Observation(params=s.params, values={"f0": 1.0, "f1": 1.0}) for s in first]
    second = suggest(space, objs, obs, [], 2, "sobol", seed=11)
    third = suggest(space, objs, obs, second, 2, "sobol", seed=11)
    assert [s.params for s in first + second + third] == [s.params for s in one]
    ref = SobolEngine(6, scramble=True, seed=11).draw(6, dtype=torch.double)
    assert torch.allclose(space.to_unit_batch([s.params for s in one]), ref)


def test_random_draws_new_points_as_history_grows() -> None:
    """With the same seed, a call after observations draws different points."""
    a = suggest(MIXED, OBJ, [], [], 3, "random", seed=0)
    b = suggest(MIXED, OBJ, observe(MIXED, a), [], 3, "random", seed=0)
    assert all(x.params != y.params for x in a for y in b)


@pytest.mark.parametrize("method", ["random", "sobol"])
def test_no_duplicates_with_pending_or_observed_in_finite_spaces(method: str) -> None:
    """In a 6-point space with 2 observed and 2 pending, 2 suggestions are the 2 unseen points;
    once everything is taken, repeats are allowed rather than failing."""
    allp = [{"rows": r, "bits": b} for r in (64, 128) for b in (1, 2, 3)]
    obs = [Observation(params=allp[0], values={"a": 0.0, "b": 0.0}),
           Observation(params=allp[3], values={"a": 1.0, "b": 1.0})]
    pend = [Suggestion(params=allp[1]), Suggestion(params=allp[5])]
    out = suggest(FINITE, OBJ, obs, pend, 2, method, seed=5)
    got = sorted((s.params["rows"], s.params["bits"]) for s in out)
    assert got == [(64, 3), (128, 2)]
    full = suggest(FINITE, OBJ, obs, pend, 4, method, seed=5)
    assert len(full) == 4


def test_fidelity_is_the_top_of_the_range_for_single_fidelity_methods() -> None:
    """On a multi-fidelity space, random and sobol suggest the upper end of the range."""
    space = SearchSpace.from_spec({"params": [{"name": "x", "type": "float", "low": 0,
                                               "high": 1}], "fidelity_range": [0.0, 0.8]})
    for m in ("random", "sobol"):
        assert {s.fidelity for s in suggest(space, OBJ, [], [], 3, m, seed=0)} == {0.8}


def test_registry_and_unknown_method(registry: dict[str, Any]) -> None:
    """Built-ins are listed; unknown names raise UnknownMethodError (a ValueError) listing the
    available ones; a registered factory is called with the options, which validate_options
    passes through unchecked (the factory declares no table)."""
    names = available_methods()
    assert {"random", "sobol", "nsga2", "qnehvi", "optuna", "optuna-tpe",
            "optuna-nsga2"} <= set(names)
    with pytest.raises(UnknownMethodError, match="unknown method 'gradient'.*random"):
        suggest(MIXED, OBJ, [], [], 1, "gradient", seed=0)
    assert issubclass(UnknownMethodError, ValueError)

    seen: dict[str, Any] = {}

    class Corner:
        def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
            return [Suggestion(params={"x": 1.0}) for _ in range(ctx.n)]

    def factory(options: dict[str, Any]) -> Corner:
        seen.update(options)
        return Corner()

    register_method("test-corner", factory)
    assert registry["test-corner"] is factory and "test-corner" in available_methods()
    space = SearchSpace.from_spec([{"name": "x", "type": "float", "low": 0, "high": 1}])
    out = suggest(space, OBJ, [], [], 2, "test-corner", seed=0, options={"k": 1})
    assert [s.params for s in out] == [{"x": 1.0}] * 2 and seen == {"k": 1}
    assert validate_options("test-corner", {"k": 1}) == {"k": 1}  # no table: as given
    with pytest.raises(UnknownMethodError, match="gradient"):
        validate_options("gradient", {})
    with pytest.raises(OptimizerError, match="already registered"):
        register_method("test-corner", factory)


def test_invalid_method_output_is_rejected(registry: dict[str, Any]) -> None:
    """A method returning an out-of-space point or the wrong count makes suggest() raise."""

    class Bad:
        def __init__(self, params: dict[str, Any], k: int) -> None:
            self.params, self.k = params, k

        def suggest(self, ctx: SuggestContext) -> list[Suggestion]:
            return [Suggestion(params=self.params) for _ in range(self.k)]

    space = SearchSpace.from_spec([{"name": "x", "type": "float", "low": 0, "high": 1}])
    register_method("test-bad", lambda o: Bad(**o))
    with pytest.raises(ValueError, match="'x'=2.0"):
        suggest(space, OBJ, [], [], 1, "test-bad", 0, {"params": {"x": 2.0}, "k": 1})
    with pytest.raises(RuntimeError, match="returned 2 suggestions"):
        suggest(space, OBJ, [], [], 1, "test-bad", 0, {"params": {"x": 0.5}, "k": 2})


def test_bad_inputs_name_the_field() -> None:
    """Bad n, seed, options, objectives, observations and pending raise naming the field."""
    ok = Observation(params={"rows": 64, "bits": 1}, values={"a": 1.0, "b": 2.0})
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"n": 0}, OptimizerError, "n must be"),
        ({"seed": 1.5}, OptimizerError, "seed"),
        ({"objectives": []}, OptimizerError, "objectives"),
        ({"objectives": [OBJ[0], OBJ[0]]}, OptimizerError, "duplicate"),
        ({"observations": [ok, Observation(params={"rows": 63, "bits": 1},
                                           values={"a": 1.0, "b": 1.0})]},
         ObservationError, r"observations\[1\].*'rows'"),
        ({"observations": [Observation(params=ok.params, values={"a": 1.0})]},
         ObservationError, r"observations\[0\].values.*'b'"),
        ({"observations": [Observation(params=ok.params, fidelity=0.5, values=ok.values)]},
         ObservationError, r"observations\[0\].*fidelity"),
        ({"observations": [Observation(params=ok.params, values=ok.values, overhead_s=-1.0)]},
         ObservationError, r"observations\[0\].overhead_s must be a finite number >= 0"),
        ({"observations": [Observation(params=ok.params, values=ok.values,
                                       overhead_s=float("nan"))]},
         ObservationError, r"observations\[0\].overhead_s"),
        ({"pending": [Suggestion(params={"rows": 64})]}, ObservationError,
         r"pending\[0\].*'bits' is missing"),
        ({"options": {"bogus": 1}}, MethodOptionsError, "sobol: unknown option 'bogus'"),
        ({"options": [("bogus", 1)]}, OptimizerError, "options must be an object"),
        ({"budget_per_trial_s": -1.0}, OptimizerError, "budget_per_trial_s must be null or a"),
        ({"budget_per_trial_s": float("inf")}, OptimizerError, "budget_per_trial_s"),
        ({"budget_per_trial_s": True}, OptimizerError, "budget_per_trial_s"),
    ]
    for override, exc, msg in cases:
        kw: dict[str, Any] = {"space": FINITE, "objectives": OBJ, "observations": [ok],
                              "pending": [], "n": 1, "method": "sobol", "seed": 0}
        kw.update(override)
        with pytest.raises(exc, match=msg):
            suggest(**kw)


def test_global_rng_and_threads_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    """suggest() forks the torch RNG and restores the thread count: the caller's random stream
    and torch.get_num_threads() are unchanged; a bad XBAR_OPTIMIZER_THREADS is named."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    suggest(MIXED, OBJ, [], [], 4, "random", seed=9)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    monkeypatch.setenv("XBAR_OPTIMIZER_THREADS", "many")
    with pytest.raises(OptimizerError, match="XBAR_OPTIMIZER_THREADS"):
        suggest(MIXED, OBJ, [], [], 1, "random", seed=9)
