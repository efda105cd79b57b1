"""Tests of the baseline methods ``nsga2``, ``optuna-tpe``/``optuna``, ``optuna-nsga2`` and
``qnehvi``: their specific behaviour, and that each beats random search (the ``suggest()``
contract every method meets: ``test_method_contract.py``)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from optimizer.methods.qnehvi import linear_unit_constraints
from optimizer.problems import get_problem
from optimizer.space import SearchSpace
from optimizer.suggest import suggest
from optimizer.types import Observation, Suggestion
from tests.optimizer.cases import MIXED

FAST_OPTIONS: dict[str, dict[str, Any]] = {
    "qnehvi": {"num_restarts": 2, "raw_samples": 64, "mc_samples": 32},
}


def run_loop(method: str, problem: str, budget: int, batch: int, seed: int,
             options: dict[str, Any] | None = None) -> float:
    """Suggest/evaluate ``budget`` full-fidelity points; HV of all evaluated points."""
    p = get_problem(problem)
    obs: list[Observation] = []
    while len(obs) < budget:
        for s in suggest(p.space, p.objectives, obs, [], min(batch, budget - len(obs)), method,
                         seed, options):
            values, cost = p.evaluate(s.params, s.fidelity)
            obs.append(Observation(params=s.params, fidelity=s.fidelity, values=values,
                                   cost_s=cost))
    Y = torch.tensor([[o.values[x.name] for x in p.objectives] for o in obs],
                     dtype=torch.double)
    return p.hypervolume(Y)


def test_nsga2_initial_population_is_the_sobol_design() -> None:
    """Below pop_size observations nsga2 hands out the study's Sobol points."""
    p = get_problem("zdt1")
    a = suggest(p.space, p.objectives, [], [], 4, "nsga2", 3, {"pop_size": 8})
    b = suggest(p.space, p.objectives, [], [], 4, "sobol", 3)
    assert [s.params for s in a] == [s.params for s in b]
    assert {s.extras["phase"] for s in a} == {"initial-sobol"}


def test_nsga2_replay_is_deterministic_and_never_re_asks_pending() -> None:
    """Same history -> same offspring; offspring already pending are skipped, so the next call
    continues the offspring stream instead of repeating it."""
    p = get_problem("zdt1")
    X = torch.rand(24, 6, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    obs = [Observation(params=p.space.from_unit(x), values=p.evaluate(p.space.from_unit(x))[0])
           for x in X]
    first = suggest(p.space, p.objectives, obs, [], 4, "nsga2", 1, {"pop_size": 8})
    assert {s.extras["phase"] for s in first} == {"nsga2"}
    again = suggest(p.space, p.objectives, obs, first[:2], 2, "nsga2", 1, {"pop_size": 8})
    assert [s.params for s in again] == [s.params for s in first[2:]]


def test_declared_option_bounds() -> None:
    """Each baseline's declared bounds: values just outside raise ValueError naming the
    option (unknown names: ``test_method_contract.py``)."""
    p = get_problem("zdt1")
    for method, opts, msg in [
        ("nsga2", {"pop_size": 2}, "pop_size"),
        ("optuna-tpe", {"n_startup_trials": -1}, "n_startup_trials"),
        ("optuna-nsga2", {"population_size": 1}, "population_size"),
        ("qnehvi", {"raw_samples": 0}, "raw_samples"),
        ("qnehvi", {"n_init": 0}, "n_init"),
        ("qnehvi", {"alpha": 1.0}, "alpha"),
    ]:
        with pytest.raises(ValueError, match=msg):
            suggest(p.space, p.objectives, [], [], 1, method, 0, opts)


def test_qnehvi_falls_back_to_sobol_below_n_init() -> None:
    """With fewer than 2(d+1) full-fidelity observations qnehvi returns the Sobol points and
    says why; low-fidelity observations do not count."""
    p = get_problem("branin-currin")
    low = [Observation(params={"x0": 0.1 * i, "x1": 0.5}, fidelity=0.2,
                       values=p.evaluate({"x0": 0.1 * i, "x1": 0.5}, 0.2)[0]) for i in range(8)]
    out = suggest(p.space, p.objectives, low, [], 2, "qnehvi", 5)
    ref = suggest(p.space, p.objectives, low, [], 2, "sobol", 5)
    assert [s.params for s in out] == [s.params for s in ref]
    assert "fewer than n_init=6" in out[0].extras["reason"]
    assert all(s.fidelity == 1.0 for s in out)


def test_qnehvi_initial_design_follows_the_budget() -> None:
    """Three full-fidelity observations: a 9-trial study (initial design capped at a third of
    it, 3) models them; a 30-trial study (cap 10, so the default 6 stands) still answers with
    Sobol points, naming n_init=6."""
    p = get_problem("branin-currin")
    full = [Observation(params={"x0": 0.3 * i, "x1": 0.2 + 0.3 * i}, fidelity=1.0,
                        values=p.evaluate({"x0": 0.3 * i, "x1": 0.2 + 0.3 * i}, 1.0)[0])
            for i in range(3)]
    opts = {"num_restarts": 1, "raw_samples": 16, "mc_samples": 16}
    short = suggest(p.space, p.objectives, full, [], 1, "qnehvi", 5, options=opts,
                    max_evaluations=9)
    assert short[0].extras["phase"] == "qnehvi"
    long = suggest(p.space, p.objectives, full, [], 1, "qnehvi", 5, options=opts,
                   max_evaluations=30)
    assert long[0].extras["phase"] == "initial-sobol"
    assert "fewer than n_init=6" in long[0].extras["reason"]


def test_linear_unit_constraints_are_exact_for_linear_floats() -> None:
    """x0 + 2 x1 <= 2 on x0 in [0, 2], x1 in [1, 3] becomes -2 u0 - 4 u1 >= -2 + 2 = 0 ...
    checked by evaluating both forms at random points; log/int constraints give None."""
    s = SearchSpace.from_spec({
        "params": [{"name": "x0", "type": "float", "low": 0.0, "high": 2.0},
                   {"name": "x1", "type": "float", "low": 1.0, "high": 3.0},
                   {"name": "k", "type": "fixed", "value": 0.5}],
        "constraints": [{"coefficients": {"x0": 1.0, "x1": 2.0, "k": 2.0}, "upper": 5.0,
                         "lower": 3.5}],
    })
    cons = linear_unit_constraints(s)
    assert cons is not None and len(cons) == 2
    U = torch.rand(500, 2, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    ok = torch.ones(500, dtype=torch.bool)
    for idx, coef, rhs in cons:
        ok &= (U[:, idx] * coef).sum(-1) >= rhs - 1e-12
    assert torch.equal(ok, s.feasible_unit(U))
    assert 0 < int(ok.sum()) < 500
    assert linear_unit_constraints(MIXED) is None  # constrains an int parameter


@pytest.mark.slow
def test_qnehvi_respects_continuous_constraints_and_pending() -> None:
    """On branin-currin with x0 + x1 <= 0.8, qnehvi suggestions satisfy the constraint and
    differ from the pending point; an explicit objective ref_point is accepted."""
    p = get_problem("branin-currin")
    space = SearchSpace.from_spec({**p.space.to_spec(),
                                   "constraints": [{"coefficients": {"x0": 1, "x1": 1},
                                                    "upper": 0.8}]})
    pts = space.sample(10, torch.Generator().manual_seed(1))
    obs = [Observation(params=q, values=p.evaluate(q)[0]) for q in pts]
    pend = [Suggestion(params={"x0": 0.2, "x1": 0.2})]
    out = suggest(space, p.objectives, obs, pend, 2, "qnehvi", 0, FAST_OPTIONS["qnehvi"])
    for s in out:
        assert s.params["x0"] + s.params["x1"] <= 0.8 + 1e-6
        assert s.params != pend[0].params and s.extras["phase"] == "qnehvi"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "problem", "budget", "batch", "options", "seeds"),
    [
        ("nsga2", "zdt1", 100, 10, {"pop_size": 20}, 3),
        ("optuna-nsga2", "zdt1", 100, 10, {"population_size": 20}, 3),
        ("optuna-tpe", "zdt1", 80, 5, {}, 3),
        ("qnehvi", "zdt1", 24, 4, FAST_OPTIONS["qnehvi"], 1),
        ("qnehvi", "branin-currin", 18, 3, FAST_OPTIONS["qnehvi"], 1),
    ],
)
def test_baseline_beats_random_search(method: str, problem: str, budget: int, batch: int,
                                      options: dict[str, Any], seeds: int) -> None:
    """With the same budget and seeds, the mean hypervolume of the method's evaluated points
    exceeds random search's by at least 2% of the problem's max HV."""
    hv = sum(run_loop(method, problem, budget, batch, s, options) for s in range(seeds))
    hv_random = sum(run_loop("random", problem, budget, batch, s) for s in range(seeds))
    max_hv = get_problem(problem).max_hv
    assert max_hv is not None
    assert hv / seeds > hv_random / seeds + 0.02 * max_hv, (hv / seeds, hv_random / seeds)
